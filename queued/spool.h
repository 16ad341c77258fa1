/*
 * The on-disk spool: message files and their envelopes.  Layout, commit
 * protocol and the guarantee are described at the top of spool.c.  Every
 * access goes through the directory fds opened by spool_open(), so the
 * code works the same chrooted into the spool or not.  Functions log
 * what went wrong themselves (keyed by queue id) and return -1.
 */
#ifndef MXGATE_SPOOL_H
#define MXGATE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

struct spool {
	int	dirfd;		/* <spool> */
	int	queuefd;	/* <spool>/queue */
	int	corruptfd;	/* <spool>/corrupt */
};

struct spool_stats {
	size_t	loaded;		/* messages handed to the callback */
	size_t	uncommitted;	/* removed: message without envelope */
	size_t	finished;	/* removed: envelope without pending rcpt */
	size_t	corrupt;	/* quarantined */
};

/*
 * Opens <path> and creates queue/ and corrupt/ (0700, owned like <path>)
 * if missing.  Before the sandbox.  0 or -1.
 */
int	spool_open(struct spool *, const char *path);
void	spool_close(struct spool *);

/*
 * A new message file under a fresh unique queue id (written into id).
 * Returns a write-only fd of it, or -1.
 */
int	spool_create(struct spool *, char id[QUEUE_ID_LEN + 1]);
/* A read-only fd of a message file, or -1 (errno kept). */
int	spool_msg_open(struct spool *, const char *id);
/* 0 if fd is a regular file of env->size bytes, else -1 (logged). */
int	spool_msg_usable(int fd, const struct envelope *);
/*
 * A committed message found unusable while running (message file
 * missing, unreadable, of another size): its envelope and message file
 * go to corrupt/, so it is neither retried for ever nor lost.  0 or -1.
 */
int	spool_quarantine(struct spool *, const char *id, const char *why);

/*
 * Step 1 of a batched commit (spool.c): checks that the message file is
 * env->size bytes and writes the envelope to a temp file, unsynced.
 * Returns both files open (read-only message, temp envelope) for the
 * caller to fdatasync; then spool_publish() and spool_sync() make the
 * commit.  On -1 nothing is left open and the caller removes the
 * message with spool_remove().
 */
int	spool_stage(struct spool *, const struct envelope *, int *msgfd,
	    int *envfd);
/* A whole commit of one message, blocking: stage, sync, publish, sync. */
int	spool_commit(struct spool *, const struct envelope *);
/* Removes the temp envelope of a commit that will not be published. */
void	spool_unstage(struct spool *, const char *id);
/* Renames the message's temp envelope into place (the commit point). */
int	spool_publish(struct spool *, const char *id);
/* fsync of the queue directory: makes creations and renames durable. */
int	spool_sync(struct spool *);
/* Rewrites a committed envelope durably (temp, sync, rename, dir sync). */
int	spool_update(struct spool *, const struct envelope *);
/*
 * Removes a message: envelope first, then the message file.  If the
 * envelope cannot be removed the message file is kept.  0 or -1.
 */
int	spool_remove(struct spool *, const char *id);

/*
 * Crash recovery, once at start: removes temp files and messages without
 * an envelope, quarantines envelopes that do not decode or do not match
 * their message, removes envelopes with no pending recipient, and hands
 * every other envelope (malloc'd; the callback owns it) to cb.  stats may
 * be NULL.  0, or -1 if the queue directory cannot be read.
 */
int	spool_recover(struct spool *, void (*cb)(struct envelope *, void *),
	    void *arg, struct spool_stats *stats);

#endif
