/*
 * Lookups per second inside lookupd's cdb backend, through the same
 * table API lka uses (table_open, table_lookup: lowercasing, the
 * backend's probe, the value copy, the counters).
 *
 *   lookups_bench CDBFILE NENTRIES NLOOKUPS [COPY1 COPY2]
 *
 * The table must hold "user<i>@example<1+i%3>.com" for i < NENTRIES (as
 * bench/lookups.py writes it).  Keys are drawn at random before the
 * clock starts: half of them existing entries, half missing
 * ("nouser<i>@...").  Prints one line of key=value figures; exits 1 if
 * a single answer is wrong, so a broken table cannot give a figure.
 * The same keys are then looked up with tinycdb's cdb_find() alone on
 * its own mapping of the file (raw_lookups_per_s): the floor this
 * machine's memory sets, against which the table layer's cost shows.
 *
 * With COPY1 and COPY2 (copies of CDBFILE), the swap of lookupd's
 * one-table reload is timed twice, each time with every page of the
 * table mapped and the file replaced by a copy (rename, as makemap
 * does): the new table_open() plus the old table_close(), first
 * releasing the old mapping at once (swap_now_ms), then with lookupd's
 * event loop releasing it a slice per tick (swap_sliced_ms, and the
 * longest tick in CPU time, worst_tick_ms: how long a lookup could wait
 * behind one).
 */
#include <cdb.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <bsd/string.h>

#include "config.h"
#include "log.h"
#include "table.h"

#define KEY_MAX	64

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;		/* xorshift64: cheap, good enough here */
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The same keys through tinycdb alone; lookups per second. */
static double
raw_cdb(const char *path, char (*keys)[KEY_MAX], uint64_t n)
{
	struct cdb	 c;
	uint64_t	 i, hits = 0;
	double		 t0;
	int		 fd;
	struct timespec	 a, b;

	if ((fd = open(path, O_RDONLY)) == -1 || cdb_init(&c, fd) == -1)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		hits += cdb_find(&c, keys[i], strlen(keys[i])) > 0;
	clock_gettime(CLOCK_MONOTONIC, &b);
	cdb_free(&c);
	close(fd);
	t0 = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	return hits ? n / t0 : 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
touch(void *arg, const char *key, const char *value, size_t lineno)
{
	return 0;
}

/* Map every page of *tp, replace its file by copy, reopen: ms. */
static double
swap(struct table **tp, const struct table_conf *tc, const char *copy)
{
	struct table	*t;
	char		 err[1024];
	double		 t0;

	table_foreach(*tp, touch, NULL);
	if (rename(copy, tc->path) == -1)
		return -1;
	t0 = now();
	if ((t = table_open(tc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "lookups_bench: %s\n", err);
		exit(1);
	}
	table_close(*tp);
	*tp = t;
	return (now() - t0) * 1e3;
}

static void
swaps(struct table **tp, const struct table_conf *tc, char **copies)
{
	struct event_base	*base;
	double			 ms, t0, tick, worst = 0;
	int			 ticks = 0;

	ms = swap(tp, tc, copies[0]);
	printf("swap_now_ms=%.3f ", ms);
	if ((base = event_base_new()) == NULL)
		exit(1);
	table_cdb_init(base);
	ms = swap(tp, tc, copies[1]);
	for (;;) {
		/* CPU time: the loop sleeps between ticks, the tick works */
		t0 = cpu_now();
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			break;		/* nothing left to release */
		tick = (cpu_now() - t0) * 1e3;
		ticks++;
		if (tick > worst)
			worst = tick;
	}
	printf("swap_sliced_ms=%.3f ticks=%d worst_tick_ms=%.3f ", ms, ticks,
	    worst);
}

int
main(int argc, char **argv)
{
	struct table_conf	 tc;
	struct table		*t;
	char			(*keys)[KEY_MAX], err[1024];
	const char		*v;
	uint64_t		 seed = 0x9e3779b97f4a7c15ULL, i, n, nent;
	uint64_t		 hits = 0, wrong = 0;
	double			 t0, t1;

	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: lookups_bench cdbfile nentries "
		    "nlookups [copy1 copy2]\n");
		return 2;
	}
	log_init(1, "lookups_bench");
	nent = strtoull(argv[2], NULL, 10);
	n = strtoull(argv[3], NULL, 10);
	memset(&tc, 0, sizeof(tc));
	strlcpy(tc.name, "recipients", sizeof(tc.name));
	tc.type = TABLE_CDB;
	strlcpy(tc.path, argv[1], sizeof(tc.path));
	t0 = now();
	if ((t = table_open(&tc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "lookups_bench: %s\n", err);
		return 1;
	}
	t1 = now();
	printf("open_ms=%.3f entries=%zu ", (t1 - t0) * 1e3, t->nentries);
	if (nent == 0 || (keys = calloc(n, KEY_MAX)) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		uint64_t k = rnd(&seed) % nent;

		snprintf(keys[i], KEY_MAX, "%suser%llu@Example%d.com",
		    (i & 1) ? "no" : "", (unsigned long long)k,
		    (int)(1 + k % 3));
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		enum table_res r = table_lookup(t, keys[i], &v);

		if (r == TABLE_FOUND)
			hits++;
		if ((r == TABLE_FOUND) != !(i & 1) ||
		    (r == TABLE_FOUND && strcmp(v, "OK") != 0))
			wrong++;
	}
	t1 = now();
	printf("lookups=%llu hits=%llu seconds=%.3f lookups_per_s=%.0f "
	    "ns_per_lookup=%.1f wrong=%llu ", (unsigned long long)n,
	    (unsigned long long)hits, t1 - t0, n / (t1 - t0),
	    (t1 - t0) * 1e9 / n, (unsigned long long)wrong);
	/* cdb_find wants the exact (lowercased) key, as table_lookup has */
	for (i = 0; i < n; i++)
		keys[i][strcspn(keys[i], "E")] = 'e';
	printf("raw_lookups_per_s=%.0f ", raw_cdb(argv[1], keys, n));
	if (argc == 6)
		swaps(&t, &tc, argv + 4);
	printf("\n");
	table_close(t);
	free(keys);
	return wrong ? 1 : 0;
}
