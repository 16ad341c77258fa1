/*
 * smtpd/smtp_auth.c: the strict base64 decoder, the PLAIN message
 * parser, the PLAIN and LOGIN exchanges, and the failure delay.
 */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "../../smtpd/smtp_auth.h"

static void
b64_ok(const char *in, const char *want, size_t wantlen)
{
	unsigned char	 out[64];
	char		 name[128];
	ssize_t		 n;

	snprintf(name, sizeof(name), "base64 \"%s\" decodes", in);
	n = smtp_base64_decode(in, out, sizeof(out));
	t_check(n == (ssize_t)wantlen && memcmp(out, want, wantlen) == 0,
	    name, "got %zd bytes", n);
}

static void
b64_bad(const char *in, const char *why)
{
	unsigned char	 out[64];
	char		 name[160], *p;
	ssize_t		 n;

	snprintf(name, sizeof(name), "base64 \"%s\" refused (%s)", in, why);
	for (p = name; *p != '\0'; p++)
		if (*p < 0x20)
			*p = '?';
	n = smtp_base64_decode(in, out, sizeof(out));
	t_check(n == -1, name, "decoded %zd bytes", n);
}

static void
test_base64(void)
{
	unsigned char	 small[2];

	/* RFC 4648 section 10 */
	b64_ok("", "", 0);
	b64_ok("Zg==", "f", 1);
	b64_ok("Zm8=", "fo", 2);
	b64_ok("Zm9v", "foo", 3);
	b64_ok("Zm9vYg==", "foob", 4);
	b64_ok("Zm9vYmE=", "fooba", 5);
	b64_ok("Zm9vYmFy", "foobar", 6);
	b64_ok("AGFsaWNlAHNlY3JldA==", "\0alice\0secret", 13);
	b64_ok("+/+/", "\xfb\xff\xbf", 3);

	b64_bad("Zg=", "length not a multiple of 4");
	b64_bad("Zm9", "length not a multiple of 4");
	b64_bad("Z===", "three pad characters");
	b64_bad("====", "only padding");
	b64_bad("Zh==", "unused bits set");
	b64_bad("Zm9=", "unused bits set");
	b64_bad("Zg==Zg==", "padding before the end");
	b64_bad("Zm=v", "data after padding");
	b64_bad("Zm9v Zm9v", "white space");
	b64_bad("Zm9v\r\n", "line end");
	b64_bad("Zm9-", "URL alphabet");
	b64_bad("Zm9v!!!!", "not the alphabet");
	T_OK(smtp_base64_decode("Zm9v", small, sizeof(small)) == -1,
	    "base64 longer than the buffer refused");
}

static void
plain_ok(const char *msg, size_t len, const char *wuser, const char *wpass,
    const char *name)
{
	char	 user[SMTP_AUTH_USER_MAX], pass[SMTP_AUTH_PASS_MAX];
	int	 rc;

	rc = smtp_auth_plain((const unsigned char *)msg, len, user,
	    sizeof(user), pass, sizeof(pass));
	t_check(rc == 0 && strcmp(user, wuser) == 0 &&
	    strcmp(pass, wpass) == 0, name, "rc %d user \"%s\"", rc,
	    rc == 0 ? user : "");
}

static void
plain_bad(const char *msg, size_t len, const char *name)
{
	char	 user[SMTP_AUTH_USER_MAX], pass[SMTP_AUTH_PASS_MAX];

	T_OK(smtp_auth_plain((const unsigned char *)msg, len, user,
	    sizeof(user), pass, sizeof(pass)) == -1, name);
}

static void
test_plain(void)
{
	char	 longuser[SMTP_AUTH_USER_MAX + 8];

	plain_ok("\0alice\0secret", 13, "alice", "secret",
	    "PLAIN without authzid");
	plain_ok("alice\0alice\0secret", 18, "alice", "secret",
	    "PLAIN with authzid = authcid");
	plain_ok("\0alice\0", 7, "alice", "", "PLAIN with empty password");
	plain_ok("\0alice@example.com\0p w\xc3\xa9", 24, "alice@example.com",
	    "p w\xc3\xa9", "PLAIN password with space and UTF-8");
	plain_bad("bob\0alice\0secret", 16,
	    "PLAIN: acting for another user refused");
	plain_bad("\0alice", 6, "PLAIN: one NUL refused");
	plain_bad("alice", 5, "PLAIN: no NUL refused");
	plain_bad("", 0, "PLAIN: empty message refused");
	plain_bad("\0\0secret", 8, "PLAIN: empty user refused");
	plain_bad("\0alice\0se\0cret", 15, "PLAIN: NUL in password refused");
	plain_bad("\0al ice\0x", 9, "PLAIN: space in user refused");
	plain_bad("\0al\nice\0x", 9, "PLAIN: control character in user "
	    "refused");
	longuser[0] = '\0';
	memset(longuser + 1, 'a', SMTP_AUTH_USER_MAX);
	longuser[SMTP_AUTH_USER_MAX + 1] = '\0';
	longuser[SMTP_AUTH_USER_MAX + 2] = 'x';
	plain_bad(longuser, SMTP_AUTH_USER_MAX + 3,
	    "PLAIN: overlong user refused");
}

static void
step(struct smtp_auth *a, int begin, const char *in,
    enum smtp_auth_next want, const char *wantreply, const char *name)
{
	char			 reply[SMTP_AUTH_REPLY_MAX];
	enum smtp_auth_next	 got;

	reply[0] = '\0';
	if (begin)
		got = smtp_auth_begin(a, in, reply, sizeof(reply));
	else
		got = smtp_auth_response(a, in, reply, sizeof(reply));
	t_check(got == want && strncmp(reply, wantreply,
	    strlen(wantreply)) == 0, name, "next %d reply \"%s\"", (int)got,
	    reply);
}

static void
test_exchanges(void)
{
	struct smtp_auth	 a;

	memset(&a, 0, sizeof(a));
	step(&a, 1, "PLAIN AGFsaWNlAHNlY3JldA==", SMTP_AUTH_CHECK, "",
	    "AUTH PLAIN with initial response: check");
	T_OK(a.mech == SMTP_AUTH_PLAIN && strcmp(a.user, "alice") == 0 &&
	    strcmp(a.pass, "secret") == 0, "AUTH PLAIN: user and password");
	smtp_auth_wipe(&a);
	T_OK(a.pass[0] == '\0' && a.user[0] == '\0' &&
	    a.mech == SMTP_AUTH_NONE, "wipe forgets user and password");

	step(&a, 1, "plain", SMTP_AUTH_CHALLENGE, "334 ",
	    "AUTH plain (lower case) without response: empty challenge");
	step(&a, 0, "AGFsaWNlAHNlY3JldA==", SMTP_AUTH_CHECK, "",
	    "AUTH PLAIN: response, check");

	step(&a, 1, "LOGIN", SMTP_AUTH_CHALLENGE, "334 VXNlcm5hbWU6",
	    "AUTH LOGIN: Username: challenge");
	step(&a, 0, "Ym9i", SMTP_AUTH_CHALLENGE, "334 UGFzc3dvcmQ6",
	    "AUTH LOGIN: Password: challenge");
	step(&a, 0, "aHVudGVyMg==", SMTP_AUTH_CHECK, "",
	    "AUTH LOGIN: password, check");
	T_OK(a.mech == SMTP_AUTH_LOGIN && strcmp(a.user, "bob") == 0 &&
	    strcmp(a.pass, "hunter2") == 0, "AUTH LOGIN: user and password");

	step(&a, 1, "LOGIN Ym9i", SMTP_AUTH_CHALLENGE, "334 UGFzc3dvcmQ6",
	    "AUTH LOGIN with initial response: Password: challenge");
	step(&a, 0, "", SMTP_AUTH_CHECK, "",
	    "AUTH LOGIN: empty password, check");

	step(&a, 1, "PLAIN =", SMTP_AUTH_REPLY, "501 5.5.2",
	    "AUTH PLAIN = (empty response): 501");
	step(&a, 1, "PLAIN *", SMTP_AUTH_REPLY, "501 5.7.0",
	    "AUTH PLAIN *: cancelled, 501");
	step(&a, 1, "LOGIN", SMTP_AUTH_CHALLENGE, "334 ", "AUTH LOGIN");
	step(&a, 0, "*", SMTP_AUTH_REPLY, "501 5.7.0",
	    "AUTH LOGIN, then *: cancelled, 501");
	T_OK(a.mech == SMTP_AUTH_NONE, "cancel ends the exchange");
	step(&a, 1, "PLAIN", SMTP_AUTH_CHALLENGE, "334 ", "AUTH PLAIN");
	step(&a, 0, "AGFsaWNlAHNlY3JldA=", SMTP_AUTH_REPLY, "501 5.5.2",
	    "AUTH PLAIN, malformed base64 response: 501");
	step(&a, 1, "PLAIN AGFsaWNl%%%", SMTP_AUTH_REPLY, "501 5.5.2",
	    "AUTH PLAIN, malformed base64 initial response: 501");
	step(&a, 1, "PLAIN YWxpY2U=", SMTP_AUTH_REPLY, "501 5.5.2",
	    "AUTH PLAIN, message without NULs: 501");
	step(&a, 1, "LOGIN", SMTP_AUTH_CHALLENGE, "334 ", "AUTH LOGIN");
	step(&a, 0, "", SMTP_AUTH_REPLY, "501 5.5.2",
	    "AUTH LOGIN, empty user: 501");
	step(&a, 1, "CRAM-MD5", SMTP_AUTH_REPLY, "504 5.5.4",
	    "AUTH CRAM-MD5: 504");
	step(&a, 1, "", SMTP_AUTH_REPLY, "501 5.5.4", "AUTH alone: 501");
	step(&a, 1, "PLAIN Zm9v Zm9v", SMTP_AUTH_REPLY, "501 5.5.4",
	    "AUTH with two responses: 501");
	memset(&a, 0, sizeof(a));
	step(&a, 0, "Zm9v", SMTP_AUTH_REPLY, "501",
	    "a response without an exchange: 501");
}

static void
test_delay(void)
{
	struct timeval	 d1, d2, d3, d9, d20;

	smtp_auth_delay(1, &d1);
	smtp_auth_delay(2, &d2);
	smtp_auth_delay(3, &d3);
	smtp_auth_delay(9, &d9);
	smtp_auth_delay(20, &d20);
	T_OK(d1.tv_sec == 0 && d1.tv_usec == 500000,
	    "delay after the 1st failure: 0.5 s");
	T_OK(d2.tv_sec == 1 && d2.tv_usec == 0,
	    "delay after the 2nd failure: 1 s");
	T_OK(d3.tv_sec == 2 && d3.tv_usec == 0,
	    "delay after the 3rd failure: 2 s");
	T_OK(d9.tv_sec == 8 && d20.tv_sec == 8 && d20.tv_usec == 0,
	    "delay capped at 8 s");
}

int
main(void)
{
	test_base64();
	test_plain();
	test_exchanges();
	test_delay();
	return t_exit();
}
