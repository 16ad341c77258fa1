/*
 * lookupd/table_cdb.c and smtpctl/makemap.c: a Postfix-format file made
 * into a cdb by makemap() answers like the file: backend; a truncated or
 * corrupt cdb file is refused when the table is opened.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "../../lookupd/table.h"
#include "../../smtpctl/makemap.h"
#include "test.h"

static char dir[] = "/tmp/mxgate-test-cdb.XXXXXX";
static char src[256], dst[256];

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static struct table *
open_cdb(const char *path, char *err, size_t errsz)
{
	struct table_conf tc;

	memset(&tc, 0, sizeof(tc));
	strlcpy(tc.name, "t", sizeof(tc.name));
	strlcpy(tc.path, path, sizeof(tc.path));
	tc.type = TABLE_CDB;
	err[0] = '\0';
	return table_open(&tc, err, errsz);
}

static int
value_is(struct table *t, const char *key, const char *want)
{
	const char *v = NULL;

	if (table_lookup(t, key, &v) != TABLE_FOUND)
		return 0;
	return strcmp(v, want) == 0;
}

static void
test_roundtrip(void)
{
	const char	*text = "# comment\n"
	    "User1@Example.COM   OK\n"
	    "user2@example.com first\n"
	    "  continued\n"
	    "\n"
	    "USER1@example.com   second\n"
	    "@domain.example OK\n"
	    ".sub.example  smtp:[10.0.0.5]:25\n"
	    "bare\n";
	struct table	*t;
	const char	*v;
	char		 err[512];
	size_t		 n = 0;

	write_file(src, text, strlen(text));
	T_OK(makemap(src, dst, &n, err, sizeof(err)) == 0, "makemap ok");
	T_OK(n == 5, "makemap counts 5 entries (duplicate dropped)");
	t = open_cdb(dst, err, sizeof(err));
	t_check(t != NULL, "cdb opens", "%s", err);
	if (t == NULL)
		return;
	T_OK(t->nentries == 5, "cdb nentries 5");
	T_OK(value_is(t, "user1@example.com", "OK"),
	    "key stored lowercased, duplicate keeps the first");
	T_OK(value_is(t, "USER1@EXAMPLE.COM", "OK"),
	    "lookup is case-insensitive");
	T_OK(value_is(t, "user2@example.com", "first continued"),
	    "continuation joined");
	T_OK(value_is(t, "bare", ""), "key without value has \"\"");
	T_OK(table_lookup(t, "nobody@example.com", &v) == TABLE_NOTFOUND,
	    "unknown key not found");
	T_OK(table_lookup_domain(t, "a.b.sub.example", 0, &v) ==
	    TABLE_FOUND && strcmp(v, "smtp:[10.0.0.5]:25") == 0,
	    "table_lookup_domain finds .parent");
	T_OK(table_lookup_domain(t, "sub.example", 0, &v) == TABLE_NOTFOUND,
	    "table_lookup_domain: .sub.example not the parent itself");
	T_OK(table_lookup(t, "@domain.example", &v) == TABLE_FOUND,
	    "@domain key");
	T_OK(table_can_list(t), "cdb tables can be listed");
	T_OK(table_find_open("t") == t, "table_find_open");
	table_close(t);
	T_OK(table_find_open("t") == NULL, "closed table not found");
}

static void
test_bad_source(void)
{
	char		 err[512], bad[300];
	size_t		 n = 0;
	struct stat	 before, after;

	stat(dst, &before);
	snprintf(bad, sizeof(bad), "%s/bad", dir);
	write_file(bad, " lead\n", 6);
	T_OK(makemap(bad, dst, &n, err, sizeof(err)) == -1,
	    "makemap refuses a bad source");
	t_check(strstr(err, "bad:1: ") != NULL, "error says file:line", "%s",
	    err);
	stat(dst, &after);
	T_OK(before.st_ino == after.st_ino, "old database left in place");
}

static void
test_corrupt(void)
{
	struct table	*t;
	char		 err[512], path[300], *buf;
	struct stat	 st;
	int		 fd;

	if (stat(dst, &st) == -1 || (buf = malloc(st.st_size)) == NULL)
		exit(1);
	fd = open(dst, O_RDONLY);
	if (read(fd, buf, st.st_size) != st.st_size)
		exit(1);
	close(fd);
	snprintf(path, sizeof(path), "%s/trunc.cdb", dir);

	write_file(path, buf, st.st_size - 1);
	t = open_cdb(path, err, sizeof(err));
	t_check(t == NULL && strstr(err, "corrupt cdb file") != NULL,
	    "truncated by one byte: refused", "%s", err);
	table_close(t);

	write_file(path, buf, 2100);
	t = open_cdb(path, err, sizeof(err));
	t_check(t == NULL && strstr(err, "trunc.cdb") != NULL,
	    "truncated into the data: refused", "%s", err);
	table_close(t);

	write_file(path, buf, 100);
	t = open_cdb(path, err, sizeof(err));
	t_check(t == NULL && strstr(err, "not a cdb file") != NULL,
	    "shorter than the header: refused", "%s", err);
	table_close(t);

	write_file(path, "", 0);
	t = open_cdb(path, err, sizeof(err));
	t_check(t == NULL, "empty file: refused", "%s", err);
	table_close(t);

	memset(buf + 8 * 7, 0xff, 4);		/* table 7 far away */
	write_file(path, buf, st.st_size);
	t = open_cdb(path, err, sizeof(err));
	t_check(t == NULL && strstr(err, "outside the file") != NULL,
	    "hash table pointer out of the file: refused", "%s", err);
	table_close(t);

	memset(buf, 'x', 2048);			/* a text file */
	write_file(path, buf, st.st_size);
	t = open_cdb(path, err, sizeof(err));
	t_check(t == NULL, "garbage header: refused", "%s", err);
	table_close(t);

	snprintf(path, sizeof(path), "%s/missing.cdb", dir);
	t = open_cdb(path, err, sizeof(err));
	t_check(t == NULL && strstr(err, "missing.cdb") != NULL,
	    "missing file: refused", "%s", err);
	table_close(t);
	free(buf);
}

static void
test_empty(void)
{
	struct table	*t;
	char		 err[512], e[300], edst[300];
	size_t		 n = 1;

	snprintf(e, sizeof(e), "%s/empty", dir);
	snprintf(edst, sizeof(edst), "%s/empty.cdb", dir);
	write_file(e, "# nothing\n", 10);
	T_OK(makemap(e, edst, &n, err, sizeof(err)) == 0 && n == 0,
	    "makemap of an empty source");
	t = open_cdb(edst, err, sizeof(err));
	t_check(t != NULL && t->nentries == 0 &&
	    table_lookup(t, "x", NULL) == TABLE_NOTFOUND,
	    "empty cdb opens and finds nothing", "%s", err);
	table_close(t);
}

int
main(void)
{
	char cmd[300];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(src, sizeof(src), "%s/recipients", dir);
	snprintf(dst, sizeof(dst), "%s/recipients.cdb", dir);
	test_roundtrip();
	test_bad_source();
	test_corrupt();
	test_empty();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return t_exit();
}
