/*
 * smtpd/smtp_cmd.c: verbs, arguments, MAIL / RCPT paths and parameters,
 * case, and inputs that must be refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "../../smtpd/smtp_cmd.h"
#include "../../smtpd/smtp_info.h"
#include "../../smtpd/smtp_line.h"

static void
verb(const char *line, enum smtp_verb want, const char *wantarg)
{
	char		 buf[600], name[700];
	struct smtp_cmd	 cmd;

	snprintf(buf, sizeof(buf), "%s", line);
	smtp_cmd_parse(buf, &cmd);
	snprintf(name, sizeof(name), "verb \"%s\"", line);
	t_check(cmd.verb == want && strcmp(cmd.arg, wantarg) == 0, name,
	    "verb %s arg \"%s\"", smtp_cmd_name(cmd.verb), cmd.arg);
}

static void
test_verbs(void)
{
	verb("EHLO mx.example.com", SMTP_CMD_EHLO, "mx.example.com");
	verb("ehlo mx.example.com", SMTP_CMD_EHLO, "mx.example.com");
	verb("HeLo x", SMTP_CMD_HELO, "x");
	verb("EHLO", SMTP_CMD_EHLO, "");
	verb("EHLO   ", SMTP_CMD_EHLO, "");
	verb("MAIL FROM:<a@b.c>", SMTP_CMD_MAIL, "FROM:<a@b.c>");
	verb("mail  from:<a@b.c>  ", SMTP_CMD_MAIL, "from:<a@b.c>");
	verb("RCPT\tTO:<a@b.c>", SMTP_CMD_RCPT, "TO:<a@b.c>");
	verb("DATA", SMTP_CMD_DATA, "");
	verb("data", SMTP_CMD_DATA, "");
	verb("RSET", SMTP_CMD_RSET, "");
	verb("NOOP hello there", SMTP_CMD_NOOP, "hello there");
	verb("QUIT", SMTP_CMD_QUIT, "");
	verb("VRFY root", SMTP_CMD_VRFY, "root");
	verb("EXPN list", SMTP_CMD_EXPN, "list");
	verb("HELP", SMTP_CMD_HELP, "");
	verb("STARTTLS", SMTP_CMD_STARTTLS, "");
	verb("AUTH PLAIN", SMTP_CMD_AUTH, "PLAIN");
	verb("BDAT 10 LAST", SMTP_CMD_BDAT, "10 LAST");
	verb("", SMTP_CMD_UNKNOWN, "");
	verb("   ", SMTP_CMD_UNKNOWN, "");
	verb("MAILFROM:<a@b.c>", SMTP_CMD_UNKNOWN, "");
	verb("DATAX", SMTP_CMD_UNKNOWN, "");
	verb("DAT", SMTP_CMD_UNKNOWN, "");
	verb("GET / HTTP/1.0", SMTP_CMD_UNKNOWN, "/ HTTP/1.0");
	verb(" EHLO x", SMTP_CMD_UNKNOWN, "EHLO x");
	T_OK(strcmp(smtp_cmd_name(SMTP_CMD_EHLO), "ehlo") == 0, "name ehlo");
	T_OK(strcmp(smtp_cmd_name(SMTP_CMD_UNKNOWN), "unknown") == 0,
	    "name unknown");
	T_OK(strcmp(smtp_cmd_name(SMTP_CMD_COUNT), "unknown") == 0,
	    "name out of range");
}

static void
mail(const char *arg, enum smtp_cmd_err want, const char *from,
    uint64_t size, enum smtp_body body, const char *wantbad)
{
	struct smtp_mail	 m;
	enum smtp_cmd_err	 err;
	char			 bad[SMTP_PARAM_MAX], got[300] = "", name[700];

	err = smtp_cmd_mail(arg, &m, bad, sizeof(bad));
	if (err == SMTP_CMD_OK)
		addr_format(&m.from, got, sizeof(got));
	snprintf(name, sizeof(name), "MAIL \"%s\"", arg);
	if (err != want)
		t_check(0, name, "err %d want %d", err, want);
	else if (err == SMTP_CMD_OK && (strcmp(got, from) != 0 ||
	    m.size != size || m.body != body || m.has_size != (size != 0)))
		t_check(0, name, "from \"%s\" size %llu body %d", got,
		    (unsigned long long)m.size, m.body);
	else if (wantbad != NULL && strcmp(bad, wantbad) != 0)
		t_check(0, name, "bad \"%s\"", bad);
	else
		t_check(1, name, "%s", "");
}

static void
test_mail(void)
{
	mail("FROM:<a@b.c>", SMTP_CMD_OK, "a@b.c", 0, SMTP_BODY_NONE, NULL);
	mail("from:<a@b.c>", SMTP_CMD_OK, "a@b.c", 0, SMTP_BODY_NONE, NULL);
	mail("From: <a@b.c>", SMTP_CMD_OK, "a@b.c", 0, SMTP_BODY_NONE, NULL);
	mail("FROM:<>", SMTP_CMD_OK, "", 0, SMTP_BODY_NONE, NULL);
	mail("FROM:a@b.c", SMTP_CMD_OK, "a@b.c", 0, SMTP_BODY_NONE, NULL);
	mail("FROM:<@r.example:a@b.c>", SMTP_CMD_OK, "a@b.c", 0,
	    SMTP_BODY_NONE, NULL);
	mail("FROM:<a@b.c> SIZE=1000", SMTP_CMD_OK, "a@b.c", 1000,
	    SMTP_BODY_NONE, NULL);
	mail("FROM:<a@b.c> size=12 body=8bitmime", SMTP_CMD_OK, "a@b.c", 12,
	    SMTP_BODY_8BITMIME, NULL);
	mail("FROM:<a@b.c>  BODY=7BIT   SIZE=5", SMTP_CMD_OK, "a@b.c", 5,
	    SMTP_BODY_7BIT, NULL);
	mail("FROM:<a@b.c> SIZE=99999999999999999999", SMTP_CMD_OK, "a@b.c",
	    UINT64_MAX, SMTP_BODY_NONE, NULL);
	mail("FROM:<a@b.c> SIZE=18446744073709551615", SMTP_CMD_OK, "a@b.c",
	    UINT64_MAX, SMTP_BODY_NONE, NULL);
	mail("FROM:<a@b.c> SIZE=18446744073709551614", SMTP_CMD_OK, "a@b.c",
	    UINT64_MAX - 1, SMTP_BODY_NONE, NULL);

	mail("", SMTP_CMD_ESYNTAX, NULL, 0, 0, NULL);
	mail("<a@b.c>", SMTP_CMD_ESYNTAX, NULL, 0, 0, NULL);
	mail("FROM<a@b.c>", SMTP_CMD_ESYNTAX, NULL, 0, 0, NULL);
	mail("TO:<a@b.c>", SMTP_CMD_ESYNTAX, NULL, 0, 0, NULL);
	mail("FROM:", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<a@b.c", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<a@b.c>x", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<a b@c.d>", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<a@b..c>", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<a@-b.c>", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<a>", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<postmaster>", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<a@b.c\x01>", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<\xc3\xa9@b.c>", SMTP_CMD_EUTF8, NULL, 0, 0, NULL);
	mail("FROM:<<a@b.c>>", SMTP_CMD_EPATH, NULL, 0, 0, NULL);
	mail("FROM:<a@b.c> SIZE=", SMTP_CMD_EPARAMSYNTAX, NULL, 0, 0,
	    "SIZE=");
	mail("FROM:<a@b.c> SIZE", SMTP_CMD_ESIZE, NULL, 0, 0, NULL);
	mail("FROM:<a@b.c> SIZE=12x", SMTP_CMD_ESIZE, NULL, 0, 0, NULL);
	mail("FROM:<a@b.c> SIZE=-1", SMTP_CMD_ESIZE, NULL, 0, 0, NULL);
	mail("FROM:<a@b.c> SIZE=123456789012345678901", SMTP_CMD_ESIZE,
	    NULL, 0, 0, NULL);
	mail("FROM:<a@b.c> SIZE=1 SIZE=2", SMTP_CMD_EPARAMSYNTAX, NULL, 0, 0,
	    "SIZE=2");
	mail("FROM:<a@b.c> BODY=BINARYMIME", SMTP_CMD_EPARAM, NULL, 0, 0,
	    "BODY=BINARYMIME");
	mail("FROM:<a@b.c> BODY", SMTP_CMD_EPARAM, NULL, 0, 0, "BODY");
	mail("FROM:<a@b.c> SMTPUTF8=1", SMTP_CMD_EPARAMSYNTAX, NULL, 0, 0,
	    "SMTPUTF8=1");
	mail("FROM:<a@b.c> AUTH=<>", SMTP_CMD_EPARAM, NULL, 0, 0, "AUTH=<>");
	mail("FROM:<a@b.c> X-FOO=bar", SMTP_CMD_EPARAM, NULL, 0, 0,
	    "X-FOO=bar");
	mail("FROM:<a@b.c> -X=1", SMTP_CMD_EPARAMSYNTAX, NULL, 0, 0, "-X=1");
	mail("FROM:<a@b.c> X=a=b", SMTP_CMD_EPARAMSYNTAX, NULL, 0, 0,
	    "X=a=b");
	mail("FROM:<a@b.c> X=\x01", SMTP_CMD_EPARAMSYNTAX, NULL, 0, 0,
	    "X=?");
	mail("FROM:<a@b.c> X=\xff", SMTP_CMD_EPARAMSYNTAX, NULL, 0, 0,
	    "X=?");
	mail("FROM:<a@b.c> X-A-VERY-LONG-PARAMETER-NAME-THAT-GOES-ON-AND-ON-"
	    "AND-ON-FOREVER-AND-EVER=1", SMTP_CMD_EPARAMSYNTAX, NULL, 0, 0,
	    "X-A-VERY-LONG-PARAMETER-NAME-THAT-GOES-ON-AND-ON-AND-ON-FOREVER");
}

static void
rcpt(const char *arg, enum smtp_cmd_err want, const char *to,
    const char *wantbad)
{
	struct mailaddr		 a;
	enum smtp_cmd_err	 err;
	char			 bad[SMTP_PARAM_MAX], got[300] = "", name[700];

	err = smtp_cmd_rcpt(arg, &a, bad, sizeof(bad));
	if (err == SMTP_CMD_OK)
		addr_format(&a, got, sizeof(got));
	snprintf(name, sizeof(name), "RCPT \"%s\"", arg);
	if (err != want)
		t_check(0, name, "err %d want %d", err, want);
	else if (err == SMTP_CMD_OK && strcmp(got, to) != 0)
		t_check(0, name, "to \"%s\"", got);
	else if (wantbad != NULL && strcmp(bad, wantbad) != 0)
		t_check(0, name, "bad \"%s\"", bad);
	else
		t_check(1, name, "%s", "");
}

static void
test_rcpt(void)
{
	rcpt("TO:<u@example1.com>", SMTP_CMD_OK, "u@example1.com", NULL);
	rcpt("to:<u@example1.com>", SMTP_CMD_OK, "u@example1.com", NULL);
	rcpt("To: <u@example1.com>", SMTP_CMD_OK, "u@example1.com", NULL);
	rcpt("TO:u@example1.com", SMTP_CMD_OK, "u@example1.com", NULL);
	rcpt("TO:<postmaster>", SMTP_CMD_OK, "postmaster", NULL);
	rcpt("TO:<PostMaster>", SMTP_CMD_OK, "PostMaster", NULL);
	rcpt("TO:<\"a b\"@example1.com>", SMTP_CMD_OK, "\"a b\"@example1.com",
	    NULL);
	rcpt("TO:<u@[192.0.2.1]>", SMTP_CMD_OK, "u@[192.0.2.1]", NULL);
	rcpt("TO:<>", SMTP_CMD_EPATH, NULL, NULL);
	rcpt("TO:<u>", SMTP_CMD_EPATH, NULL, NULL);
	rcpt("TO:postmaster", SMTP_CMD_EPATH, NULL, NULL);
	rcpt("TO:", SMTP_CMD_EPATH, NULL, NULL);
	rcpt("TO:<u@example1.com> <v@example1.com>", SMTP_CMD_EPARAMSYNTAX,
	    NULL, "<v@example1.com>");
	rcpt("FROM:<u@example1.com>", SMTP_CMD_ESYNTAX, NULL, NULL);
	rcpt("", SMTP_CMD_ESYNTAX, NULL, NULL);
	rcpt("TO:<u@example1.com> NOTIFY=NEVER", SMTP_CMD_EPARAM, NULL,
	    "NOTIFY=NEVER");
}

static void
test_helo(void)
{
	char	 buf[256];
	char	 small[8];

	T_OK(smtp_cmd_helo("mx.example.com", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "mx.example.com") == 0, "helo name");
	T_OK(smtp_cmd_helo("[127.0.0.1]", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "[127.0.0.1]") == 0, "helo literal");
	T_OK(smtp_cmd_helo("my host", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "my") == 0, "helo first word");
	T_OK(smtp_cmd_helo("a\x01" "b\xff", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "a?b?") == 0, "helo made printable");
	T_OK(smtp_cmd_helo("", buf, sizeof(buf)) == -1, "helo empty");
	T_OK(smtp_cmd_helo("abcdefghijkl", small, sizeof(small)) == 0 &&
	    strcmp(small, "abcdefg") == 0, "helo truncated");
}

static void
info(enum smtp_verb v, const char *arg, const char *want)
{
	const char	*got = smtp_info_reply(v, arg);
	char		 name[128];

	snprintf(name, sizeof(name), "reply to %s \"%s\"", smtp_cmd_name(v),
	    arg);
	t_check(got != NULL && strcmp(got, want) == 0, name, "got \"%s\"",
	    got ? got : "(null)");
}

static void
test_info(void)
{
	enum smtp_verb	 v;
	const char	*r;

	info(SMTP_CMD_VRFY, "postmaster", SMTP_VRFY_REPLY);
	info(SMTP_CMD_VRFY, "user1@example1.com", SMTP_VRFY_REPLY);
	info(SMTP_CMD_VRFY, "<nobody@nowhere.invalid>", SMTP_VRFY_REPLY);
	info(SMTP_CMD_VRFY, "", "501 5.5.4 Syntax: VRFY address");
	info(SMTP_CMD_EXPN, "staff", "502 5.5.1 EXPN command is disabled");
	info(SMTP_CMD_EXPN, "", "501 5.5.4 Syntax: EXPN mailing-list");
	info(SMTP_CMD_HELP, "", "214 2.0.0 mxgate: see RFC 5321");
	info(SMTP_CMD_HELP, "MAIL", "214 2.0.0 mxgate: see RFC 5321");
	info(SMTP_CMD_ETRN, "example.com",
	    "502 5.5.1 Error: command not implemented");
	info(SMTP_CMD_UNKNOWN, "", "500 5.5.2 Error: command not recognized");
	T_OK(smtp_info_reply(SMTP_CMD_MAIL, "FROM:<>") == NULL,
	    "MAIL is the session's");
	T_OK(smtp_info_reply(SMTP_CMD_BDAT, "1 LAST") == NULL,
	    "BDAT is the session's");
	/* every fixed reply: code, space, enhanced code of the same class */
	for (v = SMTP_CMD_UNKNOWN; v <= SMTP_CMD_COUNT; v++) {
		if ((r = smtp_info_reply(v, "x")) == NULL)
			continue;
		t_check(strlen(r) > 10 && r[3] == ' ' && r[4] == r[0] &&
		    r[5] == '.', smtp_cmd_name(v), "reply \"%s\"", r);
	}
}

static void
line(const char *in, size_t len, int lf_ok, enum smtp_line_err want,
    size_t wantlen, const char *name)
{
	enum smtp_line_err	 err;
	size_t			 out = 12345;

	err = smtp_line_check(in, len, lf_ok, &out);
	t_check(err == want && (want != SMTP_LINE_OK || out == wantlen), name,
	    "err %d len %zu", err, out);
}

static void
test_line(void)
{
	/* what came before the LF */
	line("NOOP\r", 5, 0, SMTP_LINE_OK, 4, "CR LF");
	line("\r", 1, 0, SMTP_LINE_OK, 0, "empty line");
	line("NOOP", 4, 0, SMTP_LINE_BARE_LF, 0, "bare LF");
	line("", 0, 0, SMTP_LINE_BARE_LF, 0, "lone LF");
	line("NOOP", 4, 1, SMTP_LINE_OK, 4, "bare LF with normalize");
	line("NOOP\r", 5, 1, SMTP_LINE_OK, 4, "CR LF with normalize");
	line("MAIL FROM:<a@b>\rRCPT TO:<c@d>\r", 30, 0, SMTP_LINE_BARE_CR, 0,
	    "bare CR inside");
	line("MAIL FROM:<a@b>\rRCPT TO:<c@d>\r", 30, 1, SMTP_LINE_BARE_CR, 0,
	    "bare CR inside, even with normalize");
	line("NOOP\r\r", 6, 0, SMTP_LINE_BARE_CR, 0, "CR CR LF");
	line("NO\0OP\r", 6, 0, SMTP_LINE_NUL, 0, "NUL");
	T_OK(strncmp(smtp_line_reply(SMTP_LINE_BARE_LF), "500 5.5.2 ", 10) ==
	    0, "bare LF reply 500 5.5.2");
	T_OK(strncmp(smtp_line_reply(SMTP_LINE_BARE_CR), "500 5.5.2 ", 10) ==
	    0, "bare CR reply 500 5.5.2");
	T_OK(strncmp(smtp_line_reply(SMTP_LINE_NUL), "500 5.5.2 ", 10) == 0,
	    "NUL reply 500 5.5.2");
}

int
main(void)
{
	test_info();
	test_line();
	test_verbs();
	test_mail();
	test_rcpt();
	test_helo();
	return t_exit();
}
