/*
 * lookupd: answers smtpd's recipient questions from the tables of the
 * config (domains, recipients, aliases, transports, networks).  It never
 * touches the queue or the network.  Promises: stdio rpath unix, no
 * chroot, Landlock limited to the directories of its table files.
 *
 * Guarantees:
 * - tables are loaded whole when a config is applied, as root on first
 *   start; a table that does not load fails the config ("file:line:
 *   why"): fatal on first start, and on reload the old tables stay;
 * - the new snapshot replaces the old one in one pointer swap, between
 *   two messages: no RCPT is answered from half-loaded tables;
 * - every IMSG_LKA_RCPT gets exactly one IMSG_LKA_RCPT_RESULT with its
 *   peer id and reqid; a malformed request is fatal to the link.
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "lka.h"
#include "log.h"
#include "mbuf.h"
#include "sandbox.h"
#include "worker.h"

#define LOOKUPD_CLIENT_MAX	128	/* numeric IPv4/IPv6 address */

static struct lka_tables	*lookupd_tables;

static int
lookupd_configure(struct mxgate_conf *conf, int first)
{
	struct lka_tables	*lt;
	char			 err[1024];

	if ((lt = lka_load(conf, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);	/* worker.c says what happens next */
		return -1;
	}
	lka_free(lookupd_tables);
	lookupd_tables = lt;
	if (!first)
		log_info("reload: %zu tables loaded", lka_ntables(lt));
	return 0;
}

static void
lookupd_sandbox(const struct mxgate_conf *conf)
{
	const struct table_conf	 *tc;
	const char		**paths;
	size_t			  n = 0;

	TAILQ_FOREACH(tc, &conf->tables, entry)
		n++;
	if ((paths = calloc(n + 1, sizeof(*paths))) == NULL)
		fatal("sandbox paths");
	n = 0;
	TAILQ_FOREACH(tc, &conf->tables, entry)
		if (tc->type == TABLE_FILE)
			paths[n++] = tc->path;
	paths[n] = NULL;
	sandbox_enter("lookupd", NULL, conf->user, paths,
	    PROMISE_STDIO | PROMISE_RPATH | PROMISE_UNIX);
	free(paths);
}

/* Encode res; -1 if it cannot be built or does not fit in one frame. */
static int
lookupd_encode(struct mbuf *m, uint64_t reqid, const struct lka_result *res)
{
	size_t i;

	mbuf_init(m);
	mbuf_add_u64(m, reqid);
	mbuf_add_u32(m, res->status);
	mbuf_add_str(m, res->text);
	mbuf_add_u32(m, (uint32_t)res->nrcpts);
	for (i = 0; i < res->nrcpts; i++) {
		mbuf_add_str(m, res->rcpts[i].addr);
		mbuf_add_str(m, res->rcpts[i].relay);
	}
	if (m->err || m->len > IMSG_MAX_SIZE - IMSG_HDR_SIZE) {
		mbuf_free(m);
		return -1;
	}
	return 0;
}

static void
lookupd_reply(struct imsgev *iev, uint32_t peerid, uint64_t reqid,
    const char *rcpt, struct lka_result *res)
{
	struct mbuf m;

	if (lookupd_encode(&m, reqid, res) == -1) {
		log_warnx("<%s>: %zu recipients do not fit in one reply",
		    rcpt, res->nrcpts);
		lka_result_set(res, LKA_TEMPFAIL, "Temporary lookup failure");
		if (lookupd_encode(&m, reqid, res) == -1)
			fatalx("cannot encode a reply");
	}
	if (imsgev_compose_mbuf(iev, IMSG_LKA_RCPT_RESULT, peerid, -1,
	    &m) == -1)
		fatal("reply to smtpd");
}

static void
lookupd_rcpt(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader		r;
	struct lka_result	res;
	uint64_t		reqid;
	char			client[LOOKUPD_CLIENT_MAX];
	char			sender[LKA_ADDR_MAX], rcpt[LKA_ADDR_MAX];

	mreader_init(&r, imsg);
	reqid = mr_u64(&r);
	mr_str(&r, client, sizeof(client));
	mr_str(&r, sender, sizeof(sender));
	mr_str(&r, rcpt, sizeof(rcpt));
	if (mr_end(&r) == -1 || imsg->fd != -1) {
		imsgev_fail(iev, "malformed recipient request");
		return;
	}
	lka_result_init(&res);
	if (lookupd_tables == NULL)
		lka_result_set(&res, LKA_TEMPFAIL, "Temporary lookup failure");
	else if (lka_decide(lookupd_tables, client, sender, rcpt,
	    &res) == -1) {
		lka_result_free(&res);
		imsgev_fail(iev, "bad client address or recipient in request");
		return;
	}
	log_debug("%016llx: client=%s from=<%s> to=<%s>: status %d, %zu "
	    "recipients", (unsigned long long)reqid, client, sender, rcpt,
	    (int)res.status, res.nrcpts);
	lookupd_reply(iev, imsg->hdr.peerid, reqid, rcpt, &res);
	lka_result_free(&res);
}

static void
lookupd_smtpd_msg(struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_LKA_RCPT:
		lookupd_rcpt(iev, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message");
		break;
	}
}

static void
lookupd_peer_up(enum proc_id id, struct imsgev *iev)
{
	log_debug("%s connected", proc_name(id));
}

static void
lookupd_peer_down(enum proc_id id)
{
	log_debug("%s disconnected", proc_name(id));
}

static const struct worker_ops lookupd_ops = {
	.id = PROC_LOOKUPD,
	.configure = lookupd_configure,
	.sandbox = lookupd_sandbox,
	.peer_up = lookupd_peer_up,
	.peer_down = lookupd_peer_down,
	.peer_handler = {
		[PROC_SMTPD] = lookupd_smtpd_msg,
	},
	.parent_msg = NULL,
};

int
main(int argc, char **argv)
{
	worker_main(argc, argv, &lookupd_ops);
}
