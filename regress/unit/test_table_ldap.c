/*
 * lookupd/table_ldap.c without a directory: a server nobody listens on
 * (127.0.0.1:1) and the event loop run here.  Lookups of one key in
 * flight share one query and each waiting decision is woken exactly once
 * when it ends; the failure is then answered at once without a new
 * query; keys an Active Directory table cannot ask are not found without
 * any query; a reload (table opened again) keeps the directory.
 */
#include <sys/queue.h>

#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "../../lookupd/table.h"
#include "test.h"

struct counted {
	struct table_waiter	w;	/* first */
	int			woken;
};

static char	tmpdir[] = "/tmp/test_table_ldap.XXXXXX";
static char	paths[2][PATH_MAX];

static void
on_wake(struct table_waiter *w)
{
	((struct counted *)w)->woken++;
}

static struct table *
open_ldap(const char *name, const char *path)
{
	struct table_conf	tc;
	struct table		*t;
	char			err[512];

	memset(&tc, 0, sizeof(tc));
	snprintf(tc.name, sizeof(tc.name), "%s", name);
	tc.type = TABLE_LDAP;
	snprintf(tc.path, sizeof(tc.path), "%s", path);
	if ((t = table_open(&tc, err, sizeof(err))) == NULL)
		printf("# %s\n", err);
	return t;
}

static void
write_conf(int i, const char *text)
{
	FILE *fp;

	snprintf(paths[i], sizeof(paths[i]), "%s/ldap%d.conf", tmpdir, i);
	if ((fp = fopen(paths[i], "w")) == NULL) {
		perror(paths[i]);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
}

static enum table_res
lookup_as(struct table *t, struct counted *c, const char *key)
{
	enum table_res r;

	table_waiter_set(c ? &c->w : NULL);
	r = table_lookup(t, key, NULL);
	table_waiter_set(NULL);
	return r;
}

/* Run the loop until both are woken or about two seconds pass. */
static void
run_until(struct event_base *base, struct counted *a, struct counted *b)
{
	int i;

	for (i = 0; i < 200 && (a->woken == 0 || b->woken == 0); i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
}

int
main(void)
{
	struct event_base	*base;
	struct table		*t, *ad, *again;
	struct table_ldap_stats	 st;
	struct counted		 w1 = { { 0, on_wake }, 0 };
	struct counted		 w2 = { { 0, on_wake }, 0 };
	struct counted		 w3 = { { 0, on_wake }, 0 };

	log_init(1, "test");
	if (mkdtemp(tmpdir) == NULL || (base = event_base_new()) == NULL) {
		perror("setup");
		return 1;
	}
	table_ldap_init(base);
	/* a reconnect delay the test cannot outlast, however slow (ASan) */
	write_conf(0, "server_host = ldap://127.0.0.1:1\n"
	    "search_base = dc=example,dc=com\nreconnect_delay = 600\nreconnect_delay_max = 600\n");
	write_conf(1, "server_host = ldap://127.0.0.1:1\n"
	    "search_base = dc=example,dc=com\nactive_directory = yes\n"
	    "reconnect_delay = 600\nreconnect_delay_max = 600\n");
	t = open_ldap("dir", paths[0]);
	ad = open_ldap("ad", paths[1]);
	T_OK(t != NULL && ad != NULL, "ldap tables open");
	if (t == NULL || ad == NULL)
		return t_exit();

	T_OK(lookup_as(t, &w1, "alice@example.com") == TABLE_FAIL &&
	    w1.w.pending == 1, "first lookup: pending, decision attached");
	T_OK(lookup_as(t, &w2, "Alice@Example.com") == TABLE_FAIL &&
	    w2.w.pending == 1, "same key (other case), other decision: "
	    "attached");
	T_OK(lookup_as(t, &w1, "alice@example.com") == TABLE_FAIL &&
	    w1.w.pending == 1, "same decision asking again: attached once");
	T_OK(table_ldap_stats(t, &st) == 0 && st.inflight == 1,
	    "one query in flight for the key");
	T_OK(lookup_as(t, NULL, "bob@example.com") == TABLE_FAIL &&
	    table_ldap_stats(t, &st) == 0 && st.inflight == 2,
	    "another key: a second query (no decision attached)");

	run_until(base, &w1, &w2);
	t_check(w1.woken == 1 && w2.woken == 1 && w1.w.pending == 0 &&
	    w2.w.pending == 0, "both decisions woken once when the query "
	    "failed", "woken %d %d", w1.woken, w2.woken);
	T_OK(table_ldap_stats(t, &st) == 0 && st.inflight == 0 &&
	    strcmp(st.server, "ldap://127.0.0.1:1") == 0,
	    "nothing in flight; server named");
	T_OK(lookup_as(t, &w3, "alice@example.com") == TABLE_FAIL &&
	    w3.w.pending == 0 && table_ldap_stats(t, &st) == 0 &&
	    st.inflight == 0, "after the failure: fails at once, no new "
	    "query (4xx for the rerun, never a wait loop)");
	T_OK(lookup_as(t, &w3, "carol@example.com") == TABLE_FAIL &&
	    w3.w.pending == 0, "server in its reconnect delay: a new key "
	    "fails at once");

	T_OK(lookup_as(ad, &w3, "postmaster") == TABLE_NOTFOUND &&
	    lookup_as(ad, &w3, "@example.com") == TABLE_NOTFOUND &&
	    lookup_as(ad, &w3, "user@") == TABLE_NOTFOUND &&
	    w3.w.pending == 0 && table_ldap_stats(ad, &st) == 0 &&
	    st.inflight == 0, "AD: keys that are not addresses are not "
	    "found, without a query");

	again = open_ldap("dir", paths[0]);
	T_OK(again != NULL && table_ldap_count() == 2 &&
	    table_ldap_stats(again, &st) == 0 && st.cached > 0,
	    "opened again (reload): same directory, cache kept");
	table_ldap_lock();
	write_conf(0, "server_host = ldap://127.0.0.1:2\n"
	    "search_base = dc=example,dc=com\n");
	snprintf(paths[1], sizeof(paths[1]), "%s/new.conf", tmpdir);
	T_OK(open_ldap("new", paths[1]) == NULL,
	    "after the sandbox: a new ldap file is refused");

	table_close(again);
	table_close(t);
	table_close(ad);
	unlink(paths[0]);
	snprintf(paths[1], sizeof(paths[1]), "%s/ldap1.conf", tmpdir);
	unlink(paths[1]);
	rmdir(tmpdir);
	return t_exit();
}
