/*
 * smtpctl ldap-export LDAPCONF OUTFILE: the directory's valid recipients
 * as a Postfix-format table ("address OK" per line), for gateways that
 * must not reach the directory; it replaces the classic Perl export of
 * Active Directory.  Runs by itself, without the daemon, usually from
 * cron, with the same ldap config file as `table NAME ldap:LDAPCONF`.
 *
 * What is exported (the addresses the ldap table would accept):
 * - under each search_base, every entry with a mail or proxyAddresses
 *   value: its mail values and its "smtp:" proxyAddresses (prefix
 *   case-insensitive, X500:, SIP: ... ignored); with active_directory,
 *   accounts with userAccountControl bit 2 (disabled) are left out;
 *   without active_directory, the result_attribute values of every entry
 *   that has one;
 * - under each group_search_base, the mail and "smtp:" proxyAddresses of
 *   every group (its members are users, exported as such).
 * Values that are not RFC 5321 mailboxes are skipped with a warning;
 * addresses are lowercased, sorted and written once each.
 *
 * Guarantees: the table is written to a temporary file in the target's
 * directory, flushed to disk, renamed over OUTFILE and the directory
 * flushed, so a reader (lookupd watching a file: table) sees the old
 * table or the new one.  Any failed search (directory down, wrong
 * password, a server size limit hit: paged results are not used) leaves
 * OUTFILE as it was and exits 1 with the server's reason.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#include <event2/event.h>

#include "addr.h"
#include "ldap_conf.h"
#include "ldap_conn.h"
#include "ldap_export.h"
#include "log.h"

struct export {
	struct event_base	*base;
	char			**addrs;
	size_t			  naddrs, cap;
	size_t			  outstanding;	/* searches not done */
	size_t			  disabled, skipped;
	int			  failed;
	int			  ad;
	const char		 *result_attr;
};

struct export_search {
	struct export		*x;
	int			 groups;	/* a group_search_base */
};

static void
export_add(struct export *x, const char *value)
{
	struct mailaddr	 ma;
	char		 buf[ADDR_PATH_MAX], **v;
	size_t		 i;

	if (strlcpy(buf, value, sizeof(buf)) >= sizeof(buf) ||
	    addr_parse(buf, &ma) == -1) {
		fprintf(stderr, "smtpctl: ldap-export: skipped \"%s\": not a "
		    "mail address\n", value);
		x->skipped++;
		return;
	}
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] += 'a' - 'A';
	if (x->naddrs == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 256;
		if ((v = reallocarray(x->addrs, x->cap, sizeof(*v))) == NULL)
			fatal("ldap-export");
		x->addrs = v;
	}
	if ((x->addrs[x->naddrs++] = strdup(buf)) == NULL)
		fatal("ldap-export");
}

static void
export_value(const char *v, void *arg)
{
	export_add(arg, v);
}

/* proxyAddresses: only the smtp: ones (not X500:, SIP:, ...). */
static void
export_proxy_value(const char *v, void *arg)
{
	if (strncasecmp(v, "smtp:", 5) == 0)
		export_add(arg, v + 5);
}

static void
export_values(struct export *x, LDAP *ld, LDAPMessage *entry,
    const char *attr, int proxy)
{
	ldap_entry_values(ld, entry, attr, proxy ? export_proxy_value :
	    export_value, x);
}

static void
export_entry(void *arg, LDAP *ld, LDAPMessage *entry)
{
	struct export_search	*s = arg;
	struct export		*x = s->x;

	if (!x->ad) {
		export_values(x, ld, entry, x->result_attr, 0);
		return;
	}
	if (!s->groups && ldap_entry_disabled(ld, entry)) {
		x->disabled++;
		return;
	}
	export_values(x, ld, entry, "mail", 0);
	export_values(x, ld, entry, "proxyAddresses", 1);
}

static void
export_done(void *arg, int status, const char *why)
{
	struct export_search	*s = arg;
	struct export		*x = s->x;

	/* the first failure says why; the others repeat it */
	if (status == LDAP_CONN_ERROR && !x->failed) {
		fprintf(stderr, "smtpctl: ldap-export: %s\n", why);
		x->failed = 1;
	} else if (status == LDAP_CONN_NOSUCHOBJECT && !x->failed) {
		fprintf(stderr, "smtpctl: ldap-export: a search base does "
		    "not exist: %s\n", why);
		x->failed = 1;
	} else if (status != LDAP_CONN_OK)
		x->failed = 1;
	free(s);
	/*
	 * Not before every search is done, even after a failure: a search
	 * not yet delivered still owns its export_search, and
	 * ldap_conn_free() would drop it without a callback.
	 */
	if (--x->outstanding == 0)
		event_base_loopbreak(x->base);
}

static int
export_search(struct export *x, struct ldap_conn *c, const char *base,
    enum ldap_conf_scope scope, const char *filter,
    const char *const *attrs, int groups)
{
	struct export_search	*s;
	char			 why[512];

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("ldap-export");
	s->x = x;
	s->groups = groups;
	if (ldap_conn_search(c, base, scope, filter, attrs, export_entry,
	    export_done, s, why, sizeof(why)) == -1) {
		fprintf(stderr, "smtpctl: ldap-export: %s\n", why);
		free(s);
		return -1;
	}
	x->outstanding++;
	return 0;
}

static int
export_searches(struct export *x, struct ldap_conn *c,
    const struct ldap_conf *lc)
{
	static const char *const ad_attrs[] = { "mail", "proxyAddresses",
	    "userAccountControl", NULL };
	const char	*attrs[] = { lc->result_attr, NULL };
	char		 filter[LDAP_CONF_ATTR_MAX + 8];
	size_t		 i;

	snprintf(filter, sizeof(filter), "(%s=*)", lc->result_attr);
	for (i = 0; i < lc->nbases; i++)
		if (export_search(x, c, lc->bases[i], lc->scope, x->ad ?
		    "(|(mail=*)(proxyAddresses=*))" : filter, x->ad ?
		    ad_attrs : attrs, 0) == -1)
			return -1;
	for (i = 0; x->ad && i < lc->ngroup_bases; i++)
		if (export_search(x, c, lc->group_bases[i],
		    LDAP_CONF_SCOPE_SUB, "(|(objectClass=group)"
		    "(objectClass=groupOfNames))", ad_attrs, 1) == -1)
			return -1;
	return 0;
}

static int
export_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, each once, to a temp file renamed over out; N or -1. */
static long
export_write(struct export *x, const char *conf, const char *out)
{
	char	 tmp[PATH_MAX], dir[PATH_MAX];
	FILE	*fp;
	size_t	 i, n = 0;
	time_t	 now = time(NULL);
	int	 fd, dfd;

	qsort(x->addrs, x->naddrs, sizeof(*x->addrs), export_cmp);
	strlcpy(dir, out, sizeof(dir));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.ldap-export.XXXXXX",
	    dirname(dir)) >= sizeof(tmp) || (fd = mkstemp(tmp)) == -1 ||
	    fchmod(fd, 0644) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "smtpctl: ldap-export: %s: %s\n", out,
		    strerror(errno));
		return -1;
	}
	fprintf(fp, "# written by smtpctl ldap-export from %s, %s", conf,
	    ctime(&now));
	for (i = 0; i < x->naddrs; i++) {
		if (i > 0 && strcmp(x->addrs[i], x->addrs[i - 1]) == 0)
			continue;
		fprintf(fp, "%s OK\n", x->addrs[i]);
		n++;
	}
	if (fflush(fp) == EOF || fsync(fileno(fp)) == -1 ||
	    fclose(fp) == EOF || rename(tmp, out) == -1) {
		fprintf(stderr, "smtpctl: ldap-export: %s: %s\n", out,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return (long)n;
}

int
ldap_export_main(int argc, char **argv)
{
	struct export		 x;
	struct ldap_conf	 lc;
	struct ldap_conn	*c;
	char			 err[1024];
	long			 n;
	size_t			 i;

	if (argc != 3) {
		fprintf(stderr, "usage: smtpctl ldap-export ldapconf "
		    "outfile\n");
		return 2;
	}
	log_init(1, "smtpctl");
	memset(&x, 0, sizeof(x));
	if (ldap_conf_load(argv[1], &lc, err, sizeof(err)) == -1) {
		fprintf(stderr, "smtpctl: %s\n", err);
		return 1;
	}
	x.ad = lc.active_directory;
	x.result_attr = lc.result_attr;
	if ((x.base = event_base_new()) == NULL ||
	    (c = ldap_conn_new(&lc, "ldap-export", x.base, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "smtpctl: ldap-export: %s\n", err);
		return 1;
	}
	explicit_bzero(lc.bind_pw, sizeof(lc.bind_pw));
	if (export_searches(&x, c, &lc) == -1)
		x.failed = 1;
	if (x.outstanding > 0)
		event_base_dispatch(x.base);
	n = x.failed ? -1 : export_write(&x, argv[1], argv[2]);
	ldap_conn_free(c);
	event_base_free(x.base);
	for (i = 0; i < x.naddrs; i++)
		free(x.addrs[i]);
	free(x.addrs);
	if (n == -1) {
		fprintf(stderr, "smtpctl: ldap-export: %s left as it was\n",
		    argv[2]);
		return 1;
	}
	printf("%s: %ld addresses (%zu disabled accounts left out, %zu "
	    "values skipped)\n", argv[2], n, x.disabled, x.skipped);
	return 0;
}
