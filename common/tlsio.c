/*
 * libtls over libevent; see tlsio.h.  The user gets one end of a
 * bufferevent pair ("user"), tlsio keeps the other ("net"): what the user
 * writes arrives in net's input and goes to tls_write(); what tls_read()
 * returns goes to net's output and so to the user's input.  The pair's
 * watermarks give back-pressure both ways: at most TLSIO_OUT_MAX bytes
 * wait for the socket before the user's output backs up, and reading
 * from the socket stops while TLSIO_IN_MAX bytes wait for the user.
 *
 * libtls may need to read to write and write to read (TLS_WANT_POLLIN /
 * TLS_WANT_POLLOUT), so both one-shot fd events just run tlsio_run(),
 * which retries everything there is to do.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "tlsio.h"

#define TLSIO_CHUNK	(16 * 1024)	/* one TLS record */
#define TLSIO_IN_MAX	(64 * 1024)	/* read ahead of the user */
#define TLSIO_OUT_MAX	(64 * 1024)	/* waiting for the socket */

enum tlsio_state {
	TLSIO_HANDSHAKE,
	TLSIO_OPEN,
	TLSIO_SHUTDOWN,		/* tlsio_close(): flush, close_notify */
	TLSIO_DEAD		/* failed or peer gone: no more I/O */
};

struct tlsio {
	struct tls		*tls;
	int			 fd;
	enum tlsio_state	 state;
	struct event		*rev, *wev;	/* one-shot, armed on WANT_* */
	struct event		*close_ev;	/* tlsio_close() deadline */
	struct bufferevent	*user, *net;
	int			 eof;		/* peer closed; not yet told */
	char			 err[256];
};

static void	tlsio_run(struct tlsio *);

static void
tlsio_finish(struct tlsio *t)
{
	if (t->rev != NULL)
		event_free(t->rev);
	if (t->wev != NULL)
		event_free(t->wev);
	if (t->close_ev != NULL)
		event_free(t->close_ev);
	if (t->user != NULL)
		bufferevent_free(t->user);
	if (t->net != NULL)
		bufferevent_free(t->net);
	tls_free(t->tls);
	close(t->fd);
	free(t);
}

/* Stops the I/O; tells the user, or ends a closing connection. */
static void
tlsio_fail(struct tlsio *t, short what, const char *why)
{
	strlcpy(t->err, why != NULL ? why : "unknown error", sizeof(t->err));
	event_del(t->rev);
	event_del(t->wev);
	if (t->state == TLSIO_SHUTDOWN) {
		tlsio_finish(t);
		return;
	}
	t->state = TLSIO_DEAD;
	bufferevent_trigger_event(t->user, what, 0);
}

/* 1 when libtls asked to wait (the right event is armed), else 0. */
static int
tlsio_want(struct tlsio *t, ssize_t r)
{
	if (r == TLS_WANT_POLLIN) {
		event_add(t->rev, NULL);
		return 1;
	}
	if (r == TLS_WANT_POLLOUT) {
		event_add(t->wev, NULL);
		return 1;
	}
	return 0;
}

/* Sends what the user wrote; -1 when t failed (and may be gone). */
static int
tlsio_write(struct tlsio *t)
{
	struct evbuffer	*in = bufferevent_get_input(t->net);
	size_t		 len;
	ssize_t		 n;
	unsigned char	*p;

	while ((len = evbuffer_get_length(in)) > 0) {
		if (len > TLSIO_CHUNK)
			len = TLSIO_CHUNK;
		if ((p = evbuffer_pullup(in, len)) == NULL) {
			tlsio_fail(t, BEV_EVENT_ERROR | BEV_EVENT_WRITING,
			    "out of memory");
			return -1;
		}
		n = tls_write(t->tls, p, len);
		if (tlsio_want(t, n))
			return 0;
		if (n == -1) {
			tlsio_fail(t, BEV_EVENT_ERROR | BEV_EVENT_WRITING,
			    tls_error(t->tls));
			return -1;
		}
		evbuffer_drain(in, n);
	}
	return 0;
}

/* EOF is told once everything read before it reached the user. */
static void
tlsio_tell_eof(struct tlsio *t)
{
	if (!t->eof || t->state != TLSIO_OPEN ||
	    evbuffer_get_length(bufferevent_get_output(t->net)) > 0)
		return;
	t->state = TLSIO_DEAD;
	bufferevent_trigger_event(t->user, BEV_EVENT_EOF | BEV_EVENT_READING,
	    0);
}

/* Reads while the user keeps up; -1 when t failed. */
static int
tlsio_read(struct tlsio *t)
{
	unsigned char	 buf[TLSIO_CHUNK];
	ssize_t		 n;

	while (!t->eof && evbuffer_get_length(bufferevent_get_output(t->net))
	    < TLSIO_IN_MAX) {
		n = tls_read(t->tls, buf, sizeof(buf));
		if (tlsio_want(t, n))
			return 0;
		if (n == -1) {
			tlsio_fail(t, BEV_EVENT_ERROR | BEV_EVENT_READING,
			    tls_error(t->tls));
			return -1;
		}
		if (n == 0) {
			t->eof = 1;
			break;
		}
		if (bufferevent_write(t->net, buf, n) == -1) {
			tlsio_fail(t, BEV_EVENT_ERROR | BEV_EVENT_READING,
			    "out of memory");
			return -1;
		}
	}
	tlsio_tell_eof(t);
	return 0;
}

static int
tlsio_handshake(struct tlsio *t)
{
	int	 r;

	r = tls_handshake(t->tls);
	if (tlsio_want(t, r))
		return -1;
	if (r == -1) {
		tlsio_fail(t, BEV_EVENT_ERROR, tls_error(t->tls));
		return -1;
	}
	t->state = TLSIO_OPEN;
	bufferevent_trigger_event(t->user, BEV_EVENT_CONNECTED, 0);
	return 0;
}

/* Closing: the rest of the output, then close_notify, then the end. */
static void
tlsio_shutdown(struct tlsio *t)
{
	int	 r;

	if (tlsio_write(t) == -1 ||
	    evbuffer_get_length(bufferevent_get_input(t->net)) > 0)
		return;
	r = tls_close(t->tls);
	if (tlsio_want(t, r))
		return;
	tlsio_finish(t);
}

static void
tlsio_run(struct tlsio *t)
{
	switch (t->state) {
	case TLSIO_HANDSHAKE:
		if (tlsio_handshake(t) == -1)
			return;
		/* FALLTHROUGH */
	case TLSIO_OPEN:
		if (tlsio_write(t) == -1)
			return;
		tlsio_read(t);
		break;
	case TLSIO_SHUTDOWN:
		tlsio_shutdown(t);
		break;
	case TLSIO_DEAD:
		break;
	}
}

static void
tlsio_fd_cb(int fd, short ev, void *arg)
{
	tlsio_run(arg);
}

/* The user wrote something. */
static void
tlsio_net_read_cb(struct bufferevent *bev, void *arg)
{
	tlsio_run(arg);
}

/* The user took what was read: read on, or tell a pending EOF. */
static void
tlsio_net_write_cb(struct bufferevent *bev, void *arg)
{
	tlsio_run(arg);
}

static void
tlsio_close_timeout(int fd, short ev, void *arg)
{
	tlsio_finish(arg);
}

struct tlsio *
tlsio_start(struct event_base *base, int fd, struct tls *tls)
{
	struct tlsio		*t;
	struct bufferevent	*pair[2];

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->fd = fd;
	t->tls = tls;
	t->rev = event_new(base, fd, EV_READ, tlsio_fd_cb, t);
	t->wev = event_new(base, fd, EV_WRITE, tlsio_fd_cb, t);
	t->close_ev = evtimer_new(base, tlsio_close_timeout, t);
	if (t->rev == NULL || t->wev == NULL || t->close_ev == NULL ||
	    bufferevent_pair_new(base, BEV_OPT_DEFER_CALLBACKS, pair) == -1) {
		if (t->rev != NULL)
			event_free(t->rev);
		if (t->wev != NULL)
			event_free(t->wev);
		if (t->close_ev != NULL)
			event_free(t->close_ev);
		free(t);
		return NULL;
	}
	t->user = pair[0];
	t->net = pair[1];
	bufferevent_setcb(t->net, tlsio_net_read_cb, tlsio_net_write_cb,
	    NULL, t);
	bufferevent_setwatermark(t->net, EV_READ, 0, TLSIO_OUT_MAX);
	bufferevent_enable(t->net, EV_READ | EV_WRITE);
	bufferevent_enable(t->user, EV_WRITE);
	t->state = TLSIO_HANDSHAKE;
	event_active(t->wev, EV_WRITE, 0);	/* start from the loop */
	return t;
}

struct tlsio *
tlsio_start_bev(struct bufferevent *bev, struct tls *tls)
{
	struct event_base	*base = bufferevent_get_base(bev);
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct tlsio		*t;
	int			 fd = bufferevent_getfd(bev);

	bufferevent_disable(bev, EV_READ | EV_WRITE);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_setfd(bev, -1);
	bufferevent_free(bev);
	if ((t = tlsio_start(base, fd, tls)) == NULL)
		close(fd);
	return t;
}

struct bufferevent *
tlsio_bev(struct tlsio *t)
{
	return t->user;
}

struct tls *
tlsio_tls(struct tlsio *t)
{
	return t->tls;
}

const char *
tlsio_error(struct tlsio *t)
{
	return t->err;
}

void
tlsio_close(struct tlsio *t, int timeout)
{
	struct timeval	 tv = { timeout, 0 };

	if (t->state == TLSIO_OPEN)	/* what the user wrote last */
		bufferevent_flush(t->user, EV_WRITE, BEV_FLUSH);
	bufferevent_free(t->user);
	t->user = NULL;
	if (t->state != TLSIO_OPEN) {
		tlsio_finish(t);
		return;
	}
	t->state = TLSIO_SHUTDOWN;
	event_del(t->rev);
	event_del(t->wev);
	evtimer_add(t->close_ev, &tv);
	tlsio_shutdown(t);
}
