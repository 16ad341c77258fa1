/*
 * Loop detection (RFC 5321 6.3): counts the "Received:" fields in the
 * header of a message as it streams by, a few bytes at a time, without
 * keeping the header.  The input is what is stored, so every line ends
 * in CR LF; the header ends at the first empty line, after which the
 * scanner only skips.
 */
#ifndef MXGATE_SMTP_HOPS_H
#define MXGATE_SMTP_HOPS_H

#include <stddef.h>

struct smtp_hops {
	int		 state;
	size_t		 matched;	/* bytes of "received" seen */
	unsigned	 count;
};

void	smtp_hops_init(struct smtp_hops *);
void	smtp_hops_feed(struct smtp_hops *, const char *, size_t);

#endif
