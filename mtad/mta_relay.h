/*
 * The relay string that travels lookupd -> smtpd -> queued -> mtad:
 *
 *   smtp:[192.0.2.1]:2525   smtp:[::1]:2525   smtp:[IPv6:2001:db8::1]
 *   smtp:192.0.2.1:25       smtp:192.0.2.1    smtp:2001:db8::1 (whole
 *                                             string an IPv6 address)
 *   smtp:[mx.example.com]   host name, address lookup only (no MX)
 *   smtp:example.com:25     host name, MX lookup
 *
 * The port defaults to 25.  Numeric addresses, bracketed or not, never
 * need DNS.  Pure: no I/O, no lookups.
 */
#ifndef MXGATE_MTA_RELAY_H
#define MXGATE_MTA_RELAY_H

#include <sys/socket.h>

#include <stdint.h>

#define MTA_RELAY_HOST_MAX	256	/* RFC 1035 name: 253 chars */
#define MTA_RELAY_NAME_MAX	(MTA_RELAY_HOST_MAX + 8)	/* "[h]:65535" */

struct mta_relay {
	char		 host[MTA_RELAY_HOST_MAX];	/* no brackets, no "IPv6:" */
	uint16_t	 port;
	int		 numeric;	/* host is an IPv4 or IPv6 literal */
	int		 mx;		/* a name wanting its MX records */
	int		 family;	/* AF_INET, AF_INET6 when numeric */
	struct sockaddr_storage	 ss;	/* address and port when numeric */
	socklen_t	 sslen;
};

/* 0, or -1 with *why set to a static explanation. */
int	mta_relay_parse(const char *, struct mta_relay *, const char **why);
/* "192.0.2.1:2525", "[::1]:2525", "mx.example.com:25" for logs/results. */
void	mta_relay_name(const struct mta_relay *, char *, size_t);

#endif
