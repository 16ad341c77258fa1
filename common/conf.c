/*
 * The configuration structure: defaults, freeing, lookup and the
 * normalised printed form (mxgate -n, and the text the parent sends to
 * the workers).  The grammar is in parse.y.
 *
 * Guarantee: conf_print() writes every setting, defaults included, in a
 * fixed order and form, quoting any value that would not read back as the
 * same text, so that parsing its output gives the same structure and
 * printing that again gives the same bytes.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "config.h"

#define CONF_DEF_SPOOL		"/var/spool/mxgate"
#define CONF_DEF_CONTROL	"/run/mxgate.sock"
#define CONF_DEF_EMPTY		"/var/empty"
#define CONF_DEF_USER		"_mxgate"
#define CONF_DEF_QUEUE_USER	"_mxgateq"
#define CONF_DEF_MSG_SIZE	(35ULL * 1024 * 1024)
#define CONF_DEF_RECIPIENTS	1000
#define CONF_DEF_RETRY_MIN	300
#define CONF_DEF_RETRY_MAX	4000
#define CONF_DEF_LIFETIME	(5 * 86400)
#define CONF_DEF_MIN_FREE	(100ULL * 1024 * 1024)
#define CONF_DEF_SMTP_SESSIONS	10000
#define CONF_DEF_SMTP_PER_CLIENT 50
#define CONF_DEF_SMTP_TIMEOUT	300
#define CONF_DEF_SMTP_ERRORS	20
#define CONF_DEF_SMTP_LINE	2048	/* room for SIZE, DSN and AUTH= */
#define CONF_DEF_SMTP_DATA_TIMEOUT 300
#define CONF_DEF_SMTP_HOPS	100	/* RFC 5321 6.3: at least 100 */
#define CONF_DEF_SMTP_AUTH_FAILURES 3
#define CONF_DEF_RESOLVER	"/etc/resolv.conf"
#define CONF_DEF_MTA_SESSIONS	100
#define CONF_DEF_MTA_PER_DEST	10
#define CONF_DEF_MTA_MESSAGES	100
#define CONF_DEF_MTA_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"

static const char *const conf_tls_policies[CONF_TLS_COUNT] = {
	[CONF_TLS_NONE] = "none",
	[CONF_TLS_MAY] = "may",
	[CONF_TLS_ENCRYPT] = "encrypt",
	[CONF_TLS_VERIFY] = "verify",
};

const char *
conf_tls_policy_name(int i)
{
	if (i < 0 || i >= CONF_TLS_COUNT)
		return NULL;
	return conf_tls_policies[i];
}

/* Indexed by enum conf_mta_timeout: name, default seconds. */
static const struct {
	const char	*name;
	uint32_t	 secs;
} conf_mta_timeouts[CONF_MTA_TO_COUNT] = {
	[CONF_MTA_TO_CONNECT] =	 { "connect",	300 },
	[CONF_MTA_TO_GREETING] = { "greeting",	300 },
	[CONF_MTA_TO_HELO] =	 { "helo",	300 },
	[CONF_MTA_TO_STARTTLS] = { "starttls",	300 },
	[CONF_MTA_TO_MAIL] =	 { "mail",	300 },
	[CONF_MTA_TO_RCPT] =	 { "rcpt",	300 },
	[CONF_MTA_TO_DATA] =	 { "data",	120 },
	[CONF_MTA_TO_BLOCK] =	 { "block",	180 },
	[CONF_MTA_TO_DOT] =	 { "dot",	600 },
	[CONF_MTA_TO_QUIT] =	 { "quit",	120 },
	[CONF_MTA_TO_IDLE] =	 { "idle",	5 },
};

const char *
conf_mta_timeout_name(int i)
{
	if (i < 0 || i >= CONF_MTA_TO_COUNT)
		return NULL;
	return conf_mta_timeouts[i].name;
}

static void
conf_mta_defaults(struct mxgate_conf *conf)
{
	int	 i;

	strlcpy(conf->resolver, CONF_DEF_RESOLVER, sizeof(conf->resolver));
	for (i = 0; i < CONF_MTA_TO_COUNT; i++)
		conf->mta_timeout[i] = conf_mta_timeouts[i].secs;
	conf->mta_max_sessions = CONF_DEF_MTA_SESSIONS;
	conf->mta_max_sessions_dest = CONF_DEF_MTA_PER_DEST;
	conf->mta_max_messages = CONF_DEF_MTA_MESSAGES;
	conf->mta_tls_default = CONF_TLS_MAY;
	conf->mta_ntls = 0;
	strlcpy(conf->mta_ca_file, CONF_DEF_MTA_CA_FILE,
	    sizeof(conf->mta_ca_file));
}

/* The same rule as the parser's host names, so the default reads back. */
static int
conf_valid_host(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("-_.", *s) == NULL)
			return 0;
	return 1;
}

static void
conf_default_names(struct mxgate_conf *conf)
{
	char		 host[CONF_STR_MAX];
	const char	*dot;

	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (!conf_valid_host(host))
		strlcpy(host, "localhost", sizeof(host));
	strlcpy(conf->hostname, host, sizeof(conf->hostname));
	dot = strchr(host, '.');
	strlcpy(conf->origin, dot != NULL && dot[1] != '\0' ? dot + 1 : host,
	    sizeof(conf->origin));
}

void
conf_init(struct mxgate_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf_default_names(conf);
	strlcpy(conf->spool, CONF_DEF_SPOOL, sizeof(conf->spool));
	strlcpy(conf->control, CONF_DEF_CONTROL, sizeof(conf->control));
	strlcpy(conf->empty_dir, CONF_DEF_EMPTY, sizeof(conf->empty_dir));
	strlcpy(conf->user, CONF_DEF_USER, sizeof(conf->user));
	strlcpy(conf->queue_user, CONF_DEF_QUEUE_USER,
	    sizeof(conf->queue_user));
	conf->max_message_size = CONF_DEF_MSG_SIZE;
	conf->max_recipients = CONF_DEF_RECIPIENTS;
	conf->retry_min = CONF_DEF_RETRY_MIN;
	conf->retry_max = CONF_DEF_RETRY_MAX;
	conf->queue_lifetime = CONF_DEF_LIFETIME;
	conf->queue_min_free = CONF_DEF_MIN_FREE;
	conf->show_table_name = 0;
	conf->smtp_bare_lf = CONF_BARE_LF_REJECT;
	conf->smtp_max_sessions = CONF_DEF_SMTP_SESSIONS;
	conf->smtp_max_sessions_per_client = CONF_DEF_SMTP_PER_CLIENT;
	conf->smtp_timeout = CONF_DEF_SMTP_TIMEOUT;
	conf->smtp_max_errors = CONF_DEF_SMTP_ERRORS;
	conf->smtp_max_line = CONF_DEF_SMTP_LINE;
	conf->smtp_data_timeout = CONF_DEF_SMTP_DATA_TIMEOUT;
	conf->smtp_max_hops = CONF_DEF_SMTP_HOPS;
	conf->smtp_processes = 1;
	conf->smtp_max_auth_failures = CONF_DEF_SMTP_AUTH_FAILURES;
	conf_mta_defaults(conf);
	TAILQ_INIT(&conf->tables);
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->rules);
	TAILQ_INIT(&conf->pkis);
}

static void
conf_free_pkis(struct mxgate_conf *conf)
{
	struct pki_conf	*k;

	while ((k = TAILQ_FIRST(&conf->pkis)) != NULL) {
		TAILQ_REMOVE(&conf->pkis, k, entry);
		free(k);
	}
}

/* Free the lists; the structure stays usable (empty lists). */
void
conf_free(struct mxgate_conf *conf)
{
	struct table_conf	*t;
	struct listen_conf	*l;
	struct rule_conf	*r;
	size_t			 i;

	while ((t = TAILQ_FIRST(&conf->tables)) != NULL) {
		TAILQ_REMOVE(&conf->tables, t, entry);
		for (i = 0; i < t->nvalues; i++)
			free(t->values[i]);
		free(t->values);
		free(t);
	}
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		free(l);
	}
	while ((r = TAILQ_FIRST(&conf->rules)) != NULL) {
		TAILQ_REMOVE(&conf->rules, r, entry);
		free(r);
	}
	conf_free_pkis(conf);
}

const struct table_conf *
conf_table(const struct mxgate_conf *conf, const char *name)
{
	const struct table_conf	*t;

	TAILQ_FOREACH(t, &conf->tables, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

const struct pki_conf *
conf_pki(const struct mxgate_conf *conf, const char *name)
{
	const struct pki_conf	*k;

	TAILQ_FOREACH(k, &conf->pkis, entry)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/*
 * Printing.
 */

/* Words printed bare: the lexer reads them back as the same text. */
static int
conf_bare(const char *s)
{
	const char	*p;

	if (*s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) &&
		    strchr("-_.:/@[]+%*~", *p) == NULL)
			return 0;
	return 1;
}

static void
conf_print_str(FILE *fp, const char *s)
{
	if (conf_bare(s)) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\' || *s == '$')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
conf_print_setting(FILE *fp, const char *keyword, const char *value)
{
	fprintf(fp, "%s ", keyword);
	conf_print_str(fp, value);
	fputc('\n', fp);
}

static void	conf_print_mta(FILE *, const struct mxgate_conf *);

static void
conf_print_globals(FILE *fp, const struct mxgate_conf *conf)
{
	conf_print_setting(fp, "hostname", conf->hostname);
	conf_print_setting(fp, "origin", conf->origin);
	conf_print_setting(fp, "spool", conf->spool);
	fputs("control ", fp);
	conf_print_str(fp, conf->control);
	if (conf->control_group[0] != '\0') {
		fputs(" group ", fp);
		conf_print_str(fp, conf->control_group);
	}
	fputc('\n', fp);
	conf_print_setting(fp, "chroot-dir", conf->empty_dir);
	conf_print_setting(fp, "user", conf->user);
	conf_print_setting(fp, "queue-user", conf->queue_user);
	fprintf(fp, "max-message-size %llu\n",
	    (unsigned long long)conf->max_message_size);
	fprintf(fp, "max-recipients %lu\n",
	    (unsigned long)conf->max_recipients);
	fprintf(fp, "queue retry-min %lus\n", (unsigned long)conf->retry_min);
	fprintf(fp, "queue retry-max %lus\n", (unsigned long)conf->retry_max);
	fprintf(fp, "queue lifetime %lus\n",
	    (unsigned long)conf->queue_lifetime);
	fprintf(fp, "queue min-free %llu\n",
	    (unsigned long long)conf->queue_min_free);
	if (conf->delay_warning == 0)
		fprintf(fp, "queue delay-warning off\n");
	else
		fprintf(fp, "queue delay-warning %lus\n",
		    (unsigned long)conf->delay_warning);
	fprintf(fp, "show-table-name %s\n", conf->show_table_name ? "yes" :
	    "no");
	fprintf(fp, "smtp bare-lf %s\n",
	    conf->smtp_bare_lf == CONF_BARE_LF_NORMALIZE ? "normalize" :
	    "reject");
	fprintf(fp, "smtp max-sessions %lu\n",
	    (unsigned long)conf->smtp_max_sessions);
	fprintf(fp, "smtp max-sessions-per-client %lu\n",
	    (unsigned long)conf->smtp_max_sessions_per_client);
	fprintf(fp, "smtp timeout %lus\n", (unsigned long)conf->smtp_timeout);
	fprintf(fp, "smtp max-errors %lu\n",
	    (unsigned long)conf->smtp_max_errors);
	fprintf(fp, "smtp max-line-length %lu\n",
	    (unsigned long)conf->smtp_max_line);
	fprintf(fp, "smtp data-timeout %lus\n",
	    (unsigned long)conf->smtp_data_timeout);
	fprintf(fp, "smtp max-hops %lu\n",
	    (unsigned long)conf->smtp_max_hops);
	fprintf(fp, "smtp processes %lu\n",
	    (unsigned long)conf->smtp_processes);
	fprintf(fp, "smtp max-auth-failures %lu\n",
	    (unsigned long)conf->smtp_max_auth_failures);
	conf_print_mta(fp, conf);
}

static void
conf_print_mta(FILE *fp, const struct mxgate_conf *conf)
{
	int	 i;
	size_t	 n;

	conf_print_setting(fp, "resolver", conf->resolver);
	for (i = 0; i < CONF_MTA_TO_COUNT; i++)
		fprintf(fp, "mta timeout %s %lus\n", conf_mta_timeouts[i].name,
		    (unsigned long)conf->mta_timeout[i]);
	fprintf(fp, "mta max-sessions %lu\n",
	    (unsigned long)conf->mta_max_sessions);
	fprintf(fp, "mta max-sessions-per-destination %lu\n",
	    (unsigned long)conf->mta_max_sessions_dest);
	fprintf(fp, "mta max-messages-per-session %lu\n",
	    (unsigned long)conf->mta_max_messages);
	fprintf(fp, "mta tls default %s\n",
	    conf_tls_policies[conf->mta_tls_default]);
	for (n = 0; n < conf->mta_ntls; n++)
		fprintf(fp, "mta tls %s %s\n", conf->mta_tls[n].host,
		    conf_tls_policies[conf->mta_tls[n].policy]);
	conf_print_setting(fp, "mta ca-file", conf->mta_ca_file);
}

static void
conf_print_table(FILE *fp, const struct table_conf *t)
{
	static const char	*prefix[] = {
		[TABLE_FILE] = "file:",
		[TABLE_CDB] = "cdb:",
		[TABLE_LDAP] = "ldap:"
	};
	char			 src[PATH_MAX + 8];
	size_t			 i;

	fprintf(fp, "table %s", t->name);
	if (t->type == TABLE_INLINE) {
		fputs(" {", fp);
		for (i = 0; i < t->nvalues; i++) {
			fputs(i > 0 ? ", " : " ", fp);
			conf_print_str(fp, t->values[i]);
		}
		fputs(" }\n", fp);
		return;
	}
	snprintf(src, sizeof(src), "%s%s", prefix[t->type], t->path);
	fputc(' ', fp);
	conf_print_str(fp, src);
	fputc('\n', fp);
}

static void
conf_print_rule(FILE *fp, const struct rule_conf *r)
{
	size_t	 i;

	if (r->kind == RULE_RELAY_AUTH)
		fputs("relay from authenticated", fp);
	else
		fprintf(fp, "relay %s <%s>", r->kind == RULE_RELAY_FOR ?
		    "for" : "from", r->match);
	if (r->nrecipients > 0) {
		fputs(" recipients", fp);
		for (i = 0; i < r->nrecipients && i < CONF_RULE_TABLES; i++)
			fprintf(fp, " <%s>", r->recipients[i]);
	}
	if (r->aliases[0] != '\0')
		fprintf(fp, " aliases <%s>", r->aliases);
	if (r->via_table[0] != '\0')
		fprintf(fp, " via <%s>", r->via_table);
	else if (r->via[0] != '\0') {
		fputs(" via ", fp);
		conf_print_str(fp, r->via);
	}
	fputc('\n', fp);
}

static void
conf_print_pkis(FILE *fp, const struct mxgate_conf *conf)
{
	const struct pki_conf	*k;

	if (!TAILQ_EMPTY(&conf->pkis))
		fputc('\n', fp);
	TAILQ_FOREACH(k, &conf->pkis, entry) {
		fprintf(fp, "pki %s cert ", k->name);
		conf_print_str(fp, k->cert);
		fputs(" key ", fp);
		conf_print_str(fp, k->key);
		fputc('\n', fp);
	}
}

static void
conf_print_listen(FILE *fp, const struct listen_conf *l)
{
	fprintf(fp, "listen on %s port %u", l->addr, (unsigned int)l->port);
	if (l->tls == LISTEN_STARTTLS)
		fprintf(fp, " tls pki %s", l->pki);
	else if (l->tls == LISTEN_SMTPS)
		fprintf(fp, " smtps pki %s", l->pki);
	if (l->require_tls)
		fputs(" require-tls", fp);
	if (l->auth_table[0] != '\0')
		fprintf(fp, " auth <%s>", l->auth_table);
	fputc('\n', fp);
}

void
conf_print(FILE *fp, const struct mxgate_conf *conf)
{
	const struct table_conf		*t;
	const struct listen_conf	*l;
	const struct rule_conf		*r;

	conf_print_globals(fp, conf);
	if (!TAILQ_EMPTY(&conf->tables))
		fputc('\n', fp);
	TAILQ_FOREACH(t, &conf->tables, entry)
		conf_print_table(fp, t);
	conf_print_pkis(fp, conf);
	if (!TAILQ_EMPTY(&conf->listeners))
		fputc('\n', fp);
	TAILQ_FOREACH(l, &conf->listeners, entry)
		conf_print_listen(fp, l);
	if (!TAILQ_EMPTY(&conf->rules))
		fputc('\n', fp);
	TAILQ_FOREACH(r, &conf->rules, entry)
		conf_print_rule(fp, r);
}

char *
conf_to_string(const struct mxgate_conf *conf, size_t *lenp)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 len = 0;
	int	 bad;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return NULL;
	conf_print(fp, conf);
	bad = ferror(fp);
	if (fclose(fp) != 0 || bad) {
		free(buf);
		return NULL;
	}
	if (lenp != NULL)
		*lenp = len;
	return buf;
}
