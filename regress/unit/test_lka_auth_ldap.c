/*
 * SMTP AUTH against an ldap table (lookupd/lka_auth_ldap.c) and the bind
 * checks of common/ldap_conn.c, without a directory: the server is
 * 127.0.0.1:1, where nobody listens, and the event loop is run here.
 * What needs no directory is answered at once (an empty password, a
 * name the filter cannot take: FAILED, no query); anything else is
 * answered later, from the loop, never from inside the call, and a
 * directory that cannot be reached is TEMPFAIL, never FAILED.  A bind
 * check refuses an empty password or DN (an unauthenticated bind) and
 * reports an unreachable server with its URL.  The integration test
 * test_auth_ldap.py does the rest against a real slapd.
 */
#include <sys/queue.h>

#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ldap_conf.h"
#include "ldap_conn.h"
#include "log.h"
#include "../../lookupd/lka.h"
#include "test.h"

static char		 tmpdir[] = "/tmp/test_lka_auth_ldap.XXXXXX";
static char		 ldap_path[PATH_MAX], ldap_path2[PATH_MAX],
			 ldap_path3[PATH_MAX];
static struct event_base *base;

struct answer {
	int	 status;		/* -1: not yet */
	int	 calls;
	char	 why[1024];
};

static void
auth_done(void *arg, enum lka_auth_status status)
{
	struct answer *a = arg;

	a->status = status;
	a->calls++;
}

static void
bind_done(void *arg, int status, const char *why)
{
	struct answer *a = arg;

	a->status = status;
	a->calls++;
	snprintf(a->why, sizeof(a->why), "%s", why);
}

/* Run the loop until a is answered or about five seconds pass. */
static void
run_until(struct answer *a)
{
	int i;

	for (i = 0; i < 500 && a->calls == 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
}

static struct lka_tables *
load(void)
{
	struct mxgate_conf	 conf;
	struct lka_tables	*lt;
	char			 text[3 * PATH_MAX + 512], err[1024];

	snprintf(text, sizeof(text),
	    "hostname mx.example.com\n"
	    "table users ldap:%s\n"
	    "table more ldap:%s\n"
	    "table third ldap:%s\n"
	    "table d { example.com }\n"
	    "pki mx.example.com cert /dev/null key /dev/null\n"
	    "listen on 127.0.0.1 port 2525 tls pki mx.example.com "
	    "auth <users>\n"
	    "listen on 127.0.0.1 port 2526 tls pki mx.example.com "
	    "auth <more>\n"
	    "listen on 127.0.0.1 port 2527 tls pki mx.example.com "
	    "auth <third>\n"
	    "relay for <d>\n", ldap_path, ldap_path2, ldap_path3);
	if (conf_parse_buffer(&conf, text, strlen(text), "<test>") == -1)
		return NULL;
	if ((lt = lka_load(&conf, err, sizeof(err))) == NULL)
		printf("# %s\n", err);
	conf_free(&conf);
	return lt;
}

static void
test_auth(struct lka_tables *lt)
{
	struct answer	 a;

	memset(&a, 0, sizeof(a));
	a.status = -1;
	lka_auth_start(lt, "users", "alice@example.com", "", auth_done, &a);
	T_OK(a.calls == 1 && a.status == LKA_AUTH_FAILED,
	    "empty password: FAILED at once, the directory not asked");

	memset(&a, 0, sizeof(a));
	a.status = -1;
	lka_auth_start(lt, "users", "alice", "pw", auth_done, &a);
	T_OK(a.calls == 1 && a.status == LKA_AUTH_FAILED,
	    "a name the filter (%u@%d) cannot take: FAILED at once");

	memset(&a, 0, sizeof(a));
	a.status = -1;
	lka_auth_start(lt, "users", "alice@example.com", "pw", auth_done, &a);
	T_OK(a.calls == 0, "a real check: not answered from inside the call");
	run_until(&a);
	t_check(a.calls == 1 && a.status == LKA_AUTH_TEMPFAIL,
	    "directory unreachable: TEMPFAIL (454), never FAILED, once",
	    "calls %d status %d", a.calls, a.status);
}

/* 64 checks in flight at most; the 65th is TEMPFAIL at once.  Tables
 * "more" and "third" are the same server as "users", each with its own
 * connection, not waiting out the reconnect delay test_auth() caused. */
static void
test_cap(struct lka_tables *lt)
{
	static struct answer	 a[65];
	int			 i, pending = 0, tempfail = 0;

	memset(a, 0, sizeof(a));
	for (i = 0; i < 65; i++)
		lka_auth_start(lt, "more", "bob@example.com", "pw", auth_done,
		    &a[i]);
	for (i = 0; i < 64; i++)
		pending += a[i].calls == 0;
	T_OK(pending == 64 && a[64].calls == 1 &&
	    a[64].status == LKA_AUTH_TEMPFAIL,
	    "64 checks in flight; the 65th answered TEMPFAIL at once");
	for (i = 0; i < 64; i++) {
		run_until(&a[i]);
		tempfail += a[i].calls == 1 &&
		    a[i].status == LKA_AUTH_TEMPFAIL;
	}
	t_check(tempfail == 64, "each of the 64 answered once, TEMPFAIL",
	    "%d of 64", tempfail);
	/* "third": a connection not in its reconnect delay either */
	memset(a, 0, sizeof(a));
	lka_auth_start(lt, "third", "bob@example.com", "pw", auth_done, &a[0]);
	T_OK(a[0].calls == 0, "after them, a check is taken again (pending)");
	run_until(&a[0]);
	T_OK(a[0].calls == 1 && a[0].status == LKA_AUTH_TEMPFAIL,
	    "and answered TEMPFAIL from the loop");
}

static void
test_bind_check(void)
{
	struct ldap_conf	 lc;
	struct ldap_conn	*c;
	struct answer		 a;
	const char		*text = "server_host = ldap://127.0.0.1:1\n"
	    "search_base = dc=example,dc=com\ntimeout = 3s\n";
	char			 err[512], why[256];

	if (ldap_conf_parse(text, strlen(text), "<test>", &lc, err,
	    sizeof(err)) == -1 || (c = ldap_conn_new(&lc, "test", base, err,
	    sizeof(err))) == NULL) {
		t_check(0, "ldap connection", "%s", err);
		return;
	}
	memset(&a, 0, sizeof(a));
	T_OK(ldap_conn_bind_check(c, "cn=alice,dc=example,dc=com", "",
	    bind_done, &a, why, sizeof(why)) == -1 && a.calls == 0 &&
	    strstr(why, "empty password") != NULL,
	    "bind check with an empty password refused, no callback");
	T_OK(ldap_conn_bind_check(c, "", "pw", bind_done, &a, why,
	    sizeof(why)) == -1 && a.calls == 0,
	    "bind check with an empty DN refused, no callback");
	T_OK(ldap_conn_bind_check(c, "cn=alice,dc=example,dc=com", "pw",
	    bind_done, &a, why, sizeof(why)) == 0 && a.calls == 0,
	    "bind check started, not answered from inside the call");
	run_until(&a);
	t_check(a.calls == 1 && a.status == LDAP_CONN_ERROR &&
	    strstr(a.why, "ldap://127.0.0.1:1") != NULL,
	    "unreachable server: one ERROR naming the server",
	    "calls %d status %d why \"%s\"", a.calls, a.status, a.why);
	ldap_conn_free(c);
}

static int
write_ldap_conf(const char *path)
{
	FILE	*fp;

	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		return -1;
	}
	fputs("server_host = ldap://127.0.0.1:1\n"
	    "search_base = dc=example,dc=com\n"
	    "query_filter = (&(objectClass=user)(mail=%u@%d))\n"
	    "timeout = 3s\n", fp);
	return fclose(fp);
}

int
main(void)
{
	struct lka_tables	*lt;

	log_init(1, "test");
	if (mkdtemp(tmpdir) == NULL || (base = event_base_new()) == NULL) {
		perror("setup");
		return 1;
	}
	snprintf(ldap_path, sizeof(ldap_path), "%s/users.conf", tmpdir);
	snprintf(ldap_path2, sizeof(ldap_path2), "%s/more.conf", tmpdir);
	snprintf(ldap_path3, sizeof(ldap_path3), "%s/third.conf", tmpdir);
	if (write_ldap_conf(ldap_path) == -1 ||
	    write_ldap_conf(ldap_path2) == -1 ||
	    write_ldap_conf(ldap_path3) == -1)
		return 1;
	table_ldap_init(base);
	lt = load();
	T_OK(lt != NULL, "an ldap table loads as a listener's credentials");
	if (lt != NULL) {
		test_auth(lt);
		test_cap(lt);
		lka_free(lt);
	}
	test_bind_check();
	unlink(ldap_path);
	unlink(ldap_path2);
	unlink(ldap_path3);
	rmdir(tmpdir);
	return t_exit();
}
