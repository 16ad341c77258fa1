/*
 * SMTP command lines (RFC 5321 4.1): the verb, its argument, and the
 * MAIL / RCPT paths with their ESMTP parameters.  Pure functions over a
 * NUL-terminated line without its CR LF; nothing here keeps state, so it
 * can be fuzzed on its own.
 */
#ifndef MXGATE_SMTP_CMD_H
#define MXGATE_SMTP_CMD_H

#include <stdint.h>

#include "addr.h"
#include "smtp_esmtp.h"

#define SMTP_LINE_MAX	512	/* command line with CR LF, 4.5.3.1.4 */
#define SMTP_PARAM_MAX	64	/* an offending parameter, as echoed */

enum smtp_verb {
	SMTP_CMD_UNKNOWN,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_BDAT,
	SMTP_CMD_ETRN,
	SMTP_CMD_COUNT
};

struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*arg;		/* into the line; "" when none */
};

enum smtp_body {
	SMTP_BODY_NONE,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME
};

/* MAIL FROM:<path> [SIZE=n] [BODY=7BIT|8BITMIME] [SMTPUTF8] [RET=]
 * [ENVID=] */
struct smtp_mail {
	struct mailaddr	 from;
	int		 has_size;
	uint64_t	 size;		/* UINT64_MAX when it overflowed */
	enum smtp_body	 body;
	struct esmtp_mail esmtp;	/* SMTPUTF8, RET, ENVID */
};

enum smtp_cmd_err {
	SMTP_CMD_OK,
	SMTP_CMD_ESYNTAX,	/* no "FROM:" / "TO:" */
	SMTP_CMD_EPATH,		/* the path does not parse */
	SMTP_CMD_EPARAM,	/* parameter not understood: 555 */
	SMTP_CMD_EPARAMSYNTAX,	/* malformed or repeated parameter: 501 */
	SMTP_CMD_ESIZE,		/* SIZE value not a number: 501 */
	SMTP_CMD_EUTF8		/* UTF-8 path without SMTPUTF8: 553 5.6.7 */
};

/*
 * Splits the line, cutting trailing blanks off in place; verbs are
 * case-insensitive and separated from the argument by blanks.
 */
void		 smtp_cmd_parse(char *line, struct smtp_cmd *);
/* Lower-case name, as in the disconnect log line: "ehlo", "unknown". */
const char	*smtp_cmd_name(enum smtp_verb);

/*
 * Argument of MAIL / RCPT.  On EPARAM and EPARAMSYNTAX the parameter is
 * copied into bad (printable ASCII only, truncated).
 */
enum smtp_cmd_err smtp_cmd_mail(const char *arg, struct smtp_mail *,
		    char *bad, size_t badsz);
enum smtp_cmd_err smtp_cmd_rcpt(const char *arg, struct mailaddr *,
		    char *bad, size_t badsz);
/*
 * RCPT with its DSN parameters (NOTIFY, ORCPT) into *rp; utf8: the MAIL
 * had SMTPUTF8, so the path may hold UTF-8 (without it such a path is
 * SMTP_CMD_EUTF8, as in smtp_cmd_mail()).  smtp_cmd_rcpt() is this with rp NULL: no parameter
 * is accepted.
 */
enum smtp_cmd_err smtp_cmd_rcpt_esmtp(const char *arg, struct mailaddr *,
		    struct esmtp_rcpt *rp, int utf8, char *bad, size_t badsz);
/* HELO / EHLO: the first word, made printable; -1 when there is none. */
int		 smtp_cmd_helo(const char *arg, char *buf, size_t bufsz);
/* Copies s into buf with every byte outside 0x21..0x7e replaced by '?'. */
void		 smtp_cmd_printable(const char *s, char *buf, size_t bufsz);

#endif
