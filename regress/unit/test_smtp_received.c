/*
 * smtpd/smtp_received.c: the Received: header's exact text for one and
 * several recipients, IPv4 and IPv6, and HELO names that are not domains.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"
#include "../../smtpd/smtp_received.h"

#define WHEN	1764547200	/* Mon, 01 Dec 2025 00:00:00 +0000 */
#define DATE	"Mon, 01 Dec 2025 00:00:00 +0000"

static void
fmt(const char *name, const char *helo, const char *ip, const char *rcpt,
    const char *want)
{
	struct smtp_received	 r;
	char			 buf[2048];
	int			 n;

	r.helo = helo;
	r.ip = ip;
	r.hostname = "mx.example.com";
	r.proto = "ESMTP";
	r.tls = NULL;
	r.id = "4F2A9C1B0E11";
	r.rcpt = rcpt;
	r.when = WHEN;
	n = smtp_received_format(buf, sizeof(buf), &r);
	t_check(n == (int)strlen(want) && strcmp(buf, want) == 0, name,
	    "got (%d) \"%s\"", n, n > 0 ? buf : "");
}

static void
helo(const char *h, int want)
{
	char	 name[300];

	snprintf(name, sizeof(name), "HELO \"%s\" %s", h, want ? "valid" :
	    "invalid");
	t_check(smtp_received_helo_ok(h) == want, name, "got %d", !want);
}

int
main(void)
{
	struct smtp_received	 r = { "a.b", "192.0.2.1", "mx", "SMTP", NULL,
	    "ID", NULL, WHEN };
	char			 tlsbuf[512];
	int			 n;
	char			 small[40];

	setenv("TZ", "UTC", 1);
	tzset();
	r.proto = "ESMTPS";
	r.tls = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits)";
	n = smtp_received_format(tlsbuf, sizeof(tlsbuf), &r);
	t_check(n > 0 && strcmp(tlsbuf, "Received: from a.b ([192.0.2.1])\r\n"
	    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits))"
	    "\r\n\tby mx (mxgate) with ESMTPS id ID;\r\n\t" DATE "\r\n") == 0,
	    "under TLS: a (using ...) line and ESMTPS", "got \"%s\"", tlsbuf);
	r.proto = "SMTP";
	r.tls = NULL;
	fmt("one recipient", "client.example.org", "192.0.2.1",
	    "user@example1.com",
	    "Received: from client.example.org ([192.0.2.1])\r\n"
	    "\tby mx.example.com (mxgate) with ESMTP id 4F2A9C1B0E11\r\n"
	    "\tfor <user@example1.com>; " DATE "\r\n");
	fmt("several recipients", "client.example.org", "192.0.2.1", NULL,
	    "Received: from client.example.org ([192.0.2.1])\r\n"
	    "\tby mx.example.com (mxgate) with ESMTP id 4F2A9C1B0E11;\r\n"
	    "\t" DATE "\r\n");
	fmt("IPv6 literal", "[IPv6:2001:db8::1]", "2001:db8::1", NULL,
	    "Received: from [IPv6:2001:db8::1] ([IPv6:2001:db8::1])\r\n"
	    "\tby mx.example.com (mxgate) with ESMTP id 4F2A9C1B0E11;\r\n"
	    "\t" DATE "\r\n");
	fmt("HELO not a domain: address in from, HELO in a comment",
	    "evil(x)\\\";by", "192.0.2.1", NULL,
	    "Received: from [192.0.2.1] ([192.0.2.1]) (HELO evil?x???;by)\r\n"
	    "\tby mx.example.com (mxgate) with ESMTP id 4F2A9C1B0E11;\r\n"
	    "\t" DATE "\r\n");
	T_OK(smtp_received_format(small, sizeof(small), &r) == -1,
	    "too small a buffer");
	helo("mx.example.com", 1);
	helo("mx.example.com.", 1);
	helo("my_host-1", 1);
	helo("[192.0.2.1]", 1);
	helo("[IPv6:2001:db8::1]", 1);
	helo("", 0);
	helo(".example.com", 0);
	helo("a..b", 0);
	helo("a;b", 0);
	helo("a(b)", 0);
	helo("[1.2.3.4", 0);
	helo("[1]2]", 0);
	helo("[]", 0);
	helo("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "x.com", 0);
	return t_exit();
}
