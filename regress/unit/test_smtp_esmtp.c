/*
 * smtpd/smtp_esmtp.c and its use by smtp_cmd.c: xtext decoding, the DSN
 * parameters (RET, ENVID, NOTIFY, ORCPT), SMTPUTF8 and UTF-8 paths, and
 * the error each malformed parameter maps to (501 syntax, 555 unknown).
 */
#include <stdio.h>
#include <string.h>

#include "../../smtpd/smtp_cmd.h"
#include "../../smtpd/smtp_esmtp.h"
#include "test.h"

static void
xtext(const char *in, int want, const char *out)
{
	char	 buf[16], name[128];
	int	 n;

	n = esmtp_xtext_decode(in, buf, sizeof(buf));
	snprintf(name, sizeof(name), "xtext \"%s\"", in);
	t_check(n == want && (n == -1 || strcmp(buf, out) == 0), name,
	    "got %d \"%s\"", n, n >= 0 ? buf : "");
}

static void
test_xtext(void)
{
	xtext("abc", 3, "abc");
	xtext("a+2Bb", 3, "a+b");
	xtext("+20+3D", 2, " =");
	xtext("", 0, "");
	xtext("a+2b", -1, NULL);	/* hex digits are uppercase */
	xtext("a+2", -1, NULL);		/* short */
	xtext("a+", -1, NULL);
	xtext("a+00", -1, NULL);	/* no NUL */
	xtext("a+b", -1, NULL);		/* a bare '+' */
	xtext("a=b", -1, NULL);		/* '=' must be encoded */
	xtext("a b", -1, NULL);		/* space */
	xtext("\xc3\xa9", -1, NULL);	/* 8-bit */
	xtext("0123456789abcdef", -1, NULL);	/* over 15 octets */
	xtext("0123456789abcde", 15, "0123456789abcde");
}

static void
mail(const char *arg, enum smtp_cmd_err want, int utf8, enum dsn_ret ret,
    const char *envid)
{
	struct smtp_mail	 m;
	enum smtp_cmd_err	 err;
	char			 bad[SMTP_PARAM_MAX], name[700];

	err = smtp_cmd_mail(arg, &m, bad, sizeof(bad));
	snprintf(name, sizeof(name), "MAIL %s", arg);
	if (err != want)
		t_check(0, name, "err %d want %d", err, want);
	else if (err == SMTP_CMD_OK && (m.esmtp.smtputf8 != utf8 ||
	    m.esmtp.ret != ret || strcmp(m.esmtp.envid, envid) != 0 ||
	    m.esmtp.has_envid != (envid[0] != '\0')))
		t_check(0, name, "utf8 %d ret %d envid \"%s\"",
		    m.esmtp.smtputf8, m.esmtp.ret, m.esmtp.envid);
	else
		t_check(1, name, "%s", "");
}

static void
test_mail(void)
{
	char	 arg[400];

	mail("FROM:<a@b.c>", SMTP_CMD_OK, 0, DSN_RET_NONE, "");
	mail("FROM:<a@b.c> RET=HDRS ENVID=QQ314159", SMTP_CMD_OK, 0,
	    DSN_RET_HDRS, "QQ314159");
	mail("FROM:<a@b.c> ret=full envid=a+2Bb+20c", SMTP_CMD_OK, 0,
	    DSN_RET_FULL, "a+b c");
	mail("FROM:<a@b.c> SMTPUTF8 BODY=8BITMIME", SMTP_CMD_OK, 1,
	    DSN_RET_NONE, "");
	mail("FROM:<j\xc3\xb6rg@b\xc3\xbc.example> SMTPUTF8", SMTP_CMD_OK, 1,
	    DSN_RET_NONE, "");
	mail("FROM:<j\xc3\xb6rg@b.example>", SMTP_CMD_EUTF8, 0, 0, "");
	mail("FROM:<j\xc3@b.example> SMTPUTF8", SMTP_CMD_EPATH, 0, 0, "");
	mail("FROM:<j\xc0\xafrg@b.example> SMTPUTF8", SMTP_CMD_EPATH, 0, 0,
	    "");	/* overlong */
	mail("FROM:<j\xed\xa0\x80@b.example> SMTPUTF8", SMTP_CMD_EPATH, 0,
	    0, "");	/* surrogate */
	mail("FROM:<a@b.c> SMTPUTF8=yes", SMTP_CMD_EPARAMSYNTAX, 0, 0, "");
	mail("FROM:<a@b.c> SMTPUTF8 SMTPUTF8", SMTP_CMD_EPARAMSYNTAX, 0, 0,
	    "");
	mail("FROM:<a@b.c> RET=ALL", SMTP_CMD_EPARAMSYNTAX, 0, 0, "");
	mail("FROM:<a@b.c> RET", SMTP_CMD_EPARAMSYNTAX, 0, 0, "");
	mail("FROM:<a@b.c> RET=FULL RET=HDRS", SMTP_CMD_EPARAMSYNTAX, 0, 0,
	    "");
	mail("FROM:<a@b.c> ENVID=a+zz", SMTP_CMD_EPARAMSYNTAX, 0, 0, "");
	mail("FROM:<a@b.c> ENVID=a+0A", SMTP_CMD_EPARAMSYNTAX, 0, 0, "");
	mail("FROM:<a@b.c> ENVID=x ENVID=y", SMTP_CMD_EPARAMSYNTAX, 0, 0, "");
	memset(arg, 0, sizeof(arg));
	strcpy(arg, "FROM:<a@b.c> ENVID=");
	memset(arg + strlen(arg), 'x', ESMTP_ENVID_MAX);
	mail(arg, SMTP_CMD_OK, 0, DSN_RET_NONE, arg + 19);
	strcat(arg, "x");
	mail(arg, SMTP_CMD_EPARAMSYNTAX, 0, 0, "");
	mail("FROM:<a@b.c> X-UNKNOWN=1", SMTP_CMD_EPARAM, 0, 0, "");
	mail("FROM:<a@b.c> NOTIFY=NEVER", SMTP_CMD_EPARAM, 0, 0, "");
}

static void
rcpt(const char *arg, int utf8, enum smtp_cmd_err want, uint32_t notify,
    const char *orcpt)
{
	struct mailaddr		 a;
	struct esmtp_rcpt	 rp;
	enum smtp_cmd_err	 err;
	char			 bad[SMTP_PARAM_MAX], name[700];

	err = smtp_cmd_rcpt_esmtp(arg, &a, &rp, utf8, bad, sizeof(bad));
	snprintf(name, sizeof(name), "RCPT %s%s", arg, utf8 ? " (utf8)" : "");
	if (err != want)
		t_check(0, name, "err %d want %d", err, want);
	else if (err == SMTP_CMD_OK && (rp.notify != notify ||
	    strcmp(rp.orcpt, orcpt) != 0))
		t_check(0, name, "notify %u orcpt \"%s\"", rp.notify, rp.orcpt);
	else
		t_check(1, name, "%s", "");
}

static void
test_rcpt(void)
{
	struct mailaddr	 a;
	char		 bad[SMTP_PARAM_MAX];

	rcpt("TO:<u@x.y>", 0, SMTP_CMD_OK, 0, "");
	rcpt("TO:<u@x.y> NOTIFY=NEVER", 0, SMTP_CMD_OK, DSN_NOTIFY_NEVER, "");
	rcpt("TO:<u@x.y> NOTIFY=success,FAILURE,Delay", 0, SMTP_CMD_OK,
	    DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY, "");
	rcpt("TO:<u@x.y> NOTIFY=DELAY ORCPT=rfc822;u+40x.y", 0, SMTP_CMD_OK,
	    DSN_NOTIFY_DELAY, "rfc822;u@x.y");
	rcpt("TO:<u@x.y> ORCPT=rfc822;a+2Bb@x.y", 0, SMTP_CMD_OK, 0,
	    "rfc822;a+b@x.y");
	rcpt("TO:<u@x.y> NOTIFY=NEVER,FAILURE", 0, SMTP_CMD_EPARAMSYNTAX, 0,
	    "");
	rcpt("TO:<u@x.y> NOTIFY=FAILURE,FAILURE", 0, SMTP_CMD_EPARAMSYNTAX, 0,
	    "");
	rcpt("TO:<u@x.y> NOTIFY=SOMETIMES", 0, SMTP_CMD_EPARAMSYNTAX, 0, "");
	rcpt("TO:<u@x.y> NOTIFY=", 0, SMTP_CMD_EPARAMSYNTAX, 0, "");
	rcpt("TO:<u@x.y> NOTIFY=SUCCESS,", 0, SMTP_CMD_EPARAMSYNTAX, 0, "");
	rcpt("TO:<u@x.y> NOTIFY=DELAY NOTIFY=DELAY", 0, SMTP_CMD_EPARAMSYNTAX,
	    0, "");
	rcpt("TO:<u@x.y> ORCPT=u@x.y", 0, SMTP_CMD_EPARAMSYNTAX, 0, "");
	rcpt("TO:<u@x.y> ORCPT=;u@x.y", 0, SMTP_CMD_EPARAMSYNTAX, 0, "");
	rcpt("TO:<u@x.y> ORCPT=rfc822;", 0, SMTP_CMD_EPARAMSYNTAX, 0, "");
	rcpt("TO:<u@x.y> ORCPT=rfc822;a+0Db", 0, SMTP_CMD_EPARAMSYNTAX, 0, "");
	rcpt("TO:<u@x.y> ORCPT=rfc822;j+C3+B6rg@x.y", 0,
	    SMTP_CMD_EPARAMSYNTAX, 0, "");
	rcpt("TO:<u@x.y> ORCPT=rfc822;j+C3+B6rg@x.y", 1, SMTP_CMD_OK, 0,
	    "rfc822;j\xc3\xb6rg@x.y");
	rcpt("TO:<u@x.y> ORCPT=rfc 822;u@x.y", 0, SMTP_CMD_EPARAMSYNTAX, 0,
	    "");
	rcpt("TO:<u@x.y> X-FOO", 0, SMTP_CMD_EPARAM, 0, "");
	rcpt("TO:<u@x.y> RET=FULL", 0, SMTP_CMD_EPARAM, 0, "");
	rcpt("TO:<j\xc3\xb6rg@x.y>", 0, SMTP_CMD_EUTF8, 0, "");
	rcpt("TO:<j\xc3\xb6rg@x.y>", 1, SMTP_CMD_OK, 0, "");
	/* the old entry point still takes no parameter at all */
	T_OK(smtp_cmd_rcpt("TO:<u@x.y> NOTIFY=NEVER", &a, bad,
	    sizeof(bad)) == SMTP_CMD_EPARAM && strcmp(bad, "NOTIFY=NEVER") == 0,
	    "smtp_cmd_rcpt takes no parameters");
}

int
main(void)
{
	test_xtext();
	test_mail();
	test_rcpt();
	return t_exit();
}
