/*
 * Tables: every `table NAME type:...` of the config behind one interface,
 * one file per backend (table_file.c, table_inline.c, table_cdb.c,
 * table_ldap.c).
 *
 * Keys are compared case-insensitively: backends store them lowercased
 * and table_lookup() lowercases the key it is given.  A lookup has three
 * outcomes; TABLE_FAIL means "cannot say" and must become a temporary
 * failure, never a rejection.
 */
#ifndef MXGATE_TABLE_H
#define MXGATE_TABLE_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"

enum table_res {
	TABLE_FOUND,
	TABLE_NOTFOUND,
	TABLE_FAIL		/* backend cannot answer; already logged */
};

/* lineno: where the entry was defined, 0 if not from a file. */
typedef int (*table_foreach_cb)(void *arg, const char *key,
    const char *value, size_t lineno);

struct table;

struct table_backend {
	const char	*name;		/* "file", "inline", ... */
	/* Loads everything; 0, or -1 with "file:line: why" in err. */
	int		(*open)(struct table *, const struct table_conf *,
			    char *err, size_t errsz);
	/* key is lowercased; *valp stays valid until the next lookup. */
	enum table_res	(*lookup)(struct table *, const char *key,
			    const char **valp);
	/* NULL when the backend cannot list its keys (directories). */
	int		(*foreach)(struct table *, table_foreach_cb, void *arg);
	void		(*close)(struct table *);
	/*
	 * Optional, for smtpctl (NULL: nothing to add).  explain: a note on
	 * the last lookup, e.g. "cache hit, age 12s", "" for none.  status:
	 * the backend's own `smtpctl show tables` fields, e.g. its cache
	 * sizes ("cache=120/8"), "" for none.
	 */
	void		(*explain)(struct table *, char *buf, size_t bufsz);
	void		(*status)(struct table *, char *buf, size_t bufsz);
};

/* Counted by table_lookup(), kept across reloads of the same table. */
struct table_stats {
	uint64_t	 lookups, hits, misses, errors;
	time_t		 loaded;	/* last (re)load, time(3) */
};

struct table {
	char			 name[CONF_NAME_MAX];
	char			 path[PATH_MAX];	/* "" for inline */
	enum table_type		 type;
	const struct table_backend *backend;
	void			*handle;		/* the backend's */
	size_t			 nentries;
	struct table_stats	 stats;
	TAILQ_ENTRY(table)	 entry;			/* the open tables */
};

extern const struct table_backend table_file_backend;
extern const struct table_backend table_inline_backend;
extern const struct table_backend table_cdb_backend;
extern const struct table_backend table_ldap_backend;

/*
 * Asynchronous lookups (ldap tables).  lookupd marks the decision it is
 * about to run with table_waiter_set(w) (pending 0), and clears it after.
 * A backend that must ask a server first starts (or joins) the query,
 * attaches the current waiter (pending++) and answers TABLE_FAIL, which
 * ends the decision.  If pending > 0 afterwards, the answer is not a
 * failure: lookupd keeps the request, and when each query it waits on
 * has ended (answer cached) the backend calls wake(w) once pending is 0;
 * lookupd then runs the decision again from the start.  With no waiter
 * set (tests, tools), the query still starts and the lookup fails.
 */
struct table_waiter {
	size_t	 pending;
	void	(*wake)(struct table_waiter *);
};

void		 table_waiter_set(struct table_waiter *);
struct table_waiter *table_waiter_current(void);

/* ldap tables: the loop their connections run on (before the first
 * table_open of an ldap table); after table_ldap_lock() (called before
 * the sandbox) a config naming a new ldap file is refused. */
void		 table_ldap_init(struct event_base *);
void		 table_ldap_lock(void);
int		 table_ldap_count(void);	/* directories open */

/* cdb tables: the loop that releases a closed table's mapping a slice
 * at a time (see table_cdb.c); without it, closing releases at once. */
void		 table_cdb_init(struct event_base *);

/* What an ldap table holds now, for statistics (smtpctl show tables). */
struct table_ldap_stats {
	size_t		 cached;	/* cache entries, all kinds */
	size_t		 inflight;	/* keys being asked */
	const char	*server;	/* URL in use or tried last */
};
/* 0, or -1 if t is not an ldap table. */
int		 table_ldap_stats(const struct table *,
		    struct table_ldap_stats *);

/* An ldap table as credentials (lka_auth_ldap.c): its directory's
 * settings (bind password wiped) and service connection, which live as
 * long as the process; NULL if t is not an open ldap table. */
struct ldap_conf;
struct ldap_conn;
struct ldap_conn *table_ldap_dir(const struct table *,
		    const struct ldap_conf **);

/* Loads a table; NULL with err set ("file:line: why") on failure. */
struct table	*table_open(const struct table_conf *, char *err, size_t errsz);
void		 table_close(struct table *);
/* Plain key lookup (lowercased here). *valp may be NULL. */
enum table_res	 table_lookup(struct table *, const char *key,
		    const char **valp);
/*
 * Domain lookup: the domain itself, then ".parent" for each parent
 * (".example.com" matches sub.example.com and a.sub.example.com, never
 * example.com), then "*" if wildcard.
 */
enum table_res	 table_lookup_domain(struct table *, const char *domain,
		    int wildcard, const char **valp);
/* Every entry, in no particular order; -1 if the backend cannot list or
 * cb returned -1. */
int		 table_foreach(struct table *, table_foreach_cb, void *arg);
/* Whether table_foreach() works for this table. */
int		 table_can_list(const struct table *);
/* "file", "cdb", ...: the kind of table, for administrators. */
const char	*table_kind_name(const struct table *);
/* The table NAME opened last and not closed yet, or NULL. */
struct table	*table_find_open(const char *name);

/*
 * What a table file looks like on disk, to notice that it changed:
 * a rename over it (new inode), a rewrite (size, mtime, ctime), its
 * removal (err).  Cheap: one stat(2).
 */
struct table_stamp {
	int		 err;		/* errno of stat(2), 0 if it worked */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime, ctime;
};

void		 table_stamp(const char *path, struct table_stamp *);
int		 table_stamp_eq(const struct table_stamp *,
		    const struct table_stamp *);

/*
 * The in-memory map behind the file and inline backends: a chained hash
 * table of lowercased keys.  Keys come only from the administrator's
 * files, never from the network, so no flooding-resistant hash is needed.
 */
struct table_map;

struct table_map *table_map_new(void);
void		 table_map_free(struct table_map *);
/* 0 added, 1 duplicate key (the first stays; *firstline set), -1 ENOMEM.
 * The key must already be lowercased. */
int		 table_map_add(struct table_map *, const char *key,
		    const char *value, size_t lineno, size_t *firstline);
const char	*table_map_get(const struct table_map *, const char *key);
size_t		 table_map_count(const struct table_map *);
int		 table_map_foreach(const struct table_map *, table_foreach_cb,
		    void *arg);

#endif
