/*
 * An imsg link on a libevent loop.
 *
 * The event is always EV_READ|EV_PERSIST, plus EV_WRITE while output is
 * queued.  Frames are handed to the handler one at a time and freed when it
 * returns (a handler keeping imsg->fd sets it to -1).
 *
 * Closing: a read error, EOF, malformed frame or imsgev_fail() logs the
 * reason once and marks the link closing; nothing more is read or handed
 * out.  The close itself (event freed, socket closed, buffers freed) and
 * the call to on_close happen outside any handler: at the end of the
 * current dispatch, or, when imsgev_fail() is called from elsewhere, from
 * the event loop soon after.  So on_close never runs under a caller's feet
 * and may free or re-initialise the struct; nothing here touches it after.
 * imsgev_clear() closes at once without on_close; it may be called from
 * the link's own handler, but the struct must stay valid until the handler
 * returns.  It is safe on a zeroed, closed or closing struct.
 *
 * A close deferred to the loop is remembered (by address only) in a
 * pending list, so that imsgev_init() on that struct first finishes the old
 * link -- including its on_close -- instead of leaking it, and
 * imsgev_clear() cancels it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsgev.h"
#include "log.h"
#include "mbuf.h"
#include "proto.h"

static void	imsgev_dispatch(evutil_socket_t, short, void *);
static void	imsgev_shutdown(struct imsgev *);

struct imsgev_pending {
	struct imsgev_pending	*next;
	struct imsgev		*iev;
};
static struct imsgev_pending	*pending;	/* deferred closes */

static void
pending_add(struct imsgev *iev)
{
	struct imsgev_pending *p;

	if ((p = malloc(sizeof(*p))) == NULL)
		return;		/* only the re-init guard is lost */
	p->iev = iev;
	p->next = pending;
	pending = p;
}

/* 1 if iev had a deferred close pending (now forgotten), else 0. */
static int
pending_take(const struct imsgev *iev)
{
	struct imsgev_pending **pp, *p;

	for (pp = &pending; (p = *pp) != NULL; pp = &p->next)
		if (p->iev == iev) {
			*pp = p->next;
			free(p);
			return 1;
		}
	return 0;
}

static const char *
imsgev_name(const struct imsgev *iev)
{
	return iev->peername != NULL ? iev->peername : "peer";
}

/* Register for writability only while something is queued. */
static void
imsgev_update(struct imsgev *iev)
{
	short want;

	if (iev->ev == NULL || iev->closing)
		return;
	want = EV_READ | EV_PERSIST;
	if (iev->ibuf.out_bytes > 0)
		want |= EV_WRITE;
	if (want == iev->events)
		return;
	event_del(iev->ev);
	event_assign(iev->ev, iev->base, iev->ibuf.fd, want, imsgev_dispatch,
	    iev);
	if (event_add(iev->ev, NULL) == -1) {
		imsgev_fail(iev, "event_add failed");
		return;
	}
	iev->events = want;
}

int
imsgev_init(struct imsgev *iev, struct event_base *base, int fd,
    const char *peername, imsgev_handler handler, imsgev_closer on_close,
    void *arg)
{
	imsgev_closer old_close;
	int flags;

	if (pending_take(iev)) {
		/* replacing a link whose close was still to come */
		imsgev_shutdown(iev);
		if ((old_close = iev->on_close) != NULL)
			old_close(iev);
	}
	memset(iev, 0, sizeof(*iev));
	iev->base = base;
	iev->handler = handler;
	iev->on_close = on_close;
	iev->arg = arg;
	iev->peername = peername;
	iev->ibuf.fd = -1;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return -1;
	if (imsgbuf_init(&iev->ibuf, fd) == -1)
		return -1;
	iev->events = EV_READ | EV_PERSIST;
	iev->ev = event_new(base, fd, iev->events, imsgev_dispatch, iev);
	if (iev->ev == NULL || event_add(iev->ev, NULL) == -1) {
		if (iev->ev != NULL)
			event_free(iev->ev);
		iev->ev = NULL;
		imsgbuf_clear(&iev->ibuf);
		iev->ibuf.fd = -1;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Release everything; the struct stays, inert. */
static void
imsgev_shutdown(struct imsgev *iev)
{
	if (iev->ev == NULL)		/* never opened, or closed already */
		return;
	event_free(iev->ev);
	iev->ev = NULL;
	iev->events = 0;
	if (iev->ibuf.fd >= 0)
		close(iev->ibuf.fd);
	imsgbuf_clear(&iev->ibuf);
	iev->ibuf.fd = -1;
}

/* Mark the link closing and say why, once. */
static void
imsgev_closing(struct imsgev *iev, const char *why, int warn)
{
	if (iev->closing)
		return;
	iev->closing = 1;
	if (warn)
		log_warnx("%s: %s, closing link", imsgev_name(iev), why);
	else
		log_debug("%s: %s", imsgev_name(iev), why);
}

void
imsgev_fail(struct imsgev *iev, const char *why)
{
	if (iev->ev == NULL || iev->closing)
		return;
	iev->faulted = 1;
	imsgev_closing(iev, why, 1);
	/* finish outside the caller: from this dispatch, or the loop */
	if (!iev->dispatching) {
		pending_add(iev);
		event_active(iev->ev, EV_TIMEOUT, 0);
	}
}

void
imsgev_clear(struct imsgev *iev)
{
	pending_take(iev);
	iev->closing = 1;
	imsgev_shutdown(iev);
}

int
imsgev_active(const struct imsgev *iev)
{
	return iev->ev != NULL && !iev->closing;
}

size_t
imsgev_queued(const struct imsgev *iev)
{
	return iev->ibuf.out_bytes;
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	if (!imsgev_active(iev)) {
		if (fd >= 0)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	if (imsg_compose(&iev->ibuf, type, peerid, fd, data, len) == -1)
		return -1;
	imsgev_update(iev);
	return 0;
}

int
imsgev_compose_mbuf(struct imsgev *iev, uint32_t type, uint32_t peerid,
    int fd, struct mbuf *m)
{
	int rv;

	if (m->err) {
		if (fd >= 0)
			close(fd);
		mbuf_free(m);
		errno = ENOMEM;
		return -1;
	}
	rv = imsgev_compose(iev, type, peerid, fd, m->buf, m->len);
	mbuf_free(m);
	return rv;
}

static void
imsgev_do_write(struct imsgev *iev)
{
	char why[128];

	if (imsgbuf_flush(&iev->ibuf) == -1) {
		snprintf(why, sizeof(why), "write: %s", strerror(errno));
		imsgev_closing(iev, why, 1);
	}
}

/*
 * Who sent the frame being handled (or the malformed one at the head of
 * the buffer): a fault report names that pid, so the parent never kills
 * a restarted process for what its predecessor sent.
 */
static void
imsgev_note_pid(struct imsgev *iev, const struct imsg_hdr *hdr)
{
	struct imsg_hdr raw;

	if (hdr == NULL && iev->ibuf.rlen >= IMSG_HDR_SIZE) {
		memcpy(&raw, iev->ibuf.rbuf, sizeof(raw));
		hdr = &raw;
	}
	if (hdr != NULL)
		iev->peer_pid = hdr->pid;
}

static void
imsgev_do_read(struct imsgev *iev)
{
	struct imsg imsg;
	char why[128];
	ssize_t n;
	int r;

	n = imsgbuf_read(&iev->ibuf);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		snprintf(why, sizeof(why), "read: %s", strerror(errno));
		imsgev_closing(iev, why, 1);
		return;
	}
	if (n == 0) {
		imsgev_closing(iev, "link closed", 0);
		return;
	}
	while (!iev->closing) {
		if ((r = imsg_get(&iev->ibuf, &imsg)) == 0)
			break;
		imsgev_note_pid(iev, r == 1 ? &imsg.hdr : NULL);
		if (r == -1) {
			iev->faulted = 1;
			imsgev_closing(iev, "malformed message", 1);
			break;
		}
		if (iev->handler != NULL)
			iev->handler(iev, &imsg);
		else {
			snprintf(why, sizeof(why), "unexpected %s",
			    imsg_type_name(imsg.hdr.type));
			imsgev_fail(iev, why);
		}
		imsg_free(&imsg);
	}
}

static void
imsgev_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct imsgev *iev = arg;
	imsgev_closer on_close;

	(void)fd;
	iev->dispatching = 1;
	/* read first: what the peer said before it went away still counts */
	if (!iev->closing && (what & EV_READ))
		imsgev_do_read(iev);
	if (!iev->closing && (what & EV_WRITE))
		imsgev_do_write(iev);
	iev->dispatching = 0;

	if (!iev->closing) {
		imsgev_update(iev);
		return;
	}
	if (iev->ev == NULL)		/* imsgev_clear() from a handler */
		return;
	pending_take(iev);
	imsgev_shutdown(iev);
	on_close = iev->on_close;
	if (on_close != NULL)
		on_close(iev);		/* may free iev: do not touch it */
}
