/*
 * mtad/mta_relay.c: relay strings into host, port, numeric/MX.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "../../mtad/mta_relay.h"
#include "test.h"

static void
good(const char *in, const char *host, unsigned port, int numeric, int mx,
    int family, const char *name)
{
	struct mta_relay r;
	const char *why = NULL;
	char buf[MTA_RELAY_NAME_MAX], tname[128];
	int rv;

	rv = mta_relay_parse(in, &r, &why);
	if (rv == 0)
		mta_relay_name(&r, buf, sizeof(buf));
	else
		buf[0] = '\0';
	snprintf(tname, sizeof(tname), "parse %s", in);
	t_check(rv == 0 && strcmp(r.host, host) == 0 && r.port == port &&
	    r.numeric == numeric && r.mx == mx &&
	    (!numeric || r.family == family) &&
	    (name == NULL || strcmp(buf, name) == 0),
	    tname, "rv %d (%s) host '%s' port %u numeric %d mx %d name '%s'",
	    rv, why ? why : "", r.host, (unsigned)r.port, r.numeric, r.mx,
	    buf);
}

static void
bad(const char *in)
{
	struct mta_relay r;
	const char *why = NULL;
	char tname[128], *p;
	int rv;

	rv = mta_relay_parse(in, &r, &why);
	snprintf(tname, sizeof(tname), "reject '%s'", in);
	for (p = tname; *p != '\0'; p++)	/* one output line per case */
		if (*p == '\r' || *p == '\n')
			*p = '?';
	t_check(rv == -1 && why != NULL, tname, "rv %d host '%s'", rv,
	    r.host);
}

static void
test_sockaddr(void)
{
	struct mta_relay r;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&r.ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&r.ss;
	const char *why;
	char a[INET6_ADDRSTRLEN];

	mta_relay_parse("smtp:[127.0.0.1]:2525", &r, &why);
	inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
	t_check(sin->sin_family == AF_INET && ntohs(sin->sin_port) == 2525 &&
	    strcmp(a, "127.0.0.1") == 0 && r.sslen == sizeof(*sin),
	    "IPv4 sockaddr filled", "family %d port %u addr %s",
	    sin->sin_family, ntohs(sin->sin_port), a);

	mta_relay_parse("smtp:[IPv6:::1]", &r, &why);
	inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
	t_check(sin6->sin6_family == AF_INET6 && ntohs(sin6->sin6_port) == 25 &&
	    strcmp(a, "::1") == 0 && r.sslen == sizeof(*sin6),
	    "IPv6 sockaddr filled", "family %d port %u addr %s",
	    sin6->sin6_family, ntohs(sin6->sin6_port), a);
}

int
main(void)
{
	char longname[400];

	good("smtp:[127.0.0.1]:2525", "127.0.0.1", 2525, 1, 0, AF_INET,
	    "127.0.0.1:2525");
	good("smtp:[192.0.2.1]", "192.0.2.1", 25, 1, 0, AF_INET,
	    "192.0.2.1:25");
	good("smtp:192.0.2.1:25", "192.0.2.1", 25, 1, 0, AF_INET,
	    "192.0.2.1:25");
	good("smtp:192.0.2.1", "192.0.2.1", 25, 1, 0, AF_INET,
	    "192.0.2.1:25");
	good("smtp:[::1]:2525", "::1", 2525, 1, 0, AF_INET6, "[::1]:2525");
	good("smtp:[IPv6:2001:db8::1]", "2001:db8::1", 25, 1, 0, AF_INET6,
	    "[2001:db8::1]:25");
	good("smtp:[ipv6:::1]:587", "::1", 587, 1, 0, AF_INET6,
	    "[::1]:587");
	good("smtp:2001:db8::25", "2001:db8::25", 25, 1, 0, AF_INET6,
	    "[2001:db8::25]:25");
	good("SMTP:[10.0.0.5]:65535", "10.0.0.5", 65535, 1, 0, AF_INET,
	    "10.0.0.5:65535");
	good("smtp:example.com", "example.com", 25, 0, 1, 0,
	    "example.com:25");
	good("smtp:mx.example.com:2525", "mx.example.com", 2525, 0, 1, 0,
	    "mx.example.com:2525");
	good("smtp:[mx.example.com]", "mx.example.com", 25, 0, 0, 0,
	    "mx.example.com:25");
	good("smtp:[mail-1.ex_ample.com]:26", "mail-1.ex_ample.com", 26, 0,
	    0, 0, "mail-1.ex_ample.com:26");
	good("smtp:localhost", "localhost", 25, 0, 1, 0, "localhost:25");

	bad("");
	bad("smtp:");
	bad("error:5.1.1 no such user");
	bad("lmtp:[127.0.0.1]");
	bad("smtp:[]");
	bad("smtp:[]:25");
	bad("smtp:[127.0.0.1");
	bad("smtp:[127.0.0.1]x");
	bad("smtp:[127.0.0.1]:");
	bad("smtp:[127.0.0.1]:0");
	bad("smtp:[127.0.0.1]:65536");
	bad("smtp:[127.0.0.1]:123456");
	bad("smtp:[127.0.0.1]:25x");
	bad("smtp:[127.0.0.1]:-1");
	bad("smtp:[127.0.0.1]: 25");
	bad("smtp:127.0.0.1:");
	bad("smtp::25");
	bad("smtp:[IPv6:127.0.0.1]");
	bad("smtp:[IPv6:]");
	bad("smtp:[::1:2525");
	bad("smtp:[fe80::1%eth0]");
	bad("smtp:[2001:db8::g]");
	bad("smtp:256.1.1.1");
	bad("smtp:1.2.3");
	bad("smtp:example..com");
	bad("smtp:.example.com");
	bad("smtp:example.com.");
	bad("smtp:exa mple.com");
	bad("smtp:exa\r\nmple.com");
	bad("smtp:[a@b]");
	bad("smtp:host:25:26");

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname, "smtp:", 5);
	bad(longname);
	/* a label of 63 characters is fine, 64 is not */
	memset(longname, 0, sizeof(longname));
	memcpy(longname, "smtp:", 5);
	memset(longname + 5, 'b', 63);
	memcpy(longname + 5 + 63, ".com", 5);
	good(longname, longname + 5, 25, 0, 1, 0, NULL);
	memset(longname + 5, 'b', 64);
	memcpy(longname + 5 + 64, ".com", 5);
	bad(longname);

	test_sockaddr();
	return t_exit();
}
