/*
 * RFC 5321 path parsing: what must pass, what must not.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "test.h"

/* path, allow_null, expected local, expected domain (NULL: must fail) */
struct pcase {
	const char	*path;
	int		 allow_null;
	const char	*local, *domain;
};

static const struct pcase paths[] = {
	{ "<user@example.com>", 0, "user", "example.com" },
	{ "<User.Name+tag@Example.COM>", 0, "User.Name+tag", "Example.COM" },
	{ "<a!#$%&'*+-/=?^_`{|}~z@x.y>", 0, "a!#$%&'*+-/=?^_`{|}~z", "x.y" },
	{ "<u@localhost>", 0, "u", "localhost" },
	{ "<u@a-b.c-d.e>", 0, "u", "a-b.c-d.e" },
	{ "<u@123.example>", 0, "u", "123.example" },
	{ "<>", 1, "", "" },
	{ "<>", 0, NULL, NULL },
	{ "<postmaster>", 0, "postmaster", "" },
	{ "<PostMaster>", 1, "PostMaster", "" },
	{ "<postmaster@example.com>", 0, "postmaster", "example.com" },
	{ "<abuse>", 0, NULL, NULL },
	{ "<\"postmaster\">", 0, NULL, NULL },
	{ "<@relay.example:postmaster>", 0, NULL, NULL },
	/* source routes */
	{ "<@a.example:user@d.example>", 0, "user", "d.example" },
	{ "<@a.example,@b.example:user@d.example>", 0, "user", "d.example" },
	{ "<@a.example,b.example:user@d.example>", 0, NULL, NULL },
	{ "<@a.example:>", 0, NULL, NULL },
	{ "<@:user@d.example>", 0, NULL, NULL },
	{ "<@a.example user@d.example>", 0, NULL, NULL },
	/* quoted local parts */
	{ "<\"john doe\"@example.com>", 0, "\"john doe\"", "example.com" },
	{ "<\"a\\\"b\\\\c\"@x.y>", 0, "\"a\\\"b\\\\c\"", "x.y" },
	{ "<\"a@b\"@x.y>", 0, "\"a@b\"", "x.y" },
	{ "<\"\"@x.y>", 0, "\"\"", "x.y" },
	{ "<\"unterminated@x.y>", 0, NULL, NULL },
	{ "<\"tab\there\"@x.y>", 0, NULL, NULL },
	{ "<\"esc\\\x01\"@x.y>", 0, NULL, NULL },
	{ "<\"a\"b@x.y>", 0, NULL, NULL },
	/* address literals */
	{ "<u@[192.0.2.1]>", 0, "u", "[192.0.2.1]" },
	{ "<u@[IPv6:2001:db8::1]>", 0, "u", "[IPv6:2001:db8::1]" },
	{ "<u@[ipv6:::1]>", 0, "u", "[ipv6:::1]" },
	{ "<u@[IPv6:::ffff:192.0.2.1]>", 0, "u", "[IPv6:::ffff:192.0.2.1]" },
	{ "<u@[192.0.2.256]>", 0, NULL, NULL },
	{ "<u@[192.0.2]>", 0, NULL, NULL },
	{ "<u@[2001:db8::1]>", 0, NULL, NULL },
	{ "<u@[IPv6:2001:db8::g]>", 0, NULL, NULL },
	{ "<u@[x400:foo]>", 0, NULL, NULL },
	{ "<u@[]>", 0, NULL, NULL },
	{ "<u@[192.0.2.1>", 0, NULL, NULL },
	{ "<u@[192.0.2.1].com>", 0, NULL, NULL },
	/* bad local parts */
	{ "<.user@x.y>", 0, NULL, NULL },
	{ "<user.@x.y>", 0, NULL, NULL },
	{ "<us..er@x.y>", 0, NULL, NULL },
	{ "<@x.y>", 0, NULL, NULL },
	{ "<us er@x.y>", 0, NULL, NULL },
	{ "<us(er)@x.y>", 0, NULL, NULL },
	{ "<us,er@x.y>", 0, NULL, NULL },
	{ "<us<er@x.y>", 0, NULL, NULL },
	{ "<us\x7f@x.y>", 0, NULL, NULL },
	{ "<us\r\n@x.y>", 0, NULL, NULL },
	{ "<us\xc3\xa9r@x.y>", 0, NULL, NULL },
	/* bad domains */
	{ "<user@example.com.>", 0, NULL, NULL },
	{ "<user@.example.com>", 0, NULL, NULL },
	{ "<user@example..com>", 0, NULL, NULL },
	{ "<user@>", 0, NULL, NULL },
	{ "<user>", 0, NULL, NULL },
	{ "<user@-example.com>", 0, NULL, NULL },
	{ "<user@example-.com>", 0, NULL, NULL },
	{ "<user@exa_mple.com>", 0, NULL, NULL },
	{ "<user@exa mple.com>", 0, NULL, NULL },
	{ "<user@example.com >", 0, NULL, NULL },
	{ "<user@ex\tample.com>", 0, NULL, NULL },
	{ "<user@ex\x01.com>", 0, NULL, NULL },
	{ "<user@ex\xc3\xa9.com>", 0, NULL, NULL },
	{ "<user@example.com<>", 0, NULL, NULL },
	{ "<user@a@b.com>", 0, NULL, NULL },
	/* framing */
	{ "user@example.com", 0, NULL, NULL },
	{ " <user@example.com>", 0, NULL, NULL },
	{ "<user@example.com", 0, NULL, NULL },
	{ "<", 1, NULL, NULL },
	{ "", 1, NULL, NULL },
	{ "<<user@example.com>>", 0, NULL, NULL },
};

static void
strlcat_safe(char *dst, const char *src, size_t len)
{
	size_t n = strlen(dst);

	snprintf(dst + n, len - n, "%s", src);
}

/* A test name with the path's control and 8-bit bytes as \xNN. */
static void
show(char *name, size_t len, size_t i, const struct pcase *c)
{
	const unsigned char *p;
	size_t n;

	n = snprintf(name, len, "path %zu ", i);
	for (p = (const unsigned char *)c->path; *p && n + 5 < len; p++)
		if (*p < 0x20 || *p >= 0x7f)
			n += snprintf(name + n, len - n, "\\x%02x", *p);
		else
			name[n++] = *p;
	name[n] = '\0';
	if (c->allow_null)
		strlcat_safe(name, " (null ok)", len);
}

static void
test_paths(void)
{
	struct mailaddr a;
	const char *end;
	char name[160];
	size_t i;
	int r;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const struct pcase *c = &paths[i];

		show(name, sizeof(name), i, c);
		end = NULL;
		r = addr_parse_path(c->path, &a, c->allow_null, &end);
		if (c->local == NULL)
			t_check(r == -1, name, "accepted as '%s' '%s'",
			    a.local, a.domain);
		else
			t_check(r == 0 && strcmp(a.local, c->local) == 0 &&
			    strcmp(a.domain, c->domain) == 0 && end != NULL &&
			    *end == '\0', name, "r %d local '%s' domain '%s'",
			    r, a.local, a.domain);
	}
}

static void
fill(char *buf, size_t n, char c)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

static void
test_lengths(void)
{
	struct mailaddr a;
	char local[100], label[100], path[600];

	fill(local, 64, 'l');
	snprintf(path, sizeof(path), "<%s@x.y>", local);
	T_OK(addr_parse_path(path, &a, 0, NULL) == 0, "local part of 64 ok");
	fill(local, 65, 'l');
	snprintf(path, sizeof(path), "<%s@x.y>", local);
	T_OK(addr_parse_path(path, &a, 0, NULL) == -1,
	    "local part of 65 refused");
	fill(local, 62, ' ');
	snprintf(path, sizeof(path), "<\"%s\"@x.y>", local);
	T_OK(addr_parse_path(path, &a, 0, NULL) == 0 && strlen(a.local) == 64,
	    "quoted local part of 64 ok");
	fill(local, 63, ' ');
	snprintf(path, sizeof(path), "<\"%s\"@x.y>", local);
	T_OK(addr_parse_path(path, &a, 0, NULL) == -1,
	    "quoted local part of 65 refused");

	fill(label, 63, 'd');
	snprintf(path, sizeof(path), "<u@%s.com>", label);
	T_OK(addr_parse_path(path, &a, 0, NULL) == 0, "label of 63 ok");
	fill(label, 64, 'd');
	snprintf(path, sizeof(path), "<u@%s.com>", label);
	T_OK(addr_parse_path(path, &a, 0, NULL) == -1, "label of 64 refused");

	/* 4 labels of 62 + 3 dots = 251: domain fits, mailbox u@ 253 fits */
	fill(label, 62, 'd');
	snprintf(path, sizeof(path), "<u@%s.%s.%s.%s>", label, label, label,
	    label);
	T_OK(addr_parse_path(path, &a, 0, NULL) == 0 && strlen(a.domain) == 251,
	    "domain of 251, path of 255 ok");
	snprintf(path, sizeof(path), "<uu@%s.%s.%s.%s>", label, label, label,
	    label);
	T_OK(addr_parse_path(path, &a, 0, NULL) == 0, "path of 256 ok");
	snprintf(path, sizeof(path), "<uuu@%s.%s.%s.%s>", label, label, label,
	    label);
	T_OK(addr_parse_path(path, &a, 0, NULL) == -1, "path of 257 refused");
	snprintf(path, sizeof(path), "<u@%s.%s.%s.%s.abcd>", label, label,
	    label, label);
	T_OK(addr_parse_path(path, &a, 0, NULL) == -1,
	    "domain of 256 refused");
}

static void
test_endp(void)
{
	struct mailaddr a;
	const char *s = "<a@b.c> SIZE=100", *end = NULL;

	T_OK(addr_parse_path(s, &a, 0, &end) == 0 && end == s + 7,
	    "endp points after '>'");
	s = "<> BODY=8BITMIME";
	T_OK(addr_parse_path(s, &a, 1, &end) == 0 && end == s + 2 &&
	    addr_is_null(&a), "endp after <>");
}

static void
test_parse(void)
{
	struct mailaddr a;

	T_OK(addr_parse("user@Example.COM", &a) == 0 &&
	    strcmp(a.local, "user") == 0 &&
	    strcmp(a.domain, "Example.COM") == 0, "addr_parse plain");
	T_OK(addr_parse("\"j d\"@[10.0.0.1]", &a) == 0, "addr_parse quoted");
	T_OK(addr_parse("<user@example.com>", &a) == -1,
	    "addr_parse refuses brackets");
	T_OK(addr_parse("user@example.com ", &a) == -1,
	    "addr_parse refuses trailing space");
	T_OK(addr_parse("postmaster", &a) == -1,
	    "addr_parse refuses bare postmaster");
	T_OK(addr_parse("", &a) == -1, "addr_parse refuses empty");
	T_OK(addr_parse("user@example.com.", &a) == -1,
	    "addr_parse refuses trailing dot");
	T_OK(addr_parse("a@b@c", &a) == -1, "addr_parse refuses two @");
}

static void
test_format(void)
{
	struct mailaddr a;
	char buf[300], small[8];

	addr_parse_path("<Joe@Example.COM>", &a, 0, NULL);
	addr_lowercase_domain(&a);
	T_OK(addr_format(&a, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "Joe@example.com") == 0,
	    "lowercase domain keeps local part");
	T_OK(addr_format(&a, small, sizeof(small)) == -1,
	    "addr_format truncation fails");
	T_OK(!addr_is_null(&a), "not null");
	addr_parse_path("<>", &a, 1, NULL);
	T_OK(addr_is_null(&a) && addr_format(&a, buf, sizeof(buf)) == 0 &&
	    buf[0] == '\0', "null path formats as empty");
	addr_parse_path("<Postmaster>", &a, 0, NULL);
	T_OK(!addr_is_null(&a) && addr_format(&a, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "Postmaster") == 0, "postmaster formats bare");
	T_OK(addr_parse_path("<bad", &a, 0, NULL) == -1 && addr_is_null(&a),
	    "failed parse leaves an empty address");
}

int
main(void)
{
	test_paths();
	test_lengths();
	test_endp();
	test_parse();
	test_format();
	return t_exit();
}
