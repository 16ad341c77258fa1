/*
 * lookupd's recipient decision (lookupd/lka*.c, table*.c) without any
 * process: configs are built by hand, table files written to a temp dir.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "../../lookupd/lka.h"
#include "tablefile.h"
#include "test.h"

static char	tmpdir[] = "/tmp/test_lka.XXXXXX";
static char	*files[64];
static size_t	 nfiles;

/* ---- building a config by hand ---- */

static void
conf_start(struct mxgate_conf *c, const char *origin)
{
	memset(c, 0, sizeof(*c));
	TAILQ_INIT(&c->tables);
	TAILQ_INIT(&c->listeners);
	TAILQ_INIT(&c->rules);
	snprintf(c->origin, sizeof(c->origin), "%s", origin);
	snprintf(c->hostname, sizeof(c->hostname), "mx.%s", origin);
}

static void
conf_end(struct mxgate_conf *c)
{
	struct table_conf	*t;
	struct rule_conf	*r;
	size_t			 i;

	while ((t = TAILQ_FIRST(&c->tables)) != NULL) {
		TAILQ_REMOVE(&c->tables, t, entry);
		for (i = 0; i < t->nvalues; i++)
			free(t->values[i]);
		free(t->values);
		free(t);
	}
	while ((r = TAILQ_FIRST(&c->rules)) != NULL) {
		TAILQ_REMOVE(&c->rules, r, entry);
		free(r);
	}
}

/* table NAME { v1, v2, ... } (NULL-terminated) */
static void
add_inline(struct mxgate_conf *c, const char *name, ...)
{
	struct table_conf	*t = calloc(1, sizeof(*t));
	const char		*v;
	va_list			 ap;

	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = TABLE_INLINE;
	va_start(ap, name);
	while ((v = va_arg(ap, const char *)) != NULL) {
		t->values = realloc(t->values,
		    (t->nvalues + 1) * sizeof(*t->values));
		t->values[t->nvalues++] = strdup(v);
	}
	va_end(ap);
	TAILQ_INSERT_TAIL(&c->tables, t, entry);
}

/* table NAME file:<tmpdir>/NAME with the given content */
static void
add_file(struct mxgate_conf *c, const char *name, const char *content)
{
	struct table_conf	*t = calloc(1, sizeof(*t));
	FILE			*fp;

	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = TABLE_FILE;
	snprintf(t->path, sizeof(t->path), "%s/%s", tmpdir, name);
	if ((fp = fopen(t->path, "w")) == NULL) {
		perror(t->path);
		exit(1);
	}
	fputs(content, fp);
	fclose(fp);
	if (nfiles < sizeof(files) / sizeof(files[0]))
		files[nfiles++] = strdup(t->path);
	TAILQ_INSERT_TAIL(&c->tables, t, entry);
}

static void
add_typed(struct mxgate_conf *c, const char *name, enum table_type type)
{
	struct table_conf *t = calloc(1, sizeof(*t));

	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = type;
	snprintf(t->path, sizeof(t->path), "%s/%s.db", tmpdir, name);
	TAILQ_INSERT_TAIL(&c->tables, t, entry);
}

/* relay for <match> [recipients <r1>,<r2>] [aliases <a>] [via <t>|"lit"] */
static void
add_for(struct mxgate_conf *c, const char *match, const char *rcpts,
    const char *aliases, const char *via_table, const char *via)
{
	struct rule_conf	*r = calloc(1, sizeof(*r));
	char			 buf[256], *p, *s;

	r->kind = RULE_RELAY_FOR;
	snprintf(r->match, sizeof(r->match), "%s", match);
	if (rcpts != NULL) {
		snprintf(buf, sizeof(buf), "%s", rcpts);
		for (s = buf; (p = strsep(&s, ",")) != NULL; )
			snprintf(r->recipients[r->nrecipients++],
			    sizeof(r->recipients[0]), "%s", p);
	}
	snprintf(r->aliases, sizeof(r->aliases), "%s", aliases ? aliases : "");
	snprintf(r->via_table, sizeof(r->via_table), "%s",
	    via_table ? via_table : "");
	snprintf(r->via, sizeof(r->via), "%s", via ? via : "");
	TAILQ_INSERT_TAIL(&c->rules, r, entry);
}

static void
add_from(struct mxgate_conf *c, const char *match, const char *via_table,
    const char *via)
{
	struct rule_conf *r = calloc(1, sizeof(*r));

	r->kind = RULE_RELAY_FROM;
	snprintf(r->match, sizeof(r->match), "%s", match);
	snprintf(r->via_table, sizeof(r->via_table), "%s",
	    via_table ? via_table : "");
	snprintf(r->via, sizeof(r->via), "%s", via ? via : "");
	TAILQ_INSERT_TAIL(&c->rules, r, entry);
}

/* ---- checking answers ---- */

static const char *
status_name(enum lka_status s)
{
	switch (s) {
	case LKA_RELAY:		return "RELAY";
	case LKA_UNKNOWN_USER:	return "UNKNOWN_USER";
	case LKA_RELAY_DENIED:	return "RELAY_DENIED";
	case LKA_TEMPFAIL:	return "TEMPFAIL";
	case LKA_REJECT:	return "REJECT";
	}
	return "?";
}

/* The answer as one string: "STATUS text|rcpt relay|rcpt relay". */
static const char *
decide(struct lka_tables *lt, const char *client, const char *rcpt)
{
	static char		 buf[8192];
	struct lka_result	 res;
	size_t			 i, n;

	lka_result_init(&res);
	if (lka_decide(lt, client, "sender@example.net", rcpt, &res) == -1) {
		lka_result_free(&res);
		return "MALFORMED";
	}
	n = snprintf(buf, sizeof(buf), "%s %s", status_name(res.status),
	    res.text);
	for (i = 0; i < res.nrcpts && n < sizeof(buf); i++)
		n += snprintf(buf + n, sizeof(buf) - n, "|%s %s",
		    res.rcpts[i].addr, res.rcpts[i].relay);
	lka_result_free(&res);
	return buf;
}

static void
expect(struct lka_tables *lt, const char *name, const char *client,
    const char *rcpt, const char *want)
{
	const char *got = decide(lt, client, rcpt);

	t_check(strcmp(got, want) == 0, name, "%s -> <%s>: got \"%s\", want "
	    "\"%s\"", client, rcpt, got, want);
}

/* Expect only the status (and text prefix). */
static void
expect_status(struct lka_tables *lt, const char *name, const char *client,
    const char *rcpt, const char *want)
{
	const char *got = decide(lt, client, rcpt);

	t_check(strncmp(got, want, strlen(want)) == 0, name,
	    "%s -> <%s>: got \"%s\", want \"%s...\"", client, rcpt, got, want);
}

/* ---- the main gateway config ---- */

static const char recipients_txt[] =
    "# relay_recipients\n"
    "alice@example1.com\tOK\n"
    "bob@example1.com OK\n"
    "@example2.com OK\n"
    "carol@sub.example3.com OK\n"
    "@example4.com OK\n";

static const char aliases_txt[] =
    "# virtual\n"
    "list@example1.com   alice@example1.com, bob@example1.com "
    "dave@example2.com\n"
    "outside@example1.com  someone@gmail.com\n"
    "self@example1.com  self@example1.com, copy@example1.com\n"
    "loop1@example1.com loop2@example1.com\n"
    "loop2@example1.com loop3@example1.com\n"
    "loop3@example1.com loop1@example1.com\n"
    "ring@example1.com ring@example1.com, ringb@example1.com\n"
    "ringb@example1.com ring@example1.com\n"
    "dup@example1.com alice@example1.com, ALICE@example1.com,\n"
    "    list@example1.com\n"
    "postmaster  admin\n"
    "@example5.com @example2.com\n"
    "Mixed@Example1.com  Target@Example2.com\n";

static const char transport_txt[] =
    "example1.com    smtp:[10.0.0.1]:2525\n"
    "example2.com    smtp:[10.0.0.2]\n"
    ".example3.com   relay:[10.0.0.3]\n"
    "example4.com    error:5.7.1 mailbox closed\n"
    "special@example2.com smtp:[10.0.0.22]\n"
    "*               smtp:[10.0.0.9]\n";

static struct lka_tables *
load_main(struct mxgate_conf *c, int show_table_name)
{
	struct lka_tables	*lt;
	char			 err[1024];
	char			*deep;
	size_t			 i, n = 0;

	conf_start(c, "example.com");
	c->show_table_name = show_table_name;
	add_inline(c, "domains", "example1.com", "Example2.COM",
	    ".example3.com", "example4.com", "example5.com", "example.com",
	    NULL);
	add_file(c, "recipients", recipients_txt);
	/* aliases, plus chains d0 -> d1 -> ... -> d25 */
	deep = malloc(sizeof(aliases_txt) + 26 * 64);
	memcpy(deep, aliases_txt, sizeof(aliases_txt));
	n = sizeof(aliases_txt) - 1;
	for (i = 0; i < 25; i++)
		n += sprintf(deep + n, "d%zu@example1.com d%zu@example1.com\n",
		    i, i + 1);
	add_file(c, "aliases", deep);
	free(deep);
	add_file(c, "transport", transport_txt);
	add_inline(c, "trusted", "127.0.0.0/8", "::1", "172.16.42.0/24",
	    "[2001:db8::]/32", NULL);
	add_for(c, "domains", "recipients", "aliases", "transport", NULL);
	add_from(c, "trusted", NULL, NULL);
	if ((lt = lka_load(c, err, sizeof(err))) == NULL)
		fprintf(stderr, "load_main: %s\n", err);
	return lt;
}

static void
t_main(void)
{
	struct mxgate_conf	 c;
	struct lka_tables	*lt = load_main(&c, 0);
	const char		*out = "192.0.2.1", *in = "127.0.0.1";

	T_OK(lt != NULL, "main config loads");
	if (lt == NULL)
		return;

	/* 4. relay denied */
	expect(lt, "relay denied from outside", out, "x@elsewhere.org",
	    "RELAY_DENIED Relay access denied");
	expect(lt, "172.16.43.1 is not in 172.16.42.0/24", "172.16.43.1",
	    "x@elsewhere.org", "RELAY_DENIED Relay access denied");

	/* 2. relayed domain, valid users */
	expect(lt, "known user accepted", out, "alice@example1.com",
	    "RELAY |alice@example1.com smtp:[10.0.0.1]:2525");
	expect(lt, "domain compared case-insensitively, local part looked "
	    "up lowercased", out, "Alice@EXAMPLE1.com",
	    "RELAY |Alice@EXAMPLE1.com smtp:[10.0.0.1]:2525");
	expect(lt, "domains table entry matched case-insensitively", out,
	    "x@example2.com", "RELAY |x@example2.com smtp:[10.0.0.2]");
	expect(lt, "@domain catch-all in recipients", out,
	    "anyone@example2.com", "RELAY |anyone@example2.com "
	    "smtp:[10.0.0.2]");

	/* unknown users, whoever the client */
	expect(lt, "unknown user in relayed domain rejected", out,
	    "nobody@example1.com", "UNKNOWN_USER User unknown");
	expect(lt, "unknown user rejected also for trusted clients", in,
	    "nobody@example1.com", "UNKNOWN_USER User unknown");

	/* 3. trusted clients */
	expect(lt, "trusted client relays anywhere", in, "x@elsewhere.org",
	    "RELAY |x@elsewhere.org smtp:elsewhere.org");
	expect(lt, "trusted IPv6 ::1", "::1", "x@elsewhere.org",
	    "RELAY |x@elsewhere.org smtp:elsewhere.org");
	expect(lt, "IPv4-mapped client matches an IPv4 entry",
	    "::ffff:127.0.0.2", "x@elsewhere.org",
	    "RELAY |x@elsewhere.org smtp:elsewhere.org");
	expect(lt, "trusted 172.16.42.7 in a /24", "172.16.42.7",
	    "x@elsewhere.org", "RELAY |x@elsewhere.org smtp:elsewhere.org");
	expect(lt, "IPv6 CIDR entry", "2001:db8:1::5", "x@elsewhere.org",
	    "RELAY |x@elsewhere.org smtp:elsewhere.org");
	expect(lt, "IPv6 outside the prefix denied", "2001:db9::1",
	    "x@elsewhere.org", "RELAY_DENIED Relay access denied");
	expect(lt, "trusted client: aliases of relay-for rules do not apply "
	    "to other domains", in, "list@elsewhere.org",
	    "RELAY |list@elsewhere.org smtp:elsewhere.org");

	/* subdomains */
	expect(lt, "sub.example1.com not matched by example1.com", out,
	    "alice@sub.example1.com", "RELAY_DENIED Relay access denied");
	expect(lt, "sub.example3.com matched by .example3.com", out,
	    "carol@sub.example3.com",
	    "RELAY |carol@sub.example3.com smtp:[10.0.0.3]");
	expect(lt, ".example3.com does not match example3.com", out,
	    "carol@example3.com", "RELAY_DENIED Relay access denied");
	expect(lt, "unknown user in a .domain-matched subdomain", out,
	    "dan@sub.example3.com", "UNKNOWN_USER User unknown");

	/* aliases */
	expect(lt, "alias list of three", out, "list@example1.com",
	    "RELAY |alice@example1.com smtp:[10.0.0.1]:2525"
	    "|bob@example1.com smtp:[10.0.0.1]:2525"
	    "|dave@example2.com smtp:[10.0.0.2]");
	expect(lt, "alias to an outside address (transport *)", out,
	    "outside@example1.com", "RELAY |someone@gmail.com smtp:[10.0.0.9]");
	expect(lt, "self + copy keeps self", out, "self@example1.com",
	    "RELAY |self@example1.com smtp:[10.0.0.1]:2525"
	    "|copy@example1.com smtp:[10.0.0.1]:2525");
	expect(lt, "self-kept address ends a chain back to it", out,
	    "ring@example1.com", "RELAY |ring@example1.com "
	    "smtp:[10.0.0.1]:2525");
	expect(lt, "duplicates removed, nested list expanded", out,
	    "dup@example1.com",
	    "RELAY |alice@example1.com smtp:[10.0.0.1]:2525"
	    "|bob@example1.com smtp:[10.0.0.1]:2525"
	    "|dave@example2.com smtp:[10.0.0.2]");
	expect(lt, "alias key and target case", out, "MIXED@example1.COM",
	    "RELAY |Target@Example2.com smtp:[10.0.0.2]");
	expect(lt, "alias validates a user not in recipients", out,
	    "outside@example1.com", "RELAY |someone@gmail.com smtp:[10.0.0.9]");
	expect(lt, "postmaster bare qualified with origin, bare alias "
	    "key and target", out, "postmaster",
	    "RELAY |admin@example.com smtp:[10.0.0.9]");
	expect(lt, "Postmaster in any case", out, "PostMaster",
	    "RELAY |admin@example.com smtp:[10.0.0.9]");
	expect(lt, "@domain alias to @otherdomain keeps the local part", out,
	    "fred@example5.com", "RELAY |fred@example2.com smtp:[10.0.0.2]");
	expect(lt, "alias loop detected: temporary failure", out,
	    "loop1@example1.com", "TEMPFAIL Alias expansion error");
	expect(lt, "chain of 20 aliases accepted", out, "d5@example1.com",
	    "RELAY |d25@example1.com smtp:[10.0.0.1]:2525");
	expect(lt, "chain of 21 aliases: too deep", out, "d4@example1.com",
	    "TEMPFAIL Alias expansion error");

	/* transports */
	expect(lt, "error: transport rejects the RCPT", out,
	    "x@example4.com", "REJECT 5.7.1 mailbox closed");
	expect(lt, "transport user@domain key", out,
	    "special@example2.com", "RELAY |special@example2.com "
	    "smtp:[10.0.0.22]");
	expect(lt, "transport * for an accepted domain without entry", out,
	    "postmaster@example.com", "RELAY |admin@example.com "
	    "smtp:[10.0.0.9]");

	/* malformed requests */
	expect(lt, "client address must be numeric", "mx.example.net",
	    "alice@example1.com", "MALFORMED");
	expect(lt, "recipient without domain other than postmaster", out,
	    "alice", "MALFORMED");
	expect(lt, "recipient that does not parse", out, "a b@example1.com",
	    "MALFORMED");

	lka_free(lt);
	conf_end(&c);

	lt = load_main(&c, 1);
	expect(lt, "show-table-name names the recipients table", out,
	    "nobody@example1.com",
	    "UNKNOWN_USER User unknown in relay recipient table <recipients>");
	lka_free(lt);
	conf_end(&c);
}

/* ---- other rule shapes ---- */

static void
t_rules(void)
{
	struct mxgate_conf	 c;
	struct lka_tables	*lt;
	char			 err[1024];

	conf_start(&c, "example.com");
	add_inline(&c, "open", "open.example", NULL);
	add_inline(&c, "fixed", "fixed.example", "sub.fixed.example", NULL);
	add_inline(&c, "plain", "plain.example", NULL);
	add_inline(&c, "r1", "a@multi.example", NULL);
	add_inline(&c, "r2", "b@multi.example", NULL);
	add_inline(&c, "multi", "multi.example", NULL);
	add_inline(&c, "lan", "10.0.0.0/8", NULL);
	add_inline(&c, "lan6", "fd00::/8", NULL);
	add_file(&c, "transport2", "lan.example smtp:[192.0.2.25]:25\n"
	    "elsewhere.example smtp:\n");
	add_for(&c, "open", NULL, NULL, NULL, NULL);
	add_for(&c, "fixed", NULL, NULL, NULL, "smtp:[10.0.0.5]:25");
	add_for(&c, "multi", "r1,r2", NULL, NULL, NULL);
	add_for(&c, "plain", NULL, NULL, NULL, "relay:");
	add_from(&c, "lan", "transport2", NULL);
	add_from(&c, "lan6", NULL, "smtp:[192.0.2.66]");
	lt = lka_load(&c, err, sizeof(err));
	t_check(lt != NULL, "rules config loads", "%s", err);
	if (lt == NULL) {
		conf_end(&c);
		return;
	}
	expect(lt, "no recipients table: every user valid", "192.0.2.1",
	    "whoever@open.example", "RELAY |whoever@open.example "
	    "smtp:open.example");
	expect(lt, "literal via", "192.0.2.1", "x@sub.fixed.example",
	    "RELAY |x@sub.fixed.example smtp:[10.0.0.5]:25");
	expect(lt, "second recipients table consulted", "192.0.2.1",
	    "b@multi.example", "RELAY |b@multi.example smtp:multi.example");
	expect(lt, "unknown in both recipients tables", "192.0.2.1",
	    "c@multi.example", "UNKNOWN_USER User unknown");
	expect(lt, "empty next hop is the recipient domain", "192.0.2.1",
	    "x@plain.example", "RELAY |x@plain.example smtp:plain.example");
	expect(lt, "relay from with via table", "10.1.2.3",
	    "x@lan.example", "RELAY |x@lan.example smtp:[192.0.2.25]:25");
	expect(lt, "relay from via table, empty hop", "10.1.2.3",
	    "x@elsewhere.example", "RELAY |x@elsewhere.example "
	    "smtp:elsewhere.example");
	expect(lt, "relay from via table without entry", "10.1.2.3",
	    "x@other.example", "RELAY |x@other.example smtp:other.example");
	expect(lt, "relay from, literal via", "fd12::1", "x@other.example",
	    "RELAY |x@other.example smtp:[192.0.2.66]");
	expect(lt, "relayed domain for a trusted client goes by its rule",
	    "10.1.2.3", "a@multi.example",
	    "RELAY |a@multi.example smtp:multi.example");
	lka_free(lt);
	conf_end(&c);
}

/* lka_route_local(rcpt): status want (-1: refused) and relay. */
static void
route(struct lka_tables *lt, const char *name, const char *rcpt, int want,
    const char *relay)
{
	struct lka_result	 res;
	int			 rv;

	lka_result_init(&res);
	rv = lka_route_local(lt, rcpt, &res);
	if (want == -1)
		t_check(rv == -1, name, "rv %d", rv);
	else
		t_check(rv == 0 && (int)res.status == want &&
		    (want != LKA_RELAY || (res.nrcpts == 1 &&
		    strcmp(res.rcpts[0].relay, relay) == 0)), name,
		    "rv %d status %d n %zu relay %s", rv, (int)res.status,
		    res.nrcpts, res.nrcpts ? res.rcpts[0].relay : "-");
	lka_result_free(&res);
}

/* ---- through the real config parser ---- */

static void
t_parsed(void)
{
	struct mxgate_conf	 c;
	struct lka_tables	*lt;
	char			 text[4096], err[1024] = "";
	const char		*out = "192.0.2.1";

	conf_start(&c, "unused");	/* only for add_file's paths */
	add_file(&c, "p_recipients", "alice@example1.com OK\n"
	    "bob@example1.com OK\ncarol@example2.com OK\n"
	    "archive@example2.com OK\n@subdomain.example.com OK\n");
	add_file(&c, "p_virtual", "postmaster@example1.com postmaster\n"
	    "staff@example1.com alice@example1.com, bob@example1.com,\n"
	    "\t\t\tcarol@example2.com\n"
	    "frank@example1.com frank.smith@outside.example.net\n"
	    "alice@example1.com alice@example1.com, archive@example2.com\n");
	add_file(&c, "p_transport", "example1.com smtp:[192.168.1.10]:25\n"
	    "example2.com smtp:[192.168.1.10]:25\n"
	    "subdomain.example.com smtp:[192.168.1.11]:25\n"
	    "example.com smtp:[192.168.1.10]:25\n");
	conf_end(&c);
	snprintf(text, sizeof(text),
	    "hostname mx.example.com\n"
	    "origin example.com\n"
	    "show-table-name yes\n"
	    "table domains { example1.com, example2.com, "
	    "subdomain.example.com }\n"
	    "table recipients file:%s/p_recipients\n"
	    "table aliases file:%s/p_virtual\n"
	    "table transport file:%s/p_transport\n"
	    "table trusted { 127.0.0.0/8, ::1 }\n"
	    "relay for <domains> recipients <recipients> aliases <aliases> "
	    "via <transport>\n"
	    "relay from <trusted> via <transport>\n",
	    tmpdir, tmpdir, tmpdir);
	conf_init(&c);
	if (conf_parse_buffer(&c, text, strlen(text), "test.conf") == -1) {
		t_check(0, "sample config parses", "see stderr");
		conf_free(&c);
		return;
	}
	lt = lka_load(&c, err, sizeof(err));
	t_check(lt != NULL, "sample config loads", "%s", err);
	if (lt == NULL) {
		conf_free(&c);
		return;
	}
	expect(lt, "sample: list", out, "staff@example1.com",
	    "RELAY |alice@example1.com smtp:[192.168.1.10]:25"
	    "|archive@example2.com smtp:[192.168.1.10]:25"
	    "|bob@example1.com smtp:[192.168.1.10]:25"
	    "|carol@example2.com smtp:[192.168.1.10]:25");
	expect(lt, "sample: forward outside", out, "frank@example1.com",
	    "RELAY |frank.smith@outside.example.net "
	    "smtp:outside.example.net");
	expect(lt, "sample: role account to the origin", out,
	    "postmaster@example1.com",
	    "RELAY |postmaster@example.com smtp:[192.168.1.10]:25");
	expect(lt, "sample: subdomain catch-all", out,
	    "x@subdomain.example.com",
	    "RELAY |x@subdomain.example.com smtp:[192.168.1.11]:25");
	expect(lt, "sample: unknown user, table named", out,
	    "eve@example2.com",
	    "UNKNOWN_USER User unknown in relay recipient table <recipients>");
	expect(lt, "sample: trusted client via transport", "127.0.0.1",
	    "x@example.com", "RELAY |x@example.com smtp:[192.168.1.10]:25");
	expect(lt, "sample: relay denied", out, "x@example.com",
	    "RELAY_DENIED Relay access denied");
	expect(lt, "sample: bare postmaster of an unrelayed origin accepted "
	    "from outside (RFC 5321 4.5.1)", out, "postmaster",
	    "RELAY |postmaster@example.com smtp:[192.168.1.10]:25");
	expect(lt, "sample: qualified postmaster of an unrelayed origin "
	    "still denied", out, "postmaster@example.com",
	    "RELAY_DENIED Relay access denied");
	route(lt, "route of a DSN: relayed domain, by its transport, not "
	    "validated", "nobody@example2.com", LKA_RELAY,
	    "smtp:[192.168.1.10]:25");
	route(lt, "route of a DSN: no alias expansion", "staff@example1.com",
	    LKA_RELAY, "smtp:[192.168.1.10]:25");
	route(lt, "route of a DSN: other domain by the relay from rule",
	    "x@outside.example.net", LKA_RELAY, "smtp:outside.example.net");
	route(lt, "route of a DSN: UTF-8 address (SMTPUTF8 sender)",
	    "j\xc3\xb6rg@example1.com", LKA_RELAY, "smtp:[192.168.1.10]:25");
	route(lt, "route of a DSN: not an address", "not an address", -1,
	    NULL);
	lka_free(lt);
	conf_free(&c);
}

/* ---- tables that cannot answer (a directory down) ---- */

/*
 * table NAME ldap:<tmpdir>/NAME.db, a directory nobody answers for (the
 * loop is never run here: every lookup starts a query and fails).
 */
static void
add_ldap(struct mxgate_conf *c, const char *name)
{
	static struct event_base	*base;
	char				 path[PATH_MAX];
	FILE				*fp;

	if (base == NULL && (base = event_base_new()) != NULL)
		table_ldap_init(base);
	snprintf(path, sizeof(path), "%s/%s.db", tmpdir, name);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs("server_host = ldap://127.0.0.1:1\n"
	    "search_base = dc=example,dc=com\n", fp);
	fclose(fp);
	if (nfiles < sizeof(files) / sizeof(files[0]))
		files[nfiles++] = strdup(path);
	add_typed(c, name, TABLE_LDAP);
}

static void
t_unsupported(void)
{
	struct mxgate_conf	 c;
	struct lka_tables	*lt;
	char			 err[1024];

	conf_start(&c, "example.com");
	add_inline(&c, "domains", "example1.com", NULL);
	add_ldap(&c, "users");
	add_ldap(&c, "dir");
	add_ldap(&c, "ldapdomains");
	add_for(&c, "domains", "users", NULL, NULL, NULL);
	add_for(&c, "ldapdomains", "dir", NULL, NULL, NULL);
	lt = lka_load(&c, err, sizeof(err));
	t_check(lt != NULL, "config with ldap tables loads", "%s", err);
	if (lt == NULL) {
		conf_end(&c);
		return;
	}
	expect(lt, "ldap recipients table: temporary failure", "192.0.2.1",
	    "alice@example1.com", "TEMPFAIL Temporary lookup failure");
	expect(lt, "ldap domains table: temporary failure, never 5xx",
	    "192.0.2.1", "alice@example9.com",
	    "TEMPFAIL Temporary lookup failure");
	lka_free(lt);
	conf_end(&c);

	/* cdb tables are real now (test_table_cdb): a missing one fails */
	conf_start(&c, "example.com");
	add_inline(&c, "domains", "example1.com", NULL);
	add_typed(&c, "users", TABLE_CDB);
	add_for(&c, "domains", "users", NULL, NULL, NULL);
	lt = lka_load(&c, err, sizeof(err));
	t_check(lt == NULL && strstr(err, "users.db") != NULL,
	    "missing cdb file fails the config with its path", "%s", err);
	lka_free(lt);
	conf_end(&c);
	lka_free(lt);
	conf_end(&c);

	conf_start(&c, "example.com");
	add_inline(&c, "domains", "example1.com", NULL);
	add_ldap(&c, "nets");
	add_for(&c, "domains", NULL, NULL, NULL, NULL);
	add_from(&c, "nets", NULL, NULL);
	lt = lka_load(&c, err, sizeof(err));
	expect(lt, "ldap networks table: temporary failure", "192.0.2.1",
	    "x@elsewhere.org", "TEMPFAIL Temporary lookup failure");
	expect(lt, "relayed domain decided before the networks", "192.0.2.1",
	    "x@example1.com", "RELAY |x@example1.com smtp:example1.com");
	lka_free(lt);
	conf_end(&c);
}

/* ---- the expansion limit ---- */

static void
t_limit(void)
{
	struct mxgate_conf	 c;
	struct lka_tables	*lt;
	char			 err[1024], *txt;
	size_t			 i, n = 0;

	txt = malloc(1 << 20);
	n += sprintf(txt + n, "big@example1.com u0@example2.com\n");
	for (i = 1; i < 1000; i++)
		n += sprintf(txt + n, " u%zu@example2.com%s", i,
		    i % 50 == 0 ? "\n" : "");
	n += sprintf(txt + n, "\nbigger@example1.com big@example1.com, "
	    "one-more@example2.com\n");
	conf_start(&c, "example.com");
	add_inline(&c, "domains", "example1.com", NULL);
	add_file(&c, "bigaliases", txt);
	add_for(&c, "domains", NULL, "bigaliases", NULL, NULL);
	lt = lka_load(&c, err, sizeof(err));
	t_check(lt != NULL, "big alias table loads", "%s", err);
	if (lt != NULL) {
		struct lka_result res;

		lka_result_init(&res);
		lka_decide(lt, "192.0.2.1", "", "big@example1.com", &res);
		t_check(res.status == LKA_RELAY && res.nrcpts == 1000,
		    "1000 recipients allowed", "status %d n %zu", res.status,
		    res.nrcpts);
		lka_result_free(&res);
		expect_status(lt, "1001 recipients: temporary failure",
		    "192.0.2.1", "bigger@example1.com", "TEMPFAIL");
		lka_free(lt);
	}
	conf_end(&c);
	free(txt);
}

/* ---- configs that must not load ---- */

static void
expect_load_error(const char *name, const char *table, const char *content,
    int kind, const char *want)
{
	struct mxgate_conf	 c;
	struct lka_tables	*lt;
	char			 err[1024] = "", wantbuf[1024];

	conf_start(&c, "example.com");
	add_inline(&c, "domains", "example1.com", NULL);
	add_file(&c, table, content);
	switch (kind) {
	case 'n':
		add_from(&c, table, NULL, NULL);
		break;
	case 'a':
		add_for(&c, "domains", NULL, table, NULL, NULL);
		break;
	case 't':
		add_for(&c, "domains", NULL, NULL, table, NULL);
		break;
	default:
		add_for(&c, "domains", table, NULL, NULL, NULL);
		break;
	}
	lt = lka_load(&c, err, sizeof(err));
	snprintf(wantbuf, sizeof(wantbuf), "%s/%s%s", tmpdir, table, want);
	t_check(lt == NULL && strncmp(err, wantbuf, strlen(wantbuf)) == 0,
	    name, "loaded %d, err \"%s\", want \"%s...\"", lt != NULL, err,
	    wantbuf);
	lka_free(lt);
	conf_end(&c);
}

static void
t_load_errors(void)
{
	struct mxgate_conf	 c;
	struct lka_tables	*lt;
	char			 err[1024] = "";

	expect_load_error("unparsable recipients file: file:line", "bad1",
	    "# relay_recipients\n  orphan@example1.com OK\n", 'r',
	    ":2: continuation line");
	expect_load_error("bad network entry: file:line", "nets1",
	    "127.0.0.0/8\n\n10.0.0.0/33\n", 'n', ":3: invalid network");
	expect_load_error("network with host bits set", "nets2",
	    "10.1.2.3/8\n", 'n', ":1: non-null host address bits");
	expect_load_error("hostname in a networks table", "nets3",
	    "localhost\n", 'n', ":1: invalid network");
	expect_load_error("alias without target", "al1",
	    "a@example1.com b@example1.com\nc@example1.com\n", 'a',
	    ":2: alias without a target");
	expect_load_error("bad alias target", "al2",
	    "a@example1.com b@@example1.com\n", 'a',
	    ":1: invalid alias target");
	expect_load_error("unsupported transport", "tr1",
	    "example1.com smtp:[10.0.0.1]\nexample2.com lmtp:unix:/x\n", 't',
	    ":2: unsupported transport");

	conf_start(&c, "example.com");
	add_inline(&c, "domains", "example1.com", NULL);
	add_for(&c, "domains", "nosuch", NULL, NULL, NULL);
	lt = lka_load(&c, err, sizeof(err));
	t_check(lt == NULL && strcmp(err, "relay rule 1: unknown table "
	    "<nosuch>") == 0, "unknown table in a rule", "err %s", err);
	conf_end(&c);

	conf_start(&c, "example.com");
	add_inline(&c, "domains", "example1.com", NULL);
	add_for(&c, "domains", NULL, NULL, NULL, "local:");
	lt = lka_load(&c, err, sizeof(err));
	t_check(lt == NULL && strstr(err, "unsupported transport") != NULL,
	    "unsupported literal via", "err %s", err);
	conf_end(&c);

	conf_start(&c, "example.com");
	add_file(&c, "missing", "");
	unlink(files[--nfiles]);
	free(files[nfiles]);
	add_for(&c, "missing", NULL, NULL, NULL, NULL);
	lt = lka_load(&c, err, sizeof(err));
	t_check(lt == NULL && strstr(err, "No such file") != NULL,
	    "missing table file", "err %s", err);
	conf_end(&c);
}

static void
t_overlong_file(void)
{
	char	*s = malloc(TABLEFILE_LINE_MAX + 64);
	size_t	 n;

	n = sprintf(s, "ok@example1.com OK\nlong@example1.com ");
	memset(s + n, 'v', TABLEFILE_LINE_MAX);
	strcpy(s + n + TABLEFILE_LINE_MAX, "\n");
	expect_load_error("overlong line: file:line", "long", s, 'r',
	    ":2: line longer");
	free(s);
}

static void
t_net(void)
{
	struct netaddr	net, a;
	char		why[256];

	T_OK(netaddr_parse("0.0.0.0/0", &net, why, sizeof(why)) == 0 &&
	    netaddr_host("203.0.113.9", &a) == 0 && netaddr_match(&net, &a),
	    "0.0.0.0/0 matches everything IPv4");
	T_OK(netaddr_parse("::/0", &net, why, sizeof(why)) == 0 &&
	    netaddr_host("2001:db8::1", &a) == 0 && netaddr_match(&net, &a),
	    "::/0 matches IPv6");
	T_OK(netaddr_parse("192.168.1.128/25", &net, why, sizeof(why)) == 0 &&
	    netaddr_host("192.168.1.200", &a) == 0 && netaddr_match(&net, &a) &&
	    netaddr_host("192.168.1.127", &a) == 0 && !netaddr_match(&net, &a),
	    "/25 boundary");
	T_OK(netaddr_parse("::ffff:10.0.0.0/104", &net, why, sizeof(why)) ==
	    0 && netaddr_host("10.9.8.7", &a) == 0 && netaddr_match(&net, &a),
	    "IPv4 client matches an IPv4-mapped IPv6 entry");
	T_OK(netaddr_host("fe80::1%eth0", &a) == 0 && a.family != 0,
	    "client address with a scope");
	T_OK(netaddr_parse("10.0.0.0/08", &net, why, sizeof(why)) == -1 &&
	    netaddr_parse("10.0.0.0/", &net, why, sizeof(why)) == -1 &&
	    netaddr_parse("10.0.0/8", &net, why, sizeof(why)) == -1 &&
	    netaddr_parse("10.0.0.0/-1", &net, why, sizeof(why)) == -1,
	    "strict prefix syntax");
}

int
main(void)
{
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* log lines go to stderr */
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	t_main();
	t_rules();
	t_parsed();
	t_unsupported();
	t_limit();
	t_load_errors();
	t_overlong_file();
	t_net();
	for (i = 0; i < nfiles; i++) {
		unlink(files[i]);
		free(files[i]);
	}
	rmdir(tmpdir);
	return t_exit();
}
