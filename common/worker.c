/*
 * The start-up and links every worker shares; see worker.h for the
 * sequence.  The config arrives as text and is parsed with the same
 * parser the parent used, so a worker never sees a structure it could not
 * have read from a file.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbuf.h"
#include "sandbox.h"
#include "test_hook.h"
#include "worker.h"

#define CONF_TEXT_MAX	(16 * 1024 * 1024)

static struct {
	const struct worker_ops	*ops;
	struct event_base	*base;
	struct imsgev		 parent;
	struct imsgev		 peers[PROC_COUNT];
	struct imsgev		 smtpd_more[CONF_SMTP_PROCS_MAX];	/* 1.. */
	struct mxgate_conf	*conf;
	char			*text;		/* config being received */
	size_t			 textlen;
	int			 receiving;
	int			 verbose;
} w;

struct event_base *
worker_base(void)
{
	return w.base;
}

const struct mxgate_conf *
worker_conf(void)
{
	return w.conf;
}

struct imsgev *
worker_parent(void)
{
	return &w.parent;
}

int
worker_verbose(void)
{
	return w.verbose;
}

struct imsgev *
worker_peer(enum proc_id id)
{
	if (id >= PROC_COUNT || !imsgev_active(&w.peers[id]))
		return NULL;
	return &w.peers[id];
}

/* Links carry (proc id | instance << 8) as their argument. */
#define LINK_ARG(id, n)		((void *)(intptr_t)((id) | ((n) << 8)))
#define LINK_ID(arg)		((enum proc_id)((intptr_t)(arg) & 0xff))
#define LINK_INSTANCE(arg)	((uint32_t)((intptr_t)(arg) >> 8))

static struct imsgev *
peer_slot(enum proc_id id, uint32_t n)
{
	if (n == 0)
		return &w.peers[id];
	return &w.smtpd_more[n];
}

struct imsgev *
worker_peer_instance(enum proc_id id, uint32_t n)
{
	struct imsgev	*iev;

	if (id >= PROC_COUNT || n >= CONF_SMTP_PROCS_MAX ||
	    (n > 0 && id != PROC_SMTPD))
		return NULL;
	iev = peer_slot(id, n);
	return imsgev_active(iev) ? iev : NULL;
}

uint32_t
worker_link_instance(const struct imsgev *iev)
{
	return LINK_INSTANCE(iev->arg);
}

static void
worker_ready(uint32_t status, const char *why)
{
	struct mbuf m;

	mbuf_init(&m);
	mbuf_add_u32(&m, status);
	mbuf_add_str(&m, why);
	imsgev_compose_mbuf(&w.parent, IMSG_READY, 0, -1, &m);
}

static void
worker_conf_data(struct imsgev *iev, struct imsg *imsg)
{
	char *p;

	if (!w.receiving || w.textlen + imsg->datalen > CONF_TEXT_MAX) {
		imsgev_fail(iev, "unexpected config data");
		return;
	}
	if ((p = realloc(w.text, w.textlen + imsg->datalen + 1)) == NULL)
		fatal("config text");
	memcpy(p + w.textlen, imsg->data, imsg->datalen);
	w.text = p;
	w.textlen += imsg->datalen;
}

/* Parse what came since CONF_START, configure, and swap it in. */
static void
worker_conf_end(struct imsgev *iev)
{
	struct mxgate_conf	*conf;
	int			 first = (w.conf == NULL);

	if (!w.receiving) {
		imsgev_fail(iev, "config end without start");
		return;
	}
	w.receiving = 0;
	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		fatal("config");
	conf_init(conf);
	if (conf_parse_buffer(conf, w.text ? w.text : "", w.textlen,
	    "<config from parent>") == -1 ||
	    w.ops->configure(conf, first) == -1) {
		if (first)
			fatalx("cannot apply the configuration");
		log_warnx("reload: new configuration rejected, keeping the old one");
		conf_free(conf);
		free(conf);
		worker_ready(1, "configuration rejected");
		return;
	}
	if (first)
		w.ops->sandbox(conf);
	else {
		conf_free(w.conf);
		free(w.conf);
	}
	w.conf = conf;
	worker_ready(0, "");
}

/* The peer said something malformed or unexpected: the parent restarts it. */
static void
worker_peer_fault(enum proc_id id, uint32_t pid)
{
	struct mbuf m;

	mbuf_init(&m);
	mbuf_add_u32(&m, id);
	mbuf_add_u32(&m, pid);
	imsgev_compose_mbuf(&w.parent, IMSG_PEER_FAULT, 0, -1, &m);
}

static void
peer_down(enum proc_id id, uint32_t n)
{
	if (w.ops->peer_instance_down != NULL)
		w.ops->peer_instance_down(id, n);
	if (w.ops->peer_down != NULL)
		w.ops->peer_down(id);
}

static void
worker_peer_closed(struct imsgev *iev)
{
	if (iev->faulted)
		worker_peer_fault(LINK_ID(iev->arg), iev->peer_pid);
	peer_down(LINK_ID(iev->arg), LINK_INSTANCE(iev->arg));
}

static void
worker_peer_fd(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader	 r;
	struct imsgev	*link;
	uint32_t	 id, n = imsg->hdr.peerid;	/* the instance */

	mreader_init(&r, imsg);
	id = mr_u32(&r);
	if (mr_end(&r) == -1 || imsg->fd == -1 || id >= PROC_COUNT ||
	    w.ops->peer_handler[id] == NULL || n >= CONF_SMTP_PROCS_MAX ||
	    (n > 0 && id != PROC_SMTPD)) {
		imsgev_fail(iev, "bad peer fd message");
		return;
	}
	link = peer_slot(id, n);
	if (imsgev_active(link)) {
		imsgev_clear(link);
		peer_down(id, n);
	}
	if (imsgev_init(link, w.base, imsg->fd, proc_name(id),
	    w.ops->peer_handler[id], worker_peer_closed,
	    LINK_ARG(id, n)) == -1)
		fatal("link to %s", proc_name(id));
	imsg->fd = -1;
	log_debug("link to %s %u up", proc_name(id), n);
	if (w.ops->peer_up != NULL)
		w.ops->peer_up(id, link);
}

static void
worker_parent_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CONF_START:
		free(w.text);
		w.text = NULL;
		w.textlen = 0;
		w.receiving = 1;
		break;
	case IMSG_CONF_DATA:
		worker_conf_data(iev, imsg);
		break;
	case IMSG_CONF_END:
		worker_conf_end(iev);
		break;
	case IMSG_PEER_FD:
		worker_peer_fd(iev, imsg);
		break;
	case IMSG_CTL_TEST_HOOK:
		worker_test_hook(iev, imsg);
		break;
	default:
		if (w.receiving && w.ops->conf_msg != NULL)
			w.ops->conf_msg(iev, imsg);
		else if (w.ops->parent_msg != NULL && w.conf != NULL)
			w.ops->parent_msg(iev, imsg);
		else
			imsgev_fail(iev, "unexpected message from parent");
	}
}

#ifdef MXGATE_TEST_HOOKS
/* Test build: SIGTERM exits through exit(3), so LeakSanitizer reports. */
static void
worker_sigterm(int sig, short ev, void *arg)
{
	log_debug("SIGTERM, exiting");
	exit(0);
}

static void
worker_clean_exit(void)
{
	struct event *ev;

	if ((ev = evsignal_new(w.base, SIGTERM, worker_sigterm, NULL)) == NULL ||
	    evsignal_add(ev, NULL) == -1)
		fatalx("SIGTERM handler");
}
#endif

static void
worker_parent_closed(struct imsgev *iev)
{
	log_debug("parent went away, exiting");
	exit(0);
}

void
worker_main(int argc, char **argv, const struct worker_ops *ops)
{
	int ch, debug = 0;

	while ((ch = getopt(argc, argv, "dv")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'v':
			w.verbose++;
			break;
		default:
			exit(1);
		}
	}
	log_init(debug, proc_name(ops->id));
	log_setverbose(w.verbose);
	w.ops = ops;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	tzset();		/* read the zone file while we still can */
	if ((w.base = event_base_new()) == NULL)
		fatalx("event_base_new");
#ifdef MXGATE_TEST_HOOKS
	worker_clean_exit();
#endif
	if (imsgev_init(&w.parent, w.base, PARENT_FD, "parent",
	    worker_parent_dispatch, worker_parent_closed, NULL) == -1)
		fatal("link to parent");
	event_base_dispatch(w.base);
	exit(0);
}
