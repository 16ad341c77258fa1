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
 * - file: and cdb: tables are watched (one stat(2) each every
 *   LOOKUPD_WATCH_SECS): when one changes on disk, the whole snapshot is
 *   rebuilt from the live config as a reload would, and swapped in only
 *   if it loads; otherwise the old one stays and the error is logged once
 *   per change.  A file is stamped before it is read, so a change racing
 *   the load is seen again at the next tick, never lost;
 * - every IMSG_LKA_RCPT gets exactly one IMSG_LKA_RCPT_RESULT with its
 *   peer id and reqid, every IMSG_LKA_ROUTE from queued one
 *   IMSG_LKA_ROUTE_RESULT; a malformed request is fatal to the link.
 */
#include <sys/queue.h>

#include <event2/event.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "imsg.h"
#include "lka.h"
#include "log.h"
#include "mbuf.h"
#include "sandbox.h"
#include "worker.h"

#define LOOKUPD_CLIENT_MAX	128	/* numeric IPv4/IPv6 address */
#define LOOKUPD_WATCH_SECS	2
#define LOOKUPD_ROUTE_ADDR_MAX	1024	/* ENVELOPE_ADDR_MAX of queued */

/* A table file of the live snapshot, as it was when it was read. */
struct lookupd_watch {
	char			 name[CONF_NAME_MAX];
	char			 path[PATH_MAX];
	struct table_stamp	 loaded;
	struct table_stamp	 failed;	/* a change refused, logged */
	int			 has_failed;
};

static struct lka_tables	*lookupd_tables;
static struct lookupd_watch	*lookupd_watches;
static size_t			 lookupd_nwatches;
static struct event		*lookupd_watch_ev;

/* Stamp every file of conf, before its tables are read. */
static struct lookupd_watch *
lookupd_watch_new(const struct mxgate_conf *conf, size_t *np)
{
	const struct table_conf	*tc;
	struct lookupd_watch	*w;
	size_t			 n = 0;

	TAILQ_FOREACH(tc, &conf->tables, entry)
		n++;
	if ((w = calloc(n ? n : 1, sizeof(*w))) == NULL)
		return NULL;
	n = 0;
	TAILQ_FOREACH(tc, &conf->tables, entry) {
		if (tc->type != TABLE_FILE && tc->type != TABLE_CDB)
			continue;
		strlcpy(w[n].name, tc->name, sizeof(w[n].name));
		strlcpy(w[n].path, tc->path, sizeof(w[n].path));
		table_stamp(w[n].path, &w[n].loaded);
		n++;
	}
	*np = n;
	return w;
}

/* Load conf into a new snapshot and swap it in; -1 with err. */
static int
lookupd_load(const struct mxgate_conf *conf, char *err, size_t errsz)
{
	struct lka_tables	*lt;
	struct lookupd_watch	*w;
	size_t			 n;

	if ((w = lookupd_watch_new(conf, &n)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if ((lt = lka_load(conf, err, errsz)) == NULL) {
		free(w);
		return -1;
	}
	lka_free(lookupd_tables);
	lookupd_tables = lt;
	free(lookupd_watches);
	lookupd_watches = w;
	lookupd_nwatches = n;
	return 0;
}

/* Changed since read, and not a change already refused and logged. */
static int
lookupd_watch_changed(const struct lookupd_watch *w,
    const struct table_stamp *now)
{
	return !table_stamp_eq(now, &w->loaded) &&
	    !(w->has_failed && table_stamp_eq(now, &w->failed));
}

/* The timer: reload when a table file changed since it was read. */
static void
lookupd_watch(int fd, short ev, void *arg)
{
	const struct mxgate_conf *conf = worker_conf();
	struct table_stamp	*now;
	struct lookupd_watch	*old = lookupd_watches;
	struct table		*t;
	char			 err[1024];
	size_t			 i, n = lookupd_nwatches, changed = 0;

	if (conf == NULL || n == 0 || (now = calloc(n, sizeof(*now))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		table_stamp(old[i].path, &now[i]);
		if (lookupd_watch_changed(&old[i], &now[i]))
			changed++;
	}
	if (changed == 0) {
		free(now);
		return;
	}
	lookupd_watches = NULL;		/* old is kept for the log lines */
	if (lookupd_load(conf, err, sizeof(err)) == -1) {
		lookupd_watches = old;
		for (i = 0; i < n; i++) {
			if (!lookupd_watch_changed(&old[i], &now[i]))
				continue;
			old[i].failed = now[i];
			old[i].has_failed = 1;
			log_warnx("table %s: %s changed on disk but does not "
			    "load, keeping the old tables: %s", old[i].name,
			    old[i].path, err);
		}
		free(now);
		return;
	}
	for (i = 0; i < n; i++)
		if (!table_stamp_eq(&now[i], &old[i].loaded) &&
		    (t = table_find_open(old[i].name)) != NULL)
			log_info("table %s: reloaded %zu entries from %s",
			    t->name, t->nentries, t->path);
	free(old);
	free(now);
}

static int
lookupd_configure(struct mxgate_conf *conf, int first)
{
	char err[1024];

	if (lookupd_load(conf, err, sizeof(err)) == -1) {
		log_warnx("%s", err);	/* worker.c says what happens next */
		return -1;
	}
	if (!first)
		log_info("reload: %zu tables loaded",
		    lka_ntables(lookupd_tables));
	if (lookupd_watch_ev == NULL) {
		struct timeval tv = { LOOKUPD_WATCH_SECS, 0 };

		if ((lookupd_watch_ev = event_new(worker_base(), -1,
		    EV_PERSIST, lookupd_watch, NULL)) == NULL ||
		    event_add(lookupd_watch_ev, &tv) == -1)
			fatalx("table watch timer");
	}
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
		if (tc->type == TABLE_FILE || tc->type == TABLE_CDB)
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

/* queued: where does a DSN to this address go (lka_route_local). */
static void
lookupd_route(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader		r;
	struct lka_result	res;
	struct mbuf		m;
	uint64_t		reqid;
	char			rcpt[LOOKUPD_ROUTE_ADDR_MAX];
	const char		*answer;

	mreader_init(&r, imsg);
	reqid = mr_u64(&r);
	mr_str(&r, rcpt, sizeof(rcpt));
	if (mr_end(&r) == -1 || imsg->fd != -1) {
		imsgev_fail(iev, "malformed route request");
		return;
	}
	lka_result_init(&res);
	if (lookupd_tables == NULL)
		lka_result_set(&res, LKA_TEMPFAIL, "Temporary lookup failure");
	else if (lka_route_local(lookupd_tables, rcpt, &res) == -1)
		lka_result_set(&res, LKA_REJECT, "not a valid address");
	if (res.status == LKA_RELAY && res.nrcpts == 1)
		answer = res.rcpts[0].relay;
	else {
		if (res.status == LKA_RELAY)
			lka_result_set(&res, LKA_TEMPFAIL,
			    "Temporary lookup failure");
		answer = res.text;
	}
	log_debug("route %llu: to=<%s>: status %d, %s",
	    (unsigned long long)reqid, rcpt, (int)res.status, answer);
	mbuf_init(&m);
	mbuf_add_u64(&m, reqid);
	mbuf_add_u32(&m, res.status);
	mbuf_add_str(&m, answer);
	if (imsgev_compose_mbuf(iev, IMSG_LKA_ROUTE_RESULT, imsg->hdr.peerid,
	    -1, &m) == -1)
		fatal("route reply to queued");
	lka_result_free(&res);
}

static void
lookupd_queued_msg(struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_LKA_ROUTE:
		lookupd_route(iev, imsg);
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
		[PROC_QUEUED] = lookupd_queued_msg,
	},
	.parent_msg = NULL,
};

int
main(int argc, char **argv)
{
	worker_main(argc, argv, &lookupd_ops);
}
