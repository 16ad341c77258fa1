/*
 * SMTP AUTH (RFC 4954) on the server side: the PLAIN (RFC 4616) and
 * LOGIN mechanisms, strict base64, and the growing delay after failed
 * attempts.  Pure functions over one exchange's state, no I/O: the
 * session (smtp_session.c) sends the replies, asks lookupd to check the
 * credentials (IMSG_LKA_AUTH) and runs the timers.
 */
#ifndef MXGATE_SMTP_AUTH_H
#define MXGATE_SMTP_AUTH_H

#include <sys/time.h>
#include <sys/types.h>

#include <stddef.h>

#define SMTP_AUTH_USER_MAX	256	/* with NUL, = LKA_AUTH_USER_MAX */
#define SMTP_AUTH_PASS_MAX	256	/* with NUL, = LKA_AUTH_PASS_MAX */
#define SMTP_AUTH_REPLY_MAX	128

enum smtp_auth_mech {
	SMTP_AUTH_NONE,
	SMTP_AUTH_PLAIN,
	SMTP_AUTH_LOGIN
};

/* What the session does after smtp_auth_begin() / smtp_auth_response(). */
enum smtp_auth_next {
	SMTP_AUTH_REPLY,	/* send reply: an error, the exchange is over */
	SMTP_AUTH_CHALLENGE,	/* send reply ("334 ..."); the next line is
				 * the client's response */
	SMTP_AUTH_CHECK		/* user and pass are complete: check them */
};

/* One exchange.  pass is wiped by smtp_auth_wipe(). */
struct smtp_auth {
	enum smtp_auth_mech	 mech;
	int			 step;		/* LOGIN: 0 user, 1 password */
	char			 user[SMTP_AUTH_USER_MAX];
	char			 pass[SMTP_AUTH_PASS_MAX];
};

/*
 * Strict base64 (RFC 4648 section 4): only the alphabet, length a
 * multiple of 4, '=' padding only at the end, no white space, unused
 * bits zero.  The decoded bytes go to out (not NUL-terminated); their
 * number, or -1 when in is not such base64 or does not fit.
 */
ssize_t		 smtp_base64_decode(const char *in, unsigned char *out,
		    size_t outsz);

/*
 * A PLAIN message (RFC 4616): [authzid] NUL authcid NUL passwd.  The
 * authorization identity must be empty or the same as authcid (nobody
 * may act for another user).  authcid must be 1..SMTP_AUTH_USER_MAX-1
 * printable ASCII characters without spaces; passwd may be anything but
 * NUL, empty too.  0, or -1 when malformed.
 */
int		 smtp_auth_plain(const unsigned char *msg, size_t len,
		    char *user, size_t usersz, char *pass, size_t passsz);

/* AUTH's argument: "mechanism [initial-response]". */
enum smtp_auth_next smtp_auth_begin(struct smtp_auth *, const char *arg,
		    char *reply, size_t replysz);
/* A response line to a 334 challenge ("*" cancels). */
enum smtp_auth_next smtp_auth_response(struct smtp_auth *, const char *line,
		    char *reply, size_t replysz);
/* Forget the exchange; the password is overwritten. */
void		 smtp_auth_wipe(struct smtp_auth *);
const char	*smtp_auth_mech_name(enum smtp_auth_mech);
/* How long the reply to the nth failed attempt (n >= 1) is held back. */
void		 smtp_auth_delay(unsigned n, struct timeval *);

#endif
