/*
 * file: tables, Postfix format (common/tablefile.c), read whole into an
 * in-memory map when the config is applied.  A file that does not parse
 * fails the load with "file:line: why"; duplicates keep the first entry,
 * as postmap(1) does, with a warning naming both lines.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "table.h"
#include "tablefile.h"

struct table_file_load {
	struct table	*t;
	struct table_map *map;
};

static int
table_file_entry(void *arg, const char *key, const char *value,
    size_t lineno, char *why, size_t whysz)
{
	struct table_file_load	*ld = arg;
	size_t			 first = 0;

	switch (table_map_add(ld->map, key, value, lineno, &first)) {
	case 0:
		return 0;
	case 1:
		log_warnx("%s:%zu: duplicate entry \"%s\", keeping the one "
		    "of line %zu", ld->t->path, lineno, key, first);
		return 0;
	default:
		snprintf(why, whysz, "out of memory");
		return -1;
	}
}

static int
table_file_open(struct table *t, const struct table_conf *tc, char *err,
    size_t errsz)
{
	struct table_file_load ld;

	ld.t = t;
	if ((ld.map = table_map_new()) == NULL) {
		snprintf(err, errsz, "%s: out of memory", t->path);
		return -1;
	}
	if (tablefile_parse_file(t->path, table_file_entry, &ld, err,
	    errsz) == -1) {
		table_map_free(ld.map);
		return -1;
	}
	t->handle = ld.map;
	t->nentries = table_map_count(ld.map);
	return 0;
}

static enum table_res
table_file_lookup(struct table *t, const char *key, const char **valp)
{
	const char *v;

	if ((v = table_map_get(t->handle, key)) == NULL)
		return TABLE_NOTFOUND;
	*valp = v;
	return TABLE_FOUND;
}

static int
table_file_foreach(struct table *t, table_foreach_cb cb, void *arg)
{
	return table_map_foreach(t->handle, cb, arg);
}

static void
table_file_close(struct table *t)
{
	table_map_free(t->handle);
	t->handle = NULL;
}

const struct table_backend table_file_backend = {
	.name = "file",
	.open = table_file_open,
	.lookup = table_file_lookup,
	.foreach = table_file_foreach,
	.close = table_file_close,
};
