/*
 * STARTTLS contexts and policies; see mta_tls.h.  Two libtls
 * configurations are made at start: one that checks the server's
 * certificate against the CA file and its name (policy verify), one that
 * does not (may, encrypt: the connection is encrypted, the peer is not
 * authenticated, as with Postfix's levels of the same names).  TLS 1.2
 * and 1.3 only.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "log.h"
#include "mta_tls.h"

static struct tls_config	*mta_tls_cfg_verify;
static struct tls_config	*mta_tls_cfg_noverify;
static char			 mta_tls_ca_path[PATH_MAX];
static struct conf_mta_tls	 mta_tls_hosts[CONF_MTA_TLS_MAX];
static size_t			 mta_tls_nhosts;
static int			 mta_tls_default = CONF_TLS_MAY;

static struct tls_config *
mta_tls_config_new(void)
{
	struct tls_config *cfg;

	if ((cfg = tls_config_new()) == NULL)
		fatalx("tls_config_new");
	if (tls_config_set_protocols(cfg, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3) == -1)
		fatalx("tls_config_set_protocols: %s", tls_config_error(cfg));
	return cfg;
}

/* Before the sandbox: the CA file into memory, both configurations. */
static void
mta_tls_init(const char *cafile)
{
	uint8_t	*ca;
	size_t	 len;

	mta_tls_cfg_noverify = mta_tls_config_new();
	tls_config_insecure_noverifycert(mta_tls_cfg_noverify);
	tls_config_insecure_noverifyname(mta_tls_cfg_noverify);
	mta_tls_cfg_verify = mta_tls_config_new();
	strlcpy(mta_tls_ca_path, cafile, sizeof(mta_tls_ca_path));
	if ((ca = tls_load_file(cafile, &len, NULL)) == NULL) {
		log_warnx("mta ca-file %s: cannot read it: deliveries with "
		    "policy verify will be deferred", cafile);
		return;
	}
	if (tls_config_set_ca_mem(mta_tls_cfg_verify, ca, len) == -1)
		log_warnx("mta ca-file %s: %s", cafile,
		    tls_config_error(mta_tls_cfg_verify));
	tls_unload_file(ca, len);
}

void
mta_tls_configure(const struct mxgate_conf *conf, int first)
{
	if (first)
		mta_tls_init(conf->mta_ca_file);
	else if (strcmp(mta_tls_ca_path, conf->mta_ca_file) != 0)
		log_warnx("mta ca-file %s: takes effect at the next start",
		    conf->mta_ca_file);
	memcpy(mta_tls_hosts, conf->mta_tls, sizeof(mta_tls_hosts));
	mta_tls_nhosts = conf->mta_ntls;
	mta_tls_default = conf->mta_tls_default;
}

int
mta_tls_policy(const char *host)
{
	size_t i;

	for (i = 0; i < mta_tls_nhosts; i++)
		if (strcasecmp(mta_tls_hosts[i].host, host) == 0)
			return mta_tls_hosts[i].policy;
	return mta_tls_default;
}

struct tls *
mta_tls_connect(int policy, int fd, const char *servername, const char **why)
{
	static char	 err[256];
	struct tls	*tls;

	if ((tls = tls_client()) == NULL) {
		*why = "tls_client failed";
		return NULL;
	}
	if (tls_configure(tls, policy == CONF_TLS_VERIFY ?
	    mta_tls_cfg_verify : mta_tls_cfg_noverify) == -1 ||
	    tls_connect_socket(tls, fd, servername) == -1) {
		strlcpy(err, tls_error(tls) != NULL ? tls_error(tls) :
		    "unknown error", sizeof(err));
		*why = err;
		tls_free(tls);
		return NULL;
	}
	return tls;
}
