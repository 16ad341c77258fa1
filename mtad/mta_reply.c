/*
 * SMTP reply parser; see mta_reply.h for the grammar.  A reply either
 * parses completely, or the session treats the server as broken: there is
 * no lenient mode, and nothing a server sends can overrun a buffer here.
 */
#include <string.h>

#include "mta_reply.h"

void
mta_reply_init(struct mta_reply *r)
{
	r->code = 0;
	r->nlines = 0;
	r->done = 0;
	r->error = NULL;
	r->textlen = 0;
	r->text[0] = '\0';
}

static int
mta_reply_fail(struct mta_reply *r, const char *why)
{
	r->error = why;
	return MTA_REPLY_ERROR;
}

/* The reply code of a line, or -1 when the first three bytes are not one. */
static int
mta_reply_code(const char *line, size_t len)
{
	if (len < 3)
		return -1;
	if (line[0] < '2' || line[0] > '5' ||
	    line[1] < '0' || line[1] > '5' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* Append one line to the kept text, cutting what does not fit. */
static void
mta_reply_keep(struct mta_reply *r, const char *line, size_t len)
{
	size_t i;
	unsigned char c;

	if (r->textlen > 0 && r->textlen < sizeof(r->text) - 1)
		r->text[r->textlen++] = ' ';
	for (i = 0; i < len && r->textlen < sizeof(r->text) - 1; i++) {
		c = (unsigned char)line[i];
		if (c == '\t')
			c = ' ';
		else if (c > 0x7e)
			c = '?';
		r->text[r->textlen++] = (char)c;
	}
	r->text[r->textlen] = '\0';
}

int
mta_reply_line(struct mta_reply *r, const char *line, size_t len)
{
	size_t i;
	int code, last;
	unsigned char c;

	if (r->done || r->error != NULL)
		return mta_reply_fail(r, "reply already complete");
	if (len > MTA_REPLY_LINE_MAX - 2)
		return mta_reply_fail(r, "reply line too long");
	if ((code = mta_reply_code(line, len)) == -1)
		return mta_reply_fail(r, "malformed reply code");
	if (r->nlines > 0 && code != r->code)
		return mta_reply_fail(r, "reply code changed within a reply");
	if (len == 3 || line[3] == ' ')
		last = 1;
	else if (line[3] == '-')
		last = 0;
	else
		return mta_reply_fail(r, "no space or dash after reply code");
	for (i = 4; i < len; i++) {
		c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return mta_reply_fail(r, "control character in reply");
	}
	if (r->nlines == MTA_REPLY_LINES_MAX)
		return mta_reply_fail(r, "too many reply lines");
	r->code = code;
	r->nlines++;
	mta_reply_keep(r, line, len);
	if (!last)
		return MTA_REPLY_MORE;
	r->done = 1;
	return MTA_REPLY_DONE;
}

int
mta_reply_parse(struct mta_reply *r, const char *buf, size_t len,
    size_t *used)
{
	const char *line, *eol;
	size_t n;
	int rv;

	*used = 0;
	while (*used < len) {
		line = buf + *used;
		if ((eol = memchr(line, '\n', len - *used)) == NULL) {
			if (len - *used >= MTA_REPLY_LINE_MAX)
				return mta_reply_fail(r, "reply line too long");
			return MTA_REPLY_MORE;
		}
		n = (size_t)(eol - line);
		*used += n + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if ((rv = mta_reply_line(r, line, n)) != MTA_REPLY_MORE)
			return rv;
	}
	return MTA_REPLY_MORE;
}
