/*
 * The Received: trace header mxgate prepends (RFC 5321 4.4, RFC 5322
 * 3.6.7), formatted by one pure function so its syntax can be tested:
 *
 *   Received: from HELO ([ADDR])
 *   	(using TLSv1.3 with cipher ...)		(under TLS only)
 *   	by HOSTNAME (mxgate) with ESMTP id QUEUEID
 *   	for <RCPT>; DATE			(one recipient only)
 *
 * The client's HELO name goes into the from clause only when it is a
 * domain or an address literal; otherwise the client's address takes
 * its place and the HELO name follows as a comment, with the characters
 * a comment cannot hold replaced, so no HELO can break the header's
 * structure.
 */
#ifndef MXGATE_SMTP_RECEIVED_H
#define MXGATE_SMTP_RECEIVED_H

#include <stddef.h>
#include <time.h>

struct smtp_received {
	const char	*helo;		/* printable, as given */
	const char	*ip;		/* numeric IPv4 or IPv6 */
	const char	*hostname;	/* ours */
	const char	*proto;		/* "ESMTP", "ESMTPS", ... (RFC 3848) */
	const char	*tls;		/* "TLSv1.3 with cipher ...", or NULL */
	const char	*id;		/* queue id */
	const char	*rcpt;		/* the only recipient, or NULL */
	time_t		 when;
};

/* Length of the header written into buf (CR LF lines), -1 if too small. */
int	smtp_received_format(char *buf, size_t len,
	    const struct smtp_received *);
/* 1 when helo is a domain name or an address literal (RFC 5321 4.1.2). */
int	smtp_received_helo_ok(const char *helo);

#endif
