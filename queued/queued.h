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
/* Most of a message's header `smtpctl show message` prints. */
#define QUEUE_CTL_HEADERS_MAX	(64 * 1024)

struct imsg;
/*
 * Answers an IMSG_CTL_* queue request from the parent (lines, then
 * IMSG_CTL_END to its peer id); -1 if the type is not one of them.
 */
int	queue_ctl_dispatch(struct imsgev *, struct imsg *, struct scheduler *);

/*
 * queue_flow.c: may new mail come in?  A timer and flow_write_failed()
 * watch the spool's free space, flow_pause_incoming() the administrator;
 * a change is told to smtpd (IMSG_QUEUE_STATUS).  flow_status() is the
 * QUEUE_STATUS_* flags now: 0 while new mail is welcome.
 */
int	flow_init(int spool_dirfd, uint64_t min_free);
void	flow_set_min_free(uint64_t);
void	flow_write_failed(int err);
void	flow_pause_incoming(int);
uint32_t flow_status(void);
void	flow_smtpd_up(void);

/* queue_stats.c: counts of the last minute for `smtpctl show stats`. */
void	stats_accepted(int64_t now);
void	stats_delivered(int64_t now, size_t n);
/* Events of the last 60 seconds. */
uint64_t stats_accepted_last_minute(int64_t now);
uint64_t stats_delivered_last_minute(int64_t now);
uint64_t stats_accepted_total(void);

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
