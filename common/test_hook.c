/*
 * The test hooks of test_hook.h.  Everything that could do harm is inside
 * #ifdef MXGATE_TEST_HOOKS, so a release binary holds neither the actions
 * nor their names (regress/integration/test_sandbox_hooks.py checks with
 * strings(1)).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "imsgev.h"
#include "log.h"
#include "mbuf.h"
#include "proto.h"
#include "test_hook.h"
#include "worker.h"

#ifdef MXGATE_TEST_HOOKS

#define HOOK_CREATE_PATH	"/mxgate-test-hook"

static void
hook_open(void)
{
	int fd;

	if ((fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC)) != -1) {
		log_warnx("test hook: open of /etc/passwd succeeded");
		close(fd);
	} else
		log_warn("test hook: open /etc/passwd");
}

static void
hook_create(void)
{
	int fd;

	fd = open(HOOK_CREATE_PATH, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd != -1) {
		log_warnx("test hook: created %s", HOOK_CREATE_PATH);
		close(fd);
		unlink(HOOK_CREATE_PATH);
	} else
		log_warn("test hook: create %s", HOOK_CREATE_PATH);
}

static void
hook_exec(void)
{
	char *const argv[] = { "sh", "-c", "exit 0", NULL };
	char *const envp[] = { NULL };

	execve("/bin/sh", argv, envp);
	log_warn("test hook: execve /bin/sh");
}

static void
hook_socket(void)
{
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		log_warnx("test hook: AF_INET socket opened");
		close(fd);
	} else
		log_warn("test hook: socket");
}

/* A header claiming 4 bytes: below IMSG_HDR_SIZE, malformed by itself. */
static void
bad_frame(struct imsgev *iev)
{
	struct imsg_hdr hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = IMSG_NONE;
	hdr.len = 4;
	hdr.pid = (uint32_t)getpid();
	if (write(iev->ibuf.fd, &hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		log_warn("test hook: writing a bad frame to %s",
		    iev->peername);
}

/* IMSG_CTL_STOP: no worker accepts it from anyone. */
static void
bad_type(struct imsgev *iev)
{
	imsgev_compose(iev, IMSG_CTL_STOP, 0, -1, NULL, 0);
}

static void
to_peers(void (*fn)(struct imsgev *))
{
	struct imsgev	*iev;
	int		 id;

	for (id = PROC_SMTPD; id <= PROC_MTAD; id++)
		if ((iev = worker_peer((enum proc_id)id)) != NULL)
			fn(iev);
}

static void hook_badframe_peer(void)	{ to_peers(bad_frame); }
static void hook_badtype_peer(void)	{ to_peers(bad_type); }
static void hook_badframe_parent(void)	{ bad_frame(worker_parent()); }
static void hook_badtype_parent(void)	{ bad_type(worker_parent()); }

static const struct {
	const char	*name;
	void		(*fn)(void);
} hooks[] = {
	{ "open",		hook_open },
	{ "create",		hook_create },
	{ "exec",		hook_exec },
	{ "socket",		hook_socket },
	{ "badframe-peer",	hook_badframe_peer },
	{ "badtype-peer",	hook_badtype_peer },
	{ "badframe-parent",	hook_badframe_parent },
	{ "badtype-parent",	hook_badtype_parent },
};

static int
hook_index(const char *action)
{
	size_t i;

	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (strcmp(hooks[i].name, action) == 0)
			return (int)i;
	return -1;
}

int
test_hook_valid(const char *action)
{
	return hook_index(action) != -1;
}

void
worker_test_hook(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader	r;
	char		action[32];
	int		i;

	mreader_init(&r, imsg);
	mr_str(&r, action, sizeof(action));
	if (mr_end(&r) == -1 || (i = hook_index(action)) == -1) {
		imsgev_fail(iev, "bad test hook message");
		return;
	}
	log_warnx("test hook: attempting %s", action);
	hooks[i].fn();
}

#else /* !MXGATE_TEST_HOOKS */

int
test_hook_valid(const char *action)
{
	(void)action;
	return 0;
}

void
worker_test_hook(struct imsgev *iev, struct imsg *imsg)
{
	(void)imsg;
	imsgev_fail(iev, "unexpected message from parent");
}

#endif
