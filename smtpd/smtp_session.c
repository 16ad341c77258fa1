/*
 * The SMTP server session (RFC 5321, with PIPELINING, SIZE, 8BITMIME,
 * CHUNKING, SMTPUTF8, DSN and ENHANCEDSTATUSCODES), one state machine per
 * client.  The DSN and SMTPUTF8 parameters are parsed by smtp_esmtp.c and
 * go to queued with the commit.
 *
 * Guarantees kept here:
 * - "250 2.0.0 Ok: queued as ID" is sent only after queued acknowledged
 *   the commit (IMSG_QUEUE_COMMIT_OK); any other outcome is a 4xx/5xx.
 * - A fault of ours (lookupd or queued down, a failed write) is a 4xx,
 *   never a 5xx.
 * - While a session waits for a peer it reads nothing: pipelined commands
 *   stay in the input buffer and are handled in order afterwards.
 * - A message that is not committed is aborted (IMSG_QUEUE_ABORT), also
 *   when the client goes away in the middle of DATA.
 * - Everything from the client that reaches a log line, a header or a
 *   peer is printable ASCII (addresses are parsed by common/addr.c, the
 *   HELO name is made printable), or in an SMTPUTF8 transaction also
 *   well-formed UTF-8 in addresses and ORCPT: never a control character.
 * - A command ends with CR LF only (smtp_line.c); the bytes of a BDAT
 *   chunk are never read as commands, also when the BDAT was refused.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <bsd/sys/tree.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "addr.h"
#include "imsg.h"
#include "log.h"
#include "mbuf.h"
#include "rcpt_reply.h"
#include "worker.h"
#include "smtp_auth.h"
#include "smtp_cmd.h"
#include "smtp_data.h"
#include "smtp_info.h"
#include "smtp_line.h"
#include "smtp_bdat.h"
#include "smtp_received.h"
#include "smtp_session.h"
#include "smtp_tls.h"

#define SMTP_OUT_MAX	(64 * 1024)	/* unread replies: stop reading */
#define SMTP_IN_MAX	(64 * 1024)	/* pipelined input held */
#define SMTP_PEER_HIGH	(1024 * 1024)	/* bytes queued to a peer */
#define SMTP_THROTTLE_MS 100
#define SMTP_MSGID_MAX	64
#define SMTP_HELO_MAX	256
#define SMTP_REPLY_MAX	1024
/* IMSG_QUEUE_COMMIT must fit in one frame */
#define SMTP_COMMIT_MAX	(IMSG_MAX_SIZE - IMSG_HDR_SIZE)
/* bytes per second a message must average (Postfix smtpd_min_data_rate) */
#define SMTP_MIN_DATA_RATE 500

enum smtp_state {
	SMTP_S_COMMAND,		/* reading command lines */
	SMTP_S_LOOKUP,		/* RCPT: waiting for lookupd */
	SMTP_S_CREATE,		/* DATA: waiting for queued's message file */
	SMTP_S_DATA,		/* streaming the message */
	SMTP_S_COMMIT,		/* end of data: waiting for queued */
	SMTP_S_CLOSING,		/* last reply queued: close once written */
	SMTP_S_TLS,		/* STARTTLS: 220 being written, handshake */
	SMTP_S_BDAT,		/* reading a BDAT chunk into the message */
	SMTP_S_AUTH		/* AUTH: waiting for lookupd, or holding back
				 * the reply to a failed attempt */
};

struct smtp_rcpt {
	char	*rcpt;			/* final, after alias expansion */
	char	*orig;			/* as given in RCPT TO */
	char	*relay;
	uint32_t notify;		/* DSN_NOTIFY_* of its RCPT */
	char	*orcpt;			/* ORCPT= of its RCPT, decoded, "" */
};

struct smtp_count {
	unsigned	 ok, total;
};

/* Sessions per client address (max_sessions_per_client). */
struct smtp_client {
	RB_ENTRY(smtp_client)	 node;
	char			 ip[INET6_ADDRSTRLEN];
	uint32_t		 n;
};

struct smtp_session {
	TAILQ_ENTRY(smtp_session) entry;
	RB_ENTRY(smtp_session)	 node;		/* by reqid */
	uint64_t		 reqid;		/* of the request in flight */
	char			 id[9];
	enum smtp_state		 state;
	struct bufferevent	*bev;
	struct event		*wait_ev;	/* a peer's answer is late */
	char			 ip[INET6_ADDRSTRLEN];
	unsigned		 port;
	struct smtp_client	*client;
	struct smtp_params	 p;

	int			 esmtp;
	char			 helo[SMTP_HELO_MAX];
	unsigned		 errors;
	int			 toolong;	/* skipping an overlong line */
	int			 throttled;	/* peers congested */
	int			 outblocked;	/* client not reading */
	enum smtp_verb		 verb;		/* command being answered */
	int			 answering;	/* verb awaits its final reply */
	char			 last[16];	/* "lost connection after RCPT" */
	struct smtp_count	 counts[SMTP_CMD_COUNT];

	/* SMTP AUTH, on a listener with `auth <table>', once TLS is on */
	char			 auth_table[CONF_NAME_MAX];	/* "" no AUTH */
	struct smtp_auth	 auth;		/* the exchange in progress */
	int			 auth_reading;	/* next line: a SASL response */
	int			 auth_delayed;	/* failure reply held back */
	unsigned		 auth_failures;
	char			 authuser[SMTP_AUTH_USER_MAX];	/* "" none */

	/* the transaction, cleared by session_reset() */
	int			 mail;
	char			 sender[ADDR_PATH_MAX];
	char			 rcpt[ADDR_PATH_MAX];	/* being looked up */
	char			 first[ADDR_PATH_MAX];	/* first accepted */
	size_t			 norig;		/* accepted RCPT commands */
	struct smtp_rcpt	*rcpts;
	size_t			 nrcpts, rcptcap;
	size_t			 commit_bytes;	/* size of the COMMIT so far */
	char			 msgid[SMTP_MSGID_MAX];
	int			 msgfd;
	int			 msg_open;	/* created, not committed/aborted */
	int			 queue_lost;	/* queued went down meanwhile */
	struct smtp_data	*data;

	/* TLS (smtp_tls.c): s->bev is the cleartext side once it started */
	uint32_t		 listener;	/* index, for its TLS settings */
	struct smtp_tls_listen	 listen;	/* as when the client came */
	struct smtp_tls		*tls;		/* NULL: no TLS (yet) */
	int			 tls_active;	/* handshake done: see
						 * smtp_session_tls_active() */
	int			 bdat;		/* the transaction uses BDAT */

	/* the BDAT chunk being read (or skipped): outlives session_reset() */
	uint64_t		 bdat_left;	/* bytes still to come */
	uint64_t		 bdat_size;	/* announced */
	int			 bdat_last;	/* BDAT n LAST */
	/* ESMTP parameters of MAIL, and of the RCPT being looked up */
	enum smtp_body		 body;
	struct esmtp_mail	 mail_esmtp;
	struct esmtp_rcpt	 rcpt_esmtp;

	/* slow DATA (session_data_progress) */
	double			 data_deadline;	/* CLOCK_MONOTONIC, in DATA */
};

TAILQ_HEAD(smtp_session_list, smtp_session);
RB_HEAD(smtp_session_tree, smtp_session);
RB_HEAD(smtp_client_tree, smtp_client);

static int	session_cmp(struct smtp_session *, struct smtp_session *);
RB_PROTOTYPE(smtp_session_tree, smtp_session, node, session_cmp);
RB_GENERATE(smtp_session_tree, smtp_session, node, session_cmp);
static int	client_cmp(struct smtp_client *, struct smtp_client *);
RB_PROTOTYPE(smtp_client_tree, smtp_client, node, client_cmp);
RB_GENERATE(smtp_client_tree, smtp_client, node, client_cmp);

static struct {
	struct smtp_session_list list;
	struct smtp_session_tree tree;
	struct smtp_client_tree	 clients;
	size_t			 count;
	uint64_t		 reqid;
	struct smtp_params	 params;
	struct event		*throttle_ev;
	void			(*on_close)(void);
	uint32_t		 queue_status;	/* QUEUE_STATUS_* */
} smtp;

enum refuse_why { REFUSE_TOTAL, REFUSE_PER_CLIENT, REFUSE_PAUSED };

static void	session_input(struct smtp_session *);
static void	session_free(struct smtp_session *);
static void	cmd_starttls(struct smtp_session *, const char *);
static void	session_tls_start(struct smtp_session *, const char *);
static void	session_readcb(struct bufferevent *, void *);
static void	session_writecb(struct bufferevent *, void *);
static void	session_eventcb(struct bufferevent *, short, void *);
static void	session_reply(struct smtp_session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	cmd_bdat(struct smtp_session *, const char *);
static int	session_bdat_skip(struct smtp_session *);

static int
session_cmp(struct smtp_session *a, struct smtp_session *b)
{
	return a->reqid < b->reqid ? -1 : a->reqid > b->reqid;
}

static int
client_cmp(struct smtp_client *a, struct smtp_client *b)
{
	return strcmp(a->ip, b->ip);
}

static struct smtp_client *
client_find(const char *ip)
{
	struct smtp_client key;

	strlcpy(key.ip, ip, sizeof(key.ip));
	return RB_FIND(smtp_client_tree, &smtp.clients, &key);
}

static void
client_release(struct smtp_client *c)
{
	if (c != NULL && --c->n == 0) {
		RB_REMOVE(smtp_client_tree, &smtp.clients, c);
		free(c);
	}
}

static struct smtp_session *
session_find(uint64_t reqid)
{
	struct smtp_session key;

	key.reqid = reqid;
	return RB_FIND(smtp_session_tree, &smtp.tree, &key);
}

/* A fresh request id for the next message to a peer. */
static uint64_t
session_request(struct smtp_session *s)
{
	RB_REMOVE(smtp_session_tree, &smtp.tree, s);
	s->reqid = ++smtp.reqid;
	RB_INSERT(smtp_session_tree, &smtp.tree, s);
	return s->reqid;
}

/* smtp data-timeout while the message streams in, else smtp timeout. */
static void
session_read_timeout(struct smtp_session *s, enum smtp_state state)
{
	struct timeval	 rtv = { s->p.timeout, 0 }, wtv = { s->p.timeout, 0 };

	if (state == SMTP_S_DATA || state == SMTP_S_BDAT)
		rtv.tv_sec = s->p.data_timeout;
	bufferevent_set_timeouts(s->bev, &rtv, &wtv);
}

/*
 * Slow DATA: the message must come at SMTP_MIN_DATA_RATE on average.
 * Entering DATA (n 0) allows the data-timeout; every n bytes read buy
 * n / rate seconds more, never more than the data-timeout from now.
 * wait_ev serves as that deadline in SMTP_S_DATA.
 */
static void
session_data_progress(struct smtp_session *s, size_t n)
{
	struct timespec	 ts;
	struct timeval	 tv;
	double		 now, limit, left;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	limit = now + s->p.data_timeout;
	if (n == 0 || s->data_deadline > limit)
		s->data_deadline = limit;
	else if ((s->data_deadline += (double)n / SMTP_MIN_DATA_RATE) > limit)
		s->data_deadline = limit;
	left = s->data_deadline > now ? s->data_deadline - now : 0;
	tv.tv_sec = (time_t)left;
	tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
	evtimer_add(s->wait_ev, &tv);
}

/*
 * Reading: only in COMMAND, DATA and BDAT, and not while the client does not
 * read our replies or a peer link is congested.
 */
static void
session_set_state(struct smtp_session *s, enum smtp_state state)
{
	struct timeval	 tv = { s->p.timeout, 0 };

	if (state != s->state)
		session_read_timeout(s, state);
	if (state != s->state && (state == SMTP_S_DATA ||
	    state == SMTP_S_BDAT))
		session_data_progress(s, 0);
	else if (state != s->state && (state == SMTP_S_LOOKUP ||
	    state == SMTP_S_CREATE || state == SMTP_S_COMMIT ||
	    state == SMTP_S_AUTH || state == SMTP_S_COMMAND))
		evtimer_add(s->wait_ev, &tv);
	else if (state != s->state)
		evtimer_del(s->wait_ev);
	s->state = state;
	if ((state == SMTP_S_COMMAND || state == SMTP_S_DATA ||
	    state == SMTP_S_BDAT) && !s->throttled && !s->outblocked)
		bufferevent_enable(s->bev, EV_READ);
	else
		bufferevent_disable(s->bev, EV_READ);
}

/* Back to reading; handles what was pipelined meanwhile. */
static void
session_resume(struct smtp_session *s, enum smtp_state state)
{
	session_set_state(s, state);
	session_input(s);
}

static int
session_peers_congested(void)
{
	struct imsgev	*iev;

	if ((iev = worker_peer(PROC_LOOKUPD)) != NULL &&
	    imsgev_queued(iev) > SMTP_PEER_HIGH)
		return 1;
	if ((iev = worker_peer(PROC_QUEUED)) != NULL &&
	    imsgev_queued(iev) > SMTP_PEER_HIGH)
		return 1;
	return 0;
}

static void
throttle_arm(void)
{
	struct timeval	 tv = { 0, SMTP_THROTTLE_MS * 1000 };

	if (!evtimer_pending(smtp.throttle_ev, NULL))
		evtimer_add(smtp.throttle_ev, &tv);
}

static void
throttle_check(int fd, short ev, void *arg)
{
	struct smtp_session	*s;

	if (session_peers_congested()) {
		throttle_arm();
		return;
	}
	TAILQ_FOREACH(s, &smtp.list, entry) {
		if (!s->throttled)
			continue;
		s->throttled = 0;
		session_resume(s, s->state);
	}
}

/* 1 when this session must stop reading for now. */
static int
session_congested(struct smtp_session *s)
{
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) >
	    SMTP_OUT_MAX) {
		s->outblocked = 1;	/* the write callback resumes */
	} else if (session_peers_congested()) {
		s->throttled = 1;
		throttle_arm();
	} else
		return 0;
	session_set_state(s, s->state);
	return 1;
}

/*
 * One reply line.  Counts the command as accepted on a final 2xx/3xx
 * (354 is not final), and every final 4xx/5xx as an error.
 */
static void
session_reply(struct smtp_session *s, const char *fmt, ...)
{
	char	 buf[SMTP_REPLY_MAX];
	va_list	 ap;
	int	 final;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	log_debug("%s: > %s", s->id, buf);
	final = buf[3] != '-' && strncmp(buf, "354", 3) != 0 &&
	    strncmp(buf, "334", 3) != 0;	/* AUTH challenge */
	if (final && buf[0] >= '4')
		s->errors++;
	if (final && s->answering) {
		if (buf[0] < '4')
			s->counts[s->verb].ok++;
		s->answering = 0;
	}
	strlcat(buf, "\r\n", sizeof(buf));
	evbuffer_add(bufferevent_get_output(s->bev), buf, strlen(buf));
}

/*
 * Called right after the last reply: the write callback frees the
 * session once that reply has been written.
 */
static void
session_close(struct smtp_session *s)
{
	session_set_state(s, SMTP_S_CLOSING);
}

static void
session_abort_msg(struct smtp_session *s)
{
	struct imsgev	*iev;
	struct mbuf	 m;

	if (!s->msg_open)
		return;
	s->msg_open = 0;
	if ((iev = worker_peer(PROC_QUEUED)) == NULL)
		return;		/* queued restarts and cleans up */
	mbuf_init(&m);
	mbuf_add_u64(&m, s->reqid);
	mbuf_add_str(&m, s->msgid);
	imsgev_compose_mbuf(iev, IMSG_QUEUE_ABORT, 0, -1, &m);
}

/* Ends the transaction, like RSET. */
static void
session_reset(struct smtp_session *s)
{
	size_t	 i;

	session_abort_msg(s);
	if (s->msgfd != -1)
		close(s->msgfd);
	s->msgfd = -1;
	free(s->data);
	s->data = NULL;
	for (i = 0; i < s->nrcpts; i++) {
		free(s->rcpts[i].rcpt);
		free(s->rcpts[i].orig);
		free(s->rcpts[i].relay);
		free(s->rcpts[i].orcpt);
	}
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = s->rcptcap = s->norig = 0;
	s->mail = 0;
	s->sender[0] = s->rcpt[0] = s->first[0] = s->msgid[0] = '\0';
	s->commit_bytes = 0;
	s->queue_lost = 0;
	s->bdat = 0;
	s->body = SMTP_BODY_NONE;
	memset(&s->mail_esmtp, 0, sizeof(s->mail_esmtp));
	memset(&s->rcpt_esmtp, 0, sizeof(s->rcpt_esmtp));
}

static void
session_log_reject(struct smtp_session *s, const char *what,
    const char *reply)
{
	if (s->rcpt[0] != '\0')
		log_info("%s: reject: %s from [%s]: %s; from=<%s> to=<%s> "
		    "helo=<%s>", s->id, what, s->ip, reply, s->sender,
		    s->rcpt, s->helo);
	else
		log_info("%s: reject: %s from [%s]: %s; from=<%s> helo=<%s>",
		    s->id, what, s->ip, reply, s->sender, s->helo);
}

/* A RCPT refused: reply and log line. */
static void
session_rcpt_reject(struct smtp_session *s, const char *fmt, ...)
{
	char	 buf[SMTP_REPLY_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	session_reply(s, "%s", buf);
	session_log_reject(s, "RCPT", buf);
}

/* ---- commands ---- */

static void
cmd_helo(struct smtp_session *s, const char *arg, int esmtp)
{
	if (smtp_cmd_helo(arg, s->helo, sizeof(s->helo)) == -1) {
		session_reply(s, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		return;
	}
	session_reset(s);
	s->esmtp = esmtp;
	if (!esmtp) {
		session_reply(s, "250 %s", s->p.hostname);
		return;
	}
	session_reply(s, "250-%s", s->p.hostname);
	session_reply(s, "250-PIPELINING");
	session_reply(s, "250-SIZE %llu",
	    (unsigned long long)s->p.max_message_size);
	session_reply(s, "250-8BITMIME");
	if (s->listen.mode == LISTEN_STARTTLS && !s->tls_active)
		session_reply(s, "250-STARTTLS");
	session_reply(s, "250-CHUNKING");
	session_reply(s, "250-SMTPUTF8");
	session_reply(s, "250-DSN");
	if (s->auth_table[0] != '\0' && s->tls_active)
		session_reply(s, "250-AUTH PLAIN LOGIN");
	session_reply(s, "250 ENHANCEDSTATUSCODES");
}

/* Estimated size of the COMMIT before its recipients. */
static size_t
commit_base(struct smtp_session *s)
{
	return 8 + 4 + SMTP_MSGID_MAX + 4 + strlen(s->sender) +
	    4 + strlen(s->helo) + 4 + strlen(s->ip) + 8 + 4 +
	    12 + 4 + strlen(s->mail_esmtp.envid);
}

/* The replies to a MAIL or RCPT argument that does not parse. */
struct path_errors {
	const char	*syntax;	/* no FROM:/TO: */
	const char	*path;		/* the address */
	const char	*size;		/* a SIZE= value */
};

static const struct path_errors mail_errors = {
	"501 5.5.4 Syntax: MAIL FROM:<address>",
	"501 5.1.7 Bad sender address syntax",
	"501 5.5.4 Bad message size syntax",
};

static const struct path_errors rcpt_errors = {
	"501 5.5.4 Syntax: RCPT TO:<address>",
	"501 5.1.3 Bad recipient address syntax",
	"501 5.1.3 Bad recipient address syntax",
};

/* Replies to a parse failure of MAIL/RCPT; 0 when rc is SMTP_CMD_OK. */
static int
cmd_path_error(struct smtp_session *s, enum smtp_cmd_err rc,
    const struct path_errors *e, const char *bad)
{
	switch (rc) {
	case SMTP_CMD_OK:
		return 0;
	case SMTP_CMD_ESYNTAX:
		session_reply(s, "%s", e->syntax);
		break;
	case SMTP_CMD_EPATH:
		session_reply(s, "%s", e->path);
		break;
	case SMTP_CMD_ESIZE:
		session_reply(s, "%s", e->size);
		break;
	case SMTP_CMD_EPARAM:
		session_reply(s, "555 5.5.4 Unsupported option: %s", bad);
		break;
	case SMTP_CMD_EUTF8:	/* RFC 6531 3.5 */
		session_reply(s, "553 5.6.7 Non-ASCII address not permitted "
		    "without SMTPUTF8");
		break;
	default:
		session_reply(s, "501 5.5.4 Bad parameter syntax: %s", bad);
	}
	return 1;
}

/* queued cannot take mail now (IMSG_QUEUE_STATUS): 1 after replying. */
static int
session_queue_refuses(struct smtp_session *s)
{
	if (smtp.queue_status & QUEUE_STATUS_NOSPACE)
		session_reply(s, "452 4.3.1 Insufficient system storage");
	else if (smtp.queue_status & QUEUE_STATUS_PAUSED)
		session_reply(s, "451 4.3.2 Incoming mail is paused, try "
		    "again later");
	else
		return 0;
	return 1;
}

/* The reply for a message queued could not create or commit. */
static const char *
session_queue_error(void)
{
	if (smtp.queue_status & QUEUE_STATUS_NOSPACE)
		return "452 4.3.1 Insufficient system storage";
	return "451 4.3.0 Error: queue file write error";
}

static void
cmd_mail(struct smtp_session *s, const char *arg)
{
	struct smtp_mail	 m;
	char			 bad[SMTP_PARAM_MAX];

	if (s->helo[0] == '\0') {
		session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->listen.require_tls && !s->tls_active) {
		session_reply(s, "530 5.7.0 Must issue a STARTTLS command "
		    "first");
		return;
	}
	if (s->mail) {
		session_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (cmd_path_error(s, smtp_cmd_mail(arg, &m, bad, sizeof(bad)),
	    &mail_errors, bad))
		return;
	if (m.has_size && s->p.max_message_size &&
	    m.size > s->p.max_message_size) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (session_queue_refuses(s))
		return;
	if (addr_format(&m.from, s->sender, sizeof(s->sender)) == -1) {
		session_reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	s->mail = 1;
	s->body = m.body;
	s->mail_esmtp = m.esmtp;
	s->commit_bytes = commit_base(s);
	session_reply(s, "250 2.1.0 Ok");
}

static void
cmd_rcpt(struct smtp_session *s, const char *arg)
{
	struct mailaddr	 a;
	struct imsgev	*iev;
	struct mbuf	 m;
	char		 bad[SMTP_PARAM_MAX];

	s->rcpt[0] = '\0';
	if (!s->mail) {
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (cmd_path_error(s, smtp_cmd_rcpt_esmtp(arg, &a, &s->rcpt_esmtp,
	    s->mail_esmtp.smtputf8, bad, sizeof(bad)), &rcpt_errors, bad))
		return;
	if (addr_format(&a, s->rcpt, sizeof(s->rcpt)) == -1) {
		session_reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (s->norig >= s->p.max_recipients) {
		session_rcpt_reject(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if ((iev = worker_peer(PROC_LOOKUPD)) == NULL)
		goto tempfail;
	mbuf_init(&m);
	mbuf_add_u64(&m, session_request(s));
	mbuf_add_str(&m, s->ip);
	mbuf_add_str(&m, s->sender);
	mbuf_add_str(&m, s->rcpt);
	mbuf_add_str(&m, s->authuser);
	if (imsgev_compose_mbuf(iev, IMSG_LKA_RCPT, 0, -1, &m) == -1)
		goto tempfail;
	session_set_state(s, SMTP_S_LOOKUP);
	return;
tempfail:
	session_rcpt_reject(s, "451 4.3.0 <%s>: Temporary lookup failure",
	    s->rcpt);
}

/* Asks queued for a message file (DATA, or the first BDAT chunk). */
static void
session_queue_create(struct smtp_session *s)
{
	struct imsgev	*iev;
	struct mbuf	 m;

	if ((iev = worker_peer(PROC_QUEUED)) == NULL)
		goto fail;
	mbuf_init(&m);
	mbuf_add_u64(&m, session_request(s));
	if (imsgev_compose_mbuf(iev, IMSG_QUEUE_CREATE, 0, -1, &m) == -1)
		goto fail;
	session_set_state(s, SMTP_S_CREATE);
	return;
fail:
	session_reply(s, "451 4.3.0 Error: queue file write error");
}

static void
cmd_data(struct smtp_session *s, const char *arg)
{
	if (*arg != '\0') {
		session_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (!s->mail) {
		session_reply(s, "503 5.5.1 Error: need RCPT command");
		return;
	}
	if (s->bdat) {
		session_reply(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if (s->nrcpts == 0) {
		session_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	session_queue_create(s);
}

static void
cmd_noarg(struct smtp_session *s, const char *arg, const char *verb)
{
	session_reply(s, "501 5.5.4 Syntax: %s", verb);
}

/* ---- AUTH: the session's side; mechanisms are in smtp_auth.c ---- */

static void
session_auth_tempfail(struct smtp_session *s)
{
	log_info("%s: client=[%s], authentication temporarily failed: "
	    "sasl_method=%s, sasl_username=%s", s->id, s->ip,
	    smtp_auth_mech_name(s->auth.mech), s->auth.user);
	smtp_auth_wipe(&s->auth);
	session_reply(s, "454 4.7.0 Temporary authentication failure");
	if (s->state == SMTP_S_AUTH)
		session_resume(s, SMTP_S_COMMAND);
}

/* Credentials complete: lookupd checks them against the listener's table. */
static void
session_auth_check(struct smtp_session *s)
{
	struct imsgev	*iev;
	struct mbuf	 m;
	int		 rc;

	if ((iev = worker_peer(PROC_LOOKUPD)) == NULL) {
		session_auth_tempfail(s);
		return;
	}
	mbuf_init(&m);
	mbuf_add_u64(&m, session_request(s));
	mbuf_add_str(&m, s->auth_table);
	mbuf_add_str(&m, s->auth.user);
	mbuf_add_str(&m, s->auth.pass);
	explicit_bzero(s->auth.pass, sizeof(s->auth.pass));
	rc = imsgev_compose_mbuf(iev, IMSG_LKA_AUTH, 0, -1, &m);
	if (rc == -1)
		session_auth_tempfail(s);
	else
		session_set_state(s, SMTP_S_AUTH);
}

static void
session_auth_next(struct smtp_session *s, enum smtp_auth_next next,
    const char *reply)
{
	s->auth_reading = next == SMTP_AUTH_CHALLENGE;
	if (next == SMTP_AUTH_CHECK)
		session_auth_check(s);
	else
		session_reply(s, "%s", reply);
}

static void
cmd_auth(struct smtp_session *s, const char *arg)
{
	char	 reply[SMTP_AUTH_REPLY_MAX];

	if (s->auth_table[0] == '\0')
		session_reply(s, "502 5.5.1 Error: command not implemented");
	else if (!s->esmtp)
		session_reply(s, "503 5.5.1 Error: send EHLO first");
	else if (s->authuser[0] != '\0')
		session_reply(s, "503 5.5.1 Error: already authenticated");
	else if (s->mail)
		session_reply(s, "503 5.5.1 Error: MAIL transaction in "
		    "progress");
	else if (!s->tls_active)
		session_reply(s, "538 5.7.11 Encryption required for "
		    "requested authentication mechanism");
	else
		session_auth_next(s, smtp_auth_begin(&s->auth, arg, reply,
		    sizeof(reply)), reply);
}

/* A line answering a 334 challenge; wiped once read. */
static void
session_auth_line(struct smtp_session *s, char *line)
{
	char	 reply[SMTP_AUTH_REPLY_MAX];

	session_auth_next(s, smtp_auth_response(&s->auth, line, reply,
	    sizeof(reply)), reply);
	explicit_bzero(line, strlen(line));
}

/* A failed attempt: the reply waits, longer after each (an event timer;
 * the session reads nothing meanwhile). */
static void
session_auth_failed(struct smtp_session *s)
{
	struct timeval	 tv;

	s->auth_failures++;
	log_info("%s: client=[%s], authentication failed: sasl_method=%s, "
	    "sasl_username=%s", s->id, s->ip,
	    smtp_auth_mech_name(s->auth.mech), s->auth.user);
	smtp_auth_wipe(&s->auth);
	smtp_auth_delay(s->auth_failures, &tv);
	s->auth_delayed = 1;
	evtimer_add(s->wait_ev, &tv);
}

/* The delay after a failure is over: 535, or 421 after too many. */
static void
session_auth_delay_end(struct smtp_session *s)
{
	s->auth_delayed = 0;
	if (s->auth_failures >= s->p.max_auth_failures) {
		log_info("%s: too many failed authentication attempts from "
		    "[%s]", s->id, s->ip);
		session_reply(s, "421 4.7.0 %s Error: too many failed "
		    "authentication attempts", s->p.hostname);
		session_close(s);
		return;
	}
	session_reply(s, "535 5.7.8 Authentication credentials invalid");
	session_resume(s, SMTP_S_COMMAND);
}

void
smtp_session_auth_result(uint64_t reqid, enum lka_auth_status status)
{
	struct smtp_session	*s;

	if ((s = session_find(reqid)) == NULL || s->state != SMTP_S_AUTH ||
	    s->auth_delayed) {
		log_debug("stale auth result %llu", (unsigned long long)reqid);
		return;
	}
	switch (status) {
	case LKA_AUTH_OK:
		strlcpy(s->authuser, s->auth.user, sizeof(s->authuser));
		log_info("%s: client=[%s], sasl_method=%s, sasl_username=%s",
		    s->id, s->ip, smtp_auth_mech_name(s->auth.mech),
		    s->authuser);
		smtp_auth_wipe(&s->auth);
		session_reply(s, "235 2.7.0 Authentication successful");
		session_resume(s, SMTP_S_COMMAND);
		break;
	case LKA_AUTH_FAILED:
		session_auth_failed(s);
		break;
	case LKA_AUTH_TEMPFAIL:
		session_auth_tempfail(s);
		break;
	}
}

/* The credentials table of the session's listener, "" for none. */
static void
session_auth_listener(struct smtp_session *s)
{
	const struct mxgate_conf	*conf = worker_conf();
	const struct listen_conf	*lc;
	uint32_t			 i = 0;

	s->auth_table[0] = '\0';
	if (conf == NULL)
		return;
	TAILQ_FOREACH(lc, &conf->listeners, entry)
		if (i++ == s->listener) {
			strlcpy(s->auth_table, lc->auth_table,
			    sizeof(s->auth_table));
			return;
		}
}

/* The protocol for the Received: header: RFC 3848, RFC 6531 3.7.3. */
static void
session_with(struct smtp_session *s, char *with, size_t len)
{
	if (!s->esmtp && !s->mail_esmtp.smtputf8) {
		strlcpy(with, "SMTP", len);
		return;
	}
	strlcpy(with, s->mail_esmtp.smtputf8 ? "UTF8SMTP" : "ESMTP", len);
	if (s->tls_active)
		strlcat(with, "S", len);
	if (s->authuser[0] != '\0')
		strlcat(with, "A", len);
}

static void
session_set_last(struct smtp_session *s, enum smtp_verb verb)
{
	const char	*name = smtp_cmd_name(verb);
	size_t		 i;

	for (i = 0; name[i] != '\0' && i + 1 < sizeof(s->last); i++)
		s->last[i] = name[i] >= 'a' && name[i] <= 'z' ?
		    name[i] - 'a' + 'A' : name[i];
	s->last[i] = '\0';
}

static void
session_command(struct smtp_session *s, char *line)
{
	struct smtp_cmd	 cmd;

	if (s->auth_reading) {
		session_auth_line(s, line);
		return;
	}
	smtp_cmd_parse(line, &cmd);
	if (s->errors >= s->p.max_errors) {
		log_info("%s: too many errors after %s from [%s]", s->id,
		    s->last, s->ip);
		session_reply(s, "421 4.7.0 %s Error: too many errors",
		    s->p.hostname);
		session_close(s);
		return;
	}
	s->verb = cmd.verb;
	s->answering = 1;
	s->counts[cmd.verb].total++;
	session_set_last(s, cmd.verb);
	switch (cmd.verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		cmd_helo(s, cmd.arg, cmd.verb == SMTP_CMD_EHLO);
		break;
	case SMTP_CMD_MAIL:
		cmd_mail(s, cmd.arg);
		break;
	case SMTP_CMD_RCPT:
		cmd_rcpt(s, cmd.arg);
		break;
	case SMTP_CMD_DATA:
		cmd_data(s, cmd.arg);
		break;
	case SMTP_CMD_RSET:
		if (*cmd.arg != '\0') {
			cmd_noarg(s, cmd.arg, "RSET");
			break;
		}
		session_reset(s);
		session_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_NOOP:
		session_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_QUIT:
		session_reply(s, "221 2.0.0 Bye");
		session_close(s);
		break;
	case SMTP_CMD_VRFY:
	case SMTP_CMD_EXPN:
	case SMTP_CMD_HELP:
	case SMTP_CMD_ETRN:
	case SMTP_CMD_UNKNOWN:
	case SMTP_CMD_COUNT:
		session_reply(s, "%s", smtp_info_reply(cmd.verb, cmd.arg));
		break;
	case SMTP_CMD_BDAT:
		cmd_bdat(s, cmd.arg);
		break;
	case SMTP_CMD_STARTTLS:
		cmd_starttls(s, cmd.arg);
		break;
	case SMTP_CMD_AUTH:
		cmd_auth(s, cmd.arg);
		break;
	}
}

/*
 * The next command line must be complete within the timeout, however
 * slowly it trickles in: the read timeout alone restarts with every byte
 * (slowloris).  wait_ev serves as that deadline in SMTP_S_COMMAND.
 */
static void
session_command_deadline(struct smtp_session *s)
{
	struct timeval	 tv = { s->p.timeout, 0 };

	evtimer_add(s->wait_ev, &tv);
}

/*
 * One command line from the input; 0 when none is complete yet.  Lines
 * end with CR LF only (smtp_line.c); bytes of a BDAT chunk whose command
 * was refused are skipped first.
 */
static int
session_read_command(struct smtp_session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_ptr	 eol;
	enum smtp_line_err	 err;
	size_t			 eol_len, len;
	char			 line[CONF_SMTP_LINE_MAX];

	if (s->bdat_left > 0)
		return session_bdat_skip(s);
	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos == -1) {
		if (evbuffer_get_length(in) >= s->p.max_line) {
			/* keep reading up to its end, then say so */
			evbuffer_drain(in, evbuffer_get_length(in));
			s->toolong = 1;
		}
		return 0;
	}
	len = eol.pos;
	session_command_deadline(s);
	if (s->toolong || len + 1 > s->p.max_line) {
		evbuffer_drain(in, len + eol_len);
		s->toolong = 0;
		log_info("%s: reject: command line longer than %u bytes from "
		    "[%s]", s->id, s->p.max_line, s->ip);
		s->auth_reading = 0;	/* an AUTH response: the exchange ends */
		smtp_auth_wipe(&s->auth);
		session_reply(s, "500 5.5.2 Error: line too long");
		return 1;
	}
	evbuffer_remove(in, line, len);
	evbuffer_drain(in, eol_len);
	err = smtp_line_check(line, len, s->p.bare_lf ==
	    CONF_BARE_LF_NORMALIZE, &len);
	if (err != SMTP_LINE_OK) {
		if (err != SMTP_LINE_NUL)
			log_info("%s: reject: bare %s in command from [%s]",
			    s->id, err == SMTP_LINE_BARE_LF ? "LF" : "CR",
			    s->ip);
		session_reply(s, "%s", smtp_line_reply(err));
		return 1;
	}
	line[len] = '\0';
	session_command(s, line);
	return 1;
}

/* ---- DATA ---- */

/*
 * Under TLS the trace header says so: a "(using TLSv1.3 with cipher ...)"
 * comment line and "with ESMTPS" (session_with()).
 */
static void
session_received_tls(struct smtp_session *s, char *using, size_t usinglen,
    char *with, size_t withlen)
{
	using[0] = '\0';
	session_with(s, with, withlen);
	if (!s->tls_active)
		return;
	smtp_tls_describe(s->tls, using, usinglen);
}

/* RFC 5321 4.4 trace header (smtp_received.c). */
static void
session_received(struct smtp_session *s)
{
	struct smtp_received	 r;
	char			 buf[2048], using[256], with[16];
	int			 n;

	session_received_tls(s, using, sizeof(using), with, sizeof(with));
	r.helo = s->helo;
	r.ip = s->ip;
	r.hostname = s->p.hostname;
	r.proto = with;
	r.tls = using[0] != '\0' ? using : NULL;
	r.id = s->msgid;
	r.rcpt = s->norig == 1 ? s->first : NULL;
	r.when = time(NULL);
	if ((n = smtp_received_format(buf, sizeof(buf), &r)) > 0)
		smtp_data_put(s->data, buf, n);
}

static void
session_commit(struct smtp_session *s, uint64_t size)
{
	struct imsgev	*iev;
	struct mbuf	 m;
	size_t		 i;

	if ((iev = worker_peer(PROC_QUEUED)) == NULL || s->queue_lost)
		goto fail;
	mbuf_init(&m);
	mbuf_add_u64(&m, session_request(s));
	mbuf_add_str(&m, s->msgid);
	mbuf_add_str(&m, s->sender);
	mbuf_add_str(&m, s->helo);
	mbuf_add_str(&m, s->ip);
	mbuf_add_u64(&m, size);
	mbuf_add_u32(&m, s->body);
	mbuf_add_u32(&m, s->mail_esmtp.smtputf8);
	mbuf_add_u32(&m, s->mail_esmtp.ret);
	mbuf_add_str(&m, s->mail_esmtp.envid);
	mbuf_add_u32(&m, s->nrcpts);
	for (i = 0; i < s->nrcpts; i++) {
		mbuf_add_str(&m, s->rcpts[i].rcpt);
		mbuf_add_str(&m, s->rcpts[i].orig);
		mbuf_add_str(&m, s->rcpts[i].relay);
		mbuf_add_u32(&m, s->rcpts[i].notify);
		mbuf_add_str(&m, s->rcpts[i].orcpt);
	}
	if (imsgev_compose_mbuf(iev, IMSG_QUEUE_COMMIT, 0, -1, &m) == -1)
		goto fail;
	s->msg_open = 0;	/* queued owns it now */
	session_set_state(s, SMTP_S_COMMIT);
	return;
fail:
	log_warnx("%s: cannot commit: queued unavailable", s->msgid);
	session_reply(s, "451 4.3.0 Error: queue file write error");
	session_reset(s);
	session_set_state(s, SMTP_S_COMMAND);
}

/* The end marker was read: answer, or commit and wait. */
static void
session_data_end(struct smtp_session *s)
{
	enum smtp_data_result	 r;
	uint64_t		 size = s->data->size;
	int			 err;
	char			 reply[128];

	r = smtp_data_finish(s->data);
	err = s->data->err;
	if (close(s->msgfd) == -1 && r == SD_OK) {
		r = SD_WRITE_ERROR;
		err = errno;
	}
	s->msgfd = -1;
	if (r == SD_OK && !(s->data->bare &&
	    s->p.bare_lf == CONF_BARE_LF_REJECT) &&
	    s->data->hops.count <= s->p.max_hops) {
		session_commit(s, size);
		return;
	}
	if (r == SD_OK && s->data->hops.count > s->p.max_hops)
		snprintf(reply, sizeof(reply), "554 5.4.6 Error: too many hops "
		    "(%u Received: header fields; mail loop?)",
		    s->data->hops.count);
	else if (r == SD_OK)	/* SMTP smuggling, CVE-2023-51764 class */
		strlcpy(reply, "550 5.6.0 Error: bare CR or LF in message "
		    "data; end every line with CR LF", sizeof(reply));
	else if (r == SD_TOOBIG)
		strlcpy(reply, "552 5.3.4 Message size exceeds fixed limit",
		    sizeof(reply));
	else if (err == ENOSPC || err == EDQUOT)
		strlcpy(reply, "452 4.3.1 Insufficient system storage",
		    sizeof(reply));
	else
		strlcpy(reply, "451 4.3.0 Error: queue file write error",
		    sizeof(reply));
	if (r == SD_WRITE_ERROR)
		log_warnx("%s: write error on the message file: %s",
		    s->msgid, strerror(err));
	log_info("%s: reject: END-OF-MESSAGE from [%s]: %s; from=<%s> "
	    "size=%llu helo=<%s>", s->msgid, s->ip, reply, s->sender,
	    (unsigned long long)size, s->helo);
	session_reply(s, "%s", reply);
	session_reset(s);
	session_set_state(s, SMTP_S_COMMAND);
}

/* Feeds what was read to the DATA machine; 0 when the input is empty. */
static int
session_read_data(struct smtp_session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec	 v;
	size_t			 n;

	if (evbuffer_get_length(in) == 0 ||
	    evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return 0;
	n = smtp_data_feed(s->data, v.iov_base, v.iov_len);
	evbuffer_drain(in, n);
	session_data_progress(s, n);
	if (smtp_data_done(s->data))
		session_data_end(s);
	return 1;
}

/* ---- BDAT (RFC 3030) ---- */

/*
 * Reads and drops the rest of a chunk whose BDAT was refused (its reply
 * is already out); 0 when the input is empty.
 */
static int
session_bdat_skip(struct smtp_session *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	size_t		 n = evbuffer_get_length(in);

	if (n == 0)
		return 0;
	if (n > s->bdat_left)
		n = s->bdat_left;
	evbuffer_drain(in, n);
	s->bdat_left -= n;
	return 1;
}

/* The chunk would make the message too big: refused before its bytes. */
static int
session_bdat_toobig(struct smtp_session *s, uint64_t size)
{
	uint64_t	 have = s->data != NULL ? s->data->size : 0;
	uint64_t	 max = s->p.max_message_size;
	const char	*reply = "552 5.3.4 Message size exceeds fixed limit";

	if (max == 0 || (size <= max && have <= max - size))
		return 0;
	log_info("%s: reject: BDAT from [%s]: %s; from=<%s> size=%llu+%llu "
	    "helo=<%s>", s->msgid[0] ? s->msgid : s->id, s->ip, reply,
	    s->sender, (unsigned long long)have, (unsigned long long)size,
	    s->helo);
	session_reply(s, "%s", reply);
	session_reset(s);
	return 1;
}

/*
 * BDAT n [LAST].  Whatever the reply, the n bytes that follow are the
 * chunk: read into the message, or skipped by session_read_command().
 */
static void
cmd_bdat(struct smtp_session *s, const char *arg)
{
	uint64_t	 size;
	int		 last;

	if (smtp_bdat_parse(arg, &size, &last) == -1) {
		/* the chunk's bytes would be taken for commands: stop */
		log_info("%s: reject: BDAT from [%s]: bad chunk size, closing",
		    s->id, s->ip);
		session_reply(s, "501 5.5.4 Syntax: BDAT chunk-size [LAST]");
		session_close(s);
		return;
	}
	s->bdat_left = s->bdat_size = size;
	s->bdat_last = last;
	if (!s->mail) {
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpts == 0) {
		session_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (s->bdat && s->data == NULL) {
		/* the first chunk failed: the later ones are no message */
		session_reply(s, "503 5.5.1 Error: an earlier chunk failed; "
		    "send RSET");
		return;
	}
	if (session_bdat_toobig(s, size))
		return;
	if (s->data != NULL) {
		session_set_state(s, SMTP_S_BDAT);
		return;
	}
	s->bdat = 1;		/* first chunk: the message file first */
	session_queue_create(s);
}

/* A chunk other than the last was read: 250, or the transaction fails. */
static void
session_bdat_chunk_end(struct smtp_session *s)
{
	const char	*reply;
	int		 err = s->data->err;

	if (s->bdat_last) {
		smtp_bdat_end(s->data);
		session_data_end(s);	/* refuse or commit, as DATA */
		return;
	}
	if (s->data->toobig)
		reply = "552 5.3.4 Message size exceeds fixed limit";
	else if (err == ENOSPC || err == EDQUOT)
		reply = "452 4.3.1 Insufficient system storage";
	else if (err != 0 || s->queue_lost)
		reply = "451 4.3.0 Error: queue file write error";
	else {
		session_reply(s, "250 2.0.0 Ok: %llu octets received",
		    (unsigned long long)s->bdat_size);
		session_set_state(s, SMTP_S_COMMAND);
		return;
	}
	if (err != 0)
		log_warnx("%s: write error on the message file: %s",
		    s->msgid, strerror(err));
	log_info("%s: reject: BDAT from [%s]: %s; from=<%s> size=%llu "
	    "helo=<%s>", s->msgid, s->ip, reply, s->sender,
	    (unsigned long long)s->data->size, s->helo);
	session_reply(s, "%s", reply);
	session_reset(s);
	session_set_state(s, SMTP_S_COMMAND);
}

/* Feeds chunk bytes to the message; 0 when the input is empty. */
static int
session_read_bdat(struct smtp_session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec	 v;
	size_t			 n;

	if (s->bdat_left > 0) {
		if (evbuffer_get_length(in) == 0 ||
		    evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return 0;
		n = v.iov_len;
		if (n > s->bdat_left)
			n = s->bdat_left;
		smtp_bdat_feed(s->data, v.iov_base, n);
		evbuffer_drain(in, n);
		s->bdat_left -= n;
		session_data_progress(s, n);
		if (s->bdat_left > 0)
			return 1;
	}
	session_bdat_chunk_end(s);
	return 1;
}

/* Handles the buffered input as far as the state allows. */
static void
session_input(struct smtp_session *s)
{
	for (;;) {
		switch (s->state) {
		case SMTP_S_COMMAND:
			if (session_congested(s) ||
			    !session_read_command(s))
				return;
			break;
		case SMTP_S_DATA:
			if (session_congested(s) || !session_read_data(s))
				return;
			break;
		case SMTP_S_BDAT:
			if (session_congested(s) || !session_read_bdat(s))
				return;
			break;
		case SMTP_S_LOOKUP:
		case SMTP_S_CREATE:
		case SMTP_S_COMMIT:
		case SMTP_S_CLOSING:
		case SMTP_S_TLS:
		case SMTP_S_AUTH:
			return;
		}
	}
}

/* ---- answers from the peers ---- */

static int
session_has_rcpt(struct smtp_session *s, const char *rcpt, const char *relay)
{
	size_t	 i;

	for (i = 0; i < s->nrcpts; i++)
		if (strcmp(s->rcpts[i].rcpt, rcpt) == 0 &&
		    strcmp(s->rcpts[i].relay, relay) == 0)
			return 1;
	return 0;
}

static int
session_add_rcpt(struct smtp_session *s, const struct smtp_expand *x)
{
	struct smtp_rcpt	*r;
	size_t			 cap;

	if (s->nrcpts == s->rcptcap) {
		cap = s->rcptcap ? s->rcptcap * 2 : 8;
		if ((r = reallocarray(s->rcpts, cap, sizeof(*r))) == NULL)
			return -1;
		s->rcpts = r;
		s->rcptcap = cap;
	}
	r = &s->rcpts[s->nrcpts];
	r->rcpt = strdup(x->rcpt);
	r->orig = strdup(s->rcpt);
	r->relay = strdup(x->relay);
	r->notify = s->rcpt_esmtp.notify;
	r->orcpt = strdup(s->rcpt_esmtp.orcpt);
	if (r->rcpt == NULL || r->orig == NULL || r->relay == NULL ||
	    r->orcpt == NULL) {
		free(r->rcpt);
		free(r->orig);
		free(r->relay);
		free(r->orcpt);
		return -1;
	}
	s->nrcpts++;
	s->commit_bytes += 12 + strlen(r->rcpt) + strlen(r->orig) +
	    strlen(r->relay) + 8 + strlen(r->orcpt);
	return 0;
}

/* LKA_RELAY: takes the expansion, deduplicated by (rcpt, relay). */
static void
session_rcpt_accept(struct smtp_session *s, const struct smtp_expand *x,
    size_t n)
{
	size_t	 i, need = 0;

	for (i = 0; i < n; i++)
		if (!session_has_rcpt(s, x[i].rcpt, x[i].relay))
			need += 12 + strlen(x[i].rcpt) + strlen(s->rcpt) +
			    strlen(x[i].relay) + 8 +
			    strlen(s->rcpt_esmtp.orcpt);
	if (s->commit_bytes + need > SMTP_COMMIT_MAX) {
		session_rcpt_reject(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	for (i = 0; i < n; i++) {
		if (session_has_rcpt(s, x[i].rcpt, x[i].relay))
			continue;
		if (session_add_rcpt(s, &x[i]) == -1) {
			log_warn("%s: recipient list", s->id);
			session_rcpt_reject(s,
			    "452 4.3.1 Insufficient system storage");
			return;
		}
	}
	if (s->norig++ == 0)
		strlcpy(s->first, s->rcpt, sizeof(s->first));
	session_reply(s, "%s", RCPT_REPLY_ACCEPT);
}

void
smtp_session_lka_result(uint64_t reqid, enum lka_status status,
    const char *text, const struct smtp_expand *x, size_t n)
{
	struct smtp_session	*s;
	char			 reply[SMTP_REPLY_MAX];

	if ((s = session_find(reqid)) == NULL || s->state != SMTP_S_LOOKUP) {
		log_debug("stale lookup result %llu", (unsigned long long)reqid);
		return;
	}
	if (status == LKA_RELAY && n > 0)
		session_rcpt_accept(s, x, n);
	else {
		if (status == LKA_RELAY)
			log_warnx("%s: lookupd relays <%s> to no one", s->id,
			    s->rcpt);
		/* the one mapping, shared with smtpctl test rcpt */
		rcpt_reply(reply, sizeof(reply), status, s->rcpt, text, n);
		session_rcpt_reject(s, "%s", reply);
	}
	session_resume(s, SMTP_S_COMMAND);
}

static void
session_abort_stale(uint64_t reqid, const char *msgid, int fd)
{
	struct imsgev	*iev;
	struct mbuf	 m;

	if (fd != -1)
		close(fd);
	log_debug("%s: stale message, aborting", msgid);
	if ((iev = worker_peer(PROC_QUEUED)) == NULL)
		return;
	mbuf_init(&m);
	mbuf_add_u64(&m, reqid);
	mbuf_add_str(&m, msgid);
	imsgev_compose_mbuf(iev, IMSG_QUEUE_ABORT, 0, -1, &m);
}

void
smtp_session_queue_created(uint64_t reqid, const char *msgid, int fd)
{
	struct smtp_session	*s;

	if ((s = session_find(reqid)) == NULL || s->state != SMTP_S_CREATE) {
		session_abort_stale(reqid, msgid, fd);
		return;
	}
	strlcpy(s->msgid, msgid, sizeof(s->msgid));
	s->msgfd = fd;
	s->msg_open = 1;
	log_info("%s: client=[%s]", s->msgid, s->ip);
	if ((s->data = malloc(sizeof(*s->data))) == NULL) {
		log_warn("%s: data buffer", s->msgid);
		session_reply(s, "451 4.3.0 Error: queue file write error");
		session_reset(s);
		session_resume(s, SMTP_S_COMMAND);
		return;
	}
	smtp_data_init(s->data, fd, s->p.max_message_size);
	session_received(s);
	if (s->bdat) {
		smtp_bdat_begin(s->data);
		session_resume(s, SMTP_S_BDAT);
		return;
	}
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	session_resume(s, SMTP_S_DATA);
}

void
smtp_session_queue_create_failed(uint64_t reqid)
{
	struct smtp_session	*s;

	if ((s = session_find(reqid)) == NULL || s->state != SMTP_S_CREATE)
		return;
	log_warnx("%s: queued could not create a message", s->id);
	session_reply(s, "%s", session_queue_error());
	session_resume(s, SMTP_S_COMMAND);
}

void
smtp_session_queue_committed(uint64_t reqid, const char *msgid, int ok)
{
	struct smtp_session	*s;

	if ((s = session_find(reqid)) == NULL || s->state != SMTP_S_COMMIT) {
		log_info("%s: client went away before the %s", msgid,
		    ok ? "250 reply (message queued)" : "failure reply");
		return;
	}
	if (ok) {
		session_reply(s, "250 2.0.0 Ok: queued as %s", s->msgid);
		s->errors = 0;	/* the limit is on errors without mail */
	} else {
		log_warnx("%s: queued could not commit", s->msgid);
		session_reply(s, "%s", session_queue_error());
	}
	session_reset(s);
	session_resume(s, SMTP_S_COMMAND);
}

void
smtp_session_queue_status(uint32_t status)
{
	smtp.queue_status = status;
}

void
smtp_session_peer_up(enum proc_id peer)
{
}

void
smtp_session_peer_down(enum proc_id peer)
{
	struct smtp_session	*s;

	if (peer == PROC_QUEUED)
		smtp.queue_status = 0;	/* a new queued tells its own */

	TAILQ_FOREACH(s, &smtp.list, entry) {
		if (peer == PROC_LOOKUPD && s->state == SMTP_S_LOOKUP) {
			session_rcpt_reject(s, "451 4.3.0 <%s>: Temporary "
			    "lookup failure", s->rcpt);
			session_resume(s, SMTP_S_COMMAND);
		} else if (peer == PROC_QUEUED && (s->state == SMTP_S_CREATE ||
		    s->state == SMTP_S_COMMIT)) {
			session_reply(s,
			    "451 4.3.0 Error: queue file write error");
			s->msg_open = 0;
			session_reset(s);
			session_resume(s, SMTP_S_COMMAND);
		} else if (peer == PROC_QUEUED && (s->state == SMTP_S_DATA ||
		    s->state == SMTP_S_BDAT)) {
			s->queue_lost = 1;	/* answered at the end */
			s->msg_open = 0;
		} else if (peer == PROC_LOOKUPD && s->state == SMTP_S_AUTH &&
		    !s->auth_delayed)
			session_auth_tempfail(s);
	}
}

/* A peer did not answer in time: a temporary failure, like a dead link. */
static void
session_wait_timeout(int fd, short ev, void *arg)
{
	struct smtp_session	*s = arg;

	switch (s->state) {
	case SMTP_S_LOOKUP:
		log_warnx("%s: no answer from lookupd for <%s>", s->id,
		    s->rcpt);
		session_rcpt_reject(s, "451 4.3.0 <%s>: Temporary lookup "
		    "failure", s->rcpt);
		break;
	case SMTP_S_CREATE:
	case SMTP_S_COMMIT:
		log_warnx("%s: no answer from queued", s->id);
		session_reply(s, "451 4.3.0 Error: queue file write error");
		s->msg_open = 0;	/* a late answer is aborted as stale */
		session_reset(s);
		break;
	case SMTP_S_AUTH:
		if (s->auth_delayed)
			session_auth_delay_end(s);
		else {
			log_warnx("%s: no answer from lookupd for AUTH",
			    s->id);
			session_auth_tempfail(s);
		}
		return;
	case SMTP_S_COMMAND:
		if (s->throttled || s->outblocked) {
			/* our side stopped reading: not the client's fault */
			session_command_deadline(s);
			return;
		}
		log_info("%s: timeout after %s from [%s] (command not "
		    "complete in time)", s->id, s->last, s->ip);
		session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->p.hostname);
		session_close(s);
		return;
	case SMTP_S_DATA:
	case SMTP_S_BDAT:
		if (s->throttled || s->outblocked) {
			session_data_progress(s, 0);
			return;
		}
		log_info("%s: timeout after %s (%llu bytes) from [%s] "
		    "(message slower than %d bytes/s)", s->id,
		    s->state == SMTP_S_DATA ? "DATA" : "BDAT",
		    s->data ? (unsigned long long)s->data->size : 0ULL, s->ip,
		    SMTP_MIN_DATA_RATE);
		session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->p.hostname);
		session_close(s);
		return;
	case SMTP_S_CLOSING:
	case SMTP_S_TLS:
		return;
	}
	session_resume(s, SMTP_S_COMMAND);
}

/* ---- TLS ---- */

int
smtp_session_tls_active(const struct smtp_session *s)
{
	return s->tls_active;
}

/*
 * RFC 3207: 220, then the handshake once it is written.  What the client
 * sent after the command is dropped unread (CVE-2011-0411): it came in
 * the clear and must not be taken as said under TLS.
 */
static void
cmd_starttls(struct smtp_session *s, const char *arg)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);

	if (*arg != '\0') {
		session_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->tls_active) {
		session_reply(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (s->listen.mode != LISTEN_STARTTLS) {
		session_reply(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	evbuffer_drain(in, evbuffer_get_length(in));
	session_set_state(s, SMTP_S_TLS);
}

/* Handshake done: a new session in all but the connection (RFC 3207 4.2) */
static void
session_tls_done(void *arg, int ok)
{
	struct smtp_session	*s = arg;

	if (!ok) {
		session_free(s);
		return;
	}
	s->tls_active = 1;
	session_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	bufferevent_setcb(s->bev, session_readcb, session_writecb,
	    session_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_IN_MAX);
	if (s->listen.mode == LISTEN_SMTPS)
		session_reply(s, "220 %s ESMTP mxgate", s->p.hostname);
	session_resume(s, SMTP_S_COMMAND);	/* may have come with Finished */
}

static void
session_tls_start(struct smtp_session *s, const char *how)
{
	s->tls = smtp_tls_accept(s->listener, &s->bev, how, s->id, s->ip,
	    s->p.timeout, session_tls_done, s);
	if (s->tls == NULL)
		session_free(s);
}

/* ---- the connection ---- */

static void
session_readcb(struct bufferevent *bev, void *arg)
{
	session_input(arg);
}

static void
session_writecb(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;

	if (s->state == SMTP_S_CLOSING) {
		session_free(s);
		return;
	}
	if (s->state == SMTP_S_TLS && s->tls == NULL) {
		session_tls_start(s, "STARTTLS");	/* the 220 is out */
		return;
	}
	if (s->outblocked) {
		s->outblocked = 0;
		session_resume(s, s->state);
	}
}

static void
session_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session	*s = arg;

	if (s->state != SMTP_S_CLOSING && (what & BEV_EVENT_TIMEOUT) &&
	    (what & BEV_EVENT_READING)) {
		log_info("%s: timeout after %s from [%s]", s->id, s->last,
		    s->ip);
		session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->p.hostname);
		session_close(s);
		return;
	}
	if ((s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT) &&
	    s->data != NULL)
		log_info("%s: lost connection after %s (%llu bytes) from "
		    "[%s]", s->id, s->last, (unsigned long long)s->data->size,
		    s->ip);
	else if (s->state != SMTP_S_CLOSING)
		log_info("%s: %s after %s from [%s]", s->id,
		    (what & BEV_EVENT_TIMEOUT) ? "timeout" : "lost connection",
		    s->last, s->ip);
	session_free(s);
}

static void
session_log_disconnect(struct smtp_session *s)
{
	static const enum smtp_verb order[] = {
		SMTP_CMD_HELO, SMTP_CMD_EHLO, SMTP_CMD_STARTTLS,
		SMTP_CMD_AUTH, SMTP_CMD_MAIL, SMTP_CMD_RCPT, SMTP_CMD_DATA,
		SMTP_CMD_BDAT, SMTP_CMD_RSET, SMTP_CMD_NOOP, SMTP_CMD_VRFY,
		SMTP_CMD_EXPN, SMTP_CMD_ETRN, SMTP_CMD_HELP, SMTP_CMD_QUIT,
		SMTP_CMD_UNKNOWN
	};
	char		 buf[512], one[48];
	unsigned	 ok = 0, total = 0;
	size_t		 i;
	struct smtp_count *c;

	buf[0] = '\0';
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		c = &s->counts[order[i]];
		if (c->total == 0)
			continue;
		ok += c->ok;
		total += c->total;
		if (c->ok == c->total)
			snprintf(one, sizeof(one), " %s=%u",
			    smtp_cmd_name(order[i]), c->total);
		else
			snprintf(one, sizeof(one), " %s=%u/%u",
			    smtp_cmd_name(order[i]), c->ok, c->total);
		strlcat(buf, one, sizeof(buf));
	}
	if (ok == total)
		snprintf(one, sizeof(one), " commands=%u", total);
	else
		snprintf(one, sizeof(one), " commands=%u/%u", ok, total);
	strlcat(buf, one, sizeof(buf));
	log_info("%s: disconnect from [%s]:%u%s", s->id, s->ip, s->port, buf);
}

static void
session_free(struct smtp_session *s)
{
	session_log_disconnect(s);
	session_reset(s);
	smtp_auth_wipe(&s->auth);
	TAILQ_REMOVE(&smtp.list, s, entry);
	RB_REMOVE(smtp_session_tree, &smtp.tree, s);
	event_free(s->wait_ev);
	if (s->tls != NULL)
		smtp_tls_close(s->tls);		/* frees s->bev */
	else if (s->bev != NULL)
		bufferevent_free(s->bev);
	client_release(s->client);
	free(s);
	smtp.count--;
	if (smtp.on_close != NULL)
		smtp.on_close();
}

/* Numeric address and port; IPv4-mapped IPv6 shown as IPv4. */
static int
session_peer_addr(struct smtp_session *s, const struct sockaddr *sa,
    socklen_t salen)
{
	const struct sockaddr_in	*sin = (const void *)sa;
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	const void			*a;

	if (sa->sa_family == AF_INET && salen >= sizeof(*sin)) {
		s->port = ntohs(sin->sin_port);
		a = &sin->sin_addr;
		return inet_ntop(AF_INET, a, s->ip, sizeof(s->ip)) ? 0 : -1;
	}
	if (sa->sa_family != AF_INET6 || salen < sizeof(*sin6))
		return -1;
	s->port = ntohs(sin6->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		a = &sin6->sin6_addr.s6_addr[12];
		return inet_ntop(AF_INET, a, s->ip, sizeof(s->ip)) ? 0 : -1;
	}
	a = &sin6->sin6_addr;
	return inet_ntop(AF_INET6, a, s->ip, sizeof(s->ip)) ? 0 : -1;
}

/*
 * Over a session limit: a 421 written straight to the fresh socket (its
 * send buffer is empty, so a short reply never blocks), then closed.
 */
static void
session_refuse(struct smtp_session *s, int fd, enum refuse_why why)
{
	char	 reply[SMTP_REPLY_MAX];
	int	 n;

	if (why == REFUSE_PAUSED)
		n = snprintf(reply, sizeof(reply), "421 4.3.2 %s Service "
		    "temporarily unavailable, try again later",
		    s->p.hostname);
	else if (why == REFUSE_PER_CLIENT)
		n = snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too "
		    "many connections from [%s]", s->p.hostname, s->ip);
	else
		n = snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too "
		    "many connections", s->p.hostname);
	if (n < 0 || (size_t)n + 2 >= sizeof(reply))
		n = 0;
	log_info("%s: reject: CONNECT from [%s]:%u: %s", s->id, s->ip,
	    s->port, reply);
	memcpy(reply + n, "\r\n", 2);
	if (s->listen.mode != LISTEN_SMTPS)	/* a TLS client: just close */
		(void)send(fd, reply, n + 2, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	free(s);
}

void
smtp_session_new(int fd, const struct sockaddr *sa, socklen_t salen,
    uint32_t listener)
{
	struct smtp_session	*s;
	struct smtp_client	*c;
	struct timeval		 tv = { smtp.params.timeout, 0 };

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session");
		close(fd);
		return;
	}
	s->msgfd = -1;
	s->p = smtp.params;
	s->listener = listener;
	smtp_tls_listener(listener, &s->listen);
	session_auth_listener(s);
	strlcpy(s->last, "CONNECT", sizeof(s->last));
	snprintf(s->id, sizeof(s->id), "%08X", arc4random());
	if (session_peer_addr(s, sa, salen) == -1) {
		log_warnx("session: cannot set up the connection");
		close(fd);
		free(s);
		return;
	}
	if (smtp.queue_status & QUEUE_STATUS_PAUSED) {
		session_refuse(s, fd, REFUSE_PAUSED);
		return;
	}
	if (smtp.count >= s->p.max_sessions) {
		session_refuse(s, fd, REFUSE_TOTAL);
		return;
	}
	if ((c = client_find(s->ip)) != NULL &&
	    c->n >= s->p.max_sessions_per_client) {
		session_refuse(s, fd, REFUSE_PER_CLIENT);
		return;
	}
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			log_warn("session");
			close(fd);
			free(s);
			return;
		}
		strlcpy(c->ip, s->ip, sizeof(c->ip));
		RB_INSERT(smtp_client_tree, &smtp.clients, c);
	}
	c->n++;
	s->client = c;
	if ((s->wait_ev = evtimer_new(worker_base(), session_wait_timeout,
	    s)) == NULL ||
	    (s->bev = bufferevent_socket_new(worker_base(), fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("session: cannot set up the connection");
		if (s->wait_ev != NULL)
			event_free(s->wait_ev);
		client_release(s->client);
		close(fd);
		free(s);
		return;
	}
	bufferevent_setcb(s->bev, session_readcb, session_writecb,
	    session_eventcb, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_IN_MAX);
	s->reqid = ++smtp.reqid;
	RB_INSERT(smtp_session_tree, &smtp.tree, s);
	TAILQ_INSERT_TAIL(&smtp.list, s, entry);
	smtp.count++;
	log_info("%s: connect from [%s]:%u", s->id, s->ip, s->port);
	if (s->listen.mode == LISTEN_SMTPS) {	/* greeting after TLS */
		session_set_state(s, SMTP_S_TLS);
		session_tls_start(s, "SMTPS");
		return;
	}
	session_reply(s, "220 %s ESMTP mxgate", s->p.hostname);
	bufferevent_enable(s->bev, EV_WRITE);
	session_set_state(s, SMTP_S_COMMAND);
	session_command_deadline(s);
}

void
smtp_session_init(void (*on_close)(void))
{
	TAILQ_INIT(&smtp.list);
	RB_INIT(&smtp.tree);
	RB_INIT(&smtp.clients);
	smtp.on_close = on_close;
	if ((smtp.throttle_ev = evtimer_new(worker_base(), throttle_check,
	    NULL)) == NULL)
		fatalx("session: evtimer_new");
}

void
smtp_session_params(const struct smtp_params *p)
{
	smtp.params = *p;
}

size_t
smtp_session_count(void)
{
	return smtp.count;
}
