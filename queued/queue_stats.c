/*
 * Rates for `smtpctl show stats`: messages accepted and recipients
 * delivered, per second over the last minute, in a ring of one-second
 * buckets (no allocation, constant time).
 */
#include <stdint.h>
#include <string.h>

#include "queued.h"

#define STATS_SLOTS	60

struct ring {
	int64_t		sec[STATS_SLOTS];
	uint64_t	n[STATS_SLOTS];
};

static struct ring accepted, delivered;
static uint64_t accepted_total;

static void
ring_add(struct ring *r, int64_t now, uint64_t n)
{
	size_t i = (size_t)(now % STATS_SLOTS);

	if (r->sec[i] != now) {
		r->sec[i] = now;
		r->n[i] = 0;
	}
	r->n[i] += n;
}

static uint64_t
ring_sum(const struct ring *r, int64_t now)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < STATS_SLOTS; i++)
		if (r->sec[i] > now - STATS_SLOTS && r->sec[i] <= now)
			sum += r->n[i];
	return sum;
}

void
stats_accepted(int64_t now)
{
	accepted_total++;
	ring_add(&accepted, now, 1);
}

void
stats_delivered(int64_t now, size_t n)
{
	ring_add(&delivered, now, n);
}

uint64_t
stats_accepted_last_minute(int64_t now)
{
	return ring_sum(&accepted, now);
}

uint64_t
stats_delivered_last_minute(int64_t now)
{
	return ring_sum(&delivered, now);
}

uint64_t
stats_accepted_total(void)
{
	return accepted_total;
}
