/*
 * The parsed configuration.  The parent parses the file (common/parse.y),
 * prints it normalised with conf_print() (includes and macros expanded,
 * relative paths made absolute, defaults written out) and sends that text
 * to every worker, which parses it again with the same parser.  So the
 * printed form must always parse back to the same structure.
 */
#ifndef MXGATE_CONFIG_H
#define MXGATE_CONFIG_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>

#define CONF_NAME_MAX		64
#define CONF_STR_MAX		256
#define CONF_RULE_TABLES	8

/* smtp bare-lf: what a bare CR or LF in DATA gets */
#define CONF_BARE_LF_REJECT	0	/* the message, 5xx (default) */
#define CONF_BARE_LF_NORMALIZE	1	/* stored as CR LF */

/* smtp max-sessions, max-sessions-per-client; smtp timeout (seconds) */
#define CONF_SMTP_SESSIONS_MAX	1000000
#define CONF_SMTP_TIMEOUT_MAX	86400
#define CONF_SMTP_AUTH_FAILURES_MAX 1000	/* smtp max-auth-failures */

/* smtp max-line-length (bytes with CR LF), smtp max-hops */
#define CONF_SMTP_LINE_MIN	512	/* RFC 5321 4.5.3.1.4 */
#define CONF_SMTP_LINE_MAX	32768	/* under smtpd's input buffer cap */
#define CONF_SMTP_HOPS_MAX	10000
/* smtp processes: smtpd workers, each linked to lookupd and queued */
#define CONF_SMTP_PROCS_MAX	16

/* mta timeout STAGE DURATION: the outbound client's per-stage timeouts
 * (RFC 5321 4.5.3.2), plus how long an idle connection is kept. */
enum conf_mta_timeout {
	CONF_MTA_TO_CONNECT,	/* connect() to the next hop: 5m */
	CONF_MTA_TO_GREETING,	/* 220 banner: 5m */
	CONF_MTA_TO_HELO,	/* EHLO/HELO reply: 5m */
	CONF_MTA_TO_STARTTLS,	/* STARTTLS reply and handshake: 5m */
	CONF_MTA_TO_MAIL,	/* MAIL FROM reply: 5m */
	CONF_MTA_TO_RCPT,	/* RCPT TO reply: 5m */
	CONF_MTA_TO_DATA,	/* DATA reply (354): 2m */
	CONF_MTA_TO_BLOCK,	/* each block of the body sent: 3m */
	CONF_MTA_TO_DOT,	/* reply to the final dot: 10m */
	CONF_MTA_TO_QUIT,	/* RSET and QUIT replies: 2m */
	CONF_MTA_TO_IDLE,	/* a connection kept for reuse: 5s */
	CONF_MTA_TO_COUNT
};
#define CONF_MTA_TIMEOUT_MAX	86400
#define CONF_MTA_COUNT_MAX	100000
/* The stage's name in "mta timeout NAME", NULL past the end. */
const char *conf_mta_timeout_name(int);

/* mta tls HOST|default POLICY: STARTTLS towards a next hop */
enum conf_tls_policy {
	CONF_TLS_NONE,		/* never */
	CONF_TLS_MAY,		/* when offered, plain text if it fails */
	CONF_TLS_ENCRYPT,	/* required, certificate not checked */
	CONF_TLS_VERIFY,	/* required, CA and host name checked */
	CONF_TLS_COUNT
};
#define CONF_MTA_TLS_MAX	64	/* mta tls HOST lines */
struct conf_mta_tls {
	char	 host[CONF_STR_MAX];	/* lower case */
	int	 policy;		/* enum conf_tls_policy */
};
/* "none", "may", "encrypt", "verify"; NULL past the end. */
const char *conf_tls_policy_name(int);

enum table_type {
	TABLE_INLINE,		/* table NAME { a, b, c } */
	TABLE_FILE,		/* table NAME file:/path  (Postfix format) */
	TABLE_CDB,		/* table NAME cdb:/path */
	TABLE_LDAP		/* table NAME ldap:/path/to/ldap.conf */
};

struct table_conf {
	TAILQ_ENTRY(table_conf)	 entry;
	char			 name[CONF_NAME_MAX];
	enum table_type		 type;
	char			 path[PATH_MAX];	/* absolute; not INLINE */
	char			**values;		/* INLINE only */
	size_t			 nvalues;
};

/* What a listener offers: plain SMTP, STARTTLS, or TLS from the start. */
enum listen_tls {
	LISTEN_PLAIN,
	LISTEN_STARTTLS,	/* listen on ... tls pki NAME */
	LISTEN_SMTPS		/* listen on ... smtps pki NAME (port 465) */
};

/*
 * pki NAME cert "file" key "file": a certificate chain and its key, PEM.
 * Only the parent reads the files (parent_pki.c) and sends their contents
 * to smtpd (IMSG_CONF_PKI); workers never open them.
 */
struct pki_conf {
	TAILQ_ENTRY(pki_conf)	 entry;
	char			 name[CONF_STR_MAX];
	char			 cert[PATH_MAX];	/* absolute */
	char			 key[PATH_MAX];		/* absolute */
	char			 origin[CONF_STR_MAX];	/* "file:line" for
							 * messages; not printed */
};

struct listen_conf {
	TAILQ_ENTRY(listen_conf) entry;
	char			 addr[CONF_NAME_MAX];	/* numeric IPv4/IPv6 */
	uint16_t		 port;
	/* TLS: listen on ... [tls | smtps] pki NAME [require-tls] */
	enum listen_tls		 tls;
	char			 pki[CONF_STR_MAX];	/* "" unless tls/smtps */
	int			 require_tls;		/* tls only: MAIL needs it */
	/* listen ... auth <table>: SMTP AUTH against that credentials table
	 * (username crypt(3)-hash), offered once TLS is active; "" none */
	char			 auth_table[CONF_NAME_MAX];
};

enum rule_kind {
	RULE_RELAY_FOR,		/* relay for <domains> [recipients <t>...]
				 *   [aliases <t>] [via <t> | via "smtp:..."] */
	RULE_RELAY_FROM,	/* relay from <networks> [via <t> | via "..."] */
	RULE_RELAY_AUTH		/* relay from authenticated [via ...]: clients
				 * that passed SMTP AUTH; match is "" */
};

struct rule_conf {
	TAILQ_ENTRY(rule_conf)	 entry;
	enum rule_kind		 kind;
	char			 match[CONF_NAME_MAX];	/* domains or networks table */
	char			 recipients[CONF_RULE_TABLES][CONF_NAME_MAX];
	size_t			 nrecipients;		/* 0: every user is valid */
	char			 aliases[CONF_NAME_MAX];	/* "" none */
	char			 via_table[CONF_NAME_MAX];	/* "" none */
	char			 via[CONF_STR_MAX];	/* literal transport, "" none */
};

TAILQ_HEAD(table_list, table_conf);
TAILQ_HEAD(listen_list, listen_conf);
TAILQ_HEAD(rule_list, rule_conf);
TAILQ_HEAD(pki_list, pki_conf);

struct mxgate_conf {
	char		hostname[CONF_STR_MAX];	/* default: gethostname() */
	char		origin[CONF_STR_MAX];	/* default: hostname's domain */
	char		spool[PATH_MAX];	/* default /var/spool/mxgate */
	char		control[PATH_MAX];	/* default /run/mxgate.sock */
	char		control_group[CONF_NAME_MAX];	/* "" root only */
	char		empty_dir[PATH_MAX];	/* chroot of smtpd, mtad: /var/empty */
	char		user[CONF_NAME_MAX];	/* default _mxgate */
	char		queue_user[CONF_NAME_MAX];	/* default _mxgateq */
	uint64_t	max_message_size;	/* bytes, default 35 MiB */
	uint32_t	max_recipients;		/* per message, default 1000 */
	uint32_t	retry_min;		/* seconds, default 300 */
	uint32_t	retry_max;		/* seconds, default 4000 */
	uint32_t	queue_lifetime;		/* seconds, default 5 days */
	uint64_t	queue_min_free;		/* spool free-space reserve, bytes;
						 * below it new mail gets 452 */
	uint32_t	delay_warning;		/* seconds, 0 (default): off */
	int		show_table_name;	/* Postfix show_user_unknown_table_name */
	int		smtp_bare_lf;		/* CONF_BARE_LF_*, default reject */
	uint32_t	smtp_max_sessions;	/* per smtpd, default 10000 */
	uint32_t	smtp_max_sessions_per_client;	/* per IP, default 50 */
	uint32_t	smtp_timeout;		/* seconds, default 300 */
	uint32_t	smtp_max_errors;	/* per session, default 20 */
	uint32_t	smtp_max_line;		/* with CR LF, default 2048 */
	uint32_t	smtp_data_timeout;	/* seconds, default 300 */
	uint32_t	smtp_max_hops;		/* Received: fields, default 100 */
	uint32_t	smtp_processes;		/* smtpd workers, default 1 */
	uint32_t	smtp_max_auth_failures;	/* per session, then 421; def. 3 */
	char		resolver[PATH_MAX];	/* default /etc/resolv.conf */
	uint32_t	mta_timeout[CONF_MTA_TO_COUNT];	/* seconds */
	uint32_t	mta_max_sessions;	/* outbound, default 100 */
	uint32_t	mta_max_sessions_dest;	/* per next hop, default 10 */
	uint32_t	mta_max_messages;	/* per session, default 100 */
	int		mta_tls_default;	/* CONF_TLS_*, default may */
	struct conf_mta_tls mta_tls[CONF_MTA_TLS_MAX];
	size_t		mta_ntls;
	char		mta_ca_file[PATH_MAX];	/* for verify */
	struct table_list	tables;
	struct listen_list	listeners;
	struct rule_list	rules;
	struct pki_list		pkis;
};

void	conf_init(struct mxgate_conf *);	/* defaults, empty lists */
void	conf_free(struct mxgate_conf *);
/* 0 on success; errors go to stderr/log as "file:line: message", -1. */
int	conf_parse_file(struct mxgate_conf *, const char *path);
int	conf_parse_buffer(struct mxgate_conf *, const char *text, size_t len,
	    const char *name);
void	conf_print(FILE *, const struct mxgate_conf *);
/* conf_print into a malloc'd buffer; NULL on failure. */
char   *conf_to_string(const struct mxgate_conf *, size_t *lenp);
const struct table_conf *conf_table(const struct mxgate_conf *, const char *name);
const struct pki_conf	*conf_pki(const struct mxgate_conf *, const char *name);

#endif
