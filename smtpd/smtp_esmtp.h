/*
 * The ESMTP parameters of MAIL and RCPT besides SIZE and BODY (which
 * smtp_cmd.c keeps): SMTPUTF8 (RFC 6531), RET and ENVID at MAIL, NOTIFY
 * and ORCPT at RCPT (RFC 3461), with the xtext decoding they need.
 * Pure functions, unit tested and fuzzed through smtp_cmd.c.
 */
#ifndef MXGATE_SMTP_ESMTP_H
#define MXGATE_SMTP_ESMTP_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define ESMTP_ENVID_MAX		100	/* octets decoded, RFC 3461 4.4 */
#define ESMTP_ORCPT_MAX		500	/* octets decoded, RFC 3461 4.2 */

struct esmtp_mail {
	int		 smtputf8;
	enum dsn_ret	 ret;
	int		 has_envid;
	char		 envid[ESMTP_ENVID_MAX + 1];	/* decoded */
};

struct esmtp_rcpt {
	uint32_t	 notify;	/* DSN_NOTIFY_*, 0 when not given */
	char		 orcpt[ESMTP_ORCPT_MAX + 1];	/* "rfc822;addr", "" */
};

/* Results of esmtp_*_param(), mapped to replies by smtp_cmd.c. */
#define ESMTP_OK	0
#define ESMTP_EUNKNOWN	1	/* not a parameter we know: 555 5.5.4 */
#define ESMTP_ESYNTAX	2	/* bad value, repeated: 501 5.5.4 */

/*
 * Decodes xtext (RFC 3461 4: "+" two uppercase hex digits for a byte,
 * every other char 0x21..0x7e but '+' and '=' as it is) into out.  The
 * decoded value holds no NUL.  Its length, or -1 when malformed or
 * longer than outsz - 1.
 */
int	esmtp_xtext_decode(const char *in, char *out, size_t outsz);

/*
 * One parameter (keyword as given, value or NULL): ESMTP_OK when taken,
 * else ESMTP_EUNKNOWN or ESMTP_ESYNTAX.  utf8: the transaction is
 * SMTPUTF8 (an ORCPT address may then hold UTF-8).
 */
int	esmtp_mail_param(struct esmtp_mail *, const char *key,
	    const char *val);
int	esmtp_rcpt_param(struct esmtp_rcpt *, const char *key,
	    const char *val, int utf8);

#endif
