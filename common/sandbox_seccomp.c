/*
 * The seccomp-bpf filter, built from pledge-like promises.  Anything not
 * allowed traps (SIGSYS): sandbox.c's handler reports the syscall number
 * to the parent and exits.  Calls are named, not numbered, and a name the
 * running architecture lacks is skipped, so the lists can be generous
 * about legacy variants.
 */
#ifdef __linux__

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sandbox.h"

static const char *const calls_stdio[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close",
	"fstat", "lseek", "mmap", "munmap", "mprotect", "mremap", "brk",
	"madvise", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"sigaltstack", "getpid", "gettid", "getppid", "getuid", "geteuid",
	"getgid", "getegid", "getresuid", "getresgid", "getrandom",
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll",
	"select", "pselect6", "pipe", "pipe2", "eventfd", "eventfd2",
	"timerfd_create", "timerfd_settime", "timerfd_gettime", "fcntl",
	"dup", "dup2", "dup3", "exit", "exit_group", "futex", "sched_yield",
	"getrlimit", "uname", "sendmsg", "recvmsg", "sendto", "recvfrom",
	"shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername",
	"fsync", "fdatasync", "ftruncate", "umask", "restart_syscall",
	"rseq", "set_robust_list", "tgkill", "close_range", "sysinfo",
	"getcwd", "set_tid_address", "membarrier",
	NULL
};

/* Inet sockets: the address family is checked separately. */
static const char *const calls_inet[] = {
	"connect", "bind", "listen", "accept", "accept4", NULL
};

static const char *const calls_rpath[] = {
	"stat", "lstat", "newfstatat", "statx", "readlink", "readlinkat",
	"access", "faccessat", "faccessat2", "getdents", "getdents64",
	"statfs", "fstatfs", "fadvise64", NULL
};

static const char *const calls_cpath[] = {
	"mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink",
	"unlinkat", "rmdir", "link", "linkat", "fchmod", "fchown",
	"io_submit", "io_getevents", NULL
};

static void
allow(scmp_filter_ctx ctx, const char *name, unsigned n,
    const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return;		/* not on this architecture */
	if (seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp) < 0)
		fatalx("seccomp: cannot allow %s", name);
}

static void
allow_list(scmp_filter_ctx ctx, const char *const *names)
{
	for (; *names != NULL; names++)
		allow(ctx, *names, 0, NULL);
}

static void
allow_socket(scmp_filter_ctx ctx, int family)
{
	struct scmp_arg_cmp cmp = SCMP_A0(SCMP_CMP_EQ, family, 0);

	allow(ctx, "socket", 1, &cmp);
}

/* socket(family, SOCK_STREAM[|flags], ...) only: no UDP, no raw. */
static void
allow_stream_socket(scmp_filter_ctx ctx, int family)
{
	struct scmp_arg_cmp cmp[2] = {
		SCMP_A0(SCMP_CMP_EQ, family, 0),
		SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM),
	};

	allow(ctx, "socket", 2, cmp);
}

/* open(2)/openat(2) by access mode: the flags argument is masked. */
static void
allow_open(scmp_filter_ctx ctx, unsigned promises)
{
	struct scmp_arg_cmp	ro_at = SCMP_A2(SCMP_CMP_MASKED_EQ,
	    O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY);
	struct scmp_arg_cmp	ro = SCMP_A1(SCMP_CMP_MASKED_EQ,
	    O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY);
	struct scmp_arg_cmp	nocreat_at = SCMP_A2(SCMP_CMP_MASKED_EQ,
	    O_CREAT, 0);
	struct scmp_arg_cmp	nocreat = SCMP_A1(SCMP_CMP_MASKED_EQ, O_CREAT, 0);

	if (promises & PROMISE_CPATH) {
		allow(ctx, "openat", 0, NULL);
		allow(ctx, "open", 0, NULL);
	} else if (promises & PROMISE_WPATH) {
		allow(ctx, "openat", 1, &nocreat_at);
		allow(ctx, "open", 1, &nocreat);
	} else if (promises & PROMISE_RPATH) {
		allow(ctx, "openat", 1, &ro_at);
		allow(ctx, "open", 1, &ro);
	}
}

static void
allow_promised(scmp_filter_ctx ctx, unsigned promises)
{
	/* fstat(2) is fstatat(fd, "", AT_EMPTY_PATH) in newer glibc. */
	struct scmp_arg_cmp emptypath = SCMP_A3(SCMP_CMP_MASKED_EQ,
	    AT_EMPTY_PATH, AT_EMPTY_PATH);
	struct scmp_arg_cmp statx_emptypath = SCMP_A2(SCMP_CMP_MASKED_EQ,
	    AT_EMPTY_PATH, AT_EMPTY_PATH);
	struct scmp_arg_cmp ioc_fionread = SCMP_A1(SCMP_CMP_EQ, FIONREAD, 0);
	struct scmp_arg_cmp ioc_fionbio = SCMP_A1(SCMP_CMP_EQ, FIONBIO, 0);

	allow_list(ctx, calls_stdio);
	allow(ctx, "ioctl", 1, &ioc_fionread);
	allow(ctx, "ioctl", 1, &ioc_fionbio);
	if (promises & (PROMISE_RPATH | PROMISE_WPATH | PROMISE_CPATH))
		allow_list(ctx, calls_rpath);
	else {
		allow(ctx, "newfstatat", 1, &emptypath);
		allow(ctx, "statx", 1, &statx_emptypath);
	}
	if (promises & PROMISE_CPATH)
		allow_list(ctx, calls_cpath);
	allow_open(ctx, promises);
	if (promises & (PROMISE_INET | PROMISE_DNS)) {
		allow_socket(ctx, AF_INET);
		allow_socket(ctx, AF_INET6);
	}
	if (promises & PROMISE_UNIX)
		allow_socket(ctx, AF_UNIX);
	if (promises & (PROMISE_INET | PROMISE_DNS | PROMISE_UNIX))
		allow_list(ctx, calls_inet);
	if (promises & PROMISE_CONNECT) {
		allow_stream_socket(ctx, AF_INET);
		allow_stream_socket(ctx, AF_INET6);
		allow(ctx, "connect", 0, NULL);
	}
}

void
sandbox_seccomp(const char *procname, unsigned promises)
{
	scmp_filter_ctx ctx;

	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		fatalx("%s: seccomp_init failed", procname);
	allow_promised(ctx, promises);
	if (seccomp_load(ctx) < 0)
		fatalx("%s: seccomp_load failed", procname);
	seccomp_release(ctx);
}

const char *
sandbox_syscall_name(int nr)
{
	static char	 buf[32];
	char		*name;

	if ((name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr))
	    == NULL) {
		snprintf(buf, sizeof(buf), "syscall %d", nr);
		return buf;
	}
	snprintf(buf, sizeof(buf), "%s", name);
	free(name);
	return buf;
}

#endif /* __linux__ */
