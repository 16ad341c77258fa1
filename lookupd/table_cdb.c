/*
 * cdb: tables, constant databases made by `smtpctl makemap` (tinycdb):
 * the file is mapped (cdb_init on an fd, then the fd is closed) and each
 * lookup is one hash probe, O(1) whatever the size of the table.
 *
 * Guarantees:
 * - a file whose structure does not hold is refused when the table is
 *   opened, with "PATH: why": shorter than its header, over 4 GB, a hash
 *   table pointer outside the file or inside the header, hash tables that
 *   do not tile the end of the file exactly (a truncated or overwritten
 *   file fails here);
 * - what cannot be checked in O(1) at open (a slot pointing outside the
 *   file) is checked by tinycdb at each lookup, and a lookup that hits it
 *   answers TABLE_FAIL with a log line: never a rejection;
 * - keys are stored lowercased by makemap; values are returned
 *   NUL-terminated, copied out of the map;
 * - closing a table never stalls lookups: in lookupd (table_cdb_init)
 *   the mapping is released a slice per tick, see "retiring" below.
 */
#include <sys/queue.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <event2/event.h>

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "table.h"

#define CDB_HDR_SIZE	2048	/* 256 (position, slots) pairs */

struct table_cdb {
	struct cdb	 cdb;
	int		 fd;		/* kept for retiring, see below */
	char		*key, *val;	/* copies handed out, NUL-terminated */
	size_t		 keysz, valsz;
};

static void	table_cdb_retire(struct table_cdb *);

static uint32_t
table_cdb_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * The header: 256 hash tables (position, number of 8-byte slots).  cdb_make
 * writes the records from 2048 on, then the hash tables back to back up
 * to the end of the file.  *nentries is half the slots (cdb_make makes
 * twice as many slots as records).
 */
static int
table_cdb_check(const unsigned char *hdr, uint64_t size, size_t *nentries,
    char *why, size_t whysz)
{
	uint64_t	pos, slots, dend = size, total = 0;
	size_t		i;

	for (i = 0; i < 256; i++) {
		pos = table_cdb_u32(hdr + 8 * i);
		slots = table_cdb_u32(hdr + 8 * i + 4);
		if (pos < CDB_HDR_SIZE || pos > size ||
		    slots > (size - pos) / 8) {
			snprintf(why, whysz, "hash table %zu at %llu (%llu "
			    "slots) is outside the file (%llu bytes)", i,
			    (unsigned long long)pos,
			    (unsigned long long)slots,
			    (unsigned long long)size);
			return -1;
		}
		if (slots > 0 && pos < dend)
			dend = pos;
		total += slots;
	}
	if (total > 0 && dend + total * 8 != size) {
		snprintf(why, whysz, "hash tables (%llu slots from %llu) do "
		    "not end the file (%llu bytes): truncated or not a cdb",
		    (unsigned long long)total, (unsigned long long)dend,
		    (unsigned long long)size);
		return -1;
	}
	*nentries = total / 2;
	return 0;
}

static void
table_cdb_free(struct table_cdb *tc)
{
	if (tc == NULL)
		return;
	if (tc->cdb.cdb_mem != NULL)
		table_cdb_retire(tc);
	else if (tc->fd != -1)
		close(tc->fd);
	free(tc->key);
	free(tc->val);
	free(tc);
}

static int
table_cdb_open(struct table *t, const struct table_conf *conf, char *err,
    size_t errsz)
{
	struct table_cdb	*tc;
	struct stat		 st;
	const unsigned char	*hdr;
	char			 why[256];
	int			 fd;

	if ((tc = calloc(1, sizeof(*tc))) == NULL) {
		snprintf(err, errsz, "%s: out of memory", t->path);
		return -1;
	}
	tc->fd = -1;
	if ((fd = open(t->path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errsz, "%s: %s", t->path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < CDB_HDR_SIZE ||
	    (uint64_t)st.st_size > UINT32_MAX) {
		snprintf(err, errsz, "%s: not a cdb file (%s, %lld bytes)",
		    t->path, S_ISREG(st.st_mode) ? "regular file" :
		    "not a regular file", (long long)st.st_size);
		goto fail;
	}
	if (cdb_init(&tc->cdb, fd) == -1) {
		snprintf(err, errsz, "%s: cannot map: %s", t->path,
		    strerror(errno));
		goto fail;
	}
	tc->fd = fd;		/* tc owns it now */
	fd = -1;
	if ((hdr = cdb_get(&tc->cdb, CDB_HDR_SIZE, 0)) == NULL ||
	    table_cdb_check(hdr, tc->cdb.cdb_fsize, &t->nentries, why,
	    sizeof(why)) == -1) {
		snprintf(err, errsz, "%s: corrupt cdb file: %s", t->path,
		    hdr == NULL ? "no header" : why);
		goto fail;
	}
	t->handle = tc;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	table_cdb_free(tc);
	return -1;
}

/* Copy len bytes at pos into *buf as a string; -1 if out of the file. */
static int
table_cdb_copy(struct table_cdb *tc, unsigned pos, unsigned len,
    char **buf, size_t *bufsz)
{
	const void	*p;
	char		*nb;

	if ((p = cdb_get(&tc->cdb, len, pos)) == NULL)
		return -1;
	if (len + 1 > *bufsz) {
		if ((nb = realloc(*buf, len + 1)) == NULL)
			return -1;
		*buf = nb;
		*bufsz = len + 1;
	}
	memcpy(*buf, p, len);
	(*buf)[len] = '\0';
	return 0;
}

static enum table_res
table_cdb_lookup(struct table *t, const char *key, const char **valp)
{
	struct table_cdb	*tc = t->handle;
	int			 r;

	r = cdb_find(&tc->cdb, key, strlen(key));
	if (r == 0)
		return TABLE_NOTFOUND;
	if (r < 0 || table_cdb_copy(tc, cdb_datapos(&tc->cdb),
	    cdb_datalen(&tc->cdb), &tc->val, &tc->valsz) == -1) {
		log_warnx("table %s: %s: lookup of \"%s\" failed: %s",
		    t->name, t->path, key, r < 0 ? "corrupt cdb file" :
		    "cannot read the value");
		return TABLE_FAIL;
	}
	*valp = tc->val;
	return TABLE_FOUND;
}

static int
table_cdb_foreach(struct table *t, table_foreach_cb cb, void *arg)
{
	struct table_cdb	*tc = t->handle;
	unsigned		 pos;
	int			 r;

	cdb_seqinit(&pos, &tc->cdb);
	while ((r = cdb_seqnext(&pos, &tc->cdb)) > 0) {
		if (table_cdb_copy(tc, cdb_keypos(&tc->cdb),
		    cdb_keylen(&tc->cdb), &tc->key, &tc->keysz) == -1 ||
		    table_cdb_copy(tc, cdb_datapos(&tc->cdb),
		    cdb_datalen(&tc->cdb), &tc->val, &tc->valsz) == -1) {
			r = -1;
			break;
		}
		if (cb(arg, tc->key, tc->val, 0) == -1)
			return -1;
	}
	if (r < 0) {
		log_warnx("table %s: %s: corrupt cdb file", t->name, t->path);
		return -1;
	}
	return 0;
}

static void
table_cdb_close(struct table *t)
{
	table_cdb_free(t->handle);
	t->handle = NULL;
}

/*
 * ---- retiring a closed table's mapping ----
 *
 * munmap() of a whole 50 MB table (1 M entries) whose file makemap has
 * replaced also frees the file's page cache in that call: about 10 ms
 * here, during which no lookup is answered.  With an event loop
 * (lookupd calls table_cdb_init), a closed table's mapping is released
 * TABLE_CDB_SLICE bytes per TABLE_CDB_TICK_MS tick instead: the slice is
 * unmapped and, if the file is gone (replaced or removed), its cached
 * pages are dropped with posix_fadvise(); the fd is closed last.  A file
 * still in place keeps its cache (a reload maps it again).  Without a
 * loop (tests, tools) the table is released at once.
 */

#define TABLE_CDB_SLICE		(2 * 1024 * 1024)
#define TABLE_CDB_TICK_MS	5

struct table_cdb_retired {
	TAILQ_ENTRY(table_cdb_retired) entry;
	unsigned char	*mem;
	size_t		 size, off;
	int		 fd;
	int		 gone;		/* the file has no name any more */
};

static TAILQ_HEAD(, table_cdb_retired) table_cdb_retiring =
    TAILQ_HEAD_INITIALIZER(table_cdb_retiring);
static struct event	*table_cdb_retire_ev;

static void
table_cdb_retire_tick(int fd, short ev, void *arg)
{
	struct table_cdb_retired	*r = TAILQ_FIRST(&table_cdb_retiring);
	struct timeval			 tv = { 0, TABLE_CDB_TICK_MS * 1000 };
	size_t				 n;

	if (r == NULL)
		return;
	n = r->size - r->off < TABLE_CDB_SLICE ? r->size - r->off :
	    TABLE_CDB_SLICE;
	munmap(r->mem + r->off, n);
	if (r->gone)
		posix_fadvise(r->fd, r->off, n, POSIX_FADV_DONTNEED);
	if ((r->off += n) >= r->size) {
		TAILQ_REMOVE(&table_cdb_retiring, r, entry);
		close(r->fd);
		free(r);
	}
	if (!TAILQ_EMPTY(&table_cdb_retiring))
		evtimer_add(table_cdb_retire_ev, &tv);
}

static void
table_cdb_retire(struct table_cdb *tc)
{
	struct table_cdb_retired	*r;
	struct stat			 st;
	struct timeval			 tv = { 0, TABLE_CDB_TICK_MS * 1000 };

	if (table_cdb_retire_ev == NULL || tc->fd == -1 ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
		cdb_free(&tc->cdb);
		if (tc->fd != -1)
			close(tc->fd);
		return;
	}
	r->mem = (unsigned char *)tc->cdb.cdb_mem;
	r->size = tc->cdb.cdb_fsize;
	r->fd = tc->fd;
	r->gone = fstat(r->fd, &st) == 0 && st.st_nlink == 0;
	tc->cdb.cdb_mem = NULL;
	tc->fd = -1;
	TAILQ_INSERT_TAIL(&table_cdb_retiring, r, entry);
	if (!evtimer_pending(table_cdb_retire_ev, NULL))
		evtimer_add(table_cdb_retire_ev, &tv);
}

void
table_cdb_init(struct event_base *base)
{
	if (table_cdb_retire_ev == NULL &&
	    (table_cdb_retire_ev = evtimer_new(base, table_cdb_retire_tick,
	    NULL)) == NULL)
		fatalx("cdb table timer");
}

const struct table_backend table_cdb_backend = {
	.name = "cdb",
	.open = table_cdb_open,
	.lookup = table_cdb_lookup,
	.foreach = table_cdb_foreach,
	.close = table_cdb_close,
};
