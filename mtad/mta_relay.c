/*
 * Relay string parser; the forms are in mta_relay.h.  Strict: anything
 * but a numeric address or a plain host name, and a decimal port, is
 * refused, so what comes out can go into a log line or a connect() as is.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mta_relay.h"

static int
mta_relay_fail(const char **why, const char *text)
{
	*why = text;
	return -1;
}

/* 1..65535 in at most five decimal digits, else -1. */
static int
mta_relay_port(const char *s)
{
	size_t i;
	long v = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == 5 || !isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0 || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/* A host name: dot-separated labels of letters, digits, '-' and '_',
 * 1..63 chars each, not all-numeric at the end (that would be a broken
 * address, not a name). */
static int
mta_relay_hostname_ok(const char *h)
{
	size_t label = 0, i;
	int digits = 1;

	for (i = 0; h[i] != '\0'; i++) {
		if (h[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			digits = 1;
			continue;
		}
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    h[i] != '_')
			return 0;
		if (!isdigit((unsigned char)h[i]))
			digits = 0;
		if (++label > 63)
			return 0;
	}
	return i > 0 && i <= 253 && label > 0 && !digits;
}

/* Fill family and sockaddr if r->host is a literal for the family. */
static int
mta_relay_numeric(struct mta_relay *r, int family)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&r->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&r->ss;

	memset(&r->ss, 0, sizeof(r->ss));
	if (family == AF_INET) {
		if (inet_pton(AF_INET, r->host, &sin->sin_addr) != 1)
			return 0;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(r->port);
		r->sslen = sizeof(*sin);
	} else {
		if (inet_pton(AF_INET6, r->host, &sin6->sin6_addr) != 1)
			return 0;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(r->port);
		r->sslen = sizeof(*sin6);
	}
	r->family = family;
	r->numeric = 1;
	return 1;
}

/* Split "smtp:..." into host (copied into r) and port text. */
static int
mta_relay_split(const char *p, struct mta_relay *r, const char **portp,
    int *bracket, int *v6tag, const char **why)
{
	const char	*end, *colon;
	size_t		 len;

	*portp = NULL;
	*bracket = *v6tag = 0;
	if (*p == '[') {
		*bracket = 1;
		if ((end = strchr(++p, ']')) == NULL)
			return mta_relay_fail(why, "missing ']'");
		if (end[1] == ':')
			*portp = end + 2;
		else if (end[1] != '\0')
			return mta_relay_fail(why, "junk after ']'");
		if (strncasecmp(p, "IPv6:", 5) == 0) {
			*v6tag = 1;
			p += 5;
		}
	} else if ((colon = strchr(p, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		end = colon;
		*portp = colon + 1;
	} else
		end = p + strlen(p);	/* no port, or a bare IPv6 address */
	if ((len = (size_t)(end - p)) == 0)
		return mta_relay_fail(why, "empty host");
	if (len >= sizeof(r->host))
		return mta_relay_fail(why, "host too long");
	memcpy(r->host, p, len);
	r->host[len] = '\0';
	return 0;
}

int
mta_relay_parse(const char *s, struct mta_relay *r, const char **why)
{
	const char	*portstr;
	int		 bracket, v6tag, port;

	memset(r, 0, sizeof(*r));
	r->port = 25;
	if (strncasecmp(s, "smtp:", 5) != 0)
		return mta_relay_fail(why, "not an smtp: relay");
	if (mta_relay_split(s + 5, r, &portstr, &bracket, &v6tag, why) == -1)
		return -1;
	if (portstr != NULL) {
		if ((port = mta_relay_port(portstr)) == -1)
			return mta_relay_fail(why, "bad port");
		r->port = (uint16_t)port;
	}
	if (v6tag) {
		if (!mta_relay_numeric(r, AF_INET6))
			return mta_relay_fail(why, "bad IPv6 address");
		return 0;
	}
	if (strchr(r->host, ':') != NULL) {
		if (!mta_relay_numeric(r, AF_INET6))
			return mta_relay_fail(why, "bad IPv6 address");
		return 0;
	}
	if (mta_relay_numeric(r, AF_INET))
		return 0;
	if (!mta_relay_hostname_ok(r->host))
		return mta_relay_fail(why, "bad host name");
	r->mx = !bracket;
	return 0;
}

void
mta_relay_name(const struct mta_relay *r, char *buf, size_t sz)
{
	if (r->numeric && r->family == AF_INET6)
		snprintf(buf, sz, "[%s]:%u", r->host, (unsigned)r->port);
	else
		snprintf(buf, sz, "%s:%u", r->host, (unsigned)r->port);
}
