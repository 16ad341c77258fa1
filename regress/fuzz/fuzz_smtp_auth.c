/*
 * SMTP AUTH (smtpd/smtp_auth.c): the input is lines separated by LF,
 * the first one AUTH's argument, the others the client's responses to
 * the 334 challenges, as smtp_session.c feeds them.  Checks that a
 * decoded base64 string encodes back to the same text (strictness: one
 * meaning per string), that user names handed on are printable without
 * spaces, and that an error reply ends the exchange and wipes it.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../smtpd/smtp_auth.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
encode(const unsigned char *in, size_t len, char *out)
{
	size_t		 i;
	unsigned	 v;

	for (i = 0; i + 2 < len; i += 3, out += 4) {
		v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];
		out[0] = b64[v >> 18];
		out[1] = b64[(v >> 12) & 63];
		out[2] = b64[(v >> 6) & 63];
		out[3] = b64[v & 63];
	}
	if (len - i == 1) {
		v = in[i] << 16;
		memcpy(out, (char[]){ b64[v >> 18], b64[(v >> 12) & 63], '=',
		    '=' }, 4);
		out += 4;
	} else if (len - i == 2) {
		v = in[i] << 16 | in[i + 1] << 8;
		memcpy(out, (char[]){ b64[v >> 18], b64[(v >> 12) & 63],
		    b64[(v >> 6) & 63], '=' }, 4);
		out += 4;
	}
	*out = '\0';
}

static void
check_decode(const char *line)
{
	unsigned char	 out[1024];
	char		 back[1400];
	ssize_t		 n;

	if ((n = smtp_base64_decode(line, out, sizeof(out))) == -1)
		return;
	FUZZ_ASSERT((size_t)n <= sizeof(out));
	encode(out, n, back);
	FUZZ_ASSERT(strcmp(back, line) == 0);
}

static void
check_step(struct smtp_auth *a, enum smtp_auth_next next, const char *reply)
{
	size_t	 i;

	switch (next) {
	case SMTP_AUTH_REPLY:
		FUZZ_ASSERT(reply[0] == '5' && strlen(reply) > 4);
		FUZZ_ASSERT(a->mech == SMTP_AUTH_NONE && a->pass[0] == '\0');
		break;
	case SMTP_AUTH_CHALLENGE:
		FUZZ_ASSERT(strncmp(reply, "334 ", 4) == 0);
		break;
	case SMTP_AUTH_CHECK:
		FUZZ_ASSERT(a->mech != SMTP_AUTH_NONE && a->user[0] != '\0');
		for (i = 0; a->user[i] != '\0'; i++)
			FUZZ_ASSERT(a->user[i] >= 0x21 && a->user[i] <= 0x7e);
		FUZZ_ASSERT(strlen(a->pass) < sizeof(a->pass));
		break;
	}
}

int
fuzz_smtp_auth(const uint8_t *data, size_t size)
{
	struct smtp_auth	 a;
	enum smtp_auth_next	 next;
	char			 reply[SMTP_AUTH_REPLY_MAX];
	char			*text, *line, *nl;
	int			 first = 1;

	memset(&a, 0, sizeof(a));
	text = fuzz_strndup(data, size);
	for (line = text; line != NULL; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		check_decode(line);
		if (first)
			next = smtp_auth_begin(&a, line, reply, sizeof(reply));
		else
			next = smtp_auth_response(&a, line, reply,
			    sizeof(reply));
		check_step(&a, next, reply);
		first = next != SMTP_AUTH_CHALLENGE;
	}
	smtp_auth_wipe(&a);
	free(text);
	return 0;
}
