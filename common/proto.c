/*
 * Names of message types and processes, for log lines.
 */
#include <stddef.h>

#include "proto.h"

#define N(x)	[x] = #x

static const char *const imsg_names[IMSG_TYPE_COUNT] = {
	N(IMSG_NONE),
	N(IMSG_CONF_START),
	N(IMSG_CONF_DATA),
	N(IMSG_CONF_END),
	N(IMSG_PEER_FD),
	N(IMSG_LISTEN_FD),
	N(IMSG_READY),
	N(IMSG_CONF_PKI),
	N(IMSG_LKA_RCPT),
	N(IMSG_LKA_RCPT_RESULT),
	N(IMSG_LKA_AUTH),
	N(IMSG_LKA_AUTH_RESULT),
	N(IMSG_QUEUE_CREATE),
	N(IMSG_QUEUE_CREATE_OK),
	N(IMSG_QUEUE_CREATE_FAIL),
	N(IMSG_QUEUE_COMMIT),
	N(IMSG_QUEUE_COMMIT_OK),
	N(IMSG_QUEUE_COMMIT_FAIL),
	N(IMSG_QUEUE_ABORT),
	N(IMSG_QUEUE_STATUS),
	N(IMSG_MTA_TRANSFER),
	N(IMSG_MTA_RESULT),
	N(IMSG_CTL_HELLO),
	N(IMSG_CTL_SHOW_STATUS),
	N(IMSG_CTL_SHOW_QUEUE),
	N(IMSG_CTL_RELOAD),
	N(IMSG_CTL_STOP),
	N(IMSG_CTL_DATA),
	N(IMSG_CTL_END),
	N(IMSG_CTL_SHOW_MESSAGE),
	N(IMSG_CTL_SHOW_STATS),
	N(IMSG_CTL_SCHEDULE),
	N(IMSG_CTL_REMOVE),
	N(IMSG_CTL_PAUSE),
	N(IMSG_CTL_RESUME),
	N(IMSG_LKA_ROUTE),
	N(IMSG_LKA_ROUTE_RESULT),
	N(IMSG_CTL_TEST_RCPT),
	N(IMSG_CTL_TABLE_LOOKUP),
	N(IMSG_CTL_SHOW_TABLES),
	N(IMSG_PEER_FAULT),
	N(IMSG_CTL_TEST_HOOK),
};

static const char *const proc_names[PROC_COUNT] = {
	[PROC_PARENT] = "parent",
	[PROC_SMTPD] = "smtpd",
	[PROC_LOOKUPD] = "lookupd",
	[PROC_QUEUED] = "queued",
	[PROC_MTAD] = "mtad",
	[PROC_CONTROL] = "control",
};

const char *
imsg_type_name(int type)
{
	if (type < 0 || type >= IMSG_TYPE_COUNT || imsg_names[type] == NULL)
		return "IMSG_?";
	return imsg_names[type];
}

const char *
proc_name(enum proc_id id)
{
	if ((int)id < 0 || id >= PROC_COUNT || proc_names[id] == NULL)
		return "?";
	return proc_names[id];
}
