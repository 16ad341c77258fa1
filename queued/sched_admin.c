/*
 * What `smtpctl schedule` and `smtpctl remove` do to the queue.  A
 * removal takes the message out of the spool at once (envelope first,
 * so a restart never brings it back); a message with batches at mtad
 * stays in memory, marked removed, until they return, and their results
 * are then ignored.
 */
#include <string.h>

#include "log.h"
#include "scheduler.h"
#include "spool.h"

struct sched_msg *
sched_find(const struct scheduler *s, const char *id)
{
	struct sched_msg *m;

	TAILQ_FOREACH(m, &s->msgs, entry)
		if (!m->removed && strcmp(m->env->id, id) == 0)
			return m;
	return NULL;
}

static size_t
schedule_msg(struct sched_msg *m, int64_t now)
{
	struct envelope_rcpt *r;
	size_t i, n = 0;

	for (i = 0; i < m->env->nrcpt; i++) {
		r = &m->env->rcpt[i];
		if (r->state != RCPT_PENDING || r->inflight)
			continue;
		r->next = now;
		n++;
	}
	if (n > 0)
		log_info("%s: scheduled by the administrator", m->env->id);
	return n;
}

size_t
sched_schedule(struct scheduler *s, const char *id, int64_t now)
{
	struct sched_msg *m;
	size_t n = 0;

	TAILQ_FOREACH(m, &s->msgs, entry)
		if (!m->removed && (id == NULL || strcmp(m->env->id, id) == 0))
			n += schedule_msg(m, now);
	return n;
}

/* 0, or -1 when the spool kept it (logged by spool_remove). */
static int
remove_msg(struct scheduler *s, struct sched_msg *m, size_t *inflight)
{
	if (spool_remove(s->spool, m->env->id) == -1)
		return -1;
	log_info("%s: removed by the administrator", m->env->id);
	s->count.removed++;
	m->removed = 1;
	if (m->ninflight > 0)
		(*inflight)++;
	sched_release(s, m);
	return 0;
}

size_t
sched_remove(struct scheduler *s, const char *id, size_t *inflight)
{
	struct sched_msg *m, *next;
	size_t n = 0;

	*inflight = 0;
	for (m = TAILQ_FIRST(&s->msgs); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->removed || (id != NULL && strcmp(m->env->id, id) != 0))
			continue;
		if (remove_msg(s, m, inflight) == 0)
			n++;
	}
	return n;
}
