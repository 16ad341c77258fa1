/*
 * Counting Received: fields (see smtp_hops.h).  A field name is matched
 * case-insensitively at the start of a line; white space before the
 * colon (RFC 5322 4.5.3, obsolete syntax) is allowed; continuation lines
 * start with white space and so never match.
 */
#include <string.h>

#include "smtp_hops.h"

enum {
	HOPS_BOL,		/* at the start of a header line */
	HOPS_NAME,		/* matching "received" */
	HOPS_WSP,		/* "received" seen, white space until ':' */
	HOPS_LINE,		/* rest of a line: skip to LF */
	HOPS_EMPTY,		/* CR at the start of a line */
	HOPS_BODY		/* past the header: nothing more to count */
};

static const char	 received[] = "received";

void
smtp_hops_init(struct smtp_hops *h)
{
	h->state = HOPS_BOL;
	h->matched = 0;
	h->count = 0;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* One byte at the start of a line or within a field name. */
static void
hops_name(struct smtp_hops *h, char c)
{
	if (h->matched < sizeof(received) - 1) {
		if (lower((unsigned char)c) == received[h->matched]) {
			h->matched++;
			h->state = HOPS_NAME;
		} else
			h->state = c == '\n' ? HOPS_BOL : HOPS_LINE;
		return;
	}
	if (c == ' ' || c == '\t') {
		h->state = HOPS_WSP;
		return;
	}
	if (c == ':')
		h->count++;
	h->state = c == '\n' ? HOPS_BOL : HOPS_LINE;
}

void
smtp_hops_feed(struct smtp_hops *h, const char *p, size_t len)
{
	const char	*lf;
	size_t		 i = 0;

	while (i < len && h->state != HOPS_BODY) {
		switch (h->state) {
		case HOPS_BOL:
			h->matched = 0;
			if (p[i] == '\r') {
				h->state = HOPS_EMPTY;
				i++;
				break;
			}
			/* FALLTHROUGH */
		case HOPS_NAME:
		case HOPS_WSP:
			hops_name(h, p[i++]);
			break;
		case HOPS_EMPTY:
			h->state = p[i++] == '\n' ? HOPS_BODY : HOPS_LINE;
			break;
		case HOPS_LINE:
			if ((lf = memchr(p + i, '\n', len - i)) == NULL)
				return;
			i = lf - p + 1;
			h->state = HOPS_BOL;
			break;
		}
	}
}
