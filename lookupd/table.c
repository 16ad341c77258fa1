/*
 * The table interface and the in-memory map the file and inline backends
 * share.
 *
 * Guarantees:
 * - a table is opened completely or not at all (table_open() returns NULL
 *   and the caller keeps whatever it had before);
 * - a backend that cannot answer says TABLE_FAIL, which the decision turns
 *   into a temporary failure: a fault of ours never becomes a 5xx.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "log.h"
#include "table.h"
#include "tablefile.h"

#define TABLE_KEY_MAX	(TABLEFILE_LINE_MAX + 1)

/* ---- the interface ---- */

/* Every table open in this process, the last opened first. */
static TAILQ_HEAD(, table) table_list = TAILQ_HEAD_INITIALIZER(table_list);

struct table *
table_open(const struct table_conf *tc, char *err, size_t errsz)
{
	struct table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errsz, "table %s: out of memory", tc->name);
		return NULL;
	}
	strlcpy(t->name, tc->name, sizeof(t->name));
	if (tc->type != TABLE_INLINE)
		strlcpy(t->path, tc->path, sizeof(t->path));
	t->type = tc->type;
	switch (tc->type) {
	case TABLE_INLINE:
		t->backend = &table_inline_backend;
		break;
	case TABLE_FILE:
		t->backend = &table_file_backend;
		break;
	case TABLE_CDB:
		t->backend = &table_cdb_backend;
		break;
	case TABLE_LDAP:
		t->backend = &table_ldap_backend;
		break;
	}
	if (t->backend->open(t, tc, err, errsz) == -1) {
		free(t);
		return NULL;
	}
	t->stats.loaded = time(NULL);
	TAILQ_INSERT_HEAD(&table_list, t, entry);
	return t;
}

void
table_close(struct table *t)
{
	if (t == NULL)
		return;
	TAILQ_REMOVE(&table_list, t, entry);
	t->backend->close(t);
	free(t);
}

struct table *
table_find_open(const char *name)
{
	struct table *t;

	TAILQ_FOREACH(t, &table_list, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

void
table_stamp(const char *path, struct table_stamp *ts)
{
	struct stat st;

	memset(ts, 0, sizeof(*ts));
	if (stat(path, &st) == -1) {
		ts->err = errno ? errno : EIO;
		return;
	}
	ts->dev = st.st_dev;
	ts->ino = st.st_ino;
	ts->size = st.st_size;
	ts->mtime = st.st_mtim;
	ts->ctime = st.st_ctim;
}

int
table_stamp_eq(const struct table_stamp *a, const struct table_stamp *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

const char *
table_kind_name(const struct table *t)
{
	switch (t->type) {
	case TABLE_INLINE:
		return "inline";
	case TABLE_FILE:
		return "file";
	case TABLE_CDB:
		return "cdb";
	case TABLE_LDAP:
		return "ldap";
	}
	return "unknown";
}

/* The counters of smtpctl show tables; one add per lookup. */
static enum table_res
table_count(struct table *t, enum table_res r)
{
	t->stats.lookups++;
	if (r == TABLE_FOUND)
		t->stats.hits++;
	else if (r == TABLE_NOTFOUND)
		t->stats.misses++;
	else
		t->stats.errors++;
	return r;
}

enum table_res
table_lookup(struct table *t, const char *key, const char **valp)
{
	char		 lkey[TABLE_KEY_MAX];
	const char	*dummy;
	struct table_waiter *w;
	enum table_res	 r;
	size_t		 i, pending;

	if (valp == NULL)
		valp = &dummy;
	*valp = NULL;
	for (i = 0; key[i] != '\0'; i++) {
		if (i + 1 >= sizeof(lkey))
			return table_count(t, TABLE_NOTFOUND); /* none as long */
		lkey[i] = (key[i] >= 'A' && key[i] <= 'Z') ?
		    key[i] - 'A' + 'a' : key[i];
	}
	lkey[i] = '\0';
	w = table_waiter_current();
	pending = w != NULL ? w->pending : 0;
	r = t->backend->lookup(t, lkey, valp);
	if (r == TABLE_FAIL && w != NULL && w->pending > pending)
		return r;	/* a directory is asked: the rerun counts it */
	return table_count(t, r);
}

enum table_res
table_lookup_domain(struct table *t, const char *domain, int wildcard,
    const char **valp)
{
	char		 key[TABLE_KEY_MAX];
	const char	*p;
	enum table_res	 r;

	if ((r = table_lookup(t, domain, valp)) != TABLE_NOTFOUND)
		return r;
	for (p = strchr(domain, '.'); p != NULL && p[1] != '\0';
	    p = strchr(p + 1, '.')) {
		/* p points at ".parent" */
		if (strlcpy(key, p, sizeof(key)) >= sizeof(key))
			continue;
		if ((r = table_lookup(t, key, valp)) != TABLE_NOTFOUND)
			return r;
	}
	if (wildcard)
		return table_lookup(t, "*", valp);
	return TABLE_NOTFOUND;
}

int
table_can_list(const struct table *t)
{
	return t->backend->foreach != NULL;
}

int
table_foreach(struct table *t, table_foreach_cb cb, void *arg)
{
	if (t->backend->foreach == NULL)
		return -1;
	return t->backend->foreach(t, cb, arg);
}

/* ---- the in-memory map ---- */

struct table_map_entry {
	uint32_t	 hash;
	uint32_t	 next;		/* index + 1 in entries, 0 ends */
	size_t		 lineno;
	char		*key;		/* one allocation: key NUL value NUL */
	const char	*value;
};

struct table_map {
	struct table_map_entry	*entries;
	size_t			 n, cap;
	uint32_t		*buckets;	/* index + 1, 0 empty */
	size_t			 nbuckets;	/* power of two */
};

static uint32_t
table_map_hash(const char *s)
{
	uint32_t h = 2166136261u;		/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

struct table_map *
table_map_new(void)
{
	return calloc(1, sizeof(struct table_map));
}

void
table_map_free(struct table_map *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		free(m->entries[i].key);
	free(m->entries);
	free(m->buckets);
	free(m);
}

size_t
table_map_count(const struct table_map *m)
{
	return m->n;
}

/* Double the buckets (load factor at most 1) and rechain. */
static int
table_map_grow(struct table_map *m)
{
	uint32_t	*b;
	size_t		 nb = m->nbuckets ? m->nbuckets * 2 : 64, i;

	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return -1;
	for (i = 0; i < m->n; i++) {
		m->entries[i].next = b[m->entries[i].hash & (nb - 1)];
		b[m->entries[i].hash & (nb - 1)] = i + 1;
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
	return 0;
}

static struct table_map_entry *
table_map_find(const struct table_map *m, const char *key, uint32_t h)
{
	uint32_t i;

	if (m->nbuckets == 0)
		return NULL;
	for (i = m->buckets[h & (m->nbuckets - 1)]; i != 0;
	    i = m->entries[i - 1].next)
		if (m->entries[i - 1].hash == h &&
		    strcmp(m->entries[i - 1].key, key) == 0)
			return &m->entries[i - 1];
	return NULL;
}

int
table_map_add(struct table_map *m, const char *key, const char *value,
    size_t lineno, size_t *firstline)
{
	struct table_map_entry	*e;
	uint32_t		 h = table_map_hash(key);
	size_t			 klen = strlen(key), vlen = strlen(value), b;

	if ((e = table_map_find(m, key, h)) != NULL) {
		if (firstline != NULL)
			*firstline = e->lineno;
		return 1;
	}
	if (m->n >= UINT32_MAX - 1)
		return -1;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;

		if ((e = reallocarray(m->entries, cap, sizeof(*e))) == NULL)
			return -1;
		m->entries = e;
		m->cap = cap;
	}
	if (m->n >= m->nbuckets && table_map_grow(m) == -1)
		return -1;
	e = &m->entries[m->n];
	if ((e->key = malloc(klen + vlen + 2)) == NULL)
		return -1;
	memcpy(e->key, key, klen + 1);
	memcpy(e->key + klen + 1, value, vlen + 1);
	e->value = e->key + klen + 1;
	e->hash = h;
	e->lineno = lineno;
	b = h & (m->nbuckets - 1);
	e->next = m->buckets[b];
	m->buckets[b] = m->n + 1;
	m->n++;
	return 0;
}

const char *
table_map_get(const struct table_map *m, const char *key)
{
	struct table_map_entry *e;

	if ((e = table_map_find(m, key, table_map_hash(key))) == NULL)
		return NULL;
	return e->value;
}

int
table_map_foreach(const struct table_map *m, table_foreach_cb cb, void *arg)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (cb(arg, m->entries[i].key, m->entries[i].value,
		    m->entries[i].lineno) == -1)
			return -1;
	return 0;
}
