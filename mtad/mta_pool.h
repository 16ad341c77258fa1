/*
 * Sessions by destination.  A destination is one relay string as queued
 * sends it ("smtp:[10.0.0.5]:25", "smtp:example.com"); transfers for it
 * wait here until a session of it is idle or a new one may start:
 * at most mta max-sessions-per-destination sessions per destination and
 * mta max-sessions in all.  A session that has finished a transfer takes
 * the next waiting one for its destination (connection reuse, up to mta
 * max-messages-per-session), else waits idle for mta timeout idle.  An
 * idle session of another destination is closed when the global limit
 * keeps a waiting transfer from starting.
 */
#ifndef MXGATE_MTA_POOL_H
#define MXGATE_MTA_POOL_H

#include "config.h"
#include "mta_session.h"

void	mta_pool_configure(const struct mxgate_conf *);
/* Seconds for a stage; the limits as configured. */
unsigned mta_pool_timeout(enum conf_mta_timeout);
unsigned mta_pool_max_messages(void);
const char *mta_pool_helo(void);		/* our hostname */

/* A transfer from queued; the pool owns it from here. */
void	mta_pool_submit(struct event_base *, struct mta_transfer *);
/* The link to queued went away: drop everything without reporting. */
void	mta_pool_abort_all(void);
size_t	mta_pool_count(void);		/* sessions and waiting transfers */

/* From sessions: s may carry another transfer (idle if none waits). */
void	mta_pool_ready(struct mta_dest *, struct mta_session *);
/* s is no longer idle-listed (it is closing). */
void	mta_pool_unidle(struct mta_dest *, struct mta_session *);
/* s is gone (freed); its slot is free. */
void	mta_pool_gone(struct mta_dest *, struct mta_session *);

#endif
