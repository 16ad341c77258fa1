/*
 * BDAT chunks (smtpd/smtp_bdat.c) and the command-line framing
 * (smtp_line.c).  Input: byte 0 picks the piece sizes the chunk bytes
 * are cut into, byte 1 a size limit; then a BDAT argument up to the
 * first LF, then the content.  Checked against smtp_bdat.h: the argument
 * parses only as 1*DIGIT [LAST] and prints back the same; only CR LF
 * lines are stored, ending with CR LF; size counts what was stored; the
 * limit holds; bare is set when (and only when) the content has a bare
 * CR or LF; no more Received: fields are counted than lines stored.
 * The whole input is also checked as one command line.
 */
#include <sys/mman.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../smtpd/smtp_bdat.h"
#include "../../smtpd/smtp_line.h"

static struct smtp_data bd;		/* 64 KiB buffer: not on the stack */

static void
bdat_check_arg(const uint8_t *p, size_t len)
{
	char		*arg = fuzz_strndup(p, len), again[64];
	uint64_t	 size, size2;
	int		 last, last2;

	if (smtp_bdat_parse(arg, &size, &last) == 0) {
		FUZZ_ASSERT(arg[0] >= '0' && arg[0] <= '9');
		snprintf(again, sizeof(again), "%" PRIu64 "%s", size,
		    last ? " LAST" : "");
		FUZZ_ASSERT(smtp_bdat_parse(again, &size2, &last2) == 0);
		FUZZ_ASSERT(size2 == size && last2 == last);
	}
	free(arg);
}

static void
bdat_check_line(const uint8_t *p, size_t len)
{
	size_t			 out;
	enum smtp_line_err	 err;

	err = smtp_line_check((const char *)p, len, len % 2, &out);
	if (err != SMTP_LINE_OK)
		return;
	FUZZ_ASSERT(out <= len && out + 1 >= len);
	FUZZ_ASSERT(memchr(p, '\r', out) == NULL);
	FUZZ_ASSERT(memchr(p, '\0', out) == NULL);
}

static int
bdat_bare_in(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return 1;
		if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))
			return 1;
	}
	return 0;
}

static void
bdat_check_stored(int fd, const struct smtp_data *d)
{
	char	*buf;
	off_t	 len;
	size_t	 i, lines = 0;

	len = lseek(fd, 0, SEEK_END);
	FUZZ_ASSERT(len >= 0);
	FUZZ_ASSERT(d->toobig ? (uint64_t)len <= d->size :
	    (uint64_t)len == d->size);
	if (d->max != 0)
		FUZZ_ASSERT((uint64_t)len <= d->max);
	if (len == 0 || d->toobig)
		return;
	if ((buf = malloc(len)) == NULL)
		abort();
	FUZZ_ASSERT(pread(fd, buf, len, 0) == len);
	for (i = 0; i < (size_t)len; i++) {
		if (buf[i] == '\r')
			FUZZ_ASSERT(i + 1 < (size_t)len && buf[i + 1] == '\n');
		if (buf[i] == '\n') {
			FUZZ_ASSERT(i > 0 && buf[i - 1] == '\r');
			lines++;
		}
	}
	FUZZ_ASSERT(buf[len - 1] == '\n');
	FUZZ_ASSERT(d->hops.count <= lines);
	free(buf);
}

int
fuzz_smtp_bdat(const uint8_t *data, size_t size)
{
	const uint8_t	*lf;
	const char	*p;
	size_t		 left, n, step;
	uint64_t	 max;
	int		 fd;

	bdat_check_line(data, size);
	if (size < 2)
		return 0;
	step = data[0];
	max = data[1] == 0 ? 0 : (uint64_t)data[1] * 16;
	data += 2;
	size -= 2;
	if ((lf = memchr(data, '\n', size)) != NULL) {
		bdat_check_arg(data, lf - data);
		size -= lf + 1 - data;
		data = lf + 1;
	}
	if ((fd = memfd_create("fuzz_smtp_bdat", 0)) == -1)
		abort();
	smtp_data_init(&bd, fd, max);
	smtp_bdat_begin(&bd);
	for (p = (const char *)data, left = size; left > 0; p += n, left -= n) {
		n = step == 0 ? left : 1 + (step + left) % (step + 1);
		if (n > left)
			n = left;
		smtp_bdat_feed(&bd, p, n);
	}
	smtp_bdat_end(&bd);
	FUZZ_ASSERT(bd.bare == bdat_bare_in((const char *)data, size));
	if (smtp_data_finish(&bd) == SD_TOOBIG)
		FUZZ_ASSERT(bd.toobig && max != 0);
	FUZZ_ASSERT(bd.err == 0);
	bdat_check_stored(fd, &bd);
	close(fd);
	return 0;
}
