/*
 * The message body on the wire (RFC 5321 4.5.2, 2.3.8): every line end
 * becomes CR LF, a bare CR or LF included, so that no "\n.\r\n" or
 * "\r.\r" can end the data early at a lenient server; a line starting
 * with '.' gets another; the end adds the missing line end and the lone
 * dot.  Pure, fed chunk by chunk.
 */
#ifndef MXGATE_MTA_BODY_H
#define MXGATE_MTA_BODY_H

#include <stddef.h>

struct mta_body {
	int	 bol;		/* at a line start */
	int	 cr;		/* a CR waits for its LF */
};

void	mta_body_init(struct mta_body *);
/* Encode len bytes of in; out must hold 2 * len + 2 bytes. */
size_t	mta_body_encode(struct mta_body *, const char *in, size_t len,
	    char *out);
/* The end: at most 5 bytes ("\r\n.\r\n"). */
size_t	mta_body_end(struct mta_body *, char *out);

#endif
