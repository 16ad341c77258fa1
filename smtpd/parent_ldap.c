/*
 * The parent's check of every ldap table's config file, at start and
 * with -n: a broken file, a missing or too open password file fail
 * start-up with "file:line: why" instead of a lookupd that cannot load.
 * lookupd reads the files again itself (first configure, before its
 * sandbox); nothing read here is sent to it.
 */
#include <stdio.h>
#include <string.h>

#include "ldap_conf.h"
#include "log.h"
#include "parent.h"

int
parent_check_ldap(const struct mxgate_conf *conf)
{
	const struct table_conf	*tc;
	struct ldap_conf	 lc;
	char			 err[1024];
	int			 rc = 0;

	TAILQ_FOREACH(tc, &conf->tables, entry) {
		if (tc->type != TABLE_LDAP)
			continue;
		if (ldap_conf_load(tc->path, &lc, err, sizeof(err)) == -1) {
			if (log_to_stderr())
				fprintf(stderr, "%s\n", err);
			else
				log_warnx("%s", err);
			rc = -1;
		}
		explicit_bzero(&lc, sizeof(lc));
	}
	return rc;
}
