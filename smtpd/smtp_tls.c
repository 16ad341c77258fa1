/*
 * smtpd's TLS: server contexts, listener settings, session handshakes;
 * see smtp_tls.h.
 *
 * Guarantees kept here:
 * - only TLS 1.2 and 1.3 are offered;
 * - certificates and keys come from the parent (IMSG_CONF_PKI); smtpd
 *   opens no file, so a reload with new certificates works inside the
 *   sandbox, and one whose contexts cannot be built keeps the old ones;
 * - a server context lives as long as a connection made from it (libtls
 *   calls back into it during a handshake), so a reload never frees one
 *   under a session;
 * - key material is wiped once the contexts are built.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <tls.h>

#include "imsg.h"
#include "log.h"
#include "mbuf.h"
#include "tlsio.h"
#include "worker.h"
#include "smtp_tls.h"

#define SMTP_TLS_CLOSE_WAIT	10	/* seconds to flush and close_notify */

struct smtp_tls_server {
	struct tls	*ctx;
	char		 name[CONF_STR_MAX];	/* the pki */
	unsigned	 refs;
};

struct smtp_tls {
	struct tlsio		*io;
	struct smtp_tls_server	*srv;
	char			 how[16];
	char			 id[16];
	char			 ip[INET6_ADDRSTRLEN];
	void			(*done)(void *, int);
	void			*arg;
};

/* A pki as received, until smtp_tls_configure() consumes it. */
struct smtp_tls_pki {
	char		 name[CONF_STR_MAX];
	char		*cert, *key;
	size_t		 certlen, keylen;
};

struct smtp_tls_lconf {
	struct smtp_tls_listen	 l;
	struct smtp_tls_server	*srv;		/* NULL when plain */
};

static struct {
	struct smtp_tls_pki	*pki;		/* received, pending */
	size_t			 npki;
	struct smtp_tls_lconf	*listeners;	/* by listener index */
	size_t			 nlisteners;
} tls;

static void
server_unref(struct smtp_tls_server *srv)
{
	if (srv == NULL || --srv->refs > 0)
		return;
	tls_free(srv->ctx);
	free(srv);
}

static void
pki_clear(void)
{
	size_t	 i;

	for (i = 0; i < tls.npki; i++) {
		freezero(tls.pki[i].cert, tls.pki[i].certlen);
		freezero(tls.pki[i].key, tls.pki[i].keylen);
	}
	free(tls.pki);
	tls.pki = NULL;
	tls.npki = 0;
}

/* IMSG_CONF_PKI: str name, str certificate chain, str private key */
void
smtp_tls_conf_msg(struct imsgev *iev, struct imsg *imsg)
{
	struct smtp_tls_pki	*p, k;
	struct mreader		 r;
	char			*cert, *key;

	if (imsg->hdr.type != IMSG_CONF_PKI) {
		imsgev_fail(iev, "unexpected message in the config");
		return;
	}
	memset(&k, 0, sizeof(k));
	if ((cert = malloc(IMSG_MAX_SIZE)) == NULL ||
	    (key = malloc(IMSG_MAX_SIZE)) == NULL)
		fatal("pki");
	mreader_init(&r, imsg);
	mr_str(&r, k.name, sizeof(k.name));
	mr_str(&r, cert, IMSG_MAX_SIZE);
	mr_str(&r, key, IMSG_MAX_SIZE);
	if (mr_end(&r) == -1) {
		freezero(key, IMSG_MAX_SIZE);
		free(cert);
		imsgev_fail(iev, "bad pki message");
		return;
	}
	k.certlen = strlen(cert);
	k.keylen = strlen(key);
	k.cert = strdup(cert);
	k.key = strdup(key);
	freezero(key, IMSG_MAX_SIZE);
	free(cert);
	p = reallocarray(tls.pki, tls.npki + 1, sizeof(*p));
	if (k.cert == NULL || k.key == NULL || p == NULL)
		fatal("pki");
	tls.pki = p;
	tls.pki[tls.npki++] = k;
}

static struct smtp_tls_server *
server_build(const char *name)
{
	struct smtp_tls_server	*srv;
	struct tls_config	*cfg;
	struct smtp_tls_pki	*k = NULL;
	size_t			 i;

	for (i = 0; i < tls.npki; i++)
		if (strcmp(tls.pki[i].name, name) == 0)
			k = &tls.pki[i];
	if (k == NULL) {
		log_warnx("pki %s: no certificate from the parent", name);
		return NULL;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL ||
	    (cfg = tls_config_new()) == NULL) {
		log_warn("pki %s", name);
		free(srv);
		return NULL;
	}
	strlcpy(srv->name, name, sizeof(srv->name));
	srv->refs = 1;
	if (tls_config_set_protocols(cfg, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3) == -1 ||
	    tls_config_set_keypair_mem(cfg, (const uint8_t *)k->cert,
	    k->certlen, (const uint8_t *)k->key, k->keylen) == -1) {
		log_warnx("pki %s: %s", name, tls_config_error(cfg));
		goto fail;
	}
	if ((srv->ctx = tls_server()) == NULL ||
	    tls_configure(srv->ctx, cfg) == -1) {
		log_warnx("pki %s: %s", name, srv->ctx != NULL ?
		    tls_error(srv->ctx) : "out of memory");
		goto fail;
	}
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	return srv;
fail:
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	tls_free(srv->ctx);
	free(srv);
	return NULL;
}

/* A server for pki `name', shared by the listeners of one config. */
static struct smtp_tls_server *
server_get(struct smtp_tls_lconf *v, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (v[i].srv != NULL && strcmp(v[i].srv->name, name) == 0) {
			v[i].srv->refs++;
			return v[i].srv;
		}
	return server_build(name);
}

static void
lconf_free(struct smtp_tls_lconf *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		server_unref(v[i].srv);
	free(v);
}

int
smtp_tls_configure(const struct mxgate_conf *conf)
{
	const struct listen_conf	*l;
	struct smtp_tls_lconf		*v;
	size_t				 n = 0, i = 0;

	TAILQ_FOREACH(l, &conf->listeners, entry)
		n++;
	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL) {
		log_warn("tls");
		pki_clear();
		return -1;
	}
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		v[i].l.mode = l->tls;
		v[i].l.require_tls = l->require_tls;
		if (l->tls != LISTEN_PLAIN &&
		    (v[i].srv = server_get(v, i, l->pki)) == NULL) {
			lconf_free(v, n);
			pki_clear();
			return -1;
		}
		i++;
	}
	lconf_free(tls.listeners, tls.nlisteners);
	tls.listeners = v;
	tls.nlisteners = n;
	pki_clear();
	return 0;
}

void
smtp_tls_listener(uint32_t index, struct smtp_tls_listen *out)
{
	memset(out, 0, sizeof(*out));
	out->mode = LISTEN_PLAIN;
	if (index < tls.nlisteners)
		*out = tls.listeners[index].l;
}

void
smtp_tls_describe(struct smtp_tls *c, char *buf, size_t len)
{
	struct tls	*t = tlsio_tls(c->io);
	const char	*version = tls_conn_version(t);
	const char	*cipher = tls_conn_cipher(t);

	snprintf(buf, len, "%s with cipher %s (%d bits)",
	    version != NULL ? version : "unknown",
	    cipher != NULL ? cipher : "unknown",
	    tls_conn_cipher_strength(t));
}

/* Events of the handshake; afterwards the session takes the callbacks. */
static void
smtp_tls_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_tls	*c = arg;
	const char	*why = tlsio_error(c->io);
	char		 desc[256];

	if (what & BEV_EVENT_CONNECTED) {
		smtp_tls_describe(c, desc, sizeof(desc));
		log_info("%s: %s from [%s]: %s", c->id, c->how, c->ip, desc);
		c->done(c->arg, 1);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_info("%s: %s from [%s]: TLS handshake timed out", c->id,
		    c->how, c->ip);
	else {
		if (strncmp(why, "handshake failed: ", 18) == 0)
			why += 18;	/* libtls's prefix; ours says it */
		log_info("%s: %s from [%s]: TLS handshake failed: %s", c->id,
		    c->how, c->ip, why[0] != '\0' ? why : "connection closed");
	}
	c->done(c->arg, 0);
}

struct smtp_tls *
smtp_tls_accept(uint32_t listener, struct bufferevent **bevp,
    const char *how, const char *id, const char *ip, uint32_t timeout,
    void (*done)(void *, int), void *arg)
{
	struct smtp_tls		*c;
	struct smtp_tls_server	*srv = NULL;
	struct tls		*conn = NULL;
	struct timeval		 tv = { timeout, 0 };

	if (listener < tls.nlisteners)
		srv = tls.listeners[listener].srv;
	if (srv == NULL) {
		log_warnx("%s: %s from [%s]: no TLS on this listener any "
		    "more", id, how, ip);
		goto fail;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s: %s", id, how);
		goto fail;
	}
	if (tls_accept_socket(srv->ctx, &conn, bufferevent_getfd(*bevp))
	    == -1) {
		log_warnx("%s: %s from [%s]: %s", id, how, ip,
		    tls_error(srv->ctx));
		free(c);
		goto fail;
	}
	if ((c->io = tlsio_start_bev(*bevp, conn)) == NULL) {
		log_warnx("%s: %s from [%s]: cannot start TLS", id, how, ip);
		tls_free(conn);
		free(c);
		*bevp = NULL;
		return NULL;
	}
	srv->refs++;
	c->srv = srv;
	strlcpy(c->how, how, sizeof(c->how));
	strlcpy(c->id, id, sizeof(c->id));
	strlcpy(c->ip, ip, sizeof(c->ip));
	c->done = done;
	c->arg = arg;
	*bevp = tlsio_bev(c->io);
	bufferevent_setcb(*bevp, NULL, NULL, smtp_tls_eventcb, c);
	bufferevent_set_timeouts(*bevp, &tv, &tv);
	bufferevent_enable(*bevp, EV_READ | EV_WRITE);
	return c;
fail:
	bufferevent_free(*bevp);	/* closes the socket */
	*bevp = NULL;
	return NULL;
}

void
smtp_tls_close(struct smtp_tls *c)
{
	tlsio_close(c->io, SMTP_TLS_CLOSE_WAIT);
	server_unref(c->srv);
	free(c);
}
