/*
 * The one parser of Postfix-format table files (postmap(1) source format),
 * shared by lookupd (file: tables) and smtpctl.
 *
 *   key<whitespace>value
 *
 * - a line whose first non-blank character is '#' is a comment;
 * - blank lines (only spaces and tabs) are ignored;
 * - a line starting with a space or tab continues the previous entry
 *   (joined with one space); comment and blank lines in between are
 *   skipped, as Postfix does;
 * - the key is the first word, lowercased (ASCII); the value is the rest
 *   with leading and trailing blanks removed, "" when there is none;
 * - a line may end in LF or CRLF; the last line may lack its newline.
 *
 * Errors, always "name:line: message" (or "name: message" when the file
 * cannot be read): a NUL byte, a line longer than TABLEFILE_LINE_MAX, an
 * entry longer than TABLEFILE_ENTRY_MAX after joining, a continuation
 * line without an entry before it.  The parser never skips a bad line:
 * a table is either loaded completely or not at all.
 */
#ifndef MXGATE_TABLEFILE_H
#define MXGATE_TABLEFILE_H

#include <stddef.h>

#define TABLEFILE_LINE_MAX	4096	/* one line, without its newline */
#define TABLEFILE_ENTRY_MAX	32768	/* key + value, continuations joined */
#define TABLEFILE_SIZE_MAX	(1024UL * 1024 * 1024)	/* a whole file */

/*
 * Called once per entry, in file order.  Returns 0 to go on, or -1 after
 * writing a reason (without file:line, the parser adds the entry's first
 * line) into why; the parse then fails with that reason.
 */
typedef int (*tablefile_cb)(void *arg, const char *key, const char *value,
    size_t lineno, char *why, size_t whysz);

/* 0, or -1 with the message in err.  name labels messages. */
int	tablefile_parse_buffer(const char *buf, size_t len, const char *name,
	    tablefile_cb, void *arg, char *err, size_t errsz);
/* Reads the whole file (blocking), then as above; name is the path. */
int	tablefile_parse_file(const char *path, tablefile_cb, void *arg,
	    char *err, size_t errsz);

#endif
