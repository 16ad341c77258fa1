/*
 * Inline tables, `table NAME { a, b, c }`: each value of the list is a
 * key with the value "".  Keys are lowercased like a file table's; a
 * repeated entry is harmless and kept once.  A value with white space in
 * it, `"key value"', is that key with that value (kept as it is), for
 * tables that need values such as credentials (`"alice \$6\$..."').
 */
#include <stdlib.h>
#include <string.h>

#include "table.h"

static int
table_inline_open(struct table *t, const struct table_conf *tc, char *err,
    size_t errsz)
{
	struct table_map	*map;
	char			*key, *value;
	size_t			 i, j;

	if ((map = table_map_new()) == NULL)
		goto nomem;
	for (i = 0; i < tc->nvalues; i++) {
		if ((key = strdup(tc->values[i])) == NULL)
			goto nomem;
		value = key + strcspn(key, " \t");
		if (*value != '\0') {
			*value++ = '\0';
			value += strspn(value, " \t");
		}
		for (j = 0; key[j] != '\0'; j++)
			if (key[j] >= 'A' && key[j] <= 'Z')
				key[j] = key[j] - 'A' + 'a';
		if (table_map_add(map, key, value, 0, NULL) == -1) {
			free(key);
			goto nomem;
		}
		free(key);
	}
	t->handle = map;
	t->nentries = table_map_count(map);
	return 0;
nomem:
	table_map_free(map);
	snprintf(err, errsz, "table %s: out of memory", t->name);
	return -1;
}

static enum table_res
table_inline_lookup(struct table *t, const char *key, const char **valp)
{
	const char *v;

	if ((v = table_map_get(t->handle, key)) == NULL)
		return TABLE_NOTFOUND;
	*valp = v;
	return TABLE_FOUND;
}

static int
table_inline_foreach(struct table *t, table_foreach_cb cb, void *arg)
{
	return table_map_foreach(t->handle, cb, arg);
}

static void
table_inline_close(struct table *t)
{
	table_map_free(t->handle);
	t->handle = NULL;
}

const struct table_backend table_inline_backend = {
	.name = "inline",
	.open = table_inline_open,
	.lookup = table_inline_lookup,
	.foreach = table_inline_foreach,
	.close = table_inline_close,
};
