/*
 * The SMTP reply to RCPT TO for lookupd's answer: one mapping, used by
 * smtpd for the real reply and by lookupd for `smtpctl test rcpt`, so
 * the trace shows exactly what a client would read.
 */
#ifndef MXGATE_RCPT_REPLY_H
#define MXGATE_RCPT_REPLY_H

#include <stddef.h>

#include "proto.h"

#define RCPT_REPLY_ACCEPT	"250 2.1.5 Ok"

/*
 * The reply line (no CR LF) to RCPT TO:<rcpt> for status and text as
 * lookupd sent them.  LKA_RELAY with nrcpts == 0 is a fault of ours and
 * answered as a temporary failure.  Non-printable octets of text become
 * '?'.
 */
void	rcpt_reply(char *buf, size_t bufsz, enum lka_status status,
	    const char *rcpt, const char *text, size_t nrcpts);

#endif
