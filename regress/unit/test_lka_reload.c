/*
 * One table reloaded alone (lka_reload_table), the counters of
 * `smtpctl show tables`, and the trace sink of `smtpctl test rcpt`:
 * configs are parsed from text with absolute paths to files in a temp
 * dir, as lookupd gets them.  And a replaced cdb table's mapping, which
 * lookupd releases a slice per tick instead of at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "../../lookupd/lka.h"
#include "../../smtpctl/makemap.h"
#include "test.h"

static char	tmpdir[] = "/tmp/test_lka_reload.XXXXXX";

static void
write_table(const char *name, const char *content)
{
	char	 path[512];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(content, fp);
	fclose(fp);
}

static int
status_of(struct lka_tables *lt, const char *client, const char *rcpt)
{
	struct lka_result	res;
	int			s;

	lka_result_init(&res);
	if (lka_decide(lt, client, "", rcpt, &res) == -1)
		s = -1;
	else
		s = res.status;
	lka_result_free(&res);
	return s;
}

/* ---- the trace sink ---- */

struct lines {
	char	buf[8192];
	size_t	len;
	int	n;
};

static void
collect(void *arg, const char *line)
{
	struct lines *l = arg;

	l->n++;
	l->len += snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s\n",
	    line);
	if (l->len >= sizeof(l->buf))
		l->len = sizeof(l->buf) - 1;
}

static void
t_trace(struct lka_tables *lt)
{
	struct lines		 l;
	struct lka_trace	 tr = { collect, &l };
	struct lka_result	 a, b;
	size_t			 i;
	int			 same;

	memset(&l, 0, sizeof(l));
	lka_result_init(&a);
	lka_result_init(&b);
	lka_decide_trace(lt, "192.0.2.1", "", "list@example1.com", &a, &tr);
	lka_decide(lt, "192.0.2.1", "", "list@example1.com", &b);
	same = a.status == b.status && a.nrcpts == b.nrcpts &&
	    strcmp(a.text, b.text) == 0;
	for (i = 0; same && i < a.nrcpts; i++)
		same = strcmp(a.rcpts[i].addr, b.rcpts[i].addr) == 0 &&
		    strcmp(a.rcpts[i].relay, b.rcpts[i].relay) == 0;
	T_OK(same && a.status == LKA_RELAY && a.nrcpts == 2,
	    "traced and untraced decisions agree");
	T_OK(a.trace == NULL, "the sink is not kept in the result");
	t_check(strstr(l.buf, "relay rule 1 (relay for <domains>, inline): "
	    "domain example1.com is listed") != NULL &&
	    strstr(l.buf, "  <list@example1.com> -> a@example1.com, "
	    "b@example1.com\n") != NULL &&
	    strstr(l.buf, "    <b@example1.com>: no alias: final recipient")
	    != NULL, "trace: rule, alias tree", "%s", l.buf);
	lka_result_free(&a);
	lka_result_free(&b);
}

/* ---- reloading one table ---- */

static void
t_reload(struct lka_tables *lt, const struct mxgate_conf *conf)
{
	struct table	*domains, *nets, *nets2;
	char		 err[1024];
	uint64_t	 lookups;

	domains = lka_table_named(lt, "domains");
	nets = lka_table_named(lt, "nets");
	T_OK(status_of(lt, "10.1.2.3", "x@other.example") == LKA_RELAY_DENIED,
	    "10.1.2.3 not trusted yet");
	/* a@: aliases misses, rcpts hits */
	T_OK(status_of(lt, "192.0.2.1", "a@example1.com") == LKA_RELAY,
	    "a listed user relays");
	lookups = lka_table_named(lt, "rcpts")->stats.lookups;
	T_OK(lookups > 0 && lka_table_named(lt, "rcpts")->stats.hits > 0,
	    "lookups counted per table");

	write_table("nets", "192.0.2.0/24\n10.1.0.0/16\n");
	T_OK(lka_reload_table(lt, conf_table(conf, "nets"), err,
	    sizeof(err)) == 0, "reload of the networks table");
	nets2 = lka_table_named(lt, "nets");
	T_OK(status_of(lt, "10.1.2.3", "x@other.example") == LKA_RELAY,
	    "the new networks are in service");
	T_OK(nets2 != nets && lka_table_named(lt, "domains") == domains,
	    "only the changed table was replaced");

	write_table("nets", "192.0.2.0/24\n10.1.0.0/33\n");
	t_check(lka_reload_table(lt, conf_table(conf, "nets"), err,
	    sizeof(err)) == -1 && strstr(err, "/nets:2: ") != NULL,
	    "a bad network refused with file:line", "err \"%s\"", err);
	T_OK(lka_table_named(lt, "nets") == nets2 &&
	    status_of(lt, "10.1.2.3", "x@other.example") == LKA_RELAY,
	    "the old table stays in service");

	write_table("rcpts", "a@example1.com OK\nc@example1.com OK\n");
	T_OK(lka_reload_table(lt, conf_table(conf, "rcpts"), err,
	    sizeof(err)) == 0 && status_of(lt, "192.0.2.1",
	    "c@example1.com") == LKA_RELAY, "reload of a recipients table");
	T_OK(lka_table_named(lt, "rcpts")->stats.lookups > lookups,
	    "its counters go on across the reload");
	T_OK(status_of(lt, "192.0.2.1", "b@example1.com") ==
	    LKA_UNKNOWN_USER, "a removed user is unknown");
}

/* Lines of /proc/self/maps naming path (a deleted file says so). */
static int
mapped(const char *path)
{
	char	 line[1024];
	FILE	*fp;
	int	 n = 0;

	if ((fp = fopen("/proc/self/maps", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, path) != NULL)
			n++;
	fclose(fp);
	return n;
}

static void
t_cdb_retire(void)
{
	struct event_base	*base = event_base_new();
	struct table_conf	 tc;
	struct table		*old, *t;
	char			 src[512], err[1024];
	const char		*v;
	size_t			 n, i;
	int			 loops = 0;

	snprintf(src, sizeof(src), "%s/cdbsrc", tmpdir);
	memset(&tc, 0, sizeof(tc));
	snprintf(tc.name, sizeof(tc.name), "big");
	tc.type = TABLE_CDB;
	snprintf(tc.path, sizeof(tc.path), "%s/cdbsrc.cdb", tmpdir);
	{
		FILE *fp = fopen(src, "w");

		for (i = 0; i < 200000; i++)	/* about 9 MB: 5 slices */
			fprintf(fp, "user%zu@example1.com OK\n", i);
		fclose(fp);
	}
	table_cdb_init(base);
	if (makemap(src, tc.path, &n, err, sizeof(err)) == -1 ||
	    (old = table_open(&tc, err, sizeof(err))) == NULL) {
		t_check(0, "cdb table for the retire test", "%s", err);
		return;
	}
	T_OK(table_lookup(old, "user7@example1.com", &v) == TABLE_FOUND,
	    "cdb lookup");
	if (makemap(src, tc.path, &n, err, sizeof(err)) == -1 ||
	    (t = table_open(&tc, err, sizeof(err))) == NULL) {
		t_check(0, "cdb remade", "%s", err);
		return;
	}
	table_close(old);
	T_OK(mapped("cdbsrc.cdb (deleted)") == 1,
	    "the replaced table is still mapped right after its close");
	T_OK(table_lookup(t, "user199999@example1.com", &v) == TABLE_FOUND,
	    "the new table answers meanwhile");
	while (event_base_loop(base, EVLOOP_ONCE) == 0 && loops < 1000)
		loops++;
	t_check(mapped("cdbsrc.cdb (deleted)") == 0 && loops >= 4, "then "
	    "released in slices, one per tick", "%d ticks, %d mappings left",
	    loops, mapped("cdbsrc.cdb (deleted)"));
	table_close(t);
	while (event_base_loop(base, EVLOOP_ONCE) == 0)
		;			/* release it too before the loop goes */
	unlink(src);
	unlink(tc.path);
	event_base_free(base);
}

int
main(void)
{
	struct mxgate_conf	 conf;
	struct lka_tables	*lt;
	char			 text[2048], err[1024];
	int			 n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	write_table("rcpts", "a@example1.com OK\nb@example1.com OK\n"
	    "list@example1.com OK\n");
	write_table("aliases", "list@example1.com a@example1.com, "
	    "b@example1.com\n");
	write_table("nets", "192.0.2.0/24\n");
	n = snprintf(text, sizeof(text),
	    "origin example.com\n"
	    "table domains { example1.com }\n"
	    "table rcpts file:%s/rcpts\n"
	    "table aliases file:%s/aliases\n"
	    "table nets file:%s/nets\n"
	    "relay for <domains> recipients <rcpts> aliases <aliases>\n"
	    "relay from <nets>\n", tmpdir, tmpdir, tmpdir);
	conf_init(&conf);
	if (conf_parse_buffer(&conf, text, n, "test") == -1 ||
	    (lt = lka_load(&conf, err, sizeof(err))) == NULL) {
		printf("not ok - load: %s\n", err);
		return 1;
	}
	t_trace(lt);
	t_reload(lt, &conf);
	lka_free(lt);
	t_cdb_retire();
	conf_free(&conf);
	for (n = 0; n < 3; n++) {
		snprintf(text, sizeof(text), "%s/%s", tmpdir,
		    n == 0 ? "rcpts" : n == 1 ? "aliases" : "nets");
		unlink(text);
	}
	rmdir(tmpdir);
	return t_exit();
}
