/*
 * SMTP command line parsing: verb, argument, MAIL / RCPT paths and their
 * ESMTP parameters (RFC 5321 4.1.2, RFC 1870 SIZE, RFC 6152 8BITMIME;
 * SMTPUTF8 and the DSN parameters in smtp_esmtp.c).
 * Paths are checked by common/addr.c, so nothing that reaches a log line
 * or an envelope can carry a control character.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp_cmd.h"

static const struct {
	const char	*verb;
	enum smtp_verb	 id;
} smtp_verbs[] = {
	{ "HELO",	SMTP_CMD_HELO },
	{ "EHLO",	SMTP_CMD_EHLO },
	{ "MAIL",	SMTP_CMD_MAIL },
	{ "RCPT",	SMTP_CMD_RCPT },
	{ "DATA",	SMTP_CMD_DATA },
	{ "RSET",	SMTP_CMD_RSET },
	{ "NOOP",	SMTP_CMD_NOOP },
	{ "QUIT",	SMTP_CMD_QUIT },
	{ "VRFY",	SMTP_CMD_VRFY },
	{ "EXPN",	SMTP_CMD_EXPN },
	{ "HELP",	SMTP_CMD_HELP },
	{ "STARTTLS",	SMTP_CMD_STARTTLS },
	{ "AUTH",	SMTP_CMD_AUTH },
	{ "BDAT",	SMTP_CMD_BDAT },
	{ "ETRN",	SMTP_CMD_ETRN },
};

static const char *smtp_names[SMTP_CMD_COUNT] = {
	[SMTP_CMD_UNKNOWN] = "unknown",
	[SMTP_CMD_HELO] = "helo",
	[SMTP_CMD_EHLO] = "ehlo",
	[SMTP_CMD_MAIL] = "mail",
	[SMTP_CMD_RCPT] = "rcpt",
	[SMTP_CMD_DATA] = "data",
	[SMTP_CMD_RSET] = "rset",
	[SMTP_CMD_NOOP] = "noop",
	[SMTP_CMD_QUIT] = "quit",
	[SMTP_CMD_VRFY] = "vrfy",
	[SMTP_CMD_EXPN] = "expn",
	[SMTP_CMD_HELP] = "help",
	[SMTP_CMD_STARTTLS] = "starttls",
	[SMTP_CMD_AUTH] = "auth",
	[SMTP_CMD_BDAT] = "bdat",
	[SMTP_CMD_ETRN] = "etrn",
};

static int
is_blank(int c)
{
	return c == ' ' || c == '\t';
}

void
smtp_cmd_parse(char *line, struct smtp_cmd *cmd)
{
	size_t	 i, len, n;
	char	*p;

	len = strlen(line);
	while (len > 0 && is_blank(line[len - 1]))
		line[--len] = '\0';
	n = strcspn(line, " \t");
	cmd->verb = SMTP_CMD_UNKNOWN;
	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++)
		if (strlen(smtp_verbs[i].verb) == n &&
		    strncasecmp(line, smtp_verbs[i].verb, n) == 0)
			cmd->verb = smtp_verbs[i].id;
	for (p = line + n; is_blank(*p); p++)
		;
	cmd->arg = p;
}

const char *
smtp_cmd_name(enum smtp_verb verb)
{
	if (verb >= SMTP_CMD_COUNT)
		return "unknown";
	return smtp_names[verb];
}

void
smtp_cmd_printable(const char *s, char *buf, size_t bufsz)
{
	size_t	 i;

	if (bufsz == 0)
		return;
	for (i = 0; s[i] != '\0' && i < bufsz - 1; i++)
		buf[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
}

/* Copies the word at p (up to a blank) into buf, made printable. */
static void
copy_word(const char *p, char *buf, size_t bufsz)
{
	char	 tmp[SMTP_LINE_MAX + 1];
	size_t	 n = strcspn(p, " \t");

	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	smtp_cmd_printable(tmp, buf, bufsz);
}

int
smtp_cmd_helo(const char *arg, char *buf, size_t bufsz)
{
	if (*arg == '\0' || is_blank(*arg))
		return -1;
	copy_word(arg, buf, bufsz);
	return 0;
}

/*
 * "<path>" or, tolerated like Postfix does, a bare "local@domain"; then a
 * blank or the end.  *endp just past it.
 */
static int
parse_path(const char *p, struct mailaddr *a, int allow_null,
    const char **endp)
{
	char	 word[SMTP_LINE_MAX + 1];
	size_t	 n;
	int	 flags = ADDR_UTF8 | (allow_null ? ADDR_ALLOW_NULL : 0);

	/* UTF-8 is checked against SMTPUTF8 once the parameters are read */
	if (*p == '<') {
		if (addr_parse_path_flags(p, a, flags, endp) == -1)
			return -1;
	} else {
		n = strcspn(p, " \t");
		if (n == 0 || n >= sizeof(word))
			return -1;
		memcpy(word, p, n);
		word[n] = '\0';
		if (addr_parse_flags(word, a, ADDR_UTF8) == -1)
			return -1;
		*endp = p + n;
	}
	return (**endp == '\0' || is_blank(**endp)) ? 0 : -1;
}

/*
 * The next esmtp-param at *pp (RFC 5321 4.1.2): keyword into key, value
 * (NULL when absent) into val; *pp moves past it.  -1 when malformed.
 */
static int
next_param(const char **pp, char *key, size_t keysz, char *val, size_t valsz,
    int *hasval)
{
	const char	*p = *pp, *k, *v = NULL;
	size_t		 klen, vlen = 0;

	for (k = p; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
	    (*p >= '0' && *p <= '9') || (*p == '-' && p > k); p++)
		;
	klen = p - k;
	if (*p == '=') {
		for (v = ++p; *p >= 33 && *p <= 126 && *p != '='; p++)
			;
		vlen = p - v;
	}
	*pp = p;
	if (klen == 0 || klen >= keysz || (v != NULL && vlen == 0) ||
	    vlen >= valsz || (*p != '\0' && !is_blank(*p)))
		return -1;
	memcpy(key, k, klen);
	key[klen] = '\0';
	if (v != NULL)
		memcpy(val, v, vlen);
	val[vlen] = '\0';
	*hasval = v != NULL;
	return 0;
}

static enum smtp_cmd_err
esmtp_err(int rc)
{
	switch (rc) {
	case ESMTP_OK:
		return SMTP_CMD_OK;
	case ESMTP_EUNKNOWN:
		return SMTP_CMD_EPARAM;
	default:
		return SMTP_CMD_EPARAMSYNTAX;
	}
}

/* 1 when neither part of a holds UTF-8. */
static int
addr_ascii(const struct mailaddr *a)
{
	return addr_is_ascii(a->local) && addr_is_ascii(a->domain);
}

/* SIZE=1*20DIGIT; saturates at UINT64_MAX. */
static int
parse_size(const char *v, uint64_t *size)
{
	uint64_t	 n = 0;
	size_t		 len = strlen(v);

	if (len == 0 || len > 20 || strspn(v, "0123456789") != len)
		return -1;
	for (; *v != '\0'; v++) {
		if (n > (UINT64_MAX - (*v - '0')) / 10)
			n = UINT64_MAX;
		else
			n = n * 10 + (*v - '0');
	}
	*size = n;
	return 0;
}

static enum smtp_cmd_err
mail_param(struct smtp_mail *m, const char *key, const char *val, int hasval)
{
	if (strcasecmp(key, "SIZE") == 0) {
		if (m->has_size)
			return SMTP_CMD_EPARAMSYNTAX;
		if (!hasval || parse_size(val, &m->size) == -1)
			return SMTP_CMD_ESIZE;
		m->has_size = 1;
		return SMTP_CMD_OK;
	}
	if (strcasecmp(key, "BODY") != 0)
		return esmtp_err(esmtp_mail_param(&m->esmtp, key,
		    hasval ? val : NULL));
	if (strcasecmp(key, "BODY") == 0) {
		if (m->body != SMTP_BODY_NONE)
			return SMTP_CMD_EPARAMSYNTAX;
		if (hasval && strcasecmp(val, "7BIT") == 0)
			m->body = SMTP_BODY_7BIT;
		else if (hasval && strcasecmp(val, "8BITMIME") == 0)
			m->body = SMTP_BODY_8BITMIME;
		else
			return SMTP_CMD_EPARAM;
		return SMTP_CMD_OK;
	}
	return SMTP_CMD_EPARAM;
}

/* Parameters after the path: of MAIL into m, else of RCPT into rp (both
 * NULL: none are supported). */
static enum smtp_cmd_err
parse_params(const char *p, struct smtp_mail *m, struct esmtp_rcpt *rp,
    int utf8, char *bad, size_t badsz)
{
	char			 key[SMTP_PARAM_MAX], val[SMTP_LINE_MAX];
	const char		*start;
	enum smtp_cmd_err	 err;
	int			 hasval;

	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			return SMTP_CMD_OK;
		start = p;
		if (next_param(&p, key, sizeof(key), val, sizeof(val),
		    &hasval) == -1)
			err = SMTP_CMD_EPARAMSYNTAX;
		else if (m != NULL)
			err = mail_param(m, key, val, hasval);
		else if (rp != NULL)
			err = esmtp_err(esmtp_rcpt_param(rp, key,
			    hasval ? val : NULL, utf8));
		else
			err = SMTP_CMD_EPARAM;
		if (err != SMTP_CMD_OK) {
			if (bad != NULL)
				copy_word(start, bad, badsz);
			return err;
		}
	}
}

enum smtp_cmd_err
smtp_cmd_mail(const char *arg, struct smtp_mail *m, char *bad, size_t badsz)
{
	const char		*p;
	enum smtp_cmd_err	 err;

	memset(m, 0, sizeof(*m));
	if (bad != NULL && badsz > 0)
		bad[0] = '\0';
	if (strncasecmp(arg, "FROM:", 5) != 0)
		return SMTP_CMD_ESYNTAX;
	for (p = arg + 5; is_blank(*p); p++)
		;
	if (parse_path(p, &m->from, 1, &p) == -1)
		return SMTP_CMD_EPATH;
	/* <postmaster> without a domain is a recipient only */
	if (m->from.domain[0] == '\0' && !addr_is_null(&m->from))
		return SMTP_CMD_EPATH;
	if ((err = parse_params(p, m, NULL, 0, bad, badsz)) != SMTP_CMD_OK)
		return err;
	if (!m->esmtp.smtputf8 && !addr_ascii(&m->from))
		return SMTP_CMD_EUTF8;
	return SMTP_CMD_OK;
}

enum smtp_cmd_err
smtp_cmd_rcpt(const char *arg, struct mailaddr *a, char *bad, size_t badsz)
{
	return smtp_cmd_rcpt_esmtp(arg, a, NULL, 0, bad, badsz);
}

enum smtp_cmd_err
smtp_cmd_rcpt_esmtp(const char *arg, struct mailaddr *a,
    struct esmtp_rcpt *rp, int utf8, char *bad, size_t badsz)
{
	const char		*p;
	enum smtp_cmd_err	 err;

	memset(a, 0, sizeof(*a));
	if (rp != NULL)
		memset(rp, 0, sizeof(*rp));
	if (bad != NULL && badsz > 0)
		bad[0] = '\0';
	if (strncasecmp(arg, "TO:", 3) != 0)
		return SMTP_CMD_ESYNTAX;
	for (p = arg + 3; is_blank(*p); p++)
		;
	if (parse_path(p, a, 0, &p) == -1)
		return SMTP_CMD_EPATH;
	if ((err = parse_params(p, NULL, rp, utf8, bad, badsz)) != SMTP_CMD_OK)
		return err;
	if (!utf8 && !addr_ascii(a))
		return SMTP_CMD_EUTF8;
	return SMTP_CMD_OK;
}
