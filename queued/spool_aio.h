/*
 * Syncing many files without blocking queued: fdatasync (or fsync) of a
 * set of descriptors submitted at once with Linux AIO (IOCB_CMD_FDSYNC,
 * IOCB_CMD_FSYNC), their completion read from an eventfd on the event
 * loop.  The kernel runs them concurrently, so the file system's journal
 * commits a batch together.  Where AIO is not available (another kernel,
 * another system) the syncs are done synchronously and the callback
 * still comes from the event loop.  One request at a time.
 */
#ifndef MXGATE_SPOOL_AIO_H
#define MXGATE_SPOOL_AIO_H

#include <stddef.h>

#define AIO_SYNC_MAX	1024	/* descriptors in one request */

/* ok: every sync succeeded. */
typedef void (*aio_sync_done)(void *arg, int ok);

/* Before the sandbox; 0 or -1 (then every request is synchronous). */
int	aio_sync_init(void);
/*
 * Starts fdatasync (full: fsync) of fds[0..n-1], n <= AIO_SYNC_MAX; done
 * is called once, from the event loop, when all have finished.  The fds
 * must stay open until then.  -1 if a request is still running.
 */
int	aio_sync_start(const int *fds, size_t n, int full, aio_sync_done done,
	    void *arg);

#endif
