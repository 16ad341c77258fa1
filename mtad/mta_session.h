/*
 * Outbound SMTP sessions.  A session belongs to one destination (the
 * relay string, see mta_pool.h), resolves it (mta_dns.h), connects to the
 * addresses of the route in order, and then carries one transfer at a
 * time: MAIL, RCPT per recipient, DATA, the body streamed from the
 * message fd; PIPELINING when offered.  Between transfers it sends RSET;
 * when it has nothing to carry it waits idle in the pool.
 *
 * Each recipient of a transfer ends with one status and one text; once
 * every recipient has ended, mta_report() hands the transfer back (mtad.c
 * sends IMSG_MTA_RESULT) and the transfer is freed.
 */
#ifndef MXGATE_MTA_SESSION_H
#define MXGATE_MTA_SESSION_H

#include <sys/types.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "mta_relay.h"

/* As long as queued may send (queued/envelope.h): anything longer than
 * SMTP allows fails per recipient, it never breaks the link. */
#define MTA_MSGID_MAX	64
#define MTA_ADDR_MAX	1024
#define MTA_RELAY_MAX	1024
/* "mx1.example.com[2001:db8::1]:25": name, address, port */
#define MTA_RELAYNAME_MAX	(MTA_RELAY_NAME_MAX + 64)

struct mta_rcpt {
	char		*addr;
	int		 done;		/* status and reply are final */
	int		 sent;		/* RCPT sent in this transaction */
	int		 accepted;	/* 2xx at RCPT, waiting for DATA */
	enum mta_status	 status;
	char		*reply;		/* remote reply or our description */
};

struct mta_transfer {
	TAILQ_ENTRY(mta_transfer) entry;	/* waiting in the pool */
	uint64_t	 batchid;
	uint32_t	 peerid;
	char		 msgid[MTA_MSGID_MAX];
	char		 sender[MTA_ADDR_MAX];
	char		 relay[MTA_RELAY_MAX];
	char		 relayname[MTA_RELAYNAME_MAX];	/* address used */
	uint32_t	 body;		/* enum msg_body: BODY= of the MAIL */
	int		 smtputf8;	/* the MAIL had SMTPUTF8 */
	int		 fd;		/* message, read-only; -1 once closed */
	off_t		 size;		/* of the message file */
	size_t		 nrcpt;
	struct mta_rcpt	*rcpts;
};

struct mta_session;
struct mta_dest;

/* A new session for d carrying t first (t's relay parsed into r); it
 * calls back into the pool only from later events, never before this
 * returns. */
struct mta_session *mta_session_new(struct event_base *, struct mta_dest *,
	    const struct mta_relay *, struct mta_transfer *);
/* An idle session takes the next transfer. */
void	mta_session_deliver(struct mta_session *, struct mta_transfer *);
/* Close an idle session (QUIT); mta_pool_gone() follows. */
void	mta_session_close(struct mta_session *);
/* Free without reporting (the link to queued is gone). */
void	mta_session_abort(struct mta_session *);
/* "Ends" the transfer at once, e.g. a bad relay: every recipient gets
 * status and text, the result is reported, t is freed. */
void	mta_transfer_fail(struct mta_transfer *, enum mta_status,
	    const char *text);

/* mtad.c: send the result for t. */
void	mta_report(const struct mta_transfer *);
void	mta_transfer_free(struct mta_transfer *);

#endif
