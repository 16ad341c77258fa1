/*
 * The LDAP table config parser and filter escaping (common/ldap_conf.c):
 * RFC 4515 escaping of every filter metacharacter and non-printable byte,
 * %s/%u/%d expansion (an address cannot inject into a filter), filter
 * template checks, a full config with every key, broken configs refused
 * with "file:line: why", and the password file's mode check.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ldap_conf.h"
#include "test.h"

static void
escape(const char *in, const char *want)
{
	char	out[256], name[512];
	int	n;

	n = ldap_filter_escape(in, out, sizeof(out));
	snprintf(name, sizeof(name), "escape \"%s\" -> \"%s\"", in, want);
	t_check(n >= 0 && strcmp(out, want) == 0 && (size_t)n == strlen(want),
	    name, "got %d \"%s\"", n, n >= 0 ? out : "");
}

static void
expand(const char *tmpl, const char *key, int wantrc, const char *want)
{
	char	out[512], name[512];
	int	rc;

	rc = ldap_filter_expand(tmpl, key, out, sizeof(out));
	snprintf(name, sizeof(name), "expand %s with <%s>", tmpl, key);
	t_check(rc == wantrc && (rc != 1 || strcmp(out, want) == 0), name,
	    "rc %d \"%s\"", rc, rc == 1 ? out : "");
}

static void
t_escape(void)
{
	char	small[4];

	escape("alice@example.com", "alice@example.com");
	escape("*", "\\2a");
	escape("*)(mail=*", "\\2a\\29\\28mail=\\2a");
	escape("a\\b", "a\\5cb");
	escape("x y", "x\\20y");
	escape("caf\xc3\xa9", "caf\\c3\\a9");
	escape("\x01\x7f", "\\01\\7f");
	escape("", "");
	T_OK(ldap_filter_escape("**", small, sizeof(small)) == -1,
	    "escape: too small a buffer is an error, not a truncation");
	T_OK(ldap_filter_escape("abc", small, sizeof(small)) == 3,
	    "escape: exact fit");
}

static void
t_expand(void)
{
	expand("(mail=%s)", "alice@example.com", 1,
	    "(mail=alice@example.com)");
	expand("(&(uid=%u)(dc=%d))", "alice@example.com", 1,
	    "(&(uid=alice)(dc=example.com))");
	expand("(mail=%s)", "*)(mail=*@example.com", 1,
	    "(mail=\\2a\\29\\28mail=\\2a@example.com)");
	expand("(mail=%s)", "\"*)(|(mail=*\"@x.org", 1,
	    "(mail=\"\\2a\\29\\28|\\28mail=\\2a\"@x.org)");
	expand("(uid=%u)", "*@example.com", 1, "(uid=\\2a)");
	expand("(dc=%d)", "a@*", 1, "(dc=\\2a)");
	expand("(uid=%u)", "nodomain", 0, "");
	expand("(uid=%u)", "@example.com", 0, "");
	expand("(dc=%d)", "user@", 0, "");
	expand("(mail=%s)", "@example.com", 1, "(mail=@example.com)");
	expand("(pct=100%%)", "a@b", 1, "(pct=100%)");
	expand("(|(mail=%s)(proxyAddresses=smtp:%s))", "a@b", 1,
	    "(|(mail=a@b)(proxyAddresses=smtp:a@b))");
}

static void
t_check_filter(void)
{
	char why[256];

	T_OK(ldap_filter_check("(mail=%s)", why, sizeof(why)) == 0,
	    "filter check: simple filter");
	T_OK(ldap_filter_check("(&(a=%u)(b=%d)(c=100%%))", why,
	    sizeof(why)) == 0, "filter check: nested, %%");
	T_OK(ldap_filter_check("mail=%s", why, sizeof(why)) == -1,
	    "filter check: no parentheses refused");
	T_OK(ldap_filter_check("(mail=%s", why, sizeof(why)) == -1,
	    "filter check: unbalanced refused");
	T_OK(ldap_filter_check("(mail=%s))", why, sizeof(why)) == -1,
	    "filter check: extra ')' refused");
	T_OK(ldap_filter_check("(mail=%x)", why, sizeof(why)) == -1 &&
	    strstr(why, "%x") != NULL, "filter check: unknown %x named");
	T_OK(ldap_filter_check("(a=1)(b=2)", why, sizeof(why)) == -1,
	    "filter check: two filters refused");
}

static const char GOOD[] =
    "# every key\n"
    "server_host = ldap://dc1.example.com ldaps://[::1]:6360/,\n"
    "    ldap://10.0.0.2:3890\n"
    "start_tls = yes\n"
    "tls_ca_cert_file = ca.pem\n"
    "bind_dn = cn=mxgate,ou=Service,dc=example,dc=com\n"
    "bind_pw_file = /etc/mxgate/ad.pw\n"
    "search_base = ou=Users,dc=example,dc=com\n"
    "search_base = ou=More Users,dc=example,dc=com\n"
    "scope = one\n"
    "\n"
    "result_attribute = mail\n"
    "timeout = 2m\n"
    "size_limit = 10\n"
    "active_directory = yes\n"
    "group_search_base = ou=Exchange Distribution Lists,dc=example,dc=com\n"
    "group_query_filter = (&(objectClass=group)(mail=%s))\n"
    "expansion_limit = 50\n"
    "cache_ttl = 10m\n"
    "negative_cache_ttl = 30s\n"
    "serve_stale = yes\n"
    "stale_ttl = 1d\n"
    "cache_size = 5000\n"
    "reconnect_delay = 2\n"
    "reconnect_delay_max = 1h\r\n";

static const char MIN[] = "server_host=ldap://h\nsearch_base=dc=x\n";

static void
t_good(void)
{
	struct ldap_conf	lc;
	char			err[512] = "";
	int			rc;

	rc = ldap_conf_parse(GOOD, sizeof(GOOD) - 1, "/etc/mxgate/ad.conf",
	    &lc, err, sizeof(err));
	t_check(rc == 0, "config with every key parses", "%s", err);
	if (rc != 0)
		return;
	T_OK(lc.nservers == 3 && !lc.servers[0].ldaps &&
	    strcmp(lc.servers[0].host, "dc1.example.com") == 0 &&
	    strcmp(lc.servers[0].port, "389") == 0,
	    "server 1: ldap://, default port 389");
	T_OK(lc.servers[1].ldaps && strcmp(lc.servers[1].host, "::1") == 0 &&
	    strcmp(lc.servers[1].port, "6360") == 0,
	    "server 2: ldaps:// [v6]:port");
	T_OK(strcmp(lc.servers[2].port, "3890") == 0,
	    "server 3 from a continuation line");
	T_OK(strcmp(lc.ca_file, "/etc/mxgate/ca.pem") == 0,
	    "relative CA path taken from the config's directory");
	T_OK(lc.nbases == 2 && strcmp(lc.bases[1],
	    "ou=More Users,dc=example,dc=com") == 0,
	    "search_base repeated: two bases, blanks kept");
	T_OK(lc.scope == LDAP_CONF_SCOPE_ONE && lc.timeout == 120 &&
	    lc.size_limit == 10 && lc.cache_ttl == 600 &&
	    lc.negative_cache_ttl == 30 && lc.stale_ttl == 86400 &&
	    lc.reconnect_delay_max == 3600 && lc.serve_stale &&
	    lc.expansion_limit == 50 && lc.cache_size == 5000,
	    "numbers and durations");
	T_OK(lc.active_directory && strstr(lc.filter, "proxyAddresses") !=
	    NULL, "active_directory: the AD user filter by default");
	T_OK(strcmp(lc.group_filter, "(&(objectClass=group)(mail=%s))") == 0,
	    "group_query_filter");

	rc = ldap_conf_parse(MIN, strlen(MIN),
	    "min.conf", &lc, err, sizeof(err));
	t_check(rc == 0 && strcmp(lc.filter, "(mail=%s)") == 0 &&
	    lc.scope == LDAP_CONF_SCOPE_SUB && lc.cache_ttl == 300 &&
	    !lc.active_directory && lc.bind_dn[0] == '\0',
	    "minimal config (no blanks around '='): defaults", "%s", err);
}

static const struct {
	const char	*text;
	const char	*err;	/* expected message, with file:line */
} BAD[] = {
	{ "server_host = ldap://h\nsearch_base = dc=x\nbogus = 1\n",
	  "bad.conf:3: unknown key \"bogus\"" },
	{ "server_host = http://h\n",
	  "bad.conf:1: server \"http://h\": expected ldap:// or ldaps:// URL" },
	{ "server_host = ldap://h:99999\n",
	  "bad.conf:1: server \"ldap://h:99999\": malformed URL" },
	{ "server_host = ldap://h/dc=x\n",
	  "bad.conf:1: server \"ldap://h/dc=x\": malformed URL" },
	{ "server_host = ldap://h\nsearch_base = dc=x\nscope = deep\n",
	  "bad.conf:3: scope \"deep\": expected sub, one or base" },
	{ "server_host = ldap://h\nsearch_base = dc=x\n"
	  "query_filter = (mail=%x)\n",
	  "bad.conf:3: query_filter \"(mail=%x)\": unknown escape" },
	{ "server_host = ldap://h\nsearch_base = dc=x\ntimeout = 0\n",
	  "bad.conf:3: \"0\": expected a duration in seconds from 1 to 3600" },
	{ "server_host = ldap://h\nsearch_base = dc=x\ncache_ttl = 5y\n",
	  "bad.conf:3: \"5y\": expected a duration" },
	{ "server_host = ldap://h\nsearch_base = dc=x\nstart_tls = maybe\n",
	  "bad.conf:3: \"maybe\": expected yes or no" },
	{ "server_host = ldap://h\n\n# c\nscope = sub\nscope = one\n",
	  "bad.conf:5: scope given twice" },
	{ "server_host = ldap://h\nsearch_base\n",
	  "bad.conf:2: expected \"key = value\"" },
	{ "server_host = ldap://h\nsearch_base =\n",
	  "bad.conf:2: search_base: empty value" },
	{ "  ldap://h\n",
	  "bad.conf:1: continuation line without a key before it" },
	{ "search_base = dc=x\n", "bad.conf: no server_host" },
	{ "server_host = ldap://h\n", "bad.conf: no search_base" },
	{ "server_host = ldap://h\nsearch_base = dc=x\nbind_dn = cn=a\n",
	  "bad.conf: bind_dn and bind_pw_file go together" },
	{ "server_host = ldap://h\nsearch_base = dc=x\n"
	  "group_search_base = ou=g\n",
	  "bad.conf: group_search_base needs active_directory = yes" },
	{ "server_host = ldap://h\nsearch_base = dc=x\n"
	  "result_attribute = ma il\n",
	  "bad.conf:3: result_attribute \"ma il\": not an attribute name" },
	{ "server_host = ldap://h\nsearch_base = dc=x\n"
	  "reconnect_delay = 10\nreconnect_delay_max = 5\n",
	  "bad.conf: reconnect_delay is longer than reconnect_delay_max" },
};

static void
t_bad(void)
{
	struct ldap_conf	lc;
	char			err[512], name[128];
	size_t			i;
	int			rc;

	for (i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		err[0] = '\0';
		rc = ldap_conf_parse(BAD[i].text, strlen(BAD[i].text),
		    "bad.conf", &lc, err, sizeof(err));
		snprintf(name, sizeof(name), "broken config %zu refused: %s",
		    i + 1, BAD[i].err);
		t_check(rc == -1 && strncmp(err, BAD[i].err,
		    strlen(BAD[i].err)) == 0, name, "rc %d, \"%s\"", rc, err);
	}
	T_OK(ldap_conf_parse("server_host = ldap://h\0\n", 24, "bad.conf",
	    &lc, err, sizeof(err)) == -1 && strstr(err, "NUL") != NULL,
	    "NUL byte refused");
}

static void
t_password(void)
{
	struct ldap_conf	lc;
	char			dir[] = "/tmp/test_ldap_escape.XXXXXX";
	char			path[256], err[512];
	int			fd;

	if (mkdtemp(dir) == NULL) {
		t_check(0, "password: temp dir", "mkdtemp failed");
		return;
	}
	snprintf(path, sizeof(path), "%s/pw", dir);
	ldap_conf_defaults(&lc);
	snprintf(lc.bind_pw_file, sizeof(lc.bind_pw_file), "%s", path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, "top secret\n", 11) != 11) {
		t_check(0, "password: write file", "%s", path);
		return;
	}
	close(fd);
	chmod(path, 0600);
	T_OK(ldap_conf_read_password(&lc, err, sizeof(err)) == 0 &&
	    strcmp(lc.bind_pw, "top secret") == 0,
	    "password file 0600: read, newline dropped");
	chmod(path, 0640);
	t_check(ldap_conf_read_password(&lc, err, sizeof(err)) == -1 &&
	    strstr(err, "accessible by group or others") != NULL,
	    "password file 0640 refused", "%s", err);
	chmod(path, 0604);
	T_OK(ldap_conf_read_password(&lc, err, sizeof(err)) == -1,
	    "password file 0604 refused");
	unlink(path);
	t_check(ldap_conf_read_password(&lc, err, sizeof(err)) == -1 &&
	    strstr(err, path) != NULL, "missing password file named", "%s",
	    err);
	rmdir(dir);
}

int
main(void)
{
	t_escape();
	t_expand();
	t_check_filter();
	t_good();
	t_bad();
	t_password();
	return t_exit();
}
