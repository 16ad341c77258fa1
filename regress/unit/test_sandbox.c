/*
 * The seccomp filter does what the promises say: each case forks a child
 * that confines itself and then tries one thing; a forbidden call must
 * kill it with the syscall reported on STATUS_FD, an allowed one must
 * work.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "test.h"

enum attempt {
	TRY_OPEN_READ, TRY_OPEN_WRITE, TRY_OPEN_CREATE, TRY_INET_SOCKET,
	TRY_UNIX_SOCKET, TRY_EXECVE, TRY_FSTAT, TRY_UDP_SOCKET
};

static int
attempt(enum attempt what)
{
	struct stat	st;
	char		*argv[] = { "/bin/true", NULL };

	switch (what) {
	case TRY_OPEN_READ:
		return open("/etc/hostname", O_RDONLY) >= 0;
	case TRY_OPEN_WRITE:
		return open("/dev/null", O_WRONLY) >= 0;
	case TRY_OPEN_CREATE:
		return open("/tmp/mxgate-sandbox-test", O_WRONLY | O_CREAT,
		    0600) >= 0;
	case TRY_INET_SOCKET:
		return socket(AF_INET, SOCK_STREAM, 0) >= 0;
	case TRY_UDP_SOCKET:
		return socket(AF_INET6, SOCK_DGRAM, 0) >= 0;
	case TRY_UNIX_SOCKET:
		return socket(AF_UNIX, SOCK_DGRAM, 0) >= 0;
	case TRY_EXECVE:
		execv(argv[0], argv);
		return 0;
	case TRY_FSTAT:
		return fstat(1, &st) == 0;
	}
	return 0;
}

/*
 * Returns 1 if the attempt succeeded, 0 if it ran but failed, -1 if the
 * child was killed by the filter; *nr gets the reported syscall.
 */
static int
run_confined(unsigned promises, enum attempt what, int *nr)
{
	int	status_pipe[2], st;
	pid_t	pid;

	*nr = -1;
	if (pipe(status_pipe) == -1)
		return -2;
	if ((pid = fork()) == 0) {
		dup2(status_pipe[1], STATUS_FD);
		sandbox_enter("test", NULL, NULL, NULL, promises);
		_exit(attempt(what) ? 0 : 1);
	}
	close(status_pipe[1]);
	waitpid(pid, &st, 0);
	if (read(status_pipe[0], nr, sizeof(*nr)) != (ssize_t)sizeof(*nr))
		*nr = -1;
	close(status_pipe[0]);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGSYS)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st) == 0;
	return -2;
}

static void
expect_killed(const char *name, unsigned promises, enum attempt what,
    const char *syscall)
{
	int nr, rc = run_confined(promises, what, &nr);

	t_check(rc == -1 && nr >= 0 &&
	    strcmp(sandbox_syscall_name(nr), syscall) == 0, name,
	    "rc=%d syscall=%s, want killed in %s", rc,
	    nr >= 0 ? sandbox_syscall_name(nr) : "-", syscall);
}

static void
expect_allowed(const char *name, unsigned promises, enum attempt what)
{
	int nr, rc = run_confined(promises, what, &nr);

	t_check(rc == 1, name, "rc=%d (1 = worked, -1 = killed in %s)", rc,
	    nr >= 0 ? sandbox_syscall_name(nr) : "-");
}

int
main(void)
{
	log_init(1, "test");
	expect_killed("stdio: open for reading is killed", PROMISE_STDIO,
	    TRY_OPEN_READ, "openat");
	expect_killed("stdio: inet socket is killed", PROMISE_STDIO,
	    TRY_INET_SOCKET, "socket");
	expect_killed("stdio: execve is killed", PROMISE_STDIO, TRY_EXECVE,
	    "execve");
	expect_allowed("stdio: fstat works", PROMISE_STDIO, TRY_FSTAT);
	expect_allowed("rpath: open for reading works",
	    PROMISE_STDIO | PROMISE_RPATH, TRY_OPEN_READ);
	expect_killed("rpath: open for writing is killed",
	    PROMISE_STDIO | PROMISE_RPATH, TRY_OPEN_WRITE, "openat");
	expect_allowed("wpath: open for writing works",
	    PROMISE_STDIO | PROMISE_WPATH, TRY_OPEN_WRITE);
	expect_killed("wpath: create is killed",
	    PROMISE_STDIO | PROMISE_WPATH, TRY_OPEN_CREATE, "openat");
	expect_allowed("inet: inet socket works",
	    PROMISE_STDIO | PROMISE_INET, TRY_INET_SOCKET);
	expect_killed("inet: unix socket is killed",
	    PROMISE_STDIO | PROMISE_INET, TRY_UNIX_SOCKET, "socket");
	expect_allowed("unix: unix socket works",
	    PROMISE_STDIO | PROMISE_UNIX, TRY_UNIX_SOCKET);
	expect_allowed("connect: inet stream socket works",
	    PROMISE_STDIO | PROMISE_CONNECT, TRY_INET_SOCKET);
	expect_killed("connect: udp socket is killed",
	    PROMISE_STDIO | PROMISE_CONNECT, TRY_UDP_SOCKET, "socket");
	expect_killed("connect: unix socket is killed",
	    PROMISE_STDIO | PROMISE_CONNECT, TRY_UNIX_SOCKET, "socket");
	expect_killed("every promise: execve is killed", 0x3ff, TRY_EXECVE,
	    "execve");
	unlink("/tmp/mxgate-sandbox-test");
	return t_exit();
}
