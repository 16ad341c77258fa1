/*
 * The queue administration requests smtpctl sends through the parent:
 * show queue (with filters), show message, show stats, schedule, remove,
 * pause and resume.  Every value that came from a client is escaped, so
 * an output line is always one line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "envelope.h"
#include "imsgev.h"
#include "log.h"
#include "mbuf.h"
#include "proto.h"
#include "queued.h"
#include "scheduler.h"
#include "spool.h"

static const char *
queue_ctl_state(const struct envelope_rcpt *r)
{
	if (r->inflight)
		return "inflight";
	return r->tries == 0 ? "queued" : "deferred";
}

int
queue_ctl_line(char *buf, size_t bufsz, const struct envelope *env,
    const struct envelope_rcpt *r, int64_t now)
{
	char *from, *to;
	int64_t age, next;
	int n = -1;

	from = env->sender[0] != '\0' ? envelope_escape(env->sender) :
	    strdup("<>");
	to = envelope_escape(r->to);
	age = now > env->created ? now - env->created : 0;
	next = (r->inflight || r->next <= now) ? 0 : r->next - now;
	if (from != NULL && to != NULL)
		n = snprintf(buf, bufsz, "%s age=%llds from=%s to=%s state=%s "
		    "tries=%u next=%llds", env->id, (long long)age, from, to,
		    queue_ctl_state(r), r->tries, (long long)next);
	free(from);
	free(to);
	return (n < 0 || (size_t)n >= bufsz) ? -1 : 0;
}

static int
queue_ctl_send(struct imsgev *iev, uint32_t type, uint32_t peerid,
    const char *line)
{
	struct mbuf m;

	mbuf_init(&m);
	if (type == IMSG_CTL_END)
		mbuf_add_u32(&m, 0);
	mbuf_add_str(&m, line);
	return imsgev_compose_mbuf(iev, type, peerid, -1, &m);
}

static void
queue_ctl_fail(struct imsgev *iev, uint32_t peerid, const char *why)
{
	struct mbuf m;

	mbuf_init(&m);
	mbuf_add_u32(&m, 1);
	mbuf_add_str(&m, why);
	imsgev_compose_mbuf(iev, IMSG_CTL_END, peerid, -1, &m);
}

static void
queue_ctl_printf(struct imsgev *iev, uint32_t peerid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
queue_ctl_printf(struct imsgev *iev, uint32_t peerid, const char *fmt, ...)
{
	char line[QUEUE_CTL_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	queue_ctl_send(iev, IMSG_CTL_DATA, peerid, line);
}

/* show queue */

struct queue_filter {
	char	from[ENVELOPE_ADDR_MAX];
	char	to[ENVELOPE_ADDR_MAX];
	char	state[16];
	char	id[QUEUE_ID_LEN + 1];
};

/* 0, or -1 with why set for the administrator. */
static int
queue_filter_read(struct mreader *r, struct queue_filter *f,
    const char **why)
{
	char key[16], value[ENVELOPE_ADDR_MAX];
	uint32_t n, i;

	memset(f, 0, sizeof(*f));
	n = mr_u32(r);
	for (i = 0; i < n && !r->err; i++) {
		mr_str(r, key, sizeof(key));
		mr_str(r, value, sizeof(value));
		if (strcmp(key, "from") == 0)
			strlcpy(f->from, value, sizeof(f->from));
		else if (strcmp(key, "to") == 0)
			strlcpy(f->to, value, sizeof(f->to));
		else if (strcmp(key, "state") == 0 &&
		    (strcmp(value, "queued") == 0 ||
		    strcmp(value, "deferred") == 0 ||
		    strcmp(value, "inflight") == 0))
			strlcpy(f->state, value, sizeof(f->state));
		else if (strcmp(key, "id") == 0 && envelope_valid_id(value))
			strlcpy(f->id, value, sizeof(f->id));
		else {
			*why = "bad filter (from ADDR, to ADDR, state "
			    "queued|deferred|inflight, id QUEUEID)";
			return -1;
		}
	}
	if (mr_end(r) == -1) {
		*why = "malformed request";
		return -1;
	}
	return 0;
}

static int
queue_filter_match(const struct queue_filter *f, const struct envelope *env,
    const struct envelope_rcpt *r)
{
	if (f->id[0] != '\0' && strcmp(f->id, env->id) != 0)
		return 0;
	if (f->from[0] != '\0' && strcasestr(env->sender, f->from) == NULL)
		return 0;
	if (f->to[0] != '\0' && strcasestr(r->to, f->to) == NULL)
		return 0;
	return f->state[0] == '\0' || strcmp(f->state, queue_ctl_state(r)) == 0;
}

static void
queue_ctl_show(struct imsgev *iev, uint32_t peerid, struct mreader *rd,
    const struct scheduler *s, int64_t now)
{
	char line[QUEUE_CTL_LINE_MAX];
	struct queue_filter f;
	const struct envelope_rcpt *r;
	const struct sched_msg *m;
	const char *why;
	size_t i;

	if (queue_filter_read(rd, &f, &why) == -1) {
		queue_ctl_fail(iev, peerid, why);
		return;
	}
	TAILQ_FOREACH(m, &s->msgs, entry) {
		if (m->removed)
			continue;
		for (i = 0; i < m->env->nrcpt; i++) {
			r = &m->env->rcpt[i];
			if (r->state != RCPT_PENDING ||
			    !queue_filter_match(&f, m->env, r))
				continue;
			if (queue_ctl_line(line, sizeof(line), m->env, r,
			    now) == -1) {
				log_warnx("%s: show queue: line too long",
				    m->env->id);
				continue;
			}
			if (queue_ctl_send(iev, IMSG_CTL_DATA, peerid,
			    line) == -1)
				return;		/* the link is failing */
		}
	}
	queue_ctl_send(iev, IMSG_CTL_END, peerid, "");
}

/* show message */

static void
queue_ctl_rcpt(struct imsgev *iev, uint32_t peerid,
    const struct envelope *env, const struct envelope_rcpt *r, int64_t now)
{
	char *to, *orig, *relay, *reply;

	to = envelope_escape(r->to);
	orig = envelope_escape(r->orig);
	relay = envelope_escape(r->relay);
	reply = envelope_escape(r->reply);
	if (to != NULL && orig != NULL && relay != NULL && reply != NULL)
		queue_ctl_printf(iev, peerid, "rcpt: to=%s orig=%s relay=%s "
		    "state=%s tries=%u next=%llds reply=%s", to, orig, relay,
		    r->state == RCPT_PENDING ? queue_ctl_state(r) :
		    envelope_state_name(r->state), r->tries,
		    (long long)(r->next > now ? r->next - now : 0), reply);
	free(to);
	free(orig);
	free(relay);
	free(reply);
}

/* The header block of the message file, one line each, made printable. */
static void
queue_ctl_headers(struct imsgev *iev, uint32_t peerid, struct spool *spool,
    const char *id)
{
	static char buf[QUEUE_CTL_HEADERS_MAX + 1];
	char line[QUEUE_CTL_LINE_MAX];
	char *p, *eol;
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = spool_msg_open(spool, id)) == -1)
		return;
	while (len < QUEUE_CTL_HEADERS_MAX && (n = read(fd, buf + len,
	    QUEUE_CTL_HEADERS_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	for (p = buf; *p != '\0'; p = eol + 1) {
		if ((eol = strchr(p, '\n')) == NULL)
			break;		/* cut off at the size limit */
		*eol = '\0';
		if (eol > p && eol[-1] == '\r')
			eol[-1] = '\0';
		if (*p == '\0')
			break;		/* end of the header */
		queue_ctl_printf(iev, peerid, "header: %s",
		    envelope_vis(line, sizeof(line), p));
	}
}

static void
queue_ctl_message(struct imsgev *iev, uint32_t peerid, struct mreader *rd,
    struct scheduler *s, int64_t now)
{
	char id[QUEUE_ID_LEN + 2], from[ENVELOPE_ADDR_MAX];
	char helo[ENVELOPE_HELO_MAX], client[ENVELOPE_CLIENT_MAX];
	const struct envelope *env;
	struct sched_msg *m;
	size_t i;

	mr_str(rd, id, sizeof(id));
	if (mr_end(rd) == -1 || !envelope_valid_id(id)) {
		queue_ctl_fail(iev, peerid, "not a queue id");
		return;
	}
	if ((m = sched_find(s, id)) == NULL) {
		queue_ctl_fail(iev, peerid, "no such message in the queue");
		return;
	}
	env = m->env;
	queue_ctl_printf(iev, peerid, "id: %s", env->id);
	queue_ctl_printf(iev, peerid, "age: %llds",
	    (long long)(now > env->created ? now - env->created : 0));
	queue_ctl_printf(iev, peerid, "size: %llu",
	    (unsigned long long)env->size);
	queue_ctl_printf(iev, peerid, "from: <%s>",
	    envelope_vis(from, sizeof(from), env->sender));
	queue_ctl_printf(iev, peerid, "client: %s helo: %s",
	    envelope_vis(client, sizeof(client), env->client),
	    envelope_vis(helo, sizeof(helo), env->helo));
	for (i = 0; i < env->nrcpt; i++)
		queue_ctl_rcpt(iev, peerid, env, &env->rcpt[i], now);
	queue_ctl_headers(iev, peerid, s->spool, env->id);
	queue_ctl_send(iev, IMSG_CTL_END, peerid, "");
}

/* schedule, remove */

/* The message id of the request, NULL for "all"; -1 if malformed. */
static int
queue_ctl_target(struct mreader *rd, char *id, size_t idsz,
    const char **target)
{
	mr_str(rd, id, idsz);
	if (mr_end(rd) == -1)
		return -1;
	if (strcmp(id, "all") == 0) {
		*target = NULL;
		return 0;
	}
	*target = id;
	return envelope_valid_id(id) ? 0 : -1;
}

static void
queue_ctl_schedule(struct imsgev *iev, uint32_t peerid, struct mreader *rd,
    struct scheduler *s, int64_t now)
{
	char id[QUEUE_ID_LEN + 2], msg[128];
	const char *target;
	size_t n;

	if (queue_ctl_target(rd, id, sizeof(id), &target) == -1) {
		queue_ctl_fail(iev, peerid, "expected a queue id or all");
		return;
	}
	if (target != NULL && sched_find(s, target) == NULL) {
		queue_ctl_fail(iev, peerid, "no such message in the queue");
		return;
	}
	n = sched_schedule(s, target, now);
	snprintf(msg, sizeof(msg), "%zu recipient(s) scheduled", n);
	queue_ctl_send(iev, IMSG_CTL_END, peerid, msg);
}

static void
queue_ctl_remove(struct imsgev *iev, uint32_t peerid, struct mreader *rd,
    struct scheduler *s)
{
	char id[QUEUE_ID_LEN + 2], msg[160];
	const char *target;
	size_t n, inflight;

	if (queue_ctl_target(rd, id, sizeof(id), &target) == -1) {
		queue_ctl_fail(iev, peerid, "expected a queue id or all");
		return;
	}
	if (target != NULL && sched_find(s, target) == NULL) {
		queue_ctl_fail(iev, peerid, "no such message in the queue");
		return;
	}
	n = sched_remove(s, target, &inflight);
	if (target != NULL && n == 0) {
		queue_ctl_fail(iev, peerid, "could not remove the message "
		    "(see the log)");
		return;
	}
	snprintf(msg, sizeof(msg), "%zu message(s) removed", n);
	if (inflight > 0)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
		    "; %zu were being delivered and may still arrive",
		    inflight);
	queue_ctl_send(iev, IMSG_CTL_END, peerid, msg);
}

/* pause, resume */

static void
queue_ctl_flow(struct imsgev *iev, uint32_t peerid, struct mreader *rd,
    struct scheduler *s, int pause)
{
	uint32_t bits;

	bits = mr_u32(rd);
	if (mr_end(rd) == -1 || bits == 0 ||
	    (bits & ~(CTL_FLOW_INCOMING | CTL_FLOW_OUTGOING)) != 0) {
		queue_ctl_fail(iev, peerid, "malformed request");
		return;
	}
	if (bits & CTL_FLOW_INCOMING)
		flow_pause_incoming(pause);
	if ((bits & CTL_FLOW_OUTGOING) && s->paused != pause) {
		s->paused = pause;
		log_info("outgoing mail %s by the administrator",
		    pause ? "paused" : "resumed");
	}
	queue_ctl_send(iev, IMSG_CTL_END, peerid, pause ? "paused" :
	    "resumed");
}

/* show stats */

static void
queue_ctl_stats(struct imsgev *iev, uint32_t peerid, struct mreader *rd,
    const struct scheduler *s, int64_t now)
{
	const struct envelope_rcpt *r;
	const struct sched_msg *m;
	size_t i, nq = 0, nd = 0, ni = 0;

	if (mr_end(rd) == -1) {
		queue_ctl_fail(iev, peerid, "malformed request");
		return;
	}
	TAILQ_FOREACH(m, &s->msgs, entry) {
		for (i = 0; !m->removed && i < m->env->nrcpt; i++) {
			r = &m->env->rcpt[i];
			if (r->state != RCPT_PENDING)
				continue;
			if (r->inflight)
				ni++;
			else if (r->tries == 0)
				nq++;
			else
				nd++;
		}
	}
	queue_ctl_printf(iev, peerid, "queue.messages=%zu", s->nmsgs);
	queue_ctl_printf(iev, peerid, "queue.recipients.queued=%zu", nq);
	queue_ctl_printf(iev, peerid, "queue.recipients.deferred=%zu", nd);
	queue_ctl_printf(iev, peerid, "queue.recipients.inflight=%zu", ni);
	queue_ctl_printf(iev, peerid, "total.accepted=%llu",
	    (unsigned long long)stats_accepted_total());
	queue_ctl_printf(iev, peerid, "total.delivered=%llu",
	    (unsigned long long)s->count.delivered);
	queue_ctl_printf(iev, peerid, "total.deferred=%llu",
	    (unsigned long long)s->count.deferred);
	queue_ctl_printf(iev, peerid, "total.bounced=%llu",
	    (unsigned long long)s->count.bounced);
	queue_ctl_printf(iev, peerid, "total.expired=%llu",
	    (unsigned long long)s->count.expired);
	queue_ctl_printf(iev, peerid, "total.removed=%llu",
	    (unsigned long long)s->count.removed);
	queue_ctl_printf(iev, peerid, "rate.accepted_last_minute=%llu",
	    (unsigned long long)stats_accepted_last_minute(now));
	queue_ctl_printf(iev, peerid, "rate.delivered_last_minute=%llu",
	    (unsigned long long)stats_delivered_last_minute(now));
	queue_ctl_printf(iev, peerid, "incoming=%s",
	    (flow_status() & QUEUE_STATUS_PAUSED) ? "paused" : "running");
	queue_ctl_printf(iev, peerid, "outgoing=%s",
	    s->paused ? "paused" : "running");
	queue_ctl_printf(iev, peerid, "spool.space=%s",
	    (flow_status() & QUEUE_STATUS_NOSPACE) ? "low" : "ok");
	queue_ctl_send(iev, IMSG_CTL_END, peerid, "");
}

int
queue_ctl_dispatch(struct imsgev *iev, struct imsg *imsg,
    struct scheduler *s)
{
	struct mreader rd;
	uint32_t peerid = imsg->hdr.peerid;
	int64_t now = time(NULL);

	mreader_init(&rd, imsg);
	switch (imsg->hdr.type) {
	case IMSG_CTL_SHOW_QUEUE:
		queue_ctl_show(iev, peerid, &rd, s, now);
		break;
	case IMSG_CTL_SHOW_MESSAGE:
		queue_ctl_message(iev, peerid, &rd, s, now);
		break;
	case IMSG_CTL_SHOW_STATS:
		queue_ctl_stats(iev, peerid, &rd, s, now);
		break;
	case IMSG_CTL_SCHEDULE:
		queue_ctl_schedule(iev, peerid, &rd, s, now);
		break;
	case IMSG_CTL_REMOVE:
		queue_ctl_remove(iev, peerid, &rd, s);
		break;
	case IMSG_CTL_PAUSE:
	case IMSG_CTL_RESUME:
		queue_ctl_flow(iev, peerid, &rd, s,
		    imsg->hdr.type == IMSG_CTL_PAUSE);
		break;
	default:
		return -1;
	}
	return 0;
}
