/*
 * SMTP AUTH password checks for smtpd (IMSG_LKA_AUTH).
 *
 * A credentials table is named by a listener's `auth <table>'.  How a
 * password is checked depends on the table's type, one function per
 * kind in lka_auth_backends[]:
 * - file, cdb, inline: the value of the user's entry is a crypt(3) hash
 *   (sha512-crypt "$6$", bcrypt "$2b$", yescrypt "$y$", ...), checked
 *   with libxcrypt's crypt_rn();
 * - ldap: the user's entry is searched with the table's query_filter
 *   and service bind, then a simple bind as that entry with the password
 *   on a connection of its own, answered later through the done
 *   callback (lka_auth_ldap.c).
 *
 * Guarantees:
 * - the password is never logged, and is wiped from our buffers
 *   (explicit_bzero) once checked; the caller wipes its own;
 * - an unknown user costs the same crypt as a known one (a fixed hash is
 *   checked instead), so answer times do not tell which users exist;
 * - hashes are compared in constant time;
 * - a table that cannot answer, a hash crypt_rn() cannot use, or a table
 *   that is no listener's credentials table is LKA_AUTH_TEMPFAIL (454),
 *   never LKA_AUTH_FAILED: a fault of ours must not look like a wrong
 *   password;
 * - listable tables have every hash checked when they are loaded
 *   (crypt_checksalt), so a typo in a hash is a config error, not a
 *   user who silently cannot log in.
 * For ldap tables:
 * - an empty password is FAILED without asking (to a directory it is an
 *   "unauthenticated bind", which succeeds without checking anything);
 * - the user name reaches the filter only RFC 4515 escaped; no entry or
 *   more than one (logged) is FAILED, as is a disabled account when
 *   active_directory is on;
 * - invalidCredentials is FAILED; a directory that cannot answer
 *   (unreachable, timing out, a search or bind error) is TEMPFAIL with
 *   one log line naming the server and the error;
 * - the table's service connection is never rebound as a user: the
 *   user's bind has a connection of its own, closed once answered;
 * - nothing is cached: every login asks the directory, and the password
 *   is wiped from our buffers as soon as the bind is sent;
 * - at most 64 checks run at a time (each may hold a connection to the
 *   directory); beyond, TEMPFAIL.
 * The equal-cost guarantee for unknown users is the hash tables' only:
 * an unknown ldap user is answered without a bind, one round trip to
 * the directory sooner (smtpd's growing delay after each failure is far
 * longer).
 */
#include <crypt.h>
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include "lka.h"
#include "log.h"
#include "table.h"

/* Hashed with for unknown users, whose answer is FAILED whatever. */
#define LKA_AUTH_DUMMY_HASH	"$6$mxgate.dummy$"

/* Calls done exactly once, now or later. */
typedef void (*lka_auth_check_fn)(struct table *, const char *user,
    const char *password, lka_auth_done, void *arg);

static void	lka_auth_hash_check(struct table *, const char *,
		    const char *, lka_auth_done, void *);

static const struct {
	enum table_type		 type;
	lka_auth_check_fn	 check;		/* NULL: not supported */
} lka_auth_backends[] = {
	{ TABLE_FILE,	lka_auth_hash_check },
	{ TABLE_CDB,	lka_auth_hash_check },
	{ TABLE_INLINE,	lka_auth_hash_check },
	{ TABLE_LDAP,	lka_auth_ldap },
};

/* The hash lookup is synchronous; one buffer serves every check. */
static struct crypt_data	lka_crypt;

/* 1 when a and b (len bytes each) are equal, in time that only depends
 * on len (libbsd has no timingsafe_bcmp). */
static int
lka_auth_equal(const char *a, const char *b, size_t len)
{
	volatile unsigned char	 diff = 0;
	size_t			 i;

	for (i = 0; i < len; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

/* 1 when crypt(password, hash) gives hash, 0 when not, -1 unusable. */
static int
lka_auth_crypt(const char *password, const char *hash)
{
	const char	*out;
	size_t		 len = strlen(hash);
	int		 rc;

	out = crypt_rn(password, hash, &lka_crypt, sizeof(lka_crypt));
	if (out == NULL || out[0] == '*')
		rc = -1;
	else
		rc = strlen(out) == len && lka_auth_equal(out, hash, len);
	explicit_bzero(&lka_crypt, sizeof(lka_crypt));
	return rc;
}

static enum lka_auth_status
lka_auth_hash(struct table *t, const char *user, const char *password)
{
	const char	*hash = NULL;
	int		 rc;

	switch (table_lookup(t, user, &hash)) {
	case TABLE_FAIL:
		return LKA_AUTH_TEMPFAIL;
	case TABLE_NOTFOUND:
		(void)lka_auth_crypt(password, LKA_AUTH_DUMMY_HASH);
		return LKA_AUTH_FAILED;
	case TABLE_FOUND:
		break;
	}
	if (hash == NULL || (rc = lka_auth_crypt(password, hash)) == -1) {
		log_warnx("table %s: user %s: the hash cannot be used",
		    t->name, user);
		return LKA_AUTH_TEMPFAIL;
	}
	return rc == 1 ? LKA_AUTH_OK : LKA_AUTH_FAILED;
}

/* The hash tables answer at once. */
static void
lka_auth_hash_check(struct table *t, const char *user, const char *password,
    lka_auth_done done, void *arg)
{
	done(arg, lka_auth_hash(t, user, password));
}

static lka_auth_check_fn
lka_auth_backend(const struct table *t)
{
	size_t	 i;

	for (i = 0; i < sizeof(lka_auth_backends) /
	    sizeof(lka_auth_backends[0]); i++)
		if (lka_auth_backends[i].type == t->type)
			return lka_auth_backends[i].check;
	return NULL;
}

void
lka_auth_start(struct lka_tables *lt, const char *table, const char *user,
    const char *password, lka_auth_done done, void *arg)
{
	struct table		*t;
	lka_auth_check_fn	 check;

	if ((t = lka_auth_table(lt, table)) == NULL) {
		log_warnx("auth: <%s> is no listener's credentials table",
		    table);
		done(arg, LKA_AUTH_TEMPFAIL);
		return;
	}
	if ((check = lka_auth_backend(t)) == NULL) {
		log_warnx("table %s: %s tables cannot check passwords",
		    t->name, t->backend->name);
		done(arg, LKA_AUTH_TEMPFAIL);
		return;
	}
	check(t, user, password, done, arg);
}

struct lka_auth_load {
	struct table	*t;
	char		*err;
	size_t		 errsz;
};

/* Why a table value cannot serve as a password hash, or NULL. */
static const char *
lka_auth_bad_hash(const char *value)
{
	if (value[0] != '$')	/* plain text, or DES crypt: 8 characters */
		return "not a crypt(3) hash ($6$, $2b$, $y$...)";
	switch (crypt_checksalt(value)) {
	case CRYPT_SALT_OK:
	case CRYPT_SALT_TOO_CHEAP:
		return NULL;
	case CRYPT_SALT_METHOD_LEGACY:
		return "weak hash method (use $6$, $2b$ or $y$)";
	case CRYPT_SALT_METHOD_DISABLED:
		return "hash method not supported by this libxcrypt";
	default:
		return "not a crypt(3) hash";
	}
}

/* One entry of a credentials table: a hash libxcrypt accepts. */
static int
lka_auth_check_entry(void *arg, const char *key, const char *value,
    size_t lineno)
{
	struct lka_auth_load	*c = arg;
	const char		*why;
	char			 where[PATH_MAX + 32];

	if ((why = lka_auth_bad_hash(value)) == NULL)
		return 0;
	if (lineno > 0)
		snprintf(where, sizeof(where), "%s:%zu", c->t->path, lineno);
	else
		snprintf(where, sizeof(where), "table %s", c->t->name);
	snprintf(c->err, c->errsz, "%s: user %s: %s", where, key, why);
	return -1;
}

int
lka_auth_check_table(struct table *t, char *err, size_t errsz)
{
	struct lka_auth_load	 c = { t, err, errsz };

	if (lka_auth_backend(t) == NULL) {
		snprintf(err, errsz, "table %s: %s tables cannot be used for "
		    "auth", t->name, t->backend->name);
		return -1;
	}
	if (!table_can_list(t))
		return 0;
	return table_foreach(t, lka_auth_check_entry, &c);
}
