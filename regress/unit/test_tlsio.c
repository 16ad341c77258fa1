/*
 * common/tlsio.c, both sides over a socketpair with a self-signed
 * certificate made by the openssl CLI: the handshake is reported as
 * BEV_EVENT_CONNECTED, 1 MB goes through in order under back-pressure
 * (the reader pauses), what a plaintext bufferevent had buffered before
 * tlsio_start_bev() is discarded, tlsio_close() delivers what was
 * written and then EOF, and a client that expects another name fails the
 * handshake with BEV_EVENT_ERROR and a reason (libtls checks the name
 * after the TLS handshake, so the server sees a connection that then
 * ends without data).  Run from the repo root.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <tls.h>

#include "tlsio.h"
#include "test.h"

#define BULK		(1024 * 1024)
#define PAUSE_AT	(256 * 1024)

struct side {
	struct tlsio	*io;
	int		 connected, eof, error;
	char		 err[256];
	size_t		 got;
	int		 bad_byte;	/* data out of order */
	int		 paused;
};

static struct event_base	*base;
static char			 dir[] = "/tmp/test_tlsio.XXXXXX";
static char			 crt[PATH_MAX], key[PATH_MAX];

static int
make_cert(void)
{
	char	 cmd[3 * PATH_MAX];

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(crt, sizeof(crt), "%s/crt.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 "
	    "-nodes -days 2 -subj /CN=tlsio.test -addext "
	    "subjectAltName=DNS:tlsio.test -keyout %s -out %s "
	    ">/dev/null 2>&1", key, crt);
	return system(cmd) == 0 ? 0 : -1;
}

static void
cleanup(void)
{
	unlink(crt);
	unlink(key);
	rmdir(dir);
}

static struct tls *
server_ctx(void)
{
	struct tls_config	*cfg = tls_config_new();
	struct tls		*ctx = tls_server();

	if (cfg == NULL || ctx == NULL ||
	    tls_config_set_keypair_file(cfg, crt, key) == -1 ||
	    tls_configure(ctx, cfg) == -1)
		return NULL;
	tls_config_free(cfg);
	return ctx;
}

static struct tls *
client_ctx(void)
{
	struct tls_config	*cfg = tls_config_new();
	struct tls		*ctx = tls_client();

	if (cfg == NULL || ctx == NULL ||
	    tls_config_set_ca_file(cfg, crt) == -1 ||
	    tls_configure(ctx, cfg) == -1)
		return NULL;
	tls_config_free(cfg);
	return ctx;
}

static void
readcb(struct bufferevent *bev, void *arg)
{
	struct side	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	s->got += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static struct bufferevent	*paused_bev;

static void
resume_cb(int fd, short ev, void *arg)
{
	bufferevent_enable(paused_bev, EV_READ);
}

static void
readcb_pausing(struct bufferevent *bev, void *arg)
{
	struct side	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	unsigned char	 buf[4096];
	size_t		 n, i;
	struct timeval	 tv = { 0, 200 * 1000 };

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((s->got + i) % 251))
				s->bad_byte = 1;
		s->got += n;
	}
	if (!s->paused && s->got >= PAUSE_AT) {
		s->paused = 1;
		paused_bev = bev;
		bufferevent_disable(bev, EV_READ);
		event_base_once(base, -1, EV_TIMEOUT, resume_cb, NULL, &tv);
	}
}

static void
eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct side	*s = arg;

	if (what & BEV_EVENT_CONNECTED)
		s->connected = 1;
	else if (what & BEV_EVENT_EOF)
		s->eof = 1;
	else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		s->error = 1;
		snprintf(s->err, sizeof(s->err), "%s", tlsio_error(s->io));
	}
}

static void
guard_cb(int fd, short ev, void *arg)
{
	event_base_loopbreak(base);
}

/* Runs the loop until cond() or 20 s. */
static int
run_until(int (*cond)(void *), void *arg)
{
	struct event	*guard = evtimer_new(base, guard_cb, NULL);
	struct timeval	 tv = { 20, 0 };
	struct timeval	 tick = { 0, 10 * 1000 };
	int		 ok = 0;

	evtimer_add(guard, &tv);
	while (evtimer_pending(guard, NULL)) {
		if (cond(arg)) {
			ok = 1;
			break;
		}
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	event_free(guard);
	return ok;
}

struct pair_state {
	struct side	*srv, *cli;
};

static int
both_connected(void *arg)
{
	struct pair_state *p = arg;

	return (p->srv->connected || p->srv->error) &&
	    (p->cli->connected || p->cli->error);
}

static int
server_eof(void *arg)
{
	struct side *s = arg;

	return s->eof || s->error;
}

static int
client_failed(void *arg)
{
	struct side *s = arg;

	return s->error || s->connected;
}

static void
test_transfer(void)
{
	struct side		 srv, cli;
	struct pair_state	 p = { &srv, &cli };
	struct tls		*sctx, *cctx, *sconn = NULL;
	struct bufferevent	*plain, *sb, *cb;
	unsigned char		*bulk;
	int			 sp[2];
	size_t			 i;

	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	sctx = server_ctx();
	cctx = client_ctx();
	T_OK(sctx != NULL && cctx != NULL, "server and client contexts");
	if (sctx == NULL || cctx == NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == -1)
		return;
	T_OK(tls_accept_socket(sctx, &sconn, sp[0]) == 0, "accept_socket");
	srv.io = tlsio_start(base, sp[0], sconn);

	/* client from a plaintext bufferevent with unread junk in it */
	plain = bufferevent_socket_new(base, sp[1], BEV_OPT_CLOSE_ON_FREE);
	evbuffer_add(bufferevent_get_input(plain), "RSET\r\n", 6);
	T_OK(tls_connect_socket(cctx, sp[1], "tlsio.test") == 0,
	    "connect_socket");
	cli.io = tlsio_start_bev(plain, cctx);
	T_OK(srv.io != NULL && cli.io != NULL, "tlsio_start, tlsio_start_bev");
	if (srv.io == NULL || cli.io == NULL)
		return;
	sb = tlsio_bev(srv.io);
	cb = tlsio_bev(cli.io);
	bufferevent_setcb(sb, readcb_pausing, NULL, eventcb, &srv);
	bufferevent_setcb(cb, readcb, NULL, eventcb, &cli);
	bufferevent_enable(sb, EV_READ | EV_WRITE);
	bufferevent_enable(cb, EV_READ | EV_WRITE);
	T_OK(bufferevent_getfd(cb) == -1, "the cleartext side has no fd");

	run_until(both_connected, &p);
	t_check(srv.connected && cli.connected, "handshake: both sides get "
	    "BEV_EVENT_CONNECTED", "server %d (%s) client %d (%s)",
	    srv.connected, srv.err, cli.connected, cli.err);
	t_check(tls_conn_version(tlsio_tls(cli.io)) != NULL &&
	    strcmp(tls_conn_version(tlsio_tls(cli.io)), "TLSv1.3") == 0,
	    "TLSv1.3 negotiated", "%s", tls_conn_version(tlsio_tls(cli.io)));
	T_OK(cli.got == 0 && evbuffer_get_length(bufferevent_get_input(cb))
	    == 0, "input buffered before tlsio_start_bev is discarded");

	if ((bulk = malloc(BULK)) == NULL)
		return;
	for (i = 0; i < BULK; i++)
		bulk[i] = i % 251;
	bufferevent_write(cb, bulk, BULK);
	free(bulk);
	tlsio_close(cli.io, 10);	/* flushes, then close_notify */
	run_until(server_eof, &srv);
	t_check(srv.got == BULK && !srv.bad_byte && srv.paused,
	    "1 MB written then closed "
	    "arrives whole and in order, with a pause of the reader",
	    "got %zu of %d, out of order %d, paused %d", srv.got, BULK,
	    srv.bad_byte, srv.paused);
	t_check(srv.eof && !srv.error, "then EOF, after the data",
	    "eof %d error %d (%s)", srv.eof, srv.error, srv.err);
	tlsio_close(srv.io, 1);
	tls_free(sctx);
}

static void
test_bad_name(void)
{
	struct side		 srv, cli;
	struct tls		*sctx, *cctx, *sconn = NULL;
	int			 sp[2];

	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	sctx = server_ctx();
	cctx = client_ctx();
	if (sctx == NULL || cctx == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == -1 ||
	    tls_accept_socket(sctx, &sconn, sp[0]) == -1 ||
	    tls_connect_socket(cctx, sp[1], "other.test") == -1) {
		T_OK(0, "set up the bad-name case");
		return;
	}
	srv.io = tlsio_start(base, sp[0], sconn);
	cli.io = tlsio_start(base, sp[1], cctx);
	bufferevent_setcb(tlsio_bev(srv.io), readcb, NULL, eventcb, &srv);
	bufferevent_setcb(tlsio_bev(cli.io), readcb, NULL, eventcb, &cli);
	bufferevent_enable(tlsio_bev(srv.io), EV_READ | EV_WRITE);
	bufferevent_enable(tlsio_bev(cli.io), EV_READ | EV_WRITE);
	run_until(client_failed, &cli);
	t_check(cli.error && !cli.connected &&
	    strstr(cli.err, "other.test") != NULL,
	    "certificate for another name: the client gets BEV_EVENT_ERROR "
	    "naming it", "error %d connected %d err '%s'", cli.error,
	    cli.connected, cli.err);
	tlsio_close(cli.io, 1);
	run_until(server_eof, &srv);
	t_check(srv.eof || srv.error, "the server sees the end once the "
	    "client closed", "eof %d error %d", srv.eof, srv.error);
	T_OK(srv.got == 0, "and no data");
	tlsio_close(srv.io, 1);
	tls_free(sctx);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);	/* as in the daemons */
	if (make_cert() == -1) {
		t_check(0, "make a certificate with openssl", "openssl failed");
		cleanup();
		return t_exit();
	}
	if ((base = event_base_new()) == NULL)
		return 1;
	test_transfer();
	test_bad_name();
	event_base_free(base);
	cleanup();
	return t_exit();
}
