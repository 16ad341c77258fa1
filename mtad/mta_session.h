/*
 * One outbound SMTP session per transfer from queued: connect, greeting,
 * EHLO (HELO on 5xx), MAIL, one RCPT per recipient, DATA, the message
 * streamed from its fd, QUIT.  Each recipient ends with one status and one
 * text; once every recipient has ended, mta_report() hands the transfer
 * back (mtad.c sends IMSG_MTA_RESULT) and the session only finishes QUIT.
 */
#ifndef MXGATE_MTA_SESSION_H
#define MXGATE_MTA_SESSION_H

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

struct mta_rcpt {
	char		*addr;
	int		 done;		/* status and reply are final */
	int		 accepted;	/* 2xx at RCPT, waiting for DATA */
	enum mta_status	 status;
	char		*reply;		/* remote reply or our description */
};

struct mta_transfer {
	uint64_t	 batchid;
	uint32_t	 peerid;
	char		 msgid[MTA_MSGID_MAX];
	char		 sender[MTA_ADDR_MAX];
	char		 relay[MTA_RELAY_MAX];
	char		 relayname[MTA_RELAY_NAME_MAX];	/* "192.0.2.1:25" */
	uint32_t	 body;		/* enum msg_body: BODY= of the MAIL */
	int		 smtputf8;	/* the MAIL had SMTPUTF8 */
	int		 fd;		/* message, read-only; -1 once closed */
	size_t		 nrcpt;
	struct mta_rcpt	*rcpts;
};

/* Takes the transfer (and its fd) whatever happens: mta_report() is
 * called exactly once for it, possibly before this returns, unless
 * mta_session_abort_all() comes first. */
void	mta_session_start(struct event_base *, const char *helo,
	    struct mta_transfer *);
/* The link to queued went away: drop every session without reporting. */
void	mta_session_abort_all(void);
size_t	mta_session_count(void);

/* mtad.c: send the result for t. */
void	mta_report(const struct mta_transfer *);
void	mta_transfer_free(struct mta_transfer *);

#endif
