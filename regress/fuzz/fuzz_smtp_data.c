/*
 * The DATA state machine.  Input: byte 0 picks the chunk sizes the
 * stream is cut into (the end marker split across reads), byte 1 a size
 * limit; the rest is what the client sends after 354.  The message is
 * written to a memfd and checked against smtp_data.h's guarantees: only
 * CR LF lines are stored (no bare CR or LF), nothing is consumed after
 * the end marker, size counts what was stored, the limit holds, and
 * bare is set when (and only when) the client sent a bare LF or CR.
 */
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../smtpd/smtp_data.h"

static struct smtp_data sd;		/* 64 KiB buffer: not on the stack */

static void
check_stored(int fd, const struct smtp_data *d, size_t hdrlen)
{
	char *buf;
	off_t len;
	ssize_t n;
	size_t i;

	len = lseek(fd, 0, SEEK_END);
	FUZZ_ASSERT(len >= 0);
	if (!d->toobig)
		FUZZ_ASSERT((uint64_t)len == d->size);
	else
		FUZZ_ASSERT((uint64_t)len <= d->size);
	if (d->max != 0)
		FUZZ_ASSERT((uint64_t)len <= d->max);
	if (len == 0)
		return;
	if ((buf = malloc(len)) == NULL)
		abort();
	n = pread(fd, buf, len, 0);
	FUZZ_ASSERT(n == len);
	/* the Received header part is stored as given */
	for (i = hdrlen; i < (size_t)len; i++) {
		if (buf[i] == '\r' && i + 1 < (size_t)len)
			FUZZ_ASSERT(buf[i + 1] == '\n');
		if (buf[i] == '\n')
			FUZZ_ASSERT(i > 0 && buf[i - 1] == '\r');
	}
	/* a complete message ends with a line end */
	if (smtp_data_done(d) && !d->toobig && (size_t)len > hdrlen)
		FUZZ_ASSERT(len >= 2 && buf[len - 2] == '\r' &&
		    buf[len - 1] == '\n');
	free(buf);
}

/* The consumed client bytes: 1 bare LF, 2 bare CR (not last), 0 clean. */
static int
bare_in(const char *s, size_t len)
{
	size_t i;
	int bare = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			bare |= 1;
		if (s[i] == '\r' && i + 1 < len && s[i + 1] != '\n')
			bare |= 2;
	}
	return bare;
}

int
fuzz_smtp_data(const uint8_t *data, size_t size)
{
	static const char hdr[] = "Received: from fuzz\r\n";
	const char *p;
	size_t chunk, left, n, step;
	uint64_t max;
	int fd;

	if (size < 2)
		return 0;
	step = data[0];
	max = data[1] == 0 ? 0 : (uint64_t)data[1] * 16;
	p = (const char *)data + 2;
	left = size - 2;

	if ((fd = memfd_create("fuzz_smtp_data", 0)) == -1)
		abort();
	smtp_data_init(&sd, fd, max);
	smtp_data_put(&sd, hdr, sizeof(hdr) - 1);
	while (left > 0 && !smtp_data_done(&sd)) {
		chunk = step == 0 ? left : 1 + (step + left) % (step + 1);
		if (chunk > left)
			chunk = left;
		n = smtp_data_feed(&sd, p, chunk);
		FUZZ_ASSERT(n <= chunk);
		/* without the end marker everything is consumed */
		if (!smtp_data_done(&sd))
			FUZZ_ASSERT(n == chunk);
		else
			FUZZ_ASSERT(n >= 1 && p[n - 1] == '\n');
		p += n;
		left -= n;
	}
	switch (bare_in((const char *)data + 2, size - 2 - left)) {
	case 0:
		FUZZ_ASSERT(!sd.bare);
		break;
	default:
		FUZZ_ASSERT(sd.bare);
		break;
	}
	if (smtp_data_finish(&sd) == SD_TOOBIG)
		FUZZ_ASSERT(sd.toobig && max != 0);
	FUZZ_ASSERT(sd.err == 0);
	check_stored(fd, &sd, max != 0 && max < sizeof(hdr) - 1 ? 0 :
	    sizeof(hdr) - 1);
	close(fd);
	return 0;
}
