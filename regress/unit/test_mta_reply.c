/*
 * mtad/mta_reply.c: the strict SMTP reply parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../mtad/mta_reply.h"
#include "test.h"

/* Parse a whole buffer in one call. */
static int
parse(struct mta_reply *r, const char *buf, size_t *used)
{
	size_t dummy;

	mta_reply_init(r);
	return mta_reply_parse(r, buf, strlen(buf), used ? used : &dummy);
}

static void
test_single(void)
{
	struct mta_reply r;
	size_t used;
	int rv;

	rv = parse(&r, "250 2.0.0 Ok: queued as X\r\n", &used);
	t_check(rv == MTA_REPLY_DONE && r.code == 250 && r.nlines == 1 &&
	    strcmp(r.text, "250 2.0.0 Ok: queued as X") == 0 && used == 27,
	    "single line", "rv %d code %d text '%s' used %zu", rv, r.code,
	    r.text, used);

	rv = parse(&r, "220\r\n", NULL);
	t_check(rv == MTA_REPLY_DONE && r.code == 220 &&
	    strcmp(r.text, "220") == 0, "code without text",
	    "rv %d code %d text '%s'", rv, r.code, r.text);

	rv = parse(&r, "354 go ahead\n", NULL);
	t_check(rv == MTA_REPLY_DONE && r.code == 354,
	    "bare LF line end accepted", "rv %d", rv);

	rv = parse(&r, "250 2.1.5 Ok\r\n", NULL);
	t_check(rv == MTA_REPLY_DONE && strstr(r.text, "2.1.5 Ok") != NULL,
	    "enhanced status kept in text", "text '%s'", r.text);

	rv = parse(&r, "250 with\ttab\r\n", NULL);
	t_check(rv == MTA_REPLY_DONE && strcmp(r.text, "250 with tab") == 0,
	    "tab kept as space", "rv %d text '%s'", rv, r.text);

	rv = parse(&r, "250 caf\xc3\xa9\r\n", NULL);
	t_check(rv == MTA_REPLY_DONE && strcmp(r.text, "250 caf??") == 0,
	    "8-bit bytes kept as '?'", "rv %d text '%s'", rv, r.text);
}

static void
test_multi(void)
{
	struct mta_reply r;
	const char *ehlo = "250-mx.example.com\r\n250-PIPELINING\r\n"
	    "250-\r\n250 8BITMIME\r\n";
	size_t used, i, total;
	int rv;

	rv = parse(&r, ehlo, &used);
	t_check(rv == MTA_REPLY_DONE && r.code == 250 && r.nlines == 4 &&
	    used == strlen(ehlo) && strcmp(r.text, "250-mx.example.com "
	    "250-PIPELINING 250- 250 8BITMIME") == 0, "multi-line",
	    "rv %d lines %zu text '%s'", rv, r.nlines, r.text);

	/* fed one byte at a time, as a slow server would */
	mta_reply_init(&r);
	total = 0;
	rv = MTA_REPLY_MORE;
	for (i = 1; i <= strlen(ehlo) && rv == MTA_REPLY_MORE; i++) {
		rv = mta_reply_parse(&r, ehlo + total, i - total, &used);
		total += used;
	}
	t_check(rv == MTA_REPLY_DONE && total == strlen(ehlo) &&
	    r.nlines == 4, "multi-line fed byte by byte",
	    "rv %d total %zu lines %zu", rv, total, r.nlines);

	rv = parse(&r, "250-first\r\n250-second\r\n", &used);
	t_check(rv == MTA_REPLY_MORE && used == 23 && r.nlines == 2,
	    "continuation without last line waits",
	    "rv %d used %zu", rv, used);

	rv = parse(&r, "250 one\r\n250 two\r\n", &used);
	t_check(rv == MTA_REPLY_DONE && used == 9,
	    "stops after the last line", "rv %d used %zu", rv, used);

	rv = parse(&r, "250-a\r\n251 b\r\n", NULL);
	t_check(rv == MTA_REPLY_ERROR && r.error != NULL,
	    "mismatched codes across lines", "rv %d", rv);

	rv = parse(&r, "450-a\r\n550 b\r\n", NULL);
	t_check(rv == MTA_REPLY_ERROR, "mismatched class across lines",
	    "rv %d", rv);
}

static void
test_malformed(void)
{
	struct mta_reply r;
	char *big;
	size_t used;
	int rv;

	T_OK(parse(&r, "250Ok\r\n", NULL) == MTA_REPLY_ERROR,
	    "missing space/dash after code");
	T_OK(parse(&r, "250_Ok\r\n", NULL) == MTA_REPLY_ERROR,
	    "underscore after code");
	T_OK(parse(&r, "2x0 Ok\r\n", NULL) == MTA_REPLY_ERROR,
	    "non-digit code");
	T_OK(parse(&r, "25\r\n", NULL) == MTA_REPLY_ERROR,
	    "two-digit code");
	T_OK(parse(&r, "\r\n", NULL) == MTA_REPLY_ERROR, "empty line");
	T_OK(parse(&r, " 250 Ok\r\n", NULL) == MTA_REPLY_ERROR,
	    "leading space");
	T_OK(parse(&r, "199 x\r\n", NULL) == MTA_REPLY_ERROR,
	    "code below 200");
	T_OK(parse(&r, "600 x\r\n", NULL) == MTA_REPLY_ERROR,
	    "code 600");
	T_OK(parse(&r, "260 x\r\n", NULL) == MTA_REPLY_ERROR,
	    "second digit above 5");
	T_OK(parse(&r, "200 x\r\n", NULL) == MTA_REPLY_DONE,
	    "lowest code 200");
	T_OK(parse(&r, "559 x\r\n", NULL) == MTA_REPLY_DONE,
	    "highest code 559");
	T_OK(parse(&r, "250 a\rb\r\n", NULL) == MTA_REPLY_ERROR,
	    "bare CR inside a line");
	T_OK(parse(&r, "250 a\033b\r\n", NULL) == MTA_REPLY_ERROR,
	    "control character");
	mta_reply_init(&r);
	rv = mta_reply_parse(&r, "250 a\0b\r\n", 9, &used);
	T_OK(rv == MTA_REPLY_ERROR, "NUL inside a line");

	if ((big = malloc(MTA_REPLY_LINE_MAX + 10)) == NULL)
		abort();
	/* longest allowed: LINE_MAX with CRLF */
	memset(big, 'x', MTA_REPLY_LINE_MAX + 10);
	memcpy(big, "250 ", 4);
	memcpy(big + MTA_REPLY_LINE_MAX - 2, "\r\n", 3);
	rv = parse(&r, big, NULL);
	t_check(rv == MTA_REPLY_DONE, "line of exactly the maximum length",
	    "rv %d (%s)", rv, r.error ? r.error : "");
	memset(big, 'x', MTA_REPLY_LINE_MAX + 10);
	memcpy(big, "250 ", 4);
	memcpy(big + MTA_REPLY_LINE_MAX - 1, "\r\n", 3);
	T_OK(parse(&r, big, NULL) == MTA_REPLY_ERROR, "line too long");
	/* no line end yet, but already too long: fail without waiting */
	memset(big, 'x', MTA_REPLY_LINE_MAX + 10);
	memcpy(big, "250 ", 4);
	big[MTA_REPLY_LINE_MAX] = '\0';
	T_OK(parse(&r, big, NULL) == MTA_REPLY_ERROR,
	    "unterminated line too long");
	big[MTA_REPLY_LINE_MAX - 1] = '\0';
	T_OK(parse(&r, big, NULL) == MTA_REPLY_MORE,
	    "unterminated line within limit waits");
	free(big);
}

static void
test_limits(void)
{
	struct mta_reply r;
	char line[MTA_REPLY_LINE_MAX];
	size_t i;
	int rv = MTA_REPLY_MORE;

	mta_reply_init(&r);
	for (i = 0; i < MTA_REPLY_LINES_MAX && rv == MTA_REPLY_MORE; i++)
		rv = mta_reply_line(&r, "250-more", 8);
	t_check(rv == MTA_REPLY_MORE && r.nlines == MTA_REPLY_LINES_MAX,
	    "maximum number of lines", "rv %d lines %zu", rv, r.nlines);
	rv = mta_reply_line(&r, "250 last", 8);
	T_OK(rv == MTA_REPLY_ERROR, "too many lines");

	/* many long lines: text is cut, never overrun */
	memset(line, 'y', sizeof(line));
	memcpy(line, "250-", 4);
	mta_reply_init(&r);
	for (i = 0; i < 10; i++)
		rv = mta_reply_line(&r, line, MTA_REPLY_LINE_MAX - 2);
	line[3] = ' ';
	rv = mta_reply_line(&r, line, MTA_REPLY_LINE_MAX - 2);
	t_check(rv == MTA_REPLY_DONE && r.textlen == MTA_REPLY_TEXT_MAX - 1 &&
	    strlen(r.text) == r.textlen, "long text cut to the maximum",
	    "rv %d textlen %zu", rv, r.textlen);

	rv = mta_reply_line(&r, "250 again", 9);
	T_OK(rv == MTA_REPLY_ERROR, "no line after a complete reply");
}

int
main(void)
{
	test_single();
	test_multi();
	test_malformed();
	test_limits();
	return t_exit();
}
