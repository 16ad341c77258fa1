/*
 * Command line framing: strict CR LF (see smtp_line.h).
 */
#include <string.h>

#include "smtp_line.h"

enum smtp_line_err
smtp_line_check(const char *line, size_t len, int lf_ok, size_t *outlen)
{
	size_t	 n = len;

	if (n > 0 && line[n - 1] == '\r')
		n--;
	else if (!lf_ok)
		return SMTP_LINE_BARE_LF;
	if (memchr(line, '\0', n) != NULL)
		return SMTP_LINE_NUL;
	if (memchr(line, '\r', n) != NULL)
		return SMTP_LINE_BARE_CR;
	*outlen = n;
	return SMTP_LINE_OK;
}

const char *
smtp_line_reply(enum smtp_line_err err)
{
	switch (err) {
	case SMTP_LINE_BARE_LF:
		return "500 5.5.2 Error: bare LF received; end every command "
		    "with CR LF";
	case SMTP_LINE_BARE_CR:
		return "500 5.5.2 Error: bare CR received; end every command "
		    "with CR LF";
	case SMTP_LINE_NUL:
	case SMTP_LINE_OK:
		break;
	}
	return "500 5.5.2 Error: command not recognized";
}
