/*
 * queued's envelope decoder, which reads spool files that may be corrupt
 * (quarantine).  A record that decodes must encode, and the encoding
 * must decode and encode again to the same bytes (envelope.h: the decoder
 * accepts only what the encoder writes, the encoder writes only what the
 * decoder accepts).  Also envelope_escape() / envelope_vis() on the input.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../queued/envelope.h"

int
fuzz_envelope(const uint8_t *data, size_t size)
{
	struct envelope env, env2;
	const char *why = NULL;
	char *enc, *enc2, *s, *esc, vis[64];
	size_t len, len2, i;

	if (envelope_decode(&env, (const char *)data, size, &why) == 0) {
		FUZZ_ASSERT(envelope_valid_id(env.id));
		FUZZ_ASSERT(envelope_pending(&env) <= env.nrcpt);
		for (i = 0; i < env.nrcpt; i++)
			FUZZ_ASSERT(envelope_state_name(env.rcpt[i].state) !=
			    NULL);
		enc = envelope_encode(&env, &len);
		FUZZ_ASSERT(enc != NULL);
		/* the decoder accepts only what the encoder writes */
		if (size >= 18 && memcmp(data, "mxgate-envelope 2\n", 18) == 0)
			FUZZ_ASSERT(len == size && memcmp(enc, data, len) == 0);
		FUZZ_ASSERT(envelope_decode(&env2, enc, len, &why) == 0);
		enc2 = envelope_encode(&env2, &len2);
		FUZZ_ASSERT(enc2 != NULL);
		FUZZ_ASSERT(len == len2 && memcmp(enc, enc2, len) == 0);
		free(enc);
		free(enc2);
		envelope_clear(&env2);
		envelope_clear(&env);
	} else {
		FUZZ_ASSERT(why != NULL);
		FUZZ_ASSERT(env.rcpt == NULL && env.sender == NULL);
	}

	s = fuzz_strndup(data, size < 4096 ? size : 4096);
	esc = envelope_escape(s);
	FUZZ_ASSERT(esc != NULL);
	for (i = 0; esc[i] != '\0'; i++)
		FUZZ_ASSERT(esc[i] >= 0x21 && esc[i] <= 0x7e);
	envelope_vis(vis, sizeof(vis), s);
	FUZZ_ASSERT(strlen(vis) < sizeof(vis));
	free(esc);
	free(s);
	return 0;
}
