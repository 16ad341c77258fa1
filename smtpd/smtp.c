/*
 * mxgate-smtpd: the SMTP server worker.  Takes the listening sockets the
 * parent bound, accepts clients (smtp_session.c runs each one), and
 * decodes the answers of lookupd and queued for the sessions.
 *
 * Promises: stdio inet recvfd unix; chrooted to the empty dir as the
 * unprivileged user.  It opens no file and resolves no name: client
 * addresses are formatted numerically.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include <event2/event.h>

#include "addr.h"
#include "log.h"
#include "mbuf.h"
#include "sandbox.h"
#include "worker.h"
#include "smtp_session.h"
#include "smtp_tls.h"

/* descriptors besides the sessions: listeners, peers, a 421 in flight */
#define SMTP_FD_RESERVE		256
#define SMTP_ACCEPT_BATCH	64
#define SMTP_ACCEPT_BACKOFF	1	/* seconds, after EMFILE and the like */
#define SMTP_TEXT_MAX		512
#define SMTP_MSGID_LEN		64

struct smtp_listener {
	TAILQ_ENTRY(smtp_listener) entry;
	uint32_t		 index;
	int			 fd;
	struct event		*ev;
};

static TAILQ_HEAD(, smtp_listener) smtp_listeners =
    TAILQ_HEAD_INITIALIZER(smtp_listeners);
static int		 smtp_accepting = 1;
static int		 smtp_backoff;
static struct event	*smtp_backoff_ev;

/*
 * Listeners are armed unless we are out of descriptors.  Over
 * max-sessions we still accept: smtp_session_new() answers 421.
 */
static void
smtp_accept_update(void)
{
	struct smtp_listener	*l;
	int			 on;

	on = !smtp_backoff;
	if (on == smtp_accepting)
		return;
	smtp_accepting = on;
	TAILQ_FOREACH(l, &smtp_listeners, entry) {
		if (on)
			event_add(l->ev, NULL);
		else
			event_del(l->ev);
	}
}

static void
smtp_backoff_end(int fd, short ev, void *arg)
{
	smtp_backoff = 0;
	smtp_accept_update();
}

static void
smtp_backoff_start(void)
{
	struct timeval	 tv = { SMTP_ACCEPT_BACKOFF, 0 };

	smtp_backoff = 1;
	smtp_accept_update();
	evtimer_add(smtp_backoff_ev, &tv);
}

static void
smtp_accept(int lfd, short ev, void *arg)
{
	struct smtp_listener	*l = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, i;

	for (i = 0; i < SMTP_ACCEPT_BATCH; i++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
			case EINTR:
				return;
			case ECONNABORTED:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				log_warn("accept");
				smtp_backoff_start();
				return;
			default:
				log_warn("accept");
				return;
			}
		}
		smtp_session_new(fd, (struct sockaddr *)&ss, len, l->index);
	}
}

/* IMSG_LISTEN_FD: u32 listener index; fd.  Replaces one of that index. */
static void
smtp_listen_fd(struct imsgev *iev, struct imsg *imsg)
{
	struct smtp_listener	*l;
	struct mreader		 r;
	uint32_t		 index;

	mreader_init(&r, imsg);
	index = mr_u32(&r);
	if (mr_end(&r) == -1 || imsg->fd == -1) {
		imsgev_fail(iev, "bad listen fd message");
		return;
	}
	TAILQ_FOREACH(l, &smtp_listeners, entry)
		if (l->index == index)
			break;
	if (l != NULL) {
		event_free(l->ev);
		close(l->fd);
	} else if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("listener");
	else
		TAILQ_INSERT_TAIL(&smtp_listeners, l, entry);
	l->index = index;
	l->fd = imsg->fd;
	imsg->fd = -1;
	if (fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK) == -1)
		fatal("listener %u: fcntl", index);
	if ((l->ev = event_new(worker_base(), l->fd, EV_READ | EV_PERSIST,
	    smtp_accept, l)) == NULL)
		fatalx("listener %u: event_new", index);
	if (smtp_accepting)
		event_add(l->ev, NULL);
	log_debug("listener %u ready", index);
}

static void
smtp_parent_msg(struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_LISTEN_FD:
		smtp_listen_fd(iev, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message from parent");
	}
}

/* No control characters, not empty; spaces only where allowed. */
static int
smtp_valid_text(const char *s, int spaces)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < (spaces ? 0x20 : 0x21) || *s > 0x7e)
			return 0;
	return 1;
}

static void
smtp_expand_free(struct smtp_expand *x, size_t n)
{
	size_t	 i;

	for (i = 0; x != NULL && i < n; i++) {
		free(x[i].rcpt);
		free(x[i].relay);
	}
	free(x);
}

/*
 * IMSG_LKA_RCPT_RESULT: u64 reqid, u32 lka_status, str text,
 * u32 n, n x (str final rcpt, str relay)
 */
static void
smtp_lka_result(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader		 r;
	struct smtp_expand	*x = NULL;
	char			 text[SMTP_TEXT_MAX], rcpt[ADDR_PATH_MAX];
	char			 relay[CONF_STR_MAX];
	uint64_t		 reqid;
	uint32_t		 status, n, i;

	mreader_init(&r, imsg);
	reqid = mr_u64(&r);
	status = mr_u32(&r);
	mr_str(&r, text, sizeof(text));
	n = mr_u32(&r);
	if (r.err || status > LKA_REJECT || n > imsg->datalen / 8 ||
	    (n > 0 && (x = calloc(n, sizeof(*x))) == NULL))
		goto bad;
	for (i = 0; i < n; i++) {
		mr_str(&r, rcpt, sizeof(rcpt));
		mr_str(&r, relay, sizeof(relay));
		if (r.err || !smtp_valid_text(rcpt, 1) ||
		    !smtp_valid_text(relay, 0))
			goto bad;
		x[i].rcpt = strdup(rcpt);
		x[i].relay = strdup(relay);
		if (x[i].rcpt == NULL || x[i].relay == NULL)
			fatal("lookup result");
	}
	if (mr_end(&r) == -1)
		goto bad;
	smtp_session_lka_result(reqid, status, text, x, n);
	smtp_expand_free(x, n);
	return;
bad:
	smtp_expand_free(x, n);
	imsgev_fail(iev, "bad lookup result");
}

/* IMSG_LKA_AUTH_RESULT: u64 reqid, u32 lka_auth_status */
static void
smtp_lka_auth_result(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader	 r;
	uint64_t	 reqid;
	uint32_t	 status;

	mreader_init(&r, imsg);
	reqid = mr_u64(&r);
	status = mr_u32(&r);
	if (mr_end(&r) == -1 || imsg->fd != -1 || status > LKA_AUTH_TEMPFAIL) {
		imsgev_fail(iev, "bad auth result");
		return;
	}
	smtp_session_auth_result(reqid, status);
}

static void
smtp_lookupd_msg(struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_LKA_RCPT_RESULT:
		smtp_lka_result(iev, imsg);
		break;
	case IMSG_LKA_AUTH_RESULT:
		smtp_lka_auth_result(iev, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message from lookupd");
	}
}

/* Queue ids are short and alphanumeric. */
static int
smtp_valid_msgid(const char *id)
{
	size_t	 len = strlen(id);

	return len > 0 && len < SMTP_MSGID_LEN && strspn(id,
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	    == len;
}

static void
smtp_queued_msg(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader	 r;
	char		 msgid[SMTP_MSGID_LEN];
	uint64_t	 reqid;
	uint32_t	 status;
	int		 fd;

	mreader_init(&r, imsg);
	if (imsg->hdr.type == IMSG_QUEUE_STATUS) {
		status = mr_u32(&r);
		if (mr_end(&r) == -1 || imsg->fd != -1) {
			imsgev_fail(iev, "bad status from queued");
			return;
		}
		smtp_session_queue_status(status);
		return;
	}
	reqid = mr_u64(&r);
	msgid[0] = '\0';
	if (imsg->hdr.type != IMSG_QUEUE_CREATE_FAIL)
		mr_str(&r, msgid, sizeof(msgid));
	if (mr_end(&r) == -1 || (imsg->hdr.type != IMSG_QUEUE_CREATE_FAIL &&
	    !smtp_valid_msgid(msgid))) {
		imsgev_fail(iev, "bad message from queued");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_QUEUE_CREATE_OK:
		if (imsg->fd == -1) {
			imsgev_fail(iev, "message created without its fd");
			return;
		}
		fd = imsg->fd;
		imsg->fd = -1;
		smtp_session_queue_created(reqid, msgid, fd);
		break;
	case IMSG_QUEUE_CREATE_FAIL:
		smtp_session_queue_create_failed(reqid);
		break;
	case IMSG_QUEUE_COMMIT_OK:
		smtp_session_queue_committed(reqid, msgid, 1);
		break;
	case IMSG_QUEUE_COMMIT_FAIL:
		smtp_session_queue_committed(reqid, msgid, 0);
		break;
	default:
		imsgev_fail(iev, "unexpected message from queued");
	}
}

/*
 * Enough descriptors for max-sessions.  Only before the sandbox: neither
 * setrlimit nor getrlimit (prlimit64 in glibc) is allowed after it.  A
 * reload that asks for more than we got gets a warning; the accept
 * backoff copes with EMFILE.
 */
static rlim_t	 smtp_nofile_cur = RLIM_INFINITY;

static void
smtp_nofile(uint32_t sessions, int first)
{
	struct rlimit	 rl, both;
	rlim_t		 want = (rlim_t)sessions + SMTP_FD_RESERVE;

	if (first) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("getrlimit");
			return;
		}
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
			/* root may raise the hard limit too */
			both.rlim_cur = both.rlim_max = want;
			if (rl.rlim_max != RLIM_INFINITY &&
			    rl.rlim_max < want &&
			    setrlimit(RLIMIT_NOFILE, &both) == 0)
				rl = both;
			else {
				if (rl.rlim_max == RLIM_INFINITY ||
				    rl.rlim_max >= want)
					rl.rlim_cur = want;
				else
					rl.rlim_cur = rl.rlim_max;
				if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
					log_warn("setrlimit");
					if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
						return;
				}
			}
		}
		smtp_nofile_cur = rl.rlim_cur;
	}
	if (smtp_nofile_cur != RLIM_INFINITY && smtp_nofile_cur < want)
		log_warnx("smtp max-sessions %lu: only %llu file descriptors",
		    (unsigned long)sessions,
		    (unsigned long long)smtp_nofile_cur);
}

static int
smtp_configure(struct mxgate_conf *conf, int first)
{
	struct smtp_params	 p;

	memset(&p, 0, sizeof(p));
	if (!smtp_valid_text(conf->hostname, 0) ||
	    strlcpy(p.hostname, conf->hostname, sizeof(p.hostname)) >=
	    sizeof(p.hostname)) {
		log_warnx("bad hostname for the SMTP greeting");
		return -1;
	}
	p.max_message_size = conf->max_message_size;
	p.max_recipients = conf->max_recipients;
	p.bare_lf = conf->smtp_bare_lf;
	p.max_sessions = conf->smtp_max_sessions;
	p.max_sessions_per_client = conf->smtp_max_sessions_per_client;
	p.timeout = conf->smtp_timeout;
	p.max_errors = conf->smtp_max_errors;
	p.max_auth_failures = conf->smtp_max_auth_failures;
	if (smtp_tls_configure(conf) == -1)
		return -1;
	p.max_line = conf->smtp_max_line;
	p.data_timeout = conf->smtp_data_timeout;
	p.max_hops = conf->smtp_max_hops;
	smtp_nofile(p.max_sessions, first);
	if (first) {
		smtp_session_init(smtp_accept_update);
		if ((smtp_backoff_ev = evtimer_new(worker_base(),
		    smtp_backoff_end, NULL)) == NULL)
			fatalx("evtimer_new");
	}
	smtp_session_params(&p);
	return 0;
}

static void
smtp_sandbox(const struct mxgate_conf *conf)
{
	sandbox_enter("smtpd", conf->empty_dir[0] ? conf->empty_dir : NULL,
	    conf->user[0] ? conf->user : NULL, NULL,
	    PROMISE_STDIO | PROMISE_INET | PROMISE_RECVFD | PROMISE_UNIX);
}

static void
smtp_peer_up(enum proc_id id, struct imsgev *iev)
{
	smtp_session_peer_up(id);
}

static void
smtp_peer_down(enum proc_id id)
{
	log_debug("link to %s down", proc_name(id));
	smtp_session_peer_down(id);
}

static const struct worker_ops smtp_ops = {
	.id = PROC_SMTPD,
	.configure = smtp_configure,
	.sandbox = smtp_sandbox,
	.peer_up = smtp_peer_up,
	.peer_down = smtp_peer_down,
	.peer_handler = {
		[PROC_LOOKUPD] = smtp_lookupd_msg,
		[PROC_QUEUED] = smtp_queued_msg,
	},
	.parent_msg = smtp_parent_msg,
	.conf_msg = smtp_tls_conf_msg,
};

int
main(int argc, char **argv)
{
	worker_main(argc, argv, &smtp_ops);
}
