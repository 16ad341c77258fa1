/*
 * SMTP AUTH against an ldap table ("auth bind", as Postfix's and
 * Dovecot's LDAP authentication do it), asynchronously on lookupd's
 * event loop:
 *
 * 1. the user's entry is searched on the table's service connection (its
 *    bind_dn), under each search_base with the table's scope and
 *    query_filter, the user name expanded for %s/%u/%d and escaped as
 *    RFC 4515 says (ldap_filter_expand), so a name like `*' or
 *    `a*)(uid=*' is only ever a literal value;
 * 2. exactly one entry must match: none is a failed login, more than one
 *    a failed login and a log line (the filter is ambiguous); with
 *    active_directory a disabled account (userAccountControl bit 2) is a
 *    failed login;
 * 3. a simple bind as that entry's DN with the given password, on a
 *    connection of its own to the same server (ldap_conn_bind_check):
 *    the service connection is never rebound as a user.
 *
 * Answers: the bind accepted is LKA_AUTH_OK; invalidCredentials, an
 * unknown, ambiguous or disabled user, an empty password are
 * LKA_AUTH_FAILED; a directory that cannot answer (down, timing out, a
 * missing search base, any other error) is LKA_AUTH_TEMPFAIL, with one
 * log line naming the server and the error.  Nothing is cached: each
 * login asks the directory.  At most LKA_AUTH_LDAP_MAX checks run at a
 * time (each may hold a connection to the directory): beyond, TEMPFAIL,
 * logged once per burst, so a flood of AUTH attempts cannot open
 * unbounded connections to a domain controller.  The password is kept
 * only for the bind and wiped from each of our buffers as soon as the
 * bind is sent (or the check ends without one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>
#include <ldap.h>

#include "ldap_conf.h"
#include "ldap_conn.h"
#include "lka.h"
#include "log.h"
#include "table.h"

#define LKA_AUTH_LDAP_MAX	64	/* checks in flight */

struct lka_auth_ldap {
	char			 table[CONF_NAME_MAX];
	char			 user[LKA_AUTH_USER_MAX];
	char			 pass[LKA_AUTH_PASS_MAX];
	struct ldap_conn	*conn;
	const struct ldap_conf	*lc;
	int			 outstanding;	/* searches not done */
	int			 failed;
	char			 why[1024];	/* the first failure */
	size_t			 nfound;	/* distinct DNs */
	int			 disabled;
	int			 dn_too_long;
	char			 dn[LDAP_CONF_DN_MAX];
	lka_auth_done		 done;
	void			*arg;
};

static size_t	lka_auth_ldap_inflight;
static int	lka_auth_ldap_full_logged;

static void
lka_auth_ldap_end(struct lka_auth_ldap *op, enum lka_auth_status status)
{
	lka_auth_done	 done = op->done;
	void		*arg = op->arg;

	if (--lka_auth_ldap_inflight == 0)
		lka_auth_ldap_full_logged = 0;
	explicit_bzero(op, sizeof(*op));
	free(op);
	done(arg, status);
}

static void
lka_auth_ldap_bound(void *arg, int status, const char *why)
{
	struct lka_auth_ldap *op = arg;

	switch (status) {
	case LDAP_CONN_BIND_OK:
		lka_auth_ldap_end(op, LKA_AUTH_OK);
		break;
	case LDAP_CONN_BIND_INVALID:
		log_debug("table %s: auth user %s: %s", op->table, op->user,
		    why);
		lka_auth_ldap_end(op, LKA_AUTH_FAILED);
		break;
	default:
		log_warnx("table %s: auth user %s: ldap server %s", op->table,
		    op->user, why);
		lka_auth_ldap_end(op, LKA_AUTH_TEMPFAIL);
		break;
	}
}

/* The user's entry is known: bind as it. */
static void
lka_auth_ldap_bind(struct lka_auth_ldap *op)
{
	char	 why[256];
	int	 rc;

	rc = ldap_conn_bind_check(op->conn, op->dn, op->pass,
	    lka_auth_ldap_bound, op, why, sizeof(why));
	explicit_bzero(op->pass, sizeof(op->pass));
	if (rc == -1) {
		log_warnx("table %s: auth user %s: %s: %s", op->table,
		    op->user, op->dn, why);
		lka_auth_ldap_end(op, LKA_AUTH_TEMPFAIL);
	}
}

/* The directory could not answer: one line naming the server. */
static void
lka_auth_ldap_tempfail(struct lka_auth_ldap *op)
{
	const char *server = ldap_conn_server(op->conn);

	if (strstr(op->why, server) != NULL)
		log_warnx("table %s: auth user %s: ldap server %s",
		    op->table, op->user, op->why);
	else
		log_warnx("table %s: auth user %s: ldap server %s: %s",
		    op->table, op->user, server, op->why);
	lka_auth_ldap_end(op, LKA_AUTH_TEMPFAIL);
}

/* Every search has ended: decide, or bind. */
static void
lka_auth_ldap_found(struct lka_auth_ldap *op)
{
	if (op->failed)
		lka_auth_ldap_tempfail(op);
	else if (op->nfound == 0) {
		log_debug("table %s: auth user %s: not in the directory",
		    op->table, op->user);
		lka_auth_ldap_end(op, LKA_AUTH_FAILED);
	} else if (op->nfound > 1) {
		log_warnx("table %s: auth user %s: %zu entries match "
		    "query_filter, refused (the filter must find one user)",
		    op->table, op->user, op->nfound);
		lka_auth_ldap_end(op, LKA_AUTH_FAILED);
	} else if (op->disabled) {
		log_info("table %s: auth user %s: account disabled",
		    op->table, op->user);
		lka_auth_ldap_end(op, LKA_AUTH_FAILED);
	} else if (op->dn_too_long) {
		log_warnx("table %s: auth user %s: DN longer than %d bytes",
		    op->table, op->user, LDAP_CONF_DN_MAX - 1);
		lka_auth_ldap_end(op, LKA_AUTH_TEMPFAIL);
	} else
		lka_auth_ldap_bind(op);
}

static void
lka_auth_ldap_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	struct lka_auth_ldap	*op = arg;
	char			*dn;

	if ((dn = ldap_get_dn(ld, entry)) == NULL)
		return;
	/* the same entry under two overlapping bases counts once */
	if (op->nfound == 0 || strcasecmp(dn, op->dn) != 0) {
		if (op->nfound++ == 0 &&
		    strlcpy(op->dn, dn, sizeof(op->dn)) >= sizeof(op->dn))
			op->dn_too_long = 1;
		if (op->lc->active_directory &&
		    ldap_entry_disabled(ld, entry))
			op->disabled = 1;
	}
	ldap_memfree(dn);
}

static void
lka_auth_ldap_searched(void *arg, int status, const char *why)
{
	struct lka_auth_ldap *op = arg;

	/* a missing search base is the config's fault, not a wrong user */
	if (status != LDAP_CONN_OK && !op->failed) {
		op->failed = 1;
		strlcpy(op->why, why, sizeof(op->why));
	}
	if (--op->outstanding == 0)
		lka_auth_ldap_found(op);
}

void
lka_auth_ldap(struct table *t, const char *user, const char *password,
    lka_auth_done done, void *arg)
{
	struct lka_auth_ldap	*op;
	const struct ldap_conf	*lc;
	struct ldap_conn	*conn;
	const char		*attrs[] = { "1.1", NULL };
	char			 filter[LDAP_CONF_FILTER_MAX * 2];
	size_t			 i;

	if ((conn = table_ldap_dir(t, &lc)) == NULL) {
		log_warnx("table %s: ldap directory not open", t->name);
		done(arg, LKA_AUTH_TEMPFAIL);
		return;
	}
	if (password[0] == '\0') {
		/* an LDAP "unauthenticated bind" would succeed */
		log_info("table %s: auth user %s: empty password refused",
		    t->name, user);
		done(arg, LKA_AUTH_FAILED);
		return;
	}
	if (ldap_filter_expand(lc->filter, user, filter,
	    sizeof(filter)) != 1) {
		/* %u or %d of a name without '@': no such user */
		log_debug("table %s: auth user %s: cannot be searched with "
		    "query_filter", t->name, user);
		done(arg, LKA_AUTH_FAILED);
		return;
	}
	if (lka_auth_ldap_inflight >= LKA_AUTH_LDAP_MAX) {
		if (!lka_auth_ldap_full_logged)
			log_warnx("table %s: auth user %s: %d password checks "
			    "already running, answering 454", t->name, user,
			    LKA_AUTH_LDAP_MAX);
		lka_auth_ldap_full_logged = 1;
		done(arg, LKA_AUTH_TEMPFAIL);
		return;
	}
	if (lc->active_directory)
		attrs[0] = "userAccountControl";
	if ((op = calloc(1, sizeof(*op))) == NULL)
		fatal("ldap auth");
	lka_auth_ldap_inflight++;
	strlcpy(op->table, t->name, sizeof(op->table));
	strlcpy(op->user, user, sizeof(op->user));
	strlcpy(op->pass, password, sizeof(op->pass));
	op->conn = conn;
	op->lc = lc;
	op->done = done;
	op->arg = arg;
	for (i = 0; i < lc->nbases; i++) {
		if (ldap_conn_search(conn, lc->bases[i], lc->scope, filter,
		    attrs, lka_auth_ldap_entry, lka_auth_ldap_searched, op,
		    op->why, sizeof(op->why)) == -1) {
			op->failed = 1;
			break;
		}
		op->outstanding++;
	}
	if (op->outstanding == 0)	/* no server may be tried now */
		lka_auth_ldap_tempfail(op);
}
