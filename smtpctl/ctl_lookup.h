/* smtpctl's requests for lookupd (see ctl_lookup.c). */
#ifndef MXGATE_CTL_LOOKUP_H
#define MXGATE_CTL_LOOKUP_H

#include <stdint.h>

#include "imsg.h"
#include "mbuf.h"

/* 1: argv is one of them, *type and *m set; 0: not one; -1: bad usage. */
int	ctl_lookup_request(int argc, char **argv, uint32_t *type,
	    struct mbuf *m);
/* Sends the request; exits on error. */
void	ctl_lookup_send(struct imsgbuf *, uint32_t type, struct mbuf *m);

#endif
