/*
 * The config grammar: conf_parse_buffer() on the input, then the
 * guarantee of config.h: the printed form parses back to the same
 * structure (printed again, byte for byte the same text).  Inputs that
 * mention "include" are skipped, so the harness never reads files.
 * Parse errors go to stderr (run the fuzzer with -close_fd_mask=2).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"

int
fuzz_conf(const uint8_t *data, size_t size)
{
	struct mxgate_conf conf, again;
	char *text, *text2;
	size_t len, len2;

	if (memmem(data, size, "include", 7) != NULL)
		return 0;
	conf_init(&conf);
	if (conf_parse_buffer(&conf, (const char *)data, size,
	    "/fuzz/mxgate.conf") == 0) {
		text = conf_to_string(&conf, &len);
		FUZZ_ASSERT(text != NULL);
		conf_init(&again);
		FUZZ_ASSERT(conf_parse_buffer(&again, text, len,
		    "/fuzz/normalised.conf") == 0);
		text2 = conf_to_string(&again, &len2);
		FUZZ_ASSERT(text2 != NULL);
		FUZZ_ASSERT(len == len2 && memcmp(text, text2, len) == 0);
		free(text);
		free(text2);
		conf_free(&again);
	}
	conf_free(&conf);
	return 0;
}
