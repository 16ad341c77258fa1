/*
 * queued/bounce.c: the DSN text built from values that come from clients
 * and remote servers (sender, ENVID, ORCPT, recipients, replies).  The
 * input is five NUL-separated values and then the original message;
 * byte 0 picks the kind and RET.  Whatever they hold, the DSN up to the
 * returned message has CR LF line ends only, no other control character
 * but tab, and its delivery-status part only "Name: value" lines of the
 * RFC 3464 fields we write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../queued/bounce.h"

static const char *const fields[] = {
	"Reporting-MTA", "X-Mxgate-Queue-ID", "Original-Envelope-Id",
	"Arrival-Date", "Final-Recipient", "Original-Recipient", "Action",
	"Status", "Diagnostic-Code", "Will-Retry-Until", NULL
};

/* The next NUL-terminated value of the input, or "" at its end. */
static const char *
next_value(const uint8_t **p, const uint8_t *end, char *buf, size_t bufsz)
{
	size_t n = 0;

	while (*p < end && **p != '\0') {
		if (n + 1 < bufsz)
			buf[n++] = (char)**p;
		(*p)++;
	}
	if (*p < end)
		(*p)++;
	buf[n] = '\0';
	return buf;
}

static void
check_status_line(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t i, n;

	if (len == 0)
		return;
	FUZZ_ASSERT(colon != NULL && (size_t)(colon - line) + 1 < len &&
	    colon[1] == ' ');
	n = (size_t)(colon - line);
	for (i = 0; fields[i] != NULL; i++)
		if (strlen(fields[i]) == n && memcmp(fields[i], line, n) == 0)
			break;
	FUZZ_ASSERT(fields[i] != NULL);
}

static void
check_output(const char *s, size_t len)
{
	const char *orig, *status, *p, *nl;
	size_t i;

	orig = strstr(s, "Content-Description: Undelivered Message");
	if (orig == NULL)
		orig = strstr(s, "Content-Description: Message");
	FUZZ_ASSERT(orig != NULL);
	for (i = 0; s + i < orig; i++) {
		if (s[i] == '\n')
			FUZZ_ASSERT(i > 0 && s[i - 1] == '\r');
		else if (s[i] == '\r')
			FUZZ_ASSERT(s[i + 1] == '\n');
		else
			FUZZ_ASSERT((unsigned char)s[i] >= 0x20 ||
			    s[i] == '\t');
	}
	status = strstr(s, "Content-Type: message/delivery-status\r\n\r\n");
	FUZZ_ASSERT(status != NULL && status < orig);
	p = status + strlen("Content-Type: message/delivery-status\r\n\r\n");
	for (; (nl = strstr(p, "\r\n")) != NULL && strncmp(p, "--=_", 4) != 0;
	    p = nl + 2)
		check_status_line(p, (size_t)(nl - p));
	FUZZ_ASSERT(len > 0 && s[len - 1] == '\n');
}

int
fuzz_bounce(const uint8_t *data, size_t size)
{
	char to[512], envid[512], final[512], orcpt[512], reply[2048];
	const uint8_t *p = data, *end = data + size;
	struct bounce_rcpt r;
	struct bounce b;
	FILE *in, *out;
	char *buf = NULL;
	size_t len = 0;
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = *p++;
	memset(&b, 0, sizeof(b));
	b.kind = (enum bounce_kind)(sel % 3);
	b.ret = (sel & 0x10) ? DSN_RET_HDRS : DSN_RET_FULL;
	b.hostname = "mx.example.com";
	b.msgid = "AAAAAAAAAAAA";
	b.id = "BBBBBBBBBBBB";
	b.to = next_value(&p, end, to, sizeof(to));
	b.envid = next_value(&p, end, envid, sizeof(envid));
	r.final = next_value(&p, end, final, sizeof(final));
	r.orcpt = next_value(&p, end, orcpt, sizeof(orcpt));
	r.reply = next_value(&p, end, reply, sizeof(reply));
	r.expired = (sel & 0x20) != 0;
	b.arrival = 1700000000;
	b.now = (int64_t)sel << 40;	/* dates far out too */
	b.retry_until = 1700432000;
	b.nrcpt = 1;
	b.rcpt = &r;
	if ((in = fmemopen((void *)(end > p ? p : data), (size_t)(end - p),
	    "r")) == NULL && end > p)
		abort();
	if ((out = open_memstream(&buf, &len)) == NULL)
		abort();
	if (in == NULL)
		in = fopen("/dev/null", "r");
	FUZZ_ASSERT(in != NULL);
	FUZZ_ASSERT(bounce_write(out, &b, in) == 0);
	fclose(in);
	FUZZ_ASSERT(fclose(out) == 0);
	check_output(buf, len);
	free(buf);
	return 0;
}
