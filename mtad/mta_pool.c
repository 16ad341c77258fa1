/*
 * Destinations, their waiting transfers and their sessions; the rules
 * are in mta_pool.h.  Guarantees kept here: a transfer is either waiting
 * in exactly one destination or carried by exactly one session; the
 * session counts never exceed the configured limits; a destination is
 * freed once it has neither.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "log.h"
#include "mta_pool.h"

struct mta_slot {
	TAILQ_ENTRY(mta_slot)	 entry;
	struct mta_session	*s;
	int			 idle;
};

struct mta_dest {
	TAILQ_ENTRY(mta_dest)	 entry;
	char			 key[MTA_RELAY_MAX];
	struct mta_relay	 relay;
	TAILQ_HEAD(, mta_transfer) waiting;
	TAILQ_HEAD(mta_slot_list, mta_slot) slots;
	size_t			 nsessions;
	size_t			 nwaiting;
};

static TAILQ_HEAD(, mta_dest) mta_dests = TAILQ_HEAD_INITIALIZER(mta_dests);
static struct event_base	*mta_base;
static size_t			 mta_nsessions;
static struct {
	unsigned	 timeout[CONF_MTA_TO_COUNT];
	unsigned	 max_sessions;
	unsigned	 max_dest;
	unsigned	 max_messages;
	char		 helo[CONF_STR_MAX];
} mta_limits;

void
mta_pool_configure(const struct mxgate_conf *conf)
{
	int i;

	for (i = 0; i < CONF_MTA_TO_COUNT; i++)
		mta_limits.timeout[i] = conf->mta_timeout[i];
	mta_limits.max_sessions = conf->mta_max_sessions;
	mta_limits.max_dest = conf->mta_max_sessions_dest;
	mta_limits.max_messages = conf->mta_max_messages;
	strlcpy(mta_limits.helo, conf->hostname, sizeof(mta_limits.helo));
}

const char *
mta_pool_helo(void)
{
	return mta_limits.helo;
}

unsigned
mta_pool_timeout(enum conf_mta_timeout stage)
{
	return mta_limits.timeout[stage];
}

unsigned
mta_pool_max_messages(void)
{
	return mta_limits.max_messages;
}

static struct mta_dest *
mta_dest_get(const char *key, const struct mta_relay *relay)
{
	struct mta_dest *d;

	TAILQ_FOREACH(d, &mta_dests, entry)
		if (strcmp(d->key, key) == 0)
			return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	strlcpy(d->key, key, sizeof(d->key));
	d->relay = *relay;
	TAILQ_INIT(&d->waiting);
	TAILQ_INIT(&d->slots);
	TAILQ_INSERT_TAIL(&mta_dests, d, entry);
	return d;
}

static void
mta_dest_gc(struct mta_dest *d)
{
	if (d->nsessions > 0 || d->nwaiting > 0)
		return;
	TAILQ_REMOVE(&mta_dests, d, entry);
	free(d);
}

static struct mta_slot *
mta_slot_find(struct mta_dest *d, struct mta_session *s)
{
	struct mta_slot *slot;

	TAILQ_FOREACH(slot, &d->slots, entry)
		if (slot->s == s)
			return slot;
	fatalx("mta pool: session not in its destination");
}

static struct mta_transfer *
mta_dest_take(struct mta_dest *d)
{
	struct mta_transfer *t;

	if ((t = TAILQ_FIRST(&d->waiting)) != NULL) {
		TAILQ_REMOVE(&d->waiting, t, entry);
		d->nwaiting--;
	}
	return t;
}

/* Close one idle session of another destination to free a global slot;
 * 0 if there is none. */
static int
mta_pool_reclaim(struct mta_dest *except)
{
	struct mta_dest	*d;
	struct mta_slot	*slot;

	TAILQ_FOREACH(d, &mta_dests, entry) {
		if (d == except)
			continue;
		TAILQ_FOREACH(slot, &d->slots, entry)
			if (slot->idle) {
				slot->idle = 0;
				mta_session_close(slot->s);
				return 1;
			}
	}
	return 0;
}

/* Start what the limits allow for d. */
static void
mta_dest_run(struct mta_dest *d)
{
	struct mta_slot		*slot;
	struct mta_transfer	*t;

	while (d->nwaiting > 0) {
		TAILQ_FOREACH(slot, &d->slots, entry)
			if (slot->idle)
				break;
		if (slot != NULL) {
			slot->idle = 0;
			mta_session_deliver(slot->s, mta_dest_take(d));
			continue;
		}
		if (d->nsessions >= mta_limits.max_dest)
			return;
		if (mta_nsessions >= mta_limits.max_sessions) {
			mta_pool_reclaim(d);	/* its slot frees later */
			return;
		}
		if ((slot = calloc(1, sizeof(*slot))) == NULL)
			fatal("calloc");
		TAILQ_INSERT_TAIL(&d->slots, slot, entry);
		d->nsessions++;
		mta_nsessions++;
		t = mta_dest_take(d);
		slot->s = mta_session_new(mta_base, d, &d->relay, t);
	}
}

void
mta_pool_submit(struct event_base *base, struct mta_transfer *t)
{
	struct mta_relay	 relay;
	struct mta_dest		*d;
	const char		*why;
	char			 text[MTA_RELAY_MAX + 128];

	mta_base = base;
	if (mta_relay_parse(t->relay, &relay, &why) == -1) {
		snprintf(text, sizeof(text), "4.3.5 bad relay: %s", why);
		mta_transfer_fail(t, MTA_TEMPFAIL, text);
		return;
	}
	d = mta_dest_get(t->relay, &relay);
	TAILQ_INSERT_TAIL(&d->waiting, t, entry);
	d->nwaiting++;
	mta_dest_run(d);
}

void
mta_pool_ready(struct mta_dest *d, struct mta_session *s)
{
	struct mta_slot		*slot = mta_slot_find(d, s);
	struct mta_transfer	*t;

	if ((t = mta_dest_take(d)) != NULL) {
		mta_session_deliver(s, t);
		return;
	}
	slot->idle = 1;
	/* a destination held back by the global limit gets the slot */
	if (mta_nsessions >= mta_limits.max_sessions) {
		TAILQ_FOREACH(d, &mta_dests, entry)
			if (d->nwaiting > 0 &&
			    d->nsessions < mta_limits.max_dest) {
				slot->idle = 0;
				mta_session_close(s);
				return;
			}
	}
}

void
mta_pool_unidle(struct mta_dest *d, struct mta_session *s)
{
	mta_slot_find(d, s)->idle = 0;
}

void
mta_pool_gone(struct mta_dest *d, struct mta_session *s)
{
	struct mta_slot	*slot = mta_slot_find(d, s);
	struct mta_dest	*o, *next;

	TAILQ_REMOVE(&d->slots, slot, entry);
	free(slot);
	d->nsessions--;
	mta_nsessions--;
	mta_dest_run(d);
	/* starting sessions adds no destination: the walk is safe */
	TAILQ_FOREACH(o, &mta_dests, entry) {
		if (mta_nsessions >= mta_limits.max_sessions)
			break;
		if (o != d && o->nwaiting > 0)
			mta_dest_run(o);
	}
	for (o = TAILQ_FIRST(&mta_dests); o != NULL; o = next) {
		next = TAILQ_NEXT(o, entry);
		mta_dest_gc(o);
	}
}

void
mta_pool_abort_all(void)
{
	struct mta_dest		*d;
	struct mta_slot		*slot;
	struct mta_transfer	*t;

	while ((d = TAILQ_FIRST(&mta_dests)) != NULL) {
		while ((t = mta_dest_take(d)) != NULL)
			mta_transfer_free(t);
		while ((slot = TAILQ_FIRST(&d->slots)) != NULL) {
			TAILQ_REMOVE(&d->slots, slot, entry);
			mta_session_abort(slot->s);
			free(slot);
		}
		TAILQ_REMOVE(&mta_dests, d, entry);
		free(d);
	}
	mta_nsessions = 0;
}

size_t
mta_pool_count(void)
{
	struct mta_dest	*d;
	size_t		 n = 0;

	TAILQ_FOREACH(d, &mta_dests, entry)
		n += d->nsessions + d->nwaiting;
	return n;
}
