/*
 * One connection to an LDAP directory, driven by a libevent loop: the
 * servers of an ldap_conf tried in order, StartTLS or ldaps, a simple
 * bind, then searches sent with libldap's asynchronous API and their
 * answers read when the socket is readable (ldap_result with a zero
 * timeout), so a slow directory never blocks the loop.
 *
 * Used by lookupd's ldap tables (lookupd/table_ldap.c) and, for SMTP
 * AUTH, their bind checks (lookupd/lka_auth_ldap.c); smtpctl may use it
 * for a one-shot export by running the loop until its searches end.
 */
#ifndef MXGATE_LDAP_CONN_H
#define MXGATE_LDAP_CONN_H

#include <event2/event.h>
#include <ldap.h>

#include "ldap_conf.h"

struct ldap_conn;

/* How a search ended. */
#define LDAP_CONN_OK		0	/* done, entries (if any) were given */
#define LDAP_CONN_NOSUCHOBJECT	1	/* the base does not exist */
#define LDAP_CONN_ERROR		(-1)	/* why says what, with the server */

/* Each entry of a search; ld is valid for the call only. */
typedef void (*ldap_conn_entry_cb)(void *arg, LDAP *ld, LDAPMessage *entry);
/* Called exactly once per search that ldap_conn_search() accepted. */
typedef void (*ldap_conn_done_cb)(void *arg, int status, const char *why);

/*
 * Everything that touches the file system or the resolver happens here:
 * server names are resolved, the TLS context (CA file) is built.  Call
 * before the sandbox.  label names the table in log lines.  NULL with
 * err set on failure.  lc is copied.
 */
struct ldap_conn *ldap_conn_new(const struct ldap_conf *lc,
		    const char *label, struct event_base *base, char *err,
		    size_t errsz);
void		 ldap_conn_free(struct ldap_conn *);

/*
 * Starts a search (connecting first if needed).  attrs is NULL-terminated
 * and copied.  0: cb_done will be called later, from the event loop,
 * never from inside this call.  -1: no server may be tried now (all are
 * waiting out their reconnect delay); why says so and no callback comes.
 */
int		 ldap_conn_search(struct ldap_conn *, const char *base,
		    enum ldap_conf_scope scope, const char *filter,
		    const char *const *attrs, ldap_conn_entry_cb,
		    ldap_conn_done_cb, void *arg, char *why, size_t whysz);
/* The URL of the server in use or tried last. */
const char	*ldap_conn_server(const struct ldap_conn *);
/*
 * Calls fn(value, arg) for each value of attr that is a usable string:
 * not empty, shorter than LDAP_VALUE_MAX bytes, without a NUL inside.
 */
#define LDAP_VALUE_MAX	1024
void		 ldap_entry_values(LDAP *, LDAPMessage *, const char *attr,
		    void (*fn)(const char *, void *), void *arg);
/* 1 if an Active Directory entry's userAccountControl has bit 2
 * (ACCOUNTDISABLE) set, which the search must have asked for. */
int		 ldap_entry_disabled(LDAP *, LDAPMessage *);

/*
 * Bind checks (SMTP AUTH against a directory): a simple bind as dn with
 * password, on a connection of its own to the server c is using (or
 * tried last), with c's TLS settings, CA and timeout; c itself is not
 * touched, and the check's connection is closed once it has answered.
 * Nothing is logged here: why names the server and the error.
 */
#define LDAP_CONN_BIND_OK	0	/* the directory accepted it */
#define LDAP_CONN_BIND_INVALID	1	/* invalidCredentials */
/* status: one of the two above, or LDAP_CONN_ERROR (why says what). */
typedef void (*ldap_conn_bind_cb)(void *arg, int status, const char *why);
/*
 * 0: cb is called exactly once, later, from the event loop; the password
 * is copied and wiped as soon as it is sent.  -1 (why set, no callback)
 * when dn or password is empty (an empty password would be an LDAP
 * "unauthenticated bind", which succeeds without checking anything) or
 * too long.
 */
int		 ldap_conn_bind_check(struct ldap_conn *, const char *dn,
		    const char *password, ldap_conn_bind_cb, void *arg,
		    char *why, size_t whysz);

#endif
