/*
 * EHLO keywords; see mta_ehlo.h.  Keywords are matched whole and without
 * regard to case; a SIZE without a number (or with junk) means no limit
 * was announced.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mta_ehlo.h"

static const struct {
	const char	*kw;
	unsigned	 ext;
} mta_ehlo_kws[] = {
	{ "PIPELINING",	MTA_EXT_PIPELINING },
	{ "SIZE",	MTA_EXT_SIZE },
	{ "STARTTLS",	MTA_EXT_STARTTLS },
	{ "8BITMIME",	MTA_EXT_8BITMIME },
	{ "SMTPUTF8",	MTA_EXT_SMTPUTF8 },
};

/* SIZE's number: decimal digits up to the end of the line. */
static unsigned long long
mta_ehlo_size(const char *p)
{
	unsigned long long v = 0;

	if (*p++ != ' ')
		return 0;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (~0ULL - 9) / 10)
			return 0;
		v = v * 10 + (unsigned)(*p - '0');
	}
	return (*p == '\0' || *p == ' ') ? v : 0;
}

void
mta_ehlo_parse(struct mta_ehlo *e, const char *text)
{
	const char	*p = text, *kw;
	size_t		 len, i;

	e->ext = 0;
	e->maxsize = 0;
	while ((p = strstr(p, " 250")) != NULL) {
		p += 4;
		if (*p != '-' && *p != ' ')
			continue;
		kw = ++p;
		len = strcspn(kw, " ");
		for (i = 0; i < sizeof(mta_ehlo_kws) / sizeof(mta_ehlo_kws[0]);
		    i++) {
			if (strlen(mta_ehlo_kws[i].kw) != len ||
			    strncasecmp(kw, mta_ehlo_kws[i].kw, len) != 0)
				continue;
			e->ext |= mta_ehlo_kws[i].ext;
			if (mta_ehlo_kws[i].ext == MTA_EXT_SIZE)
				e->maxsize = mta_ehlo_size(kw + len);
		}
	}
}
