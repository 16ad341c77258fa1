/*
 * TLS for smtpd sessions (RFC 3207 STARTTLS, and implicit TLS on smtps
 * listeners): the server contexts built from the certificates the parent
 * sends (IMSG_CONF_PKI), the TLS settings of each listener, and one
 * session's handshake, its log line and its Received clause.  The I/O
 * itself is common/tlsio.c.
 *
 * A session knows whether TLS is up from its `tls_active' field
 * (smtp_session.c) or smtp_session_tls_active() (smtp_session.h).
 */
#ifndef MXGATE_SMTP_TLS_H
#define MXGATE_SMTP_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "config.h"
#include "imsgev.h"

struct smtp_tls;		/* one session's TLS connection */
struct smtp_tls_server;		/* a pki's server context, refcounted */

/* What a listener offers, looked up by its index (IMSG_LISTEN_FD). */
struct smtp_tls_listen {
	enum listen_tls		 mode;
	int			 require_tls;	/* MAIL needs STARTTLS first */
};

/* IMSG_CONF_PKI, between CONF_START and CONF_END. */
void	smtp_tls_conf_msg(struct imsgev *, struct imsg *);
/*
 * Builds the server contexts of conf's TLS listeners from the pki
 * received since the last call (which it then forgets); on success they
 * replace the old ones for new sessions.  -1 (logged) keeps the old ones.
 */
int	smtp_tls_configure(const struct mxgate_conf *);
/* Listener index's settings; an unknown index is plain. */
void	smtp_tls_listener(uint32_t index, struct smtp_tls_listen *);

/*
 * Starts the server handshake on the socket of *bevp, a plaintext socket
 * bufferevent whose output is written; it is freed, its unread input
 * discarded, and *bevp becomes the cleartext bufferevent (tlsio.h), with
 * `timeout' seconds per read and write.  `how' ("STARTTLS", "SMTPS")
 * and id, ip go to the log line.  Then done(arg, 1) once the handshake
 * is done, or done(arg, 0) after a failure was logged; either way the
 * caller ends with smtp_tls_close().  NULL when it cannot start (logged;
 * *bevp is NULL and the socket closed).
 */
struct smtp_tls *smtp_tls_accept(uint32_t listener, struct bufferevent **bevp,
	    const char *how, const char *id, const char *ip, uint32_t timeout,
	    void (*done)(void *arg, int ok), void *arg);
/* Sends what is left and close_notify, closes; frees the bufferevent. */
void	smtp_tls_close(struct smtp_tls *);
/*
 * "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", for the
 * log and the Received header (RFC 5321 4.4 comment, Postfix style).
 */
void	smtp_tls_describe(struct smtp_tls *, char *buf, size_t len);

#endif
