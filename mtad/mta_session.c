/*
 * The outbound SMTP client: one session per transfer, a state machine on
 * a bufferevent, one case per state in mta_on_reply().
 *
 * Guarantees kept here:
 * - every recipient ends exactly once, with the remote reply or our
 *   description, and is logged once per attempt; the result goes back in
 *   transfer order only when all have ended;
 * - nothing but a 2xx to the end of data marks a recipient sent; a lost
 *   connection or a timeout after the dot is a temporary failure (the
 *   message may then arrive twice, never not at all);
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
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <bsd/string.h>

#include "log.h"
#include "mta_relay.h"
#include "mta_reply.h"
#include "mta_session.h"

/* RFC 5321 4.5.3.2 */
#define MTA_TIMEOUT_CONNECT	30
#define MTA_TIMEOUT_GREETING	300
#define MTA_TIMEOUT_HELO	300
#define MTA_TIMEOUT_MAIL	300
#define MTA_TIMEOUT_RCPT	300
#define MTA_TIMEOUT_DATA	120
#define MTA_TIMEOUT_BLOCK	180
#define MTA_TIMEOUT_FINAL	600
#define MTA_TIMEOUT_QUIT	60

#define MTA_CHUNK		16384		/* read from the message fd */
#define MTA_OUT_LOWAT		16384		/* refill below this */
#define MTA_OUT_HIWAT		65536		/* fill up to this */
#define MTA_HELO_MAX		256

enum mta_state {
	MTA_CONNECT,
	MTA_GREETING,
	MTA_EHLO,
	MTA_HELO,
	MTA_MAIL,
	MTA_RCPT,
	MTA_DATA,
	MTA_BODY,
	MTA_EOM,
	MTA_QUIT
};

struct mta_session {
	TAILQ_ENTRY(mta_session) entry;
	struct mta_transfer	*t;
	struct mta_relay	 relay;
	enum mta_state		 state;
	struct event_base	*base;
	int			 sock;		/* until the bufferevent owns it */
	struct event		*ev_connect;
	struct event		*timer;
	struct bufferevent	*bev;
	struct mta_reply	 reply;
	struct timespec		 start;
	char			 helo[MTA_HELO_MAX];
	size_t			 rcptidx;	/* recipient of the RCPT sent */
	size_t			 naccepted;
	int			 reported;
	off_t			 offset;	/* body: next byte of the fd */
	int			 bol;		/* body: at a line start */
	int			 cr;		/* body: a CR waits for its LF */
};

static TAILQ_HEAD(, mta_session) mta_sessions =
    TAILQ_HEAD_INITIALIZER(mta_sessions);

static void	mta_on_reply(struct mta_session *);
static void	mta_free(struct mta_session *);

static const char *
mta_stage(enum mta_state state)
{
	switch (state) {
	case MTA_CONNECT:	return "connecting";
	case MTA_GREETING:	return "receiving the initial server greeting";
	case MTA_EHLO:		return "performing the EHLO handshake";
	case MTA_HELO:		return "performing the HELO handshake";
	case MTA_MAIL:		return "sending MAIL FROM";
	case MTA_RCPT:		return "sending RCPT TO";
	case MTA_DATA:		return "sending DATA command";
	case MTA_BODY:		return "sending message body";
	case MTA_EOM:		return "sending end of data -- "
				    "message may be sent more than once";
	case MTA_QUIT:		return "sending QUIT";
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
mta_timer(struct mta_session *s, int secs)
{
	struct timeval tv = { secs, 0 };

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
	log_info("%s: to=<%s>, relay=%s, delay=%.2f, status=%s (%s)",
	    s->t->msgid, r->addr, s->t->relayname, mta_delay(s),
	    names[status], text);
}

/* End every recipient not ended yet. */
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

/* Once every recipient has ended: hand the result back, close the fd. */
static void
mta_report_if_done(struct mta_session *s)
{
	size_t i;

	if (s->reported)
		return;
	for (i = 0; i < s->t->nrcpt; i++)
		if (!s->t->rcpts[i].done)
			return;
	s->reported = 1;
	mta_report(s->t);
	if (s->t->fd != -1)
		close(s->t->fd);
	s->t->fd = -1;
}

static void __attribute__((format(printf, 2, 3)))
mta_send(struct mta_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	char line[MTA_ADDR_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_debug("%s: %s >>> %s", s->t->msgid, s->t->relayname, line);
	if (evbuffer_add_printf(out, "%s\r\n", line) == -1)
		fatalx("evbuffer_add_printf");
}

/* A session-level failure: everything still open is deferred, the
 * connection is dropped without QUIT. */
static void __attribute__((format(printf, 2, 3)))
mta_error(struct mta_session *s, const char *fmt, ...)
{
	char text[MTA_REPLY_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	mta_fail_rest(s, MTA_TEMPFAIL, "%s", text);
	mta_report_if_done(s);
	mta_free(s);
}

/* Every recipient has ended: report, then QUIT politely if we can. */
static void
mta_end(struct mta_session *s)
{
	mta_report_if_done(s);
	if (s->bev == NULL) {
		mta_free(s);
		return;
	}
	s->state = MTA_QUIT;
	mta_send(s, "QUIT");
	mta_timer(s, MTA_TIMEOUT_QUIT);
}

static void
mta_enter(struct mta_session *s, enum mta_state state, int timeout)
{
	s->state = state;
	mta_reply_init(&s->reply);
	mta_timer(s, timeout);
}

static void
mta_next_rcpt(struct mta_session *s)
{
	while (s->rcptidx < s->t->nrcpt && s->t->rcpts[s->rcptidx].done)
		s->rcptidx++;
	if (s->rcptidx < s->t->nrcpt) {
		mta_send(s, "RCPT TO:<%s>", s->t->rcpts[s->rcptidx].addr);
		mta_enter(s, MTA_RCPT, MTA_TIMEOUT_RCPT);
	} else if (s->naccepted > 0) {
		mta_send(s, "DATA");
		mta_enter(s, MTA_DATA, MTA_TIMEOUT_DATA);
	} else
		mta_end(s);
}

/* Body encoding: dot-stuffing, every line end CRLF.  out must hold
 * 2 * len + 2 bytes. */
static size_t
mta_body_encode(struct mta_session *s, const char *in, size_t len, char *out)
{
	size_t i, o = 0;
	char c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (s->cr) {
			out[o++] = '\r';
			out[o++] = '\n';
			s->cr = 0;
			s->bol = 1;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			s->cr = 1;
			continue;
		}
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			s->bol = 1;
			continue;
		}
		if (s->bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		s->bol = 0;
	}
	return o;
}

/* The end of the body: close the last line, then the lone dot. */
static size_t
mta_body_end(struct mta_session *s, char *out)
{
	size_t o = 0;

	if (s->cr || !s->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	s->cr = 0;
	s->bol = 1;
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
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
			mta_error(s, "4.3.0 error reading the message file: %s",
			    strerror(errno));
			return;
		}
		if (n == 0) {
			len = mta_body_end(s, enc);
			if (evbuffer_add(out, enc, len) == -1)
				fatalx("evbuffer_add");
			bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
			mta_enter(s, MTA_EOM, MTA_TIMEOUT_FINAL);
			return;
		}
		s->offset += n;
		len = mta_body_encode(s, in, (size_t)n, enc);
		if (evbuffer_add(out, enc, len) == -1)
			fatalx("evbuffer_add");
	}
	mta_timer(s, MTA_TIMEOUT_BLOCK);
}

static void
mta_body_start(struct mta_session *s)
{
	mta_enter(s, MTA_BODY, MTA_TIMEOUT_BLOCK);
	s->offset = 0;
	s->bol = 1;
	s->cr = 0;
	bufferevent_setwatermark(s->bev, EV_WRITE, MTA_OUT_LOWAT, 0);
	mta_body_fill(s);
}

static void
mta_on_greeting(struct mta_session *s, const struct mta_reply *r)
{
	if (r->code != 220) {
		mta_fail_rest(s, mta_class(r->code), "%s", r->text);
		mta_end(s);
		return;
	}
	mta_send(s, "EHLO %s", s->helo);
	mta_enter(s, MTA_EHLO, MTA_TIMEOUT_HELO);
}

static void
mta_on_helo(struct mta_session *s, const struct mta_reply *r)
{
	if (s->state == MTA_EHLO && r->code >= 500) {
		mta_send(s, "HELO %s", s->helo);
		mta_enter(s, MTA_HELO, MTA_TIMEOUT_HELO);
		return;
	}
	if (mta_class(r->code) != MTA_OK) {
		mta_fail_rest(s, mta_class(r->code), "%s", r->text);
		mta_end(s);
		return;
	}
	mta_send(s, "MAIL FROM:<%s>", s->t->sender);
	mta_enter(s, MTA_MAIL, MTA_TIMEOUT_MAIL);
}

static void
mta_on_rcpt(struct mta_session *s, const struct mta_reply *r)
{
	struct mta_rcpt *rcpt = &s->t->rcpts[s->rcptidx];

	if (mta_class(r->code) == MTA_OK) {
		rcpt->accepted = 1;
		s->naccepted++;
	} else
		mta_rcpt_done(s, rcpt, mta_class(r->code), r->text);
	s->rcptidx++;
	mta_next_rcpt(s);
}

static void
mta_on_reply(struct mta_session *s)
{
	const struct mta_reply *r = &s->reply;

	log_debug("%s: %s <<< %s", s->t->msgid, s->t->relayname, r->text);
	if (r->code == 421 && s->state != MTA_QUIT) {
		mta_error(s, "%s", r->text);	/* the server is closing */
		return;
	}
	switch (s->state) {
	case MTA_CONNECT:
		break;
	case MTA_GREETING:
		mta_on_greeting(s, r);
		break;
	case MTA_EHLO:
	case MTA_HELO:
		mta_on_helo(s, r);
		break;
	case MTA_MAIL:
		if (mta_class(r->code) != MTA_OK) {
			mta_fail_rest(s, mta_class(r->code), "%s", r->text);
			mta_end(s);
		} else
			mta_next_rcpt(s);
		break;
	case MTA_RCPT:
		mta_on_rcpt(s, r);
		break;
	case MTA_DATA:
		if (r->code == 354)
			mta_body_start(s);
		else {
			mta_fail_rest(s, mta_class(r->code), "%s", r->text);
			mta_end(s);
		}
		break;
	case MTA_BODY:
		/* a server may refuse before the dot, e.g. 552 too big */
		if (r->code < 400)
			mta_error(s, "protocol error from %s while %s: "
			    "unexpected reply: %s", s->t->relayname,
			    mta_stage(s->state), r->text);
		else {
			mta_fail_rest(s, mta_class(r->code), "%s", r->text);
			mta_report_if_done(s);
			mta_free(s);
		}
		break;
	case MTA_EOM:
		mta_fail_rest(s, mta_class(r->code), "%s", r->text);
		mta_end(s);
		break;
	case MTA_QUIT:
		mta_free(s);
		break;
	}
}

static void
mta_read_cb(struct bufferevent *bev, void *arg)
{
	struct mta_session	*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const char		*data;
	size_t			 len, used;
	int			 rv;

	if (s->state == MTA_QUIT) {
		mta_free(s);		/* whatever it says: we are done */
		return;
	}
	if ((len = evbuffer_get_length(in)) == 0)
		return;
	if ((data = (const char *)evbuffer_pullup(in, -1)) == NULL)
		fatalx("evbuffer_pullup");
	rv = mta_reply_parse(&s->reply, data, len, &used);
	evbuffer_drain(in, used);
	if (rv == MTA_REPLY_ERROR)
		mta_error(s, "protocol error from %s while %s: %s",
		    s->t->relayname, mta_stage(s->state), s->reply.error);
	else if (rv == MTA_REPLY_DONE && evbuffer_get_length(in) > 0)
		mta_error(s, "protocol error from %s while %s: "
		    "unexpected data after reply", s->t->relayname,
		    mta_stage(s->state));
	else if (rv == MTA_REPLY_DONE)
		mta_on_reply(s);
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
	int			 saved = errno;

	if (s->state == MTA_QUIT)
		mta_free(s);
	else if (what & BEV_EVENT_EOF)
		mta_error(s, "lost connection with %s while %s",
		    s->t->relayname, mta_stage(s->state));
	else
		mta_error(s, "lost connection with %s while %s: %s",
		    s->t->relayname, mta_stage(s->state), strerror(saved));
}

static void
mta_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session *s = arg;

	if (s->state == MTA_QUIT)
		mta_free(s);
	else if (s->state == MTA_CONNECT)
		mta_error(s, "connect to %s: %s", s->t->relayname,
		    strerror(ETIMEDOUT));
	else
		mta_error(s, "conversation with %s timed out while %s",
		    s->t->relayname, mta_stage(s->state));
}

static void
mta_connected(struct mta_session *s)
{
	if ((s->bev = bufferevent_socket_new(s->base, s->sock,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		fatalx("bufferevent_socket_new");
	s->sock = -1;
	bufferevent_setcb(s->bev, mta_read_cb, mta_write_cb, mta_event_cb, s);
	if (bufferevent_enable(s->bev, EV_READ | EV_WRITE) == -1)
		fatalx("bufferevent_enable");
	mta_enter(s, MTA_GREETING, MTA_TIMEOUT_GREETING);
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
		mta_error(s, "connect to %s: %s", s->t->relayname,
		    strerror(err));
		return;
	}
	mta_connected(s);
}

static void
mta_connect(struct mta_session *s)
{
	s->state = MTA_CONNECT;
	if ((s->sock = socket(s->relay.family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		mta_error(s, "connect to %s: socket: %s", s->t->relayname,
		    strerror(errno));
		return;
	}
	if (connect(s->sock, (struct sockaddr *)&s->relay.ss,
	    s->relay.sslen) == 0) {
		mta_connected(s);
		return;
	}
	if (errno != EINPROGRESS) {
		mta_error(s, "connect to %s: %s", s->t->relayname,
		    strerror(errno));
		return;
	}
	if ((s->ev_connect = event_new(s->base, s->sock, EV_WRITE,
	    mta_connect_cb, s)) == NULL || event_add(s->ev_connect, NULL) == -1)
		fatalx("event_new");
	mta_timer(s, MTA_TIMEOUT_CONNECT);
}

/* Checks that need no network; 0 when the session should connect. */
static int
mta_precheck(struct mta_session *s, const char **why)
{
	struct mta_transfer	*t = s->t;
	size_t			 i;

	if (mta_relay_parse(t->relay, &s->relay, why) == -1) {
		mta_addr_sanitize(t->relay);
		mta_fail_rest(s, MTA_TEMPFAIL, "4.3.5 bad relay \"%s\": %s",
		    t->relay, *why);
		return -1;
	}
	if (!s->relay.numeric) {
		mta_fail_rest(s, MTA_TEMPFAIL,
		    "4.4.3 DNS lookup not supported yet for %s",
		    s->relay.host);
		return -1;
	}
	mta_relay_name(&s->relay, t->relayname, sizeof(t->relayname));
	if (!mta_addr_ok(t->sender)) {
		mta_addr_sanitize(t->sender);
		mta_fail_rest(s, MTA_PERMFAIL,
		    "5.1.7 bad sender address syntax");
		return -1;
	}
	for (i = 0; i < t->nrcpt; i++)
		if (!mta_addr_ok(t->rcpts[i].addr)) {
			mta_addr_sanitize(t->rcpts[i].addr);
			mta_rcpt_done(s, &t->rcpts[i], MTA_PERMFAIL,
			    "5.1.3 bad recipient address syntax");
		}
	return 0;
}

void
mta_session_start(struct event_base *base, const char *helo,
    struct mta_transfer *t)
{
	struct mta_session	*s;
	const char		*why;
	size_t			 i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->t = t;
	s->base = base;
	s->sock = -1;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	if ((s->timer = evtimer_new(base, mta_timeout_cb, s)) == NULL)
		fatalx("evtimer_new");
	TAILQ_INSERT_TAIL(&mta_sessions, s, entry);
	if (strlcpy(s->helo, helo, sizeof(s->helo)) >= sizeof(s->helo) ||
	    !mta_addr_ok(s->helo) || strchr(s->helo, ' ') != NULL ||
	    s->helo[0] == '\0')
		strlcpy(s->helo, "localhost", sizeof(s->helo));
	strlcpy(t->relayname, "none", sizeof(t->relayname));
	for (i = 0; i < t->nrcpt; i++)
		t->rcpts[i].done = t->rcpts[i].accepted = 0;

	if (mta_precheck(s, &why) == -1) {
		mta_end(s);
		return;
	}
	mta_connect(s);
}

static void
mta_free(struct mta_session *s)
{
	TAILQ_REMOVE(&mta_sessions, s, entry);
	if (s->ev_connect != NULL)
		event_free(s->ev_connect);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->sock != -1)
		close(s->sock);
	mta_transfer_free(s->t);	/* closes the message fd if still open */
	free(s);
}

void
mta_session_abort_all(void)
{
	struct mta_session *s;

	while ((s = TAILQ_FIRST(&mta_sessions)) != NULL) {
		log_info("%s: delivery to %s aborted: queue link lost",
		    s->t->msgid, s->t->relayname);
		mta_free(s);
	}
}

size_t
mta_session_count(void)
{
	struct mta_session *s;
	size_t n = 0;

	TAILQ_FOREACH(s, &mta_sessions, entry)
		n++;
	return n;
}
