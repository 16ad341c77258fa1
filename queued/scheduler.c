/*
 * The scheduler: committed messages in memory, and what happens to their
 * recipients.
 *
 * - A recipient is due when it is pending, not at mtad, and its next-try
 *   time has come.  A fresh commit makes its recipients due at once, and
 *   so does recovery after a restart.
 * - Due recipients go to mtad in batches: one per (message, relay), at
 *   most SCHED_BATCH_MAX_RCPT recipients and SCHED_BATCH_MAX_BYTES of
 *   addresses, at most SCHED_MAX_INFLIGHT batches out at once; messages
 *   are served in commit order.
 * - mtad's result, per recipient: MTA_OK, sent; MTA_PERMFAIL, bounced
 *   (logged); MTA_TEMPFAIL, tries + 1 and the next try at
 *   now + min(retry_max, retry_min * 2^(tries - 1)), or expired (logged)
 *   once the message is older than the queue lifetime.
 * - DSNs (RFC 3464, through the dsn callback, which queues them with
 *   queue_dsn.c): the recipients of one batch that bounced or expired get
 *   one failure DSN, those relayed with NOTIFY=SUCCESS one success DSN;
 *   once a message is older than delay_warning (when set), the first
 *   temporary failure after that brings one delay DSN for all its pending
 *   recipients (env->warned, persisted).  The DSN is durable before the
 *   envelope records the new states, so a crash can repeat a DSN, never
 *   lose one; a failure DSN that cannot be queued leaves its recipients
 *   pending, to be tried (and reported) again.
 * - A recipient without a relay (a DSN queued made) is not sent until
 *   lookupd has routed it (sched_route_*).
 * - Guarantee: after every result the envelope is persisted
 *   (spool_update: temp, sync, rename, dir sync) before the message is
 *   scheduled again; once no recipient is pending, the message is removed
 *   (spool_remove: envelope first, then the message file).  If persisting
 *   fails the new state lives on in memory and the failure is logged: a
 *   restart can then deliver a recipient twice, never drop one.
 * - If mtad goes away, its batches are deferred to now + retry_min,
 *   without counting a try.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "scheduler.h"
#include "spool.h"

void
sched_init(struct scheduler *s, struct spool *spool)
{
	memset(s, 0, sizeof(*s));
	s->spool = spool;
	TAILQ_INIT(&s->msgs);
	TAILQ_INIT(&s->batches);
	s->next_batchid = 1;
	sched_set_retry(s, 300, 4000, 5 * 24 * 3600);
}

void
sched_clear(struct scheduler *s)
{
	struct sched_batch *b;
	struct sched_msg *m;

	while ((b = TAILQ_FIRST(&s->batches)) != NULL) {
		TAILQ_REMOVE(&s->batches, b, entry);
		free(b);
	}
	while ((m = TAILQ_FIRST(&s->msgs)) != NULL) {
		TAILQ_REMOVE(&s->msgs, m, entry);
		envelope_free(m->env);
		free(m);
	}
	s->nmsgs = s->ninflight = 0;
}

void
sched_set_retry(struct scheduler *s, uint32_t retry_min, uint32_t retry_max,
    uint32_t lifetime)
{
	s->retry_min = retry_min > 0 ? retry_min : 1;	/* never spin */
	s->retry_max = retry_max;
	s->lifetime = lifetime;
}

int64_t
sched_retry_delay(const struct scheduler *s, uint32_t tries)
{
	uint64_t d = s->retry_min;
	uint32_t i;

	/* d < retry_max <= UINT32_MAX before each doubling: no overflow */
	for (i = 1; i < tries && d < s->retry_max; i++)
		d *= 2;
	return (int64_t)(d < s->retry_max ? d : s->retry_max);
}

int
sched_add(struct scheduler *s, struct envelope *env)
{
	struct sched_msg *m;
	size_t i;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -1;
	for (i = 0; i < env->nrcpt; i++)
		env->rcpt[i].inflight = 0;
	m->env = env;
	TAILQ_INSERT_TAIL(&s->msgs, m, entry);
	s->nmsgs++;
	return 0;
}

void
sched_release(struct scheduler *s, struct sched_msg *m)
{
	if (!m->removed || m->ninflight > 0)
		return;
	TAILQ_REMOVE(&s->msgs, m, entry);
	s->nmsgs--;
	envelope_free(m->env);
	free(m);
}

void
sched_set_dsn(struct scheduler *s, uint32_t delay_warning, sched_dsn_fn dsn,
    void *arg)
{
	s->delay_warning = delay_warning;
	s->dsn = dsn;
	s->dsn_arg = arg;
}

static int
rcpt_due(const struct envelope_rcpt *r, int64_t now)
{
	return r->state == RCPT_PENDING && !r->inflight && r->next <= now &&
	    r->relay[0] != '\0';
}

/* Due recipients of m from index first on that share its relay. */
static struct sched_batch *
batch_new(struct scheduler *s, struct sched_msg *m, size_t first,
    int64_t now)
{
	struct envelope_rcpt *r;
	struct sched_batch *b;
	size_t i, len, bytes = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->id = s->next_batchid++;
	b->msg = m;
	b->relay = m->env->rcpt[first].relay;
	for (i = first; i < m->env->nrcpt && b->n < SCHED_BATCH_MAX_RCPT;
	    i++) {
		r = &m->env->rcpt[i];
		if (!rcpt_due(r, now) || strcmp(r->relay, b->relay) != 0)
			continue;
		len = strlen(r->to) + 4;
		if (b->n > 0 && bytes + len > SCHED_BATCH_MAX_BYTES)
			break;
		bytes += len;
		r->inflight = 1;
		b->idx[b->n++] = i;
	}
	TAILQ_INSERT_TAIL(&s->batches, b, entry);
	s->ninflight++;
	m->ninflight++;
	return b;
}

static void
batch_free(struct scheduler *s, struct sched_batch *b)
{
	TAILQ_REMOVE(&s->batches, b, entry);
	s->ninflight--;
	b->msg->ninflight--;
	free(b);
}

/* Back to deferred, without counting a try. */
static void
batch_defer(struct scheduler *s, struct sched_batch *b, int64_t now)
{
	struct envelope_rcpt *r;
	size_t k;

	for (k = 0; k < b->n; k++) {
		r = &b->msg->env->rcpt[b->idx[k]];
		r->inflight = 0;
		r->next = now + s->retry_min;
	}
	batch_free(s, b);
}

/* The batch was never sent: its recipients are due as they were. */
static void
batch_unsend(struct scheduler *s, struct sched_batch *b)
{
	size_t k;

	for (k = 0; k < b->n; k++)
		b->msg->env->rcpt[b->idx[k]].inflight = 0;
	batch_free(s, b);
}

/*
 * Broken messages leave the queue for corrupt/ at once; like a removed
 * one, a message with batches still at mtad is freed when they are back.
 */
static void
sched_sweep_broken(struct scheduler *s)
{
	struct sched_msg *m, *next;

	for (m = TAILQ_FIRST(&s->msgs); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (!m->broken || m->removed)
			continue;
		spool_quarantine(s->spool, m->env->id, "message file unusable");
		m->removed = 1;
		sched_release(s, m);
	}
}

/* One message's due recipients; -1 ends the pass. */
static int
dispatch_msg(struct scheduler *s, struct sched_msg *m, int64_t now,
    sched_send_fn send, void *arg, size_t *sent)
{
	struct sched_batch *b;
	size_t i;
	int rv;

	for (i = 0; i < m->env->nrcpt && !m->broken; i++) {
		if (s->ninflight >= SCHED_MAX_INFLIGHT)
			return -1;
		if (!rcpt_due(&m->env->rcpt[i], now))
			continue;
		if ((b = batch_new(s, m, i, now)) == NULL)
			return -1;
		if ((rv = send(b, arg)) == SCHED_SEND_BROKEN) {
			batch_unsend(s, b);
			m->broken = 1;
		} else if (rv == -1) {
			batch_defer(s, b, now);
			return -1;
		} else
			(*sent)++;
	}
	return 0;
}

size_t
sched_dispatch(struct scheduler *s, int64_t now, sched_send_fn send,
    void *arg)
{
	struct sched_msg *m;
	size_t sent = 0;

	if (s->paused)
		return 0;
	TAILQ_FOREACH(m, &s->msgs, entry) {
		if (m->removed)
			continue;
		if (dispatch_msg(s, m, now, send, arg, &sent) == -1)
			break;
	}
	sched_sweep_broken(s);
	return sent;
}

static void
log_rcpt(const struct envelope *env, const struct envelope_rcpt *r,
    const char *status)
{
	char to[ENVELOPE_ADDR_MAX], reply[ENVELOPE_REPLY_MAX];

	log_info("%s: to=<%s>, status=%s (%s)", env->id,
	    envelope_vis(to, sizeof(to), r->to), status,
	    envelope_vis(reply, sizeof(reply), r->reply));
}

static void
log_rcpt_note(const struct envelope *env, const struct envelope_rcpt *r,
    const char *status, const char *note)
{
	char to[ENVELOPE_ADDR_MAX];

	log_info("%s: to=<%s>, status=%s (%s)", env->id,
	    envelope_vis(to, sizeof(to), r->to), status, note);
}

static void
rcpt_result(struct scheduler *s, const struct envelope *env,
    struct envelope_rcpt *r, uint32_t status, const char *reply,
    int64_t now)
{
	char *dup;

	if ((dup = strndup(reply, ENVELOPE_REPLY_MAX - 1)) != NULL) {
		free(r->reply);
		r->reply = dup;
	}
	switch (status) {
	case MTA_OK:
		r->state = RCPT_SENT;
		s->count.delivered++;
		break;
	case MTA_PERMFAIL:
		r->state = RCPT_BOUNCED;
		s->count.bounced++;
		log_rcpt(env, r, "bounced");
		break;
	case MTA_TEMPFAIL:
		if (r->tries < UINT32_MAX)
			r->tries++;
		if (now - env->created > (int64_t)s->lifetime) {
			r->state = RCPT_EXPIRED;
			s->count.expired++;
			log_rcpt(env, r, "expired");
		} else {
			r->next = now + sched_retry_delay(s, r->tries);
			s->count.deferred++;
		}
		break;
	}
}

/* The failure and success DSNs owed for batch b, just applied to m. */
static void
sched_notify(struct scheduler *s, struct sched_msg *m,
    const struct sched_batch *b, int64_t now)
{
	struct envelope_rcpt *r;
	size_t failed[SCHED_BATCH_MAX_RCPT], sent[SCHED_BATCH_MAX_RCPT];
	size_t nf = 0, ns = 0, k;

	for (k = 0; k < b->n; k++) {
		r = &m->env->rcpt[b->idx[k]];
		if (r->state == RCPT_BOUNCED || r->state == RCPT_EXPIRED)
			failed[nf++] = b->idx[k];
		else if (r->state == RCPT_SENT)
			sent[ns++] = b->idx[k];
	}
	if (nf > 0 && s->dsn(m->env, BOUNCE_FAILURE, failed, nf, now,
	    s->dsn_arg) == -1) {
		log_warnx("%s: DSN not queued: %zu failed recipient(s) kept "
		    "for another try", m->env->id, nf);
		for (k = 0; k < nf; k++) {
			r = &m->env->rcpt[failed[k]];
			r->state = RCPT_PENDING;
			r->next = now + sched_retry_delay(s, r->tries);
		}
	}
	if (ns > 0 && s->dsn(m->env, BOUNCE_SUCCESS, sent, ns, now,
	    s->dsn_arg) == -1)
		log_warnx("%s: success DSN not queued", m->env->id);
}

/* One delay DSN per message, once it is older than delay_warning. */
static void
sched_delay_check(struct scheduler *s, struct envelope *env, int64_t now)
{
	size_t *idx, i, n = 0;

	if (s->delay_warning == 0 || env->warned ||
	    now - env->created < (int64_t)s->delay_warning)
		return;
	if ((idx = calloc(env->nrcpt, sizeof(*idx))) == NULL) {
		log_warn("%s: delay DSN", env->id);
		return;
	}
	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == RCPT_PENDING)
			idx[n++] = i;
	if (n > 0 && s->dsn(env, BOUNCE_DELAY, idx, n, now,
	    s->dsn_arg) == 0)
		env->warned = 1;
	free(idx);
}

/* Persists m after a change, or removes it when nothing is pending. */
static void
sched_persist(struct scheduler *s, struct sched_msg *m)
{
	if (envelope_pending(m->env) > 0) {
		if (spool_update(s->spool, m->env) == -1)
			log_warnx("%s: envelope not updated on disk",
			    m->env->id);
		return;
	}
	if (spool_remove(s->spool, m->env->id) == 0)
		log_info("%s: removed", m->env->id);
	TAILQ_REMOVE(&s->msgs, m, entry);
	s->nmsgs--;
	envelope_free(m->env);
	free(m);
}

int
sched_result(struct scheduler *s, uint64_t batchid, size_t n,
    const uint32_t *status, char *const *reply, int64_t now)
{
	struct envelope_rcpt *r;
	struct sched_batch *b;
	struct sched_msg *m;
	size_t k;

	TAILQ_FOREACH(b, &s->batches, entry)
		if (b->id == batchid)
			break;
	if (b == NULL || n != b->n)
		return -1;
	for (k = 0; k < n; k++)
		if (status[k] != MTA_OK && status[k] != MTA_TEMPFAIL &&
		    status[k] != MTA_PERMFAIL)
			return -1;
	m = b->msg;
	if (m->removed) {
		batch_free(s, b);
		sched_release(s, m);
		return 0;
	}
	for (k = 0; k < n; k++) {
		r = &m->env->rcpt[b->idx[k]];
		r->inflight = 0;
		rcpt_result(s, m->env, r, status[k], reply[k], now);
	}
	if (s->dsn != NULL) {
		sched_notify(s, m, b, now);
		sched_delay_check(s, m->env, now);
	}
	batch_free(s, b);
	sched_persist(s, m);
	return 0;
}

/* ---- routing of DSNs ---- */

static int
rcpt_unrouted(const struct envelope_rcpt *r)
{
	return r->state == RCPT_PENDING && r->relay[0] == '\0';
}

size_t
sched_route_due(struct scheduler *s, int64_t now,
    int (*ask)(const struct envelope *, size_t, void *), void *arg)
{
	struct envelope_rcpt *r;
	struct sched_msg *m;
	size_t i, n = 0;

	TAILQ_FOREACH(m, &s->msgs, entry) {
		for (i = 0; i < m->env->nrcpt; i++) {
			r = &m->env->rcpt[i];
			if (!rcpt_unrouted(r) || r->inflight || r->next > now)
				continue;
			if (ask(m->env, i, arg) == -1)
				return n;
			r->inflight = 1;
			n++;
		}
	}
	return n;
}

int
sched_route_result(struct scheduler *s, const char *msgid, size_t idx,
    const char *relay, const char *why, int64_t now)
{
	struct envelope_rcpt *r;
	struct sched_msg *m;
	char *dup, to[ENVELOPE_ADDR_MAX];

	TAILQ_FOREACH(m, &s->msgs, entry)
		if (strcmp(m->env->id, msgid) == 0)
			break;
	if (m == NULL || idx >= m->env->nrcpt)
		return -1;
	r = &m->env->rcpt[idx];
	if (!rcpt_unrouted(r) || !r->inflight)
		return -1;
	r->inflight = 0;
	if (relay != NULL && (dup = strdup(relay)) != NULL) {
		free(r->relay);
		r->relay = dup;
		r->next = now;
		log_info("%s: to=<%s>, routed via %s", m->env->id,
		    envelope_vis(to, sizeof(to), r->to), r->relay);
	} else {
		rcpt_result(s, m->env, r, MTA_TEMPFAIL, relay == NULL ? why :
		    "out of memory", now);
		log_warnx("%s: to=<%s>, no route: %s; %s", m->env->id,
		    envelope_vis(to, sizeof(to), r->to),
		    relay == NULL ? why : "out of memory",
		    r->state == RCPT_PENDING ? "kept for retry" :
		    "expired, dropped");
	}
	sched_persist(s, m);
	return 0;
}

void
sched_route_reset(struct scheduler *s)
{
	struct sched_msg *m;
	size_t i;

	TAILQ_FOREACH(m, &s->msgs, entry)
		for (i = 0; i < m->env->nrcpt; i++)
			if (rcpt_unrouted(&m->env->rcpt[i]))
				m->env->rcpt[i].inflight = 0;
}

/*
 * mtad went away with these batches: the next hop may have taken some of
 * them already, so a second delivery is possible; say so per recipient.
 */
void
sched_requeue_inflight(struct scheduler *s, int64_t now)
{
	struct sched_batch *b;
	struct sched_msg *m;
	size_t k;

	while ((b = TAILQ_FIRST(&s->batches)) != NULL) {
		m = b->msg;
		for (k = 0; k < b->n && !m->removed; k++)
			log_rcpt_note(m->env, &m->env->rcpt[b->idx[k]],
			    "deferred", "delivery interrupted: link to mtad "
			    "lost, it may be repeated");
		batch_defer(s, b, now);
		sched_release(s, m);
	}
}

int64_t
sched_next_due(const struct scheduler *s)
{
	const struct envelope_rcpt *r;
	const struct sched_msg *m;
	int64_t best = -1;
	size_t i;

	TAILQ_FOREACH(m, &s->msgs, entry) {
		if (m->removed)
			continue;
		for (i = 0; i < m->env->nrcpt; i++) {
			r = &m->env->rcpt[i];
			if (r->state != RCPT_PENDING || r->inflight)
				continue;
			if (best == -1 || r->next < best)
				best = r->next;
		}
	}
	return best;
}
