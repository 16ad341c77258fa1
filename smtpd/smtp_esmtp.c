/*
 * ESMTP parameters for DSN and SMTPUTF8 (see smtp_esmtp.h):
 *
 *   MAIL: SMTPUTF8                      no value (RFC 6531 3.4)
 *         RET=FULL|HDRS                 (RFC 3461 4.3)
 *         ENVID=xtext                   at most 100 octets decoded, printable
 *                                       ASCII (RFC 3461 4.4)
 *   RCPT: NOTIFY=NEVER | 1#(SUCCESS|FAILURE|DELAY)   (RFC 3461 4.1)
 *         ORCPT=addr-type ";" xtext     at most 500 octets decoded; an
 *                                       rfc822 address printable ASCII,
 *                                       UTF-8 too in an SMTPUTF8
 *                                       transaction (RFC 3461 4.2)
 *
 * Keywords and the fixed values compare case-insensitively; each
 * parameter may appear once.  What is kept is decoded and can hold no
 * control character, so it reaches an envelope or a DSN unchanged.
 */
#include <string.h>
#include <strings.h>

#include "smtp_esmtp.h"

_Static_assert(ESMTP_OK == 0, "ESMTP_OK must be 0");

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
esmtp_xtext_decode(const char *in, char *out, size_t outsz)
{
	size_t	 o = 0;
	int	 hi, lo, c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c == '+') {
			if ((hi = hexval(in[1])) == -1 ||
			    (lo = hexval(in[2])) == -1)
				return -1;
			c = hi << 4 | lo;
			if (c == 0)
				return -1;
			in += 2;
		} else if (c < 0x21 || c > 0x7e || c == '=')
			return -1;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

static int
printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

/* No control characters; bytes >= 0x80 only as well-formed UTF-8. */
static int
printable_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i;

	while (*p != '\0') {
		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			n = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			n = 4;
		else
			return 0;
		for (i = 1; i < n; i++)
			if (p[i] < 0x80 || p[i] > 0xbf)
				return 0;
		p += n;
	}
	return 1;
}

int
esmtp_mail_param(struct esmtp_mail *m, const char *key, const char *val)
{
	int	 n;

	if (strcasecmp(key, "SMTPUTF8") == 0) {
		if (m->smtputf8 || val != NULL)
			return ESMTP_ESYNTAX;
		m->smtputf8 = 1;
		return ESMTP_OK;
	}
	if (strcasecmp(key, "RET") == 0) {
		if (m->ret != DSN_RET_NONE || val == NULL)
			return ESMTP_ESYNTAX;
		if (strcasecmp(val, "FULL") == 0)
			m->ret = DSN_RET_FULL;
		else if (strcasecmp(val, "HDRS") == 0)
			m->ret = DSN_RET_HDRS;
		else
			return ESMTP_ESYNTAX;
		return ESMTP_OK;
	}
	if (strcasecmp(key, "ENVID") == 0) {
		if (m->has_envid || val == NULL)
			return ESMTP_ESYNTAX;
		n = esmtp_xtext_decode(val, m->envid, sizeof(m->envid));
		if (n <= 0 || !printable_ascii(m->envid)) {
			m->envid[0] = '\0';
			return ESMTP_ESYNTAX;
		}
		m->has_envid = 1;
		return ESMTP_OK;
	}
	return ESMTP_EUNKNOWN;
}

/* NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY, each once. */
static int
parse_notify(const char *v, uint32_t *notify)
{
	static const struct {
		const char	*word;
		uint32_t	 flag;
	} words[] = {
		{ "SUCCESS", DSN_NOTIFY_SUCCESS },
		{ "FAILURE", DSN_NOTIFY_FAILURE },
		{ "DELAY", DSN_NOTIFY_DELAY },
	};
	uint32_t	 flags = 0, f;
	size_t		 len, i;

	if (strcasecmp(v, "NEVER") == 0) {
		*notify = DSN_NOTIFY_NEVER;
		return 0;
	}
	for (;;) {
		len = strcspn(v, ",");
		for (f = 0, i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].word) == len &&
			    strncasecmp(v, words[i].word, len) == 0)
				f = words[i].flag;
		if (f == 0 || (flags & f))
			return -1;
		flags |= f;
		if (v[len] == '\0')
			break;
		v += len + 1;
	}
	*notify = flags;
	return 0;
}

/* ORCPT=addr-type ";" xtext, kept as "addr-type;decoded". */
static int
parse_orcpt(const char *v, char *out, size_t outsz, int utf8)
{
	const char	*semi = strchr(v, ';');
	size_t		 tlen, i;
	int		 n;

	if (semi == NULL || (tlen = semi - v) == 0 || tlen + 2 > outsz)
		return -1;
	for (i = 0; i < tlen; i++)
		if (!((v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= 'a' && v[i] <= 'z') ||
		    (v[i] >= '0' && v[i] <= '9') || v[i] == '-'))
			return -1;
	memcpy(out, v, tlen + 1);
	n = esmtp_xtext_decode(semi + 1, out + tlen + 1, outsz - tlen - 1);
	if (n <= 0)
		return -1;
	if (utf8 ? !printable_utf8(out) : !printable_ascii(out))
		return -1;
	return 0;
}

int
esmtp_rcpt_param(struct esmtp_rcpt *r, const char *key, const char *val,
    int utf8)
{
	if (strcasecmp(key, "NOTIFY") == 0) {
		if (r->notify != 0 || val == NULL ||
		    parse_notify(val, &r->notify) == -1) {
			r->notify = 0;
			return ESMTP_ESYNTAX;
		}
		return ESMTP_OK;
	}
	if (strcasecmp(key, "ORCPT") == 0) {
		if (r->orcpt[0] != '\0' || val == NULL ||
		    parse_orcpt(val, r->orcpt, sizeof(r->orcpt), utf8) == -1) {
			r->orcpt[0] = '\0';
			return ESMTP_ESYNTAX;
		}
		return ESMTP_OK;
	}
	return ESMTP_EUNKNOWN;
}
