/*
 * The words of an smtpctl command line, turned into the request sent to
 * the daemon: one message type and its payload (common/proto.h).
 */
#ifndef MXGATE_CTL_CMD_H
#define MXGATE_CTL_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "mbuf.h"

/* One line per command, for usage(). */
extern const char *const ctl_cmd_usage[];

/*
 * Fills *type and the payload m (initialised by the caller) from argv.
 * 0, or -1 with a one-line reason in err ("" when the words are no
 * command at all, so that the caller prints the usage).
 */
int	ctl_cmd_parse(int argc, char **argv, uint32_t *type, struct mbuf *m,
	    char *err, size_t errsz);

#endif
