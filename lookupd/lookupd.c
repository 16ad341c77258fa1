/*
 * lookupd: answers smtpd's recipient questions from the tables of the
 * config (domains, recipients, aliases, transports, networks).  It never
 * touches the queue or the network.  Promises: stdio rpath unix, no
 * chroot, Landlock limited to the directories of its table files.
 *
 * Guarantees:
 * - tables are loaded whole when a config is applied, as root on first
 *   start; a table that does not load fails the config ("file:line:
 *   why"): fatal on first start, and on reload the old tables stay;
 * - the new snapshot replaces the old one in one pointer swap, between
 *   two messages: no RCPT is answered from half-loaded tables;
 * - file: and cdb: tables are watched (one stat(2) each every
 *   LOOKUPD_WATCH_SECS): when one changes on disk, that table alone is
 *   reopened from the live config, checked for each rule that uses it as
 *   lka_load() would, and swapped in place of the old one (one pointer
 *   per use, between two messages) only if it loads; otherwise the old
 *   one stays and the error is logged once per change.  A file is stamped before it is read, so a change racing
 *   the load is seen again at the next tick, never lost;
 * - every IMSG_LKA_RCPT gets exactly one IMSG_LKA_RCPT_RESULT with its
 *   peer id and reqid, every IMSG_LKA_ROUTE from queued one
 *   IMSG_LKA_ROUTE_RESULT; a malformed request is fatal to the link;
 * - every IMSG_LKA_AUTH gets exactly one IMSG_LKA_AUTH_RESULT (lka_auth.c
 *   checks the password; against an ldap table the answer comes later,
 *   and other requests are answered meanwhile); the password is wiped
 *   once checked and never logged;
 * - a decision that waits for a directory (ldap tables, see table.h) is
 *   kept, not answered, and run again from the start when the answers it
 *   waits for are in; never more than LOOKUPD_ROUNDS_MAX times (then
 *   451), and forgotten if smtpd goes away meanwhile.  Other requests are
 *   answered in the meantime.
 *
 * With an ldap table the promises add connect (TCP client sockets for
 * the directory servers; no UDP: their names are resolved, the CA file
 * and the password read at first configure, before the sandbox).
 */
#include <sys/queue.h>

#include <event2/event.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "imsg.h"
#include "lka.h"
#include "log.h"
#include "lookupd_ctl.h"
#include "mbuf.h"
#include "sandbox.h"
#include "worker.h"

#define LOOKUPD_CLIENT_MAX	128	/* numeric IPv4/IPv6 address */
#define LOOKUPD_WATCH_SECS	2
#define LOOKUPD_ROUTE_ADDR_MAX	1024	/* ENVELOPE_ADDR_MAX of queued */
#define LOOKUPD_ROUNDS_MAX	32	/* reruns of one waiting decision */

/* A recipient request waiting for its decision (ldap tables). */
struct lookupd_req {
	TAILQ_ENTRY(lookupd_req) entry;
	struct table_waiter	 w;		/* first: see lookupd_wake */
	uint32_t		 peerid;
	uint32_t		 link;		/* smtpd instance it came from */
	uint64_t		 reqid;
	char			 client[LOOKUPD_CLIENT_MAX];
	char			 sender[LKA_ADDR_MAX];
	char			 rcpt[LKA_ADDR_MAX];
	char			 authuser[LKA_AUTH_USER_MAX];
	int			 rounds;
	int			 cancelled;	/* smtpd went away */
};

static TAILQ_HEAD(, lookupd_req) lookupd_waiting =
    TAILQ_HEAD_INITIALIZER(lookupd_waiting);

/* A table file of the live snapshot, as it was when it was read. */
struct lookupd_watch {
	char			 name[CONF_NAME_MAX];
	char			 path[PATH_MAX];
	struct table_stamp	 loaded;
	struct table_stamp	 failed;	/* a change refused, logged */
	int			 has_failed;
};

static struct lka_tables	*lookupd_tables;
static struct lookupd_watch	*lookupd_watches;
static size_t			 lookupd_nwatches;
static struct event		*lookupd_watch_ev;

/* Stamp every file of conf, before its tables are read. */
static struct lookupd_watch *
lookupd_watch_new(const struct mxgate_conf *conf, size_t *np)
{
	const struct table_conf	*tc;
	struct lookupd_watch	*w;
	size_t			 n = 0;

	TAILQ_FOREACH(tc, &conf->tables, entry)
		n++;
	if ((w = calloc(n ? n : 1, sizeof(*w))) == NULL)
		return NULL;
	n = 0;
	TAILQ_FOREACH(tc, &conf->tables, entry) {
		if (tc->type != TABLE_FILE && tc->type != TABLE_CDB)
			continue;
		strlcpy(w[n].name, tc->name, sizeof(w[n].name));
		strlcpy(w[n].path, tc->path, sizeof(w[n].path));
		table_stamp(w[n].path, &w[n].loaded);
		n++;
	}
	*np = n;
	return w;
}

/* Load conf into a new snapshot and swap it in; -1 with err. */
static int
lookupd_load(const struct mxgate_conf *conf, char *err, size_t errsz)
{
	struct lka_tables	*lt;
	struct lookupd_watch	*w;
	size_t			 n;

	if ((w = lookupd_watch_new(conf, &n)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if ((lt = lka_load(conf, err, errsz)) == NULL) {
		free(w);
		return -1;
	}
	lka_stats_carry(lt, lookupd_tables);
	lka_free(lookupd_tables);
	lookupd_tables = lt;
	free(lookupd_watches);
	lookupd_watches = w;
	lookupd_nwatches = n;
	return 0;
}

/* Changed since read, and not a change already refused and logged. */
static int
lookupd_watch_changed(const struct lookupd_watch *w,
    const struct table_stamp *now)
{
	return !table_stamp_eq(now, &w->loaded) &&
	    !(w->has_failed && table_stamp_eq(now, &w->failed));
}

/*
 * The timer: a table file changed since it was read is reopened alone and
 * swapped in place of the old table (lka_reload_table); the other tables,
 * and lookups, are not held up by it.
 */
static void
lookupd_watch(int fd, short ev, void *arg)
{
	const struct mxgate_conf *conf = worker_conf();
	const struct table_conf	*tc;
	struct lookupd_watch	*w;
	struct table_stamp	 now;
	struct table		*t;
	char			 err[1024];
	size_t			 i;

	if (conf == NULL || lookupd_tables == NULL)
		return;
	for (i = 0; i < lookupd_nwatches; i++) {
		w = &lookupd_watches[i];
		table_stamp(w->path, &now);
		if (!lookupd_watch_changed(w, &now))
			continue;
		if ((tc = conf_table(conf, w->name)) == NULL) {
			snprintf(err, sizeof(err), "not in the config");
			goto fail;
		}
		if (lka_reload_table(lookupd_tables, tc, err,
		    sizeof(err)) == -1)
			goto fail;
		w->loaded = now;
		w->has_failed = 0;
		if ((t = lka_table_named(lookupd_tables, w->name)) != NULL)
			log_info("table %s: reloaded %zu entries from %s",
			    t->name, t->nentries, t->path);
		continue;
fail:
		w->failed = now;
		w->has_failed = 1;
		log_warnx("table %s: %s changed on disk but does not load, "
		    "keeping the old tables: %s", w->name, w->path, err);
	}
}

static int
lookupd_configure(struct mxgate_conf *conf, int first)
{
	char err[1024];

	table_ldap_init(worker_base());
	table_cdb_init(worker_base());
	if (lookupd_load(conf, err, sizeof(err)) == -1) {
		log_warnx("%s", err);	/* worker.c says what happens next */
		return -1;
	}
	if (!first)
		log_info("reload: %zu tables loaded",
		    lka_ntables(lookupd_tables));
	if (lookupd_watch_ev == NULL) {
		struct timeval tv = { LOOKUPD_WATCH_SECS, 0 };

		if ((lookupd_watch_ev = event_new(worker_base(), -1,
		    EV_PERSIST, lookupd_watch, NULL)) == NULL ||
		    event_add(lookupd_watch_ev, &tv) == -1)
			fatalx("table watch timer");
	}
	return 0;
}

static void
lookupd_sandbox(const struct mxgate_conf *conf)
{
	const struct table_conf	 *tc;
	const char		**paths;
	size_t			  n = 0;

	TAILQ_FOREACH(tc, &conf->tables, entry)
		n++;
	if ((paths = calloc(n + 1, sizeof(*paths))) == NULL)
		fatal("sandbox paths");
	n = 0;
	TAILQ_FOREACH(tc, &conf->tables, entry)
		if (tc->type == TABLE_FILE || tc->type == TABLE_CDB)
			paths[n++] = tc->path;
	paths[n] = NULL;
	table_ldap_lock();
	sandbox_enter("lookupd", NULL, conf->user, paths,
	    PROMISE_STDIO | PROMISE_RPATH | PROMISE_UNIX |
	    (table_ldap_count() > 0 ? PROMISE_CONNECT : 0));
	free(paths);
}

/* Encode res; -1 if it cannot be built or does not fit in one frame. */
static int
lookupd_encode(struct mbuf *m, uint64_t reqid, const struct lka_result *res)
{
	size_t i;

	mbuf_init(m);
	mbuf_add_u64(m, reqid);
	mbuf_add_u32(m, res->status);
	mbuf_add_str(m, res->text);
	mbuf_add_u32(m, (uint32_t)res->nrcpts);
	for (i = 0; i < res->nrcpts; i++) {
		mbuf_add_str(m, res->rcpts[i].addr);
		mbuf_add_str(m, res->rcpts[i].relay);
	}
	if (m->err || m->len > IMSG_MAX_SIZE - IMSG_HDR_SIZE) {
		mbuf_free(m);
		return -1;
	}
	return 0;
}

static void
lookupd_reply(struct imsgev *iev, uint32_t peerid, uint64_t reqid,
    const char *rcpt, struct lka_result *res)
{
	struct mbuf m;

	if (lookupd_encode(&m, reqid, res) == -1) {
		log_warnx("<%s>: %zu recipients do not fit in one reply",
		    rcpt, res->nrcpts);
		lka_result_set(res, LKA_TEMPFAIL, "Temporary lookup failure");
		if (lookupd_encode(&m, reqid, res) == -1)
			fatalx("cannot encode a reply");
	}
	if (imsgev_compose_mbuf(iev, IMSG_LKA_RCPT_RESULT, peerid, -1,
	    &m) == -1)
		fatal("reply to smtpd");
}

static int	lookupd_decide(struct lookupd_req *);

/* Every query a waiting decision needed has its answer: run it again. */
static void
lookupd_wake(struct table_waiter *w)
{
	struct lookupd_req *req = (struct lookupd_req *)((char *)w -
	    offsetof(struct lookupd_req, w));

	TAILQ_REMOVE(&lookupd_waiting, req, entry);
	if (req->cancelled) {
		free(req);
		return;
	}
	if (lookupd_decide(req) == -1) {
		/* the same input was accepted before: cannot happen */
		log_warnx("%016llx: to=<%s>: malformed on a rerun",
		    (unsigned long long)req->reqid, req->rcpt);
		free(req);
	}
}

/*
 * Decide req and answer it, or keep it while a directory is asked.
 * -1 (nothing answered, req not freed) when the input is malformed.
 */
static int
lookupd_decide(struct lookupd_req *req)
{
	struct lka_result	 res;
	struct imsgev		*iev;
	int			 rc = 0;

	lka_result_init(&res);
	req->w.pending = 0;
	if (lookupd_tables == NULL)
		lka_result_set(&res, LKA_TEMPFAIL, "Temporary lookup failure");
	else {
		table_waiter_set(&req->w);
		rc = lka_decide_auth(lookupd_tables, req->client,
		    req->sender, req->rcpt, req->authuser, &res);
		table_waiter_set(NULL);
	}
	if (rc == -1) {
		lka_result_free(&res);
		return -1;
	}
	if (req->w.pending > 0 && ++req->rounds <= LOOKUPD_ROUNDS_MAX) {
		TAILQ_INSERT_TAIL(&lookupd_waiting, req, entry);
		lka_result_free(&res);
		return 0;
	}
	if (req->w.pending > 0) {
		log_warnx("%016llx: to=<%s>: still waiting for the directory "
		    "after %d rounds", (unsigned long long)req->reqid,
		    req->rcpt, LOOKUPD_ROUNDS_MAX);
		lka_result_set(&res, LKA_TEMPFAIL, "Temporary lookup failure");
		/* the queries it waits on still hold it: they free it */
		req->cancelled = 1;
		TAILQ_INSERT_TAIL(&lookupd_waiting, req, entry);
	}
	log_debug("%016llx: client=%s from=<%s> to=<%s>: status %d, %zu "
	    "recipients", (unsigned long long)req->reqid, req->client,
	    req->sender, req->rcpt, (int)res.status, res.nrcpts);
	if ((iev = worker_peer_instance(PROC_SMTPD, req->link)) != NULL)
		lookupd_reply(iev, req->peerid, req->reqid, req->rcpt, &res);
	lka_result_free(&res);
	if (!req->cancelled)
		free(req);
	return 0;
}

static void
lookupd_rcpt(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader		 r;
	struct lookupd_req	*req;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("recipient request");
	mreader_init(&r, imsg);
	req->reqid = mr_u64(&r);
	mr_str(&r, req->client, sizeof(req->client));
	mr_str(&r, req->sender, sizeof(req->sender));
	mr_str(&r, req->rcpt, sizeof(req->rcpt));
	mr_str(&r, req->authuser, sizeof(req->authuser));
	if (mr_end(&r) == -1 || imsg->fd != -1) {
		free(req);
		imsgev_fail(iev, "malformed recipient request");
		return;
	}
	req->peerid = imsg->hdr.peerid;
	req->link = worker_link_instance(iev);
	req->w.wake = lookupd_wake;
	if (lookupd_decide(req) == -1) {
		free(req);
		imsgev_fail(iev, "bad client address or recipient in request");
	}
}

/* Where an IMSG_LKA_AUTH_RESULT goes, once the check is done. */
struct lookupd_auth_req {
	uint32_t	 peerid;
	uint32_t	 link;		/* smtpd instance it came from */
	uint64_t	 reqid;
};

static void
lookupd_auth_done(void *arg, enum lka_auth_status status)
{
	struct lookupd_auth_req	*req = arg;
	struct imsgev		*iev;
	struct mbuf		 m;

	if ((iev = worker_peer_instance(PROC_SMTPD, req->link)) != NULL) {
		mbuf_init(&m);
		mbuf_add_u64(&m, req->reqid);
		mbuf_add_u32(&m, status);
		if (imsgev_compose_mbuf(iev, IMSG_LKA_AUTH_RESULT,
		    req->peerid, -1, &m) == -1)
			fatal("auth reply to smtpd");
	}			/* else smtpd restarted: nobody waits */
	free(req);
}

/* smtpd sends printable user names without spaces; they reach log lines. */
static int
lookupd_auth_user_ok(const char *user)
{
	for (; *user != '\0'; user++)
		if (*user < 0x21 || *user > 0x7e)
			return 0;
	return 1;
}

/* IMSG_LKA_AUTH: u64 reqid, str table, str username, str password */
static void
lookupd_auth(struct imsgev *iev, struct imsg *imsg)
{
	struct lookupd_auth_req	*req;
	struct mreader		 r;
	uint64_t		 reqid;
	char			 table[CONF_NAME_MAX];
	char			 user[LKA_AUTH_USER_MAX];
	char			 pass[LKA_AUTH_PASS_MAX];

	mreader_init(&r, imsg);
	reqid = mr_u64(&r);
	mr_str(&r, table, sizeof(table));
	mr_str(&r, user, sizeof(user));
	mr_str(&r, pass, sizeof(pass));
	if (mr_end(&r) == -1 || imsg->fd != -1 || user[0] == '\0' ||
	    !lookupd_auth_user_ok(user)) {
		explicit_bzero(pass, sizeof(pass));
		explicit_bzero(imsg->data, imsg->datalen);
		imsgev_fail(iev, "malformed auth request");
		return;
	}
	explicit_bzero(imsg->data, imsg->datalen);
	log_debug("%016llx: auth user %s against <%s>",
	    (unsigned long long)reqid, user, table);
	if ((req = malloc(sizeof(*req))) == NULL)
		fatal("auth request");
	req->peerid = imsg->hdr.peerid;
	req->link = worker_link_instance(iev);
	req->reqid = reqid;
	if (lookupd_tables == NULL)
		lookupd_auth_done(req, LKA_AUTH_TEMPFAIL);
	else
		lka_auth_start(lookupd_tables, table, user, pass,
		    lookupd_auth_done, req);
	explicit_bzero(pass, sizeof(pass));
}

static void
lookupd_smtpd_msg(struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_LKA_RCPT:
		lookupd_rcpt(iev, imsg);
		break;
	case IMSG_LKA_AUTH:
		lookupd_auth(iev, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message");
		break;
	}
}

/* queued: where does a DSN to this address go (lka_route_local). */
static void
lookupd_route(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader		r;
	struct lka_result	res;
	struct mbuf		m;
	uint64_t		reqid;
	char			rcpt[LOOKUPD_ROUTE_ADDR_MAX];
	const char		*answer;

	mreader_init(&r, imsg);
	reqid = mr_u64(&r);
	mr_str(&r, rcpt, sizeof(rcpt));
	if (mr_end(&r) == -1 || imsg->fd != -1) {
		imsgev_fail(iev, "malformed route request");
		return;
	}
	lka_result_init(&res);
	if (lookupd_tables == NULL)
		lka_result_set(&res, LKA_TEMPFAIL, "Temporary lookup failure");
	else if (lka_route_local(lookupd_tables, rcpt, &res) == -1)
		lka_result_set(&res, LKA_REJECT, "not a valid address");
	if (res.status == LKA_RELAY && res.nrcpts == 1)
		answer = res.rcpts[0].relay;
	else {
		if (res.status == LKA_RELAY)
			lka_result_set(&res, LKA_TEMPFAIL,
			    "Temporary lookup failure");
		answer = res.text;
	}
	log_debug("route %llu: to=<%s>: status %d, %s",
	    (unsigned long long)reqid, rcpt, (int)res.status, answer);
	mbuf_init(&m);
	mbuf_add_u64(&m, reqid);
	mbuf_add_u32(&m, res.status);
	mbuf_add_str(&m, answer);
	if (imsgev_compose_mbuf(iev, IMSG_LKA_ROUTE_RESULT, imsg->hdr.peerid,
	    -1, &m) == -1)
		fatal("route reply to queued");
	lka_result_free(&res);
}

static void
lookupd_queued_msg(struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_LKA_ROUTE:
		lookupd_route(iev, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message");
		break;
	}
}

/* smtpctl's requests, through the parent */
static struct lka_tables *
lookupd_snapshot(void)
{
	return lookupd_tables;
}

static void
lookupd_parent_msg(struct imsgev *iev, struct imsg *imsg)
{
	lookupd_ctl(iev, imsg, lookupd_snapshot);
}

static void
lookupd_peer_up(enum proc_id id, struct imsgev *iev)
{
	log_debug("%s connected", proc_name(id));
}

static void
lookupd_peer_down(enum proc_id id)
{
	log_debug("%s disconnected", proc_name(id));
}

/* An smtpd is gone: answers to its requests have nowhere to go. */
static void
lookupd_peer_instance_down(enum proc_id id, uint32_t link)
{
	struct lookupd_req *req;

	if (id != PROC_SMTPD)
		return;
	TAILQ_FOREACH(req, &lookupd_waiting, entry)
		if (req->link == link)
			req->cancelled = 1;
}

static const struct worker_ops lookupd_ops = {
	.id = PROC_LOOKUPD,
	.configure = lookupd_configure,
	.sandbox = lookupd_sandbox,
	.peer_up = lookupd_peer_up,
	.peer_down = lookupd_peer_down,
	.peer_instance_down = lookupd_peer_instance_down,
	.peer_handler = {
		[PROC_SMTPD] = lookupd_smtpd_msg,
		[PROC_QUEUED] = lookupd_queued_msg,
	},
	.parent_msg = lookupd_parent_msg,
};

int
main(int argc, char **argv)
{
	worker_main(argc, argv, &lookupd_ops);
}
