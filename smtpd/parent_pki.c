/*
 * The certificates and keys named by `pki' statements.  smtpd is chrooted
 * and cannot open them, so the parent reads them, at start and on every
 * reload, checks that each key matches its certificate (with libtls, as
 * smtpd will use them), and sends their contents to smtpd in
 * IMSG_CONF_PKI before IMSG_CONF_END.  A file that is missing or a key
 * that does not match makes the whole configuration bad: at start the
 * parent exits, on reload the old configuration and its certificates
 * stay.  Key material is wiped before it is freed.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <tls.h>

#include "log.h"
#include "mbuf.h"
#include "parent.h"

struct pki_blob {
	char	 name[CONF_STR_MAX];
	uint8_t	*cert, *key;
	size_t	 certlen, keylen;
};

struct pki_set {
	struct pki_blob	*v;
	size_t		 n;
};

static struct pki_set	 pki_current, pki_pending;

/* Like the parser's errors: stderr before daemon(), the log after. */
static void __attribute__((format(printf, 1, 2)))
pki_error(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_to_stderr())
		fprintf(stderr, "%s\n", line);
	else
		log_warnx("%s", line);
}

static void
pki_set_free(struct pki_set *set)
{
	size_t	 i;

	for (i = 0; i < set->n; i++) {
		if (set->v[i].cert != NULL)
			tls_unload_file(set->v[i].cert, set->v[i].certlen);
		if (set->v[i].key != NULL)
			tls_unload_file(set->v[i].key, set->v[i].keylen);
	}
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

/* What smtpd will do with the pair, so it cannot fail there. */
static int
pki_check(const struct pki_conf *k, struct pki_blob *b)
{
	struct tls_config	*cfg;
	struct tls		*ctx = NULL;
	int			 rv = -1;

	if ((cfg = tls_config_new()) == NULL) {
		pki_error("%s: pki %s: out of memory", k->origin, k->name);
		return -1;
	}
	if (tls_config_set_keypair_mem(cfg, b->cert, b->certlen, b->key,
	    b->keylen) == -1)
		pki_error("%s: pki %s: %s", k->origin, k->name,
		    tls_config_error(cfg));
	else if ((ctx = tls_server()) == NULL)
		pki_error("%s: pki %s: out of memory", k->origin, k->name);
	else if (tls_configure(ctx, cfg) == -1)
		pki_error("%s: pki %s: cannot use key \"%s\" with "
		    "certificate \"%s\": %s", k->origin, k->name, k->key,
		    k->cert, tls_error(ctx));
	else
		rv = 0;
	tls_free(ctx);
	tls_config_free(cfg);
	return rv;
}

static int
pki_load_one(const struct pki_conf *k, struct pki_blob *b)
{
	strlcpy(b->name, k->name, sizeof(b->name));
	if ((b->cert = tls_load_file(k->cert, &b->certlen, NULL)) == NULL) {
		pki_error("%s: pki %s: cert \"%s\": %s", k->origin, k->name,
		    k->cert, strerror(errno));
		return -1;
	}
	if ((b->key = tls_load_file(k->key, &b->keylen, NULL)) == NULL) {
		pki_error("%s: pki %s: key \"%s\": %s", k->origin, k->name,
		    k->key, strerror(errno));
		return -1;
	}
	/* one IMSG_CONF_PKI frame: three u32 lengths and the bytes */
	if (b->certlen + b->keylen + strlen(b->name) + 12 >
	    IMSG_MAX_SIZE - IMSG_HDR_SIZE) {
		pki_error("%s: pki %s: certificate and key too large (at "
		    "most %d bytes together)", k->origin, k->name,
		    IMSG_MAX_SIZE - IMSG_HDR_SIZE - 12 - (int)strlen(b->name));
		return -1;
	}
	if (memchr(b->cert, '\0', b->certlen) != NULL ||
	    memchr(b->key, '\0', b->keylen) != NULL) {
		pki_error("%s: pki %s: certificate and key must be PEM",
		    k->origin, k->name);
		return -1;
	}
	return pki_check(k, b);
}

int
parent_pki_load(const struct mxgate_conf *conf)
{
	const struct pki_conf	*k;
	size_t			 n = 0;
	int			 rv = 0;

	pki_set_free(&pki_pending);
	TAILQ_FOREACH(k, &conf->pkis, entry)
		n++;
	if (n == 0)
		return 0;
	if ((pki_pending.v = calloc(n, sizeof(*pki_pending.v))) == NULL) {
		pki_error("pki: out of memory");
		return -1;
	}
	TAILQ_FOREACH(k, &conf->pkis, entry)
		if (pki_load_one(k, &pki_pending.v[pki_pending.n++]) == -1)
			rv = -1;
	if (rv == -1)
		pki_set_free(&pki_pending);
	return rv;
}

void
parent_pki_commit(void)
{
	pki_set_free(&pki_current);
	pki_current = pki_pending;
	pki_pending.v = NULL;
	pki_pending.n = 0;
}

void
parent_pki_send(struct worker_proc *wp)
{
	struct mbuf	 m;
	size_t		 i;

	for (i = 0; i < pki_current.n; i++) {
		mbuf_init(&m);
		mbuf_add_str(&m, pki_current.v[i].name);
		/* as mbuf_add_str() would: tls_load_file() adds no NUL */
		mbuf_add_u32(&m, (uint32_t)pki_current.v[i].certlen);
		mbuf_add_data(&m, pki_current.v[i].cert,
		    pki_current.v[i].certlen);
		mbuf_add_u32(&m, (uint32_t)pki_current.v[i].keylen);
		mbuf_add_data(&m, pki_current.v[i].key,
		    pki_current.v[i].keylen);
		if (m.buf != NULL && !m.err) {
			if (imsgev_compose(&wp->iev, IMSG_CONF_PKI, 0, -1,
			    m.buf, m.len) == -1)
				log_warn("cannot send pki %s to %s",
				    pki_current.v[i].name, proc_name(wp->id));
			explicit_bzero(m.buf, m.len);
		} else
			log_warnx("pki %s: out of memory",
			    pki_current.v[i].name);
		mbuf_free(&m);
	}
}
