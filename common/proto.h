/*
 * The one definition of every message mxgate's processes exchange.
 *
 * Each message is an imsg frame (common/imsg.h); its payload is built with
 * the typed marshalling of common/mbuf.h in exactly the field order given
 * in the comment beside its type.  A receiver checks the sender, reads the
 * fields in that order and calls mr_end(); any mismatch is fatal to the
 * link.  Bump MXGATE_PROTO_VERSION whenever this enum or a payload changes:
 * smtpctl refuses to talk to a daemon of another version.
 */
#ifndef MXGATE_PROTO_H
#define MXGATE_PROTO_H

#define MXGATE_PROTO_VERSION	2

enum proc_id {
	PROC_PARENT,
	PROC_SMTPD,
	PROC_LOOKUPD,
	PROC_QUEUED,
	PROC_MTAD,
	PROC_CONTROL,		/* an smtpctl client, seen by the parent */
	PROC_COUNT
};

/* Result of a recipient decision, IMSG_LKA_RCPT_RESULT. */
enum lka_status {
	LKA_RELAY,		/* accept; expanded recipients follow */
	LKA_UNKNOWN_USER,	/* 550 5.1.1 */
	LKA_RELAY_DENIED,	/* 554 5.7.1 */
	LKA_TEMPFAIL,		/* 451 4.3.0: our fault, never a 5xx */
	LKA_REJECT		/* 550 with the text given (error: transport) */
};

/* Result of a password check, IMSG_LKA_AUTH_RESULT. */
enum lka_auth_status {
	LKA_AUTH_OK,		/* 235 2.7.0 */
	LKA_AUTH_FAILED,	/* 535 5.7.8: unknown user or wrong password */
	LKA_AUTH_TEMPFAIL	/* 454 4.7.0: table cannot answer, our fault */
};

/* Per-recipient delivery result, IMSG_MTA_RESULT. */
enum mta_status {
	MTA_OK,			/* remote 2xx: delivered */
	MTA_TEMPFAIL,		/* 4xx or connection trouble: retry */
	MTA_PERMFAIL		/* 5xx: bounce */
};

/* IMSG_QUEUE_STATUS flags: why smtpd must not take new mail now. */
#define QUEUE_STATUS_NOSPACE	0x1	/* spool below its free-space reserve */
#define QUEUE_STATUS_PAUSED	0x2	/* smtpctl pause incoming */

/* IMSG_CTL_PAUSE / IMSG_CTL_RESUME: which way mail flows. */
#define CTL_FLOW_INCOMING	0x1	/* smtpd taking new messages */
#define CTL_FLOW_OUTGOING	0x2	/* queued handing messages to mtad */
/*
 * ESMTP parameters a message or recipient keeps from the session to the
 * DSN and the next hop (IMSG_QUEUE_COMMIT, IMSG_MTA_TRANSFER), each sent
 * as a u32.  BODY= (RFC 6152), RET= and NOTIFY= (RFC 3461).
 */
enum msg_body {
	MSG_BODY_NONE,		/* no BODY= given */
	MSG_BODY_7BIT,
	MSG_BODY_8BITMIME
};

enum dsn_ret {
	DSN_RET_NONE,		/* no RET=: our choice (full on failure) */
	DSN_RET_FULL,
	DSN_RET_HDRS
};

/* NOTIFY= as flags; 0: none given (failure and delay are reported) */
#define DSN_NOTIFY_NEVER	0x01
#define DSN_NOTIFY_SUCCESS	0x02
#define DSN_NOTIFY_FAILURE	0x04
#define DSN_NOTIFY_DELAY	0x08
#define DSN_NOTIFY_MASK		0x0f

enum imsg_type {
	IMSG_NONE,

	/* parent -> worker */
	IMSG_CONF_START,	/* (none) */
	IMSG_CONF_DATA,		/* data: a chunk of normalised config text */
	IMSG_CONF_END,		/* (none): parse and swap in what came since START */
	IMSG_PEER_FD,		/* u32 proc_id of the peer; fd: our end of the link;
				 * imsg peerid: which smtpd ("smtp processes") */
	IMSG_LISTEN_FD,		/* u32 listener index; fd: a bound, listening socket */
	IMSG_READY,		/* worker -> parent: u32 0 config applied, 1 rejected
				 * (the old one stays), str reason */
	IMSG_CONF_PKI,		/* parent -> smtpd, between CONF_START and CONF_END,
				 * one per pki: str name, str certificate chain
				 * (PEM), str private key (PEM) */

	/* smtpd <-> lookupd */
	IMSG_LKA_RCPT,		/* u64 reqid, str client addr, str sender, str rcpt,
				 * str auth user ("": not authenticated) */
	IMSG_LKA_RCPT_RESULT,	/* u64 reqid, u32 lka_status, str text,
				 * u32 n, n x (str final rcpt, str relay) */
	IMSG_LKA_AUTH,		/* u64 reqid, str credentials table (a listener's
				 * auth <table>), str username, str password */
	IMSG_LKA_AUTH_RESULT,	/* u64 reqid, u32 lka_auth_status */

	/* smtpd <-> queued */
	IMSG_QUEUE_CREATE,	/* u64 reqid */
	IMSG_QUEUE_CREATE_OK,	/* u64 reqid, str msgid; fd: message file, write-only */
	IMSG_QUEUE_CREATE_FAIL,	/* u64 reqid */
	IMSG_QUEUE_COMMIT,	/* u64 reqid, str msgid, str sender, str helo,
				 * str client addr, u64 size,
				 * u32 msg_body, u32 smtputf8 (0/1), u32 dsn_ret,
				 * str envid (decoded ENVID=, "" none),
				 * u32 n, n x (str rcpt, str orig rcpt, str relay,
				 * u32 DSN_NOTIFY_* flags,
				 * str orcpt ("type;addr" decoded, "" none)) */
	IMSG_QUEUE_COMMIT_OK,	/* u64 reqid, str msgid */
	IMSG_QUEUE_COMMIT_FAIL,	/* u64 reqid, str msgid */
	IMSG_QUEUE_ABORT,	/* u64 reqid, str msgid: drop an uncommitted message */
	IMSG_QUEUE_STATUS,	/* queued -> smtpd: u32 QUEUE_STATUS_* flags; sent
				 * when they change and when smtpd connects */

	/* queued <-> mtad */
	IMSG_MTA_TRANSFER,	/* u64 batchid, str msgid, str sender, str relay,
				 * u32 msg_body, u32 smtputf8 (0/1),
				 * u32 n, n x str rcpt; fd: message, read-only */
	IMSG_MTA_RESULT,	/* u64 batchid, str relay host used,
				 * u32 n, n x (u32 mta_status, str reply) */

	/* smtpctl <-> parent, parent <-> workers on its behalf.
	 * peerid carries the control client's id through the workers. */
	IMSG_CTL_HELLO,		/* u32 MXGATE_PROTO_VERSION (both ways) */
	IMSG_CTL_SHOW_STATUS,	/* (none) */
	IMSG_CTL_SHOW_QUEUE,	/* u32 n, n x (str key, str value): filters,
				 * key "from", "to", "state" or "id" */
	IMSG_CTL_RELOAD,	/* (none) */
	IMSG_CTL_STOP,		/* (none) */
	IMSG_CTL_DATA,		/* str: one line of output */
	IMSG_CTL_END,		/* u32 0 = ok, else failed; str message */
	/* smtpctl -> parent -> queued (queue administration) */
	IMSG_CTL_SHOW_MESSAGE,	/* str msgid */
	IMSG_CTL_SHOW_STATS,	/* (none) */
	IMSG_CTL_SCHEDULE,	/* str msgid or "all" */
	IMSG_CTL_REMOVE,	/* str msgid or "all" */
	IMSG_CTL_PAUSE,		/* u32 CTL_FLOW_* bits */
	IMSG_CTL_RESUME,	/* u32 CTL_FLOW_* bits */

	/* queued <-> lookupd: the next hop of a message queued made (DSN) */
	IMSG_LKA_ROUTE,		/* u64 reqid, str rcpt */
	IMSG_LKA_ROUTE_RESULT,	/* u64 reqid, u32 lka_status,
				 * str relay (LKA_RELAY) or text (else) */

	/* smtpctl -> parent -> lookupd (peerid: the control client);
	 * lookupd answers with IMSG_CTL_DATA lines, then IMSG_CTL_END. */
	IMSG_CTL_TEST_RCPT,	/* str client addr ("" default), str sender,
				 * str rcpt: trace one recipient decision */
	IMSG_CTL_TABLE_LOOKUP,	/* str table name, str key */
	IMSG_CTL_SHOW_TABLES,	/* (none) */

	/* robustness: a worker that closed a peer's link because of a
	 * malformed or unexpected message names the sender; the parent
	 * restarts it (the restart relinks both). */
	IMSG_PEER_FAULT,	/* worker -> parent: u32 proc_id of the peer,
				 * u32 sender pid in the offending frame */
	/* Test hooks (regress/build only, -DMXGATE_TEST_HOOKS): a worker
	 * attempts what its sandbox forbids or sends bad frames.  A release
	 * parent answers "not supported"; a release worker fails the link. */
	IMSG_CTL_TEST_HOOK,	/* smtpctl -> parent: str worker, str action;
				 * parent -> worker: str action */

	IMSG_TYPE_COUNT
};

const char *imsg_type_name(int);
const char *proc_name(enum proc_id);

#endif
