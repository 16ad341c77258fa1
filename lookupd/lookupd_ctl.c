/*
 * lookupd's side of smtpctl (through the parent, peer id = the control
 * client): `test rcpt` runs the real decision (lka_decide_trace) with a
 * sink that sends each step as an IMSG_CTL_DATA line; `table lookup` and
 * `show tables` read the live snapshot.  Every request gets exactly one
 * IMSG_CTL_END; a malformed one is fatal to the link, as any message.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "addr.h"
#include "imsgev.h"
#include "lka.h"
#include "lookupd_ctl.h"
#include "mbuf.h"
#include "rcpt_reply.h"

#define CTL_CLIENT_MAX		128
#define CTL_LINE_MAX		1024
/* smtpctl test rcpt without "from": a client in no trusted network */
#define CTL_DEFAULT_CLIENT	"0.0.0.0"

struct ctl_out {
	struct imsgev	*iev;
	uint32_t	 peerid;
};

static void
ctl_line(void *arg, const char *line)
{
	struct ctl_out	*o = arg;
	struct mbuf	 m;

	mbuf_init(&m);
	mbuf_add_str(&m, line);
	imsgev_compose_mbuf(o->iev, IMSG_CTL_DATA, o->peerid, -1, &m);
}

static void
ctl_end(struct ctl_out *o, uint32_t status, const char *msg)
{
	struct mbuf m;

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

static void
ctl_test_rcpt(struct ctl_out *o, struct imsg *imsg, struct lka_tables *lt)
{
	struct lka_trace	 tr = { ctl_line, o };
	struct lka_result	 res;
	struct mreader		 r;
	char			 client[CTL_CLIENT_MAX], sender[LKA_ADDR_MAX];
	char			 rcpt[LKA_ADDR_MAX], s[LKA_ADDR_MAX];
	char			 rc[LKA_ADDR_MAX], line[CTL_LINE_MAX];
	size_t			 i;

	mreader_init(&r, imsg);
	mr_str(&r, client, sizeof(client));
	mr_str(&r, s, sizeof(s));
	mr_str(&r, rc, sizeof(rc));
	if (mr_end(&r) == -1) {
		imsgev_fail(o->iev, "malformed test rcpt request");
		return;
	}
	if (ctl_path(rc, 0, rcpt, sizeof(rcpt)) == -1) {
		ctl_end(o, 1, "invalid recipient address");
		return;
	}
	if (ctl_path(s[0] ? s : "<>", 1, sender, sizeof(sender)) == -1) {
		ctl_end(o, 1, "invalid sender address");
		return;
	}
	snprintf(line, sizeof(line), "RCPT TO:<%s> from client %s%s, MAIL "
	    "FROM:<%s>", rcpt, client[0] ? client : CTL_DEFAULT_CLIENT,
	    client[0] ? "" : " (default: an outside client)", sender);
	ctl_line(o, line);
	if (client[0] == '\0')
		strlcpy(client, CTL_DEFAULT_CLIENT, sizeof(client));
	lka_result_init(&res);
	if (lt == NULL)
		lka_result_set(&res, LKA_TEMPFAIL, "Temporary lookup failure");
	else if (lka_decide_trace(lt, client, sender, rcpt, &res,
	    &tr) == -1) {
		lka_result_free(&res);
		ctl_end(o, 1, "invalid client address (give a numeric IPv4 or "
		    "IPv6 address)");
		return;
	}
	if (res.status == LKA_RELAY)
		for (i = 0; i < res.nrcpts; i++) {
			snprintf(line, sizeof(line), "final recipient <%s> "
			    "relay %s", res.rcpts[i].addr, res.rcpts[i].relay);
			ctl_line(o, line);
		}
	rcpt_reply(line, sizeof(line), res.status, rcpt, res.text,
	    res.nrcpts);
	lka_result_free(&res);
	ctl_line(o, "reply:");
	ctl_line(o, line);
	ctl_end(o, 0, "");
}

static void
ctl_table_lookup(struct ctl_out *o, struct imsg *imsg, struct lka_tables *lt)
{
	struct lka_trace	 tr = { ctl_line, o };
	struct mreader		 r;
	struct table		*t;
	char			 name[CONF_NAME_MAX], key[CTL_LINE_MAX];
	const char		*v;
	enum table_res		 res;

	mreader_init(&r, imsg);
	mr_str(&r, name, sizeof(name));
	mr_str(&r, key, sizeof(key));
	if (mr_end(&r) == -1) {
		imsgev_fail(o->iev, "malformed table lookup request");
		return;
	}
	if (lt == NULL || (t = lka_table_named(lt, name)) == NULL) {
		ctl_end(o, 1, "no such table");
		return;
	}
	res = table_lookup(t, key, &v);
	lka_trace_lookup(&tr, 0, t, key, res, v);
	ctl_end(o, res != TABLE_FOUND, res == TABLE_FAIL ?
	    "lookup failed" : "");
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
lookupd_ctl(struct imsgev *iev, struct imsg *imsg, struct lka_tables *lt)
{
	struct ctl_out o = { iev, imsg->hdr.peerid };

	if (imsg->fd != -1) {
		imsgev_fail(iev, "unexpected fd");
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_TEST_RCPT:
		ctl_test_rcpt(&o, imsg, lt);
		break;
	case IMSG_CTL_TABLE_LOOKUP:
		ctl_table_lookup(&o, imsg, lt);
		break;
	case IMSG_CTL_SHOW_TABLES:
		if (imsg->datalen != 0)
			imsgev_fail(iev, "malformed show tables request");
		else
			ctl_show_tables(&o, lt);
		break;
	default:
		imsgev_fail(iev, "unexpected message from parent");
		break;
	}
}
