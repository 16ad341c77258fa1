/*
 * DNS messages for the one query libevent's evdns cannot make: MX
 * (RFC 1035, null MX RFC 7505).  Pure: no I/O, no allocation, every
 * offset bounds-checked, compression pointers followed a bounded number
 * of times, so a hostile answer can neither overrun nor loop.
 */
#ifndef MXGATE_MTA_DNS_MSG_H
#define MXGATE_MTA_DNS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "mta_relay.h"

#define MTA_DNS_MX_MAX		16	/* MX records kept per answer */
#define MTA_DNS_QUERY_MAX	(12 + 256 + 4 + 11)	/* header, question, OPT */
#define MTA_DNS_UDP_MAX		1232	/* our EDNS0 buffer size */

enum mta_dns_rc {
	MTA_DNS_ANSWER,		/* NOERROR: *n records (0: no MX) */
	MTA_DNS_NXDOMAIN,	/* the name does not exist */
	MTA_DNS_SERVFAIL,	/* SERVFAIL, REFUSED, ...: ask another server */
	MTA_DNS_TRUNCATED,	/* TC bit: the answer did not fit */
	MTA_DNS_MALFORMED	/* not an answer to our question */
};

struct mta_mx {
	uint16_t	 pref;
	char		 host[MTA_RELAY_HOST_MAX];	/* "" for the root, "." */
};

/* The query for name's MX records into buf; its length, 0 if the name
 * does not fit or is not a valid name. */
size_t	mta_dns_mx_query(uint16_t id, const char *name, unsigned char *buf,
	    size_t sz);
/* Parse the answer to that query.  Records beyond max are dropped. */
enum mta_dns_rc mta_dns_mx_answer(const unsigned char *pkt, size_t len,
	    uint16_t id, const char *name, struct mta_mx *mx, size_t max,
	    size_t *n);

#endif
