/*
 * Asynchronous fdatasync/fsync for queued's group commit (spool_aio.h).
 * Completions are counted per request; a sync that fails, or that the
 * kernel refuses to run asynchronously (io_submit EINVAL: no async
 * fsync for this file system), is done synchronously, so the result is
 * always the same as n blocking calls.
 */
#ifdef __linux__
#include <linux/aio_abi.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "spool_aio.h"
#include "worker.h"

static struct {
	int		 ready;		/* AIO set up */
	int		 busy;
	size_t		 pending;	/* submitted, not completed */
	int		 ok;
	aio_sync_done	 done;
	void		*arg;
	struct event	*ev;		/* the eventfd, or a 0 s timer */
	int		 efd;
#ifdef __linux__
	aio_context_t	 ctx;
	struct iocb	 cb[AIO_SYNC_MAX];
	struct iocb	*cbp[AIO_SYNC_MAX];
#endif
} as = { .efd = -1 };

static void
aio_sync_finish(void)
{
	aio_sync_done done = as.done;

	as.busy = 0;
	done(as.arg, as.ok);
}

/* The blocking way, for what AIO could not take. */
static void
sync_now(int fd, int full)
{
	if ((full ? fsync(fd) : fdatasync(fd)) == -1) {
		log_warn("spool: %s", full ? "fsync" : "fdatasync");
		as.ok = 0;
	}
}

#ifdef __linux__
static void
aio_sync_reap(evutil_socket_t fd, short ev, void *arg)
{
	struct io_event		 events[64];
	struct timespec		 zero = { 0, 0 };
	uint64_t		 count;
	long			 n, i;

	if (read(as.efd, &count, sizeof(count)) == -1 && errno != EAGAIN)
		log_warn("spool: eventfd");
	while (as.pending > 0 && (n = syscall(SYS_io_getevents, as.ctx, 0,
	    64, events, &zero)) > 0) {
		for (i = 0; i < n; i++) {
			if ((long long)events[i].res < 0) {
				errno = -(int)events[i].res;
				log_warn("spool: sync");
				as.ok = 0;
			}
		}
		as.pending -= (size_t)n;
	}
	if (as.busy && as.pending == 0)
		aio_sync_finish();
}

int
aio_sync_init(void)
{
	if ((as.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	if (syscall(SYS_io_setup, AIO_SYNC_MAX, &as.ctx) == -1) {
		log_warn("spool: io_setup: syncing synchronously");
		close(as.efd);
		as.efd = -1;
		return -1;
	}
	as.ev = event_new(worker_base(), as.efd, EV_READ | EV_PERSIST,
	    aio_sync_reap, NULL);
	if (as.ev == NULL || event_add(as.ev, NULL) == -1)
		return -1;
	as.ready = 1;
	return 0;
}

/* Submits what it can; the rest is synced at once.  Returns submitted. */
static size_t
aio_submit(const int *fds, size_t n, int full)
{
	size_t	 i, done = 0;
	long	 r;

	for (i = 0; i < n; i++) {
		memset(&as.cb[i], 0, sizeof(as.cb[i]));
		as.cb[i].aio_fildes = (uint32_t)fds[i];
		as.cb[i].aio_lio_opcode = full ? IOCB_CMD_FSYNC :
		    IOCB_CMD_FDSYNC;
		as.cb[i].aio_flags = IOCB_FLAG_RESFD;
		as.cb[i].aio_resfd = (uint32_t)as.efd;
		as.cbp[i] = &as.cb[i];
	}
	while (done < n) {
		r = syscall(SYS_io_submit, as.ctx, (long)(n - done),
		    as.cbp + done);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r == -1 && errno == EAGAIN)
			continue;
		break;		/* EINVAL: this file system cannot */
	}
	for (i = done; i < n; i++)
		sync_now(fds[i], full);
	return done;
}
#else
int
aio_sync_init(void)
{
	return -1;
}
#endif

static void
aio_sync_later(evutil_socket_t fd, short ev, void *arg)
{
	aio_sync_finish();
}

int
aio_sync_start(const int *fds, size_t n, int full, aio_sync_done done,
    void *arg)
{
	struct timeval	 now = { 0, 0 };
	size_t		 i;

	if (as.busy || n > AIO_SYNC_MAX)
		return -1;
	as.busy = 1;
	as.ok = 1;
	as.done = done;
	as.arg = arg;
#ifdef __linux__
	if (as.ready) {
		as.pending = aio_submit(fds, n, full);
		if (as.pending > 0)
			return 0;	/* aio_sync_reap finishes */
		/* nothing was submitted: all synced already */
	} else
#endif
		for (i = 0; i < n; i++)
			sync_now(fds[i], full);
	if (event_base_once(worker_base(), -1, EV_TIMEOUT, aio_sync_later,
	    NULL, &now) == -1) {
		as.busy = 0;
		return -1;
	}
	return 0;
}
