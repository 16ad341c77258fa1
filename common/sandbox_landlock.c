/*
 * Landlock: a worker that reads files (lookupd's tables) may read only
 * below the directories holding them.  Directories rather than the files
 * themselves, because an administrator replaces a table by writing a new
 * file and renaming it over the old one, and a rule on the old inode
 * would not cover the new file.  Kernels without Landlock log once and
 * carry on with seccomp alone.
 */
#ifdef __linux__

#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "log.h"
#include "sandbox.h"

/* The rights of Landlock ABI 1, which every Landlock kernel handles. */
#define LL_HANDLED	((1ULL << 13) - 1)
#define LL_READ		(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR)

static int
landlock_add_dir(int ruleset, const char *procname, const char *path)
{
	struct landlock_path_beneath_attr	attr;
	char					copy[PATH_MAX];
	int					fd, rc;

	if (strlcpy(copy, path, sizeof(copy)) >= sizeof(copy))
		fatalx("%s: landlock: path too long: %s", procname, path);
	if ((fd = open(dirname(copy), O_PATH | O_CLOEXEC)) == -1) {
		log_warn("%s: landlock: %s", procname, copy);
		return -1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.allowed_access = LL_READ;
	attr.parent_fd = fd;
	rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
	    &attr, 0);
	close(fd);
	if (rc == -1)
		fatal("%s: landlock_add_rule %s", procname, copy);
	return 0;
}

int
sandbox_landlock(const char *procname, const char *const *readpaths)
{
	struct landlock_ruleset_attr	attr;
	int				ruleset;

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LL_HANDLED;
	ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset == -1) {
		if (errno == ENOSYS || errno == EOPNOTSUPP) {
			log_info("%s: kernel without Landlock, seccomp only",
			    procname);
			return 1;
		}
		fatal("%s: landlock_create_ruleset", procname);
	}
	for (; *readpaths != NULL; readpaths++)
		landlock_add_dir(ruleset, procname, *readpaths);
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) == -1)
		fatal("%s: landlock_restrict_self", procname);
	close(ruleset);
	return 0;
}

#endif /* __linux__ */
