/*
 * Delivery status notifications (RFC 3464, RFC 3461, RFC 6522): the text
 * of the multipart/report message queued sends to an envelope sender
 * when recipients failed, are delayed, or were relayed with NOTIFY=SUCCESS.
 * bounce_write() is a pure function of its input (no clock, no global
 * state), so regress/unit/test_bounce.c checks its output directly.
 */
#ifndef MXGATE_BOUNCE_H
#define MXGATE_BOUNCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto.h"

#define BOUNCE_STATUS_MAX	16		/* "5.1.1" and NUL, with room */

enum bounce_kind {
	BOUNCE_FAILURE,		/* Action: failed (permanent or expired) */
	BOUNCE_DELAY,		/* Action: delayed (delay warning) */
	BOUNCE_SUCCESS		/* Action: relayed (NOTIFY=SUCCESS) */
};

struct bounce_rcpt {
	const char	*final;		/* Final-Recipient, rfc822 */
	const char	*orcpt;		/* "type;addr" from ORCPT=, "" none */
	const char	*reply;		/* the next hop's reply or our text */
	int		 expired;	/* failed at the end of the lifetime */
};

struct bounce {
	enum bounce_kind	 kind;
	const char		*hostname;	/* Reporting-MTA, From: domain */
	const char		*msgid;		/* queue id of the original */
	const char		*id;		/* queue id of this DSN */
	const char		*to;		/* the original envelope sender */
	const char		*envid;		/* ENVID=, "" none */
	enum dsn_ret		 ret;		/* resolved: FULL or HDRS */
	int64_t			 arrival;	/* of the original, epoch s */
	int64_t			 now;		/* Date: of the DSN */
	int64_t			 retry_until;	/* delay: Will-Retry-Until */
	size_t			 nrcpt;
	const struct bounce_rcpt *rcpt;
};

/*
 * The Status of one recipient (RFC 3463): the enhanced code of reply
 * when it has one of the right class, else one derived from its reply
 * code; 4.4.7 for an expired recipient, 2.0.0 for a success.
 */
void	bounce_status(enum bounce_kind, const struct bounce_rcpt *,
	    char *buf, size_t bufsz);

/*
 * Writes the whole DSN message (headers and body, CR LF line ends) to
 * out, returning the original (orig, positioned at its start) as
 * message/rfc822 (RET FULL) or its header as text/rfc822-headers (HDRS).
 * 0, or -1 on a read or write error.
 */
int	bounce_write(FILE *out, const struct bounce *, FILE *orig);

#endif
