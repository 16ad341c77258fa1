/*
 * The trace sink of `smtpctl test rcpt`: the decision code (lka.c,
 * lka_alias.c) calls these at each step with out->trace, which is NULL
 * outside a trace, so the normal path only pays a pointer test.  Values
 * come from the administrator's tables and are shown with non-printable
 * octets as '?', so each step is one line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include "lka.h"
#include "table.h"

#define LKA_TRACE_LINE	1024

static void
lka_trace_printable(char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

void
lka_trace(struct lka_trace *tr, int indent, const char *fmt, ...)
{
	char	line[LKA_TRACE_LINE];
	va_list	ap;
	int	n, i;

	if (tr == NULL)
		return;
	for (i = n = 0; i < indent && n + 2 < (int)sizeof(line); i++) {
		line[n++] = ' ';
		line[n++] = ' ';
	}
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	lka_trace_printable(line);
	tr->line(tr->arg, line);
}

void
lka_trace_lookup(struct lka_trace *tr, int indent, struct table *t,
    const char *key, enum table_res r, const char *value)
{
	char note[256] = "";

	if (tr == NULL)
		return;
	if (t->backend->explain != NULL)
		t->backend->explain(t, note, sizeof(note));
	switch (r) {
	case TABLE_FOUND:
		lka_trace(tr, indent, "table <%s> (%s): \"%s\" found%s%s%s",
		    t->name, table_kind_name(t), key, value ? ": \"" : "",
		    value ? value : "", value ? "\"" : "");
		break;
	case TABLE_NOTFOUND:
		lka_trace(tr, indent, "table <%s> (%s): \"%s\" not found",
		    t->name, table_kind_name(t), key);
		break;
	case TABLE_FAIL:
		lka_trace(tr, indent, "table <%s> (%s): \"%s\" lookup FAILED "
		    "(the backend cannot answer: temporary failure)", t->name,
		    table_kind_name(t), key);
		break;
	}
	if (note[0] != '\0')
		lka_trace(tr, indent + 1, "%s", note);
}
