/*
 * Relay strings (from envelopes and lookupd): mta_relay_parse() and
 * mta_relay_name(); a parsed relay formats within MTA_RELAY_NAME_MAX.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../mtad/mta_relay.h"

int
fuzz_mta_relay(const uint8_t *data, size_t size)
{
	struct mta_relay r;
	const char *why = NULL;
	char name[MTA_RELAY_NAME_MAX], small[6];
	char *s;

	s = fuzz_strndup(data, size);
	if (mta_relay_parse(s, &r, &why) == 0) {
		FUZZ_ASSERT(memchr(r.host, '\0', sizeof(r.host)) != NULL);
		FUZZ_ASSERT(r.host[0] != '\0');
		if (r.numeric) {
			FUZZ_ASSERT(r.family == AF_INET || r.family == AF_INET6);
			FUZZ_ASSERT(r.sslen > 0 && r.sslen <= sizeof(r.ss));
			FUZZ_ASSERT(!r.mx);
		}
		mta_relay_name(&r, name, sizeof(name));
		FUZZ_ASSERT(strlen(name) < sizeof(name));
		mta_relay_name(&r, small, sizeof(small));
		FUZZ_ASSERT(strlen(small) < sizeof(small));
	} else
		FUZZ_ASSERT(why != NULL);
	free(s);
	return 0;
}
