/*
 * The control socket smtpctl talks to.  Only root, or members of the
 * configured group, can open it (file mode, checked again with
 * SO_PEERCRED).  Requests the parent can answer itself (status, reload,
 * stop) are answered here; the queue requests (show queue, show message,
 * show stats, schedule, remove, pause, resume) go to queued with the
 * client's id as peer id and queued's lines come back through
 * control_relay().
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "log.h"
#include "mbuf.h"
#include "parent.h"

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	uint32_t		 id;
	struct imsgev		 iev;
	int			 hello;		/* versions matched */
};

static TAILQ_HEAD(, ctl_client) clients = TAILQ_HEAD_INITIALIZER(clients);
static struct event	*accept_ev;
static int		 control_fd = -1;
static char		 control_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static gid_t		 control_gid;
static uint32_t		 next_id = 1;

static struct ctl_client *
client_find(uint32_t id)
{
	struct ctl_client *c;

	TAILQ_FOREACH(c, &clients, entry)
		if (c->id == id)
			return c;
	return NULL;
}

void
control_data(uint32_t id, const char *line)
{
	struct ctl_client	*c;
	struct mbuf		 m;

	if ((c = client_find(id)) == NULL)
		return;
	mbuf_init(&m);
	mbuf_add_str(&m, line);
	imsgev_compose_mbuf(&c->iev, IMSG_CTL_DATA, 0, -1, &m);
}

void
control_end(uint32_t id, uint32_t status, const char *msg)
{
	struct ctl_client	*c;
	struct mbuf		 m;

	if ((c = client_find(id)) == NULL)
		return;
	mbuf_init(&m);
	mbuf_add_u32(&m, status);
	mbuf_add_str(&m, msg);
	imsgev_compose_mbuf(&c->iev, IMSG_CTL_END, 0, -1, &m);
}

void
control_relay(uint32_t id, struct imsg *imsg)
{
	struct ctl_client *c;

	if ((c = client_find(id)) == NULL)
		return;		/* the client left meanwhile */
	imsgev_compose(&c->iev, imsg->hdr.type, 0, -1, imsg->data,
	    imsg->datalen);
}

static void
show_status(uint32_t id)
{
	struct worker_proc		*wp;
	time_t				 now = time(NULL);
	char				 line[160], name[32];

	snprintf(line, sizeof(line), "parent pid=%d uptime=%llds restarts=0",
	    (int)getpid(), (long long)(now - parent.started));
	control_data(id, line);
	for (wp = parent_worker_next(NULL); wp; wp = parent_worker_next(wp)) {
		parent_worker_name(wp, name, sizeof(name));
		if (wp->pid > 0)
			snprintf(line, sizeof(line), "%s pid=%d uptime=%llds "
			    "restarts=%u", name, (int)wp->pid,
			    (long long)(now - wp->started), wp->restarts);
		else
			snprintf(line, sizeof(line), "%s pid=- uptime=0s "
			    "restarts=%u (down)", name, wp->restarts);
		control_data(id, line);
	}
	control_end(id, 0, "");
}

/* The queue administration requests, answered by queued. */
static int
for_queued(uint32_t type)
{
	switch (type) {
	case IMSG_CTL_SHOW_QUEUE:
	case IMSG_CTL_SHOW_MESSAGE:
	case IMSG_CTL_SHOW_STATS:
	case IMSG_CTL_SCHEDULE:
	case IMSG_CTL_REMOVE:
	case IMSG_CTL_PAUSE:
	case IMSG_CTL_RESUME:
		return 1;
	}
	return 0;
}

/*
 * What is paused outlives a restart of queued, which keeps it in memory
 * only: the parent remembers it and tells every new queued.
 */
static uint32_t paused_flows;	/* CTL_FLOW_* */

static void
remember_pause(struct imsg *imsg)
{
	struct mreader	r;
	uint32_t	bits;

	mreader_init(&r, imsg);
	bits = mr_u32(&r);
	if (mr_end(&r) == -1)
		return;		/* queued refuses it too */
	if (imsg->hdr.type == IMSG_CTL_PAUSE)
		paused_flows |= bits;
	else
		paused_flows &= ~bits;
}

void
control_queued_configured(struct worker_proc *q)
{
	struct mbuf m;

	if (paused_flows == 0)
		return;
	mbuf_init(&m);
	mbuf_add_u32(&m, paused_flows);
	/* peer id 0 is no client: queued's answer is dropped */
	imsgev_compose_mbuf(&q->iev, IMSG_CTL_PAUSE, 0, -1, &m);
}

/* queued checks the payload; its answer comes back by control_relay(). */
static void
forward_to_queued(struct ctl_client *c, struct imsg *imsg)
{
	struct worker_proc *q = &parent.workers[PROC_QUEUED];

	if (!parent_worker_running(q)) {
		control_end(c->id, 1, "queued is not running");
		return;
	}
	if (imsg->hdr.type == IMSG_CTL_PAUSE ||
	    imsg->hdr.type == IMSG_CTL_RESUME)
		remember_pause(imsg);
	imsgev_compose(&q->iev, imsg->hdr.type, c->id, -1, imsg->data,
	    imsg->datalen);
}

static void
stop_cb(int fd, short ev, void *arg)
{
	parent_shutdown();
}

static void
hello(struct ctl_client *c, struct imsg *imsg)
{
	struct mreader	r;
	struct mbuf	m;
	uint32_t	version;

	mreader_init(&r, imsg);
	version = mr_u32(&r);
	if (mr_end(&r) == -1) {
		imsgev_fail(&c->iev, "bad hello");
		return;
	}
	if (version != MXGATE_PROTO_VERSION) {
		control_end(c->id, 1, "smtpctl and daemon versions differ");
		return;
	}
	c->hello = 1;
	mbuf_init(&m);
	mbuf_add_u32(&m, MXGATE_PROTO_VERSION);
	imsgev_compose_mbuf(&c->iev, IMSG_CTL_HELLO, 0, -1, &m);
}

static void
client_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_client	*c = iev->arg;
	struct timeval		 soon = { 0, 100 * 1000 };
	char			 err[256];

	/* requests with a payload, answered by lookupd */
	if (c->hello && parent_ctl_lookupd(c->id, imsg))
		return;
	if (imsg->hdr.type != IMSG_CTL_HELLO && (!c->hello ||
	    (imsg->datalen != 0 && !for_queued(imsg->hdr.type) &&
	    imsg->hdr.type != IMSG_CTL_TEST_HOOK))) {
		imsgev_fail(iev, "unexpected control request");
		return;
	}
	if (for_queued(imsg->hdr.type)) {
		forward_to_queued(c, imsg);
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_HELLO:
		hello(c, imsg);
		break;
	case IMSG_CTL_SHOW_STATUS:
		show_status(c->id);
		break;
	case IMSG_CTL_RELOAD:
		if (parent_reload(c->id, err, sizeof(err)) == -1)
			control_end(c->id, 1, err);
		break;
	case IMSG_CTL_STOP:
		control_end(c->id, 0, "stopping");
		event_base_once(parent.base, -1, EV_TIMEOUT, stop_cb, NULL,
		    &soon);
		break;
	case IMSG_CTL_TEST_HOOK:
		parent_test_hook(c->id, imsg);
		break;
	default:
		imsgev_fail(iev, "unknown control request");
	}
}

static void
client_closed(struct imsgev *iev)
{
	struct ctl_client *c = iev->arg;

	TAILQ_REMOVE(&clients, c, entry);
	free(c);
}

static int
peer_allowed(int fd)
{
	struct ucred	cred;
	socklen_t	len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return 0;
	return cred.uid == 0 || cred.uid == geteuid() ||
	    (control_gid != (gid_t)-1 && cred.gid == control_gid);
}

static void
control_accept(int lfd, short ev, void *arg)
{
	struct ctl_client	*c;
	int			 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control: accept");
		return;
	}
	if (!peer_allowed(fd)) {
		log_warnx("control: connection refused: not root or in the "
		    "control group");
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->id = next_id++;
	if (next_id == UINT32_MAX)
		next_id = 1;
	if (imsgev_init(&c->iev, parent.base, fd, "control", client_dispatch,
	    client_closed, c) == -1) {
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&clients, c, entry);
}

static void
control_permissions(const struct mxgate_conf *conf)
{
	struct group *gr;

	control_gid = (gid_t)-1;
	if (conf->control_group[0] == '\0') {
		if (chmod(control_path, 0600) == -1)
			fatal("chmod %s", control_path);
		return;
	}
	if ((gr = getgrnam(conf->control_group)) == NULL)
		fatalx("control: unknown group %s", conf->control_group);
	control_gid = gr->gr_gid;
	if (chown(control_path, 0, gr->gr_gid) == -1 && geteuid() == 0)
		fatal("chown %s", control_path);
	if (chmod(control_path, 0660) == -1)
		fatal("chmod %s", control_path);
}

void
control_init(const struct mxgate_conf *conf)
{
	struct sockaddr_un	sun;
	mode_t			old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, conf->control, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("control socket path too long: %s", conf->control);
	strlcpy(control_path, conf->control, sizeof(control_path));
	if ((control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("control socket");
	if (unlink(control_path) == -1 && errno != ENOENT)
		fatal("unlink %s", control_path);
	old = umask(0177);
	if (bind(control_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", control_path);
	umask(old);
	control_permissions(conf);
	if (listen(control_fd, 16) == -1)
		fatal("listen %s", control_path);
	accept_ev = event_new(parent.base, control_fd, EV_READ | EV_PERSIST,
	    control_accept, NULL);
	if (accept_ev == NULL || event_add(accept_ev, NULL) == -1)
		fatalx("control event");
}

void
control_cleanup(void)
{
	if (control_fd != -1) {
		unlink(control_path);
		close(control_fd);
		control_fd = -1;
	}
}
