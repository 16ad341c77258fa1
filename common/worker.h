/*
 * Start-up and links shared by the four workers (smtpd, lookupd, queued,
 * mtad).  The parent execs a worker with its imsg link on PARENT_FD and
 * the seccomp status pipe on STATUS_FD.  worker_main() then:
 *
 *   1. reads the normalised config (IMSG_CONF_START / DATA... / END),
 *      parses it and calls ops->configure(conf, 1);
 *   2. calls ops->sandbox(conf) (which calls sandbox_enter());
 *   3. answers IMSG_READY and runs the event loop.
 *
 * Later CONF_START..END sequences are reloads: configure(conf, 0); on
 * success the new config replaces the old one (worker_conf()), on failure
 * the old one stays; either way IMSG_READY carries the result.
 *
 * IMSG_PEER_FD from the parent (re)opens the link to another worker: an
 * existing link to that peer is closed first (ops->peer_down), then the new
 * one is set up with ops->peer_handler[peer] and ops->peer_up is called.
 * There may be several smtpd processes ("smtp processes"): the imsg
 * peerid of IMSG_PEER_FD then numbers the instance, each with its own
 * link; ops->peer_instance_down, when set, is told which one went down
 * (before peer_down), and worker_peer_instance() finds a link by number.
 * A link that fails (EOF, malformed frame, imsgev_fail) also calls
 * peer_down; the parent restarts the dead worker and sends a new fd.
 * Every other message from the parent goes to ops->parent_msg, which must
 * imsgev_fail() what it does not expect.  EOF from the parent exits.
 */
#ifndef MXGATE_WORKER_H
#define MXGATE_WORKER_H

#include <event2/event.h>
#include "config.h"
#include "imsgev.h"
#include "proto.h"

struct worker_ops {
	enum proc_id	 id;
	int		(*configure)(struct mxgate_conf *, int first);
	void		(*sandbox)(const struct mxgate_conf *);
	void		(*peer_up)(enum proc_id, struct imsgev *);
	void		(*peer_down)(enum proc_id);
	imsgev_handler	 peer_handler[PROC_COUNT];
	imsgev_handler	 parent_msg;	/* may be NULL: everything unexpected */
	/* Other messages between CONF_START and CONF_END (IMSG_CONF_PKI),
	 * for configure() to use; may be NULL: they are unexpected. */
	imsgev_handler	 conf_msg;
	void		(*peer_instance_down)(enum proc_id, uint32_t);
};

/* Does not return.  argv: [-d] [-v]. */
void	worker_main(int argc, char **argv, const struct worker_ops *)
	    __attribute__((noreturn));
struct event_base	*worker_base(void);
const struct mxgate_conf *worker_conf(void);
/* The live link to a peer, or NULL while it is down. */
struct imsgev		*worker_peer(enum proc_id);
struct imsgev		*worker_parent(void);
/* The link to instance n of a peer (0: the only one), or NULL. */
struct imsgev		*worker_peer_instance(enum proc_id, uint32_t n);
/* The instance number of a peer link (iev given to a peer handler). */
uint32_t		 worker_link_instance(const struct imsgev *);
int			 worker_verbose(void);

#endif
