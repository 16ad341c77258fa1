/*
 * smtpd/smtp_data.c: end-of-data detection, dot-unstuffing, line-end
 * normalisation, size accounting and write errors, fed whole and in
 * every possible split.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "../../smtpd/smtp_data.h"

static struct smtp_data	 d;
static char		 out[1024 * 1024];
static size_t		 outlen;
static size_t		 consumed;

/* Feeds in pieces of `step' bytes (0: all at once); output read back. */
static enum smtp_data_result
run(const char *in, size_t inlen, size_t step, uint64_t max)
{
	enum smtp_data_result	 r;
	FILE			*fp;
	size_t			 off = 0, n, k;

	if ((fp = tmpfile()) == NULL) {
		perror("tmpfile");
		exit(2);
	}
	smtp_data_init(&d, fileno(fp), max);
	while (off < inlen && !smtp_data_done(&d)) {
		n = step == 0 || inlen - off < step ? inlen - off : step;
		k = smtp_data_feed(&d, in + off, n);
		off += k;
		if (k < n && !smtp_data_done(&d)) {
			fprintf(stderr, "short feed without end\n");
			exit(2);
		}
	}
	consumed = off;
	r = smtp_data_finish(&d);
	rewind(fp);
	outlen = fread(out, 1, sizeof(out), fp);
	fclose(fp);
	return r;
}

/* in -> expected stored bytes and end; whole, bytewise and every split. */
static void
check(const char *name, const char *in, const char *expect, int done,
    size_t tail)
{
	size_t	 inlen = strlen(in), elen = strlen(expect), step;
	int	 ok = 1;
	char	 why[256] = "";

	for (step = 0; step <= inlen && ok; step++) {
		run(in, inlen, step, 0);
		if (outlen != elen || memcmp(out, expect, elen) != 0) {
			snprintf(why, sizeof(why), "step %zu: stored %zu "
			    "bytes \"%.*s\"", step, outlen, (int)outlen, out);
			ok = 0;
		} else if (smtp_data_done(&d) != done) {
			snprintf(why, sizeof(why), "step %zu: done=%d", step,
			    smtp_data_done(&d));
			ok = 0;
		} else if (done && inlen - consumed != tail) {
			snprintf(why, sizeof(why), "step %zu: %zu left, "
			    "want %zu", step, inlen - consumed, tail);
			ok = 0;
		} else if (d.size != elen) {
			snprintf(why, sizeof(why), "step %zu: size %llu",
			    step, (unsigned long long)d.size);
			ok = 0;
		}
	}
	t_check(ok, name, "%s", why);
}

static void
test_limits(void)
{
	enum smtp_data_result	 r;
	const char		*in = "0123456789\r\n0123456789\r\n.\r\n";

	r = run(in, strlen(in), 0, 24);
	t_check(r == SD_OK && outlen == 24, "size exactly at limit",
	    "r=%d outlen=%zu", r, outlen);
	r = run(in, strlen(in), 0, 23);
	t_check(r == SD_TOOBIG && smtp_data_done(&d) && d.size == 24 &&
	    consumed == strlen(in), "over limit: drained, counted",
	    "r=%d done=%d size=%llu", r, smtp_data_done(&d),
	    (unsigned long long)d.size);
	r = run(in, strlen(in), 5, 10);
	t_check(r == SD_TOOBIG && smtp_data_done(&d) && outlen == 0,
	    "over limit: nothing written", "r=%d outlen=%zu", r, outlen);
}

static void
test_header_counted(void)
{
	FILE	*fp = tmpfile();
	char	 buf[64];
	size_t	 n;

	smtp_data_init(&d, fileno(fp), 0);
	smtp_data_put(&d, "Received: x\r\n", 13);
	smtp_data_feed(&d, "body\r\n.\r\n", 9);
	t_check(smtp_data_finish(&d) == SD_OK && d.size == 19,
	    "header stored and counted", "size %llu",
	    (unsigned long long)d.size);
	rewind(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	T_OK(n == 19 && memcmp(buf, "Received: x\r\nbody\r\n", 19) == 0,
	    "header before body");
	fclose(fp);
}

static void
test_big(void)
{
	static char	 in[300 * 1024];
	size_t		 i, len = 0;
	enum smtp_data_result r;

	for (i = 0; len + 80 < sizeof(in) - 8; i++) {
		memcpy(in + len, i % 7 == 0 ? ".." : "xx", 2);
		memset(in + len + 2, 'a' + i % 26, 76);
		memcpy(in + len + 78, "\r\n", 2);
		len += 80;
	}
	memcpy(in + len, ".\r\n", 3);
	len += 3;
	r = run(in, len, 4093, 0);
	t_check(r == SD_OK && outlen == (len - 3) - (i + 6) / 7 &&
	    d.size == outlen, "300 KiB through the buffer",
	    "r=%d outlen=%zu lines=%zu", r, outlen, i);
}

static void
test_write_error(void)
{
	enum smtp_data_result	 r;
	static char		 in[200 * 1024];
	int			 fd;

	memset(in, 'x', sizeof(in));
	memcpy(in + sizeof(in) - 5, "\r\n.\r\n", 5);
	if ((fd = open("/dev/full", O_WRONLY)) == -1) {
		printf("ok - write error ENOSPC # skip: no /dev/full\n");
		return;
	}
	smtp_data_init(&d, fd, 0);
	consumed = smtp_data_feed(&d, in, sizeof(in));
	r = smtp_data_finish(&d);
	t_check(r == SD_WRITE_ERROR && d.err == ENOSPC &&
	    smtp_data_done(&d) && consumed == sizeof(in),
	    "write error ENOSPC: drained", "r=%d err=%d", r, d.err);
	close(fd);

	/* a small message fails only at the final flush */
	fd = open("/dev/full", O_WRONLY);
	smtp_data_init(&d, fd, 0);
	smtp_data_feed(&d, "hi\r\n.\r\n", 7);
	r = smtp_data_finish(&d);
	t_check(r == SD_WRITE_ERROR && d.err == ENOSPC,
	    "write error at final flush", "r=%d err=%d", r, d.err);
	close(fd);

	smtp_data_init(&d, -1, 0);
	smtp_data_feed(&d, "hi\r\n.\r\n", 7);
	r = smtp_data_finish(&d);
	t_check(r == SD_WRITE_ERROR && d.err == EBADF,
	    "write error EBADF", "r=%d err=%d", r, d.err);
}

static void
test_nul(void)
{
	enum smtp_data_result	 r;

	r = run("a\0b\r\n.\r\n", 9, 1, 0);
	T_OK(r == SD_OK && outlen == 5 && memcmp(out, "a\0b\r\n", 5) == 0,
	    "NUL kept");
}

/* bare says whether a bare CR or LF was seen, whole and in every split. */
static void
check_bare(const char *name, const char *in, int want)
{
	size_t	 inlen = strlen(in), step;

	for (step = 0; step <= inlen; step++) {
		run(in, inlen, step, 0);
		if (d.bare != want || !smtp_data_done(&d)) {
			t_check(0, name, "step %zu: bare=%d done=%d", step,
			    d.bare, smtp_data_done(&d));
			return;
		}
	}
	t_check(1, name, "%s", "");
}

int
main(void)
{
	check("empty message", ".\r\n", "", 1, 0);
	check("one line", "hello\r\n.\r\n", "hello\r\n", 1, 0);
	check("trailing bytes are the next command",
	    "a\r\n.\r\nQUIT\r\n", "a\r\n", 1, 6);
	check("dot-unstuffing", "..\r\n..x\r\n.y\r\n...\r\n.\r\n",
	    ".\r\n.x\r\ny\r\n..\r\n", 1, 0);
	check("dot inside a line kept", "a.b\r\n a\r\n.\r\n",
	    "a.b\r\n a\r\n", 1, 0);
	check("no end yet", "a\r\nb\r\n", "a\r\nb\r\n", 0, 0);
	check("dot line without LF yet", "a\r\n.\r", "a\r\n", 0, 0);
	check("LF.LF does not end", "a\n.\nb\r\n.\r\n",
	    "a\r\n.\r\nb\r\n", 1, 0);
	check("CR LF.LF does not end", "a\r\n.\nb\r\n.\r\n",
	    "a\r\n\r\nb\r\n", 1, 0);
	check("LF.CR LF does not end", "a\n.\r\nb\r\n.\r\n",
	    "a\r\n.\r\nb\r\n", 1, 0);
	check("CR.CR does not end", "a\r.\rb\r\n.\r\n",
	    "a\r\n.\r\nb\r\n", 1, 0);
	check("CR LF.CR CR LF does not end", "a\r\n.\r\r\nb\r\n.\r\n",
	    "a\r\n\r\n\r\nb\r\n", 1, 0);
	check("CR LF.CR x: dot dropped, bare CR", "a\r\n.\rx\r\n.\r\n",
	    "a\r\n\r\nx\r\n", 1, 0);
	check("bare LF normalised", "a\nb\r\n.\r\n", "a\r\nb\r\n", 1, 0);
	check("bare CR normalised", "a\rb\r\n.\r\n", "a\r\nb\r\n", 1, 0);
	check("CR CR LF", "a\r\r\n.\r\n", "a\r\n\r\n", 1, 0);
	check("no dot-unstuffing after bare LF", "a\n..b\r\n.\r\n",
	    "a\r\n..b\r\n", 1, 0);
	check("empty lines", "\r\n\r\n.\r\n", "\r\n\r\n", 1, 0);
	check("8bit kept", "caf\xc3\xa9\r\n.\r\n", "caf\xc3\xa9\r\n", 1, 0);
	check_bare("bare: none in CR LF lines", "a\r\n..b\r\n\r\n.\r\n", 0);
	check_bare("bare: LF", "a\nb\r\n.\r\n", 1);
	check_bare("bare: CR", "a\rb\r\n.\r\n", 1);
	check_bare("bare: CR CR LF", "a\r\r\n.\r\n", 1);
	check_bare("bare: LF.LF", "a\n.\nb\r\n.\r\n", 1);
	check_bare("bare: CR LF.CR x", "a\r\n.\rx\r\n.\r\n", 1);
	check_bare("bare: CR LF.LF", "a\r\n.\nb\r\n.\r\n", 1);
	check_bare("bare: LF at the start", "\n.\r\n.\r\n", 1);
	check_bare("bare: not after the end", "a\r\n.\r\n\n\r", 0);
	test_nul();
	test_limits();
	test_header_counted();
	test_big();
	test_write_error();
	return t_exit();
}
