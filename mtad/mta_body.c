/*
 * Dot-stuffing and line ends; see mta_body.h.
 */
#include <string.h>

#include "mta_body.h"

void
mta_body_init(struct mta_body *b)
{
	b->bol = 1;
	b->cr = 0;
}

size_t
mta_body_encode(struct mta_body *b, const char *in, size_t len, char *out)
{
	size_t i, o = 0;
	char c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (b->cr) {
			out[o++] = '\r';
			out[o++] = '\n';
			b->cr = 0;
			b->bol = 1;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			b->cr = 1;
			continue;
		}
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			b->bol = 1;
			continue;
		}
		if (b->bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		b->bol = 0;
	}
	return o;
}

size_t
mta_body_end(struct mta_body *b, char *out)
{
	size_t o = 0;

	if (b->cr || !b->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	b->cr = 0;
	b->bol = 1;
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
