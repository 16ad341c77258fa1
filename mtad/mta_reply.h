/*
 * Strict parser of SMTP replies (RFC 5321 4.2), fed by the bytes a server
 * sent.  Pure: no I/O, no allocation, every bound checked, so it can be
 * fuzzed on its own.
 *
 *   Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                Reply-code [ SP textstring ] CRLF
 *   Reply-code = %x32-35 %x30-35 %x30-39
 *
 * Every line of a reply must carry the same code.  A line ends with LF,
 * optionally preceded by CR; a CR anywhere else, a NUL or another control
 * character (tab aside) is an error.  Bytes above 0x7e are kept as '?' so
 * the text can travel into logs, envelopes and DSNs unchanged.
 */
#ifndef MXGATE_MTA_REPLY_H
#define MXGATE_MTA_REPLY_H

#include <stddef.h>

/*
 * RFC 5321 4.5.3.1.5 says 512 octets per reply line; real servers exceed
 * that with long 5xx texts, so we accept up to the text-line limit of 1000
 * (4.5.3.1.6), CRLF included.
 */
#define MTA_REPLY_LINE_MAX	1000
#define MTA_REPLY_LINES_MAX	100	/* lines in one reply */
#define MTA_REPLY_TEXT_MAX	2048	/* kept text; longer is cut */

enum {
	MTA_REPLY_ERROR = -1,	/* protocol violation; see ->error */
	MTA_REPLY_MORE = 0,	/* reply not complete yet */
	MTA_REPLY_DONE = 1	/* complete reply in ->code and ->text */
};

struct mta_reply {
	int		 code;		/* 200..559, 0 before the first line */
	size_t		 nlines;
	int		 done;
	const char	*error;		/* static text after MTA_REPLY_ERROR */
	size_t		 textlen;
	/* the lines as sent, codes included, joined by a space:
	 * "250-mx.example.com 250-PIPELINING 250 8BITMIME" */
	char		 text[MTA_REPLY_TEXT_MAX];
};

void	mta_reply_init(struct mta_reply *);
/* One line without its line end (neither CR nor LF). */
int	mta_reply_line(struct mta_reply *, const char *line, size_t len);
/*
 * Parse complete lines from buf until the reply is done.  *used is set to
 * the bytes consumed (complete lines only; an unfinished line is left for
 * the next call, with more data appended).  Nothing after the reply's last
 * line is consumed.  Once DONE or ERROR, call mta_reply_init() again.
 */
int	mta_reply_parse(struct mta_reply *, const char *buf, size_t len,
	    size_t *used);

#endif
