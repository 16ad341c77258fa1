/*
 * CHUNKING (RFC 3030): the BDAT argument and the bytes of its chunks.
 * Pure functions over a struct smtp_data (smtp_data.h), which does the
 * buffered writes to the spool fd, the size limit and the hop count, so
 * a message sent with BDAT is stored exactly like one sent with DATA.
 *
 * Guarantees:
 * - A chunk is exactly the number of bytes its BDAT command announced:
 *   no dot-unstuffing, no end marker; what follows is the next command.
 * - What is stored consists of CR LF terminated lines only, as for DATA:
 *   a bare CR or bare LF (also a CR ending one chunk and a byte other
 *   than LF starting the next) is stored as CR LF and sets bare; the
 *   session refuses the message unless "smtp bare-lf normalize".  A
 *   message whose last line lacks its CR LF gets one.
 */
#ifndef MXGATE_SMTP_BDAT_H
#define MXGATE_SMTP_BDAT_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_data.h"

/*
 * "chunk-size [LAST]" (RFC 3030 2): 1*DIGIT, LAST case-insensitive.
 * -1 when it does not parse or the size does not fit in 64 bits.
 */
int	smtp_bdat_parse(const char *arg, uint64_t *size, int *last);
/* Before the first chunk (after the Received header). */
void	smtp_bdat_begin(struct smtp_data *);
/* Bytes of a chunk, in any pieces. */
void	smtp_bdat_feed(struct smtp_data *, const char *, size_t);
/* After the LAST chunk: completes a pending CR or a last line. */
void	smtp_bdat_end(struct smtp_data *);

#endif
