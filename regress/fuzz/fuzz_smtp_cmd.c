/*
 * SMTP command lines: smtp_cmd_parse() and, by verb, the MAIL / RCPT
 * argument parsers and the HELO name, as smtp_session.c uses them.  The
 * input is one line without CR LF (cut at a NUL, at most SMTP_LINE_MAX).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../smtpd/smtp_cmd.h"

static void
check_printable(const char *s, size_t bufsz)
{
	size_t i;

	FUZZ_ASSERT(strlen(s) < bufsz);
	for (i = 0; s[i] != '\0'; i++)
		FUZZ_ASSERT(s[i] >= 0x21 && s[i] <= 0x7e);
}

/* A decoded DSN value: no control character (UTF-8 allowed). */
static void
check_no_controls(const char *s, size_t bufsz)
{
	size_t i;

	FUZZ_ASSERT(strlen(s) < bufsz);
	for (i = 0; s[i] != '\0'; i++)
		FUZZ_ASSERT((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void
check_addr(const struct mailaddr *a)
{
	FUZZ_ASSERT(memchr(a->local, '\0', sizeof(a->local)) != NULL);
	FUZZ_ASSERT(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
}

int
fuzz_smtp_cmd(const uint8_t *data, size_t size)
{
	struct smtp_cmd cmd;
	struct smtp_mail mail;
	struct mailaddr rcpt;
	struct esmtp_rcpt rp;
	char bad[SMTP_PARAM_MAX], helo[256], pr[SMTP_LINE_MAX];
	char *line;
	size_t len;

	if (size > SMTP_LINE_MAX)
		size = SMTP_LINE_MAX;
	line = fuzz_strndup(data, size);
	len = strlen(line);
	smtp_cmd_parse(line, &cmd);
	FUZZ_ASSERT(cmd.verb < SMTP_CMD_COUNT);
	FUZZ_ASSERT(cmd.arg != NULL);
	FUZZ_ASSERT(cmd.arg >= line && cmd.arg <= line + len);
	FUZZ_ASSERT(smtp_cmd_name(cmd.verb) != NULL);

	memset(bad, 0, sizeof(bad));
	switch (cmd.verb) {
	case SMTP_CMD_MAIL:
		switch (smtp_cmd_mail(cmd.arg, &mail, bad, sizeof(bad))) {
		case SMTP_CMD_OK:
			check_addr(&mail.from);
			check_no_controls(mail.esmtp.envid,
			    sizeof(mail.esmtp.envid));
			break;
		case SMTP_CMD_EPARAM:
		case SMTP_CMD_EPARAMSYNTAX:
			check_printable(bad, sizeof(bad));
			break;
		default:
			break;
		}
		break;
	case SMTP_CMD_RCPT:
		/* odd lengths as in an SMTPUTF8 transaction */
		switch (smtp_cmd_rcpt_esmtp(cmd.arg, &rcpt, &rp, size & 1, bad,
		    sizeof(bad))) {
		case SMTP_CMD_OK:
			check_addr(&rcpt);
			check_no_controls(rp.orcpt, sizeof(rp.orcpt));
			FUZZ_ASSERT((rp.notify & ~DSN_NOTIFY_MASK) == 0);
			break;
		case SMTP_CMD_EPARAM:
		case SMTP_CMD_EPARAMSYNTAX:
			check_printable(bad, sizeof(bad));
			break;
		default:
			break;
		}
		break;
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		if (smtp_cmd_helo(cmd.arg, helo, sizeof(helo)) == 0)
			check_printable(helo, sizeof(helo));
		break;
	default:
		break;
	}
	/* the session echoes unknown commands this way; tiny buffers too */
	smtp_cmd_printable(cmd.arg, pr, sizeof(pr));
	check_printable(pr, sizeof(pr));
	smtp_cmd_printable(cmd.arg, pr, 1 + len % 8);
	check_printable(pr, 1 + len % 8);
	free(line);
	return 0;
}
