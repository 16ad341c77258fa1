/*
 * queued's process-internal declarations (queued.c, queue_ctl.c).
 */
#ifndef MXGATE_QUEUED_H
#define MXGATE_QUEUED_H

#include <stddef.h>
#include <stdint.h>

#include "bounce.h"

struct envelope;
struct envelope_rcpt;
struct imsgev;
struct scheduler;

/* An escaped address is at most 3 x ENVELOPE_ADDR_MAX. */
#define QUEUE_CTL_LINE_MAX	8192

/*
 * One `smtpctl show queue` line for a pending recipient:
 *   <msgid> age=<N>s from=<sender> to=<rcpt>
 *       state=<queued|deferred|inflight> tries=<N> next=<N>s
 * sender and rcpt xtext-escaped (envelope_escape), the null sender as
 * "<>".  0, or -1 if it does not fit or memory ran out.
 */
int	queue_ctl_line(char *buf, size_t bufsz, const struct envelope *,
	    const struct envelope_rcpt *, int64_t now);
/* IMSG_CTL_DATA per pending recipient, then IMSG_CTL_END, to peerid. */
void	queue_ctl_show(struct imsgev *, uint32_t peerid,
	    const struct scheduler *, int64_t now);

/* queue_dsn.c */
struct imsg;
struct spool;
void	queue_dsn_init(struct spool *, struct scheduler *);
/* sched_dsn_fn: queues a DSN (see scheduler.h). */
int	queue_dsn(const struct envelope *, enum bounce_kind, const size_t *idx,
	    size_t n, int64_t now, void *arg);
/* For sched_route_due(): IMSG_LKA_ROUTE for recipient idx of env. */
int	queue_route_ask(const struct envelope *, size_t idx, void *arg);
void	queue_lookupd_msg(struct imsgev *, struct imsg *);
/* lookupd went away: the routes asked are forgotten, to be asked again. */
void	queue_route_down(void);
/* queued.c: a scheduler pass soon. */
void	queue_dsn_kick(void);

#endif
