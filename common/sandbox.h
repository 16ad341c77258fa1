/*
 * Confinement of a worker, always in this order: chroot (when root and a
 * dir is given), setgroups/setresgid/setresuid to the worker's user, then
 * the seccomp-bpf filter built from pledge-like promises (Landlock for the
 * paths a worker may read).  Under OpenBSD the promises go to pledge(2)
 * and the paths to unveil(2).  A forbidden syscall kills the worker; the
 * SIGSYS handler first writes the syscall number to the status fd so the
 * parent can name it.
 */
#ifndef MXGATE_SANDBOX_H
#define MXGATE_SANDBOX_H

/* Promise bits, pledge(2)-like. */
#define PROMISE_STDIO	0x0001	/* read/write/close/mmap/time/event loop */
#define PROMISE_RECVFD	0x0002
#define PROMISE_SENDFD	0x0004
#define PROMISE_INET	0x0008	/* socket, connect, accept on inet/inet6 */
#define PROMISE_RPATH	0x0010	/* open read-only, stat */
#define PROMISE_WPATH	0x0020	/* open for writing */
#define PROMISE_CPATH	0x0040	/* create, rename, unlink, mkdir */
#define PROMISE_DNS	0x0080	/* udp sockets for resolving */
#define PROMISE_UNIX	0x0100	/* AF_UNIX sockets (syslog) */
#define PROMISE_CONNECT	0x0200	/* TCP client: inet/inet6 SOCK_STREAM
				 * sockets and connect (lookupd's LDAP) */

#define STATUS_FD	4	/* worker -> parent: seccomp violation report */
#define PARENT_FD	3	/* worker's imsg link to the parent */

/*
 * chroot_dir may be NULL (no chroot).  user NULL: stay as is.  readpaths is
 * a NULL-terminated list for Landlock (may be NULL).  Fatal on failure,
 * except the steps that need root when not root, which log and are skipped.
 */
void	sandbox_enter(const char *procname, const char *chroot_dir,
	    const char *user, const char *const *readpaths, unsigned promises);
/* Name of a syscall number for the parent's log line. */
const char *sandbox_syscall_name(int nr);

/* The steps, for sandbox.c and tests; fatal on failure.  Linux: seccomp
 * and Landlock (sandbox_seccomp.c, sandbox_landlock.c); OpenBSD: pledge
 * and unveil under the same names (sandbox_pledge.c). */
void	sandbox_seccomp(const char *procname, unsigned promises);
/* 0 applied, 1 unsupported by the kernel (logged once). */
int	sandbox_landlock(const char *procname, const char *const *readpaths);

#endif
