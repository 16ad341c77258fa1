/*
 * mtad/mta_dns_msg.c: the MX query on the wire and the parsing of hostile
 * or broken answers (wrong id or question, compression loops, truncated
 * records), null MX, NXDOMAIN, SERVFAIL, TC.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../mtad/mta_dns_msg.h"
#include "test.h"

#define ID	0x4242

static unsigned char	 pkt[2048];
static size_t		 plen;

static void
put(const void *p, size_t n)
{
	memcpy(pkt + plen, p, n);
	plen += n;
}

static void
put16(unsigned v)
{
	unsigned char b[2] = { v >> 8, v & 0xff };

	put(b, 2);
}

/* An answer to our query: header (flags, counts) and the question. */
static void
answer(unsigned flags, unsigned ancount, const char *qname)
{
	unsigned char	 q[MTA_DNS_QUERY_MAX];
	size_t		 n = mta_dns_mx_query(ID, qname, q, sizeof(q));

	plen = 0;
	put16(ID);
	put16(flags);
	put16(1);
	put16(ancount);
	put16(0);
	put16(0);
	put(q + 12, n - 12 - 11);	/* the question, without the OPT */
}

static void
mx_rr(unsigned pref, const char *wire, size_t wlen)
{
	put16(0xc00c);
	put16(15);
	put16(1);
	put16(0);
	put16(60);
	put16(2 + wlen);
	put16(pref);
	put(wire, wlen);
}

int
main(void)
{
	unsigned char	 q[MTA_DNS_QUERY_MAX];
	struct mta_mx	 mx[MTA_DNS_MX_MAX];
	size_t		 n, len;

	len = mta_dns_mx_query(ID, "Example.COM", q, sizeof(q));
	T_OK(len == 12 + 13 + 4 + 11, "query length");
	T_OK(memcmp(q + 12, "\7Example\3COM\0\0\17\0\1", 17) == 0,
	    "query question: name as given, MX, IN");
	T_OK(q[2] == 0x01 && q[11] == 1, "query: RD, one OPT record");
	T_OK(mta_dns_mx_query(ID, "a..b", q, sizeof(q)) == 0,
	    "query: empty label refused");

	answer(0x8180, 2, "example.com");
	mx_rr(20, "\3mx2\7example\3com\0", 17);
	mx_rr(10, "\3mx1\300\14", 6);	/* compressed into the question */
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "EXAMPLE.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_ANSWER && n == 2 &&
	    mx[0].pref == 20 && strcmp(mx[0].host, "mx2.example.com") == 0 &&
	    mx[1].pref == 10 && strcmp(mx[1].host, "mx1.example.com") == 0,
	    "two MX, one compressed, question case ignored");
	T_OK(mta_dns_mx_answer(pkt, plen, ID + 1, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_MALFORMED, "wrong id ignored");
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.org", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_MALFORMED,
	    "answer to another question ignored");
	T_OK(mta_dns_mx_answer(pkt, plen - 3, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_MALFORMED, "truncated record");
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx, 1, &n) ==
	    MTA_DNS_ANSWER && n == 1, "records beyond max dropped");

	answer(0x8180, 1, "example.com");
	mx_rr(0, "\0", 1);
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_ANSWER && n == 1 &&
	    mx[0].host[0] == '\0' && mx[0].pref == 0, "null MX: empty host");

	answer(0x8180, 0, "example.com");
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_ANSWER && n == 0, "no data");

	answer(0x8183, 0, "example.com");
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_NXDOMAIN, "NXDOMAIN");
	answer(0x8182, 0, "example.com");
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_SERVFAIL, "SERVFAIL");
	answer(0x8385, 0, "example.com");
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_TRUNCATED, "TC bit");
	answer(0x0100, 0, "example.com");
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_MALFORMED, "a query, not a reply");

	answer(0x8180, 1, "example.com");
	mx_rr(10, "\3mx1\300\0", 6);	/* a pointer to the header */
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_MALFORMED, "pointer into junk");
	answer(0x8180, 1, "example.com");
	len = plen;
	mx_rr(10, "\300\0", 2);		/* patched below: points at itself */
	pkt[len + 14] = 0xc0;
	pkt[len + 15] = (unsigned char)(len + 14);
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_MALFORMED, "compression loop");
	answer(0x8180, 1, "example.com");
	mx_rr(10, "\3m x\0", 5);
	T_OK(mta_dns_mx_answer(pkt, plen, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_MALFORMED,
	    "exchange with a space refused");
	T_OK(mta_dns_mx_answer(pkt, 5, ID, "example.com", mx,
	    MTA_DNS_MX_MAX, &n) == MTA_DNS_MALFORMED, "short packet");
	return t_exit();
}
