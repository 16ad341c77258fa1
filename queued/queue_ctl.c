/*
 * `smtpctl show queue`: one line per pending recipient, in queue order.
 * Every value that came from a client is escaped, so a line is always one
 * line of space-separated key=value fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "imsgev.h"
#include "log.h"
#include "mbuf.h"
#include "proto.h"
#include "queued.h"
#include "scheduler.h"

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

void
queue_ctl_show(struct imsgev *iev, uint32_t peerid,
    const struct scheduler *s, int64_t now)
{
	char line[QUEUE_CTL_LINE_MAX];
	const struct envelope_rcpt *r;
	const struct sched_msg *m;
	size_t i;

	TAILQ_FOREACH(m, &s->msgs, entry) {
		for (i = 0; i < m->env->nrcpt; i++) {
			r = &m->env->rcpt[i];
			if (r->state != RCPT_PENDING)
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
