/*
 * queued's process-internal declarations (queued.c, queue_ctl.c).
 */
#ifndef MXGATE_QUEUED_H
#define MXGATE_QUEUED_H

#include <stddef.h>
#include <stdint.h>

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

#endif
