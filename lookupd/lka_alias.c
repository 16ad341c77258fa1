/*
 * Virtual alias expansion, Postfix virtual(5) style.
 *
 * Lookup keys for local@domain, first found wins: "local@domain", "local"
 * (only when domain is the origin: a bare key means key@origin), then
 * "@domain" (catch-all).  Keys are compared lowercased.
 *
 * A value is a list of addresses separated by commas and/or blanks
 * (double quotes protect a quoted local part).  Each target is qualified:
 * "user" becomes user@origin, "@other" becomes local@other (the looked-up
 * local part), anything else is taken as it is.  Every target must parse
 * as an RFC 5321 mailbox.
 *
 * Guarantees:
 * - targets are expanded recursively, at most LKA_DEPTH_MAX levels deep
 *   and to at most LKA_EXPAND_MAX final recipients, each one once
 *   (duplicates compared case-insensitively);
 * - an address whose value lists itself is kept as a final recipient
 *   and not expanded again (self + copy), which also ends any chain that
 *   comes back to it;
 * - any other way back to an address still being expanded is a loop;
 *   a loop, too deep a nesting, too many recipients or an unusable
 *   target is a configuration fault: the RCPT fails temporarily and the
 *   reason is logged.  A fault of ours is never a 5xx.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "addr.h"
#include "lka.h"
#include "log.h"
#include "table.h"

struct lka_node {
	char	addr[LKA_ADDR_MAX];
	int	done;		/* 0: being expanded (on the chain) */
};

struct lka_expand {
	struct table		*aliases;
	const char		*origin;
	struct lka_result	*out;
	struct lka_node		*nodes;		/* every aliased address seen */
	size_t			 nnodes, cap;
	const char		*top;		/* the RCPT, for log lines */
};

enum table_res
lka_alias_lookup(struct table *t, const char *origin, const char *addr,
    const char **valp)
{
	char		 key[LKA_ADDR_MAX];
	const char	*at = strrchr(addr, '@');
	enum table_res	 r;
	size_t		 llen;

	if ((r = table_lookup(t, addr, valp)) != TABLE_NOTFOUND || at == NULL)
		return r;
	llen = at - addr;
	if (strcasecmp(at + 1, origin) == 0 && llen > 0 && llen < sizeof(key)) {
		memcpy(key, addr, llen);
		key[llen] = '\0';
		if ((r = table_lookup(t, key, valp)) != TABLE_NOTFOUND)
			return r;
	}
	return table_lookup(t, at, valp);	/* "@domain" */
}

/*
 * The next target of a value list at *pp into tok; 1 found, 0 end, -1
 * too long.  Separators are commas and blanks outside double quotes.
 */
static int
lka_alias_token(const char **pp, char *tok, size_t toksz)
{
	const char	*p = *pp;
	size_t		 n = 0;
	int		 quoted = 0;

	while (*p == ',' || *p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	for (; *p != '\0'; p++) {
		if (!quoted && (*p == ',' || *p == ' ' || *p == '\t'))
			break;
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '\\' && quoted && p[1] != '\0') {
			if (n + 1 >= toksz)
				return -1;
			tok[n++] = *p++;
		}
		if (n + 1 >= toksz)
			return -1;
		tok[n++] = *p;
	}
	tok[n] = '\0';
	*pp = p;
	return 1;
}

/*
 * Qualify target tok for an address whose local part is local[0..llen):
 * "user" -> user@origin, "@dom" -> local@dom.  0 when the result is a
 * valid mailbox, else -1.
 */
static int
lka_alias_qualify(const char *tok, const char *local, size_t llen,
    const char *origin, char *dst, size_t dstsz)
{
	struct mailaddr	ma;
	int		n;

	if (tok[0] == '@')
		n = snprintf(dst, dstsz, "%.*s%s", (int)llen, local, tok);
	else if (strrchr(tok, '@') == NULL)
		n = snprintf(dst, dstsz, "%s@%s", tok, origin);
	else
		n = snprintf(dst, dstsz, "%s", tok);
	if (n < 0 || (size_t)n >= dstsz)
		return -1;
	return addr_parse(dst, &ma);
}

int
lka_alias_check(const char *value, const char *origin, char *why,
    size_t whysz)
{
	const char	*p = value;
	char		 tok[LKA_ADDR_MAX], addr[LKA_ADDR_MAX];
	int		 n, count = 0;

	while ((n = lka_alias_token(&p, tok, sizeof(tok))) == 1) {
		/* "@dom" targets get their local part at lookup; try one */
		if (lka_alias_qualify(tok, "x", 1, origin, addr,
		    sizeof(addr)) == -1) {
			snprintf(why, whysz, "invalid alias target \"%s\"",
			    tok);
			return -1;
		}
		count++;
	}
	if (n == -1) {
		snprintf(why, whysz, "alias target too long");
		return -1;
	}
	if (count == 0) {
		snprintf(why, whysz, "alias without a target");
		return -1;
	}
	return 0;
}

static struct lka_node *
lka_node_find(struct lka_expand *x, const char *addr)
{
	size_t i;

	for (i = 0; i < x->nnodes; i++)
		if (strcasecmp(x->nodes[i].addr, addr) == 0)
			return &x->nodes[i];
	return NULL;
}

static int
lka_is_final(struct lka_expand *x, const char *addr)
{
	size_t i;

	for (i = 0; i < x->out->nrcpts; i++)
		if (strcasecmp(x->out->rcpts[i].addr, addr) == 0)
			return 1;
	return 0;
}

static enum lka_status __attribute__((format(printf, 2, 3)))
lka_expand_fail(struct lka_expand *x, const char *fmt, ...)
{
	char	why[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warnx("alias expansion of <%s> failed: %s", x->top, why);
	lka_result_set(x->out, LKA_TEMPFAIL, "Alias expansion error");
	return LKA_TEMPFAIL;
}

static enum lka_status lka_expand(struct lka_expand *, const char *, size_t);

/* Expand each target of value, the value of addr. */
static enum lka_status
lka_expand_value(struct lka_expand *x, const char *addr, const char *value,
    size_t depth)
{
	const char	*p, *at = strrchr(addr, '@');
	char		 tok[LKA_ADDR_MAX], target[LKA_ADDR_MAX];
	size_t		 llen = at ? (size_t)(at - addr) : strlen(addr);
	enum lka_status	 s;
	int		 n, self = 0;

	/* a first pass keeps addr itself if it is listed (self + copy) */
	for (p = value; (n = lka_alias_token(&p, tok, sizeof(tok))) == 1; ) {
		if (lka_alias_qualify(tok, addr, llen, x->origin, target,
		    sizeof(target)) == -1)
			return lka_expand_fail(x, "invalid target \"%s\"", tok);
		if (strcasecmp(target, addr) == 0)
			self = 1;
	}
	if (n == -1)
		return lka_expand_fail(x, "target too long in \"%s\"", value);
	if (self && lka_result_add(x->out, addr) == -1)
		return lka_expand_fail(x, "more than %d recipients",
		    LKA_EXPAND_MAX);
	if (self)
		lka_trace(x->out->trace, depth + 2, "<%s>: listed in its own "
		    "alias: kept as a final recipient", addr);
	for (p = value; lka_alias_token(&p, tok, sizeof(tok)) == 1; ) {
		lka_alias_qualify(tok, addr, llen, x->origin, target,
		    sizeof(target));
		if (strcasecmp(target, addr) == 0)
			continue;
		if ((s = lka_expand(x, target, depth + 1)) != LKA_RELAY)
			return s;
	}
	return LKA_RELAY;
}

/* Expand one address at the given depth (the RCPT is depth 0). */
static enum lka_status
lka_expand(struct lka_expand *x, const char *addr, size_t depth)
{
	struct lka_node	*node, *v;
	const char	*value;
	char		*copy;
	enum lka_status	 s;
	size_t		 i;

	struct lka_trace *tr = x->out->trace;
	enum table_res	 r;

	if (lka_is_final(x, addr)) {
		lka_trace(tr, depth + 1, "<%s>: already a final recipient",
		    addr);
		return LKA_RELAY;		/* seen, or kept as itself */
	}
	if ((node = lka_node_find(x, addr)) != NULL) {
		if (node->done) {
			lka_trace(tr, depth + 1, "<%s>: already expanded "
			    "above", addr);
			return LKA_RELAY;	/* its targets are in already */
		}
		lka_trace(tr, depth + 1, "<%s>: LOOP: it is being expanded "
		    "above (alias expansion error)", addr);
		return lka_expand_fail(x, "alias loop at <%s>", addr);
	}
	if (depth > LKA_DEPTH_MAX) {
		lka_trace(tr, depth + 1, "<%s>: nested deeper than %d levels",
		    addr, LKA_DEPTH_MAX);
		return lka_expand_fail(x, "nested deeper than %d levels",
		    LKA_DEPTH_MAX);
	}
	r = lka_alias_lookup(x->aliases, x->origin, addr, &value);
	switch (r) {
	case TABLE_FAIL:
		lka_trace(tr, depth + 1, "<%s>: alias lookup FAILED", addr);
		lka_result_set(x->out, LKA_TEMPFAIL,
		    "Temporary lookup failure");
		return LKA_TEMPFAIL;
	case TABLE_NOTFOUND:
		lka_trace(tr, depth + 1, "<%s>: no alias: final recipient",
		    addr);
		if (lka_result_add(x->out, addr) == -1)
			return lka_expand_fail(x, "more than %d recipients",
			    LKA_EXPAND_MAX);
		return LKA_RELAY;
	case TABLE_FOUND:
		lka_trace(tr, depth + 1, "<%s> -> %s", addr, value);
		break;
	}
	if (x->nnodes >= LKA_EXPAND_MAX)
		return lka_expand_fail(x, "more than %d aliases",
		    LKA_EXPAND_MAX);
	if (x->nnodes == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 8;

		if ((v = reallocarray(x->nodes, cap, sizeof(*v))) == NULL)
			return lka_expand_fail(x, "out of memory");
		x->nodes = v;
		x->cap = cap;
	}
	/* the backend's value may not outlive the next lookup */
	if ((copy = strdup(value)) == NULL)
		return lka_expand_fail(x, "out of memory");
	i = x->nnodes++;
	strlcpy(x->nodes[i].addr, addr, sizeof(x->nodes[i].addr));
	x->nodes[i].done = 0;
	if ((s = lka_expand_value(x, addr, copy, depth)) == LKA_RELAY)
		x->nodes[i].done = 1;	/* x->nodes may have moved */
	free(copy);
	return s;
}

enum lka_status
lka_alias_expand(struct table *aliases, const char *origin,
    const char *addr, struct lka_result *out)
{
	struct lka_expand	x;
	enum lka_status		s;

	memset(&x, 0, sizeof(x));
	x.aliases = aliases;
	x.origin = origin;
	x.out = out;
	x.top = addr;
	s = lka_expand(&x, addr, 0);
	free(x.nodes);
	return s;
}
