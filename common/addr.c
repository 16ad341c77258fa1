/*
 * RFC 5321 path and mailbox parsing (4.1.2), strict:
 *
 *   Path       = "<" [ A-d-l ":" ] Mailbox ">"      (A-d-l dropped)
 *   Mailbox    = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string          (at most 64 octets)
 *   Domain     = sub-domain *("." sub-domain)        (at most 255 octets,
 *                labels of letters, digits, hyphens, 1..63 octets, not
 *                starting or ending with a hyphen; no trailing dot)
 *   address-literal = "[" IPv4 "]" / "[IPv6:" IPv6 "]"  (checked with
 *                inet_pton; General-address-literal is refused)
 *
 * Only printable ASCII gets through: a control character, a byte >= 0x80,
 * a space or '<' / '>' outside quotes ends the parse with an error, so an
 * accepted address can never carry a line break into a log or a record.
 * With ADDR_UTF8 (RFC 6531, the client said SMTPUTF8) well-formed UTF-8
 * sequences of non-ASCII characters are allowed too, in atoms, quoted
 * strings and domain labels (U-labels), never a lone byte >= 0x80, an
 * overlong form or a surrogate; lengths stay counted in octets.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

#define ADDR_LABEL_MAX	63

/*
 * Length of the well-formed UTF-8 sequence of a non-ASCII character at p
 * (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF), or 0.
 */
static size_t
utf8_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Octets of one UTF-8 non-ASCII character at p when allowed, else 0. */
static size_t
utf8_at(const char *p, int flags)
{
	return (flags & ADDR_UTF8) ? utf8_len(p) : 0;
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_atext(int c)
{
	return is_alpha(c) || is_digit(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* qtextSMTP: printable ASCII but '"' and '\' */
static int
is_qtext(int c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/* dcontent: printable ASCII but '[' '\' ']' */
static int
is_dcontent(int c)
{
	return c >= 33 && c <= 126 && c != '[' && c != '\\' && c != ']';
}

/* Dot-string or Quoted-string at p; the end, or NULL. */
static const char *
scan_local(const char *p, int flags)
{
	const char *q = p;
	size_t u;

	if (*q == '"') {
		for (q++; *q != '"'; q++) {
			if (*q == '\\') {
				q++;
				if (*q < 32 || *q > 126)
					return NULL;
			} else if ((u = utf8_at(q, flags)) > 0)
				q += u - 1;
			else if (!is_qtext(*q))
				return NULL;
		}
		return q + 1;
	}
	for (;;) {
		if (!is_atext(*q) && utf8_at(q, flags) == 0)
			return NULL;	/* empty atom: leading, double dot */
		for (;;) {
			if (is_atext(*q))
				q++;
			else if ((u = utf8_at(q, flags)) > 0)
				q += u;
			else
				break;
		}
		if (*q != '.')
			return q;
		q++;
	}
}

/* sub-domain *("." sub-domain); the end, or NULL. */
static const char *
scan_domain_name(const char *p, int flags)
{
	const char *q = p, *label;
	size_t u;

	for (;;) {
		label = q;
		if (!is_alpha(*q) && !is_digit(*q) && utf8_at(q, flags) == 0)
			return NULL;	/* empty label, trailing dot */
		for (;;) {
			if (is_alpha(*q) || is_digit(*q) || *q == '-')
				q++;
			else if ((u = utf8_at(q, flags)) > 0)
				q += u;
			else
				break;
		}
		if (q[-1] == '-' || q - label > ADDR_LABEL_MAX)
			return NULL;
		if (*q != '.')
			return q;
		q++;
	}
}

/* "[" IPv4 "]" or "[IPv6:" IPv6 "]"; the end, or NULL. */
static const char *
scan_literal(const char *p)
{
	char buf[64];
	unsigned char addr[sizeof(struct in6_addr)];
	const char *q = p + 1;
	size_t len;

	while (is_dcontent(*q))
		q++;
	if (*q != ']')
		return NULL;
	len = q - (p + 1);
	if (len == 0 || len >= sizeof(buf))
		return NULL;
	memcpy(buf, p + 1, len);
	buf[len] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, buf + 5, addr) != 1)
			return NULL;
	} else if (inet_pton(AF_INET, buf, addr) != 1)
		return NULL;
	return q + 1;
}

static const char *
scan_domain(const char *p, int flags)
{
	return *p == '[' ? scan_literal(p) : scan_domain_name(p, flags);
}

static int
copy_part(char *dst, size_t dstsz, const char *from, const char *to)
{
	size_t len = to - from;

	if (len >= dstsz)
		return -1;
	memcpy(dst, from, len);
	dst[len] = '\0';
	return 0;
}

/*
 * Mailbox at p into a; with postmaster_ok, a bare "postmaster" followed by
 * '>' is accepted too.  The end, or NULL.
 */
static const char *
parse_mailbox(const char *p, struct mailaddr *a, int postmaster_ok,
    int flags)
{
	const char *at, *end;

	if ((at = scan_local(p, flags)) == NULL)
		return NULL;
	if (copy_part(a->local, sizeof(a->local), p, at) == -1)
		return NULL;
	if (postmaster_ok && *at == '>' && strcasecmp(a->local,
	    "postmaster") == 0) {
		a->domain[0] = '\0';
		return at;
	}
	if (*at != '@' || (end = scan_domain(at + 1, flags)) == NULL)
		return NULL;
	if (copy_part(a->domain, sizeof(a->domain), at + 1, end) == -1)
		return NULL;
	if ((size_t)(end - p) > ADDR_PATH_MAX - 2)
		return NULL;
	return end;
}

/* A-d-l ":" = "@" Domain *( "," "@" Domain ) ":"; the end, or NULL. */
static const char *
skip_route(const char *p)
{
	for (;;) {
		if (*p != '@' || (p = scan_domain_name(p + 1, 0)) == NULL)
			return NULL;
		if (*p == ':')
			return p + 1;
		if (*p != ',')
			return NULL;
		p++;
	}
}

int
addr_parse_path(const char *s, struct mailaddr *a, int allow_null,
    const char **endp)
{
	return addr_parse_path_flags(s, a, allow_null ? ADDR_ALLOW_NULL : 0,
	    endp);
}

int
addr_parse_path_flags(const char *s, struct mailaddr *a, int flags,
    const char **endp)
{
	const char *p = s, *end;
	int route = 0;

	memset(a, 0, sizeof(*a));
	if (*p++ != '<')
		return -1;
	if (*p == '>') {
		if (!(flags & ADDR_ALLOW_NULL))
			return -1;
		end = p;
	} else {
		if (*p == '@') {
			if ((p = skip_route(p)) == NULL)
				return -1;
			route = 1;
		}
		if ((end = parse_mailbox(p, a, !route, flags)) == NULL ||
		    *end != '>') {
			memset(a, 0, sizeof(*a));
			return -1;
		}
	}
	if (endp != NULL)
		*endp = end + 1;
	return 0;
}

int
addr_parse(const char *s, struct mailaddr *a)
{
	return addr_parse_flags(s, a, 0);
}

int
addr_parse_flags(const char *s, struct mailaddr *a, int flags)
{
	const char *end;

	memset(a, 0, sizeof(*a));
	if ((end = parse_mailbox(s, a, 0, flags)) == NULL || *end != '\0') {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

int
addr_format(const struct mailaddr *a, char *buf, size_t len)
{
	int n;

	if (len == 0)
		return -1;
	if (a->domain[0] == '\0')
		n = snprintf(buf, len, "%s", a->local);
	else
		n = snprintf(buf, len, "%s@%s", a->local, a->domain);
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

void
addr_lowercase_domain(struct mailaddr *a)
{
	char *p;

	for (p = a->domain; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
}

int
addr_is_null(const struct mailaddr *a)
{
	return a->local[0] == '\0' && a->domain[0] == '\0';
}

int
addr_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}
