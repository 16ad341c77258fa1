/*
 * The LDAP table config parser and the filter escaping (common/ldap_conf.c).
 * The first byte picks the target:
 *   even: ldap_conf_parse() of the rest; a config it accepts has a
 *         server, a base, a valid filter template; an error names "fuzz";
 *   odd:  the rest (up to a NUL) is an address: ldap_filter_escape()
 *         output has no filter metacharacter and decodes back to the
 *         input, and ldap_filter_expand() into a template keeps its
 *         parentheses exactly (nothing injected).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ldap_conf.h"

static int
fz_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
fz_escape(const char *in)
{
	char	out[3 * 1024 + 1], filter[4 * 1024];
	size_t	i, n = 0, opens = 0, closes = 0;
	int	len, rc;

	/* in is at most 1024 bytes: three times that always fits */
	len = ldap_filter_escape(in, out, sizeof(out));
	FUZZ_ASSERT(len >= 0);
	FUZZ_ASSERT((size_t)len == strlen(out));
	for (i = 0; out[i] != '\0'; i++) {
		FUZZ_ASSERT(out[i] != '*' && out[i] != '(' && out[i] != ')');
		FUZZ_ASSERT(out[i] > 0x20 && out[i] < 0x7f);
		if (out[i] == '\\') {
			FUZZ_ASSERT(fz_hex(out[i + 1]) >= 0 &&
			    fz_hex(out[i + 2]) >= 0);
			FUZZ_ASSERT((unsigned char)in[n] ==
			    fz_hex(out[i + 1]) * 16 + fz_hex(out[i + 2]));
			i += 2;
		} else
			FUZZ_ASSERT(in[n] == out[i]);
		n++;
	}
	FUZZ_ASSERT(in[n] == '\0');
	rc = ldap_filter_expand("(&(a=%s)(b=%u)(c=%d))", in, filter,
	    sizeof(filter));
	if (rc != 1)
		return;
	for (i = 0; filter[i] != '\0'; i++) {
		opens += filter[i] == '(';
		closes += filter[i] == ')';
	}
	FUZZ_ASSERT(opens == 4 && closes == 4);
}

static void
fz_conf(const uint8_t *data, size_t size)
{
	struct ldap_conf	*lc;
	char			 err[1024], why[256];
	size_t			 i;

	if ((lc = malloc(sizeof(*lc))) == NULL)
		abort();
	err[0] = '\0';
	if (ldap_conf_parse((const char *)data, size, "fuzz", lc, err,
	    sizeof(err)) == -1) {
		FUZZ_ASSERT(strncmp(err, "fuzz", 4) == 0);
		free(lc);
		return;
	}
	FUZZ_ASSERT(lc->nservers >= 1 && lc->nservers <= LDAP_CONF_SERVERS_MAX);
	FUZZ_ASSERT(lc->nbases >= 1 && lc->nbases <= LDAP_CONF_BASES_MAX);
	for (i = 0; i < lc->nservers; i++)
		FUZZ_ASSERT(lc->servers[i].host[0] != '\0' &&
		    atoi(lc->servers[i].port) > 0);
	FUZZ_ASSERT(ldap_filter_check(lc->filter, why, sizeof(why)) == 0);
	FUZZ_ASSERT(ldap_filter_check(lc->group_filter, why,
	    sizeof(why)) == 0);
	FUZZ_ASSERT(lc->timeout >= 1 && lc->cache_ttl >= 1);
	FUZZ_ASSERT(lc->reconnect_delay <= lc->reconnect_delay_max);
	free(lc);
}

int
fuzz_ldap_conf(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0) {
		fz_conf(data + 1, size - 1);
		return 0;
	}
	s = fuzz_strndup(data + 1, size - 1 > 1024 ? 1024 : size - 1);
	fz_escape(s);
	free(s);
	return 0;
}
