/*
 * queued/spool.c and queued/scheduler.c in a temporary directory: create,
 * write, commit, recover after a "crash", delivery results persisted,
 * removal order, batching and retry timing, the DSNs asked of queue_dsn
 * (one per batch, kept pending when not queued, one delay warning) and
 * the routing of recipients without a relay.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "../../queued/envelope.h"
#include "../../queued/queued.h"
#include "../../queued/scheduler.h"
#include "../../queued/spool.h"
#include "test.h"

#define NOW	1700000000

static char	topdir[256];

static const char body[] = "Subject: test\r\n\r\nhello\r\n";

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

static void __attribute__((format(printf, 3, 4)))
xsnprintf(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sz) {
		fprintf(stderr, "test bug: name too long\n");
		exit(2);
	}
}

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		die("strdup");
	return p;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh spool directory under topdir. */
static void
new_spool(struct spool *sp, const char *name, char *path, size_t pathsz)
{
	xsnprintf(path, pathsz, "%s/%s", topdir, name);
	if (mkdir(path, 0700) == -1)
		die(path);
	if (spool_open(sp, path) == -1)
		die("spool_open");
}

static int
exists(const char *spooldir, const char *sub, const char *id,
    const char *suffix)
{
	char path[512];
	struct stat st;

	xsnprintf(path, sizeof(path), "%s/%s/%s%s", spooldir, sub, id, suffix);
	return lstat(path, &st) == 0;
}

/* An envelope for id with n recipients, relays given in turn. */
static struct envelope *
new_env(const char *id, uint64_t size, size_t n, const char *const *relays)
{
	struct envelope *env;
	char to[64];
	size_t i;

	if ((env = calloc(1, sizeof(*env))) == NULL ||
	    (env->rcpt = calloc(n, sizeof(*env->rcpt))) == NULL)
		die("calloc");
	xsnprintf(env->id, sizeof(env->id), "%s", id);
	env->created = NOW;
	env->size = size;
	env->sender = xstrdup("sender@example.org");
	env->helo = xstrdup("client.example.org");
	env->client = xstrdup("192.0.2.1");
	env->nrcpt = n;
	for (i = 0; i < n; i++) {
		xsnprintf(to, sizeof(to), "u%zu@example1.com", i);
		env->rcpt[i].to = xstrdup(to);
		env->rcpt[i].orig = xstrdup(to);
		env->rcpt[i].relay = xstrdup(relays[i % 2]);
		env->rcpt[i].reply = xstrdup("");
		env->rcpt[i].next = NOW;
	}
	return env;
}

static const char *const relays_xy[] = {
	"smtp:[127.0.0.1]:2525", "smtp:[127.0.0.2]:2525"
};

/* Create a message, write the body; its id in id. */
static void
make_msg(struct spool *sp, char id[QUEUE_ID_LEN + 1])
{
	int fd;

	if ((fd = spool_create(sp, id)) == -1)
		die("spool_create");
	if (write(fd, body, sizeof(body) - 1) != (ssize_t)(sizeof(body) - 1))
		die("write");
	close(fd);
}

/* Create, write and commit a message with n recipients. */
static struct envelope *
make_committed(struct spool *sp, size_t n)
{
	char id[QUEUE_ID_LEN + 1];
	struct envelope *env;

	make_msg(sp, id);
	env = new_env(id, sizeof(body) - 1, n, relays_xy);
	if (spool_commit(sp, env) == -1)
		die("commit");
	return env;
}

/* Decode <spool>/queue/<id>.env; 0 or -1. */
static int
load_env(const char *spooldir, const char *id, struct envelope *env)
{
	char path[512], buf[65536];
	ssize_t n;
	int fd;

	xsnprintf(path, sizeof(path), "%s/queue/%s.env", spooldir, id);
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -1;
	return envelope_decode(env, buf, (size_t)n, NULL);
}

static void
write_file(const char *spooldir, const char *sub, const char *name,
    const char *text)
{
	char path[512];
	FILE *f;

	xsnprintf(path, sizeof(path), "%s/%s/%s", spooldir, sub, name);
	if ((f = fopen(path, "w")) == NULL)
		die(path);
	fputs(text, f);
	fclose(f);
}

static void
test_open_create(void)
{
	char path[256], path2[300], id1[QUEUE_ID_LEN + 1], id2[QUEUE_ID_LEN + 1];
	struct spool sp;
	struct stat st;
	char c;
	int fd;

	new_spool(&sp, "open", path, sizeof(path));
	xsnprintf(path2, sizeof(path2), "%s/queue", path);
	t_check(stat(path2, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0777) == 0700, "queue/ created 0700", "mode %o",
	    (unsigned)st.st_mode);
	xsnprintf(path2, sizeof(path2), "%s/corrupt", path);
	t_check(stat(path2, &st) == 0 && S_ISDIR(st.st_mode),
	    "corrupt/ created", "missing");

	fd = spool_create(&sp, id1);
	t_check(fd != -1 && envelope_valid_id(id1) &&
	    exists(path, "queue", id1, ".msg"), "create message file", "%s",
	    id1);
	t_check(write(fd, "x", 1) == 1 && read(fd, &c, 1) == -1 &&
	    errno == EBADF, "message fd is write-only", "readable");
	close(fd);
	fd = spool_create(&sp, id2);
	t_check(fd != -1 && strcmp(id1, id2) != 0, "fresh queue id",
	    "%s twice", id1);
	close(fd);
	fd = spool_msg_open(&sp, id1);
	t_check(fd != -1 && read(fd, &c, 1) == 1 && c == 'x' &&
	    write(fd, "y", 1) == -1, "message opened read-only", "fd %d", fd);
	close(fd);
	spool_close(&sp);
}

static void
test_commit(void)
{
	char path[256], id[QUEUE_ID_LEN + 1];
	struct envelope *env, back;
	struct spool sp;
	int rv, msgfd, envfd;

	new_spool(&sp, "commit", path, sizeof(path));
	make_msg(&sp, id);
	env = new_env(id, sizeof(body), 2, relays_xy);	/* one byte too many */
	rv = spool_stage(&sp, env, &msgfd, &envfd);
	t_check(rv == -1 && !exists(path, "queue", id, ".env") &&
	    !exists(path, "queue", id, ".env.tmp"),
	    "commit refused on size mismatch", "rv %d", rv);
	env->size = sizeof(body) - 1;
	rv = spool_stage(&sp, env, &msgfd, &envfd);
	t_check(rv == 0 && !exists(path, "queue", id, ".env") &&
	    exists(path, "queue", id, ".env.tmp"),
	    "stage writes a temp envelope, not yet the envelope", "rv %d", rv);
	if (rv == 0) {
		close(msgfd);
		close(envfd);
	}
	rv = spool_publish(&sp, id) == 0 && spool_sync(&sp) == 0 ? 0 : -1;
	t_check(rv == 0 && exists(path, "queue", id, ".env") &&
	    !exists(path, "queue", id, ".env.tmp"),
	    "sync and publish put the envelope in place", "rv %d", rv);
	rv = load_env(path, id, &back);
	t_check(rv == 0 && strcmp(back.sender, env->sender) == 0 &&
	    back.nrcpt == 2 && back.size == sizeof(body) - 1,
	    "committed envelope reads back", "rv %d", rv);
	if (rv == 0)
		envelope_clear(&back);
	rv = spool_remove(&sp, id);
	t_check(rv == 0 && !exists(path, "queue", id, ".env") &&
	    !exists(path, "queue", id, ".msg"), "remove", "rv %d", rv);
	envelope_free(env);
	spool_close(&sp);
}

struct loaded {
	struct envelope	*env[8];
	size_t		 n;
};

static void
collect(struct envelope *env, void *arg)
{
	struct loaded *l = arg;

	if (l->n < 8)
		l->env[l->n++] = env;
	else
		envelope_free(env);
}

static void
test_recover(void)
{
	char path[256], b[QUEUE_ID_LEN + 1], c[QUEUE_ID_LEN + 1];
	char name[512], gpath[512];
	struct envelope *a, *d, *e, *f, *g;
	struct spool_stats st;
	struct loaded l = { { NULL }, 0 };
	struct spool sp;
	size_t i;
	int rv, fd;

	new_spool(&sp, "recover", path, sizeof(path));
	a = make_committed(&sp, 2);		/* committed: loaded */
	make_msg(&sp, b);			/* uncommitted: removed */
	make_msg(&sp, c);			/* crashed mid-commit */
	xsnprintf(name, sizeof(name), "%s.env.tmp", c);
	write_file(path, "queue", name, "mxgate-envelope 1\nid=");
	d = make_committed(&sp, 1);		/* garbage envelope */
	xsnprintf(name, sizeof(name), "%s.env", d->id);
	write_file(path, "queue", name, "mxgate-envelope 1\nid=XYZ\n");
	e = make_committed(&sp, 1);		/* message file lost */
	xsnprintf(name, sizeof(name), "%s/queue/%s.msg", path, e->id);
	unlink(name);
	f = make_committed(&sp, 2);		/* every recipient done */
	f->rcpt[0].state = RCPT_SENT;
	f->rcpt[1].state = RCPT_BOUNCED;
	spool_update(&sp, f);
	g = make_committed(&sp, 1);		/* message grew */
	xsnprintf(gpath, sizeof(gpath), "%s/queue/%s.msg", path, g->id);
	if ((fd = open(gpath, O_WRONLY | O_APPEND)) == -1 ||
	    write(fd, "x", 1) != 1)
		die(gpath);
	close(fd);
	write_file(path, "queue", "README", "not ours\n");
	spool_close(&sp);

	/* "restart" */
	if (spool_open(&sp, path) == -1)
		die("spool_open");
	rv = spool_recover(&sp, collect, &l, &st);
	t_check(rv == 0 && l.n == 1 && strcmp(l.env[0]->id, a->id) == 0 &&
	    l.env[0]->nrcpt == 2 &&
	    strcmp(l.env[0]->rcpt[1].to, a->rcpt[1].to) == 0,
	    "committed message loaded", "rv %d, %zu loaded", rv, l.n);
	t_check(!exists(path, "queue", b, ".msg"),
	    "uncommitted message removed", "still there");
	t_check(!exists(path, "queue", c, ".msg") &&
	    !exists(path, "queue", c, ".env.tmp") &&
	    !exists(path, "queue", c, ".env"),
	    "partial temp envelope ignored and removed", "still there");
	t_check(!exists(path, "queue", d->id, ".env") &&
	    !exists(path, "queue", d->id, ".msg") &&
	    exists(path, "corrupt", d->id, ".env") &&
	    exists(path, "corrupt", d->id, ".msg"),
	    "corrupt envelope quarantined with its message", "not moved");
	t_check(exists(path, "corrupt", e->id, ".env") &&
	    !exists(path, "queue", e->id, ".env"),
	    "envelope without message quarantined", "not moved");
	t_check(!exists(path, "queue", f->id, ".env") &&
	    !exists(path, "queue", f->id, ".msg"),
	    "finished message removed", "still there");
	t_check(exists(path, "corrupt", g->id, ".env") &&
	    exists(path, "corrupt", g->id, ".msg"),
	    "size mismatch quarantined", "not moved");
	t_check(exists(path, "queue", "README", ""), "unknown file left alone",
	    "removed");
	t_check(st.loaded == 1 && st.uncommitted == 2 && st.finished == 1 &&
	    st.corrupt == 3, "recovery counts", "%zu %zu %zu %zu", st.loaded,
	    st.uncommitted, st.finished, st.corrupt);

	/* quarantine never replaces: same id corrupt again */
	xsnprintf(name, sizeof(name), "%s.env", d->id);
	write_file(path, "queue", name, "garbage\n");
	spool_recover(&sp, collect, &l, &st);
	t_check(exists(path, "corrupt", d->id, ".env") &&
	    exists(path, "corrupt", d->id, ".env.1"),
	    "second quarantine of one id kept apart", "overwritten");

	for (i = 0; i < l.n; i++)
		envelope_free(l.env[i]);
	envelope_free(a);
	envelope_free(d);
	envelope_free(e);
	envelope_free(f);
	envelope_free(g);
	spool_close(&sp);
}

static void
test_removal_order(void)
{
	char path[256], name[512];
	struct envelope *env;
	struct loaded l = { { NULL }, 0 };
	struct spool sp;
	int rv;

	new_spool(&sp, "order", path, sizeof(path));

	/* an envelope that cannot be unlinked keeps its message */
	env = make_committed(&sp, 1);
	xsnprintf(name, sizeof(name), "%s/queue/%s.env", path, env->id);
	unlink(name);
	if (mkdir(name, 0700) == -1)
		die(name);
	xsnprintf(name, sizeof(name), "%s.env/x", env->id);
	write_file(path, "queue", name, "x");
	rv = spool_remove(&sp, env->id);
	t_check(rv == -1 && exists(path, "queue", env->id, ".msg"),
	    "message kept while its envelope stays", "rv %d", rv);
	xsnprintf(name, sizeof(name), "%s/queue/%s.env", path, env->id);
	rm_rf(name);
	envelope_free(env);

	/* a crash between the two unlinks leaves an uncommitted message */
	env = make_committed(&sp, 1);
	xsnprintf(name, sizeof(name), "%s/queue/%s.env", path, env->id);
	unlink(name);
	spool_recover(&sp, collect, &l, NULL);
	t_check(l.n == 0 && !exists(path, "queue", env->id, ".msg"),
	    "crash between unlinks: message removed", "%zu loaded", l.n);
	envelope_free(env);
	spool_close(&sp);
}

struct sent {
	uint64_t	id[128];
	size_t		n[128];
	const char	*relay[128];
	size_t		count;
	int		refuse;
};

static int
fake_send(const struct sched_batch *b, void *arg)
{
	struct sent *s = arg;

	if (s->refuse)
		return -1;
	if (s->count < 128) {
		s->id[s->count] = b->id;
		s->n[s->count] = b->n;
		s->relay[s->count] = b->relay;
	}
	s->count++;
	return 0;
}

static void
test_delivery(void)
{
	char path[256], id[QUEUE_ID_LEN + 1];
	struct envelope *env, back;
	struct scheduler s;
	struct sent out;
	struct spool sp;
	uint32_t st2[2] = { MTA_OK, MTA_TEMPFAIL }, st1[1] = { MTA_PERMFAIL };
	uint32_t bad[2] = { MTA_OK, 7 };
	char *rep2[2] = { "250 2.0.0 Ok", "451 4.3.0 later\r\nx" };
	char *rep1[1] = { "550 5.1.1 unknown" };
	int rv;

	new_spool(&sp, "delivery", path, sizeof(path));
	sched_init(&s, &sp);
	sched_set_retry(&s, 300, 3600, 86400);
	env = make_committed(&sp, 3);	/* relays X, Y, X */
	xsnprintf(id, sizeof(id), "%s", env->id);
	sched_add(&s, env);

	memset(&out, 0, sizeof(out));
	sched_dispatch(&s, NOW, fake_send, &out);
	t_check(out.count == 2 && out.n[0] == 2 &&
	    strcmp(out.relay[0], relays_xy[0]) == 0 && out.n[1] == 1 &&
	    strcmp(out.relay[1], relays_xy[1]) == 0 && s.ninflight == 2,
	    "one batch per message and relay", "%zu batches", out.count);
	t_check(sched_next_due(&s) == -1, "nothing due while at mtad",
	    "%lld", (long long)sched_next_due(&s));

	t_check(sched_result(&s, 999, 2, st2, rep2, NOW) == -1,
	    "unknown batch refused", "accepted");
	t_check(sched_result(&s, out.id[0], 1, st2, rep2, NOW) == -1,
	    "wrong count refused", "accepted");
	t_check(sched_result(&s, out.id[0], 2, bad, rep2, NOW) == -1 &&
	    env->rcpt[0].state == RCPT_PENDING && env->rcpt[0].inflight,
	    "bad status refused, nothing changed", "changed");

	rv = sched_result(&s, out.id[0], 2, st2, rep2, NOW + 10);
	t_check(rv == 0 && load_env(path, id, &back) == 0 &&
	    back.rcpt[0].state == RCPT_SENT &&
	    back.rcpt[2].state == RCPT_PENDING && back.rcpt[2].tries == 1 &&
	    back.rcpt[2].next == NOW + 10 + 300 &&
	    strcmp(back.rcpt[2].reply, rep2[1]) == 0 &&
	    back.rcpt[1].state == RCPT_PENDING,
	    "delivery result persisted", "rv %d", rv);
	envelope_clear(&back);

	rv = sched_result(&s, out.id[1], 1, st1, rep1, NOW + 20);
	t_check(rv == 0 && load_env(path, id, &back) == 0 &&
	    back.rcpt[1].state == RCPT_BOUNCED && s.ninflight == 0,
	    "permanent failure persisted", "rv %d", rv);
	envelope_clear(&back);
	t_check(sched_next_due(&s) == NOW + 310, "next due is the retry",
	    "%lld", (long long)sched_next_due(&s));

	memset(&out, 0, sizeof(out));
	sched_dispatch(&s, NOW + 309, fake_send, &out);
	t_check(out.count == 0, "not retried early", "%zu", out.count);
	sched_dispatch(&s, NOW + 310, fake_send, &out);
	t_check(out.count == 1 && out.n[0] == 1, "retried when due", "%zu",
	    out.count);

	sched_requeue_inflight(&s, NOW + 400);
	t_check(s.ninflight == 0 && !env->rcpt[2].inflight &&
	    env->rcpt[2].next == NOW + 700 && env->rcpt[2].tries == 1,
	    "mtad lost: batch deferred by retry_min", "next %lld",
	    (long long)env->rcpt[2].next);

	memset(&out, 0, sizeof(out));
	out.refuse = 1;
	sched_dispatch(&s, NOW + 700, fake_send, &out);
	t_check(s.ninflight == 0 && env->rcpt[2].next == NOW + 1000,
	    "refused send deferred", "next %lld",
	    (long long)env->rcpt[2].next);

	out.refuse = 0;
	sched_dispatch(&s, NOW + 1000, fake_send, &out);
	rv = sched_result(&s, out.id[0], 1, st2, rep2, NOW + 1000);
	t_check(rv == 0 && s.nmsgs == 0 && !exists(path, "queue", id, ".env") &&
	    !exists(path, "queue", id, ".msg"),
	    "last recipient done: message removed", "rv %d, %zu left", rv,
	    s.nmsgs);
	sched_clear(&s);
	spool_close(&sp);
}

static void
test_expiry(void)
{
	char path[256], id[QUEUE_ID_LEN + 1];
	struct envelope *env;
	struct scheduler s;
	struct sent out;
	struct spool sp;
	uint32_t st[1] = { MTA_TEMPFAIL };
	char *rep[1] = { "421 4.4.2 timeout" };
	int rv;

	new_spool(&sp, "expiry", path, sizeof(path));
	sched_init(&s, &sp);
	sched_set_retry(&s, 300, 3600, 86400);
	env = make_committed(&sp, 1);
	env->created = NOW - 86401;
	xsnprintf(id, sizeof(id), "%s", env->id);
	sched_add(&s, env);
	memset(&out, 0, sizeof(out));
	sched_dispatch(&s, NOW, fake_send, &out);
	rv = sched_result(&s, out.id[0], 1, st, rep, NOW);
	t_check(rv == 0 && s.nmsgs == 0 && !exists(path, "queue", id, ".msg"),
	    "temporary failure past lifetime expires", "rv %d", rv);
	sched_clear(&s);
	spool_close(&sp);
}

/* The DSNs the scheduler asks for. */
struct dsns {
	size_t		 calls[3];	/* by enum bounce_kind */
	size_t		 n[3];		/* recipients in the last call */
	int		 refuse;
};

static int
fake_dsn(const struct envelope *env, enum bounce_kind kind, const size_t *idx,
    size_t n, int64_t now, void *arg)
{
	struct dsns *d = arg;

	if (d->refuse)
		return -1;
	d->calls[kind]++;
	d->n[kind] = n;
	return 0;
}

static void
test_dsn_wiring(void)
{
	char path[256], id[QUEUE_ID_LEN + 1];
	const char *const one[] = { "smtp:[127.0.0.1]:2525",
	    "smtp:[127.0.0.1]:2525" };
	struct envelope *env, back;
	struct scheduler s;
	struct sent out;
	struct dsns d;
	struct spool sp;
	uint32_t st3[3] = { MTA_PERMFAIL, MTA_OK, MTA_PERMFAIL };
	uint32_t tf[1] = { MTA_TEMPFAIL };
	char *rep3[3] = { "550 5.1.1 a", "250 ok", "550 5.1.1 b" };
	char *rep1[1] = { "451 4.2.0 later" };
	int rv;

	new_spool(&sp, "dsn", path, sizeof(path));
	sched_init(&s, &sp);
	sched_set_retry(&s, 300, 3600, 86400);
	memset(&d, 0, sizeof(d));
	sched_set_dsn(&s, 0, fake_dsn, &d);
	make_msg(&sp, id);
	env = new_env(id, sizeof(body) - 1, 3, one);
	if (spool_commit(&sp, env) == -1 || spool_sync(&sp) == -1)
		die("commit");
	sched_add(&s, env);
	memset(&out, 0, sizeof(out));
	sched_dispatch(&s, NOW, fake_send, &out);
	rv = sched_result(&s, out.id[0], 3, st3, rep3, NOW);
	t_check(rv == 0 && d.calls[BOUNCE_FAILURE] == 1 &&
	    d.n[BOUNCE_FAILURE] == 2 && d.calls[BOUNCE_SUCCESS] == 1 &&
	    d.n[BOUNCE_SUCCESS] == 1 && s.nmsgs == 0,
	    "one failure DSN for the two failures of a batch, success asked "
	    "for the relayed one", "failure %zu/%zu success %zu",
	    d.calls[BOUNCE_FAILURE], d.n[BOUNCE_FAILURE],
	    d.calls[BOUNCE_SUCCESS]);

	/* the DSN cannot be queued: the failures stay pending */
	make_msg(&sp, id);
	env = new_env(id, sizeof(body) - 1, 3, one);
	if (spool_commit(&sp, env) == -1 || spool_sync(&sp) == -1)
		die("commit");
	sched_add(&s, env);
	memset(&out, 0, sizeof(out));
	sched_dispatch(&s, NOW, fake_send, &out);
	d.refuse = 1;
	rv = sched_result(&s, out.id[0], 3, st3, rep3, NOW);
	t_check(rv == 0 && load_env(path, id, &back) == 0 &&
	    back.rcpt[0].state == RCPT_PENDING && back.rcpt[0].next > NOW &&
	    back.rcpt[2].state == RCPT_PENDING &&
	    back.rcpt[1].state == RCPT_SENT,
	    "DSN not queued: failed recipients kept pending, on disk too",
	    "rv %d", rv);
	envelope_clear(&back);
	sched_clear(&s);

	/* delay warning: once per message, persisted */
	d.refuse = 0;
	memset(&d, 0, sizeof(d));
	sched_init(&s, &sp);
	sched_set_retry(&s, 1, 1, 86400);
	sched_set_dsn(&s, 100, fake_dsn, &d);
	env = make_committed(&sp, 1);
	env->created = NOW - 50;
	xsnprintf(id, sizeof(id), "%s", env->id);
	sched_add(&s, env);
	memset(&out, 0, sizeof(out));
	sched_dispatch(&s, NOW, fake_send, &out);
	sched_result(&s, out.id[0], 1, tf, rep1, NOW);
	t_check(d.calls[BOUNCE_DELAY] == 0 && !env->warned,
	    "no delay DSN before delay-warning", "%zu", d.calls[BOUNCE_DELAY]);
	sched_dispatch(&s, NOW + 60, fake_send, &out);
	sched_result(&s, out.id[1], 1, tf, rep1, NOW + 60);
	t_check(d.calls[BOUNCE_DELAY] == 1 && d.n[BOUNCE_DELAY] == 1 &&
	    load_env(path, id, &back) == 0 && back.warned == 1,
	    "delay DSN after delay-warning, warned persisted", "%zu",
	    d.calls[BOUNCE_DELAY]);
	envelope_clear(&back);
	sched_dispatch(&s, NOW + 70, fake_send, &out);
	sched_result(&s, out.id[2], 1, tf, rep1, NOW + 70);
	t_check(d.calls[BOUNCE_DELAY] == 1, "only one delay DSN per message",
	    "%zu", d.calls[BOUNCE_DELAY]);
	sched_clear(&s);
	spool_close(&sp);
}

/* Route requests seen by the scheduler's caller. */
static int
fake_ask(const struct envelope *env, size_t idx, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static void
test_route(void)
{
	char path[256], id[QUEUE_ID_LEN + 1];
	const char *const none[] = { "", "" };
	struct envelope *env, back;
	struct scheduler s;
	struct sent out;
	struct spool sp;
	size_t asked = 0;

	new_spool(&sp, "route", path, sizeof(path));
	sched_init(&s, &sp);
	sched_set_retry(&s, 300, 3600, 86400);
	make_msg(&sp, id);
	env = new_env(id, sizeof(body) - 1, 1, none);
	if (spool_commit(&sp, env) == -1 || spool_sync(&sp) == -1)
		die("commit");
	sched_add(&s, env);
	memset(&out, 0, sizeof(out));
	sched_dispatch(&s, NOW, fake_send, &out);
	t_check(out.count == 0, "a recipient without relay is not sent",
	    "%zu", out.count);
	sched_route_due(&s, NOW, fake_ask, &asked);
	sched_route_due(&s, NOW, fake_ask, &asked);
	t_check(asked == 1 && env->rcpt[0].inflight,
	    "its route asked once", "%zu", asked);
	t_check(sched_route_result(&s, id, 1, "smtp:x", NULL, NOW) == -1 &&
	    sched_route_result(&s, "000000000000", 0, "smtp:x", NULL, NOW) ==
	    -1, "a result for no request refused", "accepted");
	sched_route_result(&s, id, 0, NULL, "no transport", NOW);
	t_check(env->rcpt[0].state == RCPT_PENDING && !env->rcpt[0].inflight &&
	    env->rcpt[0].tries == 1 && env->rcpt[0].next == NOW + 300 &&
	    load_env(path, id, &back) == 0 && back.rcpt[0].tries == 1,
	    "no route: kept for retry, persisted", "tries %u",
	    env->rcpt[0].tries);
	envelope_clear(&back);
	sched_route_due(&s, NOW + 300, fake_ask, &asked);
	sched_route_reset(&s);
	t_check(asked == 2 && !env->rcpt[0].inflight,
	    "lookupd lost: route asked again later", "%zu", asked);
	sched_route_due(&s, NOW + 300, fake_ask, &asked);
	sched_route_result(&s, id, 0, "smtp:[127.0.0.1]:25", NULL, NOW + 301);
	t_check(load_env(path, id, &back) == 0 &&
	    strcmp(back.rcpt[0].relay, "smtp:[127.0.0.1]:25") == 0,
	    "routed: relay persisted", "relay %s", env->rcpt[0].relay);
	envelope_clear(&back);
	sched_dispatch(&s, NOW + 301, fake_send, &out);
	t_check(out.count == 1, "routed recipient sent", "%zu", out.count);
	sched_clear(&s);
	spool_close(&sp);
}

static void
test_limits(void)
{
	char path[256];
	const char *const same[] = { "smtp:[127.0.0.1]:2525",
	    "smtp:[127.0.0.1]:2525" };
	char id[QUEUE_ID_LEN + 1];
	struct scheduler s;
	struct sent out;
	struct spool sp;
	int i;

	new_spool(&sp, "limits", path, sizeof(path));
	sched_init(&s, &sp);
	make_msg(&sp, id);
	sched_add(&s, new_env(id, sizeof(body) - 1, 150, same));
	memset(&out, 0, sizeof(out));
	sched_dispatch(&s, NOW, fake_send, &out);
	t_check(out.count == 2 && out.n[0] == SCHED_BATCH_MAX_RCPT &&
	    out.n[1] == 50, "batches capped at 100 recipients", "%zu: %zu",
	    out.count, out.n[0]);
	sched_clear(&s);

	sched_init(&s, &sp);
	for (i = 0; i < 70; i++) {
		make_msg(&sp, id);
		sched_add(&s, new_env(id, sizeof(body) - 1, 1, same));
	}
	memset(&out, 0, sizeof(out));
	sched_dispatch(&s, NOW, fake_send, &out);
	t_check(out.count == SCHED_MAX_INFLIGHT &&
	    s.ninflight == SCHED_MAX_INFLIGHT, "in-flight batches capped",
	    "%zu", out.count);
	sched_clear(&s);
	spool_close(&sp);
}

static void
test_retry_delay(void)
{
	static const struct {
		uint32_t tries;
		int64_t delay;
	} cases[] = {
		{ 0, 300 }, { 1, 300 }, { 2, 600 }, { 3, 1200 }, { 4, 2400 },
		{ 5, 3600 }, { 6, 3600 }, { 100, 3600 }, { UINT32_MAX, 3600 }
	};
	struct scheduler s;
	size_t i;
	int ok = 1;

	sched_init(&s, NULL);
	sched_set_retry(&s, 300, 3600, 86400);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sched_retry_delay(&s, cases[i].tries) != cases[i].delay) {
			printf("# tries %u: %lld\n", cases[i].tries,
			    (long long)sched_retry_delay(&s, cases[i].tries));
			ok = 0;
		}
	}
	t_check(ok, "retry delay doubles up to retry_max", "see above");
	sched_set_retry(&s, 0, 0, 0);
	t_check(s.retry_min == 1 && sched_retry_delay(&s, 5) == 0,
	    "retry_min never 0", "%u", s.retry_min);
	sched_set_retry(&s, 4000, 3600, 0);
	t_check(sched_retry_delay(&s, 1) == 3600, "retry_max caps retry_min",
	    "%lld", (long long)sched_retry_delay(&s, 1));
}

/* Every batch of the message named in arg is broken, others go out. */
static int
broken_send(const struct sched_batch *b, void *arg)
{
	const char *bad = arg;

	return strcmp(b->msg->env->id, bad) == 0 ? SCHED_SEND_BROKEN : 0;
}

static void
test_broken(void)
{
	char path[256], bad[QUEUE_ID_LEN + 1], good[QUEUE_ID_LEN + 1];
	struct envelope *e1, *e2;
	struct scheduler s;
	struct spool sp;
	size_t sent;

	new_spool(&sp, "broken", path, sizeof(path));
	sched_init(&s, &sp);
	sched_set_retry(&s, 300, 3600, 86400);
	e1 = make_committed(&sp, 3);
	e2 = make_committed(&sp, 1);
	xsnprintf(bad, sizeof(bad), "%s", e1->id);
	xsnprintf(good, sizeof(good), "%s", e2->id);
	sched_add(&s, e1);
	sched_add(&s, e2);
	sent = sched_dispatch(&s, NOW, broken_send, bad);
	t_check(sent == 1 && s.nmsgs == 1 && s.ninflight == 1 &&
	    strcmp(TAILQ_FIRST(&s.msgs)->env->id, good) == 0,
	    "unusable message leaves the queue, the pass goes on",
	    "sent %zu, %zu msgs, %zu inflight", sent, s.nmsgs, s.ninflight);
	t_check(exists(path, "corrupt", bad, ".env") &&
	    exists(path, "corrupt", bad, ".msg") &&
	    !exists(path, "queue", bad, ".env") &&
	    exists(path, "queue", good, ".env"),
	    "unusable message quarantined with its envelope", "not moved");
	sched_clear(&s);
	spool_close(&sp);
}

static void
test_show_line(void)
{
	char line[QUEUE_CTL_LINE_MAX];
	struct envelope *env;
	int rv;

	env = new_env("4F2A9C1B0E11", 10, 2, relays_xy);
	free(env->sender);
	env->sender = xstrdup("odd sender@example.org");
	env->rcpt[1].tries = 2;
	env->rcpt[1].next = NOW + 120;
	rv = queue_ctl_line(line, sizeof(line), env, &env->rcpt[1], NOW + 30);
	t_check(rv == 0 && strcmp(line, "4F2A9C1B0E11 age=30s "
	    "from=odd%20sender@example.org to=u1@example1.com "
	    "state=deferred tries=2 next=90s") == 0, "show queue line",
	    "%s", line);
	free(env->sender);
	env->sender = xstrdup("");
	env->rcpt[0].inflight = 1;
	rv = queue_ctl_line(line, sizeof(line), env, &env->rcpt[0], NOW);
	t_check(rv == 0 && strcmp(line, "4F2A9C1B0E11 age=0s from=<> "
	    "to=u0@example1.com state=inflight tries=0 next=0s") == 0,
	    "show queue line, null sender in flight", "%s", line);
	envelope_free(env);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	xsnprintf(topdir, sizeof(topdir), "%s/mxgate-test-spool.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(topdir) == NULL)
		die("mkdtemp");
	test_open_create();
	test_commit();
	test_recover();
	test_removal_order();
	test_delivery();
	test_expiry();
	test_dsn_wiring();
	test_route();
	test_limits();
	test_retry_delay();
	test_broken();
	test_show_line();
	rm_rf(topdir);
	return t_exit();
}
