/*
 * Typed marshalling of imsg payloads.
 *
 * Encoding: u32 and u64 are little-endian, whatever the host; a string is
 * a u32 length followed by that many bytes, without a NUL; data is appended
 * raw (the receiver takes it from the payload as is).  A reader never reads
 * past the payload: any short field, over-long or NUL-containing string
 * sets the sticky err, after which every read returns 0 / "" and mr_end()
 * fails.
 */
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "imsg.h"
#include "mbuf.h"

void
mbuf_init(struct mbuf *m)
{
	m->buf = NULL;
	m->len = m->cap = 0;
	m->err = 0;
}

void
mbuf_free(struct mbuf *m)
{
	free(m->buf);
	mbuf_init(m);
}

/* Room for n more bytes; 0, or -1 with m->err set. */
static int
mbuf_reserve(struct mbuf *m, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (m->err)
		return -1;
	if (n > SIZE_MAX - m->len) {
		m->err = 1;
		return -1;
	}
	if (m->len + n <= m->cap)
		return 0;
	cap = m->cap ? m->cap : 256;
	while (cap < m->len + n) {
		if (cap > SIZE_MAX / 2) {
			cap = m->len + n;
			break;
		}
		cap *= 2;
	}
	if ((p = realloc(m->buf, cap)) == NULL) {
		m->err = 1;
		return -1;
	}
	m->buf = p;
	m->cap = cap;
	return 0;
}

void
mbuf_add_data(struct mbuf *m, const void *data, size_t len)
{
	if (len == 0 || mbuf_reserve(m, len) == -1)
		return;
	memcpy(m->buf + m->len, data, len);
	m->len += len;
}

void
mbuf_add_u32(struct mbuf *m, uint32_t v)
{
	uint8_t b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	mbuf_add_data(m, b, sizeof(b));
}

void
mbuf_add_u64(struct mbuf *m, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	mbuf_add_data(m, b, sizeof(b));
}

void
mbuf_add_str(struct mbuf *m, const char *s)
{
	size_t len;

	if (s == NULL)
		s = "";
	len = strlen(s);
	if (len > UINT32_MAX) {
		m->err = 1;
		return;
	}
	mbuf_add_u32(m, (uint32_t)len);
	mbuf_add_data(m, s, len);
}

void
mreader_init(struct mreader *mr, const struct imsg *imsg)
{
	mr->p = imsg->data;
	mr->left = imsg->data != NULL ? imsg->datalen : 0;
	mr->err = 0;
}

/* The next n bytes, or NULL (and err) if the payload is short. */
static const uint8_t *
mr_take(struct mreader *mr, size_t n)
{
	const uint8_t *p;

	if (mr->err || n > mr->left) {
		mr->err = 1;
		return NULL;
	}
	p = mr->p;
	mr->p += n;
	mr->left -= n;
	return p;
}

uint32_t
mr_u32(struct mreader *mr)
{
	const uint8_t *p;
	uint32_t v = 0;
	int i;

	if ((p = mr_take(mr, 4)) == NULL)
		return 0;
	for (i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t
mr_u64(struct mreader *mr)
{
	const uint8_t *p;
	uint64_t v = 0;
	int i;

	if ((p = mr_take(mr, 8)) == NULL)
		return 0;
	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void
mr_str(struct mreader *mr, char *dst, size_t dstsz)
{
	const uint8_t *p;
	uint32_t len;

	if (dstsz > 0)
		dst[0] = '\0';
	len = mr_u32(mr);
	if (mr->err)
		return;
	if (len >= dstsz) {
		mr->err = 1;
		return;
	}
	if ((p = mr_take(mr, len)) == NULL)
		return;
	if (memchr(p, '\0', len) != NULL) {
		mr->err = 1;
		return;
	}
	memcpy(dst, p, len);
	dst[len] = '\0';
}

int
mr_end(struct mreader *mr)
{
	return (mr->err || mr->left != 0) ? -1 : 0;
}
