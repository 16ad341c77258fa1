/*
 * Framing of SMTP command lines (RFC 5321 2.3.8, 4.1.1, 4.5.3.1.4): a
 * command ends with CR LF, and only there.  A line ended by a bare LF, or
 * holding a bare CR or a NUL, is refused rather than guessed at, so that
 * no two parsers can disagree on where a command ends (the command-line
 * side of SMTP smuggling).  Pure functions, no state.
 */
#ifndef MXGATE_SMTP_LINE_H
#define MXGATE_SMTP_LINE_H

#include <stddef.h>

enum smtp_line_err {
	SMTP_LINE_OK,
	SMTP_LINE_BARE_LF,	/* ended by LF without CR */
	SMTP_LINE_BARE_CR,	/* a CR not followed by LF inside */
	SMTP_LINE_NUL		/* a NUL byte inside */
};

/*
 * line[0..len) is what came before the LF that ends it (so a proper line
 * ends with CR).  On SMTP_LINE_OK, *outlen is its length without the CR.
 * With lf_ok, a bare LF at the end is accepted (smtp bare-lf normalize);
 * a bare CR inside never is.
 */
enum smtp_line_err smtp_line_check(const char *line, size_t len, int lf_ok,
		    size_t *outlen);
/* The reply to a refused line, "500 5.5.2 ..." */
const char	*smtp_line_reply(enum smtp_line_err);

#endif
