/*
 * Confinement of a worker, in the fixed order of sandbox.h: chroot,
 * drop to the worker's user, no_new_privs, Landlock, seccomp.  Each step
 * either succeeds or the worker dies: a half-confined worker never runs.
 */
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

static void
sandbox_sigsys(int sig, siginfo_t *si, void *ctx)
{
	int nr = si->si_syscall;

	/* Tell the parent which call it was, then die as a signal would. */
	(void)!write(STATUS_FD, &nr, sizeof(nr));
	_exit(128 + sig);
}

static void
sandbox_trap_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");
}

static void
sandbox_drop_user(const struct passwd *pw)
{
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot drop privileges to %s", pw->pw_name);
	if (setuid(0) != -1)
		fatalx("privileges could be regained after dropping to %s",
		    pw->pw_name);
}

/*
 * Test build only: MXGATE_TEST_UNCONFINED in the environment leaves out
 * chroot, Landlock and seccomp, for the leak-check run of regress/asan
 * (LeakSanitizer reads /proc and ptraces, which all three forbid).  The
 * user is still dropped.  A release build has no such switch.
 */
static int
sandbox_unconfined(const char *procname)
{
#ifdef MXGATE_TEST_HOOKS
	if (getenv("MXGATE_TEST_UNCONFINED") != NULL) {
		log_warnx("%s: TEST BUILD, MXGATE_TEST_UNCONFINED set: no "
		    "chroot, Landlock or seccomp (leak checks only)", procname);
		return 1;
	}
#endif
	return 0;
}

void
sandbox_enter(const char *procname, const char *chroot_dir, const char *user,
    const char *const *readpaths, unsigned promises)
{
	static struct passwd	 pwcopy;
	struct passwd		*pw = NULL;
	int			 root = (geteuid() == 0);

	if (root && user != NULL) {
		if ((pw = getpwnam(user)) == NULL)
			fatalx("unknown user %s (create it: make users)", user);
		pwcopy = *pw;
		pw = &pwcopy;
	}
	if (!root)
		log_debug("not running as root: chroot and setuid skipped");
	if (sandbox_unconfined(procname)) {
		if (pw != NULL)
			sandbox_drop_user(pw);
		return;
	}
	if (root && chroot_dir != NULL) {
		if (chroot(chroot_dir) == -1 || chdir("/") == -1)
			fatal("chroot %s", chroot_dir);
	}
	if (pw != NULL)
		sandbox_drop_user(pw);
#ifdef __linux__
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl no_new_privs");
#endif
	if (readpaths != NULL)
		sandbox_landlock(procname, readpaths);
	sandbox_trap_handler();
	sandbox_seccomp(procname, promises);
	log_debug("sandboxed: chroot=%s user=%s promises=0x%x",
	    root && chroot_dir ? chroot_dir : "-", pw ? user : "-", promises);
}
