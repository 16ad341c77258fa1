/*
 * The config parser: every .conf in regress/conf/good/ prints exactly its
 * .ok (with @DIR@ standing for the absolute directory of good/) and reads
 * back from its printed form to the same structure and the same text;
 * every .conf in regress/conf/bad/ fails with each line of its .err in the
 * error output.  Then defaults, buffers, includes, macros, relative
 * paths, reloads, and a small mutation fuzz.  Run from the repo root.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

#define GOOD_DIR	"regress/conf/good"
#define BAD_DIR		"regress/conf/bad"

static char *
read_all_fd(int fd, size_t *lenp)
{
	char	*buf = NULL, *nbuf;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;

	for (;;) {
		if (cap - len < 4096) {
			if ((nbuf = realloc(buf, cap + 8192)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nbuf;
			cap += 8192;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

static char *
read_file(const char *path, size_t *lenp)
{
	char	*buf;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	buf = read_all_fd(fd, lenp);
	close(fd);
	return buf;
}

/*
 * Parse a file (text == NULL) or a buffer with stderr captured in *errp
 * (malloc'd, "" if nothing was written).
 */
static int
parse_capture(struct mxgate_conf *conf, const char *path, const char *text,
    size_t len, char **errp)
{
	char	 tmpl[] = "/tmp/test_conf.XXXXXX";
	int	 fd, saved, rv;

	*errp = NULL;
	if ((fd = mkstemp(tmpl)) == -1)
		return -2;
	unlink(tmpl);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	if (text == NULL)
		rv = conf_parse_file(conf, path);
	else
		rv = conf_parse_buffer(conf, text, len, path);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	*errp = read_all_fd(fd, NULL);
	close(fd);
	if (*errp == NULL)
		*errp = strdup("");
	return rv;
}

/* Quiet parse of a buffer (errors to /dev/null). */
static int
parse_quiet(struct mxgate_conf *conf, const char *text, size_t len)
{
	int	 devnull, saved, rv;

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	if ((devnull = open("/dev/null", O_WRONLY)) != -1) {
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
	rv = conf_parse_buffer(conf, text, len, "<fuzz>");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	return rv;
}

/* s with every `from' replaced by `to' (malloc'd). */
static char *
subst(const char *s, const char *from, const char *to)
{
	size_t		 flen = strlen(from), tlen = strlen(to), n = 0;
	const char	*p;
	char		*out, *o;

	for (p = s; (p = strstr(p, from)) != NULL; p += flen)
		n++;
	if ((out = malloc(strlen(s) + n * tlen + 1)) == NULL)
		return NULL;
	for (o = out; (p = strstr(s, from)) != NULL; s = p + flen) {
		memcpy(o, s, p - s);
		o += p - s;
		memcpy(o, to, tlen);
		o += tlen;
	}
	strcpy(o, s);
	return out;
}

/* Line number (1-based) of the first difference between a and b. */
static int
first_diff_line(const char *a, const char *b)
{
	int	 line = 1;

	for (; *a != '\0' && *a == *b; a++, b++)
		if (*a == '\n')
			line++;
	return line;
}

/* NULL if equal, else the name of the first field that differs. */
static const char *
conf_diff(const struct mxgate_conf *a, const struct mxgate_conf *b)
{
	const struct table_conf		*ta, *tb;
	const struct listen_conf	*la, *lb;
	const struct rule_conf		*ra, *rb;
	size_t				 i;

#define STR(f)	if (strcmp(a->f, b->f) != 0) return #f
#define NUM(f)	if (a->f != b->f) return #f
	STR(hostname); STR(origin); STR(spool); STR(control);
	STR(control_group); STR(empty_dir); STR(user); STR(queue_user);
	NUM(max_message_size); NUM(max_recipients); NUM(retry_min);
	NUM(retry_max); NUM(queue_lifetime); NUM(show_table_name);
	NUM(smtp_bare_lf); NUM(smtp_max_sessions);
	NUM(smtp_max_sessions_per_client); NUM(smtp_timeout);
	NUM(smtp_max_errors);
#undef STR
#undef NUM
	tb = TAILQ_FIRST(&b->tables);
	TAILQ_FOREACH(ta, &a->tables, entry) {
		if (tb == NULL || strcmp(ta->name, tb->name) != 0 ||
		    ta->type != tb->type || ta->nvalues != tb->nvalues ||
		    (ta->type != TABLE_INLINE && strcmp(ta->path, tb->path)))
			return "tables";
		for (i = 0; i < ta->nvalues; i++)
			if (strcmp(ta->values[i], tb->values[i]) != 0)
				return "table values";
		tb = TAILQ_NEXT(tb, entry);
	}
	if (tb != NULL)
		return "tables";
	lb = TAILQ_FIRST(&b->listeners);
	TAILQ_FOREACH(la, &a->listeners, entry) {
		if (lb == NULL || strcmp(la->addr, lb->addr) != 0 ||
		    la->port != lb->port)
			return "listeners";
		lb = TAILQ_NEXT(lb, entry);
	}
	if (lb != NULL)
		return "listeners";
	rb = TAILQ_FIRST(&b->rules);
	TAILQ_FOREACH(ra, &a->rules, entry) {
		if (rb == NULL || ra->kind != rb->kind ||
		    strcmp(ra->match, rb->match) != 0 ||
		    ra->nrecipients != rb->nrecipients ||
		    strcmp(ra->aliases, rb->aliases) != 0 ||
		    strcmp(ra->via_table, rb->via_table) != 0 ||
		    strcmp(ra->via, rb->via) != 0)
			return "rules";
		for (i = 0; i < ra->nrecipients; i++)
			if (strcmp(ra->recipients[i], rb->recipients[i]) != 0)
				return "rule recipients";
		rb = TAILQ_NEXT(rb, entry);
	}
	if (rb != NULL)
		return "rules";
	return NULL;
}

static int
conf_empty(const struct mxgate_conf *c)
{
	return TAILQ_EMPTY(&c->tables) && TAILQ_EMPTY(&c->listeners) &&
	    TAILQ_EMPTY(&c->rules);
}

/*
 * Print conf, parse that as a buffer, compare, print again: "" if all
 * is well, else why (static).
 */
static const char *
roundtrip(const struct mxgate_conf *conf)
{
	static char		 why[256];
	struct mxgate_conf	 again;
	char			*text, *text2 = NULL, *err = NULL;
	const char		*diff;
	size_t			 len;

	why[0] = '\0';
	if ((text = conf_to_string(conf, &len)) == NULL)
		return "conf_to_string failed";
	if (len != strlen(text))
		snprintf(why, sizeof(why), "length %zu, strlen %zu", len,
		    strlen(text));
	else if (parse_capture(&again, "<conf>", text, len, &err) != 0)
		snprintf(why, sizeof(why), "printed form does not parse: %s",
		    err);
	else if ((diff = conf_diff(conf, &again)) != NULL)
		snprintf(why, sizeof(why), "reparsed %s differ", diff);
	else if ((text2 = conf_to_string(&again, NULL)) == NULL)
		snprintf(why, sizeof(why), "second conf_to_string failed");
	else if (strcmp(text, text2) != 0)
		snprintf(why, sizeof(why), "second print differs at line %d",
		    first_diff_line(text, text2));
	conf_free(&again);
	free(text);
	free(text2);
	free(err);
	return why;
}

static void
test_defaults(void)
{
	struct mxgate_conf	 c;
	char			 host[256], want[256];
	const char		*dot;

	conf_init(&c);
	T_OK(strcmp(c.spool, "/var/spool/mxgate") == 0, "default spool");
	T_OK(strcmp(c.control, "/run/mxgate.sock") == 0, "default control");
	T_OK(c.control_group[0] == '\0', "default control group");
	T_OK(strcmp(c.empty_dir, "/var/empty") == 0, "default chroot-dir");
	T_OK(strcmp(c.user, "_mxgate") == 0, "default user");
	T_OK(strcmp(c.queue_user, "_mxgateq") == 0, "default queue-user");
	T_OK(c.max_message_size == 35 * 1024 * 1024, "default size");
	T_OK(c.max_recipients == 1000, "default max-recipients");
	T_OK(c.retry_min == 300 && c.retry_max == 4000, "default retry");
	T_OK(c.queue_lifetime == 5 * 86400, "default lifetime");
	T_OK(c.show_table_name == 0, "default show-table-name");
	T_OK(c.smtp_bare_lf == CONF_BARE_LF_REJECT, "default smtp bare-lf reject");
	T_OK(c.smtp_max_sessions == 10000, "default smtp max-sessions");
	T_OK(c.smtp_max_sessions_per_client == 50,
	    "default smtp max-sessions-per-client");
	T_OK(c.smtp_timeout == 300, "default smtp timeout");
	T_OK(c.smtp_max_errors == 20, "default smtp max-errors");
	T_OK(conf_empty(&c), "default lists empty");
	T_OK(c.hostname[0] != '\0', "default hostname set");
	if (gethostname(host, sizeof(host)) == 0 && strchr(host, ' ') == NULL)
		t_check(strcmp(c.hostname, host) == 0, "hostname is "
		    "gethostname()", "%s vs %s", c.hostname, host);
	dot = strchr(c.hostname, '.');
	snprintf(want, sizeof(want), "%s", dot != NULL && dot[1] != '\0' ?
	    dot + 1 : c.hostname);
	t_check(strcmp(c.origin, want) == 0, "default origin",
	    "origin %s for hostname %s", c.origin, c.hostname);
	T_OK(roundtrip(&c)[0] == '\0', "defaults round trip");
	conf_free(&c);
	conf_free(&c);		/* harmless twice */
}

static void
test_good_one(const char *path, const char *dir)
{
	struct mxgate_conf	 c;
	char			 okpath[PATH_MAX], name[PATH_MAX + 32];
	char			*err = NULL, *ok = NULL, *want = NULL, *got;
	const char		*why;
	int			 rv;

	snprintf(okpath, sizeof(okpath), "%.*s.ok", (int)strlen(path) - 5,
	    path);
	snprintf(name, sizeof(name), "good %s", path);
	rv = parse_capture(&c, path, NULL, 0, &err);
	if (rv != 0 || err[0] != '\0') {
		t_check(0, name, "parse failed: %s", err);
		free(err);
		if (rv == 0)
			conf_free(&c);
		return;
	}
	if ((ok = read_file(okpath, NULL)) == NULL ||
	    (want = subst(ok, "@DIR@", dir)) == NULL)
		t_check(0, name, "cannot read %s", okpath);
	else if ((got = conf_to_string(&c, NULL)) == NULL)
		t_check(0, name, "conf_to_string failed");
	else {
		t_check(strcmp(got, want) == 0, name, "differs from %s at "
		    "line %d; got:\n%s", okpath, first_diff_line(got, want),
		    got);
		free(got);
	}
	snprintf(name, sizeof(name), "round trip %s", path);
	why = roundtrip(&c);
	t_check(why[0] == '\0', name, "%s", why);
	conf_free(&c);
	free(err);
	free(ok);
	free(want);
}

static void
test_good(void)
{
	glob_t	 g;
	char	 cwd[PATH_MAX], dir[PATH_MAX + 32];
	size_t	 i;

	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		t_check(0, "getcwd", "%s", strerror(errno));
		return;
	}
	snprintf(dir, sizeof(dir), "%s/%s", strcmp(cwd, "/") ? cwd : "",
	    GOOD_DIR);
	if (glob(GOOD_DIR "/*.conf", 0, NULL, &g) != 0) {
		t_check(0, "good configs", "none found (run from repo root)");
		return;
	}
	for (i = 0; i < g.gl_pathc; i++)
		test_good_one(g.gl_pathv[i], dir);
	globfree(&g);
}

/* Every error line must look like "file:line: message". */
static int
err_format_ok(const char *err)
{
	const char	*p, *colon;

	for (p = err; *p != '\0'; p = strchr(p, '\n') + 1) {
		if (strchr(p, '\n') == NULL)
			return 0;
		if ((colon = strstr(p, ": ")) == NULL || colon > strchr(p, '\n'))
			return 0;
		while (colon > p && colon[-1] >= '0' && colon[-1] <= '9')
			colon--;
		if (colon == p || colon[-1] != ':' || colon[0] == ':')
			return 0;
	}
	return 1;
}

static void
test_bad_one(const char *path)
{
	struct mxgate_conf	 c;
	char			 errpath[PATH_MAX], name[PATH_MAX + 32];
	char			*err = NULL, *want, *line, *next;
	int			 rv;

	snprintf(errpath, sizeof(errpath), "%.*s.err", (int)strlen(path) - 5,
	    path);
	snprintf(name, sizeof(name), "bad %s", path);
	rv = parse_capture(&c, path, NULL, 0, &err);
	if (rv != -1) {
		t_check(0, name, "parse returned %d", rv);
		if (rv == 0)
			conf_free(&c);
		free(err);
		return;
	}
	if ((want = read_file(errpath, NULL)) == NULL) {
		t_check(0, name, "cannot read %s", errpath);
		free(err);
		return;
	}
	for (line = want; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line != '\0' && strstr(err, line) == NULL)
			break;
	}
	t_check(line == NULL || *line == '\0', name, "\"%s\" not in:\n%s",
	    line, err);
	snprintf(name, sizeof(name), "bad %s: error format, conf freed", path);
	t_check(err_format_ok(err) && conf_empty(&c), name, "%s", err);
	conf_free(&c);
	free(want);
	free(err);
}

static void
test_bad(void)
{
	glob_t	 g;
	size_t	 i;

	if (glob(BAD_DIR "/*.conf", 0, NULL, &g) != 0) {
		t_check(0, "bad configs", "none found (run from repo root)");
		return;
	}
	for (i = 0; i < g.gl_pathc; i++)
		test_bad_one(g.gl_pathv[i]);
	globfree(&g);
}

/* Parse a buffer that must succeed; the caller frees c. */
static int
parse_ok(struct mxgate_conf *c, const char *text, const char *name)
{
	char	*err;
	int	 rv;

	rv = parse_capture(c, "<conf>", text, strlen(text), &err);
	t_check(rv == 0, name, "%s", err);
	free(err);
	return rv;
}

/* Parse a buffer that must fail with `want' in the errors. */
static void
parse_bad(const char *text, const char *want, const char *name)
{
	struct mxgate_conf	 c;
	char			*err;
	int			 rv;

	rv = parse_capture(&c, "<conf>", text, strlen(text), &err);
	t_check(rv == -1 && strstr(err, want) != NULL, name,
	    "rv %d, errors: %s", rv, err);
	if (rv == 0)
		conf_free(&c);
	free(err);
}

static void
test_paths(void)
{
	struct mxgate_conf	 c;
	const struct table_conf	*t;
	char			 cwd[PATH_MAX], want[PATH_MAX + 64];

	if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, "/") == 0)
		return;
	if (parse_ok(&c, "table a file:x/y\n"
	    "table b cdb:./x/../z//w/\n"
	    "table c ldap:../up.conf\n"
	    "table d file:/abs/./p/../q\n"
	    "spool spool/dir\n", "buffer: relative paths") != 0)
		return;
	snprintf(want, sizeof(want), "%s/x/y", cwd);
	t = conf_table(&c, "a");
	t_check(t != NULL && t->type == TABLE_FILE &&
	    strcmp(t->path, want) == 0, "relative to cwd in a buffer",
	    "%s", t ? t->path : "no table");
	snprintf(want, sizeof(want), "%s/z/w", cwd);
	t = conf_table(&c, "b");
	t_check(t != NULL && t->type == TABLE_CDB &&
	    strcmp(t->path, want) == 0, "path cleaned", "%s",
	    t ? t->path : "no table");
	t = conf_table(&c, "c");
	T_OK(t != NULL && t->type == TABLE_LDAP && t->path[0] == '/' &&
	    strstr(t->path, "..") == NULL, "dot-dot resolved");
	t = conf_table(&c, "d");
	T_OK(t != NULL && strcmp(t->path, "/abs/q") == 0, "absolute cleaned");
	snprintf(want, sizeof(want), "%s/spool/dir", cwd);
	T_OK(strcmp(c.spool, want) == 0, "relative spool");
	T_OK(conf_table(&c, "nosuch") == NULL, "conf_table: not found");
	conf_free(&c);

	/* tables in an included file are relative to that file */
	if (parse_ok(&c, "include \"" GOOD_DIR "/inc/tables.inc\"\n",
	    "buffer: include relative to cwd") != 0)
		return;
	snprintf(want, sizeof(want), "%s/%s/inc/relay_recipients", cwd,
	    GOOD_DIR);
	t = conf_table(&c, "recipients");
	t_check(t != NULL && strcmp(t->path, want) == 0,
	    "path relative to the including file", "%s",
	    t ? t->path : "no table");
	snprintf(want, sizeof(want), "%s/%s/transport.cdb", cwd, GOOD_DIR);
	t = conf_table(&c, "transport");
	t_check(t != NULL && strcmp(t->path, want) == 0, "path with ..",
	    "%s", t ? t->path : "no table");
	T_OK(conf_table(&c, "trusted") != NULL &&
	    !TAILQ_EMPTY(&c.listeners), "nested include read");
	conf_free(&c);
}

static void
test_macros(void)
{
	struct mxgate_conf	 c;
	const struct table_conf	*t;

	if (parse_ok(&c, "a = \"x y\"\nb = $a-z\nport = 2525\n"
	    "table t { $a, \"[$b]\", \"\\$a\", pre$port }\n"
	    "listen on ::1 port $port\n", "macros") != 0)
		return;
	t = conf_table(&c, "t");
	T_OK(t != NULL && t->nvalues == 4, "macro table");
	if (t != NULL && t->nvalues == 4) {
		T_OK(strcmp(t->values[0], "x y") == 0, "macro as word");
		T_OK(strcmp(t->values[1], "[x y-z]") == 0, "macro in string");
		T_OK(strcmp(t->values[2], "$a") == 0, "escaped $");
		T_OK(strcmp(t->values[3], "pre2525") == 0, "macro in word");
	}
	T_OK(!TAILQ_EMPTY(&c.listeners) &&
	    TAILQ_FIRST(&c.listeners)->port == 2525, "keyword macro name");
	conf_free(&c);
	parse_bad("x = 1\nhostname $y\n", "<conf>:2: undefined macro $y",
	    "undefined macro");
	parse_bad("hostname $x\nx = a\n", "<conf>:1: undefined macro $x",
	    "macro used before definition");
	parse_bad("a-b = 1\n", "<conf>:1: invalid macro name",
	    "invalid macro name");
	/* macros do not survive into the next parse */
	parse_bad("hostname $a\n", "undefined macro $a", "macros reset");
}

static void
test_reload(void)
{
	struct mxgate_conf	 c;
	char			*err;
	int			 i, ok = 1;

	/* a failed parse in the middle of a table and a string ... */
	parse_bad("table t { a,\nb = \"open\n", "unterminated",
	    "failure mid-statement");
	/* ... leaves no state behind */
	for (i = 0; i < 3; i++) {
		if (parse_capture(&c, GOOD_DIR "/full.conf", NULL, 0, &err)
		    != 0 || err[0] != '\0')
			ok = 0;
		else {
			if (conf_table(&c, "domains") == NULL)
				ok = 0;
			conf_free(&c);
		}
		free(err);
	}
	T_OK(ok, "parse again and again");
	T_OK(parse_capture(&c, GOOD_DIR "/nonexistent.conf", NULL, 0, &err)
	    == -1 && conf_empty(&c) && strstr(err, "nonexistent.conf: No such "
	    "file") != NULL, "missing file");
	free(err);
}

static void
test_buffers(void)
{
	struct mxgate_conf	 c;
	char			*err, *text;
	int			 rv, n;
	const char		*p;

	rv = parse_capture(&c, "<conf>", "", 0, &err);
	T_OK(rv == 0 && err[0] == '\0' && conf_empty(&c), "empty buffer");
	if (rv == 0)
		conf_free(&c);
	free(err);
	rv = parse_capture(&c, "<conf>", "hostname a.b\n# x\n\n  \t\n", 22,
	    &err);
	T_OK(rv == 0 && strcmp(c.hostname, "a.b") == 0 &&
	    strcmp(c.origin, "b") == 0, "blank and comment lines");
	if (rv == 0)
		conf_free(&c);
	free(err);
	/* length is respected: no NUL needed, nothing read past it */
	rv = parse_capture(&c, "<conf>", "hostname abc.d\nGARBAGE", 15, &err);
	T_OK(rv == 0 && strcmp(c.hostname, "abc.d") == 0, "buffer length");
	if (rv == 0)
		conf_free(&c);
	free(err);
	/* all errors are reported, one line each */
	rv = parse_capture(&c, BAD_DIR "/many.conf", NULL, 0, &err);
	for (n = 0, p = err; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	t_check(rv == -1 && n == 8, "every error reported", "%d lines: %s",
	    n, err);
	free(err);
	/* an endless stream of errors is cut short */
	if ((text = malloc(200 * 6 + 1)) != NULL) {
		for (n = 0; n < 200; n++)
			memcpy(text + n * 6, "bogus\n", 6);
		rv = parse_capture(&c, "<conf>", text, 200 * 6, &err);
		for (n = 0, p = err; (p = strchr(p, '\n')) != NULL; p++)
			n++;
		t_check(rv == -1 && n == 101 && strstr(err, "<conf>:101: too "
		    "many errors, giving up\n") != NULL, "error limit",
		    "%d lines", n);
		free(err);
		free(text);
	}
	/* conf_to_string and conf_print agree */
	if (parse_ok(&c, "hostname x.y\ntable t { a }\nrelay for <t>\n",
	    "buffer parse") == 0) {
		text = conf_to_string(&c, NULL);
		T_OK(text != NULL && strstr(text, "\nrelay for <t>\n") != NULL,
		    "conf_to_string");
		free(text);
		conf_free(&c);
	}
}

/* xorshift: reproducible on every machine */
static uint32_t
rnd(void)
{
	static uint32_t	 x = 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

static size_t
mutate(char *buf, size_t len, size_t cap)
{
	static const char	 pool[] = "{}<>,=#\"$\\\n \t\001a9.:/-_";
	size_t			 pos, n;

	pos = len ? rnd() % len : 0;
	switch (rnd() % 4) {
	case 0:		/* replace a byte */
		if (len > 0)
			buf[pos] = rnd() % 5 == 0 ? (char)rnd() :
			    pool[rnd() % (sizeof(pool) - 1)];
		break;
	case 1:		/* insert a byte */
		if (len + 1 < cap) {
			memmove(buf + pos + 1, buf + pos, len - pos);
			buf[pos] = pool[rnd() % (sizeof(pool) - 1)];
			len++;
		}
		break;
	case 2:		/* delete a run */
		n = rnd() % 8;
		if (n > len - pos)
			n = len - pos;
		memmove(buf + pos, buf + pos + n, len - pos - n);
		len -= n;
		break;
	default:	/* duplicate a run */
		n = rnd() % 32;
		if (n > len - pos)
			n = len - pos;
		if (len + n < cap) {
			memmove(buf + pos + n, buf + pos, len - pos);
			len += n;
		}
		break;
	}
	return len;
}

/* Mutated good configs never crash, and whatever parses round-trips. */
static void
test_fuzz(void)
{
	struct mxgate_conf	 c;
	glob_t			 g;
	char			*orig, *buf;
	const char		*why = "";
	size_t			 i, len, cap, n;
	int			 iter, k, parsed = 0, rejected = 0;

	if (glob(GOOD_DIR "/*.conf", 0, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc && why[0] == '\0'; i++) {
		if ((orig = read_file(g.gl_pathv[i], &len)) == NULL)
			continue;
		cap = len * 2 + 64;
		if ((buf = malloc(cap)) == NULL) {
			free(orig);
			continue;
		}
		for (iter = 0; iter < 300 && why[0] == '\0'; iter++) {
			memcpy(buf, orig, len);
			n = len;
			for (k = 1 + rnd() % 4; k > 0; k--)
				n = mutate(buf, n, cap);
			if (parse_quiet(&c, buf, n) != 0) {
				rejected++;
				continue;
			}
			parsed++;
			why = roundtrip(&c);
			conf_free(&c);
		}
		free(buf);
		free(orig);
	}
	globfree(&g);
	t_check(why[0] == '\0', "fuzz: accepted mutants round-trip", "%s",
	    why);
	t_check(parsed > 0 && rejected > 0, "fuzz ran", "%d parsed, %d "
	    "rejected", parsed, rejected);
}

int
main(void)
{
	test_defaults();
	test_good();
	test_bad();
	test_paths();
	test_macros();
	test_reload();
	test_buffers();
	test_fuzz();
	return t_exit();
}
