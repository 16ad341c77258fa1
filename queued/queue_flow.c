/*
 * Whether new mail may come in: the spool's free space against the
 * configured reserve (`queue min-free`) and `smtpctl pause incoming`.
 * smtpd is told with IMSG_QUEUE_STATUS whenever that changes (and when
 * its link comes up), and answers MAIL with 452 4.3.1 while space is
 * short.  The space is checked on a timer, at every create and after a
 * write failed with ENOSPC, so acceptance resumes by itself once space
 * returns.  Nothing already queued is touched.
 */
#include <sys/statvfs.h>

#include <errno.h>
#include <stdint.h>

#include <event2/event.h>

#include "log.h"
#include "mbuf.h"
#include "proto.h"
#include "queued.h"
#include "worker.h"

#define FLOW_CHECK_INTERVAL	2	/* seconds */

static struct {
	int		 dirfd;		/* the spool, for fstatvfs */
	uint64_t	 min_free;	/* bytes; 0: no reserve */
	uint32_t	 status;	/* QUEUE_STATUS_* as smtpd knows it */
	int		 paused;	/* pause incoming */
	int		 nospace;
	struct event	*timer;
} flow;

/* To every smtpd process (smtp processes N). */
static void
flow_send(void)
{
	struct imsgev *iev;
	struct mbuf m;
	uint32_t n;

	for (n = 0; n < CONF_SMTP_PROCS_MAX; n++) {
		if ((iev = worker_peer_instance(PROC_SMTPD, n)) == NULL)
			continue;
		mbuf_init(&m);
		mbuf_add_u32(&m, flow.status);
		if (imsgev_compose_mbuf(iev, IMSG_QUEUE_STATUS, 0, -1,
		    &m) == -1)
			log_warn("status to smtpd");
	}
}

static void
flow_update(void)
{
	uint32_t status = 0;

	if (flow.nospace)
		status |= QUEUE_STATUS_NOSPACE;
	if (flow.paused)
		status |= QUEUE_STATUS_PAUSED;
	if (status == flow.status)
		return;
	flow.status = status;
	flow_send();
}

/* Free bytes for an unprivileged writer, or UINT64_MAX if unknown. */
static uint64_t
flow_free_bytes(void)
{
	struct statvfs st;

	if (fstatvfs(flow.dirfd, &st) == -1) {
		log_warn("spool: fstatvfs");
		return UINT64_MAX;
	}
	return (uint64_t)st.f_bavail * st.f_frsize;
}

static void
flow_set_nospace(int nospace, uint64_t avail)
{
	if (nospace == flow.nospace)
		return;
	flow.nospace = nospace;
	if (nospace)
		log_warnx("spool: %llu bytes free, below the reserve of %llu: "
		    "new mail refused with 452 4.3.1",
		    (unsigned long long)avail,
		    (unsigned long long)flow.min_free);
	else
		log_info("spool: %llu bytes free again: accepting new mail",
		    (unsigned long long)avail);
	flow_update();
}

static int
flow_check_space(void)
{
	uint64_t avail = flow_free_bytes();

	flow_set_nospace(avail != UINT64_MAX && avail < flow.min_free, avail);
	return flow.nospace ? -1 : 0;
}

void
flow_write_failed(int err)
{
	if (err == ENOSPC || err == EDQUOT)
		flow_set_nospace(1, flow_free_bytes());
}

static void
flow_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval tv = { FLOW_CHECK_INTERVAL, 0 };

	flow_check_space();
	evtimer_add(flow.timer, &tv);
}

int
flow_init(int dirfd, uint64_t min_free)
{
	flow.dirfd = dirfd;
	flow.min_free = min_free;
	if ((flow.timer = evtimer_new(worker_base(), flow_tick, NULL)) == NULL)
		return -1;
	flow_tick(-1, 0, NULL);
	return 0;
}

void
flow_set_min_free(uint64_t min_free)
{
	flow.min_free = min_free;
	flow_check_space();
}

void
flow_pause_incoming(int paused)
{
	if (paused != flow.paused)
		log_info("incoming mail %s by the administrator",
		    paused ? "paused" : "resumed");
	flow.paused = paused;
	flow_update();
}

uint32_t
flow_status(void)
{
	return flow.status;
}

void
flow_smtpd_up(void)
{
	if (flow.status != 0)
		flow_send();
}
