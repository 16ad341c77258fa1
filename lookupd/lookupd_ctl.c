/*
 * lookupd's side of smtpctl (through the parent, peer id = the control
 * client): `test rcpt` runs the real decision (lka_decide_trace) with a
 * sink that sends each step as an IMSG_CTL_DATA line; `table lookup` and
 * `show tables` read the live snapshot.  Every request gets exactly one
 * IMSG_CTL_END; a malformed one is fatal to the link, as any message.
 *
 * A trace or lookup that waits for a directory (ldap tables, see
 * table.h) is kept and run again from the start when the answers are
 * in, as lookupd does for smtpd; only the last round is printed (its
 * lookups then say "cache hit"), with a line saying it waited.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "addr.h"
#include "imsgev.h"
#include "lka.h"
#include "log.h"
#include "lookupd_ctl.h"
#include "mbuf.h"
#include "rcpt_reply.h"
#include "worker.h"

#define CTL_CLIENT_MAX		128
#define CTL_LINE_MAX		1024
/* smtpctl test rcpt without "from": a client in no trusted network */
#define CTL_DEFAULT_CLIENT	"0.0.0.0"
#define CTL_ROUNDS_MAX		32	/* as lookupd's decisions */

struct ctl_out {
	struct imsgev	*iev;
	uint32_t	 peerid;
	char		*buf;		/* lines of this round, '\n' after each */
	size_t		 len, cap;
	int		 nomem;
};

/* One test rcpt or table lookup, kept while a directory is asked. */
struct ctl_req {
	struct table_waiter	 w;
	struct ctl_out		 o;
	uint32_t		 type;
	char			 client[CTL_CLIENT_MAX];
	char			 sender[LKA_ADDR_MAX];
	char			 arg[LKA_ADDR_MAX];	/* rcpt or table */
	char			 key[CTL_LINE_MAX];	/* table lookup */
	int			 rounds;
	int			 abandoned;	/* answered; queries hold it */
	struct lka_tables	*(*tables)(void);
};

/* A line of the answer, kept until the round is known to be the last. */
static void
ctl_line(void *arg, const char *line)
{
	struct ctl_out	*o = arg;
	size_t		 n = strlen(line) + 1, cap;
	char		*b;

	if (o->len + n > o->cap) {
		cap = o->cap ? o->cap * 2 : 4096;
		while (cap < o->len + n)
			cap *= 2;
		if ((b = realloc(o->buf, cap)) == NULL) {
			o->nomem = 1;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, line, n - 1);
	o->buf[o->len + n - 1] = '\n';
	o->len += n;
}

static void
ctl_flush(struct ctl_out *o)
{
	struct mbuf	 m;
	char		*p, *nl;

	for (p = o->buf; p != NULL && p < o->buf + o->len; p = nl + 1) {
		nl = memchr(p, '\n', o->buf + o->len - p);
		*nl = '\0';
		mbuf_init(&m);
		mbuf_add_str(&m, p);
		imsgev_compose_mbuf(o->iev, IMSG_CTL_DATA, o->peerid, -1, &m);
	}
	o->len = 0;
}

static void
ctl_end(struct ctl_out *o, uint32_t status, const char *msg)
{
	struct mbuf m;

	ctl_flush(o);
	if (o->nomem) {
		status = 1;
		msg = "out of memory";
	}
	mbuf_init(&m);
	mbuf_add_u32(&m, status);
	mbuf_add_str(&m, msg);
	imsgev_compose_mbuf(o->iev, IMSG_CTL_END, o->peerid, -1, &m);
}

/* s as smtpd would hold it after RCPT TO / MAIL FROM: "<...>" or bare. */
static int
ctl_path(const char *s, int allow_null, char *out, size_t outsz)
{
	struct mailaddr	 a;
	char		 path[ADDR_PATH_MAX + 2];
	const char	*end;

	if ((size_t)snprintf(path, sizeof(path), s[0] == '<' ? "%s" : "<%s>",
	    s) >= sizeof(path) ||
	    addr_parse_path(path, &a, allow_null, &end) == -1 || *end != '\0')
		return -1;
	return addr_format(&a, out, outsz);
}

/* One round of a test rcpt; -1 if the client address is not one. */
static int
ctl_test_round(struct ctl_req *req, struct lka_tables *lt)
{
	struct lka_trace	 tr = { ctl_line, &req->o };
	struct lka_result	 res;
	char			 line[CTL_LINE_MAX];
	size_t			 i;

	snprintf(line, sizeof(line), "RCPT TO:<%s> from client %s%s, MAIL "
	    "FROM:<%s>", req->arg, req->client[0] ? req->client :
	    CTL_DEFAULT_CLIENT, req->client[0] ? "" :
	    " (default: an outside client)", req->sender);
	ctl_line(&req->o, line);
	lka_result_init(&res);
	if (lt == NULL)
		lka_result_set(&res, LKA_TEMPFAIL, "Temporary lookup failure");
	else if (lka_decide_trace(lt, req->client[0] ? req->client :
	    CTL_DEFAULT_CLIENT, req->sender, req->arg, &res, &tr) == -1) {
		lka_result_free(&res);
		return -1;
	}
	if (req->w.pending > 0) {	/* not the last round */
		lka_result_free(&res);
		return 0;
	}
	if (req->rounds > 0) {
		snprintf(line, sizeof(line), "(asked a directory first: this "
		    "is round %d of the decision)", req->rounds + 1);
		ctl_line(&req->o, line);
	}
	if (res.status == LKA_RELAY)
		for (i = 0; i < res.nrcpts; i++) {
			snprintf(line, sizeof(line), "final recipient <%s> "
			    "relay %s", res.rcpts[i].addr, res.rcpts[i].relay);
			ctl_line(&req->o, line);
		}
	rcpt_reply(line, sizeof(line), res.status, req->arg, res.text,
	    res.nrcpts);
	lka_result_free(&res);
	ctl_line(&req->o, "reply:");
	ctl_line(&req->o, line);
	return 0;
}

/* One round of a table lookup: the END status, or -1 for no table. */
static int
ctl_lookup_round(struct ctl_req *req, struct lka_tables *lt)
{
	struct lka_trace	 tr = { ctl_line, &req->o };
	struct table		*t;
	const char		*v;
	enum table_res		 res;

	if (lt == NULL || (t = lka_table_named(lt, req->arg)) == NULL)
		return -1;
	res = table_lookup(t, req->key, &v);
	lka_trace_lookup(&tr, 0, t, req->key, res, v);
	return res != TABLE_FOUND;
}

static void ctl_wake(struct table_waiter *);

/* Runs req (again); answers it unless it waits for a directory. */
static void
ctl_run(struct ctl_req *req)
{
	struct lka_tables	*lt = req->tables();
	int			 rc;

	req->o.len = 0;			/* an earlier round's lines */
	req->w.pending = 0;
	table_waiter_set(&req->w);
	if (req->type == IMSG_CTL_TEST_RCPT)
		rc = ctl_test_round(req, lt);
	else
		rc = ctl_lookup_round(req, lt);
	table_waiter_set(NULL);
	if (req->w.pending > 0 && ++req->rounds <= CTL_ROUNDS_MAX)
		return;			/* ctl_wake() runs it again */
	if (req->w.pending > 0) {
		req->o.len = 0;
		ctl_end(&req->o, 1, "still waiting for the directory");
		req->abandoned = 1;	/* its queries free it */
		return;
	}
	if (req->type == IMSG_CTL_TEST_RCPT)
		ctl_end(&req->o, rc == -1, rc == -1 ? "invalid client address "
		    "(give a numeric IPv4 or IPv6 address)" : "");
	else
		ctl_end(&req->o, rc != 0, rc == -1 ? "no such table" : "");
	free(req->o.buf);
	free(req);
}

static void
ctl_wake(struct table_waiter *w)
{
	struct ctl_req *req = (struct ctl_req *)((char *)w -
	    offsetof(struct ctl_req, w));

	if (req->abandoned) {
		free(req->o.buf);
		free(req);
		return;
	}
	if ((req->o.iev = worker_parent()) == NULL) {
		free(req->o.buf);
		free(req);
		return;
	}
	ctl_run(req);
}

static struct ctl_req *
ctl_req_new(struct imsgev *iev, struct imsg *imsg,
    struct lka_tables *(*tables)(void))
{
	struct ctl_req *req;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("smtpctl request");
	req->o.iev = iev;
	req->o.peerid = imsg->hdr.peerid;
	req->type = imsg->hdr.type;
	req->w.wake = ctl_wake;
	req->tables = tables;
	return req;
}

static void
ctl_test_rcpt(struct imsgev *iev, struct imsg *imsg,
    struct lka_tables *(*tables)(void))
{
	struct ctl_req	*req = ctl_req_new(iev, imsg, tables);
	struct mreader	 r;
	char		 s[LKA_ADDR_MAX], rc[LKA_ADDR_MAX];

	mreader_init(&r, imsg);
	mr_str(&r, req->client, sizeof(req->client));
	mr_str(&r, s, sizeof(s));
	mr_str(&r, rc, sizeof(rc));
	if (mr_end(&r) == -1) {
		free(req);
		imsgev_fail(iev, "malformed test rcpt request");
		return;
	}
	if (ctl_path(rc, 0, req->arg, sizeof(req->arg)) == -1 ||
	    ctl_path(s[0] ? s : "<>", 1, req->sender,
	    sizeof(req->sender)) == -1) {
		ctl_end(&req->o, 1, req->arg[0] ? "invalid sender address" :
		    "invalid recipient address");
		free(req);
		return;
	}
	ctl_run(req);
}

static void
ctl_table_lookup(struct imsgev *iev, struct imsg *imsg,
    struct lka_tables *(*tables)(void))
{
	struct ctl_req	*req = ctl_req_new(iev, imsg, tables);
	struct mreader	 r;

	mreader_init(&r, imsg);
	mr_str(&r, req->arg, sizeof(req->arg));
	mr_str(&r, req->key, sizeof(req->key));
	if (mr_end(&r) == -1) {
		free(req);
		imsgev_fail(iev, "malformed table lookup request");
		return;
	}
	ctl_run(req);
}

static void
ctl_show_tables(struct ctl_out *o, struct lka_tables *lt)
{
	struct table	*t;
	struct tm	 tm;
	char		 when[32], extra[256], line[CTL_LINE_MAX];
	size_t		 i;

	for (i = 0; lt != NULL && (t = lka_table_at(lt, i)) != NULL; i++) {
		gmtime_r(&t->stats.loaded, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		/* the backend's own fields (an LDAP cache); stable columns */
		strlcpy(extra, "cache=-", sizeof(extra));
		if (t->backend->status != NULL)
			t->backend->status(t, extra, sizeof(extra));
		snprintf(line, sizeof(line), "%s backend=%s entries=%zu "
		    "loaded=%s lookups=%llu hits=%llu misses=%llu errors=%llu "
		    "%s", t->name, table_kind_name(t), t->nentries, when,
		    (unsigned long long)t->stats.lookups,
		    (unsigned long long)t->stats.hits,
		    (unsigned long long)t->stats.misses,
		    (unsigned long long)t->stats.errors, extra);
		ctl_line(o, line);
	}
	ctl_end(o, 0, "");
}

void
lookupd_ctl(struct imsgev *iev, struct imsg *imsg,
    struct lka_tables *(*tables)(void))
{
	struct ctl_out o = { iev, imsg->hdr.peerid, NULL, 0, 0, 0 };

	if (imsg->fd != -1) {
		imsgev_fail(iev, "unexpected fd");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_TEST_RCPT:
		ctl_test_rcpt(iev, imsg, tables);
		break;
	case IMSG_CTL_TABLE_LOOKUP:
		ctl_table_lookup(iev, imsg, tables);
		break;
	case IMSG_CTL_SHOW_TABLES:
		if (imsg->datalen != 0)
			imsgev_fail(iev, "malformed show tables request");
		else {
			ctl_show_tables(&o, tables());
			free(o.buf);	/* its lines went out with the end */
		}
		break;
	default:
		imsgev_fail(iev, "unexpected message from parent");
		break;
	}
}
