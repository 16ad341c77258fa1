/*
 * Faults between workers, and the test hooks that provoke them.
 *
 * A worker that closes a peer's link because the peer sent a malformed
 * or unexpected message says so (IMSG_PEER_FAULT), with the pid in the
 * offending frame; if that is still the peer's pid, the peer cannot be
 * trusted any more and is killed, and the usual restart path relinks
 * both.  (A forged pid only spares the sender, whose link stays closed.)
 * A report about a process that is not a peer of the reporter is itself a
 * fault of the reporter.
 *
 * `smtpctl test hook WORKER ACTION` is acted on only in a test build
 * (-DMXGATE_TEST_HOOKS); a release parent answers that it has no hooks.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mbuf.h"
#include "parent.h"
#include "test_hook.h"

void
parent_peer_fault(struct worker_proc *wp, struct imsg *imsg)
{
	struct worker_proc	*bad;
	struct mreader		 r;
	uint32_t		 id, pid;

	mreader_init(&r, imsg);
	id = mr_u32(&r);
	pid = mr_u32(&r);
	if (mr_end(&r) == -1 || id >= PROC_COUNT ||
	    !parent_linked(wp->id, (enum proc_id)id)) {
		imsgev_fail(&wp->iev, "bad peer fault report");
		return;
	}
	/* several smtpd processes: the pid tells which one */
	for (bad = parent_worker_next(NULL); bad != NULL;
	    bad = parent_worker_next(bad))
		if (bad->id == id && bad->pid > 0 && (uint32_t)bad->pid == pid)
			break;
	if (bad == NULL) {
		/* sent by an instance that is gone: restarted already */
		log_warnx("%s closed its link to %s after a malformed or "
		    "unexpected message from pid %u, no longer running",
		    proc_name(wp->id), proc_name(id), pid);
		return;
	}
	log_warnx("%s closed its link to %s after a malformed or unexpected "
	    "message, restarting %s", proc_name(wp->id), proc_name(id),
	    proc_name(id));
	kill(bad->pid, SIGKILL);
}

#ifdef MXGATE_TEST_HOOKS
/* "smtpd", "lookupd", ... or "smtpd.2" as show status names them. */
static struct worker_proc *
worker_by_name(const char *name)
{
	struct worker_proc	*wp;
	char			 buf[32];

	for (wp = parent_worker_next(NULL); wp != NULL;
	    wp = parent_worker_next(wp))
		if (strcmp(parent_worker_name(wp, buf, sizeof(buf)), name) == 0)
			return wp;
	return NULL;
}

void
parent_test_hook(uint32_t client, struct imsg *imsg)
{
	struct worker_proc	*wp;
	struct mreader		 r;
	struct mbuf		 m;
	char			 name[32], action[32], msg[128];

	mreader_init(&r, imsg);
	mr_str(&r, name, sizeof(name));
	mr_str(&r, action, sizeof(action));
	if (mr_end(&r) == -1 || (wp = worker_by_name(name)) == NULL ||
	    !test_hook_valid(action)) {
		control_end(client, 1, "test hook: unknown worker or action");
		return;
	}
	if (!parent_worker_running(wp)) {
		control_end(client, 1, "test hook: worker not running");
		return;
	}
	log_warnx("test hook: asking %s (pid %d) to attempt %s", name,
	    (int)wp->pid, action);
	mbuf_init(&m);
	mbuf_add_str(&m, action);
	imsgev_compose_mbuf(&wp->iev, IMSG_CTL_TEST_HOOK, client, -1, &m);
	snprintf(msg, sizeof(msg), "test hook %s sent to %s", action, name);
	control_end(client, 0, msg);
}
#else
void
parent_test_hook(uint32_t client, struct imsg *imsg)
{
	(void)imsg;
	control_end(client, 1, "not supported: this build has no test hooks");
}
#endif
