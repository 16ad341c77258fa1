/*
 * The outbound SMTP client: a state machine on a bufferevent, one case
 * per state in mta_on_reply().
 *
 * Guarantees kept here:
 * - every recipient ends exactly once, with the remote reply or our
 *   description, and is logged once per attempt; the result goes back in
 *   transfer order only when all have ended;
 * - nothing but a 2xx to the end of data marks a recipient sent; a lost
 *   connection or a timeout after the body has started is a temporary
 *   failure (the message may then arrive twice, never not at all);
 * - before the body, a connection error, a timeout or a 421 moves on to
 *   the next address of the route; only when every address has failed
 *   are the recipients deferred;
 * - a next hop whose policy requires TLS never sees the message in plain
 *   text: no STARTTLS, a refused one or a failed handshake moves on to
 *   the next address; with the opportunistic policy a failed handshake
 *   tries the same address once more without TLS;
 * - addresses that could inject a command (CR, LF, other controls, '<',
 *   '>') never reach the wire;
 * - the body is streamed from the fd a chunk at a time, dot-stuffed, with
 *   every line end made CRLF (a bare LF or CR too, so that no "\n.\r\n"
 *   or "\r.\r" can end the data early at a lenient server).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <bsd/string.h>

#include "log.h"
#include "tlsio.h"
#include "mta_body.h"
#include "mta_dns.h"
#include "mta_ehlo.h"
#include "mta_pool.h"
#include "mta_relay.h"
#include "mta_reply.h"
#include "mta_session.h"
#include "mta_tls.h"

#define MTA_CHUNK		16384		/* read from the message fd */
#define MTA_OUT_LOWAT		16384		/* refill below this */
#define MTA_OUT_HIWAT		65536		/* fill up to this */
#define MTA_HELO_MAX		256


enum mta_state {
	MTA_RESOLVE,
	MTA_CONNECT,
	MTA_GREETING,
	MTA_EHLO,
	MTA_HELO,
	MTA_STARTTLS,		/* waiting for 220 to STARTTLS */
	MTA_TLS,		/* TLS handshake */
	MTA_RSET,
	MTA_MAIL,
	MTA_RCPT,
	MTA_DATA,
	MTA_BODY,
	MTA_EOM,
	MTA_IDLE,
	MTA_QUIT,
	MTA_DEAD		/* waiting to be freed from the timer */
};

struct mta_session {
	struct mta_dest		*dest;
	struct mta_relay	 relay;
	struct mta_transfer	*t;		/* NULL while idle */
	enum mta_state		 state;
	struct event_base	*base;
	struct mta_dns_req	*dns;
	struct mta_route	 route;
	size_t			 addridx;	/* next address to try */
	const struct mta_addr	*addr;		/* the one connected */
	int			 sock;		/* until the bufferevent owns it */
	struct event		*ev_connect;
	struct event		*timer;
	struct bufferevent	*bev;
	struct tlsio		*tlsio;		/* once STARTTLS succeeded */
	int			 tlspolicy;	/* enum conf_tls_policy */
	const struct mta_addr	*tls_skip;	/* may: retry it in plain text */
	char			 tlsinfo[256];	/* "tls=..., " for the log */
	struct mta_reply	 reply;
	struct timespec		 start;		/* of the current transfer */
	char			 helo[MTA_HELO_MAX];
	struct mta_ehlo		 ehlo;		/* what this server offers */
	unsigned		 nmsgs;		/* transactions on this connection */
	int			 reused;	/* it carried one already */
	enum mta_status		 laststatus;	/* last address's failure */
	char			 lasterr[MTA_REPLY_TEXT_MAX];
	int			 mailfail;	/* MAIL refused (pipelined) */
	size_t			 rcptidx;	/* recipient of the next reply */
	size_t			 naccepted;
	int			 discard;	/* 354 with nobody accepted */
	off_t			 offset;	/* body: next byte of the fd */
	struct mta_body		 body;		/* body: encoder state */
};

static void	mta_on_reply(struct mta_session *);
static void	mta_connect_next(struct mta_session *);
static void	mta_txn_begin(struct mta_session *);

static const char *
mta_stage(enum mta_state state)
{
	switch (state) {
	case MTA_RESOLVE:	return "resolving";
	case MTA_CONNECT:	return "connecting";
	case MTA_GREETING:	return "receiving the initial server greeting";
	case MTA_EHLO:		return "performing the EHLO handshake";
	case MTA_HELO:		return "performing the HELO handshake";
	case MTA_STARTTLS:	return "sending STARTTLS";
	case MTA_TLS:		return "performing the TLS handshake";
	case MTA_RSET:		return "sending RSET";
	case MTA_MAIL:		return "sending MAIL FROM";
	case MTA_RCPT:		return "sending RCPT TO";
	case MTA_DATA:		return "sending DATA command";
	case MTA_BODY:		return "sending message body";
	case MTA_EOM:		return "sending end of data -- "
				    "message may be sent more than once";
	case MTA_IDLE:		return "waiting idle";
	case MTA_QUIT:		return "sending QUIT";
	case MTA_DEAD:		return "closing";
	}
	return "?";
}

static enum mta_status
mta_class(int code)
{
	if (code >= 200 && code < 300)
		return MTA_OK;
	if (code >= 500 && code < 600)
		return MTA_PERMFAIL;
	return MTA_TEMPFAIL;		/* 4xx, or a 3xx out of place */
}

/* The class of a refusal: a 2xx where a refusal is due is no success. */
static enum mta_status
mta_refusal(int code)
{
	return code >= 500 && code < 600 ? MTA_PERMFAIL : MTA_TEMPFAIL;
}

/* Safe inside <...> on a command line: no controls, no angle brackets. */
static int
mta_addr_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f ||
		    *s == '<' || *s == '>')
			return 0;
	return 1;
}

static void
mta_addr_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static double
mta_delay(const struct mta_session *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - s->start.tv_sec) +
	    (double)(now.tv_nsec - s->start.tv_nsec) / 1e9;
}

static void
mta_timer(struct mta_session *s, enum conf_mta_timeout stage)
{
	struct timeval tv = { mta_pool_timeout(stage), 0 };

	evtimer_add(s->timer, &tv);
}

/* End one recipient: final status and text, one log line. */
static void
mta_rcpt_done(struct mta_session *s, struct mta_rcpt *r,
    enum mta_status status, const char *text)
{
	static const char *const names[] = { "sent", "deferred", "bounced" };

	if (r->done)
		return;
	if ((r->reply = strdup(text)) == NULL)
		fatal("strdup");
	r->done = 1;
	r->accepted = 0;
	r->status = status;
	log_info("%s: to=<%s>, relay=%s, delay=%.2f, %sstatus=%s (%s)",
	    s->t->msgid, r->addr, s->t->relayname, mta_delay(s),
	    s->tlsinfo, names[status], text);
}

/* End every recipient of the transfer not ended yet. */
static void __attribute__((format(printf, 3, 4)))
mta_fail_rest(struct mta_session *s, enum mta_status status,
    const char *fmt, ...)
{
	char text[MTA_REPLY_TEXT_MAX];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (i = 0; i < s->t->nrcpt; i++)
		mta_rcpt_done(s, &s->t->rcpts[i], status, text);
}

static void
mta_send(struct mta_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
mta_send(struct mta_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	char line[MTA_ADDR_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_debug("%s: %s >>> %s", s->t != NULL ? s->t->msgid : "-",
	    s->addr != NULL ? s->addr->name : "?", line);
	if (evbuffer_add_printf(out, "%s\r\n", line) == -1)
		fatalx("evbuffer_add_printf");
}

static void
mta_enter(struct mta_session *s, enum mta_state state,
    enum conf_mta_timeout stage)
{
	s->state = state;
	mta_reply_init(&s->reply);
	mta_timer(s, stage);
}

static void
mta_drop_connection(struct mta_session *s)
{
	if (s->ev_connect != NULL)
		event_free(s->ev_connect);
	s->ev_connect = NULL;
	if (s->tlsio != NULL)
		tlsio_close(s->tlsio, 5);	/* frees s->bev */
	else if (s->bev != NULL)
		bufferevent_free(s->bev);
	s->tlsio = NULL;
	s->bev = NULL;
	s->tlsinfo[0] = '\0';
	if (s->sock != -1)
		close(s->sock);
	s->sock = -1;
	evtimer_del(s->timer);
}

/*
 * The session is finished: it leaves the pool from the timer, outside
 * whatever callback is running now.  Its transfer must have been reported.
 */
static void
mta_kill(struct mta_session *s)
{
	struct timeval now = { 0, 0 };

	if (s->state == MTA_DEAD)
		return;
	if (s->state == MTA_IDLE)
		mta_pool_unidle(s->dest, s);
	mta_drop_connection(s);
	if (s->dns != NULL)
		mta_dns_cancel(s->dns);
	s->dns = NULL;
	s->state = MTA_DEAD;
	evtimer_add(s->timer, &now);
}

static void
mta_free(struct mta_session *s)
{
	mta_drop_connection(s);
	if (s->dns != NULL)
		mta_dns_cancel(s->dns);
	event_free(s->timer);
	mta_transfer_free(s->t);
	free(s);
}

/* Every recipient has ended: hand the result back, free the transfer. */
static void
mta_report_free(struct mta_session *s)
{
	size_t i;

	for (i = 0; i < s->t->nrcpt; i++)
		if (!s->t->rcpts[i].done)
			fatalx("%s: reporting an unfinished transfer",
			    s->t->msgid);
	mta_report(s->t);
	mta_transfer_free(s->t);
	s->t = NULL;
}

/* A failure that ends the connection and the transfer's attempt. */
static void __attribute__((format(printf, 3, 4)))
mta_abandon(struct mta_session *s, enum mta_status status,
    const char *fmt, ...)
{
	char text[MTA_REPLY_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (s->t != NULL) {
		mta_fail_rest(s, status, "%s", text);
		mta_report_free(s);
	}
	mta_kill(s);
}

/*
 * This address failed before the body: remember why and try the next
 * one.  A connection that had carried a transaction (the server may
 * have dropped it while idle) starts the route over once, fresh.
 */
static void __attribute__((format(printf, 3, 4)))
mta_addr_fail(struct mta_session *s, enum mta_status status,
    const char *fmt, ...)
{
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(s->lasterr, sizeof(s->lasterr), fmt, ap);
	va_end(ap);
	s->laststatus = status;
	log_info("%s: %s", s->t->msgid, s->lasterr);
	mta_drop_connection(s);
	for (i = 0; i < s->t->nrcpt; i++)
		s->t->rcpts[i].accepted = s->t->rcpts[i].sent = 0;
	if (s->reused) {
		s->reused = 0;
		s->addridx = 0;
	}
	mta_connect_next(s);
}

/* The transfer has ended: report it, then carry another or idle. */
static void
mta_txn_end(struct mta_session *s)
{
	mta_report_free(s);
	s->reused = 1;
	if (++s->nmsgs >= mta_pool_max_messages()) {
		s->state = MTA_QUIT;
		mta_send(s, "QUIT");
		mta_timer(s, CONF_MTA_TO_QUIT);
		return;
	}
	s->state = MTA_IDLE;
	mta_timer(s, CONF_MTA_TO_IDLE);
	mta_pool_ready(s->dest, s);
}

/* Top the output buffer up from the fd; the write callback calls again
 * when it has drained below the low-water mark. */
static void
mta_body_fill(struct mta_session *s)
{
	static char	 in[MTA_CHUNK], enc[2 * MTA_CHUNK + 8];
	struct evbuffer	*out = bufferevent_get_output(s->bev);
	ssize_t		 n;
	size_t		 len;

	while (evbuffer_get_length(out) < MTA_OUT_HIWAT) {
		if ((n = pread(s->t->fd, in, sizeof(in), s->offset)) == -1) {
			if (errno == EINTR)
				continue;
			mta_abandon(s, MTA_TEMPFAIL, "4.3.0 error reading the "
			    "message file: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			len = mta_body_end(&s->body, enc);
			if (evbuffer_add(out, enc, len) == -1)
				fatalx("evbuffer_add");
			bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
			mta_enter(s, MTA_EOM, CONF_MTA_TO_DOT);
			return;
		}
		s->offset += n;
		len = mta_body_encode(&s->body, in, (size_t)n, enc);
		if (evbuffer_add(out, enc, len) == -1)
			fatalx("evbuffer_add");
	}
	mta_timer(s, CONF_MTA_TO_BLOCK);
}

static void
mta_body_start(struct mta_session *s)
{
	mta_enter(s, MTA_BODY, CONF_MTA_TO_BLOCK);
	s->offset = 0;
	mta_body_init(&s->body);
	bufferevent_setwatermark(s->bev, EV_WRITE, MTA_OUT_LOWAT, 0);
	mta_body_fill(s);
}

/* Checks of the transfer against this server; 0 if anything is left. */
static int
mta_txn_check(struct mta_session *s)
{
	struct mta_transfer	*t = s->t;
	size_t			 i, left = 0;

	if (!mta_addr_ok(t->sender)) {
		mta_addr_sanitize(t->sender);
		mta_fail_rest(s, MTA_PERMFAIL,
		    "5.1.7 bad sender address syntax");
	}
	if ((s->ehlo.ext & MTA_EXT_SIZE) && s->ehlo.maxsize > 0 &&
	    (unsigned long long)t->size > s->ehlo.maxsize)
		mta_fail_rest(s, MTA_PERMFAIL, "552 5.3.4 message size %lld "
		    "exceeds size limit %llu of server %s",
		    (long long)t->size, s->ehlo.maxsize, s->addr->name);
	if (t->smtputf8 && !(s->ehlo.ext & MTA_EXT_SMTPUTF8))
		mta_fail_rest(s, MTA_PERMFAIL, "5.6.7 SMTPUTF8 is required, "
		    "but was not offered by host %s", s->addr->name);
	for (i = 0; i < t->nrcpt; i++) {
		if (!t->rcpts[i].done && !mta_addr_ok(t->rcpts[i].addr)) {
			mta_addr_sanitize(t->rcpts[i].addr);
			mta_rcpt_done(s, &t->rcpts[i], MTA_PERMFAIL,
			    "5.1.3 bad recipient address syntax");
		}
		left += !t->rcpts[i].done;
	}
	return left > 0 ? 0 : -1;
}

/* Send RCPT for the next recipient not ended yet; 0 if none is left. */
static int
mta_send_rcpt(struct mta_session *s, size_t from)
{
	struct mta_rcpt *r;

	for (; from < s->t->nrcpt; from++) {
		r = &s->t->rcpts[from];
		if (r->done || r->sent)
			continue;
		r->sent = 1;
		mta_send(s, "RCPT TO:<%s>", r->addr);
		return 1;
	}
	return 0;
}

/* Index of the next recipient whose RCPT reply is due, or nrcpt. */
static size_t
mta_next_sent(struct mta_session *s, size_t from)
{
	while (from < s->t->nrcpt && !s->t->rcpts[from].sent)
		from++;
	return from;
}

/*
 * MAIL with the parameters the server understands: SIZE (RFC 1870),
 * BODY as the client gave it (RFC 6152; an 8-bit body to a server
 * without 8BITMIME goes as it is, as Postfix does), SMTPUTF8 (RFC 6531,
 * checked above).
 */
static void
mta_send_mail(struct mta_session *s)
{
	const struct mta_transfer	*t = s->t;
	char				 size[32] = "", body[16] = "";

	if (s->ehlo.ext & MTA_EXT_SIZE)
		snprintf(size, sizeof(size), " SIZE=%lld", (long long)t->size);
	if ((s->ehlo.ext & MTA_EXT_8BITMIME) && t->body != MSG_BODY_NONE)
		strlcpy(body, t->body == MSG_BODY_8BITMIME ? " BODY=8BITMIME" :
		    " BODY=7BIT", sizeof(body));
	mta_send(s, "MAIL FROM:<%s>%s%s%s", t->sender, size, body,
	    t->smtputf8 ? " SMTPUTF8" : "");
}

static void
mta_txn_begin(struct mta_session *s)
{
	size_t i;

	s->mailfail = s->discard = 0;
	s->naccepted = 0;
	for (i = 0; i < s->t->nrcpt; i++)
		s->t->rcpts[i].sent = s->t->rcpts[i].accepted = 0;
	if (mta_txn_check(s) == -1) {
		mta_txn_end(s);
		return;
	}
	mta_send_mail(s);
	if (s->ehlo.ext & MTA_EXT_PIPELINING) {
		while (mta_send_rcpt(s, 0))
			;
		mta_send(s, "DATA");
	}
	mta_enter(s, MTA_MAIL, CONF_MTA_TO_MAIL);
}

/* After the last RCPT reply: DATA (sent already when pipelining). */
static void
mta_after_rcpts(struct mta_session *s)
{
	if (s->ehlo.ext & MTA_EXT_PIPELINING)
		mta_enter(s, MTA_DATA, CONF_MTA_TO_DATA);
	else if (s->naccepted > 0) {
		mta_send(s, "DATA");
		mta_enter(s, MTA_DATA, CONF_MTA_TO_DATA);
	} else
		mta_txn_end(s);
}

static void
mta_on_mail(struct mta_session *s, const struct mta_reply *r)
{
	if (mta_class(r->code) != MTA_OK) {
		s->mailfail = 1;
		mta_fail_rest(s, mta_refusal(r->code), "%s", r->text);
		if (!(s->ehlo.ext & MTA_EXT_PIPELINING)) {
			mta_txn_end(s);
			return;
		}
	} else if (!(s->ehlo.ext & MTA_EXT_PIPELINING))
		mta_send_rcpt(s, 0);
	s->rcptidx = mta_next_sent(s, 0);
	if (s->rcptidx == s->t->nrcpt)
		mta_after_rcpts(s);
	else
		mta_enter(s, MTA_RCPT, CONF_MTA_TO_RCPT);
}

static void
mta_on_rcpt(struct mta_session *s, const struct mta_reply *r)
{
	struct mta_rcpt *rcpt = &s->t->rcpts[s->rcptidx];

	if (s->mailfail)
		;			/* ended with the MAIL reply */
	else if (mta_class(r->code) == MTA_OK) {
		rcpt->accepted = 1;
		s->naccepted++;
	} else
		mta_rcpt_done(s, rcpt, mta_refusal(r->code), r->text);
	if (!(s->ehlo.ext & MTA_EXT_PIPELINING))
		mta_send_rcpt(s, s->rcptidx + 1);
	s->rcptidx = mta_next_sent(s, s->rcptidx + 1);
	if (s->rcptidx == s->t->nrcpt)
		mta_after_rcpts(s);
	else
		mta_enter(s, MTA_RCPT, CONF_MTA_TO_RCPT);
}

static void
mta_on_data(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code != 354) {
		mta_fail_rest(s, mta_refusal(r->code), "%s", r->text);
		mta_txn_end(s);
	} else if (s->naccepted == 0) {
		/* pipelined, every RCPT refused, yet 354: end it empty */
		s->discard = 1;
		mta_send(s, ".");
		mta_enter(s, MTA_EOM, CONF_MTA_TO_DOT);
	} else
		mta_body_start(s);
}

static void
mta_on_greeting(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code != 220) {
		mta_addr_fail(s, mta_refusal(r->code), "host %s refused to "
		    "talk to me: %s", s->addr->name, r->text);
		return;
	}
	mta_send(s, "EHLO %s", s->helo);
	mta_enter(s, MTA_EHLO, CONF_MTA_TO_HELO);
}

static void
mta_on_helo(struct mta_session *s, const struct mta_reply *r)
{
	if (s->state == MTA_EHLO && r->code >= 500) {
		mta_send(s, "HELO %s", s->helo);
		mta_enter(s, MTA_HELO, CONF_MTA_TO_HELO);
		return;
	}
	if (mta_class(r->code) != MTA_OK) {
		mta_addr_fail(s, mta_refusal(r->code), "host %s refused "
		    "%s: %s", s->addr->name, s->state == MTA_EHLO ? "EHLO" :
		    "HELO", r->text);
		return;
	}
	if (s->state == MTA_EHLO)
		mta_ehlo_parse(&s->ehlo, r->text);
	else
		memset(&s->ehlo, 0, sizeof(s->ehlo));
	if (s->tlsio == NULL && s->tlspolicy != CONF_TLS_NONE &&
	    s->tls_skip != s->addr) {
		if (s->ehlo.ext & MTA_EXT_STARTTLS) {
			mta_send(s, "STARTTLS");
			mta_enter(s, MTA_STARTTLS, CONF_MTA_TO_STARTTLS);
			return;
		}
		if (s->tlspolicy >= CONF_TLS_ENCRYPT) {
			mta_addr_fail(s, MTA_TEMPFAIL, "4.7.4 TLS is required, "
			    "but host %s did not offer STARTTLS",
			    s->addr->name);
			return;
		}
	}
	mta_txn_begin(s);
}

/* The handshake failed: another address, or (may) this one in plain. */
static void
mta_tls_fail(struct mta_session *s, const char *why)
{
	if (s->tlspolicy == CONF_TLS_MAY) {
		s->tls_skip = s->addr;
		s->addridx--;		/* the same address again */
	}
	mta_addr_fail(s, MTA_TEMPFAIL, "4.7.5 TLS handshake with %s "
	    "failed: %s%s", s->addr->name, why,
	    s->tlspolicy == CONF_TLS_MAY ? " (trying without TLS)" : "");
}

static void
mta_tls_up(struct mta_session *s)
{
	struct tls *tls = tlsio_tls(s->tlsio);

	snprintf(s->tlsinfo, sizeof(s->tlsinfo), "tls=%s, cipher=%s, "
	    "verify=%s, ", tls_conn_version(tls), tls_conn_cipher(tls),
	    s->tlspolicy == CONF_TLS_VERIFY ? "ok" : "none");
	log_info("%s: TLS to %s: %s %s, certificate %s", s->t->msgid,
	    s->addr->name, tls_conn_version(tls), tls_conn_cipher(tls),
	    s->tlspolicy == CONF_TLS_VERIFY ? "verified" : "not checked");
	mta_send(s, "EHLO %s", s->helo);
	mta_enter(s, MTA_EHLO, CONF_MTA_TO_HELO);
}

static void	mta_read_cb(struct bufferevent *, void *);
static void	mta_write_cb(struct bufferevent *, void *);
static void	mta_event_cb(struct bufferevent *, short, void *);

/* 220 to STARTTLS: the handshake on the same socket.  Whatever the
 * server sent after its 220 was refused by mta_read_cb(); what tlsio
 * might still hold of the plain text is discarded by tlsio_start_bev(). */
static void
mta_on_starttls(struct mta_session *s, const struct mta_reply *r)
{
	struct tls	*tls;
	const char	*why;

	if (r->code != 220) {
		if (s->tlspolicy >= CONF_TLS_ENCRYPT)
			mta_addr_fail(s, MTA_TEMPFAIL, "4.7.4 TLS is required, "
			    "but host %s refused STARTTLS: %s", s->addr->name,
			    r->text);
		else
			mta_txn_begin(s);
		return;
	}
	if ((tls = mta_tls_connect(s->tlspolicy, bufferevent_getfd(s->bev),
	    s->addr->host, &why)) == NULL) {
		mta_tls_fail(s, why);
		return;
	}
	if ((s->tlsio = tlsio_start_bev(s->bev, tls)) == NULL) {
		s->bev = NULL;		/* freed, its socket closed */
		tls_free(tls);
		mta_tls_fail(s, "out of memory");
		return;
	}
	s->bev = tlsio_bev(s->tlsio);
	bufferevent_setcb(s->bev, mta_read_cb, mta_write_cb, mta_event_cb, s);
	if (bufferevent_enable(s->bev, EV_READ | EV_WRITE) == -1)
		fatalx("bufferevent_enable");
	mta_enter(s, MTA_TLS, CONF_MTA_TO_STARTTLS);
}

static void
mta_on_reply(struct mta_session *s)
{
	const struct mta_reply *r = &s->reply;

	log_debug("%s: %s <<< %s", s->t != NULL ? s->t->msgid : "-",
	    s->addr->name, r->text);
	if (r->code == 421 && s->state < MTA_BODY) {
		mta_addr_fail(s, MTA_TEMPFAIL, "host %s is closing the "
		    "connection: %s", s->addr->name, r->text);
		return;
	}
	switch (s->state) {
	case MTA_GREETING:
		mta_on_greeting(s, r);
		break;
	case MTA_EHLO:
	case MTA_HELO:
		mta_on_helo(s, r);
		break;
	case MTA_STARTTLS:
		mta_on_starttls(s, r);
		break;
	case MTA_RSET:
		if (mta_class(r->code) == MTA_OK)
			mta_txn_begin(s);
		else
			mta_addr_fail(s, MTA_TEMPFAIL, "host %s refused "
			    "RSET: %s", s->addr->name, r->text);
		break;
	case MTA_MAIL:
		mta_on_mail(s, r);
		break;
	case MTA_RCPT:
		mta_on_rcpt(s, r);
		break;
	case MTA_DATA:
		mta_on_data(s, r);
		break;
	case MTA_BODY:
		/* a server may refuse before the dot, e.g. 552 too big */
		mta_abandon(s, mta_refusal(r->code), "%s", r->code < 400 ?
		    "4.5.0 protocol error: reply before the end of data" :
		    r->text);
		break;
	case MTA_EOM:
		if (!s->discard)
			mta_fail_rest(s, mta_class(r->code), "%s", r->text);
		mta_txn_end(s);
		break;
	default:			/* no reply expected */
		mta_kill(s);
		break;
	}
}

/* While pipelining, more replies may follow this one unasked. */
static int
mta_expect_more(const struct mta_session *s)
{
	return (s->ehlo.ext & MTA_EXT_PIPELINING) &&
	    (s->state == MTA_MAIL || s->state == MTA_RCPT);
}

/* A session-level failure at the current address. */
static void
mta_session_error(struct mta_session *s, const char *what)
{
	if (s->state < MTA_BODY && s->t != NULL)
		mta_addr_fail(s, MTA_TEMPFAIL, "4.4.2 %s with %s while %s",
		    what, s->addr->name, mta_stage(s->state));
	else
		mta_abandon(s, MTA_TEMPFAIL, "4.4.2 %s with %s while %s",
		    what, s->addr->name, mta_stage(s->state));
}

static void
mta_read_cb(struct bufferevent *bev, void *arg)
{
	struct mta_session	*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const char		*data;
	size_t			 len, used;
	int			 rv;

	for (;;) {
		/* a reply may have closed or replaced the connection */
		if (s->state == MTA_DEAD || s->bev != bev ||
		    (len = evbuffer_get_length(in)) == 0)
			return;
		if (s->state == MTA_IDLE || s->state == MTA_QUIT) {
			mta_kill(s);	/* whatever it says: we are done */
			return;
		}
		if ((data = (const char *)evbuffer_pullup(in, -1)) == NULL)
			fatalx("evbuffer_pullup");
		rv = mta_reply_parse(&s->reply, data, len, &used);
		evbuffer_drain(in, used);
		if (rv == MTA_REPLY_ERROR) {
			mta_session_error(s, s->reply.error);
			return;
		}
		if (rv == MTA_REPLY_MORE)
			return;
		if (evbuffer_get_length(in) > 0 && !mta_expect_more(s)) {
			mta_session_error(s, "protocol error: unexpected "
			    "data after reply");
			return;
		}
		mta_on_reply(s);
	}
}

static void
mta_write_cb(struct bufferevent *bev, void *arg)
{
	struct mta_session *s = arg;

	if (s->state == MTA_BODY)
		mta_body_fill(s);
}

static void
mta_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mta_session	*s = arg;
	char			 text[256];
	int			 saved = errno;

	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == MTA_TLS)
			mta_tls_up(s);
		return;
	}
	if (s->state == MTA_QUIT || s->state == MTA_IDLE || s->t == NULL) {
		mta_kill(s);
		return;
	}
	if (s->state == MTA_TLS) {
		mta_tls_fail(s, tlsio_error(s->tlsio));
		return;
	}
	if (what & BEV_EVENT_EOF)
		strlcpy(text, "lost connection", sizeof(text));
	else
		snprintf(text, sizeof(text), "lost connection (%s)",
		    strerror(saved));
	mta_session_error(s, text);
}

static void
mta_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session *s = arg;

	switch (s->state) {
	case MTA_DEAD:
		mta_pool_gone(s->dest, s);
		mta_free(s);
		break;
	case MTA_IDLE:
		mta_session_close(s);
		break;
	case MTA_QUIT:
		mta_kill(s);
		break;
	case MTA_CONNECT:
		mta_addr_fail(s, MTA_TEMPFAIL, "4.4.1 connect to %s: %s",
		    s->addr->name, strerror(ETIMEDOUT));
		break;
	case MTA_TLS:
		mta_tls_fail(s, "timed out");
		break;
	default:
		mta_session_error(s, "conversation timed out");
		break;
	}
}

static void
mta_connected(struct mta_session *s)
{
	if (s->ev_connect != NULL)
		event_free(s->ev_connect);
	s->ev_connect = NULL;
	if ((s->bev = bufferevent_socket_new(s->base, s->sock,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		fatalx("bufferevent_socket_new");
	s->sock = -1;
	bufferevent_setcb(s->bev, mta_read_cb, mta_write_cb, mta_event_cb, s);
	if (bufferevent_enable(s->bev, EV_READ | EV_WRITE) == -1)
		fatalx("bufferevent_enable");
	s->nmsgs = 0;
	mta_enter(s, MTA_GREETING, CONF_MTA_TO_GREETING);
}

static void
mta_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session	*s = arg;
	socklen_t		 len = sizeof(int);
	int			 err = 0;

	if (getsockopt(s->sock, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		mta_addr_fail(s, MTA_TEMPFAIL, "4.4.1 connect to %s: %s",
		    s->addr->name, strerror(err));
		return;
	}
	mta_connected(s);
}

/* Connect to the next address of the route; all failed: defer. */
static void
mta_connect_next(struct mta_session *s)
{
	if (s->addridx >= s->route.naddr) {
		mta_abandon(s, s->laststatus, "%s", s->lasterr);
		return;
	}
	s->addr = &s->route.addr[s->addridx++];
	strlcpy(s->t->relayname, s->addr->name, sizeof(s->t->relayname));
	s->state = MTA_CONNECT;
	s->reused = 0;
	if ((s->sock = socket(s->addr->ss.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		mta_addr_fail(s, MTA_TEMPFAIL, "4.4.1 connect to %s: socket: %s",
		    s->addr->name, strerror(errno));
		return;
	}
	if (connect(s->sock, (struct sockaddr *)&s->addr->ss,
	    s->addr->sslen) == 0) {
		mta_connected(s);
		return;
	}
	if (errno != EINPROGRESS) {
		mta_addr_fail(s, MTA_TEMPFAIL, "4.4.1 connect to %s: %s",
		    s->addr->name, strerror(errno));
		return;
	}
	if ((s->ev_connect = event_new(s->base, s->sock, EV_WRITE,
	    mta_connect_cb, s)) == NULL || event_add(s->ev_connect, NULL) == -1)
		fatalx("event_new");
	mta_timer(s, CONF_MTA_TO_CONNECT);
}

static void
mta_resolved(void *arg, enum mta_status status, const char *text,
    const struct mta_route *route)
{
	struct mta_session *s = arg;

	s->dns = NULL;
	if (status != MTA_OK) {
		mta_abandon(s, status, "%s", text);	/* logged per rcpt */
		return;
	}
	s->route = *route;
	s->addridx = 0;
	s->laststatus = MTA_TEMPFAIL;
	strlcpy(s->lasterr, "4.4.1 no address to try", sizeof(s->lasterr));
	mta_connect_next(s);
}

/* The transfer's clock and relay name start when a session takes it. */
static void
mta_take(struct mta_session *s, struct mta_transfer *t)
{
	size_t i;

	s->t = t;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	for (i = 0; i < t->nrcpt; i++)
		t->rcpts[i].done = t->rcpts[i].accepted = t->rcpts[i].sent = 0;
	if (s->addr != NULL)
		strlcpy(t->relayname, s->addr->name, sizeof(t->relayname));
	else
		mta_relay_name(&s->relay, t->relayname, sizeof(t->relayname));
}

struct mta_session *
mta_session_new(struct event_base *base, struct mta_dest *dest,
    const struct mta_relay *relay, struct mta_transfer *t)
{
	struct mta_session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->dest = dest;
	s->relay = *relay;
	s->tlspolicy = mta_tls_policy(relay->host);
	s->base = base;
	s->sock = -1;
	if ((s->timer = evtimer_new(base, mta_timeout_cb, s)) == NULL)
		fatalx("evtimer_new");
	if (strlcpy(s->helo, mta_pool_helo(), sizeof(s->helo)) >=
	    sizeof(s->helo) || !mta_addr_ok(s->helo) ||
	    strchr(s->helo, ' ') != NULL || s->helo[0] == '\0')
		strlcpy(s->helo, "localhost", sizeof(s->helo));
	mta_take(s, t);
	s->state = MTA_RESOLVE;
	s->dns = mta_dns_resolve(relay, mta_resolved, s);
	return s;
}

void
mta_session_deliver(struct mta_session *s, struct mta_transfer *t)
{
	mta_take(s, t);
	mta_send(s, "RSET");
	mta_enter(s, MTA_RSET, CONF_MTA_TO_QUIT);
}

void
mta_session_close(struct mta_session *s)
{
	if (s->state != MTA_IDLE) {
		mta_kill(s);
		return;
	}
	mta_pool_unidle(s->dest, s);
	s->state = MTA_QUIT;
	mta_send(s, "QUIT");
	mta_timer(s, CONF_MTA_TO_QUIT);
}

void
mta_session_abort(struct mta_session *s)
{
	if (s->t != NULL)
		log_info("%s: delivery to %s aborted: queue link lost",
		    s->t->msgid, s->t->relayname);
	mta_free(s);
}

void
mta_transfer_fail(struct mta_transfer *t, enum mta_status status,
    const char *text)
{
	size_t i;

	mta_addr_sanitize(t->relay);
	for (i = 0; i < t->nrcpt; i++) {
		t->rcpts[i].done = 1;
		t->rcpts[i].status = status;
		if ((t->rcpts[i].reply = strdup(text)) == NULL)
			fatal("strdup");
		log_info("%s: to=<%s>, relay=%s, delay=0, status=%s (%s)",
		    t->msgid, t->rcpts[i].addr, t->relay,
		    status == MTA_PERMFAIL ? "bounced" : "deferred", text);
	}
	mta_report(t);
	mta_transfer_free(t);
}
