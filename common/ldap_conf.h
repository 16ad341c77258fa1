/*
 * The file behind `table NAME ldap:/path`: which directory servers to ask,
 * how to bind, where and how to search.  In the spirit of Postfix's
 * ldap_table(5): one `key = value` per line, `#` comments, blank lines
 * ignored, a line starting with white space continues the previous one.
 *
 *   server_host        = ldap://dc1.example.com ldaps://dc2.example.com:636
 *   start_tls          = yes                 # ldap:// URLs only
 *   tls_ca_cert_file   = /etc/mxgate/ad-ca.pem
 *   bind_dn            = cn=mxgate,ou=Service,dc=example,dc=com
 *   bind_pw_file       = /etc/mxgate/ad.pw   # mode 0600 or 0400
 *   search_base        = ou=Users,dc=example,dc=com   # repeatable
 *   scope              = sub                 # sub | one | base
 *   query_filter       = (mail=%s)           # %s %u %d, RFC 4515 escaped
 *   result_attribute   = mail
 *   active_directory   = yes
 *   group_search_base  = ou=Exchange Distribution Lists,dc=example,dc=com
 *   ...
 *
 * The parser is used by the parent (to refuse a broken file at start and
 * with -n), by lookupd (first configure, before the sandbox) and by
 * smtpctl.  It needs no libldap.
 */
#ifndef MXGATE_LDAP_CONF_H
#define MXGATE_LDAP_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#define LDAP_CONF_SERVERS_MAX	8
#define LDAP_CONF_BASES_MAX	8
#define LDAP_CONF_URL_MAX	256
#define LDAP_CONF_DN_MAX	512
#define LDAP_CONF_FILTER_MAX	1024
#define LDAP_CONF_ATTR_MAX	64
#define LDAP_CONF_PW_MAX	256
#define LDAP_CONF_LINE_MAX	4096
#define LDAP_CONF_SIZE_MAX	(64 * 1024)	/* a whole file */
#define LDAP_CONF_TTL_MAX	(30 * 86400)

enum ldap_conf_scope {
	LDAP_CONF_SCOPE_SUB,
	LDAP_CONF_SCOPE_ONE,
	LDAP_CONF_SCOPE_BASE
};

struct ldap_conf_server {
	char		url[LDAP_CONF_URL_MAX];	/* as written */
	int		ldaps;			/* ldaps:// */
	char		host[LDAP_CONF_URL_MAX];
	char		port[8];		/* "389" or "636" by default */
};

struct ldap_conf {
	char		path[PATH_MAX];
	struct ldap_conf_server servers[LDAP_CONF_SERVERS_MAX];
	size_t		nservers;
	int		start_tls;
	char		ca_file[PATH_MAX];		/* "" none */
	char		bind_dn[LDAP_CONF_DN_MAX];	/* "" anonymous */
	char		bind_pw_file[PATH_MAX];
	char		bind_pw[LDAP_CONF_PW_MAX];	/* read by the loader */
	char		bases[LDAP_CONF_BASES_MAX][LDAP_CONF_DN_MAX];
	size_t		nbases;
	enum ldap_conf_scope scope;
	char		filter[LDAP_CONF_FILTER_MAX];
	char		result_attr[LDAP_CONF_ATTR_MAX];
	uint32_t	timeout;		/* seconds, per query and connect */
	uint32_t	size_limit;		/* entries per search, 0 none */
	int		active_directory;
	char		group_bases[LDAP_CONF_BASES_MAX][LDAP_CONF_DN_MAX];
	size_t		ngroup_bases;
	char		group_filter[LDAP_CONF_FILTER_MAX];
	uint32_t	expansion_limit;	/* addresses of one group */
	uint32_t	cache_ttl;		/* seconds, found */
	uint32_t	negative_cache_ttl;	/* seconds, not found */
	int		serve_stale;
	uint32_t	stale_ttl;		/* how long past cache_ttl */
	uint32_t	cache_size;		/* entries */
	uint32_t	reconnect_delay;	/* first backoff, seconds */
	uint32_t	reconnect_delay_max;
};

/*
 * Reads and checks path into *lc (defaults first), then the bind password
 * file, which must be a regular file not readable by group or others.
 * 0, or -1 with "path:line: why" (or "path: why") in err.
 */
int	ldap_conf_load(const char *path, struct ldap_conf *lc, char *err,
	    size_t errsz);
/* The same from a buffer (name labels messages); the password file is
 * not read.  For tests and the fuzzer. */
int	ldap_conf_parse(const char *buf, size_t len, const char *name,
	    struct ldap_conf *lc, char *err, size_t errsz);
void	ldap_conf_defaults(struct ldap_conf *lc);
/* Reads lc->bind_pw_file into lc->bind_pw; 0 or -1 with err. */
int	ldap_conf_read_password(struct ldap_conf *lc, char *err, size_t errsz);

/*
 * RFC 4515 escaping of an assertion value: '*', '(', ')', '\' and NUL,
 * and every byte outside printable ASCII, become \XX.  Returns the
 * length written (without the NUL) or -1 if dst is too small.
 */
int	ldap_filter_escape(const char *src, char *dst, size_t dstsz);
/*
 * Expands a filter template for one key: %s the key, %u its local part,
 * %d its domain, %% a percent sign, each value escaped.  -1 when dst is
 * too small, 0 when the template needs a part the key lacks (%u or %d of
 * a key without '@', or with an empty local part or domain: Postfix does
 * not search then), 1 when dst holds the filter.
 */
int	ldap_filter_expand(const char *tmpl, const char *key, char *dst,
	    size_t dstsz);
/* Whether a filter template is acceptable: balanced parentheses, only
 * %s %u %d %% escapes; 0 or -1 with why. */
int	ldap_filter_check(const char *tmpl, char *why, size_t whysz);

#endif
