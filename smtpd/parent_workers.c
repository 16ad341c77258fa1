/*
 * The set of worker processes the parent supervises: one lookupd, queued
 * and mtad, and "smtp processes" smtpd workers.  Each smtpd has its own
 * links to lookupd and queued (told apart by the instance number the
 * parent puts in IMSG_PEER_FD) and its own copies of the listening
 * sockets; the kernel hands each connection to whichever accepts first.
 * The count is fixed when the parent starts.
 */
#include <stdio.h>

#include "log.h"
#include "parent.h"

void
parent_init_workers(void)
{
	struct worker_proc	*wp;
	uint32_t		 i;
	enum proc_id		 id;

	parent.nsmtpd = parent.conf->smtp_processes;
	if (parent.nsmtpd < 1 || parent.nsmtpd > CONF_SMTP_PROCS_MAX)
		parent.nsmtpd = 1;
	for (id = PROC_SMTPD; id <= PROC_MTAD; id++)
		parent.workers[id].id = id;
	for (i = 1; i < parent.nsmtpd; i++) {
		wp = &parent.smtpd_more[i];
		wp->id = PROC_SMTPD;
		wp->instance = i;
	}
}

struct worker_proc *
parent_worker_next(struct worker_proc *wp)
{
	if (wp == NULL)
		return &parent.workers[PROC_SMTPD];
	if (wp->id == PROC_SMTPD && wp->instance + 1 < parent.nsmtpd)
		return &parent.smtpd_more[wp->instance + 1];
	if (wp->id == PROC_SMTPD)
		return &parent.workers[PROC_LOOKUPD];
	if (wp->id < PROC_MTAD)
		return &parent.workers[wp->id + 1];
	return NULL;
}

const char *
parent_worker_name(const struct worker_proc *wp, char *buf, size_t len)
{
	if (wp->id != PROC_SMTPD || parent.nsmtpd == 1)
		snprintf(buf, len, "%s", proc_name(wp->id));
	else
		snprintf(buf, len, "%s.%u", proc_name(wp->id),
		    wp->instance + 1);
	return buf;
}
