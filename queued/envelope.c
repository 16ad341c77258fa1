/*
 * Envelope record, version 2: text, one item per line, each line ending
 * in '\n', in exactly this order:
 *
 *	mxgate-envelope 2
 *	id=4F2A9C1B0E11
 *	created=1700000000
 *	size=1234
 *	sender=a@example.org
 *	helo=mail.example.org
 *	client=192.0.2.1
 *	esmtp body=8bitmime smtputf8=0 ret=hdrs warned=0 envid=QQ123
 *	nrcpt=2
 *	rcpt state=pending tries=0 next=1700000000 notify=failure,delay
 *	    to=u@example1.com orig=u@example1.com orcpt=rfc822;u@example1.com
 *	    relay=smtp:[127.0.0.1]:2525 reply=
 *	rcpt state=sent tries=1 next=1700000300 notify=... (one line each)
 *	end
 *
 * body is none, 7bit or 8bitmime; ret none, full or hdrs; notify
 * "default" or a comma list of never, success, failure, delay (in that
 * order).  Version 1 records (no esmtp line, no notify and orcpt fields)
 * are still read, with every ESMTP value at its default; an update
 * rewrites them as version 2.
 *
 * Guarantees kept here:
 * - Every string value is xtext-escaped: bytes outside 0x21..0x7e and
 *   '%' are written as %XX.  So a value never holds a space, a newline or
 *   any byte that separates fields or lines: nothing a client sends (in a
 *   sender, recipient, HELO name, or a reply a remote server sends) can
 *   end, add or split a line or a field of the record.
 * - The decoder accepts only what the encoder writes: the version line
 *   first, every line and field once and in this order, numbers in plain
 *   decimal without leading zeros, escapes only where the encoder would
 *   put them (uppercase, never %00), nrcpt equal to the number of rcpt
 *   lines, "end" as the last line and nothing after it.  A truncated,
 *   reordered, or unknown-version record is rejected as a whole, never
 *   half-read.
 * - The encoder refuses (EINVAL) an envelope the decoder would reject, so
 *   whatever is written can be read back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "proto.h"

#define ENVELOPE_MAGIC	"mxgate-envelope "

static const char *const body_names[] = {
	[MSG_BODY_NONE] = "none",
	[MSG_BODY_7BIT] = "7bit",
	[MSG_BODY_8BITMIME] = "8bitmime"
};
#define NBODIES	(sizeof(body_names) / sizeof(body_names[0]))

static const char *const ret_names[] = {
	[DSN_RET_NONE] = "none",
	[DSN_RET_FULL] = "full",
	[DSN_RET_HDRS] = "hdrs"
};
#define NRETS	(sizeof(ret_names) / sizeof(ret_names[0]))

/* In the order written. */
static const struct {
	const char	*name;
	uint32_t	 flag;
} notify_names[] = {
	{ "never", DSN_NOTIFY_NEVER },
	{ "success", DSN_NOTIFY_SUCCESS },
	{ "failure", DSN_NOTIFY_FAILURE },
	{ "delay", DSN_NOTIFY_DELAY }
};
#define NNOTIFY	(sizeof(notify_names) / sizeof(notify_names[0]))

static const char *const state_names[] = {
	[RCPT_PENDING] = "pending",
	[RCPT_SENT] = "sent",
	[RCPT_BOUNCED] = "bounced",
	[RCPT_EXPIRED] = "expired"
};
#define NSTATES	(sizeof(state_names) / sizeof(state_names[0]))

struct span {
	const char	*p;
	size_t		 len;
};

struct dec {
	const char	*p, *end;
	const char	*why;
	uint64_t	 version;
};

static int
needs_escape(unsigned char c)
{
	return c < 0x21 || c > 0x7e || c == '%';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
envelope_valid_id(const char *s)
{
	size_t i;

	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (hexval(s[i]) == -1)
			return 0;
	return s[QUEUE_ID_LEN] == '\0';
}

void
envelope_clear(struct envelope *env)
{
	size_t i;

	for (i = 0; env->rcpt != NULL && i < env->nrcpt; i++) {
		free(env->rcpt[i].to);
		free(env->rcpt[i].orig);
		free(env->rcpt[i].relay);
		free(env->rcpt[i].reply);
		free(env->rcpt[i].orcpt);
	}
	free(env->rcpt);
	free(env->sender);
	free(env->helo);
	free(env->client);
	free(env->envid);
	memset(env, 0, sizeof(*env));
}

void
envelope_free(struct envelope *env)
{
	if (env == NULL)
		return;
	envelope_clear(env);
	free(env);
}

size_t
envelope_pending(const struct envelope *env)
{
	size_t i, n = 0;

	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == RCPT_PENDING)
			n++;
	return n;
}

const char *
envelope_state_name(enum rcpt_state state)
{
	if ((size_t)state >= NSTATES)
		return "unknown";
	return state_names[state];
}

char *
envelope_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s), o = 0;
	unsigned char c;
	char *out;

	if ((out = malloc(len * 3 + 1)) == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (needs_escape(c)) {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

char *
envelope_vis(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	if (dstsz == 0)
		return dst;
	for (i = 0; i + 1 < dstsz && src[i] != '\0'; i++)
		dst[i] = (src[i] >= 0x20 && src[i] <= 0x7e) ? src[i] : '?';
	dst[i] = '\0';
	return dst;
}

/* Encoder */

static int
enc_str_ok(const char *s, size_t max)
{
	return s != NULL && strlen(s) < max;
}

/* The optional values of version 2: NULL is written as "". */
static int
enc_opt_ok(const char *s, size_t max)
{
	return s == NULL || strlen(s) < max;
}

static int
enc_check(const struct envelope *env)
{
	const struct envelope_rcpt *r;
	size_t i;

	if (!envelope_valid_id(env->id) || env->created < 0 ||
	    !enc_str_ok(env->sender, ENVELOPE_ADDR_MAX) ||
	    !enc_str_ok(env->helo, ENVELOPE_HELO_MAX) ||
	    !enc_str_ok(env->client, ENVELOPE_CLIENT_MAX) ||
	    !enc_opt_ok(env->envid, ENVELOPE_ENVID_MAX) ||
	    env->body >= NBODIES || env->ret >= NRETS ||
	    env->smtputf8 > 1 || env->warned > 1 ||
	    env->nrcpt == 0 || env->nrcpt > ENVELOPE_RCPT_MAX ||
	    env->rcpt == NULL)
		return -1;
	for (i = 0; i < env->nrcpt; i++) {
		r = &env->rcpt[i];
		if ((size_t)r->state >= NSTATES || r->next < 0 ||
		    !enc_str_ok(r->to, ENVELOPE_ADDR_MAX) ||
		    !enc_str_ok(r->orig, ENVELOPE_ADDR_MAX) ||
		    !enc_str_ok(r->relay, ENVELOPE_RELAY_MAX) ||
		    !enc_str_ok(r->reply, ENVELOPE_REPLY_MAX) ||
		    !enc_opt_ok(r->orcpt, ENVELOPE_ORCPT_MAX) ||
		    (r->notify & ~(uint32_t)DSN_NOTIFY_MASK) != 0)
			return -1;
	}
	return 0;
}

/* "key=escaped-value" followed by sep. */
static void
enc_value(FILE *f, const char *key, const char *v, char sep)
{
	unsigned char c;

	fprintf(f, "%s=", key);
	for (; v != NULL && *v != '\0'; v++) {
		c = (unsigned char)*v;
		if (needs_escape(c))
			fprintf(f, "%%%02X", c);
		else
			fputc(c, f);
	}
	fputc(sep, f);
}

static void
enc_notify(FILE *f, uint32_t notify)
{
	size_t i;
	int first = 1;

	fputs("notify=", f);
	if (notify == 0)
		fputs("default", f);
	for (i = 0; i < NNOTIFY; i++) {
		if (!(notify & notify_names[i].flag))
			continue;
		fprintf(f, "%s%s", first ? "" : ",", notify_names[i].name);
		first = 0;
	}
	fputc(' ', f);
}

static void
enc_rcpt(FILE *f, const struct envelope_rcpt *r)
{
	fprintf(f, "rcpt state=%s tries=%u next=%lld ",
	    state_names[r->state], r->tries, (long long)r->next);
	enc_notify(f, r->notify);
	enc_value(f, "to", r->to, ' ');
	enc_value(f, "orig", r->orig, ' ');
	enc_value(f, "orcpt", r->orcpt, ' ');
	enc_value(f, "relay", r->relay, ' ');
	enc_value(f, "reply", r->reply, '\n');
}

char *
envelope_encode(const struct envelope *env, size_t *lenp)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, i;
	int bad;

	if (enc_check(env) == -1) {
		errno = EINVAL;
		return NULL;
	}
	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	fprintf(f, "%s%d\n", ENVELOPE_MAGIC, ENVELOPE_VERSION);
	fprintf(f, "id=%s\ncreated=%lld\nsize=%llu\n", env->id,
	    (long long)env->created, (unsigned long long)env->size);
	enc_value(f, "sender", env->sender, '\n');
	enc_value(f, "helo", env->helo, '\n');
	enc_value(f, "client", env->client, '\n');
	fprintf(f, "esmtp body=%s smtputf8=%u ret=%s warned=%u ",
	    body_names[env->body], env->smtputf8, ret_names[env->ret],
	    env->warned);
	enc_value(f, "envid", env->envid, '\n');
	fprintf(f, "nrcpt=%zu\n", env->nrcpt);
	for (i = 0; i < env->nrcpt; i++)
		enc_rcpt(f, &env->rcpt[i]);
	fputs("end\n", f);
	bad = ferror(f);
	if (fclose(f) == EOF || bad) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	*lenp = len;
	return buf;
}

/* Decoder */

static int
dec_fail(struct dec *d, const char *why)
{
	if (d->why == NULL)
		d->why = why;
	return -1;
}

/* The next line, without its '\n'; a line without one is truncated. */
static int
dec_line(struct dec *d, struct span *line)
{
	const char *nl;

	if (d->p >= d->end ||
	    (nl = memchr(d->p, '\n', (size_t)(d->end - d->p))) == NULL)
		return dec_fail(d, "truncated record");
	line->p = d->p;
	line->len = (size_t)(nl - d->p);
	d->p = nl + 1;
	return 0;
}

/* Literal word at the front of line, followed by a space. */
static int
dec_word(struct dec *d, struct span *line, const char *word)
{
	size_t n = strlen(word);

	if (line->len <= n || memcmp(line->p, word, n) != 0 ||
	    line->p[n] != ' ')
		return dec_fail(d, "unexpected line");
	line->p += n + 1;
	line->len -= n + 1;
	return 0;
}

/*
 * "key=value" at the front of line, up to the next space (consumed) or,
 * when last, the end of the line.
 */
static int
dec_field(struct dec *d, struct span *line, const char *key, int last,
    struct span *val)
{
	size_t klen = strlen(key), n;
	const char *sp;

	sp = memchr(line->p, ' ', line->len);
	if (last != (sp == NULL))
		return dec_fail(d, last ? "trailing data" : "missing field");
	n = sp != NULL ? (size_t)(sp - line->p) : line->len;
	if (n < klen + 1 || memcmp(line->p, key, klen) != 0 ||
	    line->p[klen] != '=')
		return dec_fail(d, "unexpected field");
	val->p = line->p + klen + 1;
	val->len = n - klen - 1;
	n += sp != NULL;
	line->p += n;
	line->len -= n;
	return 0;
}

static int
dec_num(struct dec *d, struct span v, uint64_t max, uint64_t *out)
{
	uint64_t n = 0, digit;
	size_t i;

	if (v.len == 0 || (v.p[0] == '0' && v.len > 1))
		return dec_fail(d, "bad number");
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return dec_fail(d, "bad number");
		digit = (uint64_t)(v.p[i] - '0');
		if (n > (max - digit) / 10)
			return dec_fail(d, "number out of range");
		n = n * 10 + digit;
	}
	*out = n;
	return 0;
}

/* Unescapes v into a new string of fewer than max bytes. */
static int
dec_str(struct dec *d, struct span v, size_t max, char **out)
{
	unsigned char c;
	size_t i, o = 0;
	char *s;
	int hi, lo;

	if ((s = malloc(v.len + 1)) == NULL)
		return dec_fail(d, "out of memory");
	for (i = 0; i < v.len; i++) {
		c = (unsigned char)v.p[i];
		if (c == '%') {
			if (v.len - i < 3 || (hi = hexval(v.p[i + 1])) == -1 ||
			    (lo = hexval(v.p[i + 2])) == -1)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0' || !needs_escape(c))
				goto bad;
			i += 2;
		} else if (needs_escape(c))
			goto bad;
		s[o++] = (char)c;
	}
	s[o] = '\0';
	if (o >= max) {
		free(s);
		return dec_fail(d, "value too long");
	}
	*out = s;
	return 0;
 bad:
	free(s);
	return dec_fail(d, "bad escape");
}

/* A "key=value" line holding a string. */
static int
dec_strline(struct dec *d, const char *key, size_t max, char **out)
{
	struct span line, v;

	if (dec_line(d, &line) == -1 ||
	    dec_field(d, &line, key, 1, &v) == -1)
		return -1;
	return dec_str(d, v, max, out);
}

/* A "key=value" line holding a number. */
static int
dec_numline(struct dec *d, const char *key, uint64_t max, uint64_t *out)
{
	struct span line, v;

	if (dec_line(d, &line) == -1 ||
	    dec_field(d, &line, key, 1, &v) == -1)
		return -1;
	return dec_num(d, v, max, out);
}

static int
dec_version(struct dec *d)
{
	struct span line, v;
	uint64_t version;

	if (dec_line(d, &line) == -1)
		return -1;
	if (dec_word(d, &line, "mxgate-envelope") == -1)
		return dec_fail(d, "not an envelope");
	v = line;
	if (dec_num(d, v, UINT32_MAX, &version) == -1)
		return -1;
	if (version != 1 && version != ENVELOPE_VERSION)
		return dec_fail(d, "unsupported version");
	d->version = version;
	return 0;
}

/* A value out of a table of names (NULL entries never match). */
static int
dec_name(struct dec *d, struct span v, const char *const *names, size_t n,
    uint32_t *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (names[i] != NULL && strlen(names[i]) == v.len &&
		    memcmp(names[i], v.p, v.len) == 0) {
			*out = (uint32_t)i;
			return 0;
		}
	}
	return dec_fail(d, "bad value");
}

/* "0" or "1". */
static int
dec_bool(struct dec *d, struct span v, uint32_t *out)
{
	if (v.len != 1 || (v.p[0] != '0' && v.p[0] != '1'))
		return dec_fail(d, "bad flag");
	*out = (uint32_t)(v.p[0] - '0');
	return 0;
}

/* The esmtp line of version 2; version 1 has none: defaults. */
static int
dec_esmtp(struct dec *d, struct envelope *env)
{
	struct span line, v;

	if (d->version == 1) {
		if ((env->envid = strdup("")) == NULL)
			return dec_fail(d, "out of memory");
		return 0;
	}
	if (dec_line(d, &line) == -1 || dec_word(d, &line, "esmtp") == -1)
		return -1;
	if (dec_field(d, &line, "body", 0, &v) == -1 ||
	    dec_name(d, v, body_names, NBODIES, &env->body) == -1 ||
	    dec_field(d, &line, "smtputf8", 0, &v) == -1 ||
	    dec_bool(d, v, &env->smtputf8) == -1 ||
	    dec_field(d, &line, "ret", 0, &v) == -1 ||
	    dec_name(d, v, ret_names, NRETS, &env->ret) == -1 ||
	    dec_field(d, &line, "warned", 0, &v) == -1 ||
	    dec_bool(d, v, &env->warned) == -1 ||
	    dec_field(d, &line, "envid", 1, &v) == -1)
		return -1;
	return dec_str(d, v, ENVELOPE_ENVID_MAX, &env->envid);
}

static int
dec_header(struct dec *d, struct envelope *env)
{
	char *id = NULL;
	uint64_t created, nrcpt;

	if (dec_strline(d, "id", QUEUE_ID_LEN + 1, &id) == -1)
		return -1;
	if (!envelope_valid_id(id)) {
		free(id);
		return dec_fail(d, "bad queue id");
	}
	memcpy(env->id, id, sizeof(env->id));
	free(id);
	if (dec_numline(d, "created", INT64_MAX, &created) == -1 ||
	    dec_numline(d, "size", UINT64_MAX, &env->size) == -1 ||
	    dec_strline(d, "sender", ENVELOPE_ADDR_MAX, &env->sender) == -1 ||
	    dec_strline(d, "helo", ENVELOPE_HELO_MAX, &env->helo) == -1 ||
	    dec_strline(d, "client", ENVELOPE_CLIENT_MAX, &env->client) == -1 ||
	    dec_esmtp(d, env) == -1 ||
	    dec_numline(d, "nrcpt", ENVELOPE_RCPT_MAX, &nrcpt) == -1)
		return -1;
	env->created = (int64_t)created;
	if (nrcpt == 0)
		return dec_fail(d, "no recipients");
	if ((env->rcpt = calloc(nrcpt, sizeof(*env->rcpt))) == NULL)
		return dec_fail(d, "out of memory");
	env->nrcpt = nrcpt;
	return 0;
}

static int
dec_state(struct dec *d, struct span v, enum rcpt_state *state)
{
	size_t i;

	for (i = 0; i < NSTATES; i++) {
		if (strlen(state_names[i]) == v.len &&
		    memcmp(state_names[i], v.p, v.len) == 0) {
			*state = (enum rcpt_state)i;
			return 0;
		}
	}
	return dec_fail(d, "bad recipient state");
}

/* "default" or the flags in the order enc_notify() writes them. */
static int
dec_notify(struct dec *d, struct span v, uint32_t *notify)
{
	const char *comma;
	size_t i = 0, n;

	*notify = 0;
	if (v.len == 7 && memcmp(v.p, "default", 7) == 0)
		return 0;
	for (;;) {
		comma = memchr(v.p, ',', v.len);
		n = comma != NULL ? (size_t)(comma - v.p) : v.len;
		while (i < NNOTIFY && (strlen(notify_names[i].name) != n ||
		    memcmp(notify_names[i].name, v.p, n) != 0))
			i++;
		if (i == NNOTIFY)
			return dec_fail(d, "bad notify");
		*notify |= notify_names[i++].flag;
		if (comma == NULL)
			return 0;
		v.p += n + 1;
		v.len -= n + 1;
	}
}

/* Version 1: no notify and orcpt fields. */
static int
dec_rcpt_v1(struct dec *d, struct envelope_rcpt *r, struct span *line)
{
	struct span v;

	if (dec_field(d, line, "to", 0, &v) == -1 ||
	    dec_str(d, v, ENVELOPE_ADDR_MAX, &r->to) == -1 ||
	    dec_field(d, line, "orig", 0, &v) == -1 ||
	    dec_str(d, v, ENVELOPE_ADDR_MAX, &r->orig) == -1)
		return -1;
	if ((r->orcpt = strdup("")) == NULL)
		return dec_fail(d, "out of memory");
	return 0;
}

static int
dec_rcpt_v2(struct dec *d, struct envelope_rcpt *r, struct span *line)
{
	struct span v;

	if (dec_field(d, line, "notify", 0, &v) == -1 ||
	    dec_notify(d, v, &r->notify) == -1 ||
	    dec_field(d, line, "to", 0, &v) == -1 ||
	    dec_str(d, v, ENVELOPE_ADDR_MAX, &r->to) == -1 ||
	    dec_field(d, line, "orig", 0, &v) == -1 ||
	    dec_str(d, v, ENVELOPE_ADDR_MAX, &r->orig) == -1 ||
	    dec_field(d, line, "orcpt", 0, &v) == -1 ||
	    dec_str(d, v, ENVELOPE_ORCPT_MAX, &r->orcpt) == -1)
		return -1;
	return 0;
}

static int
dec_rcpt(struct dec *d, struct envelope_rcpt *r)
{
	struct span line, v;
	uint64_t n;

	if (dec_line(d, &line) == -1 || dec_word(d, &line, "rcpt") == -1)
		return -1;
	if (dec_field(d, &line, "state", 0, &v) == -1 ||
	    dec_state(d, v, &r->state) == -1)
		return -1;
	if (dec_field(d, &line, "tries", 0, &v) == -1 ||
	    dec_num(d, v, UINT32_MAX, &n) == -1)
		return -1;
	r->tries = (uint32_t)n;
	if (dec_field(d, &line, "next", 0, &v) == -1 ||
	    dec_num(d, v, INT64_MAX, &n) == -1)
		return -1;
	r->next = (int64_t)n;
	if ((d->version == 1 ? dec_rcpt_v1(d, r, &line) :
	    dec_rcpt_v2(d, r, &line)) == -1)
		return -1;
	if (dec_field(d, &line, "relay", 0, &v) == -1 ||
	    dec_str(d, v, ENVELOPE_RELAY_MAX, &r->relay) == -1 ||
	    dec_field(d, &line, "reply", 1, &v) == -1 ||
	    dec_str(d, v, ENVELOPE_REPLY_MAX, &r->reply) == -1)
		return -1;
	return 0;
}

static int
dec_end(struct dec *d)
{
	struct span line;

	if (dec_line(d, &line) == -1)
		return -1;
	if (line.len != 3 || memcmp(line.p, "end", 3) != 0)
		return dec_fail(d, "unexpected line");
	if (d->p != d->end)
		return dec_fail(d, "data after end");
	return 0;
}

/* Only printable ASCII, spaces between fields, '\n' ending lines. */
static int
dec_bytes(struct dec *d)
{
	const char *p;

	if (d->end - d->p > ENVELOPE_FILE_MAX)
		return dec_fail(d, "record too large");
	for (p = d->p; p < d->end; p++)
		if ((*p < 0x20 || *p > 0x7e) && *p != '\n')
			return dec_fail(d, "bad byte");
	return 0;
}

int
envelope_decode(struct envelope *env, const char *buf, size_t len,
    const char **why)
{
	struct dec d = { buf, buf + len, NULL, 0 };
	size_t i;
	int rv;

	memset(env, 0, sizeof(*env));
	rv = dec_bytes(&d);
	if (rv == 0)
		rv = dec_version(&d);
	if (rv == 0)
		rv = dec_header(&d, env);
	for (i = 0; rv == 0 && i < env->nrcpt; i++)
		rv = dec_rcpt(&d, &env->rcpt[i]);
	if (rv == 0)
		rv = dec_end(&d);
	if (rv == -1) {
		envelope_clear(env);
		if (why != NULL)
			*why = d.why;
	}
	return rv;
}
