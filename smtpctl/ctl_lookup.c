/*
 * smtpctl's requests for lookupd, which carry arguments:
 *   test rcpt ADDRESS [from IP] [sender ADDRESS]
 *   table lookup NAME KEY
 *   show tables
 * Arguments go as they are; lookupd checks them (and says what is wrong).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_lookup.h"
#include "proto.h"

static int
ctl_test_rcpt(int argc, char **argv, struct mbuf *m)
{
	const char	*from = "", *sender = "";
	int		 i;

	if (argc < 3 || argc % 2 == 0)
		return -1;
	for (i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "from") == 0)
			from = argv[i + 1];
		else if (strcmp(argv[i], "sender") == 0)
			sender = argv[i + 1];
		else
			return -1;
	}
	mbuf_add_str(m, from);
	mbuf_add_str(m, sender);
	mbuf_add_str(m, argv[2]);
	return 1;
}

int
ctl_lookup_request(int argc, char **argv, uint32_t *type, struct mbuf *m)
{
	mbuf_init(m);
	if (argc >= 2 && strcmp(argv[0], "test") == 0 &&
	    strcmp(argv[1], "rcpt") == 0) {
		*type = IMSG_CTL_TEST_RCPT;
		return ctl_test_rcpt(argc, argv, m);
	}
	if (argc >= 2 && strcmp(argv[0], "table") == 0 &&
	    strcmp(argv[1], "lookup") == 0) {
		if (argc != 4)
			return -1;
		*type = IMSG_CTL_TABLE_LOOKUP;
		mbuf_add_str(m, argv[2]);
		mbuf_add_str(m, argv[3]);
		return 1;
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0 &&
	    strcmp(argv[1], "tables") == 0) {
		*type = IMSG_CTL_SHOW_TABLES;
		return 1;
	}
	return 0;
}

void
ctl_lookup_send(struct imsgbuf *ib, uint32_t type, struct mbuf *m)
{
	if (m->err || imsg_compose(ib, type, 0, -1, m->buf, m->len) == -1 ||
	    imsgbuf_flush_all(ib) == -1) {
		fprintf(stderr, "smtpctl: write: %s\n", m->err ?
		    "argument too long" : strerror(errno));
		exit(1);
	}
	mbuf_free(m);
}
