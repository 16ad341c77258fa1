/*
 * lookupd's side of SMTP AUTH (lookupd/lka_auth.c) and the `relay from
 * authenticated' rule (lookupd/lka.c), without any process: the config
 * is parsed from text, the credentials file is written to a temp dir
 * with hashes made here (libxcrypt: sha512-crypt, bcrypt, yescrypt).
 */
#include <sys/queue.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "../../lookupd/lka.h"
#include "test.h"

static char	 tmpdir[] = "/tmp/test_lka_auth.XXXXXX";
static char	 users_path[PATH_MAX];

/* A fresh hash of password with a salt of the method prefix. */
static const char *
make_hash(const char *prefix, const char *password, char *out, size_t outsz)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	 cd;
	const char		*h;

	memset(&cd, 0, sizeof(cd));
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)) == NULL ||
	    (h = crypt_rn(password, salt, &cd, sizeof(cd))) == NULL ||
	    h[0] == '*')
		return NULL;
	snprintf(out, outsz, "%s", h);
	return out;
}

static int
write_users(const char *text)
{
	FILE	*fp;

	if ((fp = fopen(users_path, "w")) == NULL)
		return -1;
	fputs(text, fp);
	return fclose(fp);
}

static struct lka_tables *
load(const char *conftext, char *err, size_t errsz)
{
	struct mxgate_conf	 conf;
	struct lka_tables	*lt;

	err[0] = '\0';
	if (conf_parse_buffer(&conf, conftext, strlen(conftext),
	    "<test>") == -1) {
		snprintf(err, errsz, "config does not parse");
		return NULL;
	}
	lt = lka_load(&conf, err, errsz);
	conf_free(&conf);
	return lt;
}

static void
done_cb(void *arg, enum lka_auth_status status)
{
	*(int *)arg = status;
}

static int
check(struct lka_tables *lt, const char *table, const char *user,
    const char *pass)
{
	int	 status = -1;

	lka_auth_start(lt, table, user, pass, done_cb, &status);
	return status;
}

static const char *
decide(struct lka_tables *lt, const char *rcpt, const char *authuser)
{
	static char		 buf[512];
	struct lka_result	 res;

	lka_result_init(&res);
	if (lka_decide_auth(lt, "192.0.2.9", "a@example.net", rcpt, authuser,
	    &res) == -1)
		snprintf(buf, sizeof(buf), "MALFORMED");
	else
		snprintf(buf, sizeof(buf), "%d %s", (int)res.status,
		    res.nrcpts > 0 ? res.rcpts[0].relay : "-");
	lka_result_free(&res);
	return buf;
}

static char	 conftext[PATH_MAX + 1024];

static void
test_passwords(void)
{
	char			 h6[256], h2b[256], hy[256], users[1024], err[1024];
	struct lka_tables	*lt;

	if (make_hash("$6$", "secret6", h6, sizeof(h6)) == NULL ||
	    make_hash("$2b$", "secret2b", h2b, sizeof(h2b)) == NULL ||
	    make_hash("$y$", "secrety", hy, sizeof(hy)) == NULL) {
		t_check(0, "make hashes", "crypt_gensalt_rn/crypt_rn failed");
		return;
	}
	snprintf(users, sizeof(users), "# user hash\nalice %s\nbob %s\n"
	    "carol %s\n", h6, h2b, hy);
	if (write_users(users) == -1) {
		t_check(0, "write users", "cannot write %s", users_path);
		return;
	}
	lt = load(conftext, err, sizeof(err));
	t_check(lt != NULL, "credentials table loads", "%s", err);
	if (lt == NULL)
		return;
	T_OK(check(lt, "users", "alice", "secret6") == LKA_AUTH_OK,
	    "sha512-crypt: right password OK");
	T_OK(check(lt, "users", "alice", "secret2b") == LKA_AUTH_FAILED,
	    "sha512-crypt: wrong password FAILED");
	T_OK(check(lt, "users", "bob", "secret2b") == LKA_AUTH_OK,
	    "bcrypt: right password OK");
	T_OK(check(lt, "users", "bob", "") == LKA_AUTH_FAILED,
	    "bcrypt: empty password FAILED");
	T_OK(check(lt, "users", "carol", "secrety") == LKA_AUTH_OK,
	    "yescrypt: right password OK");
	T_OK(check(lt, "users", "carol", "secrety ") == LKA_AUTH_FAILED,
	    "yescrypt: password with a trailing space FAILED");
	T_OK(check(lt, "users", "ALICE", "secret6") == LKA_AUTH_OK,
	    "user names are case-insensitive like every table key");
	T_OK(check(lt, "users", "mallory", "secret6") == LKA_AUTH_FAILED,
	    "unknown user FAILED");
	T_OK(check(lt, "inline", "dave", "x") == LKA_AUTH_OK,
	    "inline table \"user hash\" entry: OK");
	T_OK(check(lt, "inline", "dave", "y") == LKA_AUTH_FAILED,
	    "inline table: wrong password FAILED");
	T_OK(check(lt, "d", "alice", "secret6") == LKA_AUTH_TEMPFAIL,
	    "a table that is no listener's credentials: TEMPFAIL");
	T_OK(check(lt, "nosuch", "alice", "secret6") == LKA_AUTH_TEMPFAIL,
	    "an unknown table: TEMPFAIL");
	lka_free(lt);
}

static void
test_bad_hashes(void)
{
	struct lka_tables	*lt;
	char			 err[1024], want[PATH_MAX + 64];

	write_users("alice $6$salt$abc\nbob plaintext\n");
	lt = load(conftext, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2: user bob: not a crypt(3) hash "
	    "($6$, $2b$, $y$...)", users_path);
	t_check(lt == NULL && strcmp(err, want) == 0,
	    "a value that is no hash: file:line error", "got \"%s\"", err);
	lka_free(lt);

	write_users("alice abJnggxhB/yWI\n");
	lt = load(conftext, err, sizeof(err));
	t_check(lt == NULL && strstr(err, ":1: user alice: not a crypt(3) "
	    "hash") != NULL, "DES crypt refused", "got \"%s\"", err);
	lka_free(lt);

	write_users("alice $1$salt$Ql6bX.YLHkJfszT2vTOpL0\n");
	lt = load(conftext, err, sizeof(err));
	t_check(lt == NULL && strstr(err, ":1: user alice: weak hash") !=
	    NULL, "MD5 crypt refused as weak", "got \"%s\"", err);
	lka_free(lt);
}

static void
test_relay(void)
{
	struct lka_tables	*lt;
	char			 err[1024];

	write_users("alice $6$salt$abc\n");
	lt = load(conftext, err, sizeof(err));
	t_check(lt != NULL, "config with relay from authenticated loads",
	    "%s", err);
	if (lt == NULL)
		return;
	t_check(strcmp(decide(lt, "x@outside.example", "alice"),
	    "0 smtp:[192.0.2.25]:25") == 0,
	    "authenticated: outside domain relayed via the rule's via",
	    "got %s", decide(lt, "x@outside.example", "alice"));
	t_check(strcmp(decide(lt, "x@outside.example", ""), "2 -") == 0,
	    "not authenticated: outside domain RELAY_DENIED", "got %s",
	    decide(lt, "x@outside.example", ""));
	t_check(strcmp(decide(lt, "nobody@example.com", "alice"), "1 -") == 0,
	    "authenticated: unknown user of a relayed domain UNKNOWN_USER",
	    "got %s", decide(lt, "nobody@example.com", "alice"));
	t_check(strcmp(decide(lt, "known@example.com", "alice"),
	    "0 smtp:example.com") == 0,
	    "authenticated: relayed domain decided by its relay for rule",
	    "got %s", decide(lt, "known@example.com", "alice"));
	lka_free(lt);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(users_path, sizeof(users_path), "%s/users", tmpdir);
	/* dave's hash: "x" in sha512-crypt, made by the parser's escapes */
	snprintf(conftext, sizeof(conftext),
	    "hostname mx.example.com\n"
	    "table users file:%s\n"
	    "table inline { \"dave %s\" }\n"
	    "table d { example.com }\n"
	    "table r { known@example.com }\n"
	    "pki mx.example.com cert /dev/null key /dev/null\n"
	    "listen on 127.0.0.1 port 2525 tls pki mx.example.com "
	    "auth <users>\n"
	    "listen on 127.0.0.1 port 2526 smtps pki mx.example.com "
	    "auth <inline>\n"
	    "relay for <d> recipients <r>\n"
	    "relay from authenticated via \"smtp:[192.0.2.25]:25\"\n",
	    users_path, "\\$6\\$mxgate\\$a94sxTf1B82PE9eJMZF82VyzqTglTR5v9o42qTyK"
	    "ibtcmmshDgmrIUpiSUn2N5VwENn/P/pAc5aDhsfIPmZZq.");
	test_passwords();
	test_bad_hashes();
	test_relay();
	unlink(users_path);
	rmdir(tmpdir);
	return t_exit();
}
