/*
 * SMTP AUTH mechanisms: PLAIN and LOGIN, with and without an initial
 * response (RFC 4954 4: "=" is an empty one), "*" cancels.  See
 * smtp_auth.h; the session does the I/O and asks lookupd.
 *
 * Guarantees kept here:
 * - base64 is decoded strictly, so one string has one meaning;
 * - a user name that reaches a log line or lookupd is printable ASCII
 *   without spaces; a password never leaves struct smtp_auth except to
 *   lookupd, and is wiped when the exchange ends;
 * - every error reply ends the exchange: the next line is a command.
 */
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "smtp_auth.h"

#define SMTP_AUTH_DELAY_MS	500	/* the first failure; doubles */
#define SMTP_AUTH_DELAY_SHIFT	4	/* at most 500 ms << 4 = 8 s */

#define REPLY_SYNTAX	"501 5.5.4 Syntax: AUTH mechanism [initial-response]"
#define REPLY_MECH	"504 5.5.4 Unrecognized authentication type"
#define REPLY_DECODE	"501 5.5.2 Cannot decode response"
#define REPLY_TOOLONG	"500 5.5.6 Authentication Exchange line is too long"
#define REPLY_MESSAGE	"501 5.5.2 Invalid authentication message"
#define REPLY_CANCEL	"501 5.7.0 Authentication aborted"
#define REPLY_USERNAME	"334 VXNlcm5hbWU6"	/* "Username:" */
#define REPLY_PASSWORD	"334 UGFzc3dvcmQ6"	/* "Password:" */

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* One group of 4 characters into v[]; the number of '=' (0-2), or -1. */
static int
b64_group(const char *in, int last, int v[4])
{
	int	 j, pad = 0;

	for (j = 0; j < 4; j++) {
		if (in[j] == '=') {
			if (!last || j < 2)
				return -1;
			pad++;
			v[j] = 0;
		} else if (pad > 0 || (v[j] = b64_value(in[j])) == -1)
			return -1;
	}
	/* the bits a padded group does not use must be zero */
	if ((pad == 2 && (v[1] & 0x0f) != 0) || (pad == 1 && (v[2] & 0x03)))
		return -1;
	return pad;
}

ssize_t
smtp_base64_decode(const char *in, unsigned char *out, size_t outsz)
{
	size_t	 len = strlen(in), i, n = 0;
	int	 v[4], pad;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		if ((pad = b64_group(in + i, i + 4 == len, v)) == -1)
			return -1;
		if (outsz - n < (size_t)(3 - pad))
			return -1;
		out[n++] = v[0] << 2 | v[1] >> 4;
		if (pad < 2)
			out[n++] = (v[1] & 0x0f) << 4 | v[2] >> 2;
		if (pad < 1)
			out[n++] = (v[2] & 0x03) << 6 | v[3];
	}
	return n;
}

/* A user name: 1..usersz-1 printable ASCII characters, no spaces. */
static int
auth_user_copy(const unsigned char *p, size_t len, char *user, size_t usersz)
{
	size_t	 i;

	if (len == 0 || len >= usersz)
		return -1;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return -1;
	memcpy(user, p, len);
	user[len] = '\0';
	return 0;
}

int
smtp_auth_plain(const unsigned char *msg, size_t len, char *user,
    size_t usersz, char *pass, size_t passsz)
{
	const unsigned char	*nul1, *nul2, *cid, *pw;
	size_t			 zlen, clen, plen;

	if ((nul1 = memchr(msg, '\0', len)) == NULL)
		return -1;
	zlen = nul1 - msg;
	cid = nul1 + 1;
	if ((nul2 = memchr(cid, '\0', len - zlen - 1)) == NULL)
		return -1;
	clen = nul2 - cid;
	pw = nul2 + 1;
	plen = len - zlen - clen - 2;
	if (memchr(pw, '\0', plen) != NULL || plen >= passsz)
		return -1;
	if (zlen != 0 && (zlen != clen || memcmp(msg, cid, clen) != 0))
		return -1;
	if (auth_user_copy(cid, clen, user, usersz) == -1)
		return -1;
	memcpy(pass, pw, plen);
	pass[plen] = '\0';
	return 0;
}

static enum smtp_auth_next
auth_reply(struct smtp_auth *a, const char *text, char *reply,
    size_t replysz)
{
	strlcpy(reply, text, replysz);
	return SMTP_AUTH_CHALLENGE;
}

static enum smtp_auth_next
auth_fail(struct smtp_auth *a, const char *text, char *reply,
    size_t replysz)
{
	smtp_auth_wipe(a);
	strlcpy(reply, text, replysz);
	return SMTP_AUTH_REPLY;
}

/* One response (already known not to be "*") for the current step. */
static enum smtp_auth_next
auth_step(struct smtp_auth *a, const char *text, char *reply, size_t replysz)
{
	unsigned char	 buf[SMTP_AUTH_USER_MAX + SMTP_AUTH_PASS_MAX + 2];
	ssize_t		 n;
	int		 rc = -1;

	/* RFC 4954 4: longer than any user name and password we take */
	if (strlen(text) > (sizeof(buf) + 2) / 3 * 4)
		return auth_fail(a, REPLY_TOOLONG, reply, replysz);
	if ((n = smtp_base64_decode(text, buf, sizeof(buf))) == -1)
		return auth_fail(a, REPLY_DECODE, reply, replysz);
	if (a->mech == SMTP_AUTH_PLAIN)
		rc = smtp_auth_plain(buf, n, a->user, sizeof(a->user),
		    a->pass, sizeof(a->pass));
	else if (a->mech == SMTP_AUTH_LOGIN && a->step == 0)
		rc = auth_user_copy(buf, n, a->user, sizeof(a->user));
	else if (a->mech == SMTP_AUTH_LOGIN && (size_t)n < sizeof(a->pass) &&
	    memchr(buf, '\0', n) == NULL) {
		memcpy(a->pass, buf, n);
		a->pass[n] = '\0';
		rc = 0;
	}
	explicit_bzero(buf, sizeof(buf));
	if (rc == -1)
		return auth_fail(a, REPLY_MESSAGE, reply, replysz);
	if (a->mech == SMTP_AUTH_LOGIN && a->step++ == 0)
		return auth_reply(a, REPLY_PASSWORD, reply, replysz);
	reply[0] = '\0';
	return SMTP_AUTH_CHECK;
}

enum smtp_auth_next
smtp_auth_begin(struct smtp_auth *a, const char *arg, char *reply,
    size_t replysz)
{
	char		 mech[16];
	const char	*ir;
	size_t		 n;

	smtp_auth_wipe(a);
	n = strcspn(arg, " \t");
	for (ir = arg + n; *ir == ' ' || *ir == '\t'; ir++)
		;
	if (n == 0 || strcspn(ir, " \t") != strlen(ir))
		return auth_fail(a, REPLY_SYNTAX, reply, replysz);
	if (n >= sizeof(mech))
		return auth_fail(a, REPLY_MECH, reply, replysz);
	memcpy(mech, arg, n);
	mech[n] = '\0';
	if (strcasecmp(mech, "PLAIN") == 0)
		a->mech = SMTP_AUTH_PLAIN;
	else if (strcasecmp(mech, "LOGIN") == 0)
		a->mech = SMTP_AUTH_LOGIN;
	else
		return auth_fail(a, REPLY_MECH, reply, replysz);
	if (*ir == '\0')
		return auth_reply(a, a->mech == SMTP_AUTH_PLAIN ? "334 " :
		    REPLY_USERNAME, reply, replysz);
	if (strcmp(ir, "*") == 0)
		return auth_fail(a, REPLY_CANCEL, reply, replysz);
	return auth_step(a, strcmp(ir, "=") == 0 ? "" : ir, reply, replysz);
}

enum smtp_auth_next
smtp_auth_response(struct smtp_auth *a, const char *line, char *reply,
    size_t replysz)
{
	if (a->mech == SMTP_AUTH_NONE)
		return auth_fail(a, REPLY_MESSAGE, reply, replysz);
	if (strcmp(line, "*") == 0)
		return auth_fail(a, REPLY_CANCEL, reply, replysz);
	return auth_step(a, line, reply, replysz);
}

void
smtp_auth_wipe(struct smtp_auth *a)
{
	explicit_bzero(a, sizeof(*a));
	a->mech = SMTP_AUTH_NONE;
}

const char *
smtp_auth_mech_name(enum smtp_auth_mech mech)
{
	switch (mech) {
	case SMTP_AUTH_PLAIN:
		return "PLAIN";
	case SMTP_AUTH_LOGIN:
		return "LOGIN";
	case SMTP_AUTH_NONE:
		break;
	}
	return "NONE";
}

void
smtp_auth_delay(unsigned n, struct timeval *tv)
{
	unsigned	 shift = n > 0 ? n - 1 : 0;
	unsigned long	 ms;

	if (shift > SMTP_AUTH_DELAY_SHIFT)
		shift = SMTP_AUTH_DELAY_SHIFT;
	ms = (unsigned long)SMTP_AUTH_DELAY_MS << shift;
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}
