/*
 * mxgate.conf parser (byacc).  See etc/mxgate.conf.5 for the language.
 *
 * Guarantees kept here:
 * - every error is reported as "file:line: message" on stderr, parsing
 *   goes on to the end so that all errors are seen, and any error makes
 *   conf_parse_*() return -1 with the configuration freed;
 * - all parser state lives in `ps' and is reset on every call, so the
 *   parser can be run again for a reload;
 * - every string the lexer makes lives in an arena freed at the end of
 *   the parse, so error recovery can never leak;
 * - the parser opens no file but included ones and asks no name service,
 *   so workers can run it inside their sandbox.
 */

%code top {
/* keep the yacc globals out of other modules' way */
#define yyparse		conf_yyparse
#define yylex		conf_yylex
#define yyerror		conf_yyerror
#define yychar		conf_yychar
#define yylval		conf_yylval
#define yyval		conf_yyval
#define yynerrs		conf_yynerrs
#define yyerrflag	conf_yyerrflag
#define yydebug		conf_yydebug
}

%{
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "config.h"
#include "log.h"
#include "netaddr.h"

#define PARSE_INCLUDE_MAX	8	/* nesting depth of include */
#define PARSE_TOKEN_MAX		8192	/* longest word or quoted string */
#define PARSE_TOKTEXT		48	/* token text kept for messages */
#define PARSE_ERRORS_MAX	100	/* then give up */

struct pfile {
	struct pfile	*parent;	/* the includer; NULL for the top */
	struct pfile	*next;		/* all files of this parse */
	char		*name;		/* for messages */
	char		*dir;		/* absolute; NULL until needed */
	FILE		*fp;		/* NULL: reading buf */
	const char	*buf;
	size_t		 len;
	size_t		 pos;
	int		 lineno;
	int		 depth;
	int		 atnl;		/* last token was a newline */
	int		 isfile;
	dev_t		 dev;
	ino_t		 ino;
	int		 unget;		/* one pushed back char, or EOF */
	int		 hasunget;
};

typedef struct {
	union {
		char		*string;
		int64_t		 number;
	} v;
	struct pfile	*file;
	int		 lineno;
} YYSTYPE;
#define YYSTYPE_IS_DECLARED 1
#define YY_NO_LEAKS 1		/* free the parser stack after each parse */

struct chunk {
	struct chunk	*next;
	max_align_t	 data[];
};

struct macro {
	struct macro	*next;
	char		*name;
	char		*value;
};

struct tabref {				/* <name> used by a rule */
	struct tabref	*next;
	char		*name;
	struct pfile	*file;
	int		 lineno;
	int		 networks;	/* used by relay from */
};

struct tabdef {				/* where a table was defined */
	struct tabdef		*next;
	struct table_conf	*table;
	struct pfile		*file;
	int			 lineno;
	int			 checked;
};

struct listen_opts {			/* listen on ... [options] */
	enum listen_tls	 tls;
	int		 has_tls;
	char		*pki;		/* NULL: none */
	int		 require_tls;
	int		 has_auth;	/* auth <table>: SMTP AUTH */
	YYSTYPE		 auth;
};

struct pkiref {				/* pki NAME used by a listener */
	struct pkiref	*next;
	char		*name;
	struct pfile	*file;
	int		 lineno;
};

enum {
	OPT_RECIPIENTS = 0x1,
	OPT_ALIASES = 0x2,
	OPT_VIA = 0x4
};

static struct {
	struct mxgate_conf	*conf;
	struct pfile		*file;		/* being read */
	struct pfile		*files;
	struct chunk		*chunks;
	struct macro		*macros;
	struct tabref		*refs, **refstail;
	struct tabdef		*tabdefs;
	struct table_conf	*table;		/* being defined */
	size_t			 tablecap;
	struct pfile		*tablefile;
	int			 tableline;
	struct rule_conf	*rule;		/* being defined */
	struct listen_conf	*listen;	/* added last, NULL if refused */
	int			 ruleopts;
	int			 errors;
	int			 giveup;	/* too many errors */
	int			 braces;
	int			 braceline;	/* of the outer '{' */
	int			 origin_set;
	struct pfile		*retryfile;	/* last queue retry-* line */
	int			 retryline;
	/* TLS: options of the listen line being read, pki references */
	struct listen_opts	 lopt;
	struct pkiref		*pkirefs;
	int			 checkfiles;	/* parsing a file: cert, key exist */
	/* the lookahead and the token before it, for syntax errors */
	int			 tok, prevtok;
	int			 tokword, prevword;	/* unquoted, not keyword */
	int			 tokfirst, prevfirst;	/* first on its line */
	char			 toktext[PARSE_TOKTEXT];
	char			 prevtext[PARSE_TOKTEXT];
} ps;

int	 yylex(void);
void	 yyerror(const char *);
int	 yyparse(void);

static void	 perr(struct pfile *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	*p_alloc(size_t);
static char	*p_strdup(const char *);
static void	 include_file(YYSTYPE *, const char *);
static void	 macro_set(YYSTYPE *, const char *, const char *);
static void	 set_host(YYSTYPE *, char *, const char *, const char *);
static void	 set_name(YYSTYPE *, char *, const char *, const char *);
static void	 set_path(YYSTYPE *, char *, size_t, const char *,
		    const char *);
static void	 set_control(YYSTYPE *, const char *);
static void	 set_size(YYSTYPE *, uint64_t *, const char *, const char *,
		    int);
static void	 set_recipients(YYSTYPE *, const char *);
static void	 set_smtp_count(YYSTYPE *, uint32_t *, const char *,
		    uint64_t, const char *);
static void	 set_smtp_timeout(YYSTYPE *, const char *);
static void	 set_smtp_line(YYSTYPE *, const char *);
static void	 set_smtp_data_timeout(YYSTYPE *, const char *);
static void	 set_retry(YYSTYPE *, uint32_t *, const char *, const char *);
static void	 set_delay_warning(YYSTYPE *, const char *);
static int	 parse_port(YYSTYPE *, const char *);
static void	 table_begin(YYSTYPE *, const char *);
static void	 table_source(YYSTYPE *, const char *);
static void	 table_value(YYSTYPE *, const char *);
static void	 listen_add(YYSTYPE *, const char *, int);
static void	 listen_tls(YYSTYPE *, struct listen_conf *);
static void	 check_pki_refs(void);
static void	 listen_auth(void);
static void	 listen_opt_auth(YYSTYPE *, YYSTYPE *);
static void	 rule_begin(YYSTYPE *, enum rule_kind, YYSTYPE *);
static int	 rule_opt(YYSTYPE *, int, const char *);
static void	 rule_recipient(YYSTYPE *);
static void	 rule_aliases(YYSTYPE *);
static void	 rule_via_table(YYSTYPE *);
static void	 rule_via(YYSTYPE *);
static void	 set_mta(YYSTYPE *, const char *, const char *);
static void	 set_mta3(YYSTYPE *, const char *, const char *,
		    const char *);
static void	 pki_add(YYSTYPE *, const char *, const char *, const char *);
static void	 listen_opt_tls(YYSTYPE *, enum listen_tls);
static void	 listen_opt_pki(YYSTYPE *, const char *);
static void	 listen_opt_require(YYSTYPE *);
%}

%token	DELAYWARNING
%token	ALIASES BARELF CHROOTDIR CONTROL FOR FROM GROUP HOSTNAME INCLUDE LIFETIME
%token	LISTEN MAXERRORS MAXMSGSIZE MAXRCPT MAXSESSIONS MAXSESSIONSCLIENT MINFREE NO
%token	NORMALIZE ON ORIGIN PORT QUEUE QUEUEUSER RECIPIENTS REJECT RELAY RETRYMAX
%token	RETRYMIN SHOWTABLENAME SMTP SPOOL TABLE TIMEOUT USER VIA YES
%token	MTA RESOLVER
%token	CERT KEY PKI REQUIRETLS SMTPS TLS
%token	MAXLINELEN DATATIMEOUT MAXHOPS PROCESSES
%token	AUTH AUTHENTICATED MAXAUTHFAILURES
%token	ERROR STRING

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar INCLUDE string '\n' {
			include_file(&$2, $3.v.string);
		}
		| grammar string '=' string '\n' {
			macro_set(&$2, $2.v.string, $4.v.string);
		}
		| grammar main '\n'
		| grammar error '\n'		{ yyerrok; }
		;

main		: HOSTNAME string {
			set_host(&$1, ps.conf->hostname, $2.v.string,
			    "hostname");
		}
		| ORIGIN string {
			set_host(&$1, ps.conf->origin, $2.v.string, "origin");
			ps.origin_set = 1;
		}
		| SPOOL string {
			set_path(&$1, ps.conf->spool, sizeof(ps.conf->spool),
			    $2.v.string, "spool");
		}
		| CONTROL string controlgroup	{ set_control(&$1, $2.v.string); }
		| CHROOTDIR string {
			set_path(&$1, ps.conf->empty_dir,
			    sizeof(ps.conf->empty_dir), $2.v.string,
			    "chroot-dir");
		}
		| USER string {
			set_name(&$1, ps.conf->user, $2.v.string, "user");
		}
		| QUEUEUSER string {
			set_name(&$1, ps.conf->queue_user, $2.v.string,
			    "queue-user");
		}
		| MAXMSGSIZE string {
			set_size(&$1, &ps.conf->max_message_size, $2.v.string,
			    "max-message-size", 0);
		}
		| QUEUE MINFREE string {
			set_size(&$1, &ps.conf->queue_min_free, $3.v.string,
			    "queue min-free", 1);
		}
		| MAXRCPT string		{ set_recipients(&$1, $2.v.string); }
		| QUEUE RETRYMIN string {
			set_retry(&$1, &ps.conf->retry_min, $3.v.string,
			    "retry-min");
		}
		| QUEUE RETRYMAX string {
			set_retry(&$1, &ps.conf->retry_max, $3.v.string,
			    "retry-max");
		}
		| QUEUE LIFETIME string {
			set_retry(&$1, &ps.conf->queue_lifetime, $3.v.string,
			    "lifetime");
		}
		| QUEUE DELAYWARNING string {
			set_delay_warning(&$1, $3.v.string);
		}
		| SHOWTABLENAME YES		{ ps.conf->show_table_name = 1; }
		| SHOWTABLENAME NO		{ ps.conf->show_table_name = 0; }
		| SHOWTABLENAME STRING {
			perr($1.file, $1.lineno, "show-table-name: \"%s\": "
			    "expected yes or no", $2.v.string);
		}
		| SMTP BARELF REJECT {
			ps.conf->smtp_bare_lf = CONF_BARE_LF_REJECT;
		}
		| SMTP BARELF NORMALIZE {
			ps.conf->smtp_bare_lf = CONF_BARE_LF_NORMALIZE;
		}
		| SMTP BARELF STRING {
			perr($1.file, $1.lineno, "smtp bare-lf: \"%s\": "
			    "expected reject or normalize", $3.v.string);
		}
		| SMTP MAXSESSIONS string {
			set_smtp_count(&$1, &ps.conf->smtp_max_sessions,
			    $3.v.string, CONF_SMTP_SESSIONS_MAX,
			    "max-sessions");
		}
		| SMTP MAXSESSIONSCLIENT string {
			set_smtp_count(&$1,
			    &ps.conf->smtp_max_sessions_per_client,
			    $3.v.string, CONF_SMTP_SESSIONS_MAX,
			    "max-sessions-per-client");
		}
		| SMTP TIMEOUT string	{ set_smtp_timeout(&$1, $3.v.string); }
		| SMTP MAXERRORS string {
			set_smtp_count(&$1, &ps.conf->smtp_max_errors,
			    $3.v.string, UINT32_MAX, "max-errors");
		}
		| SMTP MAXLINELEN string { set_smtp_line(&$1, $3.v.string); }
		| SMTP DATATIMEOUT string {
			set_smtp_data_timeout(&$1, $3.v.string);
		}
		| SMTP MAXHOPS string {
			set_smtp_count(&$1, &ps.conf->smtp_max_hops,
			    $3.v.string, CONF_SMTP_HOPS_MAX, "max-hops");
		}
		| SMTP PROCESSES string {
			set_smtp_count(&$1, &ps.conf->smtp_processes,
			    $3.v.string, CONF_SMTP_PROCS_MAX, "processes");
		}
		| SMTP MAXAUTHFAILURES string {
			set_smtp_count(&$1, &ps.conf->smtp_max_auth_failures,
			    $3.v.string, CONF_SMTP_AUTH_FAILURES_MAX,
			    "max-auth-failures");
		}
		| tablehead tablesrc
		| LISTEN ON string portopt listenopts {
			listen_add(&$1, $3.v.string, (int)$4.v.number);
			listen_auth();
		}
		| PKI string CERT string KEY string {
			pki_add(&$1, $2.v.string, $4.v.string, $6.v.string);
		}
		| relayhead ruleopts
		| RESOLVER string {
			set_path(&$1, ps.conf->resolver,
			    sizeof(ps.conf->resolver), $2.v.string, "resolver");
		}
		| MTA string string	{ set_mta(&$1, $2.v.string, $3.v.string); }
		| MTA string string string {
			set_mta3(&$1, $2.v.string, $3.v.string, $4.v.string);
		}
		;

controlgroup	: /* empty */		{ ps.conf->control_group[0] = '\0'; }
		| GROUP string {
			set_name(&$1, ps.conf->control_group, $2.v.string,
			    "group");
		}
		;

portopt		: /* empty */		{ $$.v.number = 25; }
		| PORT string		{ $$.v.number = parse_port(&$1, $2.v.string); }
		;

listenopts	: /* empty */ {
			memset(&ps.lopt, 0, sizeof(ps.lopt));
		}
		| listenopts listenopt
		;

listenopt	: TLS			{ listen_opt_tls(&$1, LISTEN_STARTTLS); }
		| SMTPS			{ listen_opt_tls(&$1, LISTEN_SMTPS); }
		| PKI string		{ listen_opt_pki(&$1, $2.v.string); }
		| REQUIRETLS		{ listen_opt_require(&$1); }
		| AUTH tableref		{ listen_opt_auth(&$1, &$2); }
		;

tablehead	: TABLE string		{ table_begin(&$1, $2.v.string); }
		;

tablesrc	: string		{ table_source(&$1, $1.v.string); }
		| '{' tablevals '}'
		;

tablevals	: /* empty */
		| tablelist
		| tablelist ','
		;

tablelist	: string		{ table_value(&$1, $1.v.string); }
		| tablelist ',' string	{ table_value(&$3, $3.v.string); }
		;

relayhead	: RELAY FOR tableref	{ rule_begin(&$1, RULE_RELAY_FOR, &$3); }
		| RELAY FROM tableref	{ rule_begin(&$1, RULE_RELAY_FROM, &$3); }
		| RELAY FROM AUTHENTICATED {
			rule_begin(&$1, RULE_RELAY_AUTH, NULL);
		}
		;

tableref	: '<' string '>'	{ $$ = $2; }
		;

ruleopts	: /* empty */
		| ruleopts ruleopt
		;

ruleopt		: recipientskw reflist
		| ALIASES tableref {
			if (rule_opt(&$1, OPT_ALIASES, "aliases"))
				rule_aliases(&$2);
		}
		| VIA tableref {
			if (rule_opt(&$1, OPT_VIA, "via"))
				rule_via_table(&$2);
		}
		| VIA string {
			if (rule_opt(&$1, OPT_VIA, "via"))
				rule_via(&$2);
		}
		;

recipientskw	: RECIPIENTS {
			rule_opt(&$1, OPT_RECIPIENTS, "recipients");
		}
		;

reflist		: tableref		{ rule_recipient(&$1); }
		| reflist tableref	{ rule_recipient(&$2); }
		;

/* Keywords are plain words where a value is expected ("table aliases"). */
string		: STRING
		| ALIASES
		| AUTH
		| AUTHENTICATED
		| BARELF
		| CERT
		| CHROOTDIR
		| CONTROL
		| FOR
		| FROM
		| GROUP
		| HOSTNAME
		| INCLUDE
		| KEY
		| LIFETIME
		| DELAYWARNING
		| LISTEN
		| MAXAUTHFAILURES
		| MAXERRORS
		| MAXMSGSIZE
		| MAXRCPT
		| MAXSESSIONS
		| MAXSESSIONSCLIENT
		| MINFREE
		| NO
		| NORMALIZE
		| ON
		| ORIGIN
		| PKI
		| PORT
		| QUEUE
		| QUEUEUSER
		| RECIPIENTS
		| REJECT
		| RELAY
		| REQUIRETLS
		| RETRYMAX
		| RETRYMIN
		| SHOWTABLENAME
		| SMTP
		| SMTPS
		| SPOOL
		| TABLE
		| TIMEOUT
		| TLS
		| USER
		| VIA
		| YES
		| MAXLINELEN
		| DATATIMEOUT
		| MAXHOPS
		| PROCESSES
		| MTA
		| RESOLVER
		;

%%

/*
 * Errors and memory.
 */

/* Errors go to stderr, or to syslog once a daemon has detached. */
static void __attribute__((format(printf, 1, 2)))
report(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_to_stderr())
		fprintf(stderr, "%s\n", line);
	else
		log_warnx("%s", line);
}

static void
perr(struct pfile *f, int lineno, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	if (ps.giveup)
		return;
	if (++ps.errors > PARSE_ERRORS_MAX) {
		report("%s:%d: too many errors, giving up",
		    f != NULL ? f->name : "?", lineno);
		ps.giveup = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report("%s:%d: %s", f != NULL ? f->name : "?", lineno, msg);
}

static void *
p_alloc(size_t len)
{
	struct chunk	*c;

	if (len > SIZE_MAX - sizeof(*c))
		return NULL;
	if ((c = malloc(sizeof(*c) + len)) == NULL)
		return NULL;
	c->next = ps.chunks;
	ps.chunks = c;
	return c->data;
}

static char *
p_strdup(const char *s)
{
	size_t	 len = strlen(s) + 1;
	char	*p;

	if ((p = p_alloc(len)) != NULL)
		memcpy(p, s, len);
	return p;
}

/* Copy a token text for messages, cut short with "..." if long. */
static void
toktext(char *dst, const char *src)
{
	if (strlcpy(dst, src, PARSE_TOKTEXT) >= PARSE_TOKTEXT)
		memcpy(dst + PARSE_TOKTEXT - 4, "...", 4);
}

/*
 * Syntax errors: the lexer has already reported ERROR tokens; otherwise
 * name what was wrong from the lookahead and the token before it.
 */
void
yyerror(const char *msg)
{
	struct pfile	*f = yylval.file;
	int		 line = yylval.lineno;

	if (yychar == ERROR)
		return;
	if (ps.prevword && ps.prevfirst && yychar != '=')
		perr(f, line, "unknown keyword \"%s\"", ps.prevtext);
	else if (yychar == '\n')
		perr(f, line, "missing argument after \"%s\"", ps.prevtext);
	else if (yychar <= 0)
		perr(f, line, "unexpected end of file");
	else if (ps.tokword && ps.braces > 0)
		perr(f, line, "unexpected \"%s\" (missing \",\"?)",
		    ps.toktext);
	else if (ps.tokword && (ps.prevtok == '>' || ps.prevtok == QUEUE ||
	    ps.prevtok == STRING))
		perr(f, line, "unknown keyword \"%s\"", ps.toktext);
	else if (strcmp(msg, "syntax error") == 0)
		perr(f, line, "unexpected \"%s\"", ps.toktext);
	else
		perr(f, line, "%s", msg);
}

/*
 * Files.
 */

/* Clean an absolute path: no "//", "." or ".." components. */
static int
path_clean(const char *in, char *out, size_t outlen)
{
	size_t	 n = 0, len;
	char	*slash;

	while (*in != '\0') {
		while (*in == '/')
			in++;
		len = strcspn(in, "/");
		if (len == 0 || (len == 1 && in[0] == '.'))
			;
		else if (len == 2 && in[0] == '.' && in[1] == '.') {
			out[n] = '\0';
			slash = strrchr(out, '/');
			n = slash != NULL ? (size_t)(slash - out) : 0;
		} else {
			if (n + 1 + len + 1 > outlen)
				return -1;
			out[n++] = '/';
			memcpy(out + n, in, len);
			n += len;
		}
		in += len;
	}
	if (n == 0)
		out[n++] = '/';
	if (n >= outlen)
		return -1;
	out[n] = '\0';
	return 0;
}

static const char *
file_dir(struct pfile *f, int lineno)
{
	char	 cwd[PATH_MAX];

	if (f->dir != NULL)
		return f->dir;
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		perr(f, lineno, "getcwd: %s", strerror(errno));
		return NULL;
	}
	if ((f->dir = p_strdup(cwd)) == NULL)
		perr(f, lineno, "out of memory");
	return f->dir;
}

/* Make `in' absolute relative to the directory of file f. */
static int
path_abs(struct pfile *f, int lineno, const char *in, char *out,
    size_t outlen)
{
	char		 tmp[PATH_MAX];
	const char	*dir;

	if (in[0] == '\0') {
		perr(f, lineno, "empty path");
		return -1;
	}
	if (in[0] == '/') {
		if (strlcpy(tmp, in, sizeof(tmp)) >= sizeof(tmp))
			goto toolong;
	} else {
		if ((dir = file_dir(f, lineno)) == NULL)
			return -1;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", dir, in) >=
		    sizeof(tmp))
			goto toolong;
	}
	if (path_clean(tmp, out, outlen) == -1)
		goto toolong;
	return 0;
toolong:
	perr(f, lineno, "path too long: \"%.40s...\"", in);
	return -1;
}

static struct pfile *
pfile_new(const char *name)
{
	struct pfile	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if ((f->name = p_strdup(name)) == NULL) {
		free(f);
		return NULL;
	}
	f->next = ps.files;
	ps.files = f;
	f->lineno = 1;
	f->atnl = 1;
	return f;
}

/* Remember the absolute directory of the file at `path'. */
static int
pfile_setdir(struct pfile *f, const char *path)
{
	char	 cwd[PATH_MAX], tmp[PATH_MAX], abs[PATH_MAX], *slash;

	if (path[0] == '/') {
		if (strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
			goto toolong;
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -1;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path) >=
		    sizeof(tmp))
			goto toolong;
	}
	if (path_clean(tmp, abs, sizeof(abs)) == -1)
		goto toolong;
	slash = strrchr(abs, '/');
	slash[slash == abs ? 1 : 0] = '\0';
	if ((f->dir = p_strdup(abs)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
toolong:
	errno = ENAMETOOLONG;
	return -1;
}

/* Open `path', included from line `lineno' of `parent' (or top level). */
static struct pfile *
pfile_open(const char *path, struct pfile *parent, int lineno)
{
	struct pfile	*f, *p;
	struct stat	 st;
	FILE		*fp;
	int		 saved;

	if ((fp = fopen(path, "re")) == NULL || fstat(fileno(fp), &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (parent != NULL && !S_ISREG(st.st_mode)) {	/* no device */
		fclose(fp);
		perr(parent, lineno, "include \"%s\": not a regular file",
		    path);
		return NULL;
	}
	for (p = parent; p != NULL; p = p->parent) {
		if (p->isfile && p->dev == st.st_dev && p->ino == st.st_ino) {
			fclose(fp);
			perr(parent, lineno, "include loop: \"%s\"", path);
			return NULL;
		}
	}
	if ((f = pfile_new(path)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	f->fp = fp;
	f->isfile = 1;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->parent = parent;
	f->depth = parent != NULL ? parent->depth + 1 : 0;
	fp = NULL;		/* closed with f */
	if (pfile_setdir(f, path) == -1)
		goto fail;
	return f;
fail:
	saved = errno;
	if (fp != NULL)
		fclose(fp);
	if (parent != NULL)
		perr(parent, lineno, "include \"%s\": %s", path,
		    strerror(saved));
	else {
		ps.errors++;
		report("%s: %s", path, strerror(saved));
	}
	return NULL;
}

static void
include_file(YYSTYPE *kw, const char *path)
{
	char		 abs[PATH_MAX];
	struct pfile	*f;

	if (path_abs(kw->file, kw->lineno, path, abs, sizeof(abs)) == -1)
		return;
	if (kw->file->depth >= PARSE_INCLUDE_MAX) {
		perr(kw->file, kw->lineno,
		    "include \"%s\": nested too deeply (max %d)", path,
		    PARSE_INCLUDE_MAX);
		return;
	}
	if ((f = pfile_open(abs, kw->file, kw->lineno)) != NULL)
		ps.file = f;
}

/*
 * Lexer.
 */

static const struct {
	const char	*word;
	int		 token;
} keywords[] = {
	{ "aliases",		ALIASES },
	{ "auth",		AUTH },
	{ "authenticated",	AUTHENTICATED },
	{ "bare-lf",		BARELF },
	{ "cert",		CERT },
	{ "chroot-dir",		CHROOTDIR },
	{ "control",		CONTROL },
	{ "data-timeout",	DATATIMEOUT },
	{ "delay-warning",	DELAYWARNING },
	{ "for",		FOR },
	{ "from",		FROM },
	{ "group",		GROUP },
	{ "hostname",		HOSTNAME },
	{ "include",		INCLUDE },
	{ "key",		KEY },
	{ "lifetime",		LIFETIME },
	{ "listen",		LISTEN },
	{ "max-auth-failures",	MAXAUTHFAILURES },
	{ "max-errors",		MAXERRORS },
	{ "max-hops",		MAXHOPS },
	{ "max-line-length",	MAXLINELEN },
	{ "max-message-size",	MAXMSGSIZE },
	{ "max-recipients",	MAXRCPT },
	{ "max-sessions",	MAXSESSIONS },
	{ "max-sessions-per-client", MAXSESSIONSCLIENT },
	{ "min-free",		MINFREE },
	{ "no",			NO },
	{ "normalize",		NORMALIZE },
	{ "on",			ON },
	{ "origin",		ORIGIN },
	{ "pki",		PKI },
	{ "port",		PORT },
	{ "processes",		PROCESSES },
	{ "queue",		QUEUE },
	{ "queue-user",		QUEUEUSER },
	{ "recipients",		RECIPIENTS },
	{ "reject",		REJECT },
	{ "relay",		RELAY },
	{ "require-tls",	REQUIRETLS },
	{ "retry-max",		RETRYMAX },
	{ "retry-min",		RETRYMIN },
	{ "show-table-name",	SHOWTABLENAME },
	{ "smtp",		SMTP },
	{ "smtps",		SMTPS },
	{ "spool",		SPOOL },
	{ "table",		TABLE },
	{ "timeout",		TIMEOUT },
	{ "tls",		TLS },
	{ "user",		USER },
	{ "via",		VIA },
	{ "yes",		YES },
	{ "mta",		MTA },
	{ "resolver",		RESOLVER }
};

/* The keyword's token, its text in *word; 0 if s is no keyword. */
static int
keyword(const char *s, char **word)
{
	size_t	 i;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		if (strcmp(s, keywords[i].word) == 0) {
			*word = (char *)keywords[i].word;
			return keywords[i].token;
		}
	}
	return 0;
}

static int
lgetc(void)
{
	struct pfile	*f = ps.file;

	if (f->hasunget) {
		f->hasunget = 0;
		return f->unget;
	}
	if (f->fp != NULL)
		return getc(f->fp);
	if (f->pos >= f->len)
		return EOF;
	return (unsigned char)f->buf[f->pos++];
}

static void
lungetc(int c)
{
	ps.file->unget = c;
	ps.file->hasunget = 1;
}

static int
is_wordchar(int c)
{
	return c > ' ' && c != 0x7f && strchr("{}<>,=#\"", c) == NULL;
}

static int
is_badchar(int c)
{
	return (c < ' ' && c != '\t') || c == 0x7f;
}

struct tokbuf {
	char	*buf;
	size_t	 size;
	size_t	 len;
	int	 bad;		/* an error was reported */
	int	 expanded;	/* a macro was expanded */
};

static void
tb_add(struct tokbuf *tb, const char *s, size_t n)
{
	if (tb->bad)
		return;
	if (n >= tb->size - tb->len) {
		perr(ps.file, ps.file->lineno, "word or string too long "
		    "(max %zu)", tb->size - 1);
		tb->bad = 1;
		return;
	}
	memcpy(tb->buf + tb->len, s, n);
	tb->len += n;
	tb->buf[tb->len] = '\0';
}

static void
tb_addc(struct tokbuf *tb, int c)
{
	char	 ch = c;

	tb_add(tb, &ch, 1);
}

/* After a '$': append the value of the macro named next. */
static void
tb_macro(struct tokbuf *tb)
{
	struct macro	*m;
	char		 name[CONF_NAME_MAX];
	size_t		 n = 0;
	int		 c, toolong = 0;

	while ((c = lgetc()) != EOF && (isalnum(c) || c == '_')) {
		if (n + 1 < sizeof(name))
			name[n++] = c;
		else
			toolong = 1;
	}
	lungetc(c);
	name[n] = '\0';
	if (tb->bad)
		return;
	if (n == 0 || toolong) {
		perr(ps.file, ps.file->lineno, "invalid macro name after "
		    "\"$\" (use \"\\$\" in a quoted string for a $)");
		tb->bad = 1;
		return;
	}
	for (m = ps.macros; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			break;
	if (m == NULL) {
		perr(ps.file, ps.file->lineno, "undefined macro $%s", name);
		tb->bad = 1;
		return;
	}
	tb->expanded = 1;
	tb_add(tb, m->value, strlen(m->value));
}

static void
lex_word(int c, struct tokbuf *tb)
{
	for (; is_wordchar(c); c = lgetc()) {
		if (c == '$')
			tb_macro(tb);
		else
			tb_addc(tb, c);
	}
	lungetc(c);
}

static int
lex_string(const char *s)
{
	if ((yylval.v.string = p_strdup(s)) == NULL) {
		perr(ps.file, ps.file->lineno, "out of memory");
		return ERROR;
	}
	return STRING;
}

static int
lex_quoted(struct tokbuf *tb)
{
	struct pfile	*f = ps.file;
	int		 c;

	while ((c = lgetc()) != '"') {
		if (c == EOF || c == '\n') {
			lungetc(c);
			if (!tb->bad)
				perr(f, f->lineno, "unterminated quoted string");
			return ERROR;
		}
		if (c == '$') {
			tb_macro(tb);
			continue;
		}
		if (c == '\\') {
			c = lgetc();
			if (c != '"' && c != '\\' && c != '$') {
				lungetc(c);
				if (!tb->bad)
					perr(f, f->lineno, "invalid escape in "
					    "quoted string (only \\\", \\\\ "
					    "and \\$)");
				tb->bad = 1;
				continue;
			}
		} else if (is_badchar(c)) {
			if (!tb->bad)
				perr(f, f->lineno, "invalid character 0x%02x "
				    "in quoted string", c);
			tb->bad = 1;
			continue;
		}
		tb_addc(tb, c);
	}
	return tb->bad ? ERROR : lex_string(tb->buf);
}

/* End of the current file: finish its last line, then go back up. */
static int
lex_eof(void)
{
	struct pfile	*f = ps.file;

	if (f->fp != NULL && ferror(f->fp)) {
		perr(f, f->lineno, "read error");
		clearerr(f->fp);
	}
	if (ps.braces > 0) {
		ps.braces = 0;
		perr(f, ps.braceline, "missing \"}\" before end of file");
		f->atnl = 0;
		return ERROR;
	}
	if (!f->atnl) {
		f->atnl = 1;
		return '\n';
	}
	if (f->parent == NULL)
		return 0;
	if (f->fp != NULL) {
		fclose(f->fp);
		f->fp = NULL;
	}
	ps.file = f->parent;
	return -1;
}

/* Skip blanks, comments and newlines inside braces; note the position. */
static int
lex_skip(char *buf, size_t buflen)
{
	struct pfile	*f;
	int		 c;

	for (;;) {
		f = ps.file;
		while ((c = lgetc()) == ' ' || c == '\t' || c == '\r')
			;
		if (c == '#')
			while ((c = lgetc()) != '\n' && c != EOF)
				;
		yylval.file = f;
		yylval.lineno = f->lineno;
		strlcpy(buf, "end of line", buflen);
		if (c != '\n')
			return c;
		f->lineno++;
		if (ps.braces == 0) {
			f->atnl = 1;
			return c;
		}
	}
}

static int
lex_token(char *buf, size_t buflen)
{
	struct tokbuf	 tb;
	struct pfile	*f;
	int		 c, t;

	if (ps.giveup)
		return 0;
	while ((c = lex_skip(buf, buflen)) == EOF)
		if ((t = lex_eof()) != -1)
			return t;
	if (c == '\n')
		return c;
	f = ps.file;
	f->atnl = 0;
	if (is_badchar(c)) {
		perr(f, f->lineno, "invalid character 0x%02x", c);
		return ERROR;
	}
	buf[0] = c;
	buf[1] = '\0';
	if (c == '{' && ps.braces++ == 0)
		ps.braceline = f->lineno;
	if (c == '}' && ps.braces > 0)
		ps.braces--;
	if (strchr("{}<>,=", c) != NULL)
		return c;
	memset(&tb, 0, sizeof(tb));
	tb.buf = buf;
	tb.size = buflen;
	buf[0] = '\0';
	if (c == '"')
		return lex_quoted(&tb);
	lex_word(c, &tb);
	if (tb.bad)
		return ERROR;
	if (!tb.expanded && (t = keyword(buf, &yylval.v.string)) != 0)
		return t;
	ps.tokword = !tb.expanded;
	return lex_string(buf);
}

int
yylex(void)
{
	char	 buf[PARSE_TOKEN_MAX];
	int	 first;

	first = ps.tok == 0 || ps.tok == '\n';
	ps.prevtok = ps.tok;
	ps.prevword = ps.tokword;
	ps.prevfirst = ps.tokfirst;
	memcpy(ps.prevtext, ps.toktext, sizeof(ps.prevtext));

	ps.tokword = 0;
	ps.tokfirst = first;
	ps.tok = lex_token(buf, sizeof(buf));
	toktext(ps.toktext, buf);
	return ps.tok;
}

/*
 * Values.
 */

static int
parse_number(const char *s, uint64_t max, uint64_t *res, const char **end)
{
	uint64_t	 n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (max - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*res = n;
	*end = s;
	return 0;
}

/* Number with an optional suffix from `units', each worth `mult'. */
static int
parse_unit(const char *s, uint64_t max, const char *units,
    const uint64_t *mult, uint64_t *res)
{
	const char	*end, *u;
	uint64_t	 n, m = 1;

	if (parse_number(s, max, &n, &end) == -1)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0' || (u = strchr(units, *end)) == NULL)
			return -1;
		m = mult[u - units];
	}
	if (n > max / m)
		return -1;
	*res = n * m;
	return 0;
}

/* A size in bytes, or with K, M, G; 0 only where zero_ok (it disables). */
static void
set_size(YYSTYPE *kw, uint64_t *dst, const char *s, const char *what,
    int zero_ok)
{
	static const uint64_t	 mult[] = { 1ULL << 10, 1ULL << 20,
	    1ULL << 30, 1ULL << 10, 1ULL << 20, 1ULL << 30 };
	uint64_t		 n;

	if (parse_unit(s, UINT64_MAX, "KMGkmg", mult, &n) == -1)
		perr(kw->file, kw->lineno, "%s: invalid size \"%s\" (bytes, "
		    "or a number with K, M or G)", what, s);
	else if (n == 0 && !zero_ok)
		perr(kw->file, kw->lineno, "%s must not be 0", what);
	else
		*dst = n;
}

static void
set_recipients(YYSTYPE *kw, const char *s)
{
	uint64_t	 n;
	const char	*end;

	if (parse_number(s, UINT32_MAX, &n, &end) == -1 || *end != '\0')
		perr(kw->file, kw->lineno, "max-recipients: invalid number "
		    "\"%s\"", s);
	else if (n == 0)
		perr(kw->file, kw->lineno, "max-recipients must be at least 1");
	else
		ps.conf->max_recipients = n;
}

static void
set_smtp_count(YYSTYPE *kw, uint32_t *dst, const char *s, uint64_t max,
    const char *what)
{
	uint64_t	 n;
	const char	*end;

	if (parse_number(s, max, &n, &end) == -1 || *end != '\0')
		perr(kw->file, kw->lineno, "smtp %s: invalid number \"%s\" "
		    "(1-%llu)", what, s, (unsigned long long)max);
	else if (n == 0)
		perr(kw->file, kw->lineno, "smtp %s must be at least 1", what);
	else
		*dst = n;
}

static void
set_smtp_timeout(YYSTYPE *kw, const char *s)
{
	static const uint64_t	 mult[] = { 1, 60, 3600, 86400 };
	uint64_t		 n;

	if (parse_unit(s, CONF_SMTP_TIMEOUT_MAX, "smhd", mult, &n) == -1)
		perr(kw->file, kw->lineno, "smtp timeout: invalid duration "
		    "\"%s\" (seconds, or a number with s, m, h or d; at most "
		    "1d)", s);
	else if (n == 0)
		perr(kw->file, kw->lineno, "smtp timeout must not be 0");
	else
		ps.conf->smtp_timeout = n;
}

static void
set_smtp_line(YYSTYPE *kw, const char *s)
{
	uint64_t	 n;
	const char	*end;

	if (parse_number(s, CONF_SMTP_LINE_MAX, &n, &end) == -1 ||
	    *end != '\0' || n < CONF_SMTP_LINE_MIN)
		perr(kw->file, kw->lineno, "smtp max-line-length: invalid "
		    "number \"%s\" (%d-%d)", s, CONF_SMTP_LINE_MIN,
		    CONF_SMTP_LINE_MAX);
	else
		ps.conf->smtp_max_line = n;
}

static void
set_smtp_data_timeout(YYSTYPE *kw, const char *s)
{
	static const uint64_t	 mult[] = { 1, 60, 3600, 86400 };
	uint64_t		 n;

	if (parse_unit(s, CONF_SMTP_TIMEOUT_MAX, "smhd", mult, &n) == -1)
		perr(kw->file, kw->lineno, "smtp data-timeout: invalid "
		    "duration \"%s\" (seconds, or a number with s, m, h or d; "
		    "at most 1d)", s);
	else if (n == 0)
		perr(kw->file, kw->lineno, "smtp data-timeout must not be 0");
	else
		ps.conf->smtp_data_timeout = n;
}

static void
set_retry(YYSTYPE *kw, uint32_t *dst, const char *s, const char *what)
{
	static const uint64_t	 mult[] = { 1, 60, 3600, 86400 };
	uint64_t		 n;

	if (parse_unit(s, UINT32_MAX, "smhd", mult, &n) == -1)
		perr(kw->file, kw->lineno, "queue %s: invalid duration \"%s\" "
		    "(seconds, or a number with s, m, h or d)", what, s);
	else if (n == 0)
		perr(kw->file, kw->lineno, "queue %s must not be 0", what);
	else {
		*dst = n;
		if (dst != &ps.conf->queue_lifetime) {
			ps.retryfile = kw->file;
			ps.retryline = kw->lineno;
		}
	}
}

/* mta max-sessions | max-sessions-per-destination |
 * max-messages-per-session NUMBER | ca-file PATH */
static void
set_mta(YYSTYPE *kw, const char *name, const char *s)
{
	uint32_t	*dst;
	uint64_t	 n;
	const char	*end;

	if (strcmp(name, "ca-file") == 0) {
		set_path(kw, ps.conf->mta_ca_file,
		    sizeof(ps.conf->mta_ca_file), s, "mta ca-file");
		return;
	}
	if (strcmp(name, "max-sessions") == 0)
		dst = &ps.conf->mta_max_sessions;
	else if (strcmp(name, "max-sessions-per-destination") == 0)
		dst = &ps.conf->mta_max_sessions_dest;
	else if (strcmp(name, "max-messages-per-session") == 0)
		dst = &ps.conf->mta_max_messages;
	else {
		perr(kw->file, kw->lineno, "mta: unknown setting \"%s\"",
		    name);
		return;
	}
	if (parse_number(s, CONF_MTA_COUNT_MAX, &n, &end) == -1 ||
	    *end != '\0' || n == 0)
		perr(kw->file, kw->lineno, "mta %s: invalid number \"%s\" "
		    "(1-%u)", name, s, CONF_MTA_COUNT_MAX);
	else
		*dst = n;
}

/* mta tls HOST|default POLICY */
static void
set_mta_tls(YYSTYPE *kw, const char *host, const char *s)
{
	struct conf_mta_tls	*t;
	const char		*name;
	size_t			 i;
	int			 p;

	for (p = 0; (name = conf_tls_policy_name(p)) != NULL; p++)
		if (strcmp(name, s) == 0)
			break;
	if (name == NULL) {
		perr(kw->file, kw->lineno, "mta tls %s: unknown policy \"%s\" "
		    "(none, may, encrypt or verify)", host, s);
		return;
	}
	if (strcmp(host, "default") == 0) {
		ps.conf->mta_tls_default = p;
		return;
	}
	for (i = 0; host[i] != '\0'; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '.' &&
		    host[i] != '-' && host[i] != '_' && host[i] != ':')
			break;
	if (i == 0 || host[i] != '\0' || i >= sizeof(t->host)) {
		perr(kw->file, kw->lineno, "mta tls: \"%s\" is not a host "
		    "name or address", host);
		return;
	}
	for (i = 0; i < ps.conf->mta_ntls; i++)
		if (strcasecmp(ps.conf->mta_tls[i].host, host) == 0) {
			perr(kw->file, kw->lineno, "mta tls %s: given twice",
			    host);
			return;
		}
	if (ps.conf->mta_ntls == CONF_MTA_TLS_MAX) {
		perr(kw->file, kw->lineno, "mta tls: more than %d hosts",
		    CONF_MTA_TLS_MAX);
		return;
	}
	t = &ps.conf->mta_tls[ps.conf->mta_ntls++];
	for (i = 0; host[i] != '\0'; i++)
		t->host[i] = (char)tolower((unsigned char)host[i]);
	t->host[i] = '\0';
	t->policy = p;
}

/* mta timeout STAGE DURATION, mta tls HOST POLICY */
static void
set_mta3(YYSTYPE *kw, const char *what, const char *stage, const char *s)
{
	static const uint64_t	 mult[] = { 1, 60, 3600, 86400 };
	const char		*name;
	uint64_t		 n;
	int			 i;

	if (strcmp(what, "tls") == 0) {
		set_mta_tls(kw, stage, s);
		return;
	}
	if (strcmp(what, "timeout") != 0) {
		perr(kw->file, kw->lineno, "mta: unknown setting \"%s\"",
		    what);
		return;
	}
	for (i = 0; (name = conf_mta_timeout_name(i)) != NULL; i++)
		if (strcmp(name, stage) == 0)
			break;
	if (name == NULL)
		perr(kw->file, kw->lineno, "mta timeout: unknown stage \"%s\" "
		    "(connect, greeting, helo, starttls, mail, rcpt, data, "
		    "block, dot, quit or idle)", stage);
	else if (parse_unit(s, CONF_MTA_TIMEOUT_MAX, "smhd", mult, &n) == -1)
		perr(kw->file, kw->lineno, "mta timeout %s: invalid duration "
		    "\"%s\" (seconds, or a number with s, m, h or d; at most "
		    "1d)", stage, s);
	else if (n == 0)
		perr(kw->file, kw->lineno, "mta timeout %s must not be 0",
		    stage);
	else
		ps.conf->mta_timeout[i] = n;
}

/* queue delay-warning off | DURATION (at least 1s) */
static void
set_delay_warning(YYSTYPE *kw, const char *s)
{
	static const uint64_t	 mult[] = { 1, 60, 3600, 86400 };
	uint64_t		 n;

	if (strcmp(s, "off") == 0)
		ps.conf->delay_warning = 0;
	else if (parse_unit(s, UINT32_MAX, "smhd", mult, &n) == -1 || n == 0)
		perr(kw->file, kw->lineno, "queue delay-warning: invalid "
		    "duration \"%s\" (off, or seconds or a number with s, m, "
		    "h or d, not 0)", s);
	else
		ps.conf->delay_warning = n;
}

static int
parse_port(YYSTYPE *kw, const char *s)
{
	uint64_t	 n;
	const char	*end;

	if (parse_number(s, 65535, &n, &end) == -1 || *end != '\0' ||
	    n == 0) {
		perr(kw->file, kw->lineno, "invalid port \"%s\" (1-65535)", s);
		return 0;
	}
	return n;
}

/* Host names: letters, digits, '-', '_' and '.'. */
static void
set_host(YYSTYPE *kw, char *dst, const char *s, const char *what)
{
	const char	*p;

	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_.", *p) == NULL)
			break;
	if (*s == '\0' || *p != '\0' || strlen(s) >= CONF_STR_MAX)
		perr(kw->file, kw->lineno, "%s: invalid host name \"%s\"",
		    what, s);
	else
		strlcpy(dst, s, CONF_STR_MAX);
}

/* User and group names: letters, digits, '-', '_' and '.'. */
static void
set_name(YYSTYPE *kw, char *dst, const char *s, const char *what)
{
	const char	*p;

	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_.", *p) == NULL)
			break;
	if (*s == '\0' || *s == '-' || *p != '\0' ||
	    strlen(s) >= CONF_NAME_MAX)
		perr(kw->file, kw->lineno, "%s: invalid name \"%s\"", what, s);
	else
		strlcpy(dst, s, CONF_NAME_MAX);
}

static void
set_path(YYSTYPE *kw, char *dst, size_t dstlen, const char *s,
    const char *what)
{
	char	 abs[PATH_MAX];

	if (path_abs(kw->file, kw->lineno, s, abs, sizeof(abs)) == 0 &&
	    strlcpy(dst, abs, dstlen) >= dstlen)
		perr(kw->file, kw->lineno, "%s: path too long", what);
}

static void
set_control(YYSTYPE *kw, const char *s)
{
	struct sockaddr_un	 sun;
	char			 abs[PATH_MAX];

	if (path_abs(kw->file, kw->lineno, s, abs, sizeof(abs)) == -1)
		return;
	if (strlen(abs) >= sizeof(sun.sun_path)) {
		perr(kw->file, kw->lineno, "control: socket path too long "
		    "(max %zu)", sizeof(sun.sun_path) - 1);
		return;
	}
	strlcpy(ps.conf->control, abs, sizeof(ps.conf->control));
}

static void
macro_set(YYSTYPE *pos, const char *name, const char *value)
{
	struct macro	*m;
	const char	*p;

	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			break;
	if (*name == '\0' || *p != '\0' || p - name >= CONF_NAME_MAX) {
		perr(pos->file, pos->lineno, "invalid macro name \"%s\"", name);
		return;
	}
	for (m = ps.macros; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			break;
	if (m == NULL) {
		if ((m = p_alloc(sizeof(*m))) == NULL) {
			perr(pos->file, pos->lineno, "out of memory");
			return;
		}
		m->name = (char *)name;
		m->next = ps.macros;
		ps.macros = m;
	}
	m->value = (char *)value;
}

/*
 * Tables.
 */

static int
valid_table_name(const char *s)
{
	const char	*p;

	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_.", *p) == NULL)
			return 0;
	return *s != '\0' && strlen(s) < CONF_NAME_MAX;
}

static struct tabdef *
tabdef_find(const struct table_conf *t)
{
	struct tabdef	*d;

	for (d = ps.tabdefs; d != NULL; d = d->next)
		if (d->table == t)
			return d;
	return NULL;
}

static void
table_begin(YYSTYPE *kw, const char *name)
{
	const struct table_conf	*old;
	struct table_conf	*t;
	struct tabdef		*d;

	ps.table = NULL;
	if (!valid_table_name(name)) {
		perr(kw->file, kw->lineno, "invalid table name \"%s\"", name);
		return;
	}
	if ((old = conf_table(ps.conf, name)) != NULL) {
		d = tabdef_find(old);
		perr(kw->file, kw->lineno, "duplicate table \"%s\" (first "
		    "defined at %s:%d)", name, d->file->name, d->lineno);
		return;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (d = p_alloc(sizeof(*d))) == NULL) {
		free(t);
		perr(kw->file, kw->lineno, "out of memory");
		return;
	}
	strlcpy(t->name, name, sizeof(t->name));
	t->type = TABLE_INLINE;
	TAILQ_INSERT_TAIL(&ps.conf->tables, t, entry);
	d->table = t;
	d->file = kw->file;
	d->lineno = kw->lineno;
	d->checked = 0;
	d->next = ps.tabdefs;
	ps.tabdefs = d;
	ps.table = t;
	ps.tablecap = 0;
	ps.tablefile = kw->file;
	ps.tableline = kw->lineno;
}

static void
table_source(YYSTYPE *pos, const char *src)
{
	static const struct {
		const char	*prefix;
		enum table_type	 type;
	} types[] = {
		{ "file:", TABLE_FILE },
		{ "cdb:", TABLE_CDB },
		{ "ldap:", TABLE_LDAP }
	};
	struct table_conf	*t = ps.table;
	size_t			 i, len;

	if (t == NULL)
		return;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		len = strlen(types[i].prefix);
		if (strncmp(src, types[i].prefix, len) == 0)
			break;
	}
	if (i == sizeof(types) / sizeof(types[0])) {
		perr(pos->file, pos->lineno, "table %s: unknown source \"%s\" "
		    "(expected file:, cdb:, ldap: or { ... })", t->name, src);
		return;
	}
	t->type = types[i].type;
	path_abs(ps.tablefile, ps.tableline, src + len, t->path,
	    sizeof(t->path));
}

static void
table_value(YYSTYPE *pos, const char *value)
{
	struct table_conf	*t = ps.table;
	char			**v;
	size_t			 cap;

	if (t == NULL)
		return;
	if (*value == '\0') {
		perr(pos->file, pos->lineno, "table %s: empty value", t->name);
		return;
	}
	if (t->nvalues == ps.tablecap) {
		cap = ps.tablecap ? ps.tablecap * 2 : 8;
		if ((v = reallocarray(t->values, cap, sizeof(*v))) == NULL)
			goto nomem;
		t->values = v;
		ps.tablecap = cap;
	}
	if ((t->values[t->nvalues] = strdup(value)) == NULL)
		goto nomem;
	t->nvalues++;
	return;
nomem:
	perr(pos->file, pos->lineno, "out of memory");
}

/* Entry of a networks table: IPv4 or IPv6 address, optional /prefix. */
static int
valid_network(const char *s, char *why, size_t whysz)
{
	struct netaddr net;

	return netaddr_parse(s, &net, why, whysz) == 0;
}

static void
check_networks(struct table_conf *t)
{
	struct tabdef	*d = tabdef_find(t);
	size_t		 i;
	char		 why[256];

	if (d == NULL || d->checked || t->type != TABLE_INLINE)
		return;
	d->checked = 1;
	for (i = 0; i < t->nvalues; i++)
		if (!valid_network(t->values[i], why, sizeof(why)))
			perr(d->file, d->lineno, "table %s: %s (used by relay "
			    "from)", t->name, why);
}

/*
 * Listeners and rules.
 */

static void	 table_ref(YYSTYPE *, char *, int);

static void
listen_add(YYSTYPE *kw, const char *addr, int port)
{
	struct listen_conf	*l;
	unsigned char		 buf[sizeof(struct in6_addr)];
	char			 canon[INET6_ADDRSTRLEN];
	int			 af = AF_INET;

	ps.listen = NULL;
	if (inet_pton(af, addr, buf) != 1 &&
	    inet_pton((af = AF_INET6), addr, buf) != 1) {
		perr(kw->file, kw->lineno, "listen on \"%s\": numeric IPv4 or "
		    "IPv6 address expected", addr);
		return;
	}
	if (port == 0)
		return;
	if (inet_ntop(af, buf, canon, sizeof(canon)) == NULL)
		return;
	TAILQ_FOREACH(l, &ps.conf->listeners, entry) {
		if (strcmp(l->addr, canon) == 0 && l->port == port) {
			perr(kw->file, kw->lineno, "duplicate listener %s "
			    "port %d", canon, port);
			return;
		}
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		perr(kw->file, kw->lineno, "out of memory");
		return;
	}
	strlcpy(l->addr, canon, sizeof(l->addr));
	l->port = port;
	TAILQ_INSERT_TAIL(&ps.conf->listeners, l, entry);
	listen_tls(kw, l);
	ps.listen = l;
}

/* `auth <table>' of the listener just added: only with TLS. */
static void
listen_auth(void)
{
	struct listen_conf	*l = ps.listen;
	YYSTYPE			*ref = &ps.lopt.auth;

	ps.listen = NULL;
	if (!ps.lopt.has_auth || l == NULL)
		return;
	if (l->tls == LISTEN_PLAIN) {
		perr(ref->file, ref->lineno, "listen on %s port %u: auth needs "
		    "tls or smtps (AUTH is offered only under TLS)", l->addr,
		    l->port);
		return;
	}
	table_ref(ref, l->auth_table, 0);
}

static void
listen_opt_auth(YYSTYPE *kw, YYSTYPE *ref)
{
	if (ps.lopt.has_auth)
		perr(kw->file, kw->lineno, "listen: auth given twice");
	ps.lopt.has_auth = 1;
	ps.lopt.auth = *ref;
}

/*
 * TLS: pki definitions and the TLS options of listeners.  The parser
 * only checks that the files are there (and only when reading a file:
 * workers parse the parent's text inside their sandbox); the parent
 * loads them and checks that the key matches (smtpd/parent_pki.c).
 */

static void
pki_file(YYSTYPE *kw, const char *name, const char *what, const char *in,
    char *dst)
{
	char	 abs[PATH_MAX];

	if (path_abs(kw->file, kw->lineno, in, abs, sizeof(abs)) == -1)
		return;
	if (strlcpy(dst, abs, PATH_MAX) >= PATH_MAX) {
		perr(kw->file, kw->lineno, "pki %s: %s: path too long", name,
		    what);
		return;
	}
	if (ps.checkfiles && access(abs, R_OK) == -1)
		perr(kw->file, kw->lineno, "pki %s: %s \"%s\": %s", name,
		    what, abs, strerror(errno));
}

static void
pki_add(YYSTYPE *kw, const char *name, const char *cert, const char *key)
{
	struct pki_conf	*k;
	char		 host[CONF_STR_MAX];

	host[0] = '\0';
	set_host(kw, host, name, "pki");
	if (host[0] == '\0')
		return;
	if (conf_pki(ps.conf, host) != NULL) {
		perr(kw->file, kw->lineno, "duplicate pki %s", host);
		return;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		perr(kw->file, kw->lineno, "out of memory");
		return;
	}
	strlcpy(k->name, host, sizeof(k->name));
	snprintf(k->origin, sizeof(k->origin), "%s:%d",
	    kw->file != NULL ? kw->file->name : "?", kw->lineno);
	pki_file(kw, host, "cert", cert, k->cert);
	pki_file(kw, host, "key", key, k->key);
	TAILQ_INSERT_TAIL(&ps.conf->pkis, k, entry);
}

static void
listen_opt_tls(YYSTYPE *kw, enum listen_tls tls)
{
	if (ps.lopt.has_tls)
		perr(kw->file, kw->lineno, "listen: only one of tls and "
		    "smtps");
	ps.lopt.has_tls = 1;
	ps.lopt.tls = tls;
}

static void
listen_opt_pki(YYSTYPE *kw, const char *name)
{
	if (ps.lopt.pki != NULL)
		perr(kw->file, kw->lineno, "listen: pki given twice");
	ps.lopt.pki = p_strdup(name);
}

static void
listen_opt_require(YYSTYPE *kw)
{
	if (ps.lopt.require_tls)
		perr(kw->file, kw->lineno, "listen: require-tls given twice");
	ps.lopt.require_tls = 1;
}

/* The options read after "listen on ADDR [port N]" go to l. */
static void
listen_tls(YYSTYPE *kw, struct listen_conf *l)
{
	struct pkiref	*r;

	l->tls = ps.lopt.tls;
	l->require_tls = ps.lopt.require_tls;
	if (l->tls != LISTEN_PLAIN && ps.lopt.pki == NULL) {
		perr(kw->file, kw->lineno, "listen on %s port %u: %s needs "
		    "pki NAME", l->addr, l->port,
		    l->tls == LISTEN_SMTPS ? "smtps" : "tls");
		return;
	}
	if (l->tls == LISTEN_PLAIN && ps.lopt.pki != NULL)
		perr(kw->file, kw->lineno, "listen on %s port %u: pki without "
		    "tls or smtps", l->addr, l->port);
	if (l->require_tls && l->tls != LISTEN_STARTTLS)
		perr(kw->file, kw->lineno, "listen on %s port %u: require-tls "
		    "needs tls", l->addr, l->port);
	if (ps.lopt.pki == NULL || l->tls == LISTEN_PLAIN)
		return;
	if (strlcpy(l->pki, ps.lopt.pki, sizeof(l->pki)) >= sizeof(l->pki)) {
		perr(kw->file, kw->lineno, "pki name too long");
		return;
	}
	if ((r = p_alloc(sizeof(*r))) == NULL) {
		perr(kw->file, kw->lineno, "out of memory");
		return;
	}
	r->name = ps.lopt.pki;
	r->file = kw->file;
	r->lineno = kw->lineno;
	r->next = ps.pkirefs;
	ps.pkirefs = r;
}

/* A pki may be defined after the listener that uses it. */
static void
check_pki_refs(void)
{
	struct pkiref	*r;

	for (r = ps.pkirefs; r != NULL; r = r->next)
		if (conf_pki(ps.conf, r->name) == NULL)
			perr(r->file, r->lineno, "unknown pki %s", r->name);
}

/* Remember a <table> reference; copy its name to dst. */
static void
table_ref(YYSTYPE *ref, char *dst, int networks)
{
	struct tabref	*r;

	if (strlcpy(dst, ref->v.string, CONF_NAME_MAX) >= CONF_NAME_MAX) {
		perr(ref->file, ref->lineno, "table name too long");
		return;
	}
	if ((r = p_alloc(sizeof(*r))) == NULL) {
		perr(ref->file, ref->lineno, "out of memory");
		return;
	}
	r->name = ref->v.string;
	r->file = ref->file;
	r->lineno = ref->lineno;
	r->networks = networks;
	r->next = NULL;
	*ps.refstail = r;
	ps.refstail = &r->next;
}

static void
rule_begin(YYSTYPE *kw, enum rule_kind kind, YYSTYPE *match)
{
	struct rule_conf	*r;

	ps.ruleopts = 0;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		perr(kw->file, kw->lineno, "out of memory");
		ps.rule = NULL;
		return;
	}
	r->kind = kind;
	TAILQ_INSERT_TAIL(&ps.conf->rules, r, entry);
	ps.rule = r;
	if (match != NULL)
		table_ref(match, r->match, kind == RULE_RELAY_FROM);
}

/* Check that option `opt' may be given; 0 (reported) if not. */
static int
rule_opt(YYSTYPE *kw, int opt, const char *name)
{
	if (ps.rule == NULL)
		return 0;
	if (ps.ruleopts & opt) {
		perr(kw->file, kw->lineno, "%s given twice", name);
		return 0;
	}
	ps.ruleopts |= opt;
	if (ps.rule->kind != RULE_RELAY_FOR && opt != OPT_VIA) {
		perr(kw->file, kw->lineno, "%s not allowed in relay from",
		    name);
		return 0;
	}
	return 1;
}

static void
rule_recipient(YYSTYPE *ref)
{
	struct rule_conf	*r = ps.rule;

	if (r == NULL || r->kind != RULE_RELAY_FOR)
		return;
	if (r->nrecipients == CONF_RULE_TABLES) {
		perr(ref->file, ref->lineno, "too many recipient tables "
		    "(max %d)", CONF_RULE_TABLES);
		r->nrecipients++;	/* report once */
		return;
	}
	if (r->nrecipients > CONF_RULE_TABLES)
		return;
	table_ref(ref, r->recipients[r->nrecipients++], 0);
}

static void
rule_aliases(YYSTYPE *ref)
{
	table_ref(ref, ps.rule->aliases, 0);
}

static void
rule_via_table(YYSTYPE *ref)
{
	table_ref(ref, ps.rule->via_table, 0);
}

static void
rule_via(YYSTYPE *s)
{
	const char	*v = s->v.string;

	if (!((strncmp(v, "smtp:", 5) == 0 && v[5] != '\0') ||
	    (strncmp(v, "error:", 6) == 0 && v[6] != '\0')))
		perr(s->file, s->lineno, "invalid via \"%s\" (expected "
		    "<table>, \"smtp:...\" or \"error:...\")", v);
	else if (strlcpy(ps.rule->via, v, sizeof(ps.rule->via)) >=
	    sizeof(ps.rule->via))
		perr(s->file, s->lineno, "via: string too long");
}

/*
 * Driver.
 */

static void
parse_finish(void)
{
	struct mxgate_conf	*conf = ps.conf;
	struct tabref		*r;
	struct table_conf	*t;
	const char		*dot;

	for (r = ps.refs; r != NULL; r = r->next) {
		if ((t = (struct table_conf *)conf_table(conf, r->name))
		    == NULL)
			perr(r->file, r->lineno, "undefined table <%s>",
			    r->name);
		else if (r->networks)
			check_networks(t);
	}
	check_pki_refs();
	if (conf->retry_min > conf->retry_max)
		perr(ps.retryfile, ps.retryline, "queue retry-min (%us) is "
		    "greater than retry-max (%us)", conf->retry_min,
		    conf->retry_max);
	if (!ps.origin_set) {
		dot = strchr(conf->hostname, '.');
		strlcpy(conf->origin, dot != NULL && dot[1] != '\0' ?
		    dot + 1 : conf->hostname, sizeof(conf->origin));
	}
}

static void
parse_reset(struct mxgate_conf *conf)
{
	memset(&ps, 0, sizeof(ps));
	ps.conf = conf;
	ps.refstail = &ps.refs;
	conf_init(conf);
}

static int
parse_run(struct pfile *top)
{
	struct mxgate_conf	*conf = ps.conf;
	struct pfile		*f;
	struct chunk		*c;
	int			 rv;

	if (top != NULL) {
		ps.file = top;
		if (yyparse() != 0 && ps.errors == 0)
			perr(ps.file, ps.file->lineno, "parse failed");
		if (!ps.giveup)
			parse_finish();
	}
	rv = ps.errors > 0 || top == NULL ? -1 : 0;
	while ((f = ps.files) != NULL) {
		ps.files = f->next;
		if (f->fp != NULL)
			fclose(f->fp);
		free(f);
	}
	while ((c = ps.chunks) != NULL) {
		ps.chunks = c->next;
		free(c);
	}
	memset(&ps, 0, sizeof(ps));
	if (rv == -1)
		conf_free(conf);
	return rv;
}

int
conf_parse_file(struct mxgate_conf *conf, const char *path)
{
	parse_reset(conf);
	ps.checkfiles = 1;
	return parse_run(pfile_open(path, NULL, 0));
}

int
conf_parse_buffer(struct mxgate_conf *conf, const char *text, size_t len,
    const char *name)
{
	struct pfile	*f;

	parse_reset(conf);
	if ((f = pfile_new(name)) == NULL) {
		report("%s: out of memory", name);
		return parse_run(NULL);
	}
	f->buf = text;
	f->len = len;
	return parse_run(f);
}
