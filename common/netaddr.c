/*
 * Network matching for `relay from <networks>`: entries are IPv4 or IPv6
 * addresses or CIDR prefixes ("127.0.0.0/8", "::1", "[2001:db8::]/32"),
 * parsed strictly when the table is loaded: a bad entry or one with host
 * bits set past its prefix ("10.1.2.3/8") fails the load rather than
 * silently trusting more, or less, than the administrator wrote.
 *
 * An IPv4-mapped IPv6 client (::ffff:192.0.2.1, a dual-stack listener)
 * matches IPv4 entries, and an IPv4 client matches ::ffff:0:0/96-style
 * IPv6 entries: the same host is the same host.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "netaddr.h"

static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Numeric address only: "192.0.2.1", "2001:db8::1", "[2001:db8::1]",
 * "fe80::1%eth0" (scope dropped).  0 or -1. */
int
netaddr_host(const char *s, struct netaddr *a)
{
	char	buf[INET6_ADDRSTRLEN + 64], *p;
	size_t	len = strlen(s);

	memset(a, 0, sizeof(*a));
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a->addr) == 1) {
		a->family = AF_INET;
		a->prefix = 32;
		return 0;
	}
	if ((p = strchr(buf, '%')) != NULL && p != buf && p[1] != '\0')
		*p = '\0';
	if (inet_pton(AF_INET6, buf, a->addr) == 1) {
		a->family = AF_INET6;
		a->prefix = 128;
		return 0;
	}
	return -1;
}

/* Whether the first bits of a and b agree. */
static int
netaddr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned	full = bits / 8, rest = bits % 8;
	uint8_t		mask;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int
netaddr_parse(const char *s, struct netaddr *net, char *why, size_t whysz)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long	 bits;
	struct netaddr	 masked;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		goto bad;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (strchr(buf, '%') != NULL || netaddr_host(buf, net) == -1)
		goto bad;
	if (slash == NULL)
		return 0;
	if (*slash < '0' || *slash > '9' || (slash[0] == '0' && slash[1]))
		goto bad;
	bits = strtoul(slash, &end, 10);
	if (*end != '\0' || bits > net->prefix)
		goto bad;
	net->prefix = (unsigned)bits;
	masked = *net;
	memset(masked.addr, 0, sizeof(masked.addr));
	memcpy(masked.addr, net->addr, net->prefix / 8);
	if (net->prefix % 8)
		masked.addr[net->prefix / 8] = net->addr[net->prefix / 8] &
		    (uint8_t)(0xff << (8 - net->prefix % 8));
	if (memcmp(masked.addr, net->addr, sizeof(net->addr)) != 0) {
		char ok[INET6_ADDRSTRLEN];

		inet_ntop(net->family, masked.addr, ok, sizeof(ok));
		snprintf(why, whysz, "non-null host address bits in \"%s\", "
		    "perhaps \"%s/%u\" was meant", s, ok, net->prefix);
		return -1;
	}
	return 0;
bad:
	snprintf(why, whysz, "invalid network address \"%s\"", s);
	return -1;
}

int
netaddr_match(const struct netaddr *net, const struct netaddr *a)
{
	uint8_t mapped[16];

	if (net->family == a->family)
		return netaddr_prefix_eq(net->addr, a->addr, net->prefix);
	if (net->family == AF_INET &&
	    memcmp(a->addr, v4mapped, sizeof(v4mapped)) == 0)
		return netaddr_prefix_eq(net->addr, a->addr + 12, net->prefix);
	if (net->family == AF_INET6) {
		memcpy(mapped, v4mapped, sizeof(v4mapped));
		memcpy(mapped + 12, a->addr, 4);
		return netaddr_prefix_eq(net->addr, mapped, net->prefix);
	}
	return 0;
}

int
netlist_add(struct netlist *l, const char *s, char *why,
    size_t whysz)
{
	struct netaddr	net, *v;
	size_t		cap;

	if (netaddr_parse(s, &net, why, whysz) == -1)
		return -1;
	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 8;
		if ((v = reallocarray(l->v, cap, sizeof(*v))) == NULL) {
			snprintf(why, whysz, "out of memory");
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = net;
	return 0;
}

int
netlist_match(const struct netlist *l, const struct netaddr *a)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (netaddr_match(&l->v[i], a))
			return 1;
	return 0;
}

void
netlist_free(struct netlist *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}
