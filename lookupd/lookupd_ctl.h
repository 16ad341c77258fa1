/* lookupd's answers to smtpctl, see lookupd_ctl.c. */
#ifndef MXGATE_LOOKUPD_CTL_H
#define MXGATE_LOOKUPD_CTL_H

#include "imsg.h"
#include "imsgev.h"

struct lka_tables;

/* IMSG_CTL_TEST_RCPT, _TABLE_LOOKUP, _SHOW_TABLES.  tables() gives the
 * live snapshot (NULL if none), asked again at each round. */
void	lookupd_ctl(struct imsgev *, struct imsg *,
	    struct lka_tables *(*tables)(void));

#endif
