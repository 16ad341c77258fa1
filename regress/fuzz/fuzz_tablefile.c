/*
 * Postfix-format table files: tablefile_parse_buffer() with a callback
 * that checks each entry against tablefile.h (key non-empty, lowercase,
 * no blanks; value trimmed; entry within TABLEFILE_ENTRY_MAX; line
 * numbers increasing) and refuses a key "reject" to exercise that path.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "tablefile.h"

struct tf_state {
	size_t	lastline;
	size_t	entries;
};

static int
tf_entry(void *arg, const char *key, const char *value, size_t lineno,
    char *why, size_t whysz)
{
	struct tf_state *st = arg;
	size_t klen, vlen, i;

	klen = strlen(key);
	vlen = strlen(value);
	FUZZ_ASSERT(klen > 0);
	FUZZ_ASSERT(klen + vlen <= TABLEFILE_ENTRY_MAX);
	for (i = 0; i < klen; i++) {
		FUZZ_ASSERT(key[i] != ' ' && key[i] != '\t');
		FUZZ_ASSERT(key[i] != '\n');	/* a lone CR is a plain byte */
		FUZZ_ASSERT(!(key[i] >= 'A' && key[i] <= 'Z'));
	}
	FUZZ_ASSERT(key[0] != '#');
	if (vlen > 0) {
		FUZZ_ASSERT(value[0] != ' ' && value[0] != '\t');
		FUZZ_ASSERT(value[vlen - 1] != ' ' && value[vlen - 1] != '\t');
	}
	FUZZ_ASSERT(strchr(value, '\n') == NULL);
	FUZZ_ASSERT(lineno > st->lastline);
	st->lastline = lineno;
	st->entries++;
	if (strcmp(key, "reject") == 0) {
		snprintf(why, whysz, "refused by the fuzzer");
		return -1;
	}
	return 0;
}

int
fuzz_tablefile(const uint8_t *data, size_t size)
{
	struct tf_state st = { 0, 0 };
	char err[512];

	err[0] = '\0';
	if (tablefile_parse_buffer((const char *)data, size, "fuzz", tf_entry,
	    &st, err, sizeof(err)) == -1) {
		FUZZ_ASSERT(err[0] != '\0');
		FUZZ_ASSERT(strncmp(err, "fuzz", 4) == 0);
	}
	return 0;
}
