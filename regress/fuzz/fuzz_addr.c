/*
 * RFC 5321 paths: addr_parse_path() with and without the null path,
 * addr_parse() on the bare mailbox, and addr_format() back.  Whatever
 * parses must format within ADDR_PATH_MAX and parse again to the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "addr.h"

static void
roundtrip(const struct mailaddr *a)
{
	struct mailaddr b;
	char buf[ADDR_PATH_MAX], path[ADDR_PATH_MAX + 2];
	const char *end;

	FUZZ_ASSERT(addr_format(a, buf, sizeof(buf)) == 0);
	snprintf(path, sizeof(path), "<%s>", buf);
	FUZZ_ASSERT(addr_parse_path(path, &b, 1, &end) == 0);
	FUZZ_ASSERT(*end == '\0');
	FUZZ_ASSERT(strcmp(a->local, b.local) == 0);
	FUZZ_ASSERT(strcmp(a->domain, b.domain) == 0);
	if (!addr_is_null(a) && a->domain[0] != '\0') {
		FUZZ_ASSERT(addr_parse(buf, &b) == 0);
		FUZZ_ASSERT(strcmp(a->local, b.local) == 0);
		FUZZ_ASSERT(strcmp(a->domain, b.domain) == 0);
	}
	b = *a;
	addr_lowercase_domain(&b);
	FUZZ_ASSERT(strcmp(a->local, b.local) == 0);
}

int
fuzz_addr(const uint8_t *data, size_t size)
{
	struct mailaddr a;
	const char *end;
	char *s, small[8];
	int null;

	s = fuzz_strndup(data, size);
	for (null = 0; null <= 1; null++) {
		end = NULL;
		if (addr_parse_path(s, &a, null, &end) == 0) {
			FUZZ_ASSERT(end > s && end <= s + strlen(s));
			FUZZ_ASSERT(end[-1] == '>');
			FUZZ_ASSERT(null || !addr_is_null(&a));
			roundtrip(&a);
			(void)addr_format(&a, small, sizeof(small));
		}
	}
	if (addr_parse(s, &a) == 0) {
		FUZZ_ASSERT(!addr_is_null(&a) && a.domain[0] != '\0');
		roundtrip(&a);
	}
	free(s);
	return 0;
}
