/* Helpers shared by the harnesses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	const uint8_t *nul;
	char *s;

	if ((nul = memchr(data, '\0', size)) != NULL)
		size = nul - data;
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

void
fuzz_assert(int cond, const char *what, const char *file, int line)
{
	if (cond)
		return;
	fprintf(stderr, "%s:%d: guarantee broken: %s\n", file, line, what);
	abort();
}
