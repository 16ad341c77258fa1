/*
 * Received: header (see smtp_received.h).
 */
#include <stdio.h>
#include <string.h>

#include "smtp_received.h"

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * Dot-separated labels of letters, digits, '-' and (seen in the wild,
 * harmless here) '_'; a final dot is allowed.
 */
static int
helo_domain(const char *s)
{
	size_t	 label = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (is_alnum((unsigned char)*s) || *s == '-' ||
		    *s == '_') {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return 1;
}

/* "[" dcontent "]": printable, no brackets or backslash inside. */
static int
helo_literal(const char *s)
{
	size_t	 n = strlen(s);

	if (n < 3 || s[0] != '[' || s[n - 1] != ']')
		return 0;
	return strcspn(s + 1, "[]\\") == n - 2;
}

int
smtp_received_helo_ok(const char *helo)
{
	if (helo[0] == '\0' || strlen(helo) > 255)
		return 0;
	return helo[0] == '[' ? helo_literal(helo) : helo_domain(helo);
}

/* The HELO as comment text: no parentheses, backslashes or quotes. */
static void
helo_comment(const char *helo, char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; helo[i] != '\0' && i + 1 < len; i++)
		buf[i] = strchr("()\\\"", helo[i]) != NULL ? '?' : helo[i];
	buf[i] = '\0';
}

int
smtp_received_format(char *buf, size_t len, const struct smtp_received *r)
{
	char		 date[64], lit[64], from[320], comment[300] = "";
	struct tm	 tm;
	int		 n;

	localtime_r(&r->when, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	snprintf(lit, sizeof(lit), "[%s%s]", strchr(r->ip, ':') ? "IPv6:" :
	    "", r->ip);
	if (smtp_received_helo_ok(r->helo))
		snprintf(from, sizeof(from), "%s", r->helo);
	else {
		snprintf(from, sizeof(from), "%s", lit);
		helo_comment(r->helo, comment, sizeof(comment));
	}
	n = snprintf(buf, len, "Received: from %s (%s)%s%s%s\r\n"
	    "%s%s%s\tby %s (mxgate) with %s id %s%s%s%s;%s%s\r\n",
	    from, lit, comment[0] ? " (HELO " : "", comment,
	    comment[0] ? ")" : "", r->tls ? "\t(using " : "",
	    r->tls ? r->tls : "", r->tls ? ")\r\n" : "",
	    r->hostname, r->proto, r->id,
	    r->rcpt ? "\r\n\tfor <" : "", r->rcpt ? r->rcpt : "",
	    r->rcpt ? ">" : "", r->rcpt ? " " : "\r\n\t", date);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}
