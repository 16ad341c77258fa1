/*
 * lookupd's recipient decision, usable without any process around it:
 * lka_load() builds every table of a config into one snapshot, and
 * lka_decide() answers one RCPT against it.  A reload builds a new
 * snapshot and swaps the pointer; a snapshot is never changed in place.
 * The rules are written at the top of lka.c.
 */
#ifndef MXGATE_LKA_H
#define MXGATE_LKA_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "netaddr.h"
#include "proto.h"
#include "table.h"

#define LKA_DEPTH_MAX	20		/* alias nesting */
#define LKA_EXPAND_MAX	1000		/* final recipients of one RCPT */
#define LKA_TEXT_MAX	256
#define LKA_RELAY_MAX	CONF_STR_MAX	/* "smtp:[10.0.0.5]:25" */
#define LKA_ADDR_MAX	(ADDR_PATH_MAX - 1)	/* "local@domain" + NUL */

struct lka_tables;

struct lka_rcpt {
	char		addr[LKA_ADDR_MAX];	/* final recipient */
	char		relay[LKA_RELAY_MAX];
};

struct lka_trace;

struct lka_result {
	enum lka_status	 status;
	char		 text[LKA_TEXT_MAX];	/* "" for LKA_RELAY */
	struct lka_rcpt	*rcpts;			/* LKA_RELAY only */
	size_t		 nrcpts, cap;
	struct lka_trace *trace;		/* NULL: no tracing */
};

/*
 * Opens every table of conf (reading files: call while still privileged
 * on first start).  NULL with "file:line: why" (or "table NAME: why") in
 * err when any table or rule cannot be used.
 */
struct lka_tables *lka_load(const struct mxgate_conf *, char *err,
		    size_t errsz);
void		 lka_free(struct lka_tables *);
size_t		 lka_ntables(const struct lka_tables *);

void		 lka_result_init(struct lka_result *);
void		 lka_result_free(struct lka_result *);
/*
 * One recipient: client is the numeric client address, sender may be ""
 * (the null path), rcpt is "local@domain" or "postmaster".  0 with the
 * answer in *out, or -1 if the input is malformed (smtpd validated it, so
 * the link is at fault).  *out must have been initialised; it is reset.
 */
int		 lka_decide(struct lka_tables *, const char *client,
		    const char *sender, const char *rcpt, struct lka_result *);
/* The same for a client that passed SMTP AUTH as authuser ("" if not):
 * `relay from authenticated' rules match it. */
int		 lka_decide_auth(struct lka_tables *, const char *client,
		    const char *sender, const char *rcpt, const char *authuser,
		    struct lka_result *);

/*
 * SMTP AUTH (lka_auth.c).  The table must be the `auth <table>' of a
 * listener; anything else is TEMPFAIL (smtpd asked for a table it was
 * not given).  done() is called exactly once, maybe before
 * lka_auth_start() returns (file, cdb and inline tables are answered at
 * once; an ldap table answers later, from the event loop).
 */
typedef void	 (*lka_auth_done)(void *arg, enum lka_auth_status);
void		 lka_auth_start(struct lka_tables *, const char *table,
		    const char *user, const char *password, lka_auth_done,
		    void *arg);
#define LKA_AUTH_USER_MAX	256	/* with NUL */
#define LKA_AUTH_PASS_MAX	256	/* with NUL */

/*
 * The relay of a message mxgate makes itself (a DSN) to rcpt: rule 7 at
 * the top of lka.c.  LKA_RELAY with one recipient and its relay, or
 * another status with text.  -1 if rcpt is not an address.
 */
int		 lka_route_local(struct lka_tables *, const char *rcpt,
		    struct lka_result *);

/* ---- explaining a decision (smtpctl test rcpt), lka_trace.c ---- */

/*
 * A sink for the steps of one decision.  The decision code itself writes
 * them as it goes (lka_decide_trace() sets out->trace); in the normal
 * path out->trace is NULL and each step costs one pointer test.
 */
struct lka_trace {
	void		(*line)(void *arg, const char *line);
	void		 *arg;
};

int		 lka_decide_trace(struct lka_tables *, const char *client,
		    const char *sender, const char *rcpt, struct lka_result *,
		    struct lka_trace *);
/* One step, indented by indent levels; nothing if tr is NULL. */
void		 lka_trace(struct lka_trace *tr, int indent, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));
/* One table lookup: table, backend, key, answer, the backend's note. */
void		 lka_trace_lookup(struct lka_trace *tr, int indent,
		    struct table *, const char *key, enum table_res,
		    const char *value);

/* The tables of a snapshot, for smtpctl table lookup / show tables. */
struct table	*lka_table_at(const struct lka_tables *, size_t);
struct table	*lka_table_named(const struct lka_tables *, const char *);
/* Counters of the tables of old carried to the same names in new. */
void		 lka_stats_carry(struct lka_tables *new,
		    const struct lka_tables *old);
/*
 * Reopen one table of the snapshot from tc and swap it in place of the
 * old one (one pointer per use, between two messages), with the checks
 * lka_load() makes for each rule that uses it.  0, or -1 with err and
 * the old table still in service.
 */
int		 lka_reload_table(struct lka_tables *,
		    const struct table_conf *, char *err, size_t errsz);

/* ---- internals shared by lka*.c ---- */

/* Appends a final recipient unless already there (case-insensitive).
 * 0 added or duplicate, -1 over LKA_EXPAND_MAX or out of memory. */
int		 lka_result_add(struct lka_result *, const char *addr);
void		 lka_result_set(struct lka_result *, enum lka_status,
		    const char *text);

/* The credentials table NAME of a listener, or NULL. */
struct table	*lka_auth_table(struct lka_tables *, const char *name);
/* Load-time check of every entry of a listable credentials table. */
int		 lka_auth_check_table(struct table *, char *err, size_t errsz);
/* lka_auth_ldap.c: the ldap backend of lka_auth_start(); done is called
 * later, from the event loop (or at once when nothing need be asked). */
void		 lka_auth_ldap(struct table *, const char *user,
		    const char *password, lka_auth_done, void *arg);

/* lka_alias.c */
enum table_res	 lka_alias_lookup(struct table *, const char *origin,
		    const char *addr, const char **valp);
/* Expands addr into out->rcpts; LKA_RELAY, or LKA_TEMPFAIL with text. */
enum lka_status	 lka_alias_expand(struct table *, const char *origin,
		    const char *addr, struct lka_result *out);
/* Load-time check of one alias value; 0 or -1 with why. */
int		 lka_alias_check(const char *value, const char *origin,
		    char *why, size_t whysz);


#endif
