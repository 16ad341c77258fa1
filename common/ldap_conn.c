/*
 * The connection to a directory; see ldap_conn.h.
 *
 * States: DOWN -> CONNECTING (non-blocking TCP connect, our own socket
 * handed to libldap with ldap_init_fd) -> STARTTLS (the extended
 * operation, then the handshake) -> BINDING (simple bind) -> UP.  Every
 * phase and every search has a timer of the configured timeout.
 *
 * Guarantees:
 * - each accepted search gets exactly one done callback, always from the
 *   event loop (a zero-timeout event), never from inside the call that
 *   started it, so callers may start searches from callbacks;
 * - a server that fails (connect, TLS, bind, a search timing out) is
 *   logged once with its URL and the error, then skipped for its
 *   reconnect delay, which doubles on each failure up to the maximum and
 *   is reset by a successful bind; the next server is tried at once;
 * - a connection lost under sent searches (a directory restarted, an
 *   idle connection closed by the server) resends each of them once on
 *   a new connection before failing it;
 * - the only blocking step is the TLS handshake inside libldap, bounded
 *   by the timeout (LDAP_OPT_NETWORK_TIMEOUT) and started only once the
 *   TCP connection is up and the server has answered StartTLS.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <ldap.h>
#include <openldap.h>

#include "ldap_conn.h"
#include "log.h"

#define LDAP_CONN_TRIES		2	/* sends of one search */
#define LDAP_CONN_ATTRS_MAX	8

enum lconn_state {
	LCONN_DOWN,
	LCONN_CONNECTING,
	LCONN_STARTTLS,
	LCONN_BINDING,
	LCONN_UP
};

struct lconn_search {
	TAILQ_ENTRY(lconn_search) entry;
	struct ldap_conn	*c;
	char			*base, *filter;
	int			 scope;
	char			*attrs[LDAP_CONN_ATTRS_MAX + 1];
	int			 msgid;		/* -1 while not sent */
	int			 tries;
	int			 status;
	char			 why[512];
	struct event		*timer;		/* timeout, then done */
	ldap_conn_entry_cb	 cb_entry;
	ldap_conn_done_cb	 cb_done;
	void			*arg;
};

TAILQ_HEAD(lconn_searches, lconn_search);

struct lconn_server {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	time_t			 next_try;	/* 0: may be tried */
	uint32_t		 delay;
};

struct ldap_conn {
	struct ldap_conf	 lc;
	char			 label[128];
	struct event_base	*base;
	struct lconn_server	 servers[LDAP_CONF_SERVERS_MAX];
	size_t			 cur;		/* server in use / tried */
	enum lconn_state	 state;
	int			 fd;
	LDAP			*ld;
	int			 op_msgid;	/* StartTLS or bind */
	unsigned		 gen;		/* bumped when ld goes */
	void			*tls_ctx;
	struct event		*ev_io, *ev_phase, *ev_kick;
	struct lconn_searches	 waiting;	/* not sent yet */
	struct lconn_searches	 sent;
	/* a bind check (ldap_conn_bind_check); NULL on a service connection */
	ldap_conn_bind_cb	 check_cb;
	void			*check_arg;
	struct event		*check_ev;	/* delivers the answer */
	int			 check_status;	/* -2: not answered yet */
	char			 check_why[1400];
};

static void	lconn_connect(struct ldap_conn *);
static void	lconn_send_waiting(struct ldap_conn *);
static void	lconn_check_end(struct ldap_conn *, int status,
		    const char *why);
static void	lconn_check_bound(struct ldap_conn *, int err,
		    const char *why);

static time_t
lconn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- searches ---- */

static void
lconn_search_free(struct lconn_search *s)
{
	size_t i;

	if (s->timer != NULL)
		event_free(s->timer);
	for (i = 0; s->attrs[i] != NULL; i++)
		free(s->attrs[i]);
	free(s->base);
	free(s->filter);
	free(s);
}

/* The timer of a finished search: deliver the result, free it. */
static void
lconn_search_deliver(int fd, short ev, void *arg)
{
	struct lconn_search *s = arg;

	s->cb_done(s->arg, s->status, s->why);
	lconn_search_free(s);
}

/* Not on any list any more: deliver from the loop. */
static void
lconn_search_finish(struct lconn_search *s, int status, const char *why)
{
	struct timeval tv = { 0, 0 };

	s->status = status;
	strlcpy(s->why, why ? why : "", sizeof(s->why));
	event_del(s->timer);
	event_free(s->timer);
	if ((s->timer = evtimer_new(s->c->base, lconn_search_deliver,
	    s)) == NULL || evtimer_add(s->timer, &tv) == -1)
		fatalx("ldap: timer");
}

/* Fail every search of a list (taken off it first: callbacks may add). */
static void
lconn_fail_list(struct lconn_searches *list, const char *why)
{
	struct lconn_searches	 l = TAILQ_HEAD_INITIALIZER(l);
	struct lconn_search	*s;

	TAILQ_CONCAT(&l, list, entry);
	while ((s = TAILQ_FIRST(&l)) != NULL) {
		TAILQ_REMOVE(&l, s, entry);
		lconn_search_finish(s, LDAP_CONN_ERROR, why);
	}
}

/* ---- the connection ---- */

static void
lconn_close(struct ldap_conn *c)
{
	if (c->ev_io != NULL) {
		event_free(c->ev_io);
		c->ev_io = NULL;
	}
	evtimer_del(c->ev_phase);
	if (c->ld != NULL)
		ldap_unbind_ext(c->ld, NULL, NULL);	/* closes fd */
	else if (c->fd != -1)
		close(c->fd);
	c->ld = NULL;
	c->fd = -1;
	c->state = LCONN_DOWN;
	c->gen++;
}

/* Sent searches go back to waiting, once; the rest fail. */
static void
lconn_requeue_sent(struct ldap_conn *c, const char *why)
{
	struct lconn_searches	 fail = TAILQ_HEAD_INITIALIZER(fail);
	struct lconn_search	*s;

	while ((s = TAILQ_FIRST(&c->sent)) != NULL) {
		TAILQ_REMOVE(&c->sent, s, entry);
		s->msgid = -1;
		if (s->tries < LDAP_CONN_TRIES)
			TAILQ_INSERT_TAIL(&c->waiting, s, entry);
		else
			TAILQ_INSERT_TAIL(&fail, s, entry);
	}
	lconn_fail_list(&fail, why);
}

/*
 * The current server failed: log it, start its delay, close, and try the
 * next one (or fail what waits when none may be tried).
 */
static void
lconn_server_failed(struct ldap_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
lconn_server_failed(struct ldap_conn *c, const char *fmt, ...)
{
	struct lconn_server	*sv = &c->servers[c->cur];
	char			 why[512], line[768];
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s: %s", c->lc.servers[c->cur].url,
	    why);
	if (c->check_cb != NULL) {	/* a bind check: no backoff, no retry */
		lconn_check_end(c, LDAP_CONN_ERROR, line);
		return;
	}
	sv->next_try = lconn_now() + sv->delay;
	log_warnx("table %s: ldap server %s (retry in %us)", c->label, line,
	    sv->delay);
	sv->delay = sv->delay * 2 > c->lc.reconnect_delay_max ?
	    c->lc.reconnect_delay_max : sv->delay * 2;
	lconn_close(c);
	lconn_requeue_sent(c, line);
	if (!TAILQ_EMPTY(&c->waiting))
		lconn_connect(c);
}

/* A server that may be tried now, from the first; -1 if none. */
static int
lconn_pick(struct ldap_conn *c)
{
	time_t	now = lconn_now();
	size_t	i;

	for (i = 0; i < c->lc.nservers; i++)
		if (c->servers[i].next_try <= now)
			return (int)i;
	return -1;
}

static void
lconn_phase_timer(struct ldap_conn *c)
{
	struct timeval tv = { c->lc.timeout, 0 };

	evtimer_add(c->ev_phase, &tv);
}

static void
lconn_phase_timeout(int fd, short ev, void *arg)
{
	struct ldap_conn *c = arg;

	lconn_server_failed(c, "%s timed out after %us",
	    c->state == LCONN_CONNECTING ? "connect" :
	    c->state == LCONN_STARTTLS ? "StartTLS" : "bind", c->lc.timeout);
}

/* libldap's last error on ld, with its diagnostic message. */
static void
lconn_ld_error(struct ldap_conn *c, int rc, char *buf, size_t bufsz)
{
	char *diag = NULL;

	if (c->ld != NULL)
		ldap_get_option(c->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	snprintf(buf, bufsz, "%s%s%s", ldap_err2string(rc),
	    diag && *diag ? ": " : "", diag ? diag : "");
	ldap_memfree(diag);
}

static void	lconn_io(int, short, void *);

static void
lconn_watch_read(struct ldap_conn *c)
{
	if (c->ev_io != NULL)
		event_free(c->ev_io);
	if ((c->ev_io = event_new(c->base, c->fd, EV_READ | EV_PERSIST,
	    lconn_io, c)) == NULL || event_add(c->ev_io, NULL) == -1)
		fatalx("ldap: event");
}

static void
lconn_bind(struct ldap_conn *c)
{
	struct berval	cred;
	int		rc;
	char		why[512];

	if (c->lc.bind_dn[0] == '\0') {
		c->state = LCONN_UP;		/* anonymous */
		evtimer_del(c->ev_phase);
		c->servers[c->cur].delay = c->lc.reconnect_delay;
		log_info("table %s: connected to %s", c->label,
		    c->lc.servers[c->cur].url);
		lconn_send_waiting(c);
		return;
	}
	cred.bv_val = c->lc.bind_pw;
	cred.bv_len = strlen(c->lc.bind_pw);
	rc = ldap_sasl_bind(c->ld, c->lc.bind_dn, LDAP_SASL_SIMPLE, &cred,
	    NULL, NULL, &c->op_msgid);
	if (c->check_cb != NULL)	/* sent once, never needed again */
		explicit_bzero(c->lc.bind_pw, sizeof(c->lc.bind_pw));
	if (rc != LDAP_SUCCESS) {
		lconn_ld_error(c, rc, why, sizeof(why));
		lconn_server_failed(c, "bind: %s", why);
		return;
	}
	c->state = LCONN_BINDING;
}

static void
lconn_tls(struct ldap_conn *c)
{
	char	why[512];
	int	rc;

	if ((rc = ldap_install_tls(c->ld)) != LDAP_SUCCESS) {
		lconn_ld_error(c, rc, why, sizeof(why));
		lconn_server_failed(c, "TLS: %s", why);
		return;
	}
	lconn_bind(c);
}

/* TCP is up: hand the socket to libldap, then TLS and bind. */
static void
lconn_established(struct ldap_conn *c)
{
	const struct ldap_conf_server	*srv = &c->lc.servers[c->cur];
	struct timeval			 tv = { c->lc.timeout, 0 };
	int				 v3 = LDAP_VERSION3, rc, fd;
	char				 url[LDAP_CONF_URL_MAX + 16];

	snprintf(url, sizeof(url), "%s://%s:%s", srv->ldaps ? "ldaps" :
	    "ldap", srv->host, srv->port);
	if (strchr(srv->host, ':') != NULL)
		snprintf(url, sizeof(url), "%s://[%s]:%s", srv->ldaps ?
		    "ldaps" : "ldap", srv->host, srv->port);
	if ((rc = ldap_init_fd(c->fd, LDAP_PROTO_TCP, url, &c->ld)) !=
	    LDAP_SUCCESS) {
		lconn_server_failed(c, "%s", ldap_err2string(rc));
		return;
	}
	ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(c->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	if (c->tls_ctx != NULL)
		ldap_set_option(c->ld, LDAP_OPT_X_TLS_CTX, c->tls_ctx);
	if (ldap_get_option(c->ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS ||
	    fd != c->fd) {
		lconn_server_failed(c, "libldap does not use our socket");
		return;
	}
	lconn_watch_read(c);
	if (srv->ldaps) {
		lconn_tls(c);
		return;
	}
	if (c->lc.start_tls) {
		rc = ldap_start_tls(c->ld, NULL, NULL, &c->op_msgid);
		if (rc != LDAP_SUCCESS) {
			lconn_server_failed(c, "StartTLS: %s",
			    ldap_err2string(rc));
			return;
		}
		c->state = LCONN_STARTTLS;
		return;
	}
	lconn_bind(c);
}

static void
lconn_connected(int fd, short ev, void *arg)
{
	struct ldap_conn	*c = arg;
	int			 err = 0;
	socklen_t		 len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		lconn_server_failed(c, "connect: %s", strerror(err));
		return;
	}
	lconn_established(c);
}

/* Start connecting to the first server that may be tried. */
static void
lconn_connect(struct ldap_conn *c)
{
	struct lconn_server	*sv;
	int			 i;

	if (c->state != LCONN_DOWN)
		return;
	if ((i = lconn_pick(c)) == -1) {
		lconn_fail_list(&c->waiting, "no directory server may be "
		    "tried now (all failed recently)");
		return;
	}
	c->cur = i;
	sv = &c->servers[i];
	c->state = LCONN_CONNECTING;
	lconn_phase_timer(c);
	if ((c->fd = socket(sv->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		lconn_server_failed(c, "socket: %s", strerror(errno));
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&sv->ss, sv->sslen) == -1 &&
	    errno != EINPROGRESS) {
		lconn_server_failed(c, "connect: %s", strerror(errno));
		return;
	}
	if ((c->ev_io = event_new(c->base, c->fd, EV_WRITE, lconn_connected,
	    c)) == NULL || event_add(c->ev_io, NULL) == -1)
		fatalx("ldap: event");
}

static void
lconn_kick(int fd, short ev, void *arg)
{
	struct ldap_conn *c = arg;

	if (c->state == LCONN_DOWN)
		lconn_connect(c);
	else if (c->state == LCONN_UP)
		lconn_send_waiting(c);
}

/* ---- sending and reading ---- */

static void
lconn_search_timeout(int fd, short ev, void *arg)
{
	struct lconn_search	*s = arg;
	struct ldap_conn	*c = s->c;

	if (s->msgid == -1) {		/* never sent: the connect is slow */
		TAILQ_REMOVE(&c->waiting, s, entry);
		lconn_search_finish(s, LDAP_CONN_ERROR, "no connection to "
		    "the directory within the timeout");
		return;
	}
	TAILQ_REMOVE(&c->sent, s, entry);
	lconn_search_finish(s, LDAP_CONN_ERROR, "search timed out");
	/* a server that does not answer in time is taken as failed */
	lconn_server_failed(c, "search timed out after %us", c->lc.timeout);
}

static void
lconn_send_waiting(struct ldap_conn *c)
{
	struct lconn_search	*s;
	struct timeval		 tv = { c->lc.timeout, 0 };
	static const int	 scopes[] = { LDAP_SCOPE_SUBTREE,
	    LDAP_SCOPE_ONELEVEL, LDAP_SCOPE_BASE };
	int			 rc;
	char			 why[512];

	while (c->state == LCONN_UP && (s = TAILQ_FIRST(&c->waiting)) != NULL) {
		rc = ldap_search_ext(c->ld, s->base, scopes[s->scope],
		    s->filter, s->attrs, 0, NULL, NULL, &tv,
		    c->lc.size_limit, &s->msgid);
		TAILQ_REMOVE(&c->waiting, s, entry);
		s->tries++;
		if (rc != LDAP_SUCCESS) {
			s->msgid = -1;
			TAILQ_INSERT_HEAD(&c->waiting, s, entry);
			lconn_ld_error(c, rc, why, sizeof(why));
			lconn_server_failed(c, "search: %s", why);
			return;
		}
		TAILQ_INSERT_TAIL(&c->sent, s, entry);
	}
}

static struct lconn_search *
lconn_find_sent(struct ldap_conn *c, int msgid)
{
	struct lconn_search *s;

	TAILQ_FOREACH(s, &c->sent, entry)
		if (s->msgid == msgid)
			return s;
	return NULL;
}

/* The end of a search: its result code. */
static void
lconn_search_result(struct ldap_conn *c, struct lconn_search *s,
    LDAPMessage *msg)
{
	int	 err = LDAP_OTHER;
	char	*diag = NULL, why[768];

	TAILQ_REMOVE(&c->sent, s, entry);
	if (ldap_parse_result(c->ld, msg, &err, NULL, &diag, NULL, NULL, 0) !=
	    LDAP_SUCCESS)
		err = LDAP_OTHER;
	snprintf(why, sizeof(why), "%s: search %s: %s%s%s",
	    c->lc.servers[c->cur].url, s->base, ldap_err2string(err),
	    diag && *diag ? ": " : "", diag ? diag : "");
	if (err == LDAP_SUCCESS)
		lconn_search_finish(s, LDAP_CONN_OK, NULL);
	else if (err == LDAP_NO_SUCH_OBJECT)
		lconn_search_finish(s, LDAP_CONN_NOSUCHOBJECT, why);
	else {
		/* the server answers, but not this: its fault or the
		 * config's (size limit, filter), said once per search */
		log_warnx("table %s: ldap server %s", c->label, why);
		lconn_search_finish(s, LDAP_CONN_ERROR, why);
	}
	ldap_memfree(diag);
}

/* The answer to StartTLS or the bind. */
static void
lconn_op_result(struct ldap_conn *c, LDAPMessage *msg)
{
	int	 err = LDAP_OTHER;
	char	*diag = NULL, why[512];

	if (ldap_parse_result(c->ld, msg, &err, NULL, &diag, NULL, NULL, 0) !=
	    LDAP_SUCCESS)
		err = LDAP_OTHER;
	snprintf(why, sizeof(why), "%s%s%s", ldap_err2string(err),
	    diag && *diag ? ": " : "", diag ? diag : "");
	ldap_memfree(diag);
	if (c->state == LCONN_STARTTLS) {
		if (err != LDAP_SUCCESS)
			lconn_server_failed(c, "StartTLS: %s", why);
		else
			lconn_tls(c);
		return;
	}
	if (c->check_cb != NULL) {
		lconn_check_bound(c, err, why);
		return;
	}
	if (err != LDAP_SUCCESS) {
		lconn_server_failed(c, "bind as %s: %s", c->lc.bind_dn, why);
		return;
	}
	c->state = LCONN_UP;
	evtimer_del(c->ev_phase);
	c->servers[c->cur].delay = c->lc.reconnect_delay;
	log_info("table %s: connected to %s as %s", c->label,
	    c->lc.servers[c->cur].url, c->lc.bind_dn);
	lconn_send_waiting(c);
}

static void
lconn_dispatch(struct ldap_conn *c, LDAPMessage *msg)
{
	struct lconn_search	*s;
	int			 id = ldap_msgid(msg);

	if (c->state == LCONN_STARTTLS || c->state == LCONN_BINDING) {
		if (id == c->op_msgid)
			lconn_op_result(c, msg);
		return;
	}
	if ((s = lconn_find_sent(c, id)) == NULL)
		return;			/* a search that timed out */
	switch (ldap_msgtype(msg)) {
	case LDAP_RES_SEARCH_ENTRY:
		s->cb_entry(s->arg, c->ld, msg);
		break;
	case LDAP_RES_SEARCH_RESULT:
		lconn_search_result(c, s, msg);
		break;
	default:
		break;			/* references: not followed */
	}
}

/* Readable: take every complete message libldap has. */
static void
lconn_io(int fd, short ev, void *arg)
{
	struct ldap_conn	*c = arg;
	struct timeval		 zero = { 0, 0 };
	LDAPMessage		*msg;
	unsigned		 gen = c->gen;
	int			 rc, err = LDAP_SERVER_DOWN;
	char			 why[512];

	while (c->gen == gen && c->ld != NULL) {
		msg = NULL;
		rc = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero,
		    &msg);
		if (rc == 0)
			return;
		if (rc == -1) {
			ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE, &err);
			lconn_ld_error(c, err, why, sizeof(why));
			if (c->state == LCONN_UP) {
				log_warnx("table %s: ldap server %s: "
				    "connection lost: %s", c->label,
				    c->lc.servers[c->cur].url, why);
				lconn_close(c);
				lconn_requeue_sent(c, why);
				if (!TAILQ_EMPTY(&c->waiting))
					lconn_connect(c);
			} else
				lconn_server_failed(c, "%s", why);
			return;
		}
		lconn_dispatch(c, msg);
		ldap_msgfree(msg);
	}
}

/* ---- the interface ---- */

int
ldap_conn_search(struct ldap_conn *c, const char *base,
    enum ldap_conf_scope scope, const char *filter, const char *const *attrs,
    ldap_conn_entry_cb cb_entry, ldap_conn_done_cb cb_done, void *arg,
    char *why, size_t whysz)
{
	struct lconn_search	*s;
	struct timeval		 tv = { c->lc.timeout, 0 };
	size_t			 i;

	if (c->state == LCONN_DOWN && lconn_pick(c) == -1) {
		snprintf(why, whysz, "%s: no directory server may be tried "
		    "now (all failed recently)", c->lc.servers[c->cur].url);
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("ldap search");
	s->c = c;
	s->msgid = -1;
	s->scope = scope;
	s->cb_entry = cb_entry;
	s->cb_done = cb_done;
	s->arg = arg;
	if ((s->base = strdup(base)) == NULL ||
	    (s->filter = strdup(filter)) == NULL)
		fatal("ldap search");
	for (i = 0; attrs[i] != NULL && i < LDAP_CONN_ATTRS_MAX; i++)
		if ((s->attrs[i] = strdup(attrs[i])) == NULL)
			fatal("ldap search");
	if ((s->timer = evtimer_new(c->base, lconn_search_timeout, s)) ==
	    NULL || evtimer_add(s->timer, &tv) == -1)
		fatalx("ldap: timer");
	TAILQ_INSERT_TAIL(&c->waiting, s, entry);
	event_active(c->ev_kick, EV_TIMEOUT, 0);
	return 0;
}

const char *
ldap_conn_server(const struct ldap_conn *c)
{
	return c->lc.servers[c->cur].url;
}

/* Resolve every server now: the sandbox has no resolver. */
static int
lconn_resolve(struct ldap_conn *c, char *err, size_t errsz)
{
	struct addrinfo	 hints, *res;
	size_t		 i;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	for (i = 0; i < c->lc.nservers; i++) {
		rc = getaddrinfo(c->lc.servers[i].host, c->lc.servers[i].port,
		    &hints, &res);
		if (rc != 0) {
			snprintf(err, errsz, "%s: server %s: %s", c->lc.path,
			    c->lc.servers[i].url, gai_strerror(rc));
			return -1;
		}
		memcpy(&c->servers[i].ss, res->ai_addr, res->ai_addrlen);
		c->servers[i].sslen = res->ai_addrlen;
		c->servers[i].delay = c->lc.reconnect_delay;
		freeaddrinfo(res);
	}
	return 0;
}

/* Initialise libldap and build the TLS context now, while the CA file
 * can be read. */
static int
lconn_tls_ctx(struct ldap_conn *c, char *err, size_t errsz)
{
	LDAP	*ld;
	int	 demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc, tls = 0;
	size_t	 i;

	for (i = 0; i < c->lc.nservers; i++)
		if (c->lc.servers[i].ldaps || c->lc.start_tls)
			tls = 1;
	/*
	 * The first handle initialises libldap, which resolves our own
	 * host name: do it now, not in the sandbox.  LDAPNOINIT: our file
	 * is the only configuration, not /etc/ldap/ldap.conf or ~/.ldaprc.
	 */
	setenv("LDAPNOINIT", "1", 1);
	if ((rc = ldap_initialize(&ld, NULL)) != LDAP_SUCCESS) {
		snprintf(err, errsz, "%s: %s", c->lc.path,
		    ldap_err2string(rc));
		return -1;
	}
	if (!tls) {
		ldap_unbind_ext(ld, NULL, NULL);
		return 0;
	}
	ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
	if (c->lc.ca_file[0] != '\0')
		ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, c->lc.ca_file);
	rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	if (rc == LDAP_OPT_SUCCESS)
		rc = ldap_get_option(ld, LDAP_OPT_X_TLS_CTX, &c->tls_ctx);
	ldap_unbind_ext(ld, NULL, NULL);
	if (rc != LDAP_OPT_SUCCESS || c->tls_ctx == NULL) {
		snprintf(err, errsz, "%s: cannot set up TLS with CA file "
		    "\"%s\"", c->lc.path, c->lc.ca_file);
		return -1;
	}
	return 0;
}

struct ldap_conn *
ldap_conn_new(const struct ldap_conf *lc, const char *label,
    struct event_base *base, char *err, size_t errsz)
{
	struct ldap_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	c->lc = *lc;
	strlcpy(c->label, label, sizeof(c->label));
	c->base = base;
	c->fd = -1;
	TAILQ_INIT(&c->waiting);
	TAILQ_INIT(&c->sent);
	if (lconn_resolve(c, err, errsz) == -1 ||
	    lconn_tls_ctx(c, err, errsz) == -1) {
		ldap_conn_free(c);
		return NULL;
	}
	if ((c->ev_phase = evtimer_new(base, lconn_phase_timeout, c)) ==
	    NULL || (c->ev_kick = event_new(base, -1, 0, lconn_kick, c)) ==
	    NULL) {
		snprintf(err, errsz, "out of memory");
		ldap_conn_free(c);
		return NULL;
	}
	return c;
}

void
ldap_conn_free(struct ldap_conn *c)
{
	struct lconn_search *s;

	if (c == NULL)
		return;
	if (c->ev_phase != NULL)
		lconn_close(c);
	while ((s = TAILQ_FIRST(&c->waiting)) != NULL) {
		TAILQ_REMOVE(&c->waiting, s, entry);
		lconn_search_free(s);
	}
	while ((s = TAILQ_FIRST(&c->sent)) != NULL) {
		TAILQ_REMOVE(&c->sent, s, entry);
		lconn_search_free(s);
	}
	if (c->ev_phase != NULL)
		event_free(c->ev_phase);
	if (c->ev_kick != NULL)
		event_free(c->ev_kick);
	if (c->check_ev != NULL)
		event_free(c->check_ev);
	/* the TLS context is libldap's, shared by reference; it stays */
	explicit_bzero(c->lc.bind_pw, sizeof(c->lc.bind_pw));
	explicit_bzero(c, sizeof(*c));
	free(c);
}

/* ---- bind checks (ldap_conn_bind_check) ----
 *
 * A check is a struct ldap_conn of its own with check_cb set, made from
 * the service connection: only the server that one uses, bind_dn and
 * bind_pw the user's.  It runs the same states (connect, StartTLS or
 * ldaps, bind) under the same timer (the table's timeout, from connect
 * to the bind's answer); the hooks above end it instead of backing off
 * or retrying, and the bind's answer ends it too.  The answer is
 * delivered from a zero-timeout event, then the check freed.
 */

static void
lconn_check_deliver(int fd, short ev, void *arg)
{
	struct ldap_conn *c = arg;

	c->check_cb(c->check_arg, c->check_status, c->check_why);
	ldap_conn_free(c);
}

static void
lconn_check_end(struct ldap_conn *c, int status, const char *why)
{
	struct timeval tv = { 0, 0 };

	if (c->check_status != -2)
		return;			/* answered already */
	c->check_status = status;
	strlcpy(c->check_why, why, sizeof(c->check_why));
	explicit_bzero(c->lc.bind_pw, sizeof(c->lc.bind_pw));
	lconn_close(c);
	if (evtimer_add(c->check_ev, &tv) == -1)
		fatalx("ldap: timer");
}

/* The answer to the user's bind: the only answer a check waits for. */
static void
lconn_check_bound(struct ldap_conn *c, int err, const char *why)
{
	char line[1400];

	snprintf(line, sizeof(line), "%s: bind as %s: %s",
	    c->lc.servers[c->cur].url, c->lc.bind_dn, why);
	if (err == LDAP_SUCCESS)
		lconn_check_end(c, LDAP_CONN_BIND_OK, "");
	else if (err == LDAP_INVALID_CREDENTIALS)
		lconn_check_end(c, LDAP_CONN_BIND_INVALID, line);
	else
		lconn_check_end(c, LDAP_CONN_ERROR, line);
}

int
ldap_conn_bind_check(struct ldap_conn *svc, const char *dn,
    const char *password, ldap_conn_bind_cb cb, void *arg, char *why,
    size_t whysz)
{
	struct ldap_conn	*c;

	if (dn[0] == '\0' || password[0] == '\0') {
		snprintf(why, whysz, "empty %s: not a bind that checks "
		    "anything", dn[0] == '\0' ? "DN" : "password");
		return -1;
	}
	if (strlen(dn) >= sizeof(svc->lc.bind_dn) ||
	    strlen(password) >= sizeof(svc->lc.bind_pw)) {
		snprintf(why, whysz, "DN or password too long");
		return -1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("ldap bind check");
	c->lc = svc->lc;
	explicit_bzero(c->lc.bind_pw, sizeof(c->lc.bind_pw));
	strlcpy(c->lc.bind_dn, dn, sizeof(c->lc.bind_dn));
	strlcpy(c->lc.bind_pw, password, sizeof(c->lc.bind_pw));
	c->lc.servers[0] = svc->lc.servers[svc->cur];
	c->lc.nservers = 1;
	c->servers[0] = svc->servers[svc->cur];
	c->servers[0].next_try = 0;
	strlcpy(c->label, svc->label, sizeof(c->label));
	c->base = svc->base;
	c->fd = -1;
	c->tls_ctx = svc->tls_ctx;
	c->check_cb = cb;
	c->check_arg = arg;
	c->check_status = -2;
	TAILQ_INIT(&c->waiting);
	TAILQ_INIT(&c->sent);
	if ((c->ev_phase = evtimer_new(c->base, lconn_phase_timeout, c)) ==
	    NULL || (c->check_ev = evtimer_new(c->base, lconn_check_deliver,
	    c)) == NULL)
		fatalx("ldap: timer");
	/* connect from the loop, so the answer never comes from this call
	 * (the kick event's lconn_kick connects a DOWN connection) */
	if ((c->ev_kick = event_new(c->base, -1, 0, lconn_kick, c)) == NULL)
		fatalx("ldap: event");
	event_active(c->ev_kick, EV_TIMEOUT, 0);
	return 0;
}

void
ldap_entry_values(LDAP *ld, LDAPMessage *entry, const char *attr,
    void (*fn)(const char *, void *), void *arg)
{
	struct berval	**vals;
	char		  buf[LDAP_VALUE_MAX];
	size_t		  i;

	if ((vals = ldap_get_values_len(ld, entry, attr)) == NULL)
		return;
	for (i = 0; vals[i] != NULL; i++) {
		if (vals[i]->bv_len == 0 || vals[i]->bv_len >= sizeof(buf) ||
		    memchr(vals[i]->bv_val, '\0', vals[i]->bv_len) != NULL)
			continue;
		memcpy(buf, vals[i]->bv_val, vals[i]->bv_len);
		buf[vals[i]->bv_len] = '\0';
		fn(buf, arg);
	}
	ldap_value_free_len(vals);
}

int
ldap_entry_disabled(LDAP *ld, LDAPMessage *entry)
{
	struct berval	**vals;
	char		  buf[32];
	int		  off = 0;

	if ((vals = ldap_get_values_len(ld, entry,
	    "userAccountControl")) == NULL)
		return 0;
	if (vals[0] != NULL && vals[0]->bv_len < sizeof(buf)) {
		memcpy(buf, vals[0]->bv_val, vals[0]->bv_len);
		buf[vals[0]->bv_len] = '\0';
		off = (strtoul(buf, NULL, 10) & 2) != 0;
	}
	ldap_value_free_len(vals);
	return off;
}
