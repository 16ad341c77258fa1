/*
 * The client side of STARTTLS for mtad: the policy for a next hop (mta
 * tls HOST|default POLICY) and libtls contexts to hand to common/tlsio.
 * The CA file is read once, before the sandbox; a reload changes the
 * policies, not the CA.
 */
#ifndef MXGATE_MTA_TLS_H
#define MXGATE_MTA_TLS_H

#include <tls.h>

#include "config.h"

/* At every configure; first is the start, before the sandbox. */
void	mta_tls_configure(const struct mxgate_conf *, int first);
/* The policy (enum conf_tls_policy) for a relay host. */
int	mta_tls_policy(const char *host);
/* A client context set up for policy on fd, servername for SNI and the
 * name check; NULL with *why set on failure. */
struct tls *mta_tls_connect(int policy, int fd, const char *servername,
	    const char **why);

#endif
