/*
 * tlsio: a libtls connection driven by libevent, seen by its user as an
 * ordinary bufferevent.  The user reads and writes cleartext on the
 * bufferevent tlsio returns (one end of a bufferevent pair); tlsio moves
 * it through tls_read()/tls_write() on the socket.  Works for both
 * sides: give it a `struct tls *' from tls_accept_socket() (server) or
 * from tls_client() + tls_configure() + tls_connect_socket() (client).
 *
 * Semantics of the returned bufferevent, beyond a socket one:
 * - the handshake runs first; then its event callback gets
 *   BEV_EVENT_CONNECTED, or BEV_EVENT_ERROR if it failed (tlsio_error()
 *   says why).  Set its callbacks, timeouts and watermarks as for a
 *   socket: its read timeout also bounds the handshake;
 * - BEV_EVENT_EOF|BEV_EVENT_READING once the peer closed (close_notify or
 *   plain EOF), delivered only after all cleartext before it was moved to
 *   the input buffer; BEV_EVENT_ERROR|READING or |WRITING on a TLS or
 *   socket error;
 * - callbacks are always deferred to the event loop (never run from
 *   inside bufferevent_write()), so freeing from a callback is safe;
 * - bufferevent_getfd() is -1 on it; never bufferevent_free() it: call
 *   tlsio_close(), which also frees the tls context and closes the fd.
 *
 * Nothing read before the handshake is ever handed over: for STARTTLS
 * (RFC 3207 section 6, CVE-2011-0411) tlsio_start_bev() discards what the
 * plaintext bufferevent had buffered.
 *
 * A client STARTTLS (mtad), once "220 Ready to start TLS" was read from
 * the plaintext socket bufferevent bev:
 *
 *	tls = tls_client(); tls_configure(tls, cfg);
 *	tls_connect_socket(tls, bufferevent_getfd(bev), "mx.example.com");
 *	if ((io = tlsio_start_bev(bev, tls)) == NULL)	// bev is gone
 *		tls_free(tls), fail;
 *	bev = tlsio_bev(io);
 *	bufferevent_setcb(bev, readcb, writecb, eventcb, arg);
 *	bufferevent_enable(bev, EV_READ | EV_WRITE);
 *	... eventcb(BEV_EVENT_CONNECTED): EHLO again; at the end:
 *	tlsio_close(io, 10);	// also tls_free(tls) and close(fd)
 *
 * The server side is the same with tls_accept_socket(server, &tls, fd);
 * tlsio then owns the connection context, the caller keeps `server'.
 * regress/unit/test_tlsio.c drives both sides.
 */
#ifndef MXGATE_TLSIO_H
#define MXGATE_TLSIO_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <tls.h>

struct tlsio;

/*
 * Takes a connected, non-blocking fd and a tls context set up on it (no
 * handshake done yet) and starts the handshake.  On failure (out of
 * memory) returns NULL and owns nothing: the caller still has fd and tls.
 */
struct tlsio	*tlsio_start(struct event_base *, int fd, struct tls *);

/*
 * STARTTLS: the same on the socket of a plaintext socket bufferevent,
 * whose output must already be written (e.g. from its write callback).
 * Frees bev without closing the socket and discards its unread input.
 * tls must have been set up on bufferevent_getfd(bev).  On failure
 * returns NULL with bev freed and its socket closed; tls is the caller's.
 */
struct tlsio	*tlsio_start_bev(struct bufferevent *bev, struct tls *);

/* The cleartext bufferevent of the connection. */
struct bufferevent *tlsio_bev(struct tlsio *);
/* The connection, for tls_conn_version(), tls_conn_cipher(), ... */
struct tls	*tlsio_tls(struct tlsio *);
/* Why the handshake or the connection failed; "" when it did not. */
const char	*tlsio_error(struct tlsio *);

/*
 * Ends the connection: what is still buffered for the peer is sent, then
 * close_notify, then the fd is closed and everything freed; after
 * `timeout' seconds it gives up and closes anyway.  The bufferevent is
 * freed at once: no callback is called any more.
 */
void		 tlsio_close(struct tlsio *, int timeout);

#endif
