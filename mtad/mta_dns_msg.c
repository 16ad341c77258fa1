/*
 * MX query building and answer parsing; see mta_dns_msg.h.  An answer is
 * accepted only if it carries our id and our question (name compared
 * without regard to case, type MX, class IN); anything else is
 * MTA_DNS_MALFORMED and the caller keeps waiting or asks another server.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mta_dns_msg.h"

#define DNS_HDR		12
#define DNS_T_MX	15
#define DNS_T_OPT	41
#define DNS_C_IN	1
#define DNS_PTR_MAX	32	/* compression pointers followed per name */

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static unsigned char *
put16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
	return p + 2;
}

size_t
mta_dns_mx_query(uint16_t id, const char *name, unsigned char *buf, size_t sz)
{
	unsigned char	*p = buf;
	const char	*label, *dot;
	size_t		 len;

	if (sz < MTA_DNS_QUERY_MAX || strlen(name) > 253)
		return 0;
	memset(buf, 0, DNS_HDR);
	put16(p, id);
	p[2] = 0x01;			/* RD */
	put16(p + 4, 1);		/* QDCOUNT */
	put16(p + 10, 1);		/* ARCOUNT: the OPT record */
	p += DNS_HDR;
	for (label = name; *label != '\0'; label = dot + 1) {
		if ((dot = strchr(label, '.')) == NULL)
			dot = label + strlen(label);
		if ((len = (size_t)(dot - label)) == 0 || len > 63)
			return 0;
		*p++ = (unsigned char)len;
		memcpy(p, label, len);
		p += len;
		if (*dot == '\0')
			break;
	}
	*p++ = 0;
	p = put16(p, DNS_T_MX);
	p = put16(p, DNS_C_IN);
	*p++ = 0;			/* OPT: root owner */
	p = put16(p, DNS_T_OPT);
	p = put16(p, MTA_DNS_UDP_MAX);	/* class: our UDP size */
	memset(p, 0, 6);		/* ttl (flags), rdlength */
	p += 6;
	return (size_t)(p - buf);
}

/*
 * Expand the name at *off into out ("" for the root, labels joined by
 * dots); *off moves past the name where it sits.  -1 if malformed.
 */
static int
dns_name(const unsigned char *pkt, size_t len, size_t *off, char *out,
    size_t outsz)
{
	size_t	 pos = *off, o = 0, l, i;
	int	 jumps = 0, jumped = 0;

	for (;;) {
		if (pos >= len)
			return -1;
		l = pkt[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++jumps > DNS_PTR_MAX)
				return -1;
			if (!jumped)
				*off = pos + 2;
			jumped = 1;
			pos = (l & 0x3f) << 8 | pkt[pos + 1];
			continue;
		}
		if (l & 0xc0)
			return -1;
		pos++;
		if (l == 0)
			break;
		if (pos + l > len || o + l + 2 > outsz)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (i = 0; i < l; i++) {
			if (!isalnum(pkt[pos + i]) && pkt[pos + i] != '-' &&
			    pkt[pos + i] != '_')
				return -1;	/* nothing we could connect to */
			out[o++] = (char)tolower(pkt[pos + i]);
		}
		pos += l;
	}
	out[o] = '\0';
	if (!jumped)
		*off = pos;
	return 0;
}

/* Skip a name without expanding it (owner names may be anything). */
static int
dns_skip(const unsigned char *pkt, size_t len, size_t *off)
{
	size_t pos = *off;

	while (pos < len) {
		if ((pkt[pos] & 0xc0) == 0xc0) {
			*off = pos + 2;
			return pos + 2 <= len ? 0 : -1;
		}
		if (pkt[pos] & 0xc0)
			return -1;
		if (pkt[pos] == 0) {
			*off = pos + 1;
			return 0;
		}
		pos += pkt[pos] + 1;
	}
	return -1;
}

/* The question must be ours: name (any case), MX, IN. */
static int
dns_question(const unsigned char *pkt, size_t len, size_t *off,
    const char *name)
{
	char	 q[MTA_RELAY_HOST_MAX];
	size_t	 pos = *off;

	/* labels of a name we sent are letters, digits, '-', '_' */
	if (dns_name(pkt, len, &pos, q, sizeof(q)) == -1 ||
	    strcasecmp(q, name) != 0 || pos + 4 > len ||
	    get16(pkt + pos) != DNS_T_MX || get16(pkt + pos + 2) != DNS_C_IN)
		return -1;
	*off = pos + 4;
	return 0;
}

static enum mta_dns_rc
dns_answers(const unsigned char *pkt, size_t len, size_t off, unsigned an,
    struct mta_mx *mx, size_t max, size_t *n)
{
	size_t		 rdlen, end;
	uint16_t	 type, class;

	for (; an > 0; an--) {
		if (dns_skip(pkt, len, &off) == -1 || off + 10 > len)
			return MTA_DNS_MALFORMED;
		type = get16(pkt + off);
		class = get16(pkt + off + 2);
		rdlen = get16(pkt + off + 8);
		off += 10;
		if ((end = off + rdlen) > len)
			return MTA_DNS_MALFORMED;
		if (type == DNS_T_MX && class == DNS_C_IN && *n < max) {
			if (rdlen < 3)
				return MTA_DNS_MALFORMED;
			mx[*n].pref = get16(pkt + off);
			off += 2;
			if (dns_name(pkt, len, &off, mx[*n].host,
			    sizeof(mx[*n].host)) == -1 || off != end)
				return MTA_DNS_MALFORMED;
			(*n)++;
		}
		off = end;		/* CNAMEs and the rest: skipped */
	}
	return MTA_DNS_ANSWER;
}

enum mta_dns_rc
mta_dns_mx_answer(const unsigned char *pkt, size_t len, uint16_t id,
    const char *name, struct mta_mx *mx, size_t max, size_t *n)
{
	size_t	 off = DNS_HDR;
	int	 rcode;

	*n = 0;
	if (len < DNS_HDR || get16(pkt) != id || !(pkt[2] & 0x80) ||
	    (pkt[2] & 0x78) != 0 || get16(pkt + 4) != 1)
		return MTA_DNS_MALFORMED;	/* not a reply to a query */
	if (dns_question(pkt, len, &off, name) == -1)
		return MTA_DNS_MALFORMED;
	if (pkt[2] & 0x02)
		return MTA_DNS_TRUNCATED;
	rcode = pkt[3] & 0x0f;
	if (rcode == 3)
		return MTA_DNS_NXDOMAIN;
	if (rcode != 0)
		return MTA_DNS_SERVFAIL;
	return dns_answers(pkt, len, off, get16(pkt + 6), mx, max, n);
}
