/*
 * queued's side of DSNs: turning the scheduler's "these recipients owe
 * the sender a DSN" into a new message in the spool (queue_dsn), and
 * asking lookupd where such a message goes (IMSG_LKA_ROUTE).
 *
 * Guarantees:
 * - A DSN is a message like any other: written to a fresh <ID>.msg,
 *   committed with the spool's protocol (spool.c: message synced,
 *   envelope written, synced, renamed, directory synced) before
 *   queue_dsn() returns 0, so the scheduler records the failures only
 *   once their DSN is durable.
 * - No DSN for a message from the null sender <> (RFC 3461 6.2, RFC 5321
 *   6.1), and none the recipient's NOTIFY does not ask for: NEVER gets
 *   none, no NOTIFY means FAILURE and DELAY, SUCCESS only when asked.
 * - A DSN is from <> with NOTIFY=NEVER, so it can never cause another.
 * - Its one recipient has no relay until lookupd names one with the
 *   transport rules for a locally generated message (lka.c); until then
 *   it is not sent, and a recipient lookupd cannot route is logged and
 *   kept for retry like a temporary failure (it expires with the queue
 *   lifetime, logged), never dropped silently.
 */
#include <sys/stat.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "bounce.h"
#include "envelope.h"
#include "imsg.h"
#include "log.h"
#include "mbuf.h"
#include "queued.h"
#include "scheduler.h"
#include "spool.h"
#include "worker.h"

#define DSN_CLIENT	"127.0.0.1"	/* the client of a message we made */

/* A route asked of lookupd, waiting for its answer. */
struct route_req {
	TAILQ_ENTRY(route_req)	 entry;
	uint64_t		 reqid;
	char			 msgid[QUEUE_ID_LEN + 1];
	size_t			 idx;
};
TAILQ_HEAD(route_list, route_req);

static struct {
	struct spool		*spool;
	struct scheduler	*sched;
	struct route_list	 routes;
	uint64_t		 reqid;
} qd = { .routes = TAILQ_HEAD_INITIALIZER(qd.routes) };

void
queue_dsn_init(struct spool *spool, struct scheduler *sched)
{
	qd.spool = spool;
	qd.sched = sched;
}

static const char *
kind_name(enum bounce_kind kind)
{
	switch (kind) {
	case BOUNCE_DELAY:
		return "delay";
	case BOUNCE_SUCCESS:
		return "delivery status";
	default:
		return "non-delivery";
	}
}

static int
dsn_wanted(enum bounce_kind kind, uint32_t notify)
{
	switch (kind) {
	case BOUNCE_FAILURE:
		return notify == 0 || (notify & DSN_NOTIFY_FAILURE);
	case BOUNCE_DELAY:
		return notify == 0 || (notify & DSN_NOTIFY_DELAY);
	default:
		return (notify & DSN_NOTIFY_SUCCESS) != 0;
	}
}

/* The envelope of a DSN to sender: from <>, one recipient, unrouted. */
static struct envelope *
dsn_envelope(const char *id, const struct envelope *orig, uint64_t size,
    int full, int64_t now)
{
	struct envelope *e;
	struct envelope_rcpt *r;

	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->rcpt = calloc(1, sizeof(*e->rcpt))) == NULL) {
		free(e);
		return NULL;
	}
	strlcpy(e->id, id, sizeof(e->id));
	e->created = now;
	e->size = size;
	e->nrcpt = 1;
	e->body = full && orig->body == MSG_BODY_8BITMIME ?
	    MSG_BODY_8BITMIME : MSG_BODY_NONE;
	e->smtputf8 = orig->smtputf8;
	e->ret = DSN_RET_NONE;
	r = e->rcpt;
	r->state = RCPT_PENDING;
	r->next = now;
	r->notify = DSN_NOTIFY_NEVER;
	e->sender = strdup("");
	e->helo = strdup(worker_conf()->hostname);
	e->client = strdup(DSN_CLIENT);
	e->envid = strdup("");
	r->to = strdup(orig->sender);
	r->orig = strdup(orig->sender);
	r->orcpt = strdup("");
	r->relay = strdup("");
	r->reply = strdup("");
	if (e->sender == NULL || e->helo == NULL || e->client == NULL ||
	    e->envid == NULL || r->to == NULL || r->orig == NULL ||
	    r->orcpt == NULL || r->relay == NULL || r->reply == NULL) {
		envelope_free(e);
		return NULL;
	}
	return e;
}

/* Writes the DSN text into the new message file wfd; its size, or -1. */
static int64_t
dsn_write(int wfd, const struct envelope *env, const struct bounce *b)
{
	FILE *out = NULL, *in = NULL;
	struct stat st;
	int rfd, rv = -1;

	if ((rfd = spool_msg_open(qd.spool, env->id)) == -1)
		goto done;
	if ((in = fdopen(rfd, "r")) == NULL) {
		close(rfd);
		goto done;
	}
	if ((out = fdopen(wfd, "w")) == NULL)
		goto done;
	wfd = -1;
	if (bounce_write(out, b, in) == -1 || fflush(out) == EOF ||
	    fstat(fileno(out), &st) == -1)
		goto done;
	rv = 0;
 done:
	if (in != NULL)
		fclose(in);
	if (out != NULL && fclose(out) == EOF)
		rv = -1;
	if (wfd != -1)
		close(wfd);
	if (rv == -1)
		log_warn("%s: writing a DSN", env->id);
	return rv == -1 ? -1 : (int64_t)st.st_size;
}

/* A DSN for the recipients br of env, committed and scheduled. */
static int
dsn_queue(const struct envelope *env, enum bounce_kind kind,
    const struct bounce_rcpt *br, size_t n, int64_t now)
{
	char id[QUEUE_ID_LEN + 1];
	struct bounce b;
	struct envelope *e;
	int64_t size;
	int wfd;

	memset(&b, 0, sizeof(b));
	b.kind = kind;
	b.hostname = worker_conf()->hostname;
	b.msgid = env->id;
	b.to = env->sender;
	b.envid = env->envid != NULL ? env->envid : "";
	b.ret = env->ret != DSN_RET_NONE ? env->ret :
	    kind == BOUNCE_FAILURE ? DSN_RET_FULL : DSN_RET_HDRS;
	b.arrival = env->created;
	b.now = now;
	b.retry_until = env->created + qd.sched->lifetime;
	b.nrcpt = n;
	b.rcpt = br;
	if ((wfd = spool_create(qd.spool, id)) == -1)
		return -1;
	b.id = id;
	if ((size = dsn_write(wfd, env, &b)) == -1 ||
	    (e = dsn_envelope(id, env, (uint64_t)size,
	    b.ret == DSN_RET_FULL, now)) == NULL) {
		spool_remove(qd.spool, id);
		return -1;
	}
	if (spool_commit(qd.spool, e) == -1) {
		spool_remove(qd.spool, id);
		envelope_free(e);
		return -1;
	}
	log_info("%s: sender %s notification: %s", env->id, kind_name(kind),
	    id);
	log_info("%s: from=<>, size=%llu, nrcpt=1 (queue active)", id,
	    (unsigned long long)size);
	if (sched_add(qd.sched, e) == -1)
		fatalx("%s: out of memory scheduling a DSN", id);
	return 0;
}

int
queue_dsn(const struct envelope *env, enum bounce_kind kind,
    const size_t *idx, size_t n, int64_t now, void *arg)
{
	const struct envelope_rcpt *r;
	struct bounce_rcpt *br;
	size_t i, nb = 0;
	int rv;

	/* a success nobody asked for is not worth a log line */
	if (env->sender[0] == '\0') {
		if (kind != BOUNCE_SUCCESS)
			log_info("%s: from=<>: no %s notification to the null "
			    "sender", env->id, kind_name(kind));
		return 0;
	}
	if ((br = calloc(n, sizeof(*br))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		r = &env->rcpt[idx[i]];
		if (!dsn_wanted(kind, r->notify))
			continue;
		br[nb].final = r->to;
		br[nb].orcpt = r->orcpt != NULL ? r->orcpt : "";
		br[nb].reply = r->reply != NULL ? r->reply : "";
		br[nb].expired = r->state == RCPT_EXPIRED;
		nb++;
	}
	rv = nb > 0 ? dsn_queue(env, kind, br, nb, now) : 0;
	if (nb == 0 && kind != BOUNCE_SUCCESS)
		log_info("%s: NOTIFY asks for no %s notification", env->id,
		    kind_name(kind));
	free(br);
	return rv;
}

/* ---- routes from lookupd ---- */

int
queue_route_ask(const struct envelope *env, size_t idx, void *arg)
{
	struct route_req *req;
	struct imsgev *iev;
	struct mbuf m;

	if ((iev = worker_peer(PROC_LOOKUPD)) == NULL ||
	    (req = calloc(1, sizeof(*req))) == NULL)
		return -1;
	req->reqid = ++qd.reqid;
	strlcpy(req->msgid, env->id, sizeof(req->msgid));
	req->idx = idx;
	mbuf_init(&m);
	mbuf_add_u64(&m, req->reqid);
	mbuf_add_str(&m, env->rcpt[idx].to);
	if (imsgev_compose_mbuf(iev, IMSG_LKA_ROUTE, 0, -1, &m) == -1) {
		log_warn("%s: route request to lookupd", env->id);
		free(req);
		return -1;
	}
	TAILQ_INSERT_TAIL(&qd.routes, req, entry);
	return 0;
}

/* A relay as lka.c makes them: printable ASCII, no space. */
static int
relay_ok(const char *s)
{
	if (strncmp(s, "smtp:", 5) != 0 || s[5] == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

static void
queue_route_result(struct imsgev *iev, struct imsg *imsg)
{
	char text[ENVELOPE_RELAY_MAX], why[ENVELOPE_RELAY_MAX + 64];
	struct route_req *req;
	struct mreader r;
	uint64_t reqid;
	uint32_t status;

	mreader_init(&r, imsg);
	reqid = mr_u64(&r);
	status = mr_u32(&r);
	mr_str(&r, text, sizeof(text));
	if (mr_end(&r) == -1 || imsg->fd != -1) {
		imsgev_fail(iev, "malformed route result");
		return;
	}
	TAILQ_FOREACH(req, &qd.routes, entry)
		if (req->reqid == reqid)
			break;
	if (req == NULL) {
		imsgev_fail(iev, "route result without a request");
		return;
	}
	TAILQ_REMOVE(&qd.routes, req, entry);
	if (status == LKA_RELAY && relay_ok(text))
		sched_route_result(qd.sched, req->msgid, req->idx, text, NULL,
		    time(NULL));
	else {
		envelope_vis(why, sizeof(why), status == LKA_RELAY ?
		    "lookupd returned an unusable relay" : text);
		sched_route_result(qd.sched, req->msgid, req->idx, NULL,
		    why[0] != '\0' ? why : "no transport", time(NULL));
	}
	free(req);
	queue_dsn_kick();
}

void
queue_lookupd_msg(struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_LKA_ROUTE_RESULT:
		queue_route_result(iev, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message from lookupd");
	}
}

void
queue_route_down(void)
{
	struct route_req *req;

	while ((req = TAILQ_FIRST(&qd.routes)) != NULL) {
		TAILQ_REMOVE(&qd.routes, req, entry);
		free(req);
	}
	sched_route_reset(qd.sched);
}
