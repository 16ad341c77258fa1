/*
 * imsg-style framing over a UNIX socketpair: a 16-byte header (type,
 * length including header, peer id, sender pid) followed by the payload,
 * with at most one file descriptor passed alongside (SCM_RIGHTS).
 *
 * A frame whose length is below the header size or above IMSG_MAX_SIZE is
 * malformed: imsg_get() returns -1 and the caller closes the link.
 */
#ifndef MXGATE_IMSG_H
#define MXGATE_IMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IMSG_HDR_SIZE	16
#define IMSG_MAX_SIZE	(64 * 1024)
#define IMSG_MAX_FDS	16		/* received, not yet claimed */

struct imsg_hdr {
	uint32_t	type;
	uint32_t	len;		/* header + payload */
	uint32_t	peerid;
	uint32_t	pid;
};

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 when none was passed */
	void		*data;
	size_t		 datalen;
};

struct imsg_out;			/* a queued outgoing frame */

struct imsgbuf {
	int		 fd;
	uint8_t		*rbuf;		/* IMSG_MAX_SIZE * 2 bytes */
	size_t		 rlen;
	int		 rfds[IMSG_MAX_FDS];
	size_t		 nrfds;
	struct imsg_out	*out_head, **out_tail;
	size_t		 out_bytes;	/* queued, for back-pressure */
	pid_t		 pid;
};

int	imsgbuf_init(struct imsgbuf *, int fd);
void	imsgbuf_clear(struct imsgbuf *);	/* frees, closes held fds, not ->fd */
/* -1 error (errno), 0 EOF, >0 bytes read; EAGAIN returns -1 with errno set */
ssize_t	imsgbuf_read(struct imsgbuf *);
/* 1 a message in *imsg (free with imsg_free), 0 none complete, -1 malformed */
int	imsg_get(struct imsgbuf *, struct imsg *);
void	imsg_free(struct imsg *);
/* Queues a frame; takes ownership of fd (closed once sent). -1 on error. */
int	imsg_compose(struct imsgbuf *, uint32_t type, uint32_t peerid, int fd,
	    const void *data, size_t len);
/* -1 error, 0 all written, 1 more pending (wait for writability) */
int	imsgbuf_flush(struct imsgbuf *);
/* Blocking flush, for short-lived tools such as smtpctl. */
int	imsgbuf_flush_all(struct imsgbuf *);

#endif
