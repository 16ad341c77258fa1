/*
 * queued: the spool and its scheduler.  smtpd creates and commits
 * messages through it; it hands due recipients to mtad and applies the
 * results; it queues DSNs and asks lookupd to route them (queue_dsn.c);
 * the parent asks it for `smtpctl show queue`.  Promises: stdio
 * rpath wpath cpath sendfd unix, chrooted into the spool, as the queue
 * user.
 *
 * Guarantees (with spool.c and scheduler.c, which say how):
 * - IMSG_QUEUE_COMMIT_OK is sent only once the message file, its envelope
 *   and their directory entries are on disk.  Commits received in one
 *   event-loop pass are answered together after one directory fsync
 *   (group commit, queue_flush).
 * - smtpd commits or aborts only messages its current link created and
 *   has not committed yet.  When that link goes down every message it
 *   left uncommitted, or committed but not yet acknowledged, is removed:
 *   the client never heard 250 for it.
 * - Every CREATE and COMMIT gets exactly one answer with its peer id and
 *   reqid; a malformed or unexpected message is fatal to the link.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <event2/event.h>

#include "envelope.h"
#include "imsg.h"
#include "log.h"
#include "mbuf.h"
#include "queued.h"
#include "sandbox.h"
#include "scheduler.h"
#include "spool.h"
#include "spool_aio.h"
#include "worker.h"

#define QUEUE_INCOMING_MAX	10000	/* messages open at smtpd */
#define QUEUE_STR_MAX		1024	/* largest ENVELOPE_*_MAX */
#define QUEUE_COMMIT_RCPT_MIN	12	/* bytes of one recipient on the wire */

_Static_assert(ENVELOPE_ADDR_MAX <= QUEUE_STR_MAX &&
    ENVELOPE_HELO_MAX <= QUEUE_STR_MAX &&
    ENVELOPE_CLIENT_MAX <= QUEUE_STR_MAX &&
    ENVELOPE_RELAY_MAX <= QUEUE_STR_MAX, "QUEUE_STR_MAX too small");

/* A message smtpd is writing, or whose commit waits for the dir fsync. */
struct incoming {
	TAILQ_ENTRY(incoming)	 entry;
	char			 id[QUEUE_ID_LEN + 1];
	uint32_t		 link;		/* smtpd instance it came from */
	uint32_t		 peerid;	/* of the commit */
	uint64_t		 reqid;		/* of the commit */
	struct envelope		*env;		/* once committing */
	int			 msgfd, envfd;	/* staged, to be synced; -1 */
};
TAILQ_HEAD(incoming_list, incoming);

static struct {
	struct spool		 spool;
	struct scheduler	 sched;
	char			 spool_path[PATH_MAX];
	struct incoming_list	 open;		/* created, not committed */
	struct incoming_list	 committing;	/* staged, waiting for a batch */
	struct incoming_list	 batch;		/* being made durable */
	size_t			 nincoming;
	struct event		*flush_ev;	/* group commit */
	struct event		*sched_ev;	/* next scheduler pass */
} q;

static void	queue_kick(void);

/* Incoming messages */

static struct incoming *
incoming_find(struct incoming_list *list, const char *id)
{
	struct incoming *inc;

	TAILQ_FOREACH(inc, list, entry)
		if (strcmp(inc->id, id) == 0)
			return inc;
	return NULL;
}

/* inc is already off its list. */
static void
incoming_free(struct incoming *inc)
{
	if (inc->msgfd != -1)
		close(inc->msgfd);
	if (inc->envfd != -1)
		close(inc->envfd);
	envelope_free(inc->env);
	free(inc);
	q.nincoming--;
}

/* An answer on the link to the smtpd instance the request came from. */
static void
queue_reply(uint32_t link, uint32_t type, uint32_t peerid, uint64_t reqid,
    const char *msgid, int fd)
{
	struct imsgev *iev;
	struct mbuf m;

	if ((iev = worker_peer_instance(PROC_SMTPD, link)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	mbuf_init(&m);
	mbuf_add_u64(&m, reqid);
	if (msgid != NULL)
		mbuf_add_str(&m, msgid);
	if (imsgev_compose_mbuf(iev, type, peerid, fd, &m) == -1)
		log_warn("%s to smtpd", imsg_type_name(type));
}

static void
queue_create(struct imsgev *iev, struct imsg *imsg)
{
	struct incoming *inc;
	struct mreader r;
	uint64_t reqid;
	int fd;

	mreader_init(&r, imsg);
	reqid = mr_u64(&r);
	if (mr_end(&r) == -1) {
		imsgev_fail(iev, "malformed create");
		return;
	}
	if (q.nincoming >= QUEUE_INCOMING_MAX) {
		log_warnx("create: %zu messages open already", q.nincoming);
		goto fail;
	}
	/* smtpd was told already (IMSG_QUEUE_STATUS); it answers 4xx */
	if (flow_status() != 0)
		goto fail;
	if ((inc = calloc(1, sizeof(*inc))) == NULL) {
		log_warn("create");
		goto fail;
	}
	inc->msgfd = inc->envfd = -1;
	if ((fd = spool_create(&q.spool, inc->id)) == -1) {
		flow_write_failed(errno);
		free(inc);
		goto fail;
	}
	inc->link = worker_link_instance(iev);
	TAILQ_INSERT_TAIL(&q.open, inc, entry);
	q.nincoming++;
	log_debug("%s: created", inc->id);
	queue_reply(inc->link, IMSG_QUEUE_CREATE_OK, imsg->hdr.peerid, reqid,
	    inc->id, fd);
	return;
 fail:
	queue_reply(worker_link_instance(iev), IMSG_QUEUE_CREATE_FAIL,
	    imsg->hdr.peerid, reqid, NULL, -1);
}

/* A string field, duplicated; NULL on a bad field or (*nomem) memory. */
static char *
mr_strdup(struct mreader *r, size_t max, int *nomem)
{
	char buf[QUEUE_STR_MAX];
	char *s;

	mr_str(r, buf, max);
	if (r->err)
		return NULL;
	if ((s = strdup(buf)) == NULL)
		*nomem = 1;
	return s;
}

/* Reads a commit into env; -1 if malformed.  *nomem: we ran out. */
static int
queue_commit_read(struct imsg *imsg, uint64_t *reqid, struct envelope *env,
    int *nomem)
{
	struct envelope_rcpt *rc;
	struct mreader r;
	uint32_t n, i;

	mreader_init(&r, imsg);
	*reqid = mr_u64(&r);
	mr_str(&r, env->id, sizeof(env->id));
	env->sender = mr_strdup(&r, ENVELOPE_ADDR_MAX, nomem);
	env->helo = mr_strdup(&r, ENVELOPE_HELO_MAX, nomem);
	env->client = mr_strdup(&r, ENVELOPE_CLIENT_MAX, nomem);
	env->size = mr_u64(&r);
	env->body = mr_u32(&r);
	env->smtputf8 = mr_u32(&r);
	env->ret = mr_u32(&r);
	env->envid = mr_strdup(&r, ENVELOPE_ENVID_MAX, nomem);
	n = mr_u32(&r);
	if (r.err || n == 0 || n > r.left / QUEUE_COMMIT_RCPT_MIN ||
	    !envelope_valid_id(env->id) || env->body > MSG_BODY_8BITMIME ||
	    env->smtputf8 > 1 || env->ret > DSN_RET_HDRS)
		return -1;
	if ((env->rcpt = calloc(n, sizeof(*env->rcpt))) == NULL) {
		*nomem = 1;
		return 0;
	}
	env->nrcpt = n;
	for (i = 0; i < n; i++) {
		rc = &env->rcpt[i];
		rc->to = mr_strdup(&r, ENVELOPE_ADDR_MAX, nomem);
		rc->orig = mr_strdup(&r, ENVELOPE_ADDR_MAX, nomem);
		rc->relay = mr_strdup(&r, ENVELOPE_RELAY_MAX, nomem);
		rc->notify = mr_u32(&r);
		rc->orcpt = mr_strdup(&r, ENVELOPE_ORCPT_MAX, nomem);
		if ((rc->reply = strdup("")) == NULL)
			*nomem = 1;
		if ((rc->notify & ~(uint32_t)DSN_NOTIFY_MASK) != 0 ||
		    ((rc->notify & DSN_NOTIFY_NEVER) &&
		    rc->notify != DSN_NOTIFY_NEVER))
			return -1;
	}
	return mr_end(&r);
}

/* Removes the message and tells smtpd; inc is off its list. */
static void
queue_commit_fail(struct incoming *inc)
{
	spool_unstage(&q.spool, inc->id);
	spool_remove(&q.spool, inc->id);
	log_warnx("%s: commit failed, message removed", inc->id);
	queue_reply(inc->link, IMSG_QUEUE_COMMIT_FAIL, inc->peerid, inc->reqid,
	    inc->id, -1);
	incoming_free(inc);
}

/* Durable: acknowledge and schedule; a restart would load it too. */
static void
queue_commit_ok(struct incoming *inc)
{
	char from[ENVELOPE_ADDR_MAX];
	struct envelope *env = inc->env;

	inc->env = NULL;
	log_info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)",
	    env->id, envelope_vis(from, sizeof(from), env->sender),
	    (unsigned long long)env->size, env->nrcpt);
	queue_reply(inc->link, IMSG_QUEUE_COMMIT_OK, inc->peerid, inc->reqid,
	    inc->id, -1);
	stats_accepted(time(NULL));
	incoming_free(inc);
	if (sched_add(&q.sched, env) == -1)
		fatalx("%s: out of memory scheduling a message", env->id);
}

static void
queue_commit(struct imsgev *iev, struct imsg *imsg)
{
	struct timeval now_tv = { 0, 0 };
	struct envelope env;
	struct incoming *inc;
	uint64_t reqid = 0;
	int64_t now = time(NULL);
	size_t i;
	int nomem = 0;

	memset(&env, 0, sizeof(env));
	if (queue_commit_read(imsg, &reqid, &env, &nomem) == -1) {
		envelope_clear(&env);
		imsgev_fail(iev, "malformed commit");
		return;
	}
	if ((inc = incoming_find(&q.open, env.id)) == NULL ||
	    inc->link != worker_link_instance(iev)) {
		envelope_clear(&env);
		imsgev_fail(iev, "commit of a message not open on this link");
		return;
	}
	TAILQ_REMOVE(&q.open, inc, entry);
	inc->peerid = imsg->hdr.peerid;
	inc->reqid = reqid;
	if (nomem || (inc->env = malloc(sizeof(*inc->env))) == NULL) {
		log_warnx("%s: commit: out of memory", inc->id);
		envelope_clear(&env);
		queue_commit_fail(inc);
		return;
	}
	*inc->env = env;
	inc->env->created = now;
	for (i = 0; i < env.nrcpt; i++)
		inc->env->rcpt[i].next = now;
	if (spool_stage(&q.spool, inc->env, &inc->msgfd, &inc->envfd) == -1) {
		flow_write_failed(errno);
		queue_commit_fail(inc);
		return;
	}
	TAILQ_INSERT_TAIL(&q.committing, inc, entry);
	evtimer_add(q.flush_ev, &now_tv);
}

/*
 * Group commit (spool.c, steps 2-5), without blocking: the commits staged
 * meanwhile form a batch; all its files are synced at once (spool_aio.c),
 * then published, then one directory fsync, then every 250.  Commits that
 * arrive while a batch is out wait for the next one.
 */
static void	queue_batch_synced(void *, int);
static void	queue_batch_durable(void *, int);

static void
queue_flush(evutil_socket_t fd, short ev, void *arg)
{
	static int fds[AIO_SYNC_MAX];
	struct incoming *inc;
	size_t n = 0;

	if (!TAILQ_EMPTY(&q.batch) || TAILQ_EMPTY(&q.committing))
		return;			/* queue_batch_durable calls again */
	while ((inc = TAILQ_FIRST(&q.committing)) != NULL &&
	    n + 2 <= AIO_SYNC_MAX) {
		TAILQ_REMOVE(&q.committing, inc, entry);
		TAILQ_INSERT_TAIL(&q.batch, inc, entry);
		fds[n++] = inc->msgfd;
		fds[n++] = inc->envfd;
	}
	if (aio_sync_start(fds, n, 0, queue_batch_synced, NULL) == -1)
		queue_batch_synced(NULL, 0);
}

/* The batch is on disk, but not yet its directory entries: publish. */
static void
queue_batch_synced(void *arg, int ok)
{
	static int dirfd[1];
	struct incoming *inc, *next;
	int published = 0;

	for (inc = TAILQ_FIRST(&q.batch); inc != NULL; inc = next) {
		next = TAILQ_NEXT(inc, entry);
		close(inc->msgfd);
		close(inc->envfd);
		inc->msgfd = inc->envfd = -1;
		if (!ok || spool_publish(&q.spool, inc->id) == -1) {
			flow_write_failed(errno);
			TAILQ_REMOVE(&q.batch, inc, entry);
			queue_commit_fail(inc);
		} else
			published = 1;
	}
	dirfd[0] = q.spool.queuefd;
	if (!published || aio_sync_start(dirfd, 1, 1, queue_batch_durable,
	    NULL) == -1)
		queue_batch_durable(NULL, 0);
}

static void
queue_batch_durable(void *arg, int ok)
{
	struct timeval now_tv = { 0, 0 };
	struct incoming *inc;

	while ((inc = TAILQ_FIRST(&q.batch)) != NULL) {
		TAILQ_REMOVE(&q.batch, inc, entry);
		/* no link to smtpd: the client cannot hear 250, drop it */
		if (!ok || worker_peer_instance(PROC_SMTPD, inc->link) == NULL)
			queue_commit_fail(inc);
		else
			queue_commit_ok(inc);
	}
	if (!TAILQ_EMPTY(&q.committing))
		evtimer_add(q.flush_ev, &now_tv);
	queue_kick();
}

static void
queue_abort(struct imsgev *iev, struct imsg *imsg)
{
	char msgid[QUEUE_ID_LEN + 1];
	struct incoming *inc;
	struct mreader r;

	mreader_init(&r, imsg);
	(void)mr_u64(&r);
	mr_str(&r, msgid, sizeof(msgid));
	if (mr_end(&r) == -1 || !envelope_valid_id(msgid)) {
		imsgev_fail(iev, "malformed abort");
		return;
	}
	/* a commit may have crossed the abort: then the commit stands */
	if ((inc = incoming_find(&q.open, msgid)) == NULL ||
	    inc->link != worker_link_instance(iev)) {
		log_debug("%s: abort of a message not open, ignored", msgid);
		return;
	}
	TAILQ_REMOVE(&q.open, inc, entry);
	spool_remove(&q.spool, inc->id);
	log_debug("%s: aborted", inc->id);
	incoming_free(inc);
}

/*
 * An smtpd instance is gone: nothing it left open or unacknowledged is
 * kept; the other instances' messages are theirs.
 */
static void
queue_smtpd_down(uint32_t link)
{
	struct incoming_list *lists[] = { &q.open, &q.committing };
	struct incoming *inc, *next;
	size_t i;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		for (inc = TAILQ_FIRST(lists[i]); inc != NULL; inc = next) {
			next = TAILQ_NEXT(inc, entry);
			if (inc->link != link)
				continue;
			TAILQ_REMOVE(lists[i], inc, entry);
			spool_unstage(&q.spool, inc->id);
			if (spool_remove(&q.spool, inc->id) == 0)
				log_info("%s: removed uncommitted message",
				    inc->id);
			incoming_free(inc);
		}
	}
}

static void
queue_smtpd_msg(struct imsgev *iev, struct imsg *imsg)
{
	if (imsg->fd != -1) {
		imsgev_fail(iev, "unexpected fd from smtpd");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_QUEUE_CREATE:
		queue_create(iev, imsg);
		break;
	case IMSG_QUEUE_COMMIT:
		queue_commit(iev, imsg);
		break;
	case IMSG_QUEUE_ABORT:
		queue_abort(iev, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message from smtpd");
	}
}

/* Delivery */

static int
queue_send_batch(const struct sched_batch *b, void *arg)
{
	const struct envelope *env = b->msg->env;
	struct imsgev *iev;
	struct mbuf m;
	size_t k;
	int fd;

	if ((iev = worker_peer(PROC_MTAD)) == NULL)
		return -1;
	/* out of descriptors or memory: later; anything else: quarantine */
	if ((fd = spool_msg_open(&q.spool, env->id)) == -1)
		return (errno == EMFILE || errno == ENFILE || errno == ENOMEM) ?
		    -1 : SCHED_SEND_BROKEN;
	if (spool_msg_usable(fd, env) == -1) {
		close(fd);
		return SCHED_SEND_BROKEN;
	}
	mbuf_init(&m);
	mbuf_add_u64(&m, b->id);
	mbuf_add_str(&m, env->id);
	mbuf_add_str(&m, env->sender);
	mbuf_add_str(&m, b->relay);
	mbuf_add_u32(&m, env->body);
	mbuf_add_u32(&m, env->smtputf8);
	mbuf_add_u32(&m, (uint32_t)b->n);
	for (k = 0; k < b->n; k++)
		mbuf_add_str(&m, env->rcpt[b->idx[k]].to);
	if (imsgev_compose_mbuf(iev, IMSG_MTA_TRANSFER, 0, fd, &m) == -1) {
		log_warn("%s: transfer to mtad", env->id);
		return -1;
	}
	log_debug("%s: batch %llu, %zu recipient(s) via %s to mtad", env->id,
	    (unsigned long long)b->id, b->n, b->relay);
	return 0;
}

/* A scheduler pass: dispatch what is due, sleep until the next one. */
static void
queue_schedule(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval tv = { 0, 0 };
	int64_t now = time(NULL), due;

	if (worker_peer(PROC_LOOKUPD) != NULL)	/* DSNs without a relay */
		sched_route_due(&q.sched, now, queue_route_ask, NULL);
	if (worker_peer(PROC_MTAD) == NULL || q.sched.paused)
		return;				/* peer_up, resume kick */
	sched_dispatch(&q.sched, now, queue_send_batch, NULL);
	if (q.sched.ninflight >= SCHED_MAX_INFLIGHT)
		return;				/* a result kicks */
	if ((due = sched_next_due(&q.sched)) == -1)
		return;				/* a commit kicks */
	tv.tv_sec = due > now ? (time_t)(due - now) : 1;
	evtimer_add(q.sched_ev, &tv);
}

/* A pass soon, after the current one: changes of one pass coalesce. */
static void
queue_kick(void)
{
	struct timeval tv = { 0, 0 };

	evtimer_add(q.sched_ev, &tv);
}

void
queue_dsn_kick(void)
{
	queue_kick();
}

static void
queue_mta_result(struct imsgev *iev, struct imsg *imsg)
{
	static char replies[SCHED_BATCH_MAX_RCPT][ENVELOPE_REPLY_MAX];
	static char buf[IMSG_MAX_SIZE];
	char *reply[SCHED_BATCH_MAX_RCPT];
	uint32_t status[SCHED_BATCH_MAX_RCPT];
	char host[ENVELOPE_RELAY_MAX];
	struct mreader r;
	uint64_t batchid, delivered;
	uint32_t n, i;

	mreader_init(&r, imsg);
	batchid = mr_u64(&r);
	mr_str(&r, host, sizeof(host));
	n = mr_u32(&r);
	if (r.err || n > SCHED_BATCH_MAX_RCPT) {
		imsgev_fail(iev, "malformed result");
		return;
	}
	for (i = 0; i < n; i++) {
		status[i] = mr_u32(&r);
		mr_str(&r, buf, sizeof(buf));
		strlcpy(replies[i], buf, sizeof(replies[i]));
		reply[i] = replies[i];
	}
	if (mr_end(&r) == -1) {
		imsgev_fail(iev, "malformed result");
		return;
	}
	delivered = q.sched.count.delivered;
	if (sched_result(&q.sched, batchid, n, status, reply,
	    time(NULL)) == -1) {
		imsgev_fail(iev, "result does not match a batch");
		return;
	}
	stats_delivered(time(NULL), q.sched.count.delivered - delivered);
	queue_kick();
}

static void
queue_mtad_msg(struct imsgev *iev, struct imsg *imsg)
{
	if (imsg->fd != -1) {
		imsgev_fail(iev, "unexpected fd from mtad");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_MTA_RESULT:
		queue_mta_result(iev, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message from mtad");
	}
}

/* Parent, links */

static void
queue_parent_msg(struct imsgev *iev, struct imsg *imsg)
{
	if (imsg->fd != -1 || queue_ctl_dispatch(iev, imsg, &q.sched) == -1) {
		imsgev_fail(iev, "unexpected message from parent");
		return;
	}
	queue_kick();		/* schedule, resume may have made work */
}

static void
queue_peer_up(enum proc_id id, struct imsgev *iev)
{
	if (id == PROC_MTAD || id == PROC_LOOKUPD)
		queue_kick();
	if (id == PROC_SMTPD)
		flow_smtpd_up();
}

static void
queue_peer_down(enum proc_id id)
{
	switch (id) {
	case PROC_SMTPD:	/* queue_peer_instance_down knows which */
		break;
	case PROC_MTAD:
		if (q.sched.ninflight > 0)
			log_warnx("link to mtad lost: %zu batch(es) deferred",
			    q.sched.ninflight);
		sched_requeue_inflight(&q.sched, time(NULL));
		break;
	case PROC_LOOKUPD:
		queue_route_down();
		break;
	default:
		break;
	}
}

static void
queue_peer_instance_down(enum proc_id id, uint32_t n)
{
	if (id == PROC_SMTPD)
		queue_smtpd_down(n);
}

/* Start-up */

static void
queue_loaded(struct envelope *env, void *arg)
{
	int64_t now = *(const int64_t *)arg;
	size_t i;

	for (i = 0; i < env->nrcpt; i++)
		env->rcpt[i].next = now;
	/* a delivery the crash interrupted is made again: say so */
	log_info("%s: recovered from the spool, %zu pending recipient(s)",
	    env->id, envelope_pending(env));
	if (sched_add(&q.sched, env) == -1)
		fatalx("%s: out of memory loading the queue", env->id);
}

static int
queue_init(const struct mxgate_conf *conf)
{
	struct spool_stats st;
	int64_t now = time(NULL);

	TAILQ_INIT(&q.open);
	TAILQ_INIT(&q.committing);
	TAILQ_INIT(&q.batch);
	if (aio_sync_init() == -1)
		log_info("queue: no asynchronous sync here: each batch of "
		    "commits is synced blocking");
	strlcpy(q.spool_path, conf->spool, sizeof(q.spool_path));
	if (spool_open(&q.spool, conf->spool) == -1)
		return -1;
	sched_init(&q.sched, &q.spool);
	sched_set_retry(&q.sched, conf->retry_min, conf->retry_max,
	    conf->queue_lifetime);
	if (flow_init(q.spool.dirfd, conf->queue_min_free) == -1) {
		log_warnx("evtimer_new failed");
		return -1;
	}
	queue_dsn_init(&q.spool, &q.sched);
	sched_set_dsn(&q.sched, conf->delay_warning, queue_dsn, NULL);
	q.flush_ev = evtimer_new(worker_base(), queue_flush, NULL);
	q.sched_ev = evtimer_new(worker_base(), queue_schedule, NULL);
	if (q.flush_ev == NULL || q.sched_ev == NULL) {
		log_warnx("evtimer_new failed");
		return -1;
	}
	if (spool_recover(&q.spool, queue_loaded, &now, &st) == -1)
		return -1;
	log_info("queue %s: %zu message(s) loaded, %zu uncommitted and "
	    "%zu finished removed, %zu quarantined", conf->spool, st.loaded,
	    st.uncommitted, st.finished, st.corrupt);
	return 0;
}

static int
queue_configure(struct mxgate_conf *conf, int first)
{
	if (first)
		return queue_init(conf);
	if (strcmp(conf->spool, q.spool_path) != 0) {
		log_warnx("reload: spool %s cannot change to %s without a "
		    "restart", q.spool_path, conf->spool);
		return -1;
	}
	sched_set_retry(&q.sched, conf->retry_min, conf->retry_max,
	    conf->queue_lifetime);
	flow_set_min_free(conf->queue_min_free);
	sched_set_dsn(&q.sched, conf->delay_warning, queue_dsn, NULL);
	return 0;
}

static void
queue_sandbox(const struct mxgate_conf *conf)
{
	sandbox_enter("queued", conf->spool, conf->queue_user, NULL,
	    PROMISE_STDIO | PROMISE_RPATH | PROMISE_WPATH | PROMISE_CPATH |
	    PROMISE_SENDFD | PROMISE_UNIX);
}

static const struct worker_ops queue_ops = {
	.id = PROC_QUEUED,
	.configure = queue_configure,
	.sandbox = queue_sandbox,
	.peer_up = queue_peer_up,
	.peer_down = queue_peer_down,
	.peer_handler = {
		[PROC_SMTPD] = queue_smtpd_msg,
		[PROC_MTAD] = queue_mtad_msg,
		[PROC_LOOKUPD] = queue_lookupd_msg,
	},
	.parent_msg = queue_parent_msg,
	.peer_instance_down = queue_peer_instance_down,
};

int
main(int argc, char **argv)
{
	worker_main(argc, argv, &queue_ops);
}
