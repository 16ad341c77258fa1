/*
 * Worker supervision: fork+exec each worker with its imsg link on
 * PARENT_FD and its seccomp status pipe on STATUS_FD, send it the config,
 * link it to its peers, and restart it when it dies.  A restart never
 * loses mail: queued's spool is the only state that matters and it is
 * recovered by queued itself; the others simply get new links.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mbuf.h"
#include "parent.h"
#include "sandbox.h"

#define CONF_CHUNK	(IMSG_MAX_SIZE - IMSG_HDR_SIZE)
#define QUICK_DEATH	2	/* seconds: dying sooner counts for the backoff */

/* Which workers talk to which: each pair gets its own socketpair. */
static const enum proc_id links[][2] = {
	{ PROC_SMTPD, PROC_LOOKUPD },
	{ PROC_SMTPD, PROC_QUEUED },
	{ PROC_QUEUED, PROC_MTAD },
	{ PROC_QUEUED, PROC_LOOKUPD },	/* routes of DSNs queued makes */
};

/* 1 if a and b have a link of their own. */
int
parent_linked(enum proc_id a, enum proc_id b)
{
	size_t i;

	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if ((links[i][0] == a && links[i][1] == b) ||
		    (links[i][0] == b && links[i][1] == a))
			return 1;
	return 0;
}

static void	parent_worker_dispatch(struct imsgev *, struct imsg *);
static void	parent_worker_closed(struct imsgev *);

int
parent_worker_running(const struct worker_proc *wp)
{
	return wp->pid > 0 && imsgev_active(&wp->iev);
}

static void
worker_path(enum proc_id id, char *buf, size_t len)
{
	const char *name = proc_name(id);
	int n;

	if (parent.builddir[0] != '\0')
		n = snprintf(buf, len, "%s/%s/mxgate-%s", parent.builddir,
		    name, name);
	else
		n = snprintf(buf, len, "%s/mxgate-%s", LIBEXECDIR, name);
	if (n < 0 || (size_t)n >= len)
		fatalx("worker path too long");
}

/* In the child: put fd on target, clearing close-on-exec. */
static void
child_fd(int fd, int target)
{
	if (dup2(fd, target) == -1)
		_exit(127);
}

static void __attribute__((noreturn))
child_exec(enum proc_id id, int link, int status)
{
	char	 path[4096], title[64];
	char	*argv[5];
	int	 argc = 0, hi_link, hi_status;

	worker_path(id, path, sizeof(path));
	snprintf(title, sizeof(title), "mxgate: %s", proc_name(id));
	/* Move both out of the way first, so neither lands on the other. */
	if ((hi_link = fcntl(link, F_DUPFD, 64)) == -1 ||
	    (hi_status = fcntl(status, F_DUPFD, 64)) == -1)
		_exit(127);
	child_fd(hi_link, PARENT_FD);
	child_fd(hi_status, STATUS_FD);
	close_range(STATUS_FD + 1, ~0U, 0);
	argv[argc++] = title;
	if (parent.debug)
		argv[argc++] = "-d";
	if (parent.verbose)
		argv[argc++] = "-v";
	argv[argc] = NULL;
	execv(path, argv);
	fprintf(stderr, "mxgate/parent: cannot exec %s: %s\n", path,
	    strerror(errno));
	_exit(127);
}

static void
spawn(struct worker_proc *wp)
{
	int	sp[2], st[2];
	pid_t	pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1 ||
	    pipe2(st, O_CLOEXEC) == -1)
		fatal("spawn %s", proc_name(wp->id));
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0)
		child_exec(wp->id, sp[1], st[1]);
	close(sp[1]);
	close(st[1]);
	fcntl(st[0], F_SETFL, O_NONBLOCK);
	wp->pid = pid;
	wp->started = time(NULL);
	wp->status_fd = st[0];
	wp->ready = 0;
	if (imsgev_init(&wp->iev, parent.base, sp[0], proc_name(wp->id),
	    parent_worker_dispatch, parent_worker_closed, wp) == -1)
		fatal("link to %s", proc_name(wp->id));
	log_debug("started %s %u (pid %d)", proc_name(wp->id), wp->instance,
	    (int)pid);
}

void
parent_send_conf(struct worker_proc *wp)
{
	size_t off, n;

	wp->ready = 0;
	imsgev_compose(&wp->iev, IMSG_CONF_START, 0, -1, NULL, 0);
	for (off = 0; off < parent.conf_textlen; off += n) {
		n = parent.conf_textlen - off;
		if (n > CONF_CHUNK)
			n = CONF_CHUNK;
		imsgev_compose(&wp->iev, IMSG_CONF_DATA, 0, -1,
		    parent.conf_text + off, n);
	}
	if (wp->id == PROC_SMTPD)
		parent_pki_send(wp);
	imsgev_compose(&wp->iev, IMSG_CONF_END, 0, -1, NULL, 0);
	/* after the config, before any link: nothing leaves unpaused */
	if (wp->id == PROC_QUEUED)
		control_queued_configured(wp);
}

/* The peer's instance (which smtpd) travels as the imsg peerid. */
static void
send_peer(struct worker_proc *wp, struct worker_proc *peer, int fd)
{
	struct mbuf m;

	mbuf_init(&m);
	mbuf_add_u32(&m, peer->id);
	if (imsgev_compose_mbuf(&wp->iev, IMSG_PEER_FD, peer->instance, fd,
	    &m) == -1)
		log_warn("cannot link %s to %s", proc_name(wp->id),
		    proc_name(peer->id));
}

/* Give every running peer of wp (each smtpd instance) a fresh link. */
static void
link_peers(struct worker_proc *wp)
{
	struct worker_proc	*o;
	enum proc_id		 other;
	size_t			 i;
	int			 sp[2];

	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (links[i][0] != wp->id && links[i][1] != wp->id)
			continue;
		other = links[i][0] == wp->id ? links[i][1] : links[i][0];
		for (o = parent_worker_next(NULL); o != NULL;
		    o = parent_worker_next(o)) {
			if (o->id != other || !parent_worker_running(wp) ||
			    !parent_worker_running(o))
				continue;
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			    sp) == -1)
				fatal("socketpair");
			send_peer(wp, o, sp[0]);
			send_peer(o, wp, sp[1]);
		}
	}
}

static void
send_listeners(struct worker_proc *wp)
{
	struct mbuf	m;
	size_t		i;
	int		fd;

	for (i = 0; i < parent.nlisten; i++) {
		if ((fd = fcntl(parent.listen_fds[i], F_DUPFD_CLOEXEC, 0)) == -1)
			fatal("dup listener");
		mbuf_init(&m);
		mbuf_add_u32(&m, (uint32_t)i);
		imsgev_compose_mbuf(&wp->iev, IMSG_LISTEN_FD, 0, fd, &m);
	}
}

static void
start_worker(struct worker_proc *wp)
{
	spawn(wp);
	parent_send_conf(wp);
	link_peers(wp);
	if (wp->id == PROC_SMTPD)
		send_listeners(wp);
}

static void
restart_cb(int fd, short ev, void *arg)
{
	struct worker_proc *wp = arg;
	char name[32];

	if (parent.stopping)
		return;
	wp->restarts++;
	log_info("restarting %s", parent_worker_name(wp, name, sizeof(name)));
	start_worker(wp);
}

void
parent_start_workers(void)
{
	struct worker_proc *wp;

	parent_init_workers();
	for (wp = parent_worker_next(NULL); wp; wp = parent_worker_next(wp)) {
		wp->status_fd = -1;
		wp->restart_ev = evtimer_new(parent.base, restart_cb, wp);
		spawn(wp);
	}
	for (wp = parent_worker_next(NULL); wp; wp = parent_worker_next(wp))
		parent_send_conf(wp);
	for (wp = parent_worker_next(NULL); wp; wp = parent_worker_next(wp))
		if (wp->id != PROC_SMTPD)	/* each smtpd gets linked once */
			link_peers(wp);
	for (wp = parent_worker_next(NULL); wp; wp = parent_worker_next(wp))
		if (wp->id == PROC_SMTPD)
			send_listeners(wp);
}

static void
log_death(struct worker_proc *wp, pid_t pid, int status)
{
	char		 buf[32];
	const char	*name = parent_worker_name(wp, buf, sizeof(buf));
	int		 nr;

	if (wp->status_fd != -1 &&
	    read(wp->status_fd, &nr, sizeof(nr)) == (ssize_t)sizeof(nr))
		log_warnx("%s (pid %d) killed by seccomp: forbidden system "
		    "call %s", name, (int)pid, sandbox_syscall_name(nr));
	else if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by signal %d (%s)", name,
		    (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) != 0)
		log_warnx("%s (pid %d) exited with status %d", name, (int)pid,
		    WEXITSTATUS(status));
	else
		log_warnx("%s (pid %d) exited", name, (int)pid);
}

static void
worker_died(struct worker_proc *wp, pid_t pid, int status)
{
	struct timeval	tv = { 0, 0 };
	time_t		uptime = time(NULL) - wp->started;
	int		was_ready = wp->ready;

	if (!parent.stopping)
		log_death(wp, pid, status);
	imsgev_clear(&wp->iev);
	if (wp->status_fd != -1)
		close(wp->status_fd);
	wp->status_fd = -1;
	wp->pid = 0;
	wp->ready = 0;
	if (parent.stopping)
		return;
	/*
	 * A worker that keeps dying at start-up (before it answered READY,
	 * or within QUICK_DEATH seconds) is retried ever slower; one killed
	 * while in service comes back at once, however often that happens.
	 */
	wp->quick_deaths = (!was_ready || uptime < QUICK_DEATH) ?
	    wp->quick_deaths + 1 : 0;
	if (wp->quick_deaths > 0)
		tv.tv_sec = wp->quick_deaths > 6 ? 60 : 1 << (wp->quick_deaths - 1);
	evtimer_add(wp->restart_ev, &tv);
	if (parent.reload_client != 0)
		parent_reload_answer(wp, 1);
}

void
parent_reap(void)
{
	struct worker_proc	*wp;
	pid_t			 pid;
	int			 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (wp = parent_worker_next(NULL); wp;
		    wp = parent_worker_next(wp))
			if (wp->pid == pid)
				worker_died(wp, pid, status);
	}
}

void
parent_stop_workers(void)
{
	struct worker_proc	*wp;
	char			 name[32];
	int			 i, left;

	for (wp = parent_worker_next(NULL); wp; wp = parent_worker_next(wp))
		if (wp->pid > 0)
			kill(wp->pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		parent_reap();
		left = 0;
		for (wp = parent_worker_next(NULL); wp;
		    wp = parent_worker_next(wp))
			left += wp->pid > 0;
		if (left == 0)
			return;
		usleep(50 * 1000);
	}
	for (wp = parent_worker_next(NULL); wp; wp = parent_worker_next(wp))
		if (wp->pid > 0) {
			log_warnx("%s did not stop, killing it",
			    parent_worker_name(wp, name, sizeof(name)));
			kill(wp->pid, SIGKILL);
		}
	for (i = 0; i < 40; i++) {
		parent_reap();
		usleep(50 * 1000);
	}
}

static void
worker_ready(struct worker_proc *wp, struct imsg *imsg)
{
	struct mreader		 r;
	uint32_t		 status;
	char			 why[256], name[32];
	struct worker_proc	*o;

	mreader_init(&r, imsg);
	status = mr_u32(&r);
	mr_str(&r, why, sizeof(why));
	if (mr_end(&r) == -1) {
		imsgev_fail(&wp->iev, "bad ready message");
		return;
	}
	if (status != 0)
		log_warnx("%s rejected the configuration: %s",
		    parent_worker_name(wp, name, sizeof(name)), why);
	wp->ready = 1;
	if (parent.reload_client != 0)
		parent_reload_answer(wp, status);
	for (o = parent_worker_next(NULL); o; o = parent_worker_next(o))
		if (!o->ready)
			return;
	if (!parent.announced) {
		parent.announced = 1;
		log_info("mxgate ready");
	}
}

static void
parent_worker_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct worker_proc *wp = iev->arg;

	switch (imsg->hdr.type) {
	case IMSG_READY:
		worker_ready(wp, imsg);
		break;
	case IMSG_CTL_DATA:
	case IMSG_CTL_END:
		if (wp->id != PROC_QUEUED && wp->id != PROC_LOOKUPD) {
			imsgev_fail(iev, "unexpected control answer");
			return;
		}
		control_relay(imsg->hdr.peerid, imsg);
		break;
	case IMSG_PEER_FAULT:
		parent_peer_fault(wp, imsg);
		break;
	default:
		imsgev_fail(iev, "unexpected message");
	}
}

/*
 * The link closed: either the worker died (SIGCHLD follows) or it sent
 * something malformed (imsgev logged why).  Either way it must go, and
 * the SIGCHLD path restarts it.
 */
static void
parent_worker_closed(struct imsgev *iev)
{
	struct worker_proc *wp = iev->arg;

	if (wp->pid > 0)
		kill(wp->pid, SIGKILL);
}
