/*
 * Next-hop resolution for mtad, asynchronous on the worker's event base:
 *
 *   smtp:[host]:port   A and AAAA of host
 *   smtp:host[:port]   MX of host by preference, random among equal
 *                      preferences; A and AAAA of each exchange; no MX
 *                      record: host itself (implicit MX, RFC 5321 5.1);
 *                      a null MX (RFC 7505): permanent failure
 *   numeric            the address itself, no DNS
 *
 * A and AAAA go through libevent's evdns; MX, which evdns cannot ask,
 * through a small client of our own (UDP, TCP when the answer is
 * truncated) to the same name servers.  The
 * resolv.conf is read by mta_dns_init(), before the sandbox.
 */
#ifndef MXGATE_MTA_DNS_H
#define MXGATE_MTA_DNS_H

#include <sys/socket.h>

#include <event2/event.h>
#include <netinet/in.h>

#include "mta_relay.h"
#include "proto.h"

#define MTA_ROUTE_MAX		32	/* addresses tried per delivery */
#define MTA_ADDR_NAME_MAX	(MTA_RELAY_HOST_MAX + 64)

struct mta_addr {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	/* "mx1.example.com[192.0.2.1]:25", "[2001:db8::1]:25" */
	char			 name[MTA_ADDR_NAME_MAX];
	char			 host[MTA_RELAY_HOST_MAX];	/* for TLS */
};

struct mta_route {
	size_t		 naddr;
	struct mta_addr	 addr[MTA_ROUTE_MAX];
};

/*
 * status MTA_OK: route holds at least one address, in the order to try.
 * Otherwise text is an enhanced status and an explanation for the DSN
 * ("4.4.3 ...", "5.1.10 ..."), route is empty.
 */
typedef void	(*mta_dns_cb)(void *arg, enum mta_status status,
		    const char *text, const struct mta_route *route);

struct mta_dns_req;

/* Read the resolver configuration; once, before the sandbox. */
void	mta_dns_init(struct event_base *, const char *resolv_conf);
/* cb is called exactly once, never before this returns, unless
 * mta_dns_cancel() comes first. */
struct mta_dns_req *mta_dns_resolve(const struct mta_relay *, mta_dns_cb,
	    void *arg);
void	mta_dns_cancel(struct mta_dns_req *);

#endif
