/*
 * RFC 5321 paths and mailboxes, shared by smtpd (MAIL FROM / RCPT TO) and
 * lookupd.  The parser is strict: ASCII only unless ADDR_UTF8, no
 * control characters, no spaces outside a quoted local part, no '<' '>'
 * inside.  The local part is kept exactly as written (quotes and
 * backslashes included); domains are dot-separated LDH labels or an
 * address literal ([192.0.2.1], [IPv6:2001:db8::1]), kept as written.
 */
#ifndef MXGATE_ADDR_H
#define MXGATE_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX	64	/* octets, RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	255	/* octets, RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX	256	/* "<local@domain>", RFC 5321 4.5.3.1.3 */

/* Both empty: the null path <>.  Domain empty alone: <postmaster>. */
struct mailaddr {
	char	local[ADDR_LOCAL_MAX + 1];
	char	domain[ADDR_DOMAIN_MAX + 1];
};

/*
 * Parses a path "<...>" starting at s (no leading spaces).  A source route
 * (<@a,@b:user@d>) is accepted and dropped.  "<>" only when allow_null.
 * "<postmaster>" (any case) without a domain is accepted: domain "".
 * The mailbox ("local@domain") is at most ADDR_PATH_MAX - 2 octets.
 * 0 and *endp (if endp) just past the '>', or -1.
 */
int	addr_parse_path(const char *s, struct mailaddr *, int allow_null,
	    const char **endp);

/* Flags of the *_flags variants. */
#define ADDR_ALLOW_NULL	0x01	/* "<>" is a path */
#define ADDR_UTF8	0x02	/* RFC 6531: UTF-8 characters allowed */

/* addr_parse_path() with flags instead of allow_null. */
int	addr_parse_path_flags(const char *s, struct mailaddr *, int flags,
	    const char **endp);
/* "local@domain" without brackets, the whole string, same rules; "" and
 * a bare "postmaster" are refused. */
int	addr_parse(const char *s, struct mailaddr *);
/* addr_parse() with flags (ADDR_UTF8; ADDR_ALLOW_NULL has no effect). */
int	addr_parse_flags(const char *s, struct mailaddr *, int flags);
/* 1 if s holds no byte >= 0x80. */
int	addr_is_ascii(const char *s);
/* "local@domain", "postmaster" for <postmaster>, "" for the null path;
 * -1 if it does not fit. */
int	addr_format(const struct mailaddr *, char *buf, size_t len);
void	addr_lowercase_domain(struct mailaddr *);
int	addr_is_null(const struct mailaddr *);

#endif
