/*
 * The recipient decision: the classic Postfix gateway (relay_domains,
 * relay_recipient_maps, virtual_alias_maps, transport_maps, mynetworks).
 *
 * 1. The RCPT is "local@domain" (smtpd checked its syntax).  A bare
 *    "postmaster" (RCPT TO:<postmaster>) is qualified with the origin.
 *    Domains compare case-insensitively; every key is looked up
 *    lowercased.
 * 2. The first `relay for <domains>` rule whose domains table holds the
 *    domain (exactly; an entry ".example.com" matches subdomains of
 *    example.com, never example.com itself) decides, whoever the client:
 *    - the recipient is valid if the rule's aliases table has it
 *      ("local@domain", "local" when domain is the origin, "@domain"),
 *      or any of its recipients tables has "local@domain" or "@domain",
 *      or the rule has no recipients table at all;
 *    - invalid: LKA_UNKNOWN_USER "User unknown" (with show-table-name:
 *      "User unknown in relay recipient table <first recipients table>");
 *    - valid: the aliases are expanded (lka_alias.c) and each final
 *      recipient gets a relay (see 6).  Expanded addresses are not
 *      validated again: aliases are trusted configuration.
 * 3. Else, if the client address is in the networks of a `relay from`
 *    rule (first match): LKA_RELAY to the recipient as it is (no alias
 *    expansion: its domain is not one we relay for), relay by that
 *    rule's via (see 6).
 *    A `relay from authenticated` rule matches instead when the client
 *    passed SMTP AUTH (the user is in the request); the `relay from'
 *    rules of both kinds are tried in the order given.  So relayed
 *    domains are decided by 2 even for authenticated clients: unknown
 *    users there are still refused.
 * 4. Else, for a bare <postmaster> (which RFC 5321 4.5.1 says must
 *    always be accepted) whose origin domain is not relayed: the first
 *    `relay for` rule takes it as in 2, except that an address its
 *    tables do not list is relayed as it is instead of refused.
 * 5. Else LKA_RELAY_DENIED "Relay access denied".
 * 6. Relay of a final recipient: the rule's literal via, else its via
 *    table looked up with "local@domain", the domain, ".parent" for each
 *    parent domain, then "*"; else "smtp:<domain>".  Values "smtp:hop",
 *    "relay:hop", ":hop" give "smtp:hop" (an empty hop is the domain);
 *    "error:text" rejects the whole RCPT: LKA_REJECT with text.
 *
 * 7. A message mxgate makes itself (a DSN to an envelope sender,
 *    IMSG_LKA_ROUTE from queued, lka_route_local) goes through the same
 *    transport rules, for its one recipient as it is (not validated, no
 *    aliases: the address sent us mail): the first `relay for` rule whose
 *    domains hold its domain, else the first `relay from` rule (what we
 *    make is trusted like a client of our own networks); its relay as in
 *    6.  With no rule for it: LKA_RELAY_DENIED, which queued logs and
 *    retries (it never drops the DSN silently).
 *
 * Guarantees: a table that cannot answer (a backend not written yet, a
 * directory down) makes the answer LKA_TEMPFAIL "Temporary lookup
 * failure" with a log line naming the table, never a 5xx.  Everything a
 * decision reads is in one struct lka_tables built by lka_load(); tables
 * that can be listed (file, inline) have their networks, alias targets
 * and transports checked there, so a config that loads does not fail
 * later on a value it could have refused.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "addr.h"
#include "lka.h"
#include "log.h"
#include "table.h"

#define LKA_TEXT_TEMPFAIL	"Temporary lookup failure"

struct lka_rule {
	enum rule_kind		 kind;
	struct table		*match;		/* domains or networks */
	struct netlist	 nets;		/* relay from, listed tables */
	struct table		*recipients[CONF_RULE_TABLES];
	size_t			 nrecipients;
	struct table		*aliases;
	struct table		*via_table;
	char			 via[LKA_RELAY_MAX];	/* literal, "" none */
};

struct lka_tables {
	struct table		**tables;
	size_t			  ntables;
	struct table		**auth;		/* credentials of listeners */
	size_t			  nauth;
	struct lka_rule		 *rules;
	size_t			  nrules;
	char			  origin[CONF_STR_MAX];
	int			  show_table_name;
};

/* ---- results ---- */

void
lka_result_init(struct lka_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = LKA_TEMPFAIL;
}

void
lka_result_free(struct lka_result *r)
{
	free(r->rcpts);
	lka_result_init(r);
}

void
lka_result_set(struct lka_result *r, enum lka_status status,
    const char *text)
{
	r->status = status;
	strlcpy(r->text, text, sizeof(r->text));
	if (status != LKA_RELAY)
		r->nrcpts = 0;
}

int
lka_result_add(struct lka_result *r, const char *addr)
{
	struct lka_rcpt	*v;
	size_t		 i, cap;

	for (i = 0; i < r->nrcpts; i++)
		if (strcasecmp(r->rcpts[i].addr, addr) == 0)
			return 0;
	if (r->nrcpts >= LKA_EXPAND_MAX)
		return -1;
	if (r->nrcpts == r->cap) {
		cap = r->cap ? r->cap * 2 : 4;
		if ((v = reallocarray(r->rcpts, cap, sizeof(*v))) == NULL)
			return -1;
		r->rcpts = v;
		r->cap = cap;
	}
	if (strlcpy(r->rcpts[r->nrcpts].addr, addr,
	    sizeof(r->rcpts[r->nrcpts].addr)) >= sizeof(r->rcpts[0].addr))
		return -1;
	r->rcpts[r->nrcpts].relay[0] = '\0';
	r->nrcpts++;
	return 0;
}

/* ---- transports ---- */

static int
lka_printable(const char *s, int spaces)
{
	for (; *s != '\0'; s++)
		if (*s < (spaces ? 0x20 : 0x21) || *s > 0x7e)
			return 0;
	return 1;
}

/*
 * A transport value (table or literal via) for a recipient in domain:
 * LKA_RELAY with relay set, LKA_REJECT with text set (error:), or
 * LKA_TEMPFAIL with why set when the value cannot be used.
 */
static enum lka_status
lka_transport(const char *value, const char *domain, char *relay,
    size_t relaysz, char *text, size_t textsz, char *why, size_t whysz)
{
	const char	*colon = strchr(value, ':'), *hop;
	size_t		 tlen = colon ? (size_t)(colon - value) : strlen(value);

	hop = colon ? colon + 1 : "";
	if (tlen == 5 && strncasecmp(value, "error", 5) == 0) {
		while (*hop == ' ' || *hop == '\t')
			hop++;
		if (!lka_printable(hop, 1))
			goto bad;
		strlcpy(text, *hop ? hop : "Recipient address rejected",
		    textsz);
		return LKA_REJECT;
	}
	if (!(tlen == 0 && colon != NULL) &&
	    !(tlen == 4 && strncasecmp(value, "smtp", 4) == 0) &&
	    !(tlen == 5 && strncasecmp(value, "relay", 5) == 0)) {
		snprintf(why, whysz, "unsupported transport \"%s\"", value);
		return LKA_TEMPFAIL;
	}
	if (*hop == '\0')
		hop = domain;
	if (!lka_printable(hop, 0))
		goto bad;
	if ((size_t)snprintf(relay, relaysz, "smtp:%s", hop) >= relaysz) {
		snprintf(why, whysz, "relay too long for \"%s\"", value);
		return LKA_TEMPFAIL;
	}
	return LKA_RELAY;
bad:
	snprintf(why, whysz, "invalid transport \"%s\"", value);
	return LKA_TEMPFAIL;
}

/* The relay of one final recipient under rule; see 5. at the top. */
static enum lka_status
lka_via(struct lka_rule *rule, struct lka_rcpt *rc, struct lka_result *out)
{
	const char	*value = NULL, *domain;
	char		 why[512], text[LKA_TEXT_MAX], lc[ADDR_DOMAIN_MAX + 1];
	enum lka_status	 s;
	size_t		 i;

	domain = strrchr(rc->addr, '@') + 1;
	for (i = 0; domain[i] != '\0' && i + 1 < sizeof(lc); i++)
		lc[i] = (domain[i] >= 'A' && domain[i] <= 'Z') ?
		    domain[i] - 'A' + 'a' : domain[i];
	lc[i] = '\0';
	lka_trace(out->trace, 1, "<%s>:", rc->addr);
	if (rule->via[0] != '\0') {
		value = rule->via;
		lka_trace(out->trace, 2, "the rule's via \"%s\"", value);
	} else if (rule->via_table != NULL) {
		enum table_res r;

		r = table_lookup(rule->via_table, rc->addr, &value);
		lka_trace_lookup(out->trace, 2, rule->via_table, rc->addr, r,
		    value);
		if (r == TABLE_NOTFOUND) {
			r = table_lookup_domain(rule->via_table, lc, 1, &value);
			lka_trace_lookup(out->trace, 2, rule->via_table,
			    lc, r, value);
		}
		if (r == TABLE_FAIL) {
			lka_result_set(out, LKA_TEMPFAIL, LKA_TEXT_TEMPFAIL);
			return LKA_TEMPFAIL;
		}
	}
	if (value == NULL) {
		value = "smtp:";
		lka_trace(out->trace, 2, "no transport entry: the default, "
		    "the domain's MX");
	}
	s = lka_transport(value, lc, rc->relay, sizeof(rc->relay), text,
	    sizeof(text), why, sizeof(why));
	if (s == LKA_RELAY)
		lka_trace(out->trace, 2, "transport: %s", rc->relay);
	else if (s == LKA_REJECT)
		lka_trace(out->trace, 2, "transport error: rejects the RCPT: "
		    "\"%s\"", text);
	else
		lka_trace(out->trace, 2, "unusable transport: %s", why);
	if (s == LKA_TEMPFAIL) {
		log_warnx("table %s: <%s>: %s", rule->via_table ?
		    rule->via_table->name : "(via)", rc->addr, why);
		lka_result_set(out, LKA_TEMPFAIL, LKA_TEXT_TEMPFAIL);
	} else if (s == LKA_REJECT)
		lka_result_set(out, LKA_REJECT, text);
	return s;
}

static void
lka_route(struct lka_rule *rule, struct lka_result *out)
{
	size_t i;

	lka_trace(out->trace, 0, "transports (%s):", rule->via[0] ?
	    "the rule's via" : rule->via_table ? "via table" : "no via");
	for (i = 0; i < out->nrcpts; i++)
		if (lka_via(rule, &out->rcpts[i], out) != LKA_RELAY)
			return;
	lka_result_set(out, LKA_RELAY, "");
}

/* ---- the decision ---- */

/* Whether addr ("local@domain") is a valid recipient of rule: 1 yes,
 * 0 no, -1 a table failed. */
static int
lka_valid(struct lka_tables *lt, struct lka_rule *rule, const char *addr,
    struct lka_trace *tr)
{
	const char	*at = strrchr(addr, '@'), *v;
	enum table_res	 r;
	size_t		 i;

	lka_trace(tr, 0, "recipient <%s>:", addr);
	if (rule->aliases != NULL) {
		r = lka_alias_lookup(rule->aliases, lt->origin, addr, &v);
		lka_trace_lookup(tr, 1, rule->aliases, addr, r, v);
		if (r != TABLE_NOTFOUND)
			return r == TABLE_FOUND ? 1 : -1;
	}
	if (rule->nrecipients == 0) {
		lka_trace(tr, 1, "the rule has no recipients table: every "
		    "user is valid");
		return 1;
	}
	for (i = 0; i < rule->nrecipients; i++) {
		r = table_lookup(rule->recipients[i], addr, &v);
		lka_trace_lookup(tr, 1, rule->recipients[i], addr, r, v);
		if (r == TABLE_NOTFOUND) {
			r = table_lookup(rule->recipients[i], at, &v);
			lka_trace_lookup(tr, 1, rule->recipients[i], at, r, v);
		}
		if (r != TABLE_NOTFOUND)
			return r == TABLE_FOUND ? 1 : -1;
	}
	lka_trace(tr, 1, "in none of the rule's recipients tables");
	return 0;
}

static void
lka_relay_for(struct lka_tables *lt, struct lka_rule *rule, const char *addr,
    struct lka_result *out)
{
	char text[LKA_TEXT_MAX];

	switch (lka_valid(lt, rule, addr, out->trace)) {
	case -1:
		lka_result_set(out, LKA_TEMPFAIL, LKA_TEXT_TEMPFAIL);
		return;
	case 0:
		if (lt->show_table_name)
			snprintf(text, sizeof(text), "User unknown in relay "
			    "recipient table <%s>", rule->recipients[0]->name);
		else
			strlcpy(text, "User unknown", sizeof(text));
		lka_result_set(out, LKA_UNKNOWN_USER, text);
		return;
	}
	if (rule->aliases != NULL) {
		lka_trace(out->trace, 0, "alias expansion (table <%s>):",
		    rule->aliases->name);
		if (lka_alias_expand(rule->aliases, lt->origin, addr, out) !=
		    LKA_RELAY)
			return;
	} else if (lka_result_add(out, addr) == -1) {
		lka_result_set(out, LKA_TEMPFAIL, LKA_TEXT_TEMPFAIL);
		return;
	}
	lka_route(rule, out);
}

/* Rule 4: the bare postmaster of an origin we do not relay for.  0 when
 * decided, -1 when there is no `relay for` rule to take it. */
static int
lka_postmaster(struct lka_tables *lt, const char *addr, struct lka_result *out)
{
	struct lka_rule	*rule;
	size_t		 i;

	for (i = 0; i < lt->nrules; i++) {
		rule = &lt->rules[i];
		if (rule->kind != RULE_RELAY_FOR)
			continue;
		lka_trace(out->trace, 0, "rule 4: a bare <postmaster> is "
		    "always accepted; relay rule %zu takes it", i + 1);
		if (lka_valid(lt, rule, addr, out->trace) != 0)
			lka_relay_for(lt, rule, addr, out);
		else if (lka_result_add(out, addr) == 0) {
			lka_trace(out->trace, 1, "relayed as it is (rule 4)");
			lka_route(rule, out);
		}
		else
			lka_result_set(out, LKA_TEMPFAIL, LKA_TEXT_TEMPFAIL);
		return 0;
	}
	return -1;
}

/* Whether the client is in the rule's networks: 1, 0, -1 table failed. */
static int
lka_from_match(struct lka_rule *rule, const char *client,
    const struct netaddr *ca)
{
	enum table_res r;

	if (table_can_list(rule->match))
		return netlist_match(&rule->nets, ca);
	/* a directory cannot be listed: the address itself is the key */
	if ((r = table_lookup(rule->match, client, NULL)) == TABLE_FAIL)
		return -1;
	return r == TABLE_FOUND;
}

/* addr = rcpt, qualified with the origin if it is a bare postmaster.
 * 0, or -1 if rcpt is not a mailbox. */
static int
lka_qualify(struct lka_tables *lt, const char *rcpt, char *addr,
    size_t addrsz)
{
	struct mailaddr ma;

	if (strchr(rcpt, '@') == NULL) {
		if (strcasecmp(rcpt, "postmaster") != 0)
			return -1;
		if ((size_t)snprintf(addr, addrsz, "%s@%s", rcpt,
		    lt->origin) >= addrsz)
			return -1;
	} else if (strlcpy(addr, rcpt, addrsz) >= addrsz)
		return -1;
	return addr_parse_flags(addr, &ma, ADDR_UTF8);	/* smtpd checked SMTPUTF8 */
}

/* Rules 2-5 at the top of the file, each step told to out->trace. */
static int
lka_decide_rules(struct lka_tables *lt, const char *client,
    const char *rcpt, const char *authuser, struct lka_result *out)
{
	struct lka_trace *tr = out->trace;
	struct netaddr	 ca;
	struct lka_rule	*rule;
	char		 addr[LKA_ADDR_MAX];
	const char	*domain;
	size_t		 i;
	int		 m;

	out->nrcpts = 0;
	lka_result_set(out, LKA_TEMPFAIL, LKA_TEXT_TEMPFAIL);
	if (netaddr_host(client, &ca) == -1 ||
	    lka_qualify(lt, rcpt, addr, sizeof(addr)) == -1)
		return -1;
	if (strchr(rcpt, '@') == NULL)
		lka_trace(tr, 0, "bare <%s> qualified with the origin: <%s>",
		    rcpt, addr);
	domain = strrchr(addr, '@') + 1;
	for (i = 0; i < lt->nrules; i++) {
		rule = &lt->rules[i];
		if (rule->kind != RULE_RELAY_FOR)
			continue;
		switch (table_lookup_domain(rule->match, domain, 0, NULL)) {
		case TABLE_FAIL:
			lka_trace(tr, 0, "relay rule %zu (relay for <%s>, %s): "
			    "lookup of %s FAILED", i + 1, rule->match->name,
			    table_kind_name(rule->match), domain);
			return 0;
		case TABLE_FOUND:
			lka_trace(tr, 0, "relay rule %zu (relay for <%s>, %s): "
			    "domain %s is listed: this rule decides", i + 1,
			    rule->match->name, table_kind_name(rule->match),
			    domain);
			lka_relay_for(lt, rule, addr, out);
			return 0;
		case TABLE_NOTFOUND:
			lka_trace(tr, 0, "relay rule %zu (relay for <%s>, %s): "
			    "domain %s is not listed", i + 1, rule->match->name,
			    table_kind_name(rule->match), domain);
			break;
		}
	}
	for (i = 0; i < lt->nrules; i++) {
		rule = &lt->rules[i];
		if (rule->kind == RULE_RELAY_FOR)
			continue;
		if (rule->kind == RULE_RELAY_AUTH) {
			lka_trace(tr, 0, "relay rule %zu (relay from "
			    "authenticated): the client is %s", i + 1,
			    authuser[0] != '\0' ? "authenticated: this rule "
			    "decides, no alias expansion" : "not authenticated");
			if (authuser[0] == '\0')
				continue;
			if (lka_result_add(out, addr) == 0)
				lka_route(rule, out);
			return 0;
		}
		if ((m = lka_from_match(rule, client, &ca)) == -1) {
			lka_trace(tr, 0, "relay rule %zu (relay from <%s>, %s): "
			    "lookup of %s FAILED", i + 1, rule->match->name,
			    table_kind_name(rule->match), client);
			return 0;
		}
		lka_trace(tr, 0, "relay rule %zu (relay from <%s>, %s): client "
		    "%s is %s", i + 1, rule->match->name,
		    table_kind_name(rule->match), client, m == 1 ?
		    "in these networks: this rule decides, no alias expansion" :
		    "not in these networks");
		if (m == 1) {
			if (lka_result_add(out, addr) == 0)
				lka_route(rule, out);
			return 0;
		}
	}
	if (strchr(rcpt, '@') == NULL && lka_postmaster(lt, addr, out) == 0)
		return 0;
	lka_trace(tr, 0, "no rule: %s is not a relayed domain and client %s "
	    "is not trusted", domain, client);
	lka_result_set(out, LKA_RELAY_DENIED, "Relay access denied");
	return 0;
}

int
lka_route_local(struct lka_tables *lt, const char *rcpt,
    struct lka_result *out)
{
	struct lka_rule	*rule = NULL;
	char		 addr[LKA_ADDR_MAX];
	const char	*domain;
	size_t		 i;

	out->nrcpts = 0;
	lka_result_set(out, LKA_TEMPFAIL, LKA_TEXT_TEMPFAIL);
	if (lka_qualify(lt, rcpt, addr, sizeof(addr)) == -1)
		return -1;
	domain = strrchr(addr, '@') + 1;
	for (i = 0; i < lt->nrules && rule == NULL; i++) {
		if (lt->rules[i].kind != RULE_RELAY_FOR)
			continue;
		switch (table_lookup_domain(lt->rules[i].match, domain, 0,
		    NULL)) {
		case TABLE_FAIL:
			return 0;
		case TABLE_FOUND:
			rule = &lt->rules[i];
			break;
		case TABLE_NOTFOUND:
			break;
		}
	}
	for (i = 0; i < lt->nrules && rule == NULL; i++)
		if (lt->rules[i].kind == RULE_RELAY_FROM)
			rule = &lt->rules[i];
	if (rule == NULL) {
		lka_result_set(out, LKA_RELAY_DENIED,
		    "no transport rule for a message from this host");
		return 0;
	}
	if (lka_result_add(out, addr) == 0)
		lka_route(rule, out);
	return 0;
}

/* The decision for a client that authenticated as authuser ("": not). */
static int
lka_decide_common(struct lka_tables *lt, const char *client,
    const char *rcpt, const char *authuser, struct lka_result *out,
    struct lka_trace *tr)
{
	int rc;

	out->trace = tr;
	rc = lka_decide_rules(lt, client, rcpt, authuser, out);
	out->trace = NULL;
	return rc;
}

int
lka_decide_trace(struct lka_tables *lt, const char *client,
    const char *sender, const char *rcpt, struct lka_result *out,
    struct lka_trace *tr)
{
	return lka_decide_common(lt, client, rcpt, "", out, tr);
}

int
lka_decide(struct lka_tables *lt, const char *client, const char *sender,
    const char *rcpt, struct lka_result *out)
{
	return lka_decide_common(lt, client, rcpt, "", out, NULL);
}

int
lka_decide_auth(struct lka_tables *lt, const char *client,
    const char *sender, const char *rcpt, const char *authuser,
    struct lka_result *out)
{
	return lka_decide_common(lt, client, rcpt, authuser, out, NULL);
}

/* ---- loading ---- */

struct lka_check {
	struct table	*t;
	const char	*origin;
	int		 kind;		/* 'n' networks, 'a' aliases, 't' via */
	struct netlist *nets;
	char		*err;
	size_t		 errsz;
};

static int
lka_check_entry(void *arg, const char *key, const char *value, size_t lineno)
{
	struct lka_check	*c = arg;
	char			 why[512], relay[LKA_RELAY_MAX];
	char			 text[LKA_TEXT_MAX];
	int			 rc = 0;

	switch (c->kind) {
	case 'n':
		rc = netlist_add(c->nets, key, why, sizeof(why));
		break;
	case 'a':
		rc = lka_alias_check(value, c->origin, why, sizeof(why));
		break;
	case 't':
		if (lka_transport(value, "example.com", relay, sizeof(relay),
		    text, sizeof(text), why, sizeof(why)) == LKA_TEMPFAIL)
			rc = -1;
		break;
	}
	if (rc == 0)
		return 0;
	if (lineno > 0)
		snprintf(c->err, c->errsz, "%s:%zu: %s", c->t->path, lineno,
		    why);
	else
		snprintf(c->err, c->errsz, "table %s: %s", c->t->name, why);
	return -1;
}

/* Check every entry of t for its use (kind, see struct lka_check). */
static int
lka_check_table(struct lka_tables *lt, struct table *t, int kind,
    struct netlist *nets, char *err, size_t errsz)
{
	struct lka_check c = { t, lt->origin, kind, nets, err, errsz };

	if (!table_can_list(t))
		return 0;		/* checked at each lookup instead */
	return table_foreach(t, lka_check_entry, &c);
}

static struct table *
lka_table(struct lka_tables *lt, const char *name)
{
	size_t i;

	for (i = 0; i < lt->ntables; i++)
		if (strcmp(lt->tables[i]->name, name) == 0)
			return lt->tables[i];
	return NULL;
}

/* Resolve one rule; err is complete ("relay rule N: ..." or
 * "file:line: ..."). */
static int
lka_load_rule(struct lka_tables *lt, const struct rule_conf *rc,
    struct lka_rule *rule, size_t num, char *err, size_t errsz)
{
	char		 why[512] = "", relay[LKA_RELAY_MAX];
	char		 text[LKA_TEXT_MAX];
	const char	*name;
	size_t		 i;

	rule->kind = rc->kind;
	if (rc->kind != RULE_RELAY_AUTH &&
	    (rule->match = lka_table(lt, name = rc->match)) == NULL)
		goto unknown;
	for (i = 0; i < rc->nrecipients && i < CONF_RULE_TABLES; i++)
		if ((rule->recipients[i] = lka_table(lt,
		    name = rc->recipients[i])) == NULL)
			goto unknown;
	rule->nrecipients = i;
	if (rc->aliases[0] != '\0' &&
	    (rule->aliases = lka_table(lt, name = rc->aliases)) == NULL)
		goto unknown;
	if (rc->via_table[0] != '\0' &&
	    (rule->via_table = lka_table(lt, name = rc->via_table)) == NULL)
		goto unknown;
	if (strlcpy(rule->via, rc->via, sizeof(rule->via)) >=
	    sizeof(rule->via) || (rc->via[0] != '\0' && lka_transport(rc->via,
	    "example.com", relay, sizeof(relay), text, sizeof(text), why,
	    sizeof(why)) == LKA_TEMPFAIL)) {
		snprintf(err, errsz, "relay rule %zu: via \"%s\": %s", num,
		    rc->via, why[0] ? why : "too long");
		return -1;
	}
	if (rc->kind == RULE_RELAY_FROM && lka_check_table(lt, rule->match,
	    'n', &rule->nets, err, errsz) == -1)
		return -1;
	if (rule->aliases != NULL && lka_check_table(lt, rule->aliases, 'a',
	    NULL, err, errsz) == -1)
		return -1;
	if (rule->via_table != NULL && lka_check_table(lt, rule->via_table,
	    't', NULL, err, errsz) == -1)
		return -1;
	return 0;
unknown:
	snprintf(err, errsz, "relay rule %zu: unknown table <%s>", num, name);
	return -1;
}

static int
lka_load_tables(struct lka_tables *lt, const struct mxgate_conf *conf,
    char *err, size_t errsz)
{
	const struct table_conf	*tc;
	struct table		*t;
	size_t			 n = 0;

	TAILQ_FOREACH(tc, &conf->tables, entry)
		n++;
	if ((lt->tables = calloc(n ? n : 1, sizeof(*lt->tables))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	TAILQ_FOREACH(tc, &conf->tables, entry) {
		if ((t = table_open(tc, err, errsz)) == NULL)
			return -1;
		lt->tables[lt->ntables++] = t;
	}
	return 0;
}

/* The credentials tables of `listen ... auth <table>', checked. */
static int
lka_load_auth(struct lka_tables *lt, const struct mxgate_conf *conf,
    char *err, size_t errsz)
{
	const struct listen_conf	*l;
	struct table			*t;
	size_t				 n = 0, i;

	TAILQ_FOREACH(l, &conf->listeners, entry)
		n++;
	if ((lt->auth = calloc(n ? n : 1, sizeof(*lt->auth))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->auth_table[0] == '\0')
			continue;
		if ((t = lka_table(lt, l->auth_table)) == NULL) {
			snprintf(err, errsz, "listen on %s port %u: unknown "
			    "table <%s>", l->addr, l->port, l->auth_table);
			return -1;
		}
		for (i = 0; i < lt->nauth; i++)
			if (lt->auth[i] == t)
				break;
		if (i < lt->nauth)
			continue;
		if (lka_auth_check_table(t, err, errsz) == -1)
			return -1;
		lt->auth[lt->nauth++] = t;
	}
	return 0;
}

struct table *
lka_auth_table(struct lka_tables *lt, const char *name)
{
	size_t	 i;

	for (i = 0; i < lt->nauth; i++)
		if (strcmp(lt->auth[i]->name, name) == 0)
			return lt->auth[i];
	return NULL;
}

/* Once everything is in: one line per table. */
static void
lka_log_tables(const struct lka_tables *lt)
{
	const struct table	*t;
	size_t			 i;

	for (i = 0; i < lt->ntables; i++) {
		t = lt->tables[i];
		if (t->type == TABLE_FILE || t->type == TABLE_CDB)
			log_info("table %s: loaded %zu entries from %s",
			    t->name, t->nentries, t->path);
		else if (t->type == TABLE_INLINE)
			log_debug("table %s: %zu inline entries", t->name,
			    t->nentries);
	}
}

struct lka_tables *
lka_load(const struct mxgate_conf *conf, char *err, size_t errsz)
{
	struct lka_tables	*lt;
	const struct rule_conf	*rc;
	struct mailaddr		 ma;
	char			 pm[LKA_ADDR_MAX];
	size_t			 n = 0;

	if ((lt = calloc(1, sizeof(*lt))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	strlcpy(lt->origin, conf->origin, sizeof(lt->origin));
	lt->show_table_name = conf->show_table_name;
	if ((size_t)snprintf(pm, sizeof(pm), "postmaster@%s", lt->origin) >=
	    sizeof(pm) || addr_parse(pm, &ma) == -1) {
		snprintf(err, errsz, "origin \"%s\" is not a domain",
		    conf->origin);
		goto fail;
	}
	if (lka_load_tables(lt, conf, err, errsz) == -1)
		goto fail;
	TAILQ_FOREACH(rc, &conf->rules, entry)
		n++;
	if ((lt->rules = calloc(n ? n : 1, sizeof(*lt->rules))) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	TAILQ_FOREACH(rc, &conf->rules, entry) {
		lt->nrules++;
		if (lka_load_rule(lt, rc, &lt->rules[lt->nrules - 1],
		    lt->nrules, err, errsz) == -1)
			goto fail;
	}
	if (lka_load_auth(lt, conf, err, errsz) == -1)
		goto fail;
	lka_log_tables(lt);
	return lt;
fail:
	lka_free(lt);
	return NULL;
}

void
lka_free(struct lka_tables *lt)
{
	size_t i;

	if (lt == NULL)
		return;
	for (i = 0; i < lt->nrules; i++)
		netlist_free(&lt->rules[i].nets);
	for (i = 0; i < lt->ntables; i++)
		table_close(lt->tables[i]);
	free(lt->rules);
	free(lt->tables);
	free(lt->auth);
	free(lt);
}

size_t
lka_ntables(const struct lka_tables *lt)
{
	return lt->ntables;
}

/* ---- smtpctl and the table watch: one table at a time ---- */

struct table *
lka_table_at(const struct lka_tables *lt, size_t i)
{
	return i < lt->ntables ? lt->tables[i] : NULL;
}

struct table *
lka_table_named(const struct lka_tables *lt, const char *name)
{
	return lka_table((struct lka_tables *)lt, name);
}

/* The counters of from go on in to (loaded stays to's). */
static void
lka_stats_add(struct table *to, const struct table *from)
{
	to->stats.lookups += from->stats.lookups;
	to->stats.hits += from->stats.hits;
	to->stats.misses += from->stats.misses;
	to->stats.errors += from->stats.errors;
}

void
lka_stats_carry(struct lka_tables *new, const struct lka_tables *old)
{
	struct table	*t, *o;
	size_t		 i;

	if (old == NULL)
		return;
	for (i = 0; i < new->ntables; i++) {
		t = new->tables[i];
		if ((o = lka_table_named(old, t->name)) != NULL)
			lka_stats_add(t, o);
	}
}

/* lka_load_rule()'s checks of the uses rule makes of old, run on t. */
static int
lka_check_use(struct lka_tables *lt, struct lka_rule *rule,
    struct table *old, struct table *t, struct netlist *nets, char *err,
    size_t errsz)
{
	if (rule->kind == RULE_RELAY_FROM && rule->match == old &&
	    lka_check_table(lt, t, 'n', nets, err, errsz) == -1)
		return -1;
	if (rule->aliases == old &&
	    lka_check_table(lt, t, 'a', NULL, err, errsz) == -1)
		return -1;
	if (rule->via_table == old &&
	    lka_check_table(lt, t, 't', NULL, err, errsz) == -1)
		return -1;
	return 0;
}

/* Every use of old by rule becomes t (nets: its new networks). */
static void
lka_swap_use(struct lka_rule *rule, struct table *old, struct table *t,
    struct netlist *nets)
{
	size_t j;

	if (rule->match == old) {
		rule->match = t;
		if (rule->kind == RULE_RELAY_FROM) {
			netlist_free(&rule->nets);
			rule->nets = *nets;
			memset(nets, 0, sizeof(*nets));
		}
	}
	for (j = 0; j < rule->nrecipients; j++)
		if (rule->recipients[j] == old)
			rule->recipients[j] = t;
	if (rule->aliases == old)
		rule->aliases = t;
	if (rule->via_table == old)
		rule->via_table = t;
}

int
lka_reload_table(struct lka_tables *lt, const struct table_conf *tc,
    char *err, size_t errsz)
{
	struct table	*old, *t;
	struct netlist	*nets;
	size_t		 i, idx;
	int		 rc = -1;

	for (idx = 0; idx < lt->ntables; idx++)
		if (strcmp(lt->tables[idx]->name, tc->name) == 0)
			break;
	if (idx == lt->ntables) {
		snprintf(err, errsz, "table %s: not loaded", tc->name);
		return -1;
	}
	old = lt->tables[idx];
	if ((nets = calloc(lt->nrules + 1, sizeof(*nets))) == NULL) {
		snprintf(err, errsz, "table %s: out of memory", tc->name);
		return -1;
	}
	if ((t = table_open(tc, err, errsz)) == NULL)
		goto done;
	for (i = 0; i < lt->nrules; i++)
		if (lka_check_use(lt, &lt->rules[i], old, t, &nets[i], err,
		    errsz) == -1) {
			table_close(t);
			goto done;
		}
	for (i = 0; i < lt->nauth; i++)
		if (lt->auth[i] == old &&
		    lka_auth_check_table(t, err, errsz) == -1) {
			table_close(t);
			goto done;
		}
	/* everything is checked: from here on nothing can fail */
	for (i = 0; i < lt->nrules; i++)
		lka_swap_use(&lt->rules[i], old, t, &nets[i]);
	for (i = 0; i < lt->nauth; i++)
		if (lt->auth[i] == old)
			lt->auth[i] = t;
	lt->tables[idx] = t;
	lka_stats_add(t, old);
	table_close(old);
	rc = 0;
done:
	for (i = 0; i < lt->nrules; i++)
		netlist_free(&nets[i]);
	free(nets);
	return rc;
}
