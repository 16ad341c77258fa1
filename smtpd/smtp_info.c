/*
 * Fixed replies (see smtp_info.h).  VRFY gets 252 for every argument, as
 * RFC 5321 3.5.3 allows, so it confirms no address: the answer is the
 * same for a listed user, an unknown one and garbage.
 */
#include <stddef.h>

#include "smtp_info.h"

const char *
smtp_info_reply(enum smtp_verb verb, const char *arg)
{
	switch (verb) {
	case SMTP_CMD_VRFY:
		if (*arg == '\0')
			return "501 5.5.4 Syntax: VRFY address";
		return SMTP_VRFY_REPLY;
	case SMTP_CMD_EXPN:
		if (*arg == '\0')
			return "501 5.5.4 Syntax: EXPN mailing-list";
		return "502 5.5.1 EXPN command is disabled";
	case SMTP_CMD_HELP:
		return "214 2.0.0 mxgate: see RFC 5321";
	case SMTP_CMD_STARTTLS:
	case SMTP_CMD_AUTH:
	case SMTP_CMD_ETRN:
		return "502 5.5.1 Error: command not implemented";
	case SMTP_CMD_UNKNOWN:
	case SMTP_CMD_COUNT:
		return "500 5.5.2 Error: command not recognized";
	default:
		return NULL;
	}
}
