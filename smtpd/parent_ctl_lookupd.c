/*
 * smtpctl requests that lookupd answers (test rcpt, table lookup, show
 * tables): the parent passes the payload through unread, with the
 * control client's id as peer id; lookupd checks it and its lines come
 * back through control_relay() like queued's.
 */
#include "parent.h"

int
parent_ctl_lookupd(uint32_t client, struct imsg *imsg)
{
	struct worker_proc *l = &parent.workers[PROC_LOOKUPD];

	switch (imsg->hdr.type) {
	case IMSG_CTL_TEST_RCPT:
	case IMSG_CTL_TABLE_LOOKUP:
	case IMSG_CTL_SHOW_TABLES:
		break;
	default:
		return 0;
	}
	if (imsg->fd != -1 || !parent_worker_running(l))
		control_end(client, 1, imsg->fd != -1 ? "unexpected fd" :
		    "lookupd is not running");
	else
		imsgev_compose(&l->iev, imsg->hdr.type, client, -1,
		    imsg->data, imsg->datalen);
	return 1;
}
