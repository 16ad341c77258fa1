/*
 * smtpctl makemap: Postfix-format source file -> FILE.cdb (tinycdb).
 *
 * Guarantees: the database is written to a temporary file in the same
 * directory, fsynced, renamed over FILE.cdb and the directory fsynced, so
 * lookupd (which watches the file) maps either the old database or the
 * new one, never a partial one.  A source that does not parse leaves the
 * old database in place.  Keys are the parser's (lowercased); duplicates
 * keep the first entry, as the file: backend and postmap(1) do.
 */
#include <sys/stat.h>

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "makemap.h"
#include "tablefile.h"

/* The keys seen so far, to keep the first of duplicates (chained hash). */
struct makemap_key {
	struct makemap_key	*next;
	size_t			 lineno;
	char			 key[];
};

struct makemap_state {
	const char		 *src;
	struct cdb_make		  cdbm;
	struct makemap_key	**buckets;
	size_t			  nbuckets;	/* power of two */
	size_t			  n;
};

static int
makemap_seen(struct makemap_state *st, const char *key, size_t lineno,
    size_t *first)
{
	struct makemap_key	**b, *k, *next;
	size_t			  i, nb, klen = strlen(key);
	unsigned		  h;

	if (st->n >= st->nbuckets) {	/* load factor at most 1 */
		nb = st->nbuckets ? st->nbuckets * 2 : 1024;
		if ((b = calloc(nb, sizeof(*b))) == NULL)
			return -1;
		for (i = 0; i < st->nbuckets; i++)
			for (k = st->buckets[i]; k != NULL; k = next) {
				next = k->next;
				h = cdb_hash(k->key, strlen(k->key));
				k->next = b[h & (nb - 1)];
				b[h & (nb - 1)] = k;
			}
		free(st->buckets);
		st->buckets = b;
		st->nbuckets = nb;
	}
	h = cdb_hash(key, klen);
	for (k = st->buckets[h & (st->nbuckets - 1)]; k != NULL; k = k->next)
		if (strcmp(k->key, key) == 0) {
			*first = k->lineno;
			return 1;
		}
	if ((k = malloc(sizeof(*k) + klen + 1)) == NULL)
		return -1;
	memcpy(k->key, key, klen + 1);
	k->lineno = lineno;
	k->next = st->buckets[h & (st->nbuckets - 1)];
	st->buckets[h & (st->nbuckets - 1)] = k;
	st->n++;
	return 0;
}

static int
makemap_entry(void *arg, const char *key, const char *value, size_t lineno,
    char *why, size_t whysz)
{
	struct makemap_state	*st = arg;
	size_t			 first = 0;

	switch (makemap_seen(st, key, lineno, &first)) {
	case 0:
		break;
	case 1:
		fprintf(stderr, "smtpctl: %s:%zu: duplicate entry \"%s\", "
		    "keeping the one of line %zu\n", st->src, lineno, key,
		    first);
		return 0;
	default:
		snprintf(why, whysz, "out of memory");
		return -1;
	}
	if (cdb_make_add(&st->cdbm, key, strlen(key), value,
	    strlen(value)) == -1) {
		snprintf(why, whysz, "cdb: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
makemap_free(struct makemap_state *st)
{
	struct makemap_key	*k, *next;
	size_t			 i;

	for (i = 0; i < st->nbuckets; i++)
		for (k = st->buckets[i]; k != NULL; k = next) {
			next = k->next;
			free(k);
		}
	free(st->buckets);
}

/* fsync the directory holding path, so the rename is durable. */
static int
makemap_sync_dir(const char *path)
{
	char	copy[PATH_MAX];
	int	fd, rc;

	strlcpy(copy, path, sizeof(copy));
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
makemap(const char *src, const char *dst, size_t *nentries, char *err,
    size_t errsz)
{
	struct makemap_state	st;
	struct stat		sb;
	char			tmp[PATH_MAX], dir[PATH_MAX], base[PATH_MAX];
	int			fd = -1, made = 0;

	memset(&st, 0, sizeof(st));
	st.src = src;
	strlcpy(dir, dst, sizeof(dir));
	strlcpy(base, dst, sizeof(base));
	if (stat(src, &sb) == -1) {
		snprintf(err, errsz, "%s: %s", src, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX",
	    dirname(dir), basename(base)) >= sizeof(tmp)) {
		snprintf(err, errsz, "%s: path too long", dst);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (cdb_make_start(&st.cdbm, fd) == -1) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	made = 1;
	if (tablefile_parse_file(src, makemap_entry, &st, err, errsz) == -1)
		goto fail;
	made = 0;
	if (cdb_make_finish(&st.cdbm) == -1 ||
	    fchmod(fd, sb.st_mode & 0666) == -1 || fsync(fd) == -1) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) == -1) {
		snprintf(err, errsz, "%s: %s", dst, strerror(errno));
		goto fail;
	}
	if (makemap_sync_dir(dst) == -1) {
		snprintf(err, errsz, "%s: fsync of its directory: %s", dst,
		    strerror(errno));
		makemap_free(&st);
		return -1;
	}
	*nentries = st.n;
	makemap_free(&st);
	return 0;
fail:
	if (made)
		cdb_make_finish(&st.cdbm);	/* frees its memory */
	if (fd != -1)
		close(fd);
	unlink(tmp);
	makemap_free(&st);
	return -1;
}

int
makemap_main(int argc, char **argv)
{
	char	dst[PATH_MAX], err[1024];
	size_t	n;

	if (argc != 2) {
		fprintf(stderr, "usage: smtpctl makemap file\n");
		return 2;
	}
	if ((size_t)snprintf(dst, sizeof(dst), "%s.cdb", argv[1]) >=
	    sizeof(dst)) {
		fprintf(stderr, "smtpctl: %s: path too long\n", argv[1]);
		return 1;
	}
	if (makemap(argv[1], dst, &n, err, sizeof(err)) == -1) {
		fprintf(stderr, "smtpctl: %s\n", err);
		return 1;
	}
	printf("%s: %zu entries\n", dst, n);
	return 0;
}
