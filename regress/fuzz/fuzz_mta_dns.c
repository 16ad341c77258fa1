/*
 * MX answers from a name server (mtad/mta_dns_msg.c), parsed as the
 * answer to "example.com" MX with id 0x4242: whatever the bytes, no
 * overrun, no loop, and what comes out is a usable list.
 */
#include <string.h>

#include "fuzz.h"
#include "../../mtad/mta_dns_msg.h"

int
fuzz_mta_dns(const uint8_t *data, size_t size)
{
	struct mta_mx	 mx[MTA_DNS_MX_MAX];
	size_t		 n = 0, i, j;
	enum mta_dns_rc	 rc;

	rc = mta_dns_mx_answer(data, size, 0x4242, "example.com", mx,
	    MTA_DNS_MX_MAX, &n);
	FUZZ_ASSERT(rc == MTA_DNS_ANSWER || n == 0);
	FUZZ_ASSERT(n <= MTA_DNS_MX_MAX);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(memchr(mx[i].host, '\0', sizeof(mx[i].host)) !=
		    NULL);
		for (j = 0; mx[i].host[j] != '\0'; j++)
			FUZZ_ASSERT(mx[i].host[j] != ' ' &&
			    (unsigned char)mx[i].host[j] > 0x20 &&
			    (unsigned char)mx[i].host[j] < 0x7f);
	}
	return 0;
}
