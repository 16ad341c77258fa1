/*
 * mtad: outbound delivery.  queued hands over a batch of recipients of one
 * message for one relay, with a read-only fd of the message
 * (IMSG_MTA_TRANSFER); mtad carries it over a session to that relay (a
 * new one, or an idle one kept for reuse, see mta_pool.h) and answers
 * IMSG_MTA_RESULT with one status and text per recipient, in the order
 * received.  mtad keeps nothing: if the link to queued goes down every
 * session is dropped unreported, and queued sends the batches again.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "imsg.h"
#include "log.h"
#include "mbuf.h"
#include "mta_dns.h"
#include "mta_pool.h"
#include "mta_reply.h"
#include "mta_session.h"
#include "mta_tls.h"
#include "sandbox.h"
#include "worker.h"

/*
 * The whole result must fit one frame: per recipient 8 bytes of framing
 * plus its text.  Texts are cut to share what is left; past this many
 * recipients not even MTA_TEXT_MIN bytes each would remain, and such a
 * transfer is refused.
 */
#define MTA_TEXT_MIN		32
#define MTA_RESULT_FIXED	(IMSG_HDR_SIZE + 8 + 4 + MTA_RELAYNAME_MAX + 4)
#define MTA_TRANSFER_RCPT_MAX	\
	((IMSG_MAX_SIZE - MTA_RESULT_FIXED) / (8 + MTA_TEXT_MIN))

void
mta_transfer_free(struct mta_transfer *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrcpt; i++) {
		free(t->rcpts[i].addr);
		free(t->rcpts[i].reply);
	}
	free(t->rcpts);
	if (t->fd != -1)
		close(t->fd);
	free(t);
}

void
mta_report(const struct mta_transfer *t)
{
	struct imsgev	*iev;
	struct mbuf	 m;
	char		 text[MTA_REPLY_TEXT_MAX];
	size_t		 i, budget;

	if ((iev = worker_peer(PROC_QUEUED)) == NULL) {
		log_warnx("%s: result for batch %llu lost: no link to queued",
		    t->msgid, (unsigned long long)t->batchid);
		return;
	}
	budget = (IMSG_MAX_SIZE - MTA_RESULT_FIXED) / t->nrcpt - 8;
	if (budget >= sizeof(text))
		budget = sizeof(text) - 1;
	mbuf_init(&m);
	mbuf_add_u64(&m, t->batchid);
	mbuf_add_str(&m, t->relayname);
	mbuf_add_u32(&m, (uint32_t)t->nrcpt);
	for (i = 0; i < t->nrcpt; i++) {
		mbuf_add_u32(&m, t->rcpts[i].status);
		strlcpy(text, t->rcpts[i].reply, budget + 1);
		mbuf_add_str(&m, text);
	}
	if (imsgev_compose_mbuf(iev, IMSG_MTA_RESULT, t->peerid, -1, &m) == -1)
		log_warn("%s: result for batch %llu", t->msgid,
		    (unsigned long long)t->batchid);
}

/* It starts every log line: letters and digits only. */
static int
mta_msgid_ok(const char *id)
{
	if (*id == '\0')
		return 0;
	for (; *id != '\0'; id++)
		if (!isalnum((unsigned char)*id))
			return 0;
	return 1;
}

/* Read the recipients of a transfer; NULL, or why it is refused. */
static const char *
mta_transfer_rcpts(struct mreader *r, struct mta_transfer *t)
{
	char	 addr[MTA_ADDR_MAX];
	size_t	 n;

	n = mr_u32(r);
	if (r->err || n == 0)
		return "malformed transfer";
	if (n > MTA_TRANSFER_RCPT_MAX)
		return "transfer with too many recipients for one result";
	if ((t->rcpts = calloc(n, sizeof(*t->rcpts))) == NULL)
		fatal("calloc");
	for (; t->nrcpt < n; t->nrcpt++) {
		mr_str(r, addr, sizeof(addr));
		if (r->err)
			return "malformed transfer";
		if ((t->rcpts[t->nrcpt].addr = strdup(addr)) == NULL)
			fatal("strdup");
	}
	if (mr_end(r) == -1)
		return "malformed transfer";
	return NULL;
}

static void
mta_transfer(struct imsgev *iev, struct imsg *imsg)
{
	struct mta_transfer	*t;
	struct mreader		 r;
	struct stat		 st;
	const char		*why;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("calloc");
	t->fd = imsg->fd;
	imsg->fd = -1;
	t->peerid = imsg->hdr.peerid;
	mreader_init(&r, imsg);
	t->batchid = mr_u64(&r);
	mr_str(&r, t->msgid, sizeof(t->msgid));
	mr_str(&r, t->sender, sizeof(t->sender));
	mr_str(&r, t->relay, sizeof(t->relay));
	t->body = mr_u32(&r);
	t->smtputf8 = mr_u32(&r) != 0;
	if ((why = mta_transfer_rcpts(&r, t)) == NULL && !mta_msgid_ok(t->msgid))
		why = "transfer with a bad message id";
	if (why == NULL && t->body > MSG_BODY_8BITMIME)
		why = "transfer with a bad body type";
	if (why == NULL && t->fd == -1)
		why = "transfer without a message fd";
	if (why == NULL && fstat(t->fd, &st) == -1)
		why = "transfer with an unusable message fd";
	if (why != NULL) {
		mta_transfer_free(t);
		imsgev_fail(iev, why);
		return;
	}
	log_debug("%s: transfer batch %llu, %zu recipient(s) via %s",
	    t->msgid, (unsigned long long)t->batchid, t->nrcpt, t->relay);
	t->size = st.st_size;
	mta_pool_submit(worker_base(), t);
}

static void
mta_queued_msg(struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_MTA_TRANSFER:
		mta_transfer(iev, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message from queued");
	}
}

/* The resolver configuration is read once, before the sandbox; a reload
 * changes the limits and timeouts only. */
static int
mta_configure(struct mxgate_conf *conf, int first)
{
	static char resolver[PATH_MAX];

	if (first) {
		mta_dns_init(worker_base(), conf->resolver);
		strlcpy(resolver, conf->resolver, sizeof(resolver));
	} else if (strcmp(resolver, conf->resolver) != 0)
		log_warnx("resolver %s: takes effect at the next start",
		    conf->resolver);
	mta_pool_configure(conf);
	mta_tls_configure(conf, first);
	return 0;
}

/* inet: SMTP and, with dns, the UDP queries to the name servers (the
 * resolver configuration and the CA file were read in configure). */
static void
mta_sandbox(const struct mxgate_conf *conf)
{
	sandbox_enter("mtad", conf->empty_dir, conf->user, NULL,
	    PROMISE_STDIO | PROMISE_INET | PROMISE_DNS | PROMISE_RECVFD |
	    PROMISE_UNIX);
}

static void
mta_peer_down(enum proc_id id)
{
	if (id == PROC_QUEUED && mta_pool_count() > 0) {
		log_warnx("link to queued lost, aborting %zu session(s) and "
		    "transfer(s)", mta_pool_count());
		mta_pool_abort_all();
	}
}

static const struct worker_ops mta_ops = {
	.id = PROC_MTAD,
	.configure = mta_configure,
	.sandbox = mta_sandbox,
	.peer_down = mta_peer_down,
	.peer_handler = {
		[PROC_QUEUED] = mta_queued_msg,
	},
};

int
main(int argc, char **argv)
{
	worker_main(argc, argv, &mta_ops);
}
