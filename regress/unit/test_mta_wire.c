/*
 * mtad/mta_body.c (dot-stuffing, line ends, however the body is cut into
 * chunks) and mtad/mta_ehlo.c (the keywords of an EHLO reply).
 */
#include <stdio.h>
#include <string.h>

#include "../../mtad/mta_body.h"
#include "../../mtad/mta_ehlo.h"
#include "test.h"

/* The whole body encoded in chunks of `chunk' bytes. */
static const char *
encode(const char *in, size_t chunk)
{
	static char	 out[4096];
	struct mta_body	 b;
	size_t		 len = strlen(in), o = 0, i, n;

	mta_body_init(&b);
	for (i = 0; i < len; i += n) {
		n = len - i < chunk ? len - i : chunk;
		o += mta_body_encode(&b, in + i, n, out + o);
	}
	o += mta_body_end(&b, out + o);
	out[o] = '\0';
	return out;
}

static void
body(const char *in, const char *want, const char *name)
{
	size_t	 chunk;
	char	 tname[128];

	for (chunk = 1; chunk <= 4; chunk++) {
		snprintf(tname, sizeof(tname), "%s (chunks of %zu)", name,
		    chunk);
		t_check(strcmp(encode(in, chunk), want) == 0, tname,
		    "got \"%s\"", encode(in, chunk));
	}
}

static void
ehlo(const char *text, unsigned ext, unsigned long long size,
    const char *name)
{
	struct mta_ehlo e;

	mta_ehlo_parse(&e, text);
	t_check(e.ext == ext && e.maxsize == size, name,
	    "ext %#x size %llu", e.ext, e.maxsize);
}

int
main(void)
{
	body("a\r\nb\r\n", "a\r\nb\r\n.\r\n", "CRLF kept");
	body("a\nb", "a\r\nb\r\n.\r\n", "bare LF, missing last line end");
	body("a\rb\r", "a\r\nb\r\n.\r\n", "bare CR");
	body(".x\r\n..y\r\nz.\r\n.\r\n", "..x\r\n...y\r\nz.\r\n..\r\n.\r\n",
	    "dots stuffed at line starts only");
	body("a\n.\r\n", "a\r\n..\r\n.\r\n", "\\n.\\r\\n cannot end the data");
	body("", ".\r\n", "empty body");

	ehlo("250-mx.example.com 250-PIPELINING 250-SIZE 10240000 "
	    "250-STARTTLS 250-8BITMIME 250 SMTPUTF8",
	    MTA_EXT_PIPELINING | MTA_EXT_SIZE | MTA_EXT_STARTTLS |
	    MTA_EXT_8BITMIME | MTA_EXT_SMTPUTF8, 10240000, "all keywords");
	ehlo("250 mx.example.com", 0, 0, "one line: nothing offered");
	ehlo("250-PIPELINING.example 250 size", MTA_EXT_SIZE, 0,
	    "the first line is the name; SIZE without a number, any case");
	ehlo("250-mx 250-PIPELININGX 250 XSTARTTLS", 0, 0,
	    "keywords matched whole");
	ehlo("250-mx 250 SIZE 99999999999999999999999", MTA_EXT_SIZE, 0,
	    "SIZE overflow: no limit");
	ehlo("250-mx 250 SIZE 12x", MTA_EXT_SIZE, 0, "SIZE with junk");
	return t_exit();
}
