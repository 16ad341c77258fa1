/*
 * BDAT chunks (see smtp_bdat.h).  The line-end machine uses three states
 * of struct smtp_data: SD_BOL (at the start of a line: nothing or CR LF
 * last stored), SD_TEXT (inside a line), SD_CR (a CR is pending).  It
 * does not look at dots: a chunk has no end marker and no stuffing.
 */
#include <string.h>
#include <strings.h>

#include "smtp_bdat.h"

static const char crlf[] = "\r\n";

int
smtp_bdat_parse(const char *arg, uint64_t *size, int *last)
{
	uint64_t	 n = 0;
	size_t		 len;

	len = strspn(arg, "0123456789");
	if (len == 0 || len > 20)
		return -1;
	for (; len > 0; arg++, len--) {
		if (n > (UINT64_MAX - (*arg - '0')) / 10)
			return -1;
		n = n * 10 + (*arg - '0');
	}
	*last = 0;
	if (*arg != '\0') {
		if (*arg != ' ' && *arg != '\t')
			return -1;
		while (*arg == ' ' || *arg == '\t')
			arg++;
		if (strcasecmp(arg, "LAST") != 0)
			return -1;
		*last = 1;
	}
	*size = n;
	return 0;
}

void
smtp_bdat_begin(struct smtp_data *d)
{
	d->state = SD_BOL;
}

/* The CR LF for a pending bare CR. */
static void
bdat_bare(struct smtp_data *d)
{
	d->bare = 1;
	smtp_data_write(d, crlf, 2);
}

void
smtp_bdat_feed(struct smtp_data *d, const char *p, size_t len)
{
	size_t	 i;

	while (len > 0) {
		if (d->state == SD_CR) {
			if (p[0] == '\n') {
				smtp_data_write(d, crlf, 2);
				d->state = SD_BOL;
				p++;
				len--;
				continue;
			}
			bdat_bare(d);
			d->state = SD_BOL;
		}
		for (i = 0; i < len && p[i] != '\r' && p[i] != '\n'; i++)
			;
		if (i > 0) {
			smtp_data_write(d, p, i);
			d->state = SD_TEXT;
			p += i;
			len -= i;
			continue;
		}
		if (p[0] == '\r')
			d->state = SD_CR;
		else {
			bdat_bare(d);		/* bare LF: stored as CR LF */
			d->state = SD_BOL;
		}
		p++;
		len--;
	}
}

void
smtp_bdat_end(struct smtp_data *d)
{
	if (d->state == SD_CR)
		bdat_bare(d);
	else if (d->state == SD_TEXT)
		smtp_data_write(d, crlf, 2);
	d->state = SD_DONE;
}
