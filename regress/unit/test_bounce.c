/*
 * queued/bounce.c: the DSN text for given input (pure function): the
 * MIME structure, the per-message and per-recipient fields of RFC 3464,
 * RET=FULL vs HDRS, the Status derived from a reply, and that nothing a
 * remote server or a client sent can add a header line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../queued/bounce.h"
#include "test.h"

static const char original[] =
    "Received: from client.test\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "body line one\r\n"
    ".dot line\r\n"
    "last line without CRLF";

/* The DSN for b as a NUL-terminated malloc'd string. */
static char *
render(const struct bounce *b)
{
	FILE	*in, *out;
	char	*buf = NULL;
	size_t	 len = 0;
	int	 rv;

	if ((in = fmemopen((void *)original, strlen(original), "r")) == NULL ||
	    (out = open_memstream(&buf, &len)) == NULL)
		exit(2);
	rv = bounce_write(out, b, in);
	fclose(in);
	fclose(out);
	if (rv == -1) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void
base(struct bounce *b, const struct bounce_rcpt *r, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->kind = BOUNCE_FAILURE;
	b->hostname = "mx.example.com";
	b->msgid = "AAAAAAAAAAAA";
	b->id = "BBBBBBBBBBBB";
	b->to = "sender@example.org";
	b->envid = "QQ314159";
	b->ret = DSN_RET_FULL;
	b->arrival = 1700000000;	/* Tue, 14 Nov 2023 22:13:20 +0000 */
	b->now = 1700000060;
	b->retry_until = 1700432000;
	b->nrcpt = n;
	b->rcpt = r;
}

/* Every '\n' preceded by '\r', and no lone '\r'. */
static int
crlf_only(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\n' && (s[-1] != '\r'))
			return 0;
		if (*s == '\r' && s[1] != '\n')
			return 0;
	}
	return 1;
}

static void
test_failure_full(void)
{
	static const struct bounce_rcpt r[] = {
		{ "u1@example.com", "rfc822;orig@example.com",
		    "550 5.1.1 <u1@example.com>: User unknown", 0 },
		{ "u2@example.com", "", "554 Transaction failed", 0 },
	};
	static const char closing[] =
	    "\r\n--=_mxgate_BBBBBBBBBBBB_AAAAAAAAAAAA--\r\n";
	struct bounce	 b;
	char		*s;

	base(&b, r, 2);
	s = render(&b);
	T_OK(s != NULL, "failure DSN written");
	if (s == NULL)
		return;
	T_OK(crlf_only(s), "CR LF line ends only");
	T_OK(strstr(s, "\r\nTo: <sender@example.org>\r\n") != NULL, "To:");
	T_OK(strncmp(s, "From: MAILER-DAEMON@mx.example.com", 34) == 0,
	    "From: MAILER-DAEMON");
	T_OK(strstr(s, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"=_mxgate_BBBBBBBBBBBB_"
	    "AAAAAAAAAAAA\"\r\n") != NULL, "multipart/report with boundary");
	T_OK(strstr(s, "Subject: Undelivered Mail Returned to Sender\r\n") !=
	    NULL, "failure subject");
	T_OK(strstr(s, "\r\nAuto-Submitted: auto-replied\r\n") != NULL,
	    "Auto-Submitted");
	T_OK(strstr(s, "Content-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; mx.example.com\r\n") != NULL,
	    "Reporting-MTA first in the report");
	T_OK(strstr(s, "Original-Envelope-Id: QQ314159\r\n") != NULL,
	    "Original-Envelope-Id");
	T_OK(strstr(s, "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n") !=
	    NULL, "Arrival-Date in RFC 5322 form");
	T_OK(strstr(s, "\r\n\r\nFinal-Recipient: rfc822; u1@example.com\r\n"
	    "Original-Recipient: rfc822;orig@example.com\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <u1@example.com>: User unknown"
	    "\r\n") != NULL, "first recipient block");
	T_OK(strstr(s, "\r\n\r\nFinal-Recipient: rfc822; u2@example.com\r\n"
	    "Action: failed\r\nStatus: 5.0.0\r\n"
	    "Diagnostic-Code: smtp; 554 Transaction failed\r\n") != NULL,
	    "second block: no ORCPT, Status from the reply code");
	T_OK(strstr(s, "Will-Retry-Until") == NULL,
	    "no Will-Retry-Until in a failure");
	T_OK(strstr(s, "Content-Type: message/rfc822\r\n\r\nReceived: from "
	    "client.test\r\nSubject: hello\r\n\r\nbody line one\r\n.dot line\r\n"
	    "last line without CRLF\r\n") != NULL,
	    "RET=FULL: the whole original, last line ended");
	T_OK(strlen(s) > strlen(closing) &&
	    strcmp(s + strlen(s) - strlen(closing), closing) == 0,
	    "closing boundary last");
	free(s);
}

static void
test_hdrs_and_kinds(void)
{
	static const struct bounce_rcpt r[] = {
		{ "u1@example.com", "", "451 4.2.0 mailbox busy", 0 },
	};
	static const struct bounce_rcpt exp[] = {
		{ "u1@example.com", "", "451 4.2.0 mailbox busy", 1 },
	};
	struct bounce	 b;
	char		*s;

	base(&b, r, 1);
	b.ret = DSN_RET_HDRS;
	b.envid = "";
	b.kind = BOUNCE_DELAY;
	if ((s = render(&b)) == NULL)
		exit(2);
	T_OK(strstr(s, "Content-Type: text/rfc822-headers\r\n\r\nReceived: "
	    "from client.test\r\nSubject: hello\r\n\r\n--=_mxgate") != NULL,
	    "RET=HDRS: the header only");
	T_OK(strstr(s, "body line one") == NULL, "RET=HDRS: no body");
	T_OK(strstr(s, "Original-Envelope-Id") == NULL, "no ENVID, no field");
	T_OK(strstr(s, "Action: delayed\r\nStatus: 4.2.0\r\n") != NULL,
	    "delay: Action delayed, Status from the reply");
	T_OK(strstr(s, "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000") !=
	    NULL, "delay: Will-Retry-Until");
	T_OK(strstr(s, "Subject: Delayed Mail") != NULL, "delay subject");
	free(s);

	b.kind = BOUNCE_FAILURE;
	b.rcpt = exp;
	if ((s = render(&b)) == NULL)
		exit(2);
	T_OK(strstr(s, "Action: failed\r\nStatus: 4.4.7\r\n") != NULL,
	    "expired: Status 4.4.7");
	free(s);

	b.kind = BOUNCE_SUCCESS;
	b.rcpt = r;
	if ((s = render(&b)) == NULL)
		exit(2);
	T_OK(strstr(s, "Action: relayed\r\nStatus: 2.0.0\r\n") != NULL,
	    "success: Action relayed, Status 2.0.0");
	free(s);
}

static void
test_status(void)
{
	static const struct {
		const char	*reply;
		enum bounce_kind kind;
		const char	*want;
	} cases[] = {
		{ "550 5.7.1 denied", BOUNCE_FAILURE, "5.7.1" },
		{ "550-5.7.1 denied", BOUNCE_FAILURE, "5.7.1" },
		{ "550 4.7.1 wrong class", BOUNCE_FAILURE, "5.0.0" },
		{ "552 5.3.4", BOUNCE_FAILURE, "5.3.4" },
		{ "550 5.1234.1 too long", BOUNCE_FAILURE, "5.0.0" },
		{ "421 4.4.2 timeout", BOUNCE_DELAY, "4.4.2" },
		{ "connect to [127.0.0.1]:1: Connection refused", BOUNCE_DELAY,
		    "4.0.0" },
		{ "no MX for example.com", BOUNCE_FAILURE, "5.0.0" },
		{ "", BOUNCE_FAILURE, "5.0.0" },
	};
	struct bounce_rcpt	 r = { "u@x", "", "", 0 };
	char			 buf[BOUNCE_STATUS_MAX], name[128];
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.reply = cases[i].reply;
		bounce_status(cases[i].kind, &r, buf, sizeof(buf));
		snprintf(name, sizeof(name), "status of \"%s\"",
		    cases[i].reply);
		t_check(strcmp(buf, cases[i].want) == 0, name, "got %s want %s",
		    buf, cases[i].want);
	}
}

static void
test_injection(void)
{
	static const struct bounce_rcpt r[] = {
		{ "u1@example.com\r\nX-Evil: 1", "rfc822;a\nX-Evil: 2",
		    "550 5.1.1 nope\r\nX-Evil: 3", 0 },
	};
	struct bounce	 b;
	char		*s;

	base(&b, r, 1);
	b.envid = "id\r\nX-Evil: 4";
	b.to = "s@x\r\nBcc: victim@example.com";
	if ((s = render(&b)) == NULL)
		exit(2);
	T_OK(strstr(s, "\nX-Evil") == NULL && strstr(s, "\nBcc") == NULL,
	    "no value can start a header line");
	T_OK(crlf_only(s), "CR LF line ends only, with hostile values");
	free(s);
}

static void
test_long_reply(void)
{
	struct bounce_rcpt	 r = { "u@x", "", NULL, 0 };
	struct bounce		 b;
	char			*reply, *s, *p, *nl;
	size_t			 longest = 0;

	if ((reply = malloc(5000)) == NULL)
		exit(2);
	memset(reply, 'x', 4999);
	memcpy(reply, "550 5.0.0 ", 10);
	reply[4999] = '\0';
	r.reply = reply;
	base(&b, &r, 1);
	if ((s = render(&b)) == NULL)
		exit(2);
	for (p = s; (nl = strstr(p, "\r\n")) != NULL; p = nl + 2)
		if ((size_t)(nl - p) > longest)
			longest = nl - p;
	t_check(longest <= 998, "lines at most 998 octets (RFC 5322)",
	    "longest %zu", longest);
	free(s);
	free(reply);
}

int
main(void)
{
	test_failure_full();
	test_hdrs_and_kinds();
	test_status();
	test_injection();
	test_long_reply();
	return t_exit();
}
