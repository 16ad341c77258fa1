/*
 * An imsg link on a libevent loop.  Incoming frames are handed one at a
 * time to the handler; a read error, EOF, malformed frame, or a handler
 * calling imsgev_fail() closes the link, logs why once, and calls
 * on_close.  Outgoing frames are flushed when the socket is writable.
 */
#ifndef MXGATE_IMSGEV_H
#define MXGATE_IMSGEV_H

#include <event2/event.h>
#include "imsg.h"

struct mbuf;
struct imsgev;

typedef void (*imsgev_handler)(struct imsgev *, struct imsg *);
typedef void (*imsgev_closer)(struct imsgev *);

struct imsgev {
	struct imsgbuf	 ibuf;
	struct event	*ev;
	struct event_base *base;
	imsgev_handler	 handler;
	imsgev_closer	 on_close;
	void		*arg;
	const char	*peername;	/* for log lines: "lookupd", ... */
	short		 events;
	int		 closing;
	int		 faulted;	/* closed for what the peer sent */
	uint32_t	 peer_pid;	/* sender pid in the last header read */
	int		 dispatching;
};

int	imsgev_init(struct imsgev *, struct event_base *, int fd,
	    const char *peername, imsgev_handler, imsgev_closer, void *arg);
int	imsgev_compose(struct imsgev *, uint32_t type, uint32_t peerid,
	    int fd, const void *data, size_t len);
int	imsgev_compose_mbuf(struct imsgev *, uint32_t type, uint32_t peerid,
	    int fd, struct mbuf *);
/* Called by a handler on a malformed or unexpected message. */
void	imsgev_fail(struct imsgev *, const char *why);
/* Closes the link without calling on_close. */
void	imsgev_clear(struct imsgev *);
int	imsgev_active(const struct imsgev *);
size_t	imsgev_queued(const struct imsgev *);

#endif
