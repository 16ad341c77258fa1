/*
 * Replies to the commands that never touch a transaction nor reveal
 * anything (RFC 5321 3.5, 4.1.1.6-4.1.1.8; RFC 2505 2.11): VRFY, EXPN,
 * HELP, and the verbs mxgate knows but does not offer.  One table, so
 * every such reply carries its enhanced status code (RFC 3463).
 */
#ifndef MXGATE_SMTP_INFO_H
#define MXGATE_SMTP_INFO_H

#include "smtp_cmd.h"

#define SMTP_VRFY_REPLY	"252 2.5.0 Cannot VRFY user, but will accept " \
			"message and attempt delivery"

/*
 * The complete reply line (without CR LF) to verb with its argument, or
 * NULL when the session handles the verb itself.
 */
const char	*smtp_info_reply(enum smtp_verb, const char *arg);

#endif
