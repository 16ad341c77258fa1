/*
 * The in-memory queue of committed messages: which recipients are due,
 * batching them to mtad, applying mtad's results, retry timing and
 * expiry.  Free of imsg and of the clock (callers pass `now`), so unit
 * tests drive it directly.  See scheduler.c for the rules.
 */
#ifndef MXGATE_SCHEDULER_H
#define MXGATE_SCHEDULER_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "bounce.h"
#include "envelope.h"

#define SCHED_MAX_INFLIGHT	64		/* batches at mtad */
#define SCHED_BATCH_MAX_RCPT	100		/* RFC 5321 4.5.3.1.8 */
#define SCHED_BATCH_MAX_BYTES	(32 * 1024)	/* of recipients: fits an imsg */

struct spool;

struct sched_msg {
	TAILQ_ENTRY(sched_msg)	 entry;
	struct envelope		*env;
	unsigned		 ninflight;	/* batches at mtad */
	int			 removed;	/* by smtpctl remove; freed once
						 * its batches are back */
	int			 broken;	/* message file unusable */
};

/* Recipients of one message sharing one relay, handed to mtad. */
struct sched_batch {
	TAILQ_ENTRY(sched_batch) entry;
	uint64_t		 id;
	struct sched_msg	*msg;
	const char		*relay;
	size_t			 n;
	size_t			 idx[SCHED_BATCH_MAX_RCPT];	/* in env->rcpt */
};

TAILQ_HEAD(sched_msgs, sched_msg);
TAILQ_HEAD(sched_batches, sched_batch);

/* Recipient outcomes since start, for `smtpctl show stats`. */
struct sched_counters {
	uint64_t	delivered, deferred, bounced, expired, removed;
};
/*
 * Queues a DSN of the given kind for recipients idx[0..n-1] of env (the
 * callee applies NOTIFY and "no DSN for a DSN").  0 when it is durably
 * queued or none is owed; -1 when it could not be queued.
 */
typedef int (*sched_dsn_fn)(const struct envelope *, enum bounce_kind,
    const size_t *idx, size_t n, int64_t now, void *arg);

struct scheduler {
	struct spool		*spool;
	struct sched_counters	 count;
	int			 paused;	/* no dispatch: pause outgoing */
	uint32_t		 retry_min, retry_max, lifetime;	/* s */
	uint32_t		 delay_warning;	/* s, 0 off */
	sched_dsn_fn		 dsn;		/* NULL: DSNs are only logged */
	void			*dsn_arg;
	struct sched_msgs	 msgs;		/* in commit order */
	struct sched_batches	 batches;	/* at mtad */
	size_t			 nmsgs, ninflight;
	uint64_t		 next_batchid;
};

void	sched_init(struct scheduler *, struct spool *);
/* Frees every message and batch in memory; the spool is not touched. */
void	sched_clear(struct scheduler *);
void	sched_set_retry(struct scheduler *, uint32_t retry_min,
	    uint32_t retry_max, uint32_t lifetime);
/* Delay before the next try after `tries` temporary failures. */
int64_t	sched_retry_delay(const struct scheduler *, uint32_t tries);

/* A committed envelope joins the queue; the scheduler owns it. 0 or -1. */
int	sched_add(struct scheduler *, struct envelope *);

/*
 * Forms batches of due recipients (one per message and relay) while
 * fewer than SCHED_MAX_INFLIGHT are out, calling send for each.  A batch
 * send refuses (-1) goes back to deferred (now + retry_min) and ends the
 * pass.  SCHED_SEND_BROKEN from send: the message file is unusable; the
 * message is quarantined (spool_quarantine) as soon as none of its
 * batches is at mtad, and the pass goes on.  Returns the number sent.
 */
#define SCHED_SEND_BROKEN	(-2)
typedef int (*sched_send_fn)(const struct sched_batch *, void *arg);
size_t	sched_dispatch(struct scheduler *, int64_t now, sched_send_fn,
	    void *arg);

/*
 * mtad's answer for a batch: status[i] (enum mta_status) and reply[i] for
 * its i-th recipient.  Updates, persists or removes the message.  -1,
 * with nothing changed, if the batch is unknown, n differs or a status
 * is out of range: a protocol error.
 */
int	sched_result(struct scheduler *, uint64_t batchid, size_t n,
	    const uint32_t *status, char *const *reply, int64_t now);

/* mtad is gone: every batch at mtad is deferred to now + retry_min. */
void	sched_requeue_inflight(struct scheduler *, int64_t now);

void	sched_set_dsn(struct scheduler *, uint32_t delay_warning, sched_dsn_fn,
	    void *arg);

/*
 * Recipients without a relay (in DSNs queued made) are routed by lookupd
 * before they can be sent.  sched_route_due() calls ask for each one
 * that is due and not being routed, and marks it in flight when ask
 * returns 0.  sched_route_result() applies the answer: relay, or NULL
 * and why (logged; the recipient is retried later, and expires after
 * the queue lifetime like any other).  -1 if the recipient is not one
 * waiting for a route.  sched_route_reset(): lookupd went away, nothing
 * is being routed any more.
 */
size_t	sched_route_due(struct scheduler *, int64_t now,
	    int (*ask)(const struct envelope *, size_t idx, void *), void *arg);
int	sched_route_result(struct scheduler *, const char *msgid, size_t idx,
	    const char *relay, const char *why, int64_t now);
void	sched_route_reset(struct scheduler *);

/* Earliest next try among recipients not at mtad, or -1 if none. */
int64_t	sched_next_due(const struct scheduler *);

/* Administration (sched_admin.c): id NULL means every message. */
struct sched_msg *sched_find(const struct scheduler *, const char *id);
/* Pending recipients not at mtad become due now; how many. */
size_t	sched_schedule(struct scheduler *, const char *id, int64_t now);
/*
 * Removes messages from the spool and the queue; how many.  A message
 * with batches at mtad leaves the spool at once and memory when they
 * return (*inflight counts those: mtad may still deliver them).
 */
size_t	sched_remove(struct scheduler *, const char *id, size_t *inflight);
/* scheduler.c: frees a removed message once no batch of it is out. */
void	sched_release(struct scheduler *, struct sched_msg *);

#endif
