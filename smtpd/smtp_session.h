/*
 * One SMTP client session: the protocol state machine (smtp_session.c).
 * smtp.c accepts connections and decodes the answers of lookupd and
 * queued; it hands them here by request id.  A session never blocks: it
 * stops reading while it waits for a peer, and the commands the client
 * pipelined stay buffered until the answer came.
 */
#ifndef MXGATE_SMTP_SESSION_H
#define MXGATE_SMTP_SESSION_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "proto.h"

/* What a new session takes from the config; reloads affect new ones only. */
struct smtp_params {
	char		hostname[CONF_STR_MAX];
	uint64_t	max_message_size;
	uint32_t	max_recipients;
	int		bare_lf;	/* CONF_BARE_LF_REJECT or _NORMALIZE */
	uint32_t	max_sessions;	/* more connections get a 421 */
	uint32_t	max_sessions_per_client;	/* from one address */
	uint32_t	timeout;	/* seconds, per read and write, and for
					 * the answer of a peer */
	uint32_t	max_errors;	/* bad commands, then 421 */
	uint32_t	max_line;	/* command line with CR LF */
	uint32_t	data_timeout;	/* seconds, reading DATA or BDAT */
	uint32_t	max_hops;	/* Received: fields, then 554 */
	uint32_t	max_auth_failures;	/* failed AUTH, then 421 */
};

/* One expanded recipient of IMSG_LKA_RCPT_RESULT. */
struct smtp_expand {
	char	*rcpt;
	char	*relay;
};

/* on_close: called after a session ended (to resume accepting). */
void	smtp_session_init(void (*on_close)(void));
void	smtp_session_params(const struct smtp_params *);
size_t	smtp_session_count(void);
/*
 * Takes the accepted socket; closes it on failure, or after a 421 when
 * max_sessions or max_sessions_per_client are reached.
 */
void	smtp_session_new(int fd, const struct sockaddr *, socklen_t,
	    uint32_t listener);

/* Answers from the peers, matched by request id; unknown ids are stale. */
void	smtp_session_lka_result(uint64_t reqid, enum lka_status,
	    const char *text, const struct smtp_expand *, size_t n);
void	smtp_session_auth_result(uint64_t reqid, enum lka_auth_status);
/* Takes fd; the message of a stale answer is closed and aborted. */
void	smtp_session_queue_created(uint64_t reqid, const char *msgid, int fd);
void	smtp_session_queue_create_failed(uint64_t reqid);
/* QUEUE_STATUS_* from queued: refuse new mail while not 0. */
void	smtp_session_queue_status(uint32_t);
void	smtp_session_queue_committed(uint64_t reqid, const char *msgid,
	    int ok);
void	smtp_session_peer_up(enum proc_id);
void	smtp_session_peer_down(enum proc_id);

struct smtp_session;
/*
 * 1 once the session's TLS handshake is done (after STARTTLS, or from
 * the start on an smtps listener), else 0.  Inside smtp_session.c the
 * same is the field s->tls_active.  AUTH and require-tls depend on it.
 */
int	smtp_session_tls_active(const struct smtp_session *);

#endif
