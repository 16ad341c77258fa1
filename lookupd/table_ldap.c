/*
 * ldap: tables: recipients (and aliases) looked up live in an LDAP
 * directory or Active Directory, asynchronously on lookupd's event loop.
 *
 * A lookup answers from the cache when it can.  Otherwise it starts a
 * query for the key (or joins the one in flight for the same key: one
 * query per key, however many RCPTs ask), attaches the decision that is
 * running (table_waiter_current()) and answers TABLE_FAIL; lookupd sees
 * the waiter pending and does not reply.  When the query ends its answer
 * goes into the cache and every waiting decision is run again from the
 * start, now hitting the cache.  lka.c stays synchronous.
 *
 * Active Directory (active_directory = yes): users are found by mail or
 * proxyAddresses (smtp:/SMTP:, matched case-insensitively by the
 * directory); an account with userAccountControl bit 2 (disabled) is
 * unknown; otherwise the value is its result attribute (mail), so used
 * as an aliases table a proxy address is rewritten to the primary one.
 * Groups under group_search_base are valid recipients whose value is
 * their members' addresses: member DNs read one by one (in parallel),
 * nested groups followed, each DN once (a loop ends there), disabled
 * members skipped, at most expansion_limit addresses.  Members' addresses
 * are cached as found, so expanding them as aliases costs no more
 * queries.
 *
 * Guarantees:
 * - a directory that cannot answer (down, timing out, refusing the bind,
 *   a search error) makes the lookup TABLE_FAIL, which is a 4xx, never a
 *   5xx; the connection code logs the server and the error once;
 * - found and not-found answers are cached for cache_ttl and
 *   negative_cache_ttl; with serve_stale a found answer is still used up
 *   to stale_ttl after it expired, but only while the directory cannot
 *   be asked;
 * - an ldap config (servers, password, CA file) is read once, at first
 *   start before the sandbox; reloads reuse it with its cache and
 *   connection, and a reload naming a new ldap config is refused.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <bsd/string.h>
#include <bsd/sys/tree.h>
#include <ldap.h>

#include "ldap_conf.h"
#include "ldap_conn.h"
#include "log.h"
#include "table.h"

#define TLDAP_VALUE_MAX		32768	/* a group's member list */
#define TLDAP_PURGE_SECS	60
#define TLDAP_FAIL_SECS		1	/* a failure, for the rerun */

enum tldap_status { TLDAP_FOUND, TLDAP_NOTFOUND, TLDAP_FAIL };

struct tldap_centry {
	RB_ENTRY(tldap_centry)	 node;
	char			*key;
	char			*value;		/* TLDAP_FOUND */
	enum tldap_status	 status;
	time_t			 expires;
	time_t			 stale_until;
};

struct tldap_strs {
	char			**v;
	size_t			  n, cap;
};

struct tldap_query;
RB_HEAD(tldap_cache, tldap_centry);
RB_HEAD(tldap_flight, tldap_query);

struct tldap_dir {
	LIST_ENTRY(tldap_dir)	 entry;
	char			 name[CONF_NAME_MAX];	/* first table */
	struct ldap_conf	 lc;
	struct ldap_conn	*conn;
	struct tldap_cache	 cache;
	size_t			 ncache;
	struct tldap_flight	 flight;
	int			 stale_logged;
	char			 note[160];	/* the last lookup, for smtpctl */
	struct table_stamp	 stamp;		/* the file when read */
};

enum tldap_phase { PH_USERS, PH_GROUPS, PH_MEMBERS };

struct tldap_query {
	RB_ENTRY(tldap_query)	 node;
	char			*key;
	struct tldap_dir	*d;
	enum tldap_phase	 phase;
	int			 outstanding;	/* searches not done */
	int			 failed;
	int			 disabled;
	int			 found;
	struct tldap_strs	 values;	/* result attribute values */
	struct tldap_strs	 queue;		/* member DNs to read */
	struct tldap_strs	 seen;		/* DNs read or queued */
	struct tldap_strs	 group_mail;	/* the group's own address */
	struct table_waiter	**waiters;
	size_t			 nwaiters;
};

static LIST_HEAD(, tldap_dir) tldap_dirs = LIST_HEAD_INITIALIZER(tldap_dirs);
static struct event_base	*tldap_base;
static int			 tldap_locked;
static struct event		*tldap_purge_ev;
static struct table_waiter	*tldap_waiter;

static int
tldap_centry_cmp(struct tldap_centry *a, struct tldap_centry *b)
{
	return strcmp(a->key, b->key);
}

static int
tldap_query_cmp(struct tldap_query *a, struct tldap_query *b)
{
	return strcmp(a->key, b->key);
}

RB_PROTOTYPE(tldap_cache, tldap_centry, node, tldap_centry_cmp);
RB_GENERATE(tldap_cache, tldap_centry, node, tldap_centry_cmp);
RB_PROTOTYPE(tldap_flight, tldap_query, node, tldap_query_cmp);
RB_GENERATE(tldap_flight, tldap_query, node, tldap_query_cmp);

static time_t
tldap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- the waiters (see table.h) ---- */

void
table_waiter_set(struct table_waiter *w)
{
	tldap_waiter = w;
}

struct table_waiter *
table_waiter_current(void)
{
	return tldap_waiter;
}

/* ---- string lists ---- */

static int
tldap_strs_has(const struct tldap_strs *s, const char *v)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcasecmp(s->v[i], v) == 0)
			return 1;
	return 0;
}

static void
tldap_strs_add(struct tldap_strs *s, const char *v)
{
	char **nv;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		if ((nv = reallocarray(s->v, s->cap, sizeof(*nv))) == NULL)
			fatal("ldap table");
		s->v = nv;
	}
	if ((s->v[s->n++] = strdup(v)) == NULL)
		fatal("ldap table");
}

static char *
tldap_strs_shift(struct tldap_strs *s)
{
	char *v;

	if (s->n == 0)
		return NULL;
	v = s->v[0];
	memmove(s->v, s->v + 1, (s->n - 1) * sizeof(*s->v));
	s->n--;
	return v;
}

static void
tldap_strs_free(struct tldap_strs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- the cache ---- */

static struct tldap_centry *
tldap_cache_find(struct tldap_dir *d, const char *key)
{
	struct tldap_centry find;

	find.key = (char *)key;
	return RB_FIND(tldap_cache, &d->cache, &find);
}

static void
tldap_centry_free(struct tldap_dir *d, struct tldap_centry *e)
{
	RB_REMOVE(tldap_cache, &d->cache, e);
	d->ncache--;
	free(e->key);
	free(e->value);
	free(e);
}

static void
tldap_stale_log(struct tldap_dir *d, const char *key)
{
	if (!d->stale_logged)
		log_warnx("table %s: directory unavailable, serving cached "
		    "recipients (first: <%s>)", d->name, key);
	d->stale_logged = 1;
}

/* Stores an answer, replacing what was there; with serve_stale a
 * failure keeps a found answer still within its stale_ttl. */
static void
tldap_cache_put(struct tldap_dir *d, const char *key,
    enum tldap_status status, const char *value)
{
	struct tldap_centry	*e;
	time_t			 now = tldap_now();

	if ((e = tldap_cache_find(d, key)) == NULL) {
		if (d->ncache >= d->lc.cache_size)
			tldap_centry_free(d, RB_MIN(tldap_cache, &d->cache));
		if ((e = calloc(1, sizeof(*e))) == NULL ||
		    (e->key = strdup(key)) == NULL)
			fatal("ldap cache");
		RB_INSERT(tldap_cache, &d->cache, e);
		d->ncache++;
	} else if (status == TLDAP_FAIL && e->status == TLDAP_FOUND &&
	    d->lc.serve_stale && now < e->stale_until) {
		/* the directory cannot answer: the old answer, for the rerun
		 * and the next second; stale_until is left as it was */
		tldap_stale_log(d, key);
		e->expires = now + TLDAP_FAIL_SECS;
		return;
	}
	free(e->value);
	e->value = NULL;
	e->status = status;
	switch (status) {
	case TLDAP_FOUND:
		if ((e->value = strdup(value)) == NULL)
			fatal("ldap cache");
		e->expires = now + d->lc.cache_ttl;
		e->stale_until = e->expires + d->lc.stale_ttl;
		break;
	case TLDAP_NOTFOUND:
		e->expires = now + d->lc.negative_cache_ttl;
		e->stale_until = 0;
		break;
	case TLDAP_FAIL:
		e->expires = now + TLDAP_FAIL_SECS;
		e->stale_until = 0;
		break;
	}
}

static void
tldap_purge(int fd, short ev, void *arg)
{
	struct tldap_dir	*d;
	struct tldap_centry	*e, *next;
	time_t			 now = tldap_now();

	LIST_FOREACH(d, &tldap_dirs, entry)
		for (e = RB_MIN(tldap_cache, &d->cache); e != NULL; e = next) {
			next = RB_NEXT(tldap_cache, &d->cache, e);
			if (e->expires <= now && e->stale_until <= now)
				tldap_centry_free(d, e);
		}
}

/* ---- queries ---- */

static void	tldap_query_step(struct tldap_query *);

static void
tldap_query_free(struct tldap_query *q)
{
	tldap_strs_free(&q->values);
	tldap_strs_free(&q->queue);
	tldap_strs_free(&q->seen);
	tldap_strs_free(&q->group_mail);
	free(q->waiters);
	free(q->key);
	free(q);
}

/* The values joined, ", " between them. */
static int
tldap_join(const struct tldap_strs *s, char *buf, size_t bufsz)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < s->n; i++)
		if ((i > 0 && strlcat(buf, ", ", bufsz) >= bufsz) ||
		    strlcat(buf, s->v[i], bufsz) >= bufsz)
			return -1;
	return 0;
}

/* The query has its answer: cache it, wake whoever waits. */
static void
tldap_query_end(struct tldap_query *q, enum tldap_status status)
{
	struct tldap_dir	*d = q->d;
	static char		 value[TLDAP_VALUE_MAX];
	const struct tldap_strs	*v = q->values.n ? &q->values : &q->group_mail;
	struct table_waiter	*w;
	size_t			 i;

	RB_REMOVE(tldap_flight, &d->flight, q);
	if (status == TLDAP_FOUND && v->n == 0)
		strlcpy(value, q->key, sizeof(value));
	else if (status == TLDAP_FOUND && tldap_join(v, value,
	    sizeof(value)) == -1) {
		log_warnx("table %s: <%s>: more addresses than fit in one "
		    "answer", d->name, q->key);
		status = TLDAP_FAIL;
	}
	if (status == TLDAP_FOUND)
		d->stale_logged = 0;
	tldap_cache_put(d, q->key, status, value);
	log_debug("table %s: <%s>: %s", d->name, q->key,
	    status == TLDAP_FOUND ? value : status == TLDAP_NOTFOUND ?
	    "not found" : "failed");
	for (i = 0; i < q->nwaiters; i++) {
		w = q->waiters[i];
		if (--w->pending == 0)
			w->wake(w);
	}
	tldap_query_free(q);
}

static void
tldap_add_value(const char *v, void *arg)
{
	struct tldap_strs *s = arg;

	if (!tldap_strs_has(s, v))
		tldap_strs_add(s, v);
}

static void
tldap_values(struct tldap_strs *s, LDAP *ld, LDAPMessage *entry,
    const char *attr)
{
	ldap_entry_values(ld, entry, attr, tldap_add_value, s);
}

static int
tldap_is_group(LDAP *ld, LDAPMessage *entry)
{
	struct tldap_strs	oc = { 0 };
	size_t			i;
	int			group = 0;

	tldap_values(&oc, ld, entry, "objectClass");
	for (i = 0; i < oc.n; i++)
		if (strcasecmp(oc.v[i], "group") == 0 ||
		    strcasecmp(oc.v[i], "groupOfNames") == 0)
			group = 1;
	tldap_strs_free(&oc);
	return group;
}

/* Queue the member DNs of a group entry not seen yet. */
static void
tldap_members(struct tldap_query *q, LDAP *ld, LDAPMessage *entry)
{
	struct tldap_strs	m = { 0 };
	size_t			i;

	tldap_values(&m, ld, entry, "member");
	for (i = 0; i < m.n; i++) {
		if (tldap_strs_has(&q->seen, m.v[i])) {
			log_info("table %s: <%s>: group loop or repeated "
			    "member at %s, not expanded again", q->d->name,
			    q->key, m.v[i]);
			continue;
		}
		if (q->seen.n >= q->d->lc.expansion_limit) {
			q->failed = 1;
			log_warnx("table %s: <%s>: group expansion beyond "
			    "%u members", q->d->name, q->key,
			    q->d->lc.expansion_limit);
			break;
		}
		tldap_strs_add(&q->seen, m.v[i]);
		tldap_strs_add(&q->queue, m.v[i]);
	}
	tldap_strs_free(&m);
}

static void
tldap_entry_user(struct tldap_query *q, LDAP *ld, LDAPMessage *entry)
{
	const char *attr = q->d->lc.result_attr;

	if (q->d->lc.active_directory && ldap_entry_disabled(ld, entry)) {
		q->disabled = 1;
		return;
	}
	q->found = 1;
	tldap_values(&q->values, ld, entry, attr);
}

static void
tldap_entry_group(struct tldap_query *q, LDAP *ld, LDAPMessage *entry)
{
	char *dn;

	q->found = 1;
	tldap_values(&q->group_mail, ld, entry, q->d->lc.result_attr);
	if ((dn = ldap_get_dn(ld, entry)) != NULL) {
		if (!tldap_strs_has(&q->seen, dn))
			tldap_strs_add(&q->seen, dn);
		ldap_memfree(dn);
	}
	tldap_members(q, ld, entry);
}

/*
 * A member's own address is a valid recipient whose value is itself:
 * cache it, so expanding the group as aliases asks nothing more.
 */
static void
tldap_prime(struct tldap_dir *d, const char *addr)
{
	struct tldap_centry	*e;
	char			 key[1024];
	size_t			 i;

	for (i = 0; addr[i] != '\0' && i + 1 < sizeof(key); i++)
		key[i] = (addr[i] >= 'A' && addr[i] <= 'Z') ?
		    addr[i] - 'A' + 'a' : addr[i];
	key[i] = '\0';
	if ((e = tldap_cache_find(d, key)) != NULL && e->status ==
	    TLDAP_FOUND && tldap_now() < e->expires)
		return;
	tldap_cache_put(d, key, TLDAP_FOUND, addr);
}

/* A member read by its DN: a nested group, or a user to add. */
static void
tldap_entry_member(struct tldap_query *q, LDAP *ld, LDAPMessage *entry)
{
	struct tldap_strs	mail = { 0 };
	size_t			i;

	if (tldap_is_group(ld, entry)) {
		tldap_members(q, ld, entry);
		return;
	}
	if (ldap_entry_disabled(ld, entry))
		return;
	tldap_values(&mail, ld, entry, q->d->lc.result_attr);
	for (i = 0; i < mail.n && i < 1; i++) {
		if (tldap_strs_has(&q->values, mail.v[i]))
			continue;
		tldap_prime(q->d, mail.v[i]);
		if (q->values.n >= q->d->lc.expansion_limit) {
			q->failed = 1;
			log_warnx("table %s: <%s>: group expansion beyond "
			    "%u addresses", q->d->name, q->key,
			    q->d->lc.expansion_limit);
			break;
		}
		tldap_strs_add(&q->values, mail.v[i]);
	}
	tldap_strs_free(&mail);
}

static void
tldap_on_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	struct tldap_query *q = arg;

	switch (q->phase) {
	case PH_USERS:
		tldap_entry_user(q, ld, entry);
		break;
	case PH_GROUPS:
		tldap_entry_group(q, ld, entry);
		break;
	case PH_MEMBERS:
		tldap_entry_member(q, ld, entry);
		break;
	}
}

static void
tldap_on_done(void *arg, int status, const char *why)
{
	struct tldap_query *q = arg;

	q->outstanding--;
	if (status == LDAP_CONN_ERROR)
		q->failed = 1;
	else if (status == LDAP_CONN_NOSUCHOBJECT && q->phase != PH_MEMBERS) {
		/* a search base that does not exist is a configuration
		 * fault, not an unknown user */
		log_warnx("table %s: <%s>: %s", q->d->name, q->key, why);
		q->failed = 1;
	}
	if (q->outstanding == 0)
		tldap_query_step(q);
}

/* Start one search of q; -1 (q->failed set) when none can start. */
static int
tldap_search(struct tldap_query *q, const char *base,
    enum ldap_conf_scope scope, const char *tmpl, const char *const *attrs)
{
	char	filter[LDAP_CONF_FILTER_MAX * 2], why[512];

	if (tmpl == NULL)
		strlcpy(filter, "(objectClass=*)", sizeof(filter));
	else if (ldap_filter_expand(tmpl, q->key, filter,
	    sizeof(filter)) != 1) {
		log_warnx("table %s: <%s>: filter too long", q->d->name,
		    q->key);
		q->failed = 1;
		return -1;
	}
	if (ldap_conn_search(q->d->conn, base, scope, filter, attrs,
	    tldap_on_entry, tldap_on_done, q, why, sizeof(why)) == -1) {
		log_debug("table %s: <%s>: %s", q->d->name, q->key, why);
		q->failed = 1;
		return -1;
	}
	q->outstanding++;
	return 0;
}

/* Searches of one phase, one per base. */
static void
tldap_search_bases(struct tldap_query *q, char bases[][LDAP_CONF_DN_MAX],
    size_t n, const char *tmpl, const char *const *attrs)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tldap_search(q, bases[i], q->d->lc.scope, tmpl,
		    attrs) == -1)
			return;
}

/* Read more member DNs. */
static void
tldap_read_members(struct tldap_query *q)
{
	static const char *const attrs[] = { "objectClass", "member",
	    "userAccountControl", NULL, NULL };
	const char	*a[5];
	char		*dn;

	memcpy(a, attrs, sizeof(a));
	a[3] = q->d->lc.result_attr;
	while (!q->failed && (dn = tldap_strs_shift(&q->queue)) != NULL) {
		tldap_search(q, dn, LDAP_CONF_SCOPE_BASE, NULL, a);
		free(dn);
	}
}

/*
 * All searches of the current step are done (or none could start):
 * decide, or go to the next phase.
 */
static void
tldap_query_step(struct tldap_query *q)
{
	struct ldap_conf	*lc = &q->d->lc;
	const char		*ga[] = { "member", lc->result_attr, NULL };

	if (q->outstanding > 0)
		return;
	if (q->failed) {
		tldap_query_end(q, TLDAP_FAIL);
		return;
	}
	switch (q->phase) {
	case PH_USERS:
		if (q->found) {
			tldap_query_end(q, TLDAP_FOUND);
			return;
		}
		if (q->disabled)
			log_info("table %s: <%s>: account disabled, "
			    "unknown", q->d->name, q->key);
		if (q->disabled || lc->ngroup_bases == 0) {
			tldap_query_end(q, TLDAP_NOTFOUND);
			return;
		}
		q->phase = PH_GROUPS;
		tldap_search_bases(q, lc->group_bases, lc->ngroup_bases,
		    lc->group_filter, ga);
		break;
	case PH_GROUPS:
		if (!q->found) {
			tldap_query_end(q, TLDAP_NOTFOUND);
			return;
		}
		q->phase = PH_MEMBERS;
		/* FALLTHROUGH */
	case PH_MEMBERS:
		if (q->queue.n == 0) {
			tldap_query_end(q, TLDAP_FOUND);
			return;
		}
		tldap_read_members(q);
		break;
	}
	if (q->outstanding == 0)	/* nothing could start */
		tldap_query_end(q, TLDAP_FAIL);
}

/* A new query for key; NULL when it failed at once (no server now). */
static struct tldap_query *
tldap_query_start(struct tldap_dir *d, const char *key)
{
	struct tldap_query	*q;
	struct ldap_conf	*lc = &d->lc;
	const char		*ua[] = { lc->result_attr,
	    lc->active_directory ? "userAccountControl" : NULL, NULL };

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->key = strdup(key)) == NULL)
		fatal("ldap query");
	q->d = d;
	tldap_search_bases(q, lc->bases, lc->nbases, lc->filter, ua);
	if (q->outstanding == 0) {
		tldap_query_free(q);
		return NULL;
	}
	RB_INSERT(tldap_flight, &d->flight, q);
	return q;
}

static void
tldap_query_wait(struct tldap_query *q, struct table_waiter *w)
{
	struct table_waiter	**v;
	size_t			  i;

	for (i = 0; i < q->nwaiters; i++)
		if (q->waiters[i] == w)
			return;
	if ((v = reallocarray(q->waiters, q->nwaiters + 1,
	    sizeof(*v))) == NULL)
		fatal("ldap query");
	q->waiters = v;
	q->waiters[q->nwaiters++] = w;
	w->pending++;
}

/* ---- the backend ---- */

/* Whether key can be asked at all (else it is simply not found). */
static int
tldap_askable(struct tldap_dir *d, const char *key)
{
	const char	*at = strrchr(key, '@');
	char		 filter[LDAP_CONF_FILTER_MAX * 2];

	if (d->lc.active_directory &&
	    (at == NULL || at == key || at[1] == '\0'))
		return 0;
	return ldap_filter_expand(d->lc.filter, key, filter,
	    sizeof(filter)) == 1;
}

/* ---- what smtpctl shows: the last lookup, the cache ---- */

static void
tldap_note_cached(struct tldap_dir *d, const struct tldap_centry *e,
    time_t now)
{
	time_t ttl = e->status == TLDAP_FOUND ? d->lc.cache_ttl :
	    e->status == TLDAP_NOTFOUND ? d->lc.negative_cache_ttl :
	    TLDAP_FAIL_SECS;

	snprintf(d->note, sizeof(d->note), "cache hit (%s), age %llds, "
	    "expires in %llds", e->status == TLDAP_FOUND ? "found" :
	    e->status == TLDAP_NOTFOUND ? "not found" : "failure",
	    (long long)(now - (e->expires - ttl)),
	    (long long)(e->expires - now));
}

static void
tldap_explain(struct table *t, char *buf, size_t bufsz)
{
	struct tldap_dir *d = t->handle;

	strlcpy(buf, d != NULL ? d->note : "", bufsz);
}

static void
tldap_status(struct table *t, char *buf, size_t bufsz)
{
	struct tldap_dir	*d = t->handle;
	struct tldap_centry	*e;
	struct table_ldap_stats	 st;
	size_t			 found = 0, notfound = 0;

	if (d == NULL || table_ldap_stats(t, &st) == -1)
		return;
	RB_FOREACH(e, tldap_cache, &d->cache) {
		if (e->status == TLDAP_FOUND)
			found++;
		else if (e->status == TLDAP_NOTFOUND)
			notfound++;
	}
	snprintf(buf, bufsz, "cache=%zu cache_found=%zu cache_notfound=%zu "
	    "inflight=%zu server=%s", st.cached, found, notfound,
	    st.inflight, st.server);
}

static enum table_res
tldap_lookup(struct table *t, const char *key, const char **valp)
{
	struct tldap_dir	*d = t->handle;
	struct tldap_centry	*e;
	struct tldap_query	*q, find;
	time_t			 now = tldap_now();

	d->note[0] = '\0';
	if (!tldap_askable(d, key))
		return TABLE_NOTFOUND;
	if ((e = tldap_cache_find(d, key)) != NULL && now < e->expires) {
		tldap_note_cached(d, e, now);
		if (e->status == TLDAP_FOUND)
			*valp = e->value;
		return e->status == TLDAP_FOUND ? TABLE_FOUND :
		    e->status == TLDAP_NOTFOUND ? TABLE_NOTFOUND : TABLE_FAIL;
	}
	find.key = (char *)key;
	if ((q = RB_FIND(tldap_flight, &d->flight, &find)) == NULL &&
	    (q = tldap_query_start(d, key)) == NULL) {
		/* the directory cannot be asked now */
		if (d->lc.serve_stale && e != NULL &&
		    e->status == TLDAP_FOUND && now < e->stale_until) {
			tldap_stale_log(d, key);
			snprintf(d->note, sizeof(d->note), "directory "
			    "unreachable: stale cached answer served");
			*valp = e->value;
			return TABLE_FOUND;
		}
		return TABLE_FAIL;
	}
	snprintf(d->note, sizeof(d->note), "not cached: asking %s",
	    ldap_conn_server(d->conn));
	if (tldap_waiter != NULL)
		tldap_query_wait(q, tldap_waiter);
	return TABLE_FAIL;		/* pending: lookupd reruns */
}

static struct tldap_dir *
tldap_dir_find(const char *path)
{
	struct tldap_dir *d;

	LIST_FOREACH(d, &tldap_dirs, entry)
		if (strcmp(d->lc.path, path) == 0)
			return d;
	return NULL;
}

static int
tldap_open(struct table *t, const struct table_conf *tc, char *err,
    size_t errsz)
{
	struct tldap_dir	*d;
	struct ldap_conf	 lc;
	struct table_stamp	 now;

	if ((d = tldap_dir_find(tc->path)) != NULL) {
		table_stamp(tc->path, &now);
		if (!table_stamp_eq(&now, &d->stamp))
			log_warnx("table %s: %s changed on disk; ldap files "
			    "are read at start only, restart to apply",
			    t->name, tc->path);
		d->stamp = now;			/* said once per change */
		t->handle = d;
		return 0;
	}
	if (tldap_base == NULL) {
		snprintf(err, errsz, "table %s: ldap tables need lookupd's "
		    "event loop", t->name);
		return -1;
	}
	if (tldap_locked) {
		snprintf(err, errsz, "table %s: %s: a new ldap table is only "
		    "read at start, restart the daemon", t->name, tc->path);
		return -1;
	}
	table_stamp(tc->path, &now);
	if (ldap_conf_load(tc->path, &lc, err, errsz) == -1)
		return -1;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	d->lc = lc;
	d->stamp = now;
	explicit_bzero(&lc, sizeof(lc));
	strlcpy(d->name, t->name, sizeof(d->name));
	RB_INIT(&d->cache);
	RB_INIT(&d->flight);
	if ((d->conn = ldap_conn_new(&d->lc, d->name, tldap_base, err,
	    errsz)) == NULL) {
		free(d);
		return -1;
	}
	explicit_bzero(d->lc.bind_pw, sizeof(d->lc.bind_pw));
	LIST_INSERT_HEAD(&tldap_dirs, d, entry);
	log_info("table %s: ldap directory %s, %zu server%s, first %s%s",
	    t->name, tc->path, d->lc.nservers, d->lc.nservers > 1 ? "s" : "",
	    d->lc.servers[0].url, d->lc.active_directory ?
	    ", Active Directory" : "");
	t->handle = d;
	return 0;
}

static void
tldap_close(struct table *t)
{
	t->handle = NULL;	/* the directory stays for the next snapshot */
}

const struct table_backend table_ldap_backend = {
	.name = "ldap",
	.open = tldap_open,
	.lookup = tldap_lookup,
	.foreach = NULL,
	.close = tldap_close,
	.explain = tldap_explain,
	.status = tldap_status,
};

void
table_ldap_init(struct event_base *base)
{
	struct timeval tv = { TLDAP_PURGE_SECS, 0 };

	if (tldap_base != NULL)
		return;
	tldap_base = base;
	if ((tldap_purge_ev = event_new(base, -1, EV_PERSIST, tldap_purge,
	    NULL)) == NULL || event_add(tldap_purge_ev, &tv) == -1)
		fatalx("ldap cache timer");
}

void
table_ldap_lock(void)
{
	tldap_locked = 1;
}

int
table_ldap_count(void)
{
	struct tldap_dir	*d;
	int			 n = 0;

	LIST_FOREACH(d, &tldap_dirs, entry)
		n++;
	return n;
}

int
table_ldap_stats(const struct table *t, struct table_ldap_stats *st)
{
	struct tldap_dir	*d;
	struct tldap_query	*q;

	if (t->type != TABLE_LDAP || (d = t->handle) == NULL)
		return -1;
	st->cached = d->ncache;
	st->inflight = 0;
	RB_FOREACH(q, tldap_flight, &d->flight)
		st->inflight++;
	st->server = ldap_conn_server(d->conn);
	return 0;
}

struct ldap_conn *
table_ldap_dir(const struct table *t, const struct ldap_conf **lcp)
{
	struct tldap_dir	*d;

	if (t->type != TABLE_LDAP || (d = t->handle) == NULL)
		return NULL;
	*lcp = &d->lc;
	return d->conn;
}
