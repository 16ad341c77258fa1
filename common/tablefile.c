/*
 * Postfix-format table files; the format is described in tablefile.h.
 *
 * Guarantee: the callback sees every entry of the file or the parse
 * fails; a malformed line is an error naming file and line, never
 * skipped, so a half-read table is never mistaken for a complete one.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tablefile.h"

struct tf_state {
	const char	*name;
	tablefile_cb	 cb;
	void		*arg;
	char		*err;
	size_t		 errsz;
	char		*entry;		/* logical line being built */
	size_t		 len;
	size_t		 first;		/* its first line, 0 if none */
};

static int __attribute__((format(printf, 3, 4)))
tf_error(struct tf_state *st, size_t lineno, const char *fmt, ...)
{
	char	why[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (lineno > 0)
		snprintf(st->err, st->errsz, "%s:%zu: %s", st->name, lineno,
		    why);
	else
		snprintf(st->err, st->errsz, "%s: %s", st->name, why);
	return -1;
}

static int
tf_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Split the pending logical line into key and value, hand it over. */
static int
tf_flush(struct tf_state *st)
{
	char	*key, *value, *p;
	char	 why[256];

	if (st->first == 0)
		return 0;
	key = st->entry;
	for (p = key; *p != '\0' && !tf_blank(*p); p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = *p - 'A' + 'a';
	if (*p != '\0')
		*p++ = '\0';
	while (tf_blank(*p))
		p++;
	value = p;
	why[0] = '\0';
	if (st->cb(st->arg, key, value, st->first, why, sizeof(why)) == -1)
		return tf_error(st, st->first, "%s",
		    why[0] ? why : "rejected entry");
	st->first = 0;
	st->len = 0;
	return 0;
}

/* Append s[0..n) to the logical line, with a joining space if not first. */
static int
tf_append(struct tf_state *st, size_t lineno, const char *s, size_t n)
{
	size_t need = n + (st->len > 0 ? 1 : 0);

	if (st->len + need >= TABLEFILE_ENTRY_MAX)
		return tf_error(st, lineno, "entry longer than %d bytes",
		    TABLEFILE_ENTRY_MAX);
	if (st->len > 0)
		st->entry[st->len++] = ' ';
	memcpy(st->entry + st->len, s, n);
	st->len += n;
	st->entry[st->len] = '\0';
	return 0;
}

/* One physical line, without its newline (a trailing CR still there). */
static int
tf_line(struct tf_state *st, size_t lineno, const char *line, size_t n)
{
	size_t	start = 0;

	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n > TABLEFILE_LINE_MAX)
		return tf_error(st, lineno, "line longer than %d bytes",
		    TABLEFILE_LINE_MAX);
	if (memchr(line, '\0', n) != NULL)
		return tf_error(st, lineno, "NUL byte in line");
	while (start < n && tf_blank(line[start]))
		start++;
	while (n > start && tf_blank(line[n - 1]))
		n--;
	if (start == n || line[start] == '#')
		return 0;			/* blank or comment */
	if (start > 0) {
		if (st->first == 0)
			return tf_error(st, lineno,
			    "continuation line without an entry before it");
		return tf_append(st, lineno, line + start, n - start);
	}
	if (tf_flush(st) == -1)
		return -1;
	st->first = lineno;
	return tf_append(st, lineno, line, n);
}

int
tablefile_parse_buffer(const char *buf, size_t len, const char *name,
    tablefile_cb cb, void *arg, char *err, size_t errsz)
{
	struct tf_state	 st;
	const char	*p = buf, *end = buf + len, *nl;
	size_t		 lineno = 0;
	int		 rc = 0;

	memset(&st, 0, sizeof(st));
	st.name = name;
	st.cb = cb;
	st.arg = arg;
	st.err = err;
	st.errsz = errsz;
	if ((st.entry = malloc(TABLEFILE_ENTRY_MAX)) == NULL)
		return tf_error(&st, 0, "out of memory");
	while (rc == 0 && p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		rc = tf_line(&st, lineno, p, nl - p);
		p = nl + (nl < end ? 1 : 0);
	}
	if (rc == 0)
		rc = tf_flush(&st);
	free(st.entry);
	return rc;
}

/* Read all of fd into a malloc'd buffer. */
static char *
tf_slurp(int fd, size_t *lenp, const char **whyp)
{
	struct stat	 sb;
	char		*buf = NULL, *p;
	size_t		 len = 0, cap;
	ssize_t		 n;

	if (fstat(fd, &sb) == -1)
		return NULL;
	if (S_ISDIR(sb.st_mode)) {
		*whyp = "is a directory";
		return NULL;
	}
	if ((unsigned long long)sb.st_size > TABLEFILE_SIZE_MAX) {
		*whyp = "file too large";
		return NULL;
	}
	cap = sb.st_size > 0 ? (size_t)sb.st_size + 1 : 4096;
	for (;;) {
		if (len == cap || buf == NULL) {
			if (len >= TABLEFILE_SIZE_MAX) {
				*whyp = "file too large";
				free(buf);
				return NULL;
			}
			if (buf != NULL)
				cap *= 2;
			if ((p = realloc(buf, cap)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
	}
	*lenp = len;
	return buf;
}

int
tablefile_parse_file(const char *path, tablefile_cb cb, void *arg,
    char *err, size_t errsz)
{
	const char	*why = NULL;
	char		*buf;
	size_t		 len = 0;
	int		 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = tf_slurp(fd, &len, &why)) == NULL) {
		snprintf(err, errsz, "%s: %s", path, why ? why :
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	rc = tablefile_parse_buffer(buf, len, path, cb, arg, err, errsz);
	free(buf);
	return rc;
}
