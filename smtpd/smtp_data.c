/*
 * DATA stream: dot-unstuffing, end-of-data detection, buffered writes.
 * The guarantees are listed in smtp_data.h; the state machine below is
 * the only place that decides where a message ends.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "smtp_data.h"

static const char crlf[] = "\r\n";

void
smtp_data_init(struct smtp_data *d, int fd, uint64_t max)
{
	d->state = SD_BOL;
	d->fd = fd;
	d->max = max;
	d->size = 0;
	d->toobig = 0;
	d->err = 0;
	d->bare = 0;
	d->buflen = 0;
	smtp_hops_init(&d->hops);
}

static void
data_flush(struct smtp_data *d)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < d->buflen && d->err == 0) {
		n = write(d->fd, d->buf + off, d->buflen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			d->err = errno;
		else if (n == 0)
			d->err = EIO;
		else
			off += n;
	}
	d->buflen = 0;
}

/* Counts and stores; once over the limit or failed, only counts. */
static void
data_store(struct smtp_data *d, const char *p, size_t len)
{
	size_t	 n;

	d->size += len;
	if (d->max && d->size > d->max && !d->toobig) {
		d->toobig = 1;
		d->buflen = 0;
	}
	while (len > 0 && !d->toobig && d->err == 0) {
		n = sizeof(d->buf) - d->buflen;
		if (n > len)
			n = len;
		memcpy(d->buf + d->buflen, p, n);
		d->buflen += n;
		p += n;
		len -= n;
		if (d->buflen == sizeof(d->buf))
			data_flush(d);
	}
}

/* Client bytes: their header is scanned for Received: fields. */
static void
data_emit(struct smtp_data *d, const char *p, size_t len)
{
	smtp_hops_feed(&d->hops, p, len);
	data_store(d, p, len);
}

void
smtp_data_put(struct smtp_data *d, const char *p, size_t len)
{
	data_store(d, p, len);
}

void
smtp_data_write(struct smtp_data *d, const char *p, size_t len)
{
	data_emit(d, p, len);
}

/* Inside a line: stores the run of plain bytes up to the next CR or LF. */
static size_t
data_text(struct smtp_data *d, const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] == '\r' || p[i] == '\n')
			break;
	if (i > 0) {
		data_emit(d, p, i);
		return i;
	}
	if (p[0] == '\r')
		d->state = SD_CR;
	else {
		d->bare = 1;
		data_emit(d, crlf, 2);	/* bare LF: stored as CR LF */
	}
	return 1;
}

/* One step: consumes at least one byte of p, returns how many. */
static size_t
data_step(struct smtp_data *d, const char *p, size_t len)
{
	switch (d->state) {
	case SD_BOL:
		if (p[0] == '.') {
			d->state = SD_DOT;
			return 1;
		}
		d->state = SD_TEXT;
		return data_text(d, p, len);
	case SD_DOT:
		if (p[0] == '\r') {
			d->state = SD_DOT_CR;
			return 1;
		}
		d->state = SD_TEXT;		/* the dot was stuffing */
		return data_text(d, p, len);
	case SD_DOT_CR:
		if (p[0] == '\n') {
			d->state = SD_DONE;
			return 1;
		}
		d->state = SD_CR;		/* ".\r" then more: bare CR */
		return 0;
	case SD_TEXT:
		return data_text(d, p, len);
	case SD_CR:
		data_emit(d, crlf, 2);
		if (p[0] == '\n') {
			d->state = SD_BOL;
			return 1;
		}
		d->bare = 1;			/* the CR was bare */
		if (p[0] == '\r')
			return 1;
		d->state = SD_TEXT;
		return data_text(d, p, len);
	case SD_DONE:
		break;
	}
	return 0;
}

size_t
smtp_data_feed(struct smtp_data *d, const char *p, size_t len)
{
	size_t	 off = 0;

	while (off < len && d->state != SD_DONE)
		off += data_step(d, p + off, len - off);
	return off;
}

int
smtp_data_done(const struct smtp_data *d)
{
	return d->state == SD_DONE;
}

enum smtp_data_result
smtp_data_finish(struct smtp_data *d)
{
	if (!d->toobig && d->err == 0)
		data_flush(d);
	if (d->err)
		return SD_WRITE_ERROR;
	if (d->toobig)
		return SD_TOOBIG;
	return SD_OK;
}
