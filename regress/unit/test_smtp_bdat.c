/*
 * smtpd/smtp_bdat.c and smtp_hops.c: the BDAT argument, chunk bytes
 * stored as they are except bare CR / LF (every split, across chunk
 * boundaries), the size limit across chunks, and the count of
 * Received: fields in the header (DATA and BDAT alike).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "../../smtpd/smtp_bdat.h"
#include "../../smtpd/smtp_hops.h"

static struct smtp_data	 d;
static char		 out[256 * 1024];
static size_t		 outlen;

static void
parse(const char *arg, int want, uint64_t wsize, int wlast)
{
	uint64_t	 size = 0;
	int		 last = -1, r;
	char		 name[128];

	r = smtp_bdat_parse(arg, &size, &last);
	snprintf(name, sizeof(name), "BDAT \"%s\"", arg);
	if (want == -1)
		t_check(r == -1, name, "accepted: size %llu last %d",
		    (unsigned long long)size, last);
	else
		t_check(r == 0 && size == wsize && last == wlast, name,
		    "r %d size %llu last %d", r, (unsigned long long)size,
		    last);
}

static void
test_parse(void)
{
	parse("0", 0, 0, 0);
	parse("0 LAST", 0, 0, 1);
	parse("100", 0, 100, 0);
	parse("100 last", 0, 100, 1);
	parse("100\tLaSt", 0, 100, 1);
	parse("007", 0, 7, 0);
	parse("18446744073709551615", 0, UINT64_MAX, 0);
	parse("18446744073709551616", -1, 0, 0);
	parse("123456789012345678901", -1, 0, 0);
	parse("", -1, 0, 0);
	parse("LAST", -1, 0, 0);
	parse("-1", -1, 0, 0);
	parse("+1", -1, 0, 0);
	parse("10LAST", -1, 0, 0);
	parse("10 LASTX", -1, 0, 0);
	parse("10 LAST more", -1, 0, 0);
	parse("1e3", -1, 0, 0);
}

/*
 * Chunks separated by '|' fed with BDAT semantics, each chunk in pieces
 * of step bytes (0: whole); returns the stored bytes in out.
 */
static enum smtp_data_result
run(const char *chunks, size_t step, uint64_t max)
{
	enum smtp_data_result	 r;
	FILE			*fp;
	const char		*p = chunks, *bar;
	size_t			 len, off, n;

	if ((fp = tmpfile()) == NULL) {
		perror("tmpfile");
		exit(2);
	}
	smtp_data_init(&d, fileno(fp), max);
	smtp_bdat_begin(&d);
	for (;;) {
		bar = strchr(p, '|');
		len = bar != NULL ? (size_t)(bar - p) : strlen(p);
		for (off = 0; off < len; off += n) {
			n = step == 0 || len - off < step ? len - off : step;
			smtp_bdat_feed(&d, p + off, n);
		}
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	smtp_bdat_end(&d);
	r = smtp_data_finish(&d);
	rewind(fp);
	outlen = fread(out, 1, sizeof(out), fp);
	fclose(fp);
	return r;
}

static void
check(const char *name, const char *chunks, const char *expect, int bare)
{
	size_t	 elen = strlen(expect), step;
	char	 why[256] = "";

	for (step = 0; step <= strlen(chunks); step++) {
		run(chunks, step, 0);
		if (outlen != elen || memcmp(out, expect, elen) != 0)
			snprintf(why, sizeof(why), "step %zu: stored \"%.*s\"",
			    step, (int)outlen, out);
		else if (d.bare != bare)
			snprintf(why, sizeof(why), "step %zu: bare %d", step,
			    d.bare);
		else if (d.size != elen)
			snprintf(why, sizeof(why), "step %zu: size %llu", step,
			    (unsigned long long)d.size);
		if (why[0] != '\0')
			break;
	}
	t_check(why[0] == '\0', name, "%s", why);
}

static void
test_feed(void)
{
	check("plain", "a\r\nb\r\n", "a\r\nb\r\n", 0);
	check("no unstuffing, no end marker", "a\r\n.\r\n..b\r\n",
	    "a\r\n.\r\n..b\r\n", 0);
	check("CR LF split across chunks", "a\r|\nb\r\n", "a\r\nb\r\n", 0);
	check("empty chunks", "|a\r\n||", "a\r\n", 0);
	check("nothing at all", "", "", 0);
	check("last line completed", "a\r\nb", "a\r\nb\r\n", 0);
	check("bare LF", "a\nb\r\n", "a\r\nb\r\n", 1);
	check("bare CR", "a\rb\r\n", "a\r\nb\r\n", 1);
	check("bare CR at the end of a chunk", "a\r|b\r\n", "a\r\nb\r\n", 1);
	check("bare CR at the very end", "a\r", "a\r\n", 1);
	check("CR CR LF", "a\r\r\n", "a\r\n\r\n", 1);
	check("LF.LF is only content", "x\n.\nMAIL FROM:<a@b>\r\n",
	    "x\r\n.\r\nMAIL FROM:<a@b>\r\n", 1);
}

static void
test_size(void)
{
	enum smtp_data_result	 r;

	r = run("0123456789|0123456789", 0, 20);
	t_check(r == SD_TOOBIG && outlen == 0 && d.size == 22, "limit 20: "
	    "20 bytes and the added CR LF are over it", "r %d outlen %zu "
	    "size %llu", r, outlen, (unsigned long long)d.size);
	r = run("0123456789\r\n|0123456789", 0, 24);
	t_check(r != SD_TOOBIG, "limit 24: 24 bytes fit", "r %d", r);
	r = run("0123456789\r\n|0123456789\r\n|x", 0, 24);
	t_check(r == SD_TOOBIG && d.toobig && outlen == 0,
	    "limit 24: third chunk over it, nothing written",
	    "r %d outlen %zu", r, outlen);
}

static unsigned
hops(const char *msg, size_t step)
{
	struct smtp_hops	 h;
	size_t			 off, n, len = strlen(msg);

	smtp_hops_init(&h);
	for (off = 0; off < len; off += n) {
		n = step == 0 || len - off < step ? len - off : step;
		smtp_hops_feed(&h, msg + off, n);
	}
	return h.count;
}

static void
hops_check(const char *name, const char *msg, unsigned want)
{
	size_t		 step;
	unsigned	 got = 0;

	for (step = 0; step <= strlen(msg); step++)
		if ((got = hops(msg, step)) != want)
			break;
	t_check(got == want, name, "step %zu: %u", step, got);
}

static void
test_hops(void)
{
	hops_check("none", "Subject: x\r\n\r\nbody\r\n", 0);
	hops_check("two", "Received: a\r\nSubject: x\r\nreceived: b\r\n"
	    "\r\nbody\r\n", 2);
	hops_check("case and white space before the colon",
	    "RECEIVED : a\r\nReceived\t: b\r\n\r\n", 2);
	hops_check("continuation lines are not fields",
	    "Received: a\r\n Received: b\r\n\tReceived: c\r\n\r\n", 1);
	hops_check("other names", "Received-SPF: pass\r\nX-Received: a\r\n"
	    "Receive: b\r\nReceived\r\n\r\n", 0);
	hops_check("body not counted", "Subject: x\r\n\r\nReceived: a\r\n"
	    "Received: b\r\n", 0);
	hops_check("no header at all", "\r\nReceived: a\r\n", 0);
	hops_check("header without body", "Received: a\r\nReceived: b\r\n",
	    2);
}

/* Received: fields counted in what is stored, by DATA and BDAT. */
static void
test_hops_bdat(void)
{
	const char	*msg = "Received: a\r\n..Received: x\r\n"
	    ".Received: b\r\n\r\nReceived: c\r\n.\r\n";

	run("Received: a\r\nRec|eived: b\r\n\r\nReceived: c\r\n", 1, 0);
	t_check(d.hops.count == 2, "BDAT: two Received: in the header",
	    "count %u", d.hops.count);
	smtp_data_init(&d, -1, 0);
	smtp_data_feed(&d, msg, strlen(msg));
	t_check(d.hops.count == 2, "DATA: unstuffed lines counted as stored",
	    "count %u", d.hops.count);
	smtp_data_init(&d, -1, 0);
	smtp_data_put(&d, "Received: ours\r\n", 16);
	t_check(d.hops.count == 0, "our own Received: is not counted",
	    "count %u", d.hops.count);
}

int
main(void)
{
	test_parse();
	test_feed();
	test_size();
	test_hops();
	test_hops_bdat();
	return t_exit();
}
