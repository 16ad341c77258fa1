/*
 * The reply to a RCPT for lookupd's answer; see rcpt_reply.h.
 * Guarantee: a fault of ours (LKA_TEMPFAIL, an empty relay) is a 451,
 * never a 5xx.
 */
#include <stdio.h>

#include <bsd/string.h>

#include "rcpt_reply.h"

static void
rcpt_reply_printable(const char *in, char *out, size_t len)
{
	size_t	 i;

	for (i = 0; in[i] != '\0' && i + 1 < len; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
}

void
rcpt_reply(char *buf, size_t bufsz, enum lka_status status,
    const char *rcpt, const char *text, size_t nrcpts)
{
	char	t[256];

	rcpt_reply_printable(text, t, sizeof(t));
	switch (status) {
	case LKA_RELAY:
		if (nrcpts > 0) {
			strlcpy(buf, RCPT_REPLY_ACCEPT, bufsz);
			break;
		}
		/* FALLTHROUGH */
	case LKA_TEMPFAIL:
	default:
		snprintf(buf, bufsz, "451 4.3.0 <%s>: Temporary lookup "
		    "failure", rcpt);
		break;
	case LKA_UNKNOWN_USER:
		snprintf(buf, bufsz, "550 5.1.1 <%s>: Recipient address "
		    "rejected: %s", rcpt, t[0] ? t : "User unknown");
		break;
	case LKA_RELAY_DENIED:
		snprintf(buf, bufsz, "554 5.7.1 <%s>: Relay access denied",
		    rcpt);
		break;
	case LKA_REJECT:
		snprintf(buf, bufsz, "550 5.7.1 <%s>: Recipient address "
		    "rejected: %s", rcpt, t[0] ? t : "Access denied");
		break;
	}
}
