/*
 * The DATA stream of one SMTP transaction: a pure state machine over the
 * bytes the client sends after "354", writing the message to a file
 * descriptor through a buffer.
 *
 * Guarantees (RFC 5321 4.1.1.4, 4.5.2):
 * - Only CR LF "." CR LF ends the message; the end marker may be split
 *   across any number of reads.  "\n.\n", "\r.\r" and friends do not end it.
 * - A line (ending in CR LF) that starts with "." has that dot removed.
 * - What is stored consists of CR LF terminated lines only: a bare CR or a
 *   bare LF inside a line is stored as CR LF and sets bare (the session
 *   refuses such a message unless "smtp bare-lf normalize").  It does not
 *   start a new line for the protocol (no dot-unstuffing or end detection
 *   after it), so the client's view and ours of where the message ends
 *   cannot differ, and no bare CR or LF ever reaches the next hop (no SMTP
 *   smuggling).
 * - The Received: fields of the client's header are counted in hops
 *   (the session refuses a message over "smtp max-hops").
 * - size counts the bytes stored (header included), also the ones dropped
 *   once the message grew over the limit or a write failed: the rest of
 *   the stream is still read up to its end, but nothing more is written.
 */
#ifndef MXGATE_SMTP_DATA_H
#define MXGATE_SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_hops.h"

#define SMTP_DATA_BUFSZ	(64 * 1024)

enum smtp_data_state {
	SD_BOL,			/* at the start of a line */
	SD_DOT,			/* line began with "." */
	SD_DOT_CR,		/* line began with ".\r" */
	SD_TEXT,		/* inside a line */
	SD_CR,			/* inside a line, "\r" pending */
	SD_DONE			/* end marker seen */
};

enum smtp_data_result {
	SD_OK,
	SD_TOOBIG,		/* over max: nothing written past the limit */
	SD_WRITE_ERROR		/* see err for errno */
};

struct smtp_data {
	enum smtp_data_state	 state;
	int			 fd;
	uint64_t		 max;		/* 0: no limit */
	uint64_t		 size;		/* bytes of the stored message */
	int			 toobig;
	int			 err;		/* errno of the first failed write */
	int			 bare;		/* a bare CR or LF was seen */
	struct smtp_hops	 hops;		/* Received: fields of the client */
	size_t			 buflen;
	char			 buf[SMTP_DATA_BUFSZ];
};

void	smtp_data_init(struct smtp_data *, int fd, uint64_t max);
/* Stores bytes as they are (the Received header); counts them. */
void	smtp_data_put(struct smtp_data *, const char *, size_t);
/* Stores client bytes as they are (BDAT): also counted in hops. */
void	smtp_data_write(struct smtp_data *, const char *, size_t);
/*
 * Feeds client bytes; returns how many were consumed.  Stops right after
 * the end marker (what follows is the next command); smtp_data_done()
 * then says the message is complete.
 */
size_t	smtp_data_feed(struct smtp_data *, const char *, size_t);
int	smtp_data_done(const struct smtp_data *);
/* Writes what is buffered; the outcome of the whole stream. */
enum smtp_data_result	smtp_data_finish(struct smtp_data *);

#endif
