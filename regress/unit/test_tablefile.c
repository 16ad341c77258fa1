/*
 * common/tablefile.c: the Postfix-format table parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tablefile.h"
#include "test.h"

#define MAXENT	16

struct collect {
	size_t	n;
	char	key[MAXENT][256];
	char	value[MAXENT][1024];
	size_t	line[MAXENT];
	int	fail_at;	/* entry index whose callback fails, -1 none */
};

static int
collect_cb(void *arg, const char *key, const char *value, size_t lineno,
    char *why, size_t whysz)
{
	struct collect *c = arg;

	if ((int)c->n == c->fail_at) {
		snprintf(why, whysz, "no thanks");
		return -1;
	}
	if (c->n >= MAXENT)
		return 0;
	snprintf(c->key[c->n], sizeof(c->key[0]), "%s", key);
	snprintf(c->value[c->n], sizeof(c->value[0]), "%s", value);
	c->line[c->n] = lineno;
	c->n++;
	return 0;
}

/* Parse s (len bytes); return the parser's result, entries in *c. */
static int
parse(const char *s, size_t len, struct collect *c, char *err, size_t errsz)
{
	memset(c, 0, sizeof(*c));
	c->fail_at = -1;
	err[0] = '\0';
	return tablefile_parse_buffer(s, len, "t.txt", collect_cb, c, err,
	    errsz);
}

static int
has(const struct collect *c, size_t i, const char *key, const char *value)
{
	return i < c->n && strcmp(c->key[i], key) == 0 &&
	    strcmp(c->value[i], value) == 0;
}

static void
t_basic(void)
{
	struct collect	c;
	char		err[256];
	const char	*s =
	    "# a comment\n"
	    "\n"
	    "user@example.com OK\n"
	    "   # an indented comment\n"
	    "@example.org\tOK\n";
	int rc = parse(s, strlen(s), &c, err, sizeof(err));

	t_check(rc == 0 && c.n == 2, "comments and blank lines skipped",
	    "rc %d n %zu err %s", rc, c.n, err);
	t_check(has(&c, 0, "user@example.com", "OK") && c.line[0] == 3,
	    "first entry and its line", "%s=%s line %zu", c.key[0],
	    c.value[0], c.line[0]);
	T_OK(has(&c, 1, "@example.org", "OK"), "tab separator");
}

static void
t_case(void)
{
	struct collect	c;
	char		err[256];
	const char	*s = "John.Doe@Example.COM  Smtp:[Mail.Example.com]\n";

	parse(s, strlen(s), &c, err, sizeof(err));
	t_check(has(&c, 0, "john.doe@example.com", "Smtp:[Mail.Example.com]"),
	    "key lowercased, value kept", "%s=%s", c.key[0], c.value[0]);
}

static void
t_empty_value(void)
{
	struct collect	c;
	char		err[256];
	const char	*s = "lonely\nspaced   \t \nnext value\n";
	int		rc = parse(s, strlen(s), &c, err, sizeof(err));

	t_check(rc == 0 && has(&c, 0, "lonely", "") &&
	    has(&c, 1, "spaced", "") && has(&c, 2, "next", "value"),
	    "key without value is \"\"", "rc %d n %zu", rc, c.n);
}

static void
t_whitespace(void)
{
	struct collect	c;
	char		err[256];
	const char	*s = "key \t  a,  b   c \t \n";

	parse(s, strlen(s), &c, err, sizeof(err));
	t_check(has(&c, 0, "key", "a,  b   c"),
	    "value trimmed at both ends, inner blanks kept", "[%s]",
	    c.value[0]);
}

static void
t_continuation(void)
{
	struct collect	c;
	char		err[256];
	const char	*s =
	    "list a@x.com,\n"
	    "  b@x.com,\n"
	    "# comment inside\n"
	    "\n"
	    "\tc@x.com\n"
	    "other\n"
	    "  value-on-next-line\n";
	int rc = parse(s, strlen(s), &c, err, sizeof(err));

	t_check(rc == 0 && has(&c, 0, "list", "a@x.com, b@x.com, c@x.com") &&
	    c.line[0] == 1, "continuation lines joined with a space",
	    "rc %d [%s] %s", rc, c.value[0], err);
	t_check(has(&c, 1, "other", "value-on-next-line") && c.line[1] == 6,
	    "value only on a continuation line", "[%s]=[%s]", c.key[1],
	    c.value[1]);
}

static void
t_continuation_first(void)
{
	struct collect	c;
	char		err[256];
	const char	*s = "# header\n  orphan value\n";
	int		rc = parse(s, strlen(s), &c, err, sizeof(err));

	t_check(rc == -1 && strncmp(err, "t.txt:2: ", 9) == 0,
	    "continuation without an entry is an error", "rc %d err %s", rc,
	    err);
}

static void
t_crlf(void)
{
	struct collect	c;
	char		err[256];
	const char	*s = "a@x.com OK\r\nb@x.com\r\n  more\r\n\r\nc OK";
	int		rc = parse(s, strlen(s), &c, err, sizeof(err));

	t_check(rc == 0 && c.n == 3 && has(&c, 0, "a@x.com", "OK") &&
	    has(&c, 1, "b@x.com", "more") && has(&c, 2, "c", "OK"),
	    "CRLF line ends, last line without newline", "rc %d n %zu %s",
	    rc, c.n, err);
}

static void
t_hash_in_value(void)
{
	struct collect	c;
	char		err[256];
	const char	*s = "key value # not a comment\n";

	parse(s, strlen(s), &c, err, sizeof(err));
	T_OK(has(&c, 0, "key", "value # not a comment"),
	    "'#' after the key is part of the value");
}

static void
t_overlong(void)
{
	struct collect	 c;
	char		 err[256], *s;
	size_t		 n = TABLEFILE_LINE_MAX + 10;
	int		 rc;

	s = malloc(n + 32);
	strcpy(s, "ok1 OK\nok2 OK\n");
	memset(s + 14, 'x', n);
	strcpy(s + 14 + n, "\nafter OK\n");
	rc = parse(s, strlen(s), &c, err, sizeof(err));
	t_check(rc == -1 && strncmp(err, "t.txt:3: ", 9) == 0 &&
	    strstr(err, "longer") != NULL, "overlong line: error at file:line",
	    "rc %d err %s", rc, err);

	/* exactly the limit is fine */
	memset(s, 'y', TABLEFILE_LINE_MAX);
	s[TABLEFILE_LINE_MAX] = '\n';
	rc = parse(s, TABLEFILE_LINE_MAX + 1, &c, err, sizeof(err));
	t_check(rc == 0 && c.n == 1, "line of exactly the limit accepted",
	    "rc %d err %s", rc, err);
	free(s);
}

static void
t_entry_too_long(void)
{
	struct collect	 c;
	char		 err[256], *s, *p;
	size_t		 i, lines = TABLEFILE_ENTRY_MAX / 1000 + 2;
	int		 rc;

	p = s = malloc(lines * 1002 + 16);
	p += sprintf(p, "key v\n");
	for (i = 0; i < lines; i++) {
		*p++ = ' ';
		memset(p, 'z', 999);
		p += 999;
		*p++ = '\n';
	}
	*p = '\0';
	rc = parse(s, strlen(s), &c, err, sizeof(err));
	t_check(rc == -1 && strstr(err, "t.txt:") == err,
	    "entry too long after joining: error", "rc %d err %s", rc, err);
	free(s);
}

static void
t_nul(void)
{
	struct collect	c;
	char		err[256];
	const char	s[] = "a OK\nb O\0K\nc OK\n";
	int		rc = parse(s, sizeof(s) - 1, &c, err, sizeof(err));

	t_check(rc == -1 && strncmp(err, "t.txt:2: ", 9) == 0 &&
	    strstr(err, "NUL") != NULL, "NUL byte: error at file:line",
	    "rc %d err %s", rc, err);
}

static void
t_callback_error(void)
{
	struct collect	c;
	char		err[256];
	const char	*s = "a OK\n\nb OK\n";
	int		rc;

	memset(&c, 0, sizeof(c));
	c.fail_at = 1;
	rc = tablefile_parse_buffer(s, strlen(s), "t.txt", collect_cb, &c,
	    err, sizeof(err));
	t_check(rc == -1 && strcmp(err, "t.txt:3: no thanks") == 0,
	    "callback error reported at the entry's line", "rc %d err %s",
	    rc, err);
}

static void
t_file(void)
{
	struct collect	 c;
	char		 path[] = "/tmp/test_tablefile.XXXXXX", err[512];
	FILE		*fp;
	int		 fd, rc;

	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		t_check(0, "file parse", "mkstemp failed");
		return;
	}
	fputs("# relay_recipients\nAlice@Example1.com OK\n@example2.com OK\n",
	    fp);
	fclose(fp);
	memset(&c, 0, sizeof(c));
	c.fail_at = -1;
	rc = tablefile_parse_file(path, collect_cb, &c, err, sizeof(err));
	t_check(rc == 0 && c.n == 2 && has(&c, 0, "alice@example1.com", "OK"),
	    "parse a file", "rc %d n %zu err %s", rc, c.n, err);
	unlink(path);

	rc = tablefile_parse_file(path, collect_cb, &c, err, sizeof(err));
	t_check(rc == -1 && strncmp(err, path, strlen(path)) == 0 &&
	    strstr(err, "No such file") != NULL,
	    "missing file: error names the path", "rc %d err %s", rc, err);

	rc = tablefile_parse_file("/tmp", collect_cb, &c, err, sizeof(err));
	T_OK(rc == -1, "a directory is not a table file");
}

static void
t_empty(void)
{
	struct collect	c;
	char		err[256];

	T_OK(parse("", 0, &c, err, sizeof(err)) == 0 && c.n == 0,
	    "empty file: no entries");
	T_OK(parse("\n\n# x\n", 6, &c, err, sizeof(err)) == 0 && c.n == 0,
	    "only comments: no entries");
}

int
main(void)
{
	t_basic();
	t_case();
	t_empty_value();
	t_whitespace();
	t_continuation();
	t_continuation_first();
	t_crlf();
	t_hash_in_value();
	t_overlong();
	t_entry_too_long();
	t_nul();
	t_callback_error();
	t_file();
	t_empty();
	return t_exit();
}
