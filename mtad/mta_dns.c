/*
 * Next-hop resolution; see mta_dns.h.  One request walks two stages:
 *
 *   MX     (smtp:host only) our UDP query to each name server in turn,
 *          MTA_DNS_TRIES rounds, MTA_DNS_TIMEOUT seconds per try; a
 *          SERVFAIL or a refused port moves to the next server, NXDOMAIN
 *          and an answer are final; a truncated answer (TC) is asked
 *          again over TCP of the same server;
 *   ADDR   A and AAAA of every exchange at once through evdns.
 *
 * The route lists every address of the first exchange, then of the next,
 * so the session can try them all before it defers.  Whether a failure
 * is permanent is decided here and only on definite answers (NXDOMAIN,
 * no data, null MX); a timeout or a server failure always defers.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "log.h"
#include "mta_dns.h"
#include "mta_dns_msg.h"

#define MTA_DNS_TIMEOUT		5	/* seconds per MX try */
#define MTA_DNS_TRIES		2	/* rounds over the name servers */
#define MTA_DNS_ADDRS		8	/* per exchange and family */
#define MTA_TEXT_MAX		512
#define MTA_DNS_TCP_MAX		16384	/* an MX answer over TCP */

struct mta_dns_host {
	struct mta_mx		 mx;
	unsigned		 order;		/* random among equal prefs */
	struct sockaddr_storage	 addr[2][MTA_DNS_ADDRS];	/* A, AAAA */
	socklen_t		 addrlen[2][MTA_DNS_ADDRS];
	size_t			 naddr[2];
	int			 temp;		/* a lookup failed for now */
};

struct mta_dns_query {
	struct mta_dns_req	*req;
	size_t			 host;
	int			 v6;
};

struct mta_dns_req {
	struct mta_relay	 relay;
	mta_dns_cb		 cb;
	void			*arg;
	struct event		*ev;		/* start, MX reply or timeout */
	int			 sock;		/* MX query; -1 */
	uint16_t		 id;
	unsigned char		 query[MTA_DNS_QUERY_MAX];
	size_t			 qlen;
	int			 try;
	int			 servfail;
	struct sockaddr_storage	 ns;		/* the server asked last */
	socklen_t		 nslen;
	unsigned char		*tcpbuf;	/* TCP: length, then answer */
	size_t			 tcplen;
	int			 tcpsent;
	struct mta_dns_host	 hosts[MTA_DNS_MX_MAX];
	size_t			 nhosts;
	int			 implicit;	/* no MX: the host itself */
	struct mta_dns_query	 queries[2 * MTA_DNS_MX_MAX];
	size_t			 pending;	/* evdns queries out */
	int			 launching;
};

static struct evdns_base	*mta_evdns;
static struct event_base	*mta_dns_base;

static void	mta_dns_mx_send(struct mta_dns_req *);

void
mta_dns_init(struct event_base *base, const char *path)
{
	int rv;

	mta_dns_base = base;
	if ((mta_evdns = evdns_base_new(base, 0)) == NULL)
		fatalx("evdns_base_new");
	rv = evdns_base_resolv_conf_parse(mta_evdns,
	    DNS_OPTION_NAMESERVERS | DNS_OPTION_MISC, path);
	if (rv != 0)
		log_warnx("resolver %s: %s; using 127.0.0.1", path,
		    rv == 1 ? "cannot open" : rv == 6 ? "no nameserver" :
		    "cannot parse");
	if (evdns_base_count_nameservers(mta_evdns) == 0 &&
	    evdns_base_nameserver_ip_add(mta_evdns, "127.0.0.1") != 0)
		fatalx("evdns: cannot add 127.0.0.1");
}

static void
mta_dns_free(struct mta_dns_req *req)
{
	free(req->tcpbuf);
	if (req->ev != NULL)
		event_free(req->ev);
	if (req->sock != -1)
		close(req->sock);
	free(req);
}

/* The end of a request, whatever its outcome. */
static void
mta_dns_done(struct mta_dns_req *req, enum mta_status status,
    const char *text, const struct mta_route *route)
{
	static const struct mta_route empty;

	if (req->cb != NULL)
		req->cb(req->arg, status, text, route != NULL ? route : &empty);
	mta_dns_free(req);
}

static void __attribute__((format(printf, 3, 4)))
mta_dns_fail(struct mta_dns_req *req, enum mta_status status,
    const char *fmt, ...)
{
	char	 text[MTA_TEXT_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	mta_dns_done(req, status, text, NULL);
}

/* Append one exchange's addresses of one family to the route. */
static void
mta_dns_route_add(struct mta_route *rt, const struct mta_dns_host *h,
    int v6, uint16_t port)
{
	struct mta_addr	*a;
	char		 ip[INET6_ADDRSTRLEN];
	size_t		 i;
	const void	*sa;

	for (i = 0; i < h->naddr[v6] && rt->naddr < MTA_ROUTE_MAX; i++) {
		a = &rt->addr[rt->naddr++];
		memcpy(&a->ss, &h->addr[v6][i], h->addrlen[v6][i]);
		a->sslen = h->addrlen[v6][i];
		if (v6) {
			((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
			sa = &((struct sockaddr_in6 *)&a->ss)->sin6_addr;
		} else {
			((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
			sa = &((struct sockaddr_in *)&a->ss)->sin_addr;
		}
		inet_ntop(v6 ? AF_INET6 : AF_INET, sa, ip, sizeof(ip));
		if (strcmp(h->mx.host, ip) == 0)	/* a literal */
			snprintf(a->name, sizeof(a->name), v6 ? "[%s]:%u" :
			    "%s:%u", ip, (unsigned)port);
		else
			snprintf(a->name, sizeof(a->name), "%s[%s]:%u",
			    h->mx.host, ip, (unsigned)port);
		strlcpy(a->host, h->mx.host, sizeof(a->host));
	}
}

/* Every address lookup has ended: build the route or say why not. */
static void
mta_dns_finish(struct mta_dns_req *req)
{
	struct mta_route	 rt;
	size_t			 i;
	int			 temp = 0;

	rt.naddr = 0;
	for (i = 0; i < req->nhosts; i++) {
		mta_dns_route_add(&rt, &req->hosts[i], 0, req->relay.port);
		mta_dns_route_add(&rt, &req->hosts[i], 1, req->relay.port);
		temp |= req->hosts[i].temp;
	}
	if (rt.naddr > 0)
		mta_dns_done(req, MTA_OK, "", &rt);
	else if (temp)
		mta_dns_fail(req, MTA_TEMPFAIL, "4.4.3 Host or domain name "
		    "lookup failed for %s: temporary DNS failure",
		    req->relay.host);
	else if (req->implicit)
		mta_dns_fail(req, MTA_PERMFAIL, "5.4.4 Host or domain name "
		    "not found: no address for %s", req->relay.host);
	else
		mta_dns_fail(req, MTA_PERMFAIL, "5.4.4 no address for any "
		    "mail exchanger of %s", req->relay.host);
}

static void
mta_dns_addr_cb(int result, char type, int count, int ttl, void *addrs,
    void *arg)
{
	struct mta_dns_query	*q = arg;
	struct mta_dns_req	*req = q->req;
	struct mta_dns_host	*h = &req->hosts[q->host];
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	int			 i;

	req->pending--;
	if (result == DNS_ERR_NONE && (type == DNS_IPv4_A ||
	    type == DNS_IPv6_AAAA)) {
		for (i = 0; i < count && h->naddr[q->v6] < MTA_DNS_ADDRS;
		    i++) {
			size_t k = h->naddr[q->v6]++;

			memset(&h->addr[q->v6][k], 0, sizeof(h->addr[0][0]));
			if (q->v6) {
				sin6 = (struct sockaddr_in6 *)&h->addr[1][k];
				sin6->sin6_family = AF_INET6;
				memcpy(&sin6->sin6_addr,
				    (struct in6_addr *)addrs + i, 16);
				h->addrlen[1][k] = sizeof(*sin6);
			} else {
				sin = (struct sockaddr_in *)&h->addr[0][k];
				sin->sin_family = AF_INET;
				memcpy(&sin->sin_addr,
				    (uint32_t *)addrs + i, 4);
				h->addrlen[0][k] = sizeof(*sin);
			}
		}
	} else if (result != DNS_ERR_NONE && result != DNS_ERR_NOTEXIST &&
	    result != DNS_ERR_NODATA)
		h->temp = 1;
	if (req->pending == 0 && !req->launching) {
		if (req->cb == NULL)
			mta_dns_free(req);	/* cancelled meanwhile */
		else
			mta_dns_finish(req);
	}
}

/* A literal address as an exchange needs no lookup. */
static int
mta_dns_literal(struct mta_dns_host *h)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&h->addr[0][0];
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&h->addr[1][0];

	memset(h->addr, 0, sizeof(h->addr));
	if (inet_pton(AF_INET, h->mx.host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		h->addrlen[0][0] = sizeof(*sin);
		h->naddr[0] = 1;
		return 1;
	}
	if (inet_pton(AF_INET6, h->mx.host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		h->addrlen[1][0] = sizeof(*sin6);
		h->naddr[1] = 1;
		return 1;
	}
	return 0;
}

static void
mta_dns_addr_start(struct mta_dns_req *req)
{
	struct mta_dns_query	*q;
	size_t			 i;
	int			 v6;

	req->launching = 1;
	for (i = 0; i < req->nhosts; i++) {
		if (mta_dns_literal(&req->hosts[i]))
			continue;
		for (v6 = 0; v6 < 2; v6++) {
			q = &req->queries[2 * i + v6];
			q->req = req;
			q->host = i;
			q->v6 = v6;
			req->pending++;
			if ((v6 ? evdns_base_resolve_ipv6 :
			    evdns_base_resolve_ipv4)(mta_evdns,
			    req->hosts[i].mx.host, DNS_QUERY_NO_SEARCH,
			    mta_dns_addr_cb, q) == NULL) {
				req->pending--;
				req->hosts[i].temp = 1;
			}
		}
	}
	req->launching = 0;
	if (req->pending == 0)
		mta_dns_finish(req);
}

static int
mta_dns_mx_cmp(const void *a, const void *b)
{
	const struct mta_dns_host *x = a, *y = b;

	if (x->mx.pref != y->mx.pref)
		return x->mx.pref < y->mx.pref ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* An MX answer: null MX, implicit MX, or the exchanges in order. */
static void
mta_dns_mx_result(struct mta_dns_req *req, struct mta_mx *mx, size_t n)
{
	size_t i;

	if (n == 1 && mx[0].host[0] == '\0') {
		mta_dns_fail(req, MTA_PERMFAIL, "556 5.1.10 domain %s does "
		    "not accept mail (null MX, RFC 7505)", req->relay.host);
		return;
	}
	for (i = 0; i < n; i++) {
		if (mx[i].host[0] == '\0')
			continue;	/* a null MX among others: ignored */
		req->hosts[req->nhosts].mx = mx[i];
		req->hosts[req->nhosts].order = arc4random();
		req->nhosts++;
	}
	if (req->nhosts == 0) {
		req->implicit = 1;
		strlcpy(req->hosts[0].mx.host, req->relay.host,
		    sizeof(req->hosts[0].mx.host));
		req->nhosts = 1;
	}
	qsort(req->hosts, req->nhosts, sizeof(req->hosts[0]), mta_dns_mx_cmp);
	mta_dns_addr_start(req);
}

static void	mta_dns_tcp_start(struct mta_dns_req *);

/* An answer from a name server, over UDP or TCP. */
static void
mta_dns_mx_handle(struct mta_dns_req *req, const unsigned char *pkt,
    size_t len, int tcp)
{
	struct mta_mx	 mx[MTA_DNS_MX_MAX];
	size_t		 n;

	switch (mta_dns_mx_answer(pkt, len, req->id, req->relay.host,
	    mx, MTA_DNS_MX_MAX, &n)) {
	case MTA_DNS_MALFORMED:
		if (tcp)
			mta_dns_fail(req, MTA_TEMPFAIL, "4.4.3 MX lookup of %s: "
			    "malformed answer over TCP", req->relay.host);
		return;			/* UDP: not ours, keep waiting */
	case MTA_DNS_SERVFAIL:
		req->servfail = 1;
		mta_dns_mx_send(req);
		return;
	case MTA_DNS_TRUNCATED:
		if (tcp)
			mta_dns_fail(req, MTA_TEMPFAIL, "4.4.3 MX lookup of "
			    "%s: answer truncated over TCP", req->relay.host);
		else
			mta_dns_tcp_start(req);
		return;
	case MTA_DNS_NXDOMAIN:
		mta_dns_fail(req, MTA_PERMFAIL, "5.4.4 Host or domain name "
		    "not found: %s does not exist (NXDOMAIN)",
		    req->relay.host);
		return;
	case MTA_DNS_ANSWER:
		close(req->sock);
		req->sock = -1;
		event_free(req->ev);
		req->ev = NULL;
		mta_dns_mx_result(req, mx, n);
		return;
	}
}

static void
mta_dns_mx_read(struct mta_dns_req *req)
{
	unsigned char	 pkt[MTA_DNS_UDP_MAX + 512];
	ssize_t		 len;

	if ((len = recv(req->sock, pkt, sizeof(pkt), 0)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		req->servfail = 1;	/* e.g. ECONNREFUSED: next server */
		mta_dns_mx_send(req);
		return;
	}
	mta_dns_mx_handle(req, pkt, (size_t)len, 0);
}

/* TCP: the query once connected, then the answer as it comes. */
static void
mta_dns_tcp_event(evutil_socket_t fd, short what, void *arg)
{
	struct mta_dns_req	*req = arg;
	struct timeval		 tv = { MTA_DNS_TIMEOUT, 0 };
	unsigned char		 out[2 + MTA_DNS_QUERY_MAX];
	socklen_t		 sl = sizeof(int);
	ssize_t			 n;
	size_t			 want;
	int			 err = 0;

	if (what & EV_TIMEOUT) {
		mta_dns_fail(req, MTA_TEMPFAIL, "4.4.3 MX lookup of %s over "
		    "TCP timed out", req->relay.host);
		return;
	}
	if (!req->tcpsent) {
		out[0] = req->qlen >> 8;
		out[1] = req->qlen & 0xff;
		memcpy(out + 2, req->query, req->qlen);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1 ||
		    err != 0 || send(fd, out, req->qlen + 2, 0) !=
		    (ssize_t)(req->qlen + 2)) {
			mta_dns_fail(req, MTA_TEMPFAIL, "4.4.3 MX lookup of %s "
			    "over TCP: cannot send the query", req->relay.host);
			return;
		}
		req->tcpsent = 1;
		event_free(req->ev);
		if ((req->ev = event_new(mta_dns_base, fd, EV_READ | EV_PERSIST,
		    mta_dns_tcp_event, req)) == NULL ||
		    event_add(req->ev, &tv) == -1)
			fatalx("event_new");
		return;
	}
	n = recv(fd, req->tcpbuf + req->tcplen, MTA_DNS_TCP_MAX + 2 -
	    req->tcplen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		mta_dns_fail(req, MTA_TEMPFAIL, "4.4.3 MX lookup of %s over "
		    "TCP: connection closed", req->relay.host);
		return;
	}
	req->tcplen += (size_t)n;
	if (req->tcplen < 2)
		return;
	want = (size_t)(req->tcpbuf[0] << 8 | req->tcpbuf[1]) + 2;
	if (want > MTA_DNS_TCP_MAX + 2)
		mta_dns_fail(req, MTA_TEMPFAIL, "4.4.3 MX lookup of %s: "
		    "answer too large", req->relay.host);
	else if (req->tcplen >= want)
		mta_dns_mx_handle(req, req->tcpbuf + 2, want - 2, 1);
}

/* The UDP answer was truncated: the same question over TCP. */
static void
mta_dns_tcp_start(struct mta_dns_req *req)
{
	struct timeval tv = { MTA_DNS_TIMEOUT, 0 };

	event_free(req->ev);
	req->ev = NULL;
	close(req->sock);
	if ((req->tcpbuf = malloc(MTA_DNS_TCP_MAX + 2)) == NULL)
		fatal("malloc");
	req->tcplen = 0;
	req->tcpsent = 0;
	if ((req->sock = socket(req->ns.ss_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    (connect(req->sock, (struct sockaddr *)&req->ns, req->nslen) == -1
	    && errno != EINPROGRESS)) {
		mta_dns_fail(req, MTA_TEMPFAIL, "4.4.3 MX lookup of %s over "
		    "TCP: %s", req->relay.host, strerror(errno));
		return;
	}
	/* writable once connected: the query goes; then readable */
	if ((req->ev = event_new(mta_dns_base, req->sock, EV_WRITE,
	    mta_dns_tcp_event, req)) == NULL || event_add(req->ev, &tv) == -1)
		fatalx("event_new");
}

static void
mta_dns_mx_event(evutil_socket_t fd, short what, void *arg)
{
	struct mta_dns_req *req = arg;

	if (what & EV_READ)
		mta_dns_mx_read(req);
	else
		mta_dns_mx_send(req);	/* timed out: the next try */
}

/* Send the query to the next name server, or give up. */
static void
mta_dns_mx_send(struct mta_dns_req *req)
{
	struct sockaddr_storage	 ns;
	struct timeval		 tv = { MTA_DNS_TIMEOUT, 0 };
	int			 nns, len;

	nns = evdns_base_count_nameservers(mta_evdns);
	if (req->ev != NULL)
		event_free(req->ev);
	req->ev = NULL;
	if (req->sock != -1)
		close(req->sock);
	req->sock = -1;
	if (nns <= 0 || req->try >= MTA_DNS_TRIES * nns) {
		mta_dns_fail(req, MTA_TEMPFAIL, "4.4.3 MX lookup of %s "
		    "failed: %s", req->relay.host, req->servfail ?
		    "server failure" : "timed out");
		return;
	}
	len = evdns_base_get_nameserver_addr(mta_evdns, req->try++ % nns,
	    (struct sockaddr *)&ns, sizeof(ns));
	if (len > 0 && (size_t)len <= sizeof(ns)) {
		req->ns = ns;
		req->nslen = (socklen_t)len;
	}
	if (len <= 0 || (size_t)len > sizeof(ns) ||
	    (req->sock = socket(ns.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    connect(req->sock, (struct sockaddr *)&ns, (socklen_t)len) == -1 ||
	    send(req->sock, req->query, req->qlen, 0) == -1) {
		if (req->sock == -1 && len > 0)
			log_warn("MX lookup of %s: socket", req->relay.host);
		req->servfail = 1;
		mta_dns_mx_send(req);
		return;
	}
	if ((req->ev = event_new(mta_dns_base, req->sock, EV_READ | EV_PERSIST,
	    mta_dns_mx_event, req)) == NULL || event_add(req->ev, &tv) == -1)
		fatalx("event_new");
}

static void
mta_dns_start(evutil_socket_t fd, short what, void *arg)
{
	struct mta_dns_req	*req = arg;
	struct mta_dns_host	*h = &req->hosts[0];

	event_free(req->ev);
	req->ev = NULL;
	if (req->relay.numeric) {
		strlcpy(h->mx.host, req->relay.host, sizeof(h->mx.host));
		req->nhosts = 1;
		mta_dns_addr_start(req);
	} else if (!req->relay.mx) {
		req->implicit = 1;
		strlcpy(h->mx.host, req->relay.host, sizeof(h->mx.host));
		req->nhosts = 1;
		mta_dns_addr_start(req);
	} else {
		req->id = (uint16_t)arc4random();
		if ((req->qlen = mta_dns_mx_query(req->id, req->relay.host,
		    req->query, sizeof(req->query))) == 0)
			mta_dns_fail(req, MTA_PERMFAIL, "5.4.4 bad host "
			    "name %s", req->relay.host);
		else
			mta_dns_mx_send(req);
	}
}

struct mta_dns_req *
mta_dns_resolve(const struct mta_relay *relay, mta_dns_cb cb, void *arg)
{
	struct mta_dns_req	*req;
	struct timeval		 now = { 0, 0 };

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("calloc");
	req->relay = *relay;
	req->cb = cb;
	req->arg = arg;
	req->sock = -1;
	if ((req->ev = evtimer_new(mta_dns_base, mta_dns_start, req)) == NULL ||
	    evtimer_add(req->ev, &now) == -1)
		fatalx("evtimer_new");
	return req;
}

void
mta_dns_cancel(struct mta_dns_req *req)
{
	req->cb = NULL;
	if (req->pending == 0)
		mta_dns_free(req);
	/* else evdns answers or times out, and the last callback frees */
}
