/*
 * OpenBSD: the same promises go to pledge(2) and the read paths to
 * unveil(2), behind the two step functions sandbox.c calls on Linux for
 * seccomp and Landlock.  A pledge violation kills the worker with
 * SIGABRT and the kernel logs the call, so there is no status report.
 */
#ifdef __OpenBSD__

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

static const struct {
	unsigned	 bit;
	const char	*word;
} promise_words[] = {
	{ PROMISE_STDIO, "stdio" },
	{ PROMISE_RECVFD, "recvfd" },
	{ PROMISE_SENDFD, "sendfd" },
	{ PROMISE_INET, "inet" },
	{ PROMISE_RPATH, "rpath" },
	{ PROMISE_WPATH, "wpath" },
	{ PROMISE_CPATH, "cpath" },
	{ PROMISE_DNS, "dns" },
	{ PROMISE_UNIX, "unix" },
	{ PROMISE_CONNECT, "inet" },
};

void
sandbox_seccomp(const char *procname, unsigned promises)
{
	char	pledges[128] = "";
	size_t	i;

	for (i = 0; i < sizeof(promise_words) / sizeof(promise_words[0]); i++)
		if (promises & promise_words[i].bit) {
			strlcat(pledges, pledges[0] ? " " : "", sizeof(pledges));
			strlcat(pledges, promise_words[i].word, sizeof(pledges));
		}
	if (pledge(pledges, NULL) == -1)
		fatal("%s: pledge", procname);
}

int
sandbox_landlock(const char *procname, const char *const *readpaths)
{
	char copy[PATH_MAX];

	for (; *readpaths != NULL; readpaths++) {
		if (strlcpy(copy, *readpaths, sizeof(copy)) >= sizeof(copy))
			fatalx("%s: unveil: path too long", procname);
		if (unveil(dirname(copy), "r") == -1)
			fatal("%s: unveil %s", procname, copy);
	}
	if (unveil(NULL, NULL) == -1)
		fatal("%s: unveil", procname);
	return 0;
}

const char *
sandbox_syscall_name(int nr)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "syscall %d", nr);
	return buf;
}

#endif /* __OpenBSD__ */
