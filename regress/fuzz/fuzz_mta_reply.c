/*
 * mtad's reply parser, fed as a socket would: the bytes arrive in chunks
 * (byte 0 picks their sizes) appended to a buffer that keeps the
 * unconsumed rest, like mta_session.c does; each DONE restarts the parser
 * on what follows (pipelined replies).  Checks: used never exceeds the
 * data and covers complete lines only, code in 200..559 on DONE, the text
 * bounded and NUL-terminated, error set on ERROR.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../mtad/mta_reply.h"

static void
check_done(const struct mta_reply *r)
{
	FUZZ_ASSERT(r->code >= 200 && r->code <= 559);
	FUZZ_ASSERT(r->nlines >= 1 && r->nlines <= MTA_REPLY_LINES_MAX);
	FUZZ_ASSERT(r->textlen < sizeof(r->text));
	FUZZ_ASSERT(strlen(r->text) == r->textlen);
}

int
fuzz_mta_reply(const uint8_t *data, size_t size)
{
	struct mta_reply r;
	char *buf;
	size_t have = 0, off = 1, chunk, used, step;
	int rv;

	if (size < 1)
		return 0;
	step = data[0];
	if ((buf = malloc(size)) == NULL)
		abort();
	mta_reply_init(&r);
	while (off < size || have > 0) {
		if (off < size) {
			chunk = step == 0 ? size - off : 1 + off % step;
			if (chunk > size - off)
				chunk = size - off;
			memcpy(buf + have, data + off, chunk);
			have += chunk;
			off += chunk;
		}
		used = (size_t)-1;
		rv = mta_reply_parse(&r, buf, have, &used);
		if (rv == MTA_REPLY_ERROR) {
			FUZZ_ASSERT(r.error != NULL);
			break;
		}
		FUZZ_ASSERT(used <= have);
		FUZZ_ASSERT(used == 0 || buf[used - 1] == '\n');
		memmove(buf, buf + used, have - used);
		have -= used;
		if (rv == MTA_REPLY_DONE) {
			check_done(&r);
			mta_reply_init(&r);
		} else {
			FUZZ_ASSERT(rv == MTA_REPLY_MORE);
			/* a line longer than the limit must not wait forever */
			FUZZ_ASSERT(have <= MTA_REPLY_LINE_MAX);
			if (off >= size)
				break;
		}
	}
	/* the per-line entry point, on the whole input */
	mta_reply_init(&r);
	rv = mta_reply_line(&r, (const char *)data, size);
	if (rv == MTA_REPLY_DONE)
		check_done(&r);
	free(buf);
	return 0;
}
