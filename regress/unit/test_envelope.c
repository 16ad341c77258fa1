/*
 * queued/envelope.c: the envelope record round-trips, cannot be injected
 * into, and its decoder rejects anything the encoder would not write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../queued/envelope.h"
#include "proto.h"
#include "test.h"

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL) {
		perror("strdup");
		exit(2);
	}
	return p;
}

/* A heap envelope with n recipients. */
static void
make_env(struct envelope *env, const char *sender, const char *helo,
    const char *rcpt, size_t n)
{
	size_t i;

	memset(env, 0, sizeof(*env));
	strcpy(env->id, "4F2A9C1B0E11");
	env->created = 1700000000;
	env->size = 1234;
	env->sender = xstrdup(sender);
	env->helo = xstrdup(helo);
	env->client = xstrdup("192.0.2.1");
	env->nrcpt = n;
	if ((env->rcpt = calloc(n, sizeof(*env->rcpt))) == NULL)
		exit(2);
	for (i = 0; i < n; i++) {
		env->rcpt[i].to = xstrdup(rcpt);
		env->rcpt[i].orig = xstrdup(i == 0 ? "orig@example.com" : "");
		env->rcpt[i].relay = xstrdup("smtp:[127.0.0.1]:2525");
		env->rcpt[i].reply = xstrdup(i == 1 ? "451 4.3.0 try later" : "");
		env->rcpt[i].state = (enum rcpt_state)(i % 4);
		env->rcpt[i].tries = (uint32_t)i * 7;
		env->rcpt[i].next = 1700000000 + (int64_t)i * 300;
		env->rcpt[i].notify = (uint32_t)i % 4 == 0 ? 0 :
		    DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY;
		env->rcpt[i].orcpt = xstrdup(i == 0 ? "rfc822;orig@example.com" :
		    "");
	}
	env->body = MSG_BODY_8BITMIME;
	env->smtputf8 = 1;
	env->ret = DSN_RET_HDRS;
	env->warned = 1;
	if ((env->envid = strndup(helo, ENVELOPE_ENVID_MAX - 1)) == NULL)
		exit(2);
}

static int
env_equal(const struct envelope *a, const struct envelope *b)
{
	const struct envelope_rcpt *ra, *rb;
	size_t i;

	if (strcmp(a->id, b->id) != 0 || a->created != b->created ||
	    a->size != b->size || strcmp(a->sender, b->sender) != 0 ||
	    strcmp(a->helo, b->helo) != 0 ||
	    strcmp(a->client, b->client) != 0 || a->nrcpt != b->nrcpt ||
	    a->body != b->body || a->smtputf8 != b->smtputf8 ||
	    a->ret != b->ret || a->warned != b->warned ||
	    strcmp(a->envid, b->envid) != 0)
		return 0;
	for (i = 0; i < a->nrcpt; i++) {
		ra = &a->rcpt[i];
		rb = &b->rcpt[i];
		if (strcmp(ra->to, rb->to) != 0 ||
		    strcmp(ra->orig, rb->orig) != 0 ||
		    strcmp(ra->relay, rb->relay) != 0 ||
		    strcmp(ra->reply, rb->reply) != 0 ||
		    ra->state != rb->state || ra->tries != rb->tries ||
		    ra->next != rb->next || ra->notify != rb->notify ||
		    strcmp(ra->orcpt, rb->orcpt) != 0)
			return 0;
	}
	return 1;
}

static size_t
count_lines(const char *buf, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += buf[i] == '\n';
	return n;
}

/* Only printable ASCII and '\n'. */
static int
clean_bytes(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((buf[i] < 0x20 || buf[i] > 0x7e) && buf[i] != '\n')
			return 0;
	return 1;
}

static int
decodes(const char *text)
{
	struct envelope env;
	int rv;

	rv = envelope_decode(&env, text, strlen(text), NULL);
	if (rv == 0)
		envelope_clear(&env);
	return rv == 0;
}

static void
test_roundtrip(void)
{
	struct envelope env, back;
	const char *why = "?";
	char *buf;
	size_t len;
	int rv = -1;

	make_env(&env, "a@example.org", "mail.example.org", "u@example1.com",
	    4);
	buf = envelope_encode(&env, &len);
	if (buf != NULL)
		rv = envelope_decode(&back, buf, len, &why);
	t_check(buf != NULL && rv == 0 && env_equal(&env, &back),
	    "round trip", "rv %d: %s", rv, why);
	t_check(buf != NULL && len > 17 &&
	    memcmp(buf, "mxgate-envelope 2\n", 18) == 0,
	    "versioned first line", "%.20s", buf ? buf : "(null)");
	t_check(buf != NULL && count_lines(buf, len) == 9 + 4 + 1,
	    "one line per item", "%zu lines", buf ? count_lines(buf, len) : 0);
	if (rv == 0)
		envelope_clear(&back);
	free(buf);
	envelope_clear(&env);

	make_env(&env, "", "h", "u@example1.com", 1);
	buf = envelope_encode(&env, &len);
	rv = buf != NULL ? envelope_decode(&back, buf, len, &why) : -1;
	t_check(rv == 0 && back.sender[0] == '\0' && env_equal(&env, &back),
	    "null sender round trip", "rv %d", rv);
	if (rv == 0)
		envelope_clear(&back);
	free(buf);
	envelope_clear(&env);
}

static void
test_injection(void)
{
	static const char *evil[] = {
		"a@b\r\nrcpt state=pending tries=0 next=0 to=x orig= relay= reply=",
		"a@b\nend\n",
		"with space@example.com",
		"100%@example.com %41 %%",
		"key=value=more",
		"\t\x01\x7f\x80\xff\xc3\xa9@example.com",
	};
	struct envelope env, back;
	char all[256], *buf, *p;
	size_t i, len;
	int ok = 1, rv;

	for (i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		make_env(&env, evil[i], evil[i], evil[i], 2);
		buf = envelope_encode(&env, &len);
		rv = buf != NULL ? envelope_decode(&back, buf, len, NULL) : -1;
		if (buf == NULL || !clean_bytes(buf, len) ||
		    count_lines(buf, len) != 9 + 2 + 1 || rv != 0 ||
		    !env_equal(&env, &back)) {
			printf("# failed on value %zu\n", i);
			ok = 0;
		}
		if (rv == 0)
			envelope_clear(&back);
		free(buf);
		envelope_clear(&env);
	}
	t_check(ok, "hostile values cannot break the record", "see above");

	/* every byte except NUL */
	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	make_env(&env, all, all, all, 1);
	buf = envelope_encode(&env, &len);
	rv = buf != NULL ? envelope_decode(&back, buf, len, NULL) : -1;
	t_check(rv == 0 && clean_bytes(buf, len) && env_equal(&env, &back),
	    "all 255 non-NUL bytes round trip", "rv %d", rv);
	if (rv == 0)
		envelope_clear(&back);
	free(buf);
	envelope_clear(&env);

	p = envelope_escape("a b%\n");
	t_check(p != NULL && strcmp(p, "a%20b%25%0A") == 0, "escape",
	    "%s", p ? p : "(null)");
	free(p);
}

/* A valid record in text form, for the rejection tests. */
static const char good[] =
    "mxgate-envelope 1\n"
    "id=4F2A9C1B0E11\n"
    "created=1700000000\n"
    "size=1234\n"
    "sender=a@example.org\n"
    "helo=mail.example.org\n"
    "client=192.0.2.1\n"
    "nrcpt=2\n"
    "rcpt state=pending tries=0 next=1700000000 to=u@example1.com "
    "orig=u@example1.com relay=smtp:[127.0.0.1]:2525 reply=\n"
    "rcpt state=sent tries=1 next=1700000300 to=v@example1.com "
    "orig= relay=smtp:[127.0.0.1]:2525 reply=250%202.0.0%20Ok\n"
    "end\n";

/* good with the first occurrence of from replaced by to. */
static int
decodes_with(const char *from, const char *to)
{
	char buf[2048];
	const char *p;
	size_t off;

	if ((p = strstr(good, from)) == NULL) {
		printf("# test bug: %s not in record\n", from);
		return 1;
	}
	off = (size_t)(p - good);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)off, good, to,
	    p + strlen(from));
	return decodes(buf);
}

static void
test_truncated(void)
{
	struct envelope env;
	size_t len = strlen(good), cut;
	int rejected = 1;

	t_check(decodes(good), "reference record decodes", "rejected");
	for (cut = 0; cut < len; cut++) {
		if (envelope_decode(&env, good, cut, NULL) == 0) {
			printf("# accepted at %zu bytes\n", cut);
			envelope_clear(&env);
			rejected = 0;
		}
	}
	t_check(rejected, "every truncation rejected", "see above");
	t_check(!decodes_with("end\n", "end\nx\n"), "data after end rejected",
	    "accepted");
	t_check(!decodes_with("end\n", "end"), "missing final newline rejected",
	    "accepted");
}

static void
test_reordered(void)
{
	t_check(!decodes_with("created=1700000000\nsize=1234\n",
	    "size=1234\ncreated=1700000000\n"), "header lines swapped rejected",
	    "accepted");
	t_check(!decodes_with("tries=0 next=1700000000",
	    "next=1700000000 tries=0"), "rcpt fields swapped rejected",
	    "accepted");
	t_check(!decodes_with("sender=a@example.org\n",
	    "sender=a@example.org\nsender=a@example.org\n"),
	    "duplicate line rejected", "accepted");
	t_check(!decodes_with("helo=mail.example.org\n", ""),
	    "missing line rejected", "accepted");
	t_check(!decodes_with("nrcpt=2", "nrcpt=3"), "nrcpt too high rejected",
	    "accepted");
	t_check(!decodes_with("nrcpt=2", "nrcpt=1"), "nrcpt too low rejected",
	    "accepted");
	t_check(!decodes_with("nrcpt=2", "nrcpt=0"), "no recipients rejected",
	    "accepted");
}

static void
test_version(void)
{
	t_check(!decodes_with("mxgate-envelope 1", "mxgate-envelope 3"),
	    "unknown version rejected", "accepted");
	t_check(!decodes_with("mxgate-envelope 1", "mxgate-envelope 2"),
	    "version 2 without its esmtp line rejected", "accepted");
	t_check(!decodes_with("client=192.0.2.1\n", "client=192.0.2.1\n"
	    "esmtp body=none smtputf8=0 ret=none warned=0 envid=\n"),
	    "version 1 with an esmtp line rejected", "accepted");
	t_check(!decodes_with("mxgate-envelope 1", "mxgate-envelope 01"),
	    "version with leading zero rejected", "accepted");
	t_check(!decodes_with("mxgate-envelope 1\n", ""),
	    "missing version line rejected", "accepted");
	t_check(!decodes_with("mxgate-envelope", "mxgate-Envelope"),
	    "bad magic rejected", "accepted");
}

/* Version 2, with the ESMTP values. */
static const char good2[] =
    "mxgate-envelope 2\n"
    "id=4F2A9C1B0E11\n"
    "created=1700000000\n"
    "size=1234\n"
    "sender=a@example.org\n"
    "helo=mail.example.org\n"
    "client=192.0.2.1\n"
    "esmtp body=8bitmime smtputf8=1 ret=hdrs warned=0 envid=Q%20123\n"
    "nrcpt=2\n"
    "rcpt state=pending tries=0 next=1700000000 notify=success,delay "
    "to=u@example1.com orig=u@example1.com orcpt=rfc822;U@example1.com "
    "relay=smtp:[127.0.0.1]:2525 reply=\n"
    "rcpt state=pending tries=0 next=1700000000 notify=default "
    "to=v@example1.com orig= orcpt= relay=smtp:[127.0.0.1]:2525 reply=\n"
    "end\n";

static int
decodes2_with(const char *from, const char *to)
{
	char buf[2048];
	const char *p;
	struct envelope env;
	int rv;

	if ((p = strstr(good2, from)) == NULL) {
		printf("# test bug: %s not in record\n", from);
		return 1;
	}
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - good2), good2, to,
	    p + strlen(from));
	rv = envelope_decode(&env, buf, strlen(buf), NULL);
	if (rv == 0)
		envelope_clear(&env);
	return rv == 0;
}

static void
test_version2(void)
{
	struct envelope env;
	const char *why = "?";
	int rv;

	rv = envelope_decode(&env, good2, strlen(good2), &why);
	t_check(rv == 0 && env.body == MSG_BODY_8BITMIME && env.smtputf8 == 1 &&
	    env.ret == DSN_RET_HDRS && env.warned == 0 &&
	    strcmp(env.envid, "Q 123") == 0 &&
	    env.rcpt[0].notify == (DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY) &&
	    strcmp(env.rcpt[0].orcpt, "rfc822;U@example1.com") == 0 &&
	    env.rcpt[1].notify == 0 && env.rcpt[1].orcpt[0] == '\0',
	    "version 2 record decodes with its ESMTP values", "rv %d: %s",
	    rv, why);
	if (rv == 0)
		envelope_clear(&env);
	rv = envelope_decode(&env, good, strlen(good), &why);
	t_check(rv == 0 && env.body == MSG_BODY_NONE && env.ret ==
	    DSN_RET_NONE && env.envid != NULL && env.envid[0] == '\0' &&
	    env.rcpt[0].notify == 0 && env.rcpt[0].orcpt != NULL,
	    "version 1 record decodes with ESMTP defaults", "rv %d: %s", rv,
	    why);
	if (rv == 0)
		envelope_clear(&env);
	t_check(decodes2_with("notify=success,delay", "notify=never") &&
	    decodes2_with("notify=success,delay",
	    "notify=success,failure,delay"),
	    "notify variants accepted", "rejected");
	t_check(!decodes2_with("notify=success,delay", "notify=delay,success"),
	    "notify out of order rejected", "accepted");
	t_check(!decodes2_with("notify=success,delay", "notify=success,"),
	    "notify with a trailing comma rejected", "accepted");
	t_check(!decodes2_with("notify=success,delay", "notify="),
	    "empty notify rejected", "accepted");
	t_check(!decodes2_with("notify=success,delay", "notify=Success"),
	    "notify in capitals rejected", "accepted");
	t_check(!decodes2_with("body=8bitmime", "body=binarymime"),
	    "unknown body rejected", "accepted");
	t_check(!decodes2_with("ret=hdrs", "ret=headers"),
	    "unknown ret rejected", "accepted");
	t_check(!decodes2_with("smtputf8=1", "smtputf8=2"),
	    "smtputf8 not 0/1 rejected", "accepted");
	t_check(!decodes2_with("envid=Q%20123", "envid=Q 123"),
	    "unescaped space in envid rejected", "accepted");
	t_check(!decodes2_with(" orcpt= ", " "),
	    "missing orcpt rejected", "accepted");
}

static void
test_malformed(void)
{
	static const struct {
		const char *from, *to, *name;
	} cases[] = {
		{ "sender=a@", "sender=a%4@", "short escape" },
		{ "sender=a@", "sender=a%zz@", "non-hex escape" },
		{ "sender=a@", "sender=a%0a@", "lowercase escape" },
		{ "sender=a@", "sender=a%41@", "needless escape" },
		{ "sender=a@", "sender=a%00@", "escaped NUL" },
		{ "sender=a@", "sender=a\r@", "bare CR" },
		{ "sender=a@", "sender=a\t@", "tab" },
		{ "sender=a@", "sender=a b@", "space in value" },
		{ "sender=a@", "sender=a\xc3\xa9@", "8-bit byte" },
		{ "sender=", "Sender=", "wrong key case" },
		{ "sender=", "sender ", "missing '='" },
		{ "size=1234", "size=01234", "leading zero" },
		{ "size=1234", "size=-1", "negative number" },
		{ "size=1234", "size=", "empty number" },
		{ "size=1234", "size=18446744073709551616", "u64 overflow" },
		{ "created=1700000000", "created=9223372036854775808",
		    "time overflow" },
		{ "tries=0", "tries=4294967296", "u32 overflow" },
		{ "id=4F2A9C1B0E11", "id=4f2a9c1b0e11", "lowercase id" },
		{ "id=4F2A9C1B0E11", "id=4F2A9C1B0E1", "short id" },
		{ "id=4F2A9C1B0E11", "id=4F2A9C1B0E111", "long id" },
		{ "state=pending", "state=done", "unknown state" },
		{ "rcpt state", "rcpt  state", "double space" },
		{ "reply=\n", "reply= \n", "trailing space" },
		{ "reply=\n", "reply=\nextra=1\n", "unknown line" },
		{ "rcpt state=pending", "RCPT state=pending", "bad rcpt tag" },
	};
	size_t i;
	char name[128];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "%s rejected", cases[i].name);
		t_check(!decodes_with(cases[i].from, cases[i].to), name,
		    "accepted");
	}
	t_check(!decodes("") && !decodes("\n"), "empty record rejected",
	    "accepted");
	/* controls: the same edits done right are accepted */
	t_check(decodes_with("sender=a@", "sender=a%25%20%0D%0A@") &&
	    decodes_with("size=1234", "size=0") &&
	    decodes_with("sender=a@example.org", "sender="),
	    "well-formed variants accepted", "rejected");
}

static void
test_limits(void)
{
	struct envelope env;
	char *big, *buf, rec[8192];
	size_t len;

	if ((big = malloc(ENVELOPE_ADDR_MAX + 1)) == NULL)
		exit(2);
	memset(big, 'a', ENVELOPE_ADDR_MAX);
	big[ENVELOPE_ADDR_MAX] = '\0';
	make_env(&env, big, "h", "u@x", 1);
	buf = envelope_encode(&env, &len);
	t_check(buf == NULL, "encoder refuses an over-long value", "encoded");
	free(buf);
	free(env.sender);
	big[ENVELOPE_ADDR_MAX - 1] = '\0';
	env.sender = xstrdup(big);
	buf = envelope_encode(&env, &len);
	t_check(buf != NULL, "encoder takes the longest value", "refused");
	free(buf);
	envelope_clear(&env);

	/* the decoder enforces the same limit */
	big[ENVELOPE_ADDR_MAX - 1] = 'a';
	snprintf(rec, sizeof(rec), "mxgate-envelope 1\nid=4F2A9C1B0E11\n"
	    "created=1\nsize=1\nsender=%s\nhelo=h\nclient=c\nnrcpt=1\n"
	    "rcpt state=pending tries=0 next=0 to=u orig= relay=r reply=\n"
	    "end\n", big);
	t_check(!decodes(rec), "decoder refuses an over-long value",
	    "accepted");
	free(big);

	make_env(&env, "a@b", "h", "u@x", 1);
	env.rcpt[0].state = (enum rcpt_state)42;
	buf = envelope_encode(&env, &len);
	t_check(buf == NULL, "encoder refuses a bad state", "encoded");
	free(buf);
	env.rcpt[0].state = RCPT_PENDING;
	strcpy(env.id, "nothex000000");
	buf = envelope_encode(&env, &len);
	t_check(buf == NULL, "encoder refuses a bad id", "encoded");
	free(buf);
	envelope_clear(&env);
}

int
main(void)
{
	test_roundtrip();
	test_injection();
	test_truncated();
	test_reordered();
	test_version();
	test_version2();
	test_malformed();
	test_limits();
	return t_exit();
}
