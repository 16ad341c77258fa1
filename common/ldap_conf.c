/*
 * The LDAP table file parser and the filter escaping; see ldap_conf.h
 * for the format and the keys are documented in mxgate.conf(5).
 *
 * Guarantees:
 * - a file is accepted whole or refused with "file:line: why": an unknown
 *   key, a key given twice (except the repeatable ones), a bad value, a
 *   missing required key are errors, never ignored;
 * - the password file is refused when group or others could read it;
 * - a key from the network reaches a filter only through
 *   ldap_filter_escape(): every byte that means something in an RFC 4515
 *   filter, and every byte outside printable ASCII, is written \XX, so an
 *   address like "*)(mail=*" is a literal value, never filter syntax.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/string.h>

#include "ldap_conf.h"

#define AD_USER_FILTER	"(&(objectClass=user)(|(mail=%s)(proxyAddresses=smtp:%s)))"
#define AD_GROUP_FILTER	"(&(objectClass=group)(|(mail=%s)(proxyAddresses=smtp:%s)))"

struct lc_state {
	struct ldap_conf	*lc;
	const char		*name;
	size_t			 lineno;
	char			*err;
	size_t			 errsz;
	unsigned		 seen;		/* bit per single-valued key */
	int			 filter_set, group_filter_set;
};

static int __attribute__((format(printf, 2, 3)))
lc_error(struct lc_state *st, const char *fmt, ...)
{
	char	why[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (st->lineno > 0)
		snprintf(st->err, st->errsz, "%s:%zu: %s", st->name,
		    st->lineno, why);
	else
		snprintf(st->err, st->errsz, "%s: %s", st->name, why);
	return -1;
}

void
ldap_conf_defaults(struct ldap_conf *lc)
{
	memset(lc, 0, sizeof(*lc));
	lc->scope = LDAP_CONF_SCOPE_SUB;
	strlcpy(lc->filter, "(mail=%s)", sizeof(lc->filter));
	strlcpy(lc->group_filter, AD_GROUP_FILTER, sizeof(lc->group_filter));
	strlcpy(lc->result_attr, "mail", sizeof(lc->result_attr));
	lc->timeout = 10;
	lc->expansion_limit = 1000;
	lc->cache_ttl = 300;
	lc->negative_cache_ttl = 60;
	lc->stale_ttl = 86400;
	lc->cache_size = 100000;
	lc->reconnect_delay = 1;
	lc->reconnect_delay_max = 60;
}

/* ---- filters ---- */

int
ldap_filter_escape(const char *src, char *dst, size_t dstsz)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 n = 0;

	for (; *s != '\0'; s++) {
		if (*s > 0x20 && *s < 0x7f && *s != '*' && *s != '(' &&
		    *s != ')' && *s != '\\') {
			if (n + 1 >= dstsz)
				return -1;
			dst[n++] = *s;
			continue;
		}
		if (n + 3 >= dstsz)
			return -1;
		dst[n++] = '\\';
		dst[n++] = hex[*s >> 4];
		dst[n++] = hex[*s & 0xf];
	}
	if (n >= dstsz)
		return -1;
	dst[n] = '\0';
	return (int)n;
}

int
ldap_filter_expand(const char *tmpl, const char *key, char *dst,
    size_t dstsz)
{
	const char	*at = strrchr(key, '@'), *p;
	char		 local[LDAP_CONF_LINE_MAX], part[LDAP_CONF_LINE_MAX];
	size_t		 n = 0, llen;
	int		 w;

	llen = at ? (size_t)(at - key) : 0;
	if (llen >= sizeof(local))
		return -1;
	memcpy(local, key, llen);
	local[llen] = '\0';
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			if (n + 1 >= dstsz)
				return -1;
			dst[n++] = *p;
			continue;
		}
		switch (*++p) {
		case '%':
			if (n + 1 >= dstsz)
				return -1;
			dst[n++] = '%';
			continue;
		case 's':
			w = ldap_filter_escape(key, part, sizeof(part));
			break;
		case 'u':
			if (at == NULL || llen == 0)
				return 0;
			w = ldap_filter_escape(local, part, sizeof(part));
			break;
		case 'd':
			if (at == NULL || at[1] == '\0')
				return 0;
			w = ldap_filter_escape(at + 1, part, sizeof(part));
			break;
		default:
			return -1;	/* ldap_filter_check() refused it */
		}
		if (w < 0 || n + (size_t)w >= dstsz)
			return -1;
		memcpy(dst + n, part, w);
		n += w;
	}
	if (n >= dstsz)
		return -1;
	dst[n] = '\0';
	return 1;
}

int
ldap_filter_check(const char *tmpl, char *why, size_t whysz)
{
	const char	*p;
	int		 depth = 0;

	if (tmpl[0] != '(') {
		snprintf(why, whysz, "filter must start with '('");
		return -1;
	}
	for (p = tmpl; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			break;
		else if (*p == '%' && strchr("sud%", p[1] ? p[1] : 'x') ==
		    NULL) {
			snprintf(why, whysz, "unknown escape \"%%%c\" (use %%s, "
			    "%%u, %%d or %%%%)", p[1] ? p[1] : ' ');
			return -1;
		} else if (*p == '%')
			p++;
		if (depth == 0 && p[1] != '\0') {
			snprintf(why, whysz, "text after the closing ')'");
			return -1;
		}
	}
	if (depth != 0) {
		snprintf(why, whysz, "unbalanced parentheses");
		return -1;
	}
	return 0;
}

/* ---- values ---- */

static int
lc_bool(struct lc_state *st, const char *v, int *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
		*out = 1;
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0)
		*out = 0;
	else
		return lc_error(st, "\"%s\": expected yes or no", v);
	return 0;
}

/* A number of seconds ("30", "30s", "5m", "2h", "1d") or a count. */
static int
lc_number(struct lc_state *st, const char *v, int duration, uint32_t min,
    uint32_t max, uint32_t *out)
{
	unsigned long long	 n, mul = 1;
	char			*end;

	errno = 0;
	if (*v < '0' || *v > '9' ||
	    ((n = strtoull(v, &end, 10)) == 0 && errno != 0))
		goto bad;
	if (errno == ERANGE)
		goto bad;
	if (duration && *end != '\0' && end[1] == '\0') {
		switch (*end++) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: goto bad;
		}
	}
	if (*end != '\0' || n > max / mul || n * mul < min || n * mul > max)
		goto bad;
	*out = (uint32_t)(n * mul);
	return 0;
bad:
	return lc_error(st, "\"%s\": expected %s from %u to %u", v,
	    duration ? "a duration in seconds" : "a number", min, max);
}

static int
lc_string(struct lc_state *st, const char *key, const char *v, char *dst,
    size_t dstsz)
{
	if (strlcpy(dst, v, dstsz) >= dstsz)
		return lc_error(st, "%s: value too long", key);
	return 0;
}

/* A path; relative ones are taken from the directory of the file. */
static int
lc_path(struct lc_state *st, const char *key, const char *v, char *dst,
    size_t dstsz)
{
	const char	*slash = strrchr(st->name, '/');
	int		 n;

	if (v[0] == '/' || slash == NULL)
		return lc_string(st, key, v, dst, dstsz);
	n = snprintf(dst, dstsz, "%.*s/%s", (int)(slash - st->name),
	    st->name, v);
	if (n < 0 || (size_t)n >= dstsz)
		return lc_error(st, "%s: path too long", key);
	return 0;
}

/* "ldap://host[:port][/]" or "ldaps://..."; host may be [v6]. */
static int
lc_server(struct lc_state *st, const char *url)
{
	struct ldap_conf_server	*s;
	const char		*h, *end, *port = NULL;
	size_t			 hlen;

	if (st->lc->nservers >= LDAP_CONF_SERVERS_MAX)
		return lc_error(st, "more than %d servers",
		    LDAP_CONF_SERVERS_MAX);
	s = &st->lc->servers[st->lc->nservers];
	memset(s, 0, sizeof(*s));
	if (strncasecmp(url, "ldap://", 7) == 0)
		h = url + 7;
	else if (strncasecmp(url, "ldaps://", 8) == 0) {
		h = url + 8;
		s->ldaps = 1;
	} else
		return lc_error(st, "server \"%s\": expected ldap:// or "
		    "ldaps:// URL", url);
	if (*h == '[') {
		if ((end = strchr(h, ']')) == NULL)
			goto bad;
		hlen = end - h - 1;
		h++;
		end++;
	} else {
		end = h + strcspn(h, ":/");
		hlen = end - h;
	}
	if (*end == ':') {
		port = end + 1;
		end = port + strspn(port, "0123456789");
		if (end == port || end - port > 5 || atoi(port) < 1 ||
		    atoi(port) > 65535)
			goto bad;
	}
	if (hlen == 0 || hlen >= sizeof(s->host) ||
	    (*end != '\0' && strcmp(end, "/") != 0))
		goto bad;
	memcpy(s->host, h, hlen);
	s->host[hlen] = '\0';
	if (strcspn(s->host, " \t\"'\\") != hlen)
		goto bad;
	if (port != NULL)
		snprintf(s->port, sizeof(s->port), "%.*s",
		    (int)(end - port), port);
	else
		strlcpy(s->port, s->ldaps ? "636" : "389", sizeof(s->port));
	if (strlcpy(s->url, url, sizeof(s->url)) >= sizeof(s->url))
		goto bad;
	st->lc->nservers++;
	return 0;
bad:
	return lc_error(st, "server \"%s\": malformed URL (expected "
	    "ldap://host[:port] or ldaps://host[:port])", url);
}

static int
lc_servers(struct lc_state *st, char *v)
{
	char *tok;

	while ((tok = strsep(&v, " \t,")) != NULL) {
		if (*tok == '\0')
			continue;
		if (lc_server(st, tok) == -1)
			return -1;
	}
	return 0;
}

static int
lc_base(struct lc_state *st, const char *key, const char *v,
    char bases[][LDAP_CONF_DN_MAX], size_t *n)
{
	if (*n >= LDAP_CONF_BASES_MAX)
		return lc_error(st, "%s: more than %d bases", key,
		    LDAP_CONF_BASES_MAX);
	if (lc_string(st, key, v, bases[*n], LDAP_CONF_DN_MAX) == -1)
		return -1;
	(*n)++;
	return 0;
}

static int
lc_filter(struct lc_state *st, const char *key, const char *v, char *dst,
    size_t dstsz)
{
	char why[256];

	if (ldap_filter_check(v, why, sizeof(why)) == -1)
		return lc_error(st, "%s \"%s\": %s", key, v, why);
	return lc_string(st, key, v, dst, dstsz);
}

static int
lc_attr(struct lc_state *st, const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		    (v[i] >= 'A' && v[i] <= 'Z') ||
		    (i > 0 && ((v[i] >= '0' && v[i] <= '9') || v[i] == '-'))))
			return lc_error(st, "result_attribute \"%s\": not an "
			    "attribute name", v);
	if (i == 0)
		return lc_error(st, "result_attribute: empty");
	return lc_string(st, "result_attribute", v, st->lc->result_attr,
	    sizeof(st->lc->result_attr));
}

static int
lc_scope(struct lc_state *st, const char *v)
{
	if (strcasecmp(v, "sub") == 0)
		st->lc->scope = LDAP_CONF_SCOPE_SUB;
	else if (strcasecmp(v, "one") == 0)
		st->lc->scope = LDAP_CONF_SCOPE_ONE;
	else if (strcasecmp(v, "base") == 0)
		st->lc->scope = LDAP_CONF_SCOPE_BASE;
	else
		return lc_error(st, "scope \"%s\": expected sub, one or base",
		    v);
	return 0;
}

/* ---- keys ---- */

enum lc_key {
	K_SERVER, K_START_TLS, K_CA, K_BIND_DN, K_BIND_PW_FILE, K_BASE,
	K_SCOPE, K_FILTER, K_RESULT, K_TIMEOUT, K_SIZE, K_AD, K_GROUP_BASE,
	K_GROUP_FILTER, K_EXPANSION, K_TTL, K_NEG_TTL, K_STALE, K_STALE_TTL,
	K_CACHE_SIZE, K_RECONNECT, K_RECONNECT_MAX
};

static const struct {
	const char	*name;
	enum lc_key	 key;
	int		 repeat;
} lc_keys[] = {
	{ "server_host",		K_SERVER,	1 },
	{ "start_tls",			K_START_TLS,	0 },
	{ "tls_ca_cert_file",		K_CA,		0 },
	{ "bind_dn",			K_BIND_DN,	0 },
	{ "bind_pw_file",		K_BIND_PW_FILE,	0 },
	{ "search_base",		K_BASE,		1 },
	{ "scope",			K_SCOPE,	0 },
	{ "query_filter",		K_FILTER,	0 },
	{ "result_attribute",		K_RESULT,	0 },
	{ "timeout",			K_TIMEOUT,	0 },
	{ "size_limit",			K_SIZE,		0 },
	{ "active_directory",		K_AD,		0 },
	{ "group_search_base",		K_GROUP_BASE,	1 },
	{ "group_query_filter",		K_GROUP_FILTER,	0 },
	{ "expansion_limit",		K_EXPANSION,	0 },
	{ "cache_ttl",			K_TTL,		0 },
	{ "negative_cache_ttl",		K_NEG_TTL,	0 },
	{ "serve_stale",		K_STALE,	0 },
	{ "stale_ttl",			K_STALE_TTL,	0 },
	{ "cache_size",			K_CACHE_SIZE,	0 },
	{ "reconnect_delay",		K_RECONNECT,	0 },
	{ "reconnect_delay_max",	K_RECONNECT_MAX, 0 },
};

static int
lc_set(struct lc_state *st, enum lc_key k, const char *name, char *v)
{
	struct ldap_conf *lc = st->lc;

	switch (k) {
	case K_SERVER:
		return lc_servers(st, v);
	case K_START_TLS:
		return lc_bool(st, v, &lc->start_tls);
	case K_CA:
		return lc_path(st, name, v, lc->ca_file, sizeof(lc->ca_file));
	case K_BIND_DN:
		return lc_string(st, name, v, lc->bind_dn,
		    sizeof(lc->bind_dn));
	case K_BIND_PW_FILE:
		return lc_path(st, name, v, lc->bind_pw_file,
		    sizeof(lc->bind_pw_file));
	case K_BASE:
		return lc_base(st, name, v, lc->bases, &lc->nbases);
	case K_SCOPE:
		return lc_scope(st, v);
	case K_FILTER:
		st->filter_set = 1;
		return lc_filter(st, name, v, lc->filter, sizeof(lc->filter));
	case K_RESULT:
		return lc_attr(st, v);
	case K_TIMEOUT:
		return lc_number(st, v, 1, 1, 3600, &lc->timeout);
	case K_SIZE:
		return lc_number(st, v, 0, 0, 1000000, &lc->size_limit);
	case K_AD:
		return lc_bool(st, v, &lc->active_directory);
	case K_GROUP_BASE:
		return lc_base(st, name, v, lc->group_bases,
		    &lc->ngroup_bases);
	case K_GROUP_FILTER:
		st->group_filter_set = 1;
		return lc_filter(st, name, v, lc->group_filter,
		    sizeof(lc->group_filter));
	case K_EXPANSION:
		return lc_number(st, v, 0, 1, 100000, &lc->expansion_limit);
	case K_TTL:
		return lc_number(st, v, 1, 1, LDAP_CONF_TTL_MAX,
		    &lc->cache_ttl);
	case K_NEG_TTL:
		return lc_number(st, v, 1, 1, LDAP_CONF_TTL_MAX,
		    &lc->negative_cache_ttl);
	case K_STALE:
		return lc_bool(st, v, &lc->serve_stale);
	case K_STALE_TTL:
		return lc_number(st, v, 1, 1, LDAP_CONF_TTL_MAX,
		    &lc->stale_ttl);
	case K_CACHE_SIZE:
		return lc_number(st, v, 0, 1, 10000000, &lc->cache_size);
	case K_RECONNECT:
		return lc_number(st, v, 1, 1, 3600, &lc->reconnect_delay);
	case K_RECONNECT_MAX:
		return lc_number(st, v, 1, 1, 86400,
		    &lc->reconnect_delay_max);
	}
	return lc_error(st, "%s: unhandled key", name);
}

/* One logical line "key = value" (continuations joined). */
static int
lc_line(struct lc_state *st, char *line)
{
	char	*key = line, *v, *end;
	size_t	 i;

	v = line + strcspn(line, " \t=");
	end = v;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v != '=')
		return lc_error(st, "expected \"key = value\"");
	*end = '\0';
	for (v++; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v + strlen(v); end > v && (end[-1] == ' ' ||
	    end[-1] == '\t'); end--)
		;
	*end = '\0';
	for (i = 0; i < sizeof(lc_keys) / sizeof(lc_keys[0]); i++) {
		if (strcmp(lc_keys[i].name, key) != 0)
			continue;
		if (*v == '\0')
			return lc_error(st, "%s: empty value", key);
		if (!lc_keys[i].repeat && (st->seen & (1u << lc_keys[i].key)))
			return lc_error(st, "%s given twice", key);
		st->seen |= 1u << lc_keys[i].key;
		return lc_set(st, lc_keys[i].key, key, v);
	}
	return lc_error(st, "unknown key \"%s\"", key);
}

/* Whole-file rules, once every line is in. */
static int
lc_finish(struct lc_state *st)
{
	struct ldap_conf *lc = st->lc;

	st->lineno = 0;
	if (lc->nservers == 0)
		return lc_error(st, "no server_host");
	if (lc->nbases == 0)
		return lc_error(st, "no search_base");
	if ((lc->bind_dn[0] == '\0') != (lc->bind_pw_file[0] == '\0'))
		return lc_error(st, "bind_dn and bind_pw_file go together");
	if (lc->ngroup_bases > 0 && !lc->active_directory)
		return lc_error(st, "group_search_base needs "
		    "active_directory = yes");
	if (lc->reconnect_delay > lc->reconnect_delay_max)
		return lc_error(st, "reconnect_delay is longer than "
		    "reconnect_delay_max");
	if (lc->active_directory && !st->filter_set)
		strlcpy(lc->filter, AD_USER_FILTER, sizeof(lc->filter));
	return 0;
}

/* Hands the pending entry (if any) to lc_line(). */
static int
lc_flush(struct lc_state *st, char *entry, size_t *elen, size_t *first)
{
	size_t lineno = st->lineno;

	if (*first == 0)
		return 0;
	entry[*elen] = '\0';
	st->lineno = *first;
	if (lc_line(st, entry) == -1)
		return -1;
	st->lineno = lineno;
	*first = 0;
	*elen = 0;
	return 0;
}

int
ldap_conf_parse(const char *buf, size_t len, const char *name,
    struct ldap_conf *lc, char *err, size_t errsz)
{
	struct lc_state	 st;
	char		 entry[LDAP_CONF_LINE_MAX];
	const char	*p, *end = buf + len, *nl;
	size_t		 elen = 0, first = 0, llen, lead;

	memset(&st, 0, sizeof(st));
	ldap_conf_defaults(lc);
	st.lc = lc;
	st.name = name;
	st.err = err;
	st.errsz = errsz;
	if (strlcpy(lc->path, name, sizeof(lc->path)) >= sizeof(lc->path))
		return lc_error(&st, "path too long");
	for (p = buf; p < end; p = nl + 1) {
		st.lineno++;
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		llen = nl - p;
		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (memchr(p, '\0', llen) != NULL)
			return lc_error(&st, "NUL byte");
		if (llen >= LDAP_CONF_LINE_MAX)
			return lc_error(&st, "line too long");
		for (lead = 0; lead < llen && (p[lead] == ' ' ||
		    p[lead] == '\t'); lead++)
			;
		if (lead == llen || p[lead] == '#')
			continue;		/* blank or comment */
		if (lead > 0) {			/* continuation */
			if (first == 0)
				return lc_error(&st, "continuation line "
				    "without a key before it");
			if (elen + 1 + llen - lead >= sizeof(entry))
				return lc_error(&st, "entry too long");
			entry[elen++] = ' ';
			memcpy(entry + elen, p + lead, llen - lead);
			elen += llen - lead;
			continue;
		}
		if (lc_flush(&st, entry, &elen, &first) == -1)
			return -1;
		memcpy(entry, p, llen);
		elen = llen;
		first = st.lineno;
	}
	if (lc_flush(&st, entry, &elen, &first) == -1)
		return -1;
	return lc_finish(&st);
}

/* The whole of a small file; -1 with "path: why". */
static char *
lc_read_file(const char *path, size_t max, size_t *lenp, struct stat *sb,
    char *err, size_t errsz)
{
	char	*buf = NULL;
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, sb) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb->st_mode) || sb->st_size > (off_t)max) {
		snprintf(err, errsz, "%s: not a regular file of at most %zu "
		    "bytes", path, max);
		goto fail;
	}
	if ((buf = malloc(sb->st_size + 1)) == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto fail;
	}
	while (len < (size_t)sb->st_size &&
	    (n = read(fd, buf + len, sb->st_size - len)) > 0)
		len += n;
	if (len != (size_t)sb->st_size) {
		snprintf(err, errsz, "%s: short read", path);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*lenp = len;
	return buf;
fail:
	free(buf);
	if (fd != -1)
		close(fd);
	return NULL;
}

int
ldap_conf_read_password(struct ldap_conf *lc, char *err, size_t errsz)
{
	struct stat	 sb;
	char		*buf;
	size_t		 len;

	if (lc->bind_pw_file[0] == '\0')
		return 0;
	if ((buf = lc_read_file(lc->bind_pw_file, LDAP_CONF_PW_MAX, &len, &sb,
	    err, errsz)) == NULL)
		return -1;
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errsz, "%s: bind password file is accessible by "
		    "group or others (mode %04o), chmod 600 it",
		    lc->bind_pw_file, (unsigned)(sb.st_mode & 07777));
		goto fail;
	}
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0 || memchr(buf, '\0', len) != NULL ||
	    memchr(buf, '\n', len) != NULL) {
		snprintf(err, errsz, "%s: expected one line with the password",
		    lc->bind_pw_file);
		goto fail;
	}
	strlcpy(lc->bind_pw, buf, sizeof(lc->bind_pw));
	explicit_bzero(buf, len);
	free(buf);
	return 0;
fail:
	explicit_bzero(buf, len);
	free(buf);
	return -1;
}

int
ldap_conf_load(const char *path, struct ldap_conf *lc, char *err,
    size_t errsz)
{
	struct stat	 sb;
	char		*buf;
	size_t		 len;
	int		 rc;

	ldap_conf_defaults(lc);
	if ((buf = lc_read_file(path, LDAP_CONF_SIZE_MAX, &len, &sb, err,
	    errsz)) == NULL)
		return -1;
	rc = ldap_conf_parse(buf, len, path, lc, err, errsz);
	free(buf);
	if (rc == -1)
		return -1;
	if (lc->ca_file[0] != '\0' && access(lc->ca_file, R_OK) == -1) {
		snprintf(err, errsz, "%s: tls_ca_cert_file %s: %s", path,
		    lc->ca_file, strerror(errno));
		return -1;
	}
	return ldap_conf_read_password(lc, err, errsz);
}
