/*
 * imsg framing over a UNIX stream socket, with fd passing.
 *
 * Wire format: a 16-byte header in host byte order (both ends are on the
 * same machine) -- type, len (header + payload), peerid, pid -- followed by
 * len - 16 bytes of payload.
 *
 * File descriptors: a frame that carries an fd has IMSG_WIRE_FD (bit 31)
 * set in its type on the wire; imsg_get() strips it, so callers never see
 * it and a type may never use that bit.  The sender passes the fd
 * (SCM_RIGHTS) with the first byte of its frame, one fd per sendmsg(), so
 * the fd has always arrived by the time the frame's header is complete.
 * The receiver queues fds in arrival order (rfds) and hands the oldest one
 * to each flagged frame (OpenBSD imsg semantics).  A flagged frame with no
 * fd queued, more than IMSG_MAX_FDS unclaimed fds, or a truncated control
 * message is a protocol error (-1): the caller closes the link.
 *
 * Guarantees kept here: a frame is never returned before it is complete; a
 * frame shorter than the header or longer than IMSG_MAX_SIZE is refused,
 * so the read buffer (2 * IMSG_MAX_SIZE) always holds a whole frame; every
 * fd received or queued is either handed out or closed.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

#define IMSG_WIRE_FD	0x80000000u	/* on the wire: frame carries an fd */
#define IMSG_RBUF_SIZE	(IMSG_MAX_SIZE * 2)
#define IMSG_RECV_FDS	8		/* per recvmsg() */
#define IMSG_IOV_MAX	64		/* frames gathered per sendmsg() */

struct imsg_out {
	struct imsg_out	*next;
	size_t		 len;		/* whole frame */
	size_t		 off;		/* bytes already sent */
	int		 fd;		/* -1 none, or still to send */
	uint8_t		 data[];
};

int
imsgbuf_init(struct imsgbuf *ibuf, int fd)
{
	size_t i;

	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	if ((ibuf->rbuf = malloc(IMSG_RBUF_SIZE)) == NULL)
		return -1;
	for (i = 0; i < IMSG_MAX_FDS; i++)
		ibuf->rfds[i] = -1;
	ibuf->out_head = NULL;
	ibuf->out_tail = &ibuf->out_head;
	ibuf->pid = getpid();
	return 0;
}

static void
imsg_out_free(struct imsg_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	free(o);
}

void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct imsg_out *o, *next;
	size_t i;

	for (o = ibuf->out_head; o != NULL; o = next) {
		next = o->next;
		imsg_out_free(o);
	}
	ibuf->out_head = NULL;
	ibuf->out_tail = &ibuf->out_head;
	ibuf->out_bytes = 0;
	for (i = 0; i < ibuf->nrfds; i++)
		close(ibuf->rfds[i]);
	ibuf->nrfds = 0;
	free(ibuf->rbuf);
	ibuf->rbuf = NULL;
	ibuf->rlen = 0;
}

/* Queue the fds of one control message; 0, or -1 if it was not SCM_RIGHTS
 * or the queue is full (every fd is closed or queued either way). */
static int
imsg_take_fds(struct imsgbuf *ibuf, struct cmsghdr *cm)
{
	size_t i, n;
	int fd, rv = 0;

	if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	for (i = 0; i < n; i++) {
		memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
		if (ibuf->nrfds < IMSG_MAX_FDS)
			ibuf->rfds[ibuf->nrfds++] = fd;
		else {
			close(fd);
			rv = -1;
		}
	}
	return rv;
}

ssize_t
imsgbuf_read(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IMSG_RECV_FDS)];
	} cmsgbuf;
	struct msghdr msg;
	struct cmsghdr *cm;
	struct iovec iov;
	ssize_t n;
	int bad = 0;

	if (ibuf->rbuf == NULL) {
		errno = EBADF;
		return -1;
	}
	if (ibuf->rlen >= IMSG_RBUF_SIZE) {
		/* the caller did not drain complete frames with imsg_get() */
		errno = ENOBUFS;
		return -1;
	}
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = IMSG_RBUF_SIZE - ibuf->rlen;
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;

	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
		if (imsg_take_fds(ibuf, cm) == -1)
			bad = 1;
	if (bad || (msg.msg_flags & MSG_CTRUNC)) {
		/* fds were lost: which frame owns which is now unknown */
		errno = EBADMSG;
		return -1;
	}
	ibuf->rlen += n;
	return n;
}

int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr hdr;
	size_t datalen;
	int hasfd;

	if (ibuf->rbuf == NULL || ibuf->rlen < IMSG_HDR_SIZE)
		return 0;
	memcpy(&hdr, ibuf->rbuf, sizeof(hdr));
	if (hdr.len < IMSG_HDR_SIZE || hdr.len > IMSG_MAX_SIZE) {
		errno = EBADMSG;
		return -1;
	}
	if (ibuf->rlen < hdr.len)
		return 0;
	hasfd = (hdr.type & IMSG_WIRE_FD) != 0;
	hdr.type &= ~IMSG_WIRE_FD;
	if (hasfd && ibuf->nrfds == 0) {
		errno = EBADMSG;
		return -1;
	}

	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	datalen = hdr.len - IMSG_HDR_SIZE;
	if (datalen > 0) {
		if ((imsg->data = malloc(datalen)) == NULL)
			return -1;
		memcpy(imsg->data, ibuf->rbuf + IMSG_HDR_SIZE, datalen);
	}
	imsg->datalen = datalen;
	imsg->hdr = hdr;
	if (hasfd) {
		imsg->fd = ibuf->rfds[0];
		ibuf->nrfds--;
		memmove(ibuf->rfds, ibuf->rfds + 1, ibuf->nrfds * sizeof(int));
		ibuf->rfds[ibuf->nrfds] = -1;
	}
	ibuf->rlen -= hdr.len;
	memmove(ibuf->rbuf, ibuf->rbuf + hdr.len, ibuf->rlen);
	return 1;
}

void
imsg_free(struct imsg *imsg)
{
	free(imsg->data);
	imsg->data = NULL;
	imsg->datalen = 0;
	if (imsg->fd >= 0)
		close(imsg->fd);
	imsg->fd = -1;
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct imsg_hdr hdr;
	struct imsg_out *o;

	if (len > IMSG_MAX_SIZE - IMSG_HDR_SIZE) {
		errno = EMSGSIZE;
		goto fail;
	}
	if ((type & IMSG_WIRE_FD) || (len > 0 && data == NULL)) {
		errno = EINVAL;
		goto fail;
	}
	if ((o = malloc(sizeof(*o) + IMSG_HDR_SIZE + len)) == NULL)
		goto fail;
	hdr.type = type | (fd >= 0 ? IMSG_WIRE_FD : 0);
	hdr.len = IMSG_HDR_SIZE + len;
	hdr.peerid = peerid;
	hdr.pid = (uint32_t)getpid();
	memcpy(o->data, &hdr, sizeof(hdr));
	if (len > 0)
		memcpy(o->data + IMSG_HDR_SIZE, data, len);
	o->next = NULL;
	o->len = hdr.len;
	o->off = 0;
	o->fd = fd >= 0 ? fd : -1;
	*ibuf->out_tail = o;
	ibuf->out_tail = &o->next;
	ibuf->out_bytes += o->len;
	return 0;
fail:
	if (fd >= 0) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return -1;
}

/* Drop n sent bytes from the head of the queue. */
static void
imsg_consume(struct imsgbuf *ibuf, size_t n)
{
	struct imsg_out *o;
	size_t chunk;

	while (n > 0 && (o = ibuf->out_head) != NULL) {
		chunk = o->len - o->off;
		if (chunk > n)
			chunk = n;
		o->off += chunk;
		n -= chunk;
		ibuf->out_bytes -= chunk;
		if (o->off < o->len)
			break;
		if ((ibuf->out_head = o->next) == NULL)
			ibuf->out_tail = &ibuf->out_head;
		imsg_out_free(o);
	}
}

int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec iov[IMSG_IOV_MAX];
	struct msghdr msg;
	struct cmsghdr *cm;
	struct imsg_out *o, *head;
	ssize_t n;
	int niov;

	while ((head = ibuf->out_head) != NULL) {
		/* gather frames; a frame with an fd always starts a sendmsg */
		niov = 0;
		for (o = head; o != NULL && niov < IMSG_IOV_MAX; o = o->next) {
			if (o != head && o->fd >= 0)
				break;
			iov[niov].iov_base = o->data + o->off;
			iov[niov].iov_len = o->len - o->off;
			niov++;
		}
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = niov;
		if (head->fd >= 0) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cm), &head->fd, sizeof(int));
		}
		n = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		if (n > 0 && head->fd >= 0) {
			/* the fd went with the first byte: ours is a dup now */
			close(head->fd);
			head->fd = -1;
		}
		imsg_consume(ibuf, (size_t)n);
	}
	return 0;
}

int
imsgbuf_flush_all(struct imsgbuf *ibuf)
{
	struct pollfd pfd;
	int r;

	for (;;) {
		if ((r = imsgbuf_flush(ibuf)) != 1)
			return r;
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
}
