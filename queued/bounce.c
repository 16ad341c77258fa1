/*
 * The DSN message (see bounce.h):
 *
 *	From: MAILER-DAEMON@<hostname> (Mail Delivery System)
 *	To: <original envelope sender>
 *	Subject, Date, Message-Id, Auto-Submitted: auto-replied (RFC 3834)
 *	Content-Type: multipart/report; report-type=delivery-status
 *	  1. text/plain: what happened, for a human;
 *	  2. message/delivery-status (RFC 3464): Reporting-MTA,
 *	     Original-Envelope-Id, Arrival-Date, then per recipient
 *	     Final-Recipient, Original-Recipient (from ORCPT), Action, Status,
 *	     Diagnostic-Code ("smtp; <reply>" when the text is an SMTP reply),
 *	     Will-Retry-Until (delays);
 *	  3. the original: message/rfc822 (RET=FULL) or text/rfc822-headers
 *	     (RET=HDRS), copied as it is in the spool.
 *
 * Guarantees: every line ends in CR LF and no value can add one (texts
 * from the next hop or the envelope have control characters replaced by
 * spaces and are cut to keep header lines under 998 octets); the MIME
 * boundary starts with "=_", which neither quoted-printable nor base64
 * can produce, and is unique per DSN (it holds the queue ids).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounce.h"

#define BOUNCE_VALUE_MAX	900	/* octets of a text value kept */

static const char *const days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec"
};

/* RFC 5322 date-time in UTC. */
static void
rfc5322_date(int64_t t, char *buf, size_t bufsz)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(buf, bufsz, "Thu, 1 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(buf, bufsz, "%s, %d %s %d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* src made safe for one header line: no control characters, cut. */
static void
clean(const char *src, char *dst, size_t dstsz)
{
	size_t	 i;

	for (i = 0; src[i] != '\0' && i + 1 < dstsz &&
	    i < BOUNCE_VALUE_MAX; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ?
		    ' ' : src[i];
	dst[i] = '\0';
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* 1 when reply starts with an SMTP reply code ("550 ...", "451-..."). */
static int
smtp_reply(const char *reply)
{
	return reply[0] >= '2' && reply[0] <= '5' && is_digit(reply[1]) &&
	    is_digit(reply[2]) && (reply[3] == ' ' || reply[3] == '-' ||
	    reply[3] == '\0');
}

/* class "." 1*3digit "." 1*3digit at p, class being c; its length or 0. */
static size_t
enhanced_code(const char *p, char c)
{
	size_t	 i = 2, n, part;

	if (p[0] != c || p[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (n = 0; is_digit(p[i]) && n < 4; n++)
			i++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0 && p[i++] != '.')
			return 0;
	}
	return (p[i] == ' ' || p[i] == '\0') ? i : 0;
}

void
bounce_status(enum bounce_kind kind, const struct bounce_rcpt *r,
    char *buf, size_t bufsz)
{
	const char	*p = r->reply;
	size_t		 n;

	if (kind == BOUNCE_SUCCESS) {
		snprintf(buf, bufsz, "2.0.0");
		return;
	}
	if (r->expired) {
		snprintf(buf, bufsz, "4.4.7");
		return;
	}
	if (smtp_reply(p) && (p[0] == '4' || p[0] == '5')) {
		if ((n = enhanced_code(p + 4, p[0])) > 0 && n < bufsz) {
			memcpy(buf, p + 4, n);
			buf[n] = '\0';
			return;
		}
		snprintf(buf, bufsz, "%c.0.0", p[0]);
		return;
	}
	/* our own text (no connection, ...): temporary unless failed */
	snprintf(buf, bufsz, kind == BOUNCE_DELAY ? "4.0.0" : "5.0.0");
}

static const char *
subject(enum bounce_kind kind)
{
	switch (kind) {
	case BOUNCE_DELAY:
		return "Delayed Mail (still being retried)";
	case BOUNCE_SUCCESS:
		return "Successful Mail Delivery Report";
	default:
		return "Undelivered Mail Returned to Sender";
	}
}

static const char *
action(enum bounce_kind kind)
{
	switch (kind) {
	case BOUNCE_DELAY:
		return "delayed";
	case BOUNCE_SUCCESS:
		return "relayed";
	default:
		return "failed";
	}
}

static void
write_headers(FILE *out, const struct bounce *b, const char *boundary)
{
	char	 date[64], to[BOUNCE_VALUE_MAX + 1];

	rfc5322_date(b->now, date, sizeof(date));
	clean(b->to, to, sizeof(to));
	fprintf(out, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n",
	    b->hostname);
	fprintf(out, "To: <%s>\r\n", to);
	fprintf(out, "Subject: %s\r\n", subject(b->kind));
	fprintf(out, "Date: %s\r\n", date);
	fprintf(out, "Message-Id: <%s.%s@%s>\r\n", b->id, b->msgid,
	    b->hostname);
	fprintf(out, "Auto-Submitted: auto-replied\r\n");
	fprintf(out, "MIME-Version: 1.0\r\n");
	fprintf(out, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary);
	fprintf(out, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");
}

static void
write_notification(FILE *out, const struct bounce *b, const char *boundary)
{
	char	 final[BOUNCE_VALUE_MAX + 1], reply[BOUNCE_VALUE_MAX + 1];
	size_t	 i;

	fprintf(out, "--%s\r\n", boundary);
	fprintf(out, "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	fprintf(out, "This is the mail system at host %s.\r\n\r\n",
	    b->hostname);
	switch (b->kind) {
	case BOUNCE_FAILURE:
		fprintf(out, "Your message %s could not be delivered to one "
		    "or more recipients.\r\n%s attached below.\r\n",
		    b->msgid, b->ret == DSN_RET_FULL ? "It is" :
		    "Its headers are");
		break;
	case BOUNCE_DELAY:
		fprintf(out, "Your message %s could not be delivered yet to "
		    "one or more recipients.\r\nThe mail system will keep "
		    "trying; you need not send it again.\r\n", b->msgid);
		break;
	case BOUNCE_SUCCESS:
		fprintf(out, "Your message %s was relayed to the recipients "
		    "below, as you asked to\r\nbe told.  The next hop does not "
		    "report delivery status, so this is the\r\nlast report "
		    "you will get.\r\n", b->msgid);
		break;
	}
	fprintf(out, "\r\n");
	for (i = 0; i < b->nrcpt; i++) {
		clean(b->rcpt[i].final, final, sizeof(final));
		clean(b->rcpt[i].reply, reply, sizeof(reply));
		if (reply[0] != '\0')
			fprintf(out, "<%s>: %s\r\n", final, reply);
		else
			fprintf(out, "<%s>\r\n", final);
	}
	fprintf(out, "\r\n");
}

static void
write_rcpt(FILE *out, const struct bounce *b, const struct bounce_rcpt *r)
{
	char	 v[BOUNCE_VALUE_MAX + 1], status[BOUNCE_STATUS_MAX];

	clean(r->final, v, sizeof(v));
	fprintf(out, "\r\nFinal-Recipient: rfc822; %s\r\n", v);
	if (r->orcpt[0] != '\0') {
		clean(r->orcpt, v, sizeof(v));
		fprintf(out, "Original-Recipient: %s\r\n", v);
	}
	bounce_status(b->kind, r, status, sizeof(status));
	fprintf(out, "Action: %s\r\nStatus: %s\r\n", action(b->kind), status);
	if (r->reply[0] != '\0') {
		clean(r->reply, v, sizeof(v));
		fprintf(out, "Diagnostic-Code: %s; %s\r\n",
		    smtp_reply(r->reply) ? "smtp" : "X-mxgate", v);
	}
	if (b->kind == BOUNCE_DELAY && b->retry_until > 0) {
		rfc5322_date(b->retry_until, v, sizeof(v));
		fprintf(out, "Will-Retry-Until: %s\r\n", v);
	}
}

static void
write_report(FILE *out, const struct bounce *b, const char *boundary)
{
	char	 date[64], envid[BOUNCE_VALUE_MAX + 1];
	size_t	 i;

	fprintf(out, "--%s\r\n", boundary);
	fprintf(out, "Content-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n");
	fprintf(out, "Reporting-MTA: dns; %s\r\n", b->hostname);
	fprintf(out, "X-Mxgate-Queue-ID: %s\r\n", b->msgid);
	if (b->envid[0] != '\0') {
		clean(b->envid, envid, sizeof(envid));
		fprintf(out, "Original-Envelope-Id: %s\r\n", envid);
	}
	rfc5322_date(b->arrival, date, sizeof(date));
	fprintf(out, "Arrival-Date: %s\r\n", date);
	for (i = 0; i < b->nrcpt; i++)
		write_rcpt(out, b, &b->rcpt[i]);
	fprintf(out, "\r\n");
}

/*
 * The original, line by line: all of it, or (headers_only) up to and
 * without the empty line that ends its header.  A last line without
 * CR LF gets one.  0 or -1 on a read error.
 */
static int
copy_original(FILE *out, FILE *orig, int headers_only)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 rv = 0;

	while ((n = getline(&line, &cap, orig)) > 0) {
		if (headers_only && (strcmp(line, "\r\n") == 0 ||
		    strcmp(line, "\n") == 0))
			break;
		fwrite(line, 1, (size_t)n, out);
		if (line[n - 1] != '\n')
			fputs("\r\n", out);
	}
	if (ferror(orig))
		rv = -1;
	free(line);
	return rv;
}

int
bounce_write(FILE *out, const struct bounce *b, FILE *orig)
{
	char	 boundary[128];
	int	 full = b->ret == DSN_RET_FULL;

	snprintf(boundary, sizeof(boundary), "=_mxgate_%s_%s", b->id,
	    b->msgid);
	write_headers(out, b, boundary);
	write_notification(out, b, boundary);
	write_report(out, b, boundary);
	fprintf(out, "--%s\r\n", boundary);
	fprintf(out, "Content-Description: %s%s\r\n", b->kind ==
	    BOUNCE_FAILURE ? "Undelivered Message" : "Message", full ? "" :
	    " Headers");
	fprintf(out, "Content-Type: %s\r\n\r\n", full ? "message/rfc822" :
	    "text/rfc822-headers");
	if (copy_original(out, orig, !full) == -1)
		return -1;
	fprintf(out, "\r\n--%s--\r\n", boundary);
	return ferror(out) ? -1 : 0;
}
