/*
 * smtpctl's command words.  A command is one or two fixed words followed
 * by its arguments; each entry's encoder checks the arguments and writes
 * the payload the daemon expects.
 */
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include "ctl_cmd.h"
#include "proto.h"

struct ctl_cmd {
	const char	*words[2];
	uint32_t	 type;
	int		(*encode)(int, char **, struct mbuf *, char *, size_t);
};

const char *const ctl_cmd_usage[] = {
	"show status",
	"show queue [from ADDR] [to ADDR] [state queued|deferred|inflight] "
	    "[id ID]",
	"show message ID",
	"show stats",
	"schedule ID|all",
	"remove ID|all",
	"pause incoming|outgoing|all",
	"resume incoming|outgoing|all",
	"test rcpt ADDRESS [from IP] [sender ADDRESS]",
	"table lookup NAME KEY",
	"show tables",
	"reload",
	"stop",
	"makemap FILE",
	"ldap-export LDAPCONF OUTFILE",
	NULL
};

static int
no_args(int argc, char **argv, struct mbuf *m, char *err, size_t errsz)
{
	if (argc == 0)
		return 0;
	snprintf(err, errsz, "unexpected argument \"%s\"", argv[0]);
	return -1;
}

static int
queue_filters(int argc, char **argv, struct mbuf *m, char *err,
    size_t errsz)
{
	static const char *const keys[] = { "from", "to", "state", "id" };
	size_t	k;
	int	i;

	if (argc % 2 != 0) {
		snprintf(err, errsz, "filter \"%s\" needs a value",
		    argv[argc - 1]);
		return -1;
	}
	for (i = 0; i < argc; i += 2) {
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strcmp(argv[i], keys[k]) == 0)
				break;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			snprintf(err, errsz, "unknown filter \"%s\" (from, "
			    "to, state or id)", argv[i]);
			return -1;
		}
	}
	mbuf_add_u32(m, (uint32_t)(argc / 2));
	for (i = 0; i < argc; i++)
		mbuf_add_str(m, argv[i]);
	return 0;
}

static int
one_id(int argc, char **argv, struct mbuf *m, char *err, size_t errsz)
{
	if (argc != 1) {
		snprintf(err, errsz, "expected one queue id%s",
		    argc == 0 ? "" : " only");
		return -1;
	}
	mbuf_add_str(m, argv[0]);
	return 0;
}

static int
flow(int argc, char **argv, struct mbuf *m, char *err, size_t errsz)
{
	uint32_t bits;

	if (argc != 1) {
		snprintf(err, errsz, "expected incoming, outgoing or all");
		return -1;
	}
	if (strcmp(argv[0], "incoming") == 0)
		bits = CTL_FLOW_INCOMING;
	else if (strcmp(argv[0], "outgoing") == 0)
		bits = CTL_FLOW_OUTGOING;
	else if (strcmp(argv[0], "all") == 0)
		bits = CTL_FLOW_INCOMING | CTL_FLOW_OUTGOING;
	else {
		snprintf(err, errsz, "\"%s\": expected incoming, outgoing "
		    "or all", argv[0]);
		return -1;
	}
	mbuf_add_u32(m, bits);
	return 0;
}

/* `test hook WORKER ACTION`: the daemon decides whether it has hooks. */
static int
test_hook(int argc, char **argv, struct mbuf *m, char *err, size_t errsz)
{
	if (argc != 2) {
		snprintf(err, errsz, "expected a worker and an action");
		return -1;
	}
	mbuf_add_str(m, argv[0]);
	mbuf_add_str(m, argv[1]);
	return 0;
}

/* Arguments go as they are; lookupd checks them and says what is wrong. */
static int
test_rcpt(int argc, char **argv, struct mbuf *m, char *err, size_t errsz)
{
	const char	*from = "", *sender = "";
	int		 i;

	if (argc < 1 || argc % 2 == 0) {
		snprintf(err, errsz, "expected ADDRESS [from IP] "
		    "[sender ADDRESS]");
		return -1;
	}
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "from") == 0)
			from = argv[i + 1];
		else if (strcmp(argv[i], "sender") == 0)
			sender = argv[i + 1];
		else {
			snprintf(err, errsz, "unknown option \"%s\" (from or "
			    "sender)", argv[i]);
			return -1;
		}
	}
	mbuf_add_str(m, from);
	mbuf_add_str(m, sender);
	mbuf_add_str(m, argv[0]);
	return 0;
}

static int
table_lookup(int argc, char **argv, struct mbuf *m, char *err, size_t errsz)
{
	if (argc != 2) {
		snprintf(err, errsz, "expected a table name and a key");
		return -1;
	}
	mbuf_add_str(m, argv[0]);
	mbuf_add_str(m, argv[1]);
	return 0;
}

static const struct ctl_cmd commands[] = {
	{ { "show", "status" },		IMSG_CTL_SHOW_STATUS,	no_args },
	{ { "show", "queue" },		IMSG_CTL_SHOW_QUEUE,	queue_filters },
	{ { "show", "message" },	IMSG_CTL_SHOW_MESSAGE,	one_id },
	{ { "show", "stats" },		IMSG_CTL_SHOW_STATS,	no_args },
	{ { "schedule", NULL },		IMSG_CTL_SCHEDULE,	one_id },
	{ { "remove", NULL },		IMSG_CTL_REMOVE,	one_id },
	{ { "test", "rcpt" },		IMSG_CTL_TEST_RCPT,	test_rcpt },
	{ { "table", "lookup" },	IMSG_CTL_TABLE_LOOKUP,	table_lookup },
	{ { "show", "tables" },		IMSG_CTL_SHOW_TABLES,	no_args },
	{ { "pause", NULL },		IMSG_CTL_PAUSE,		flow },
	{ { "resume", NULL },		IMSG_CTL_RESUME,	flow },
	{ { "reload", NULL },		IMSG_CTL_RELOAD,	no_args },
	{ { "stop", NULL },		IMSG_CTL_STOP,		no_args },
	/* test builds only (common/test_hook.h); not in the usage */
	{ { "test", "hook" },		IMSG_CTL_TEST_HOOK,	test_hook },
};

int
ctl_cmd_parse(int argc, char **argv, uint32_t *type, struct mbuf *m,
    char *err, size_t errsz)
{
	const struct ctl_cmd	*c;
	size_t			 i;
	int			 n;

	err[0] = '\0';
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		c = &commands[i];
		n = c->words[1] != NULL ? 2 : 1;
		if (argc < n || strcmp(argv[0], c->words[0]) != 0 ||
		    (n == 2 && strcmp(argv[1], c->words[1]) != 0))
			continue;
		*type = c->type;
		return c->encode(argc - n, argv + n, m, err, errsz);
	}
	return -1;
}
