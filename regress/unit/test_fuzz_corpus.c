/*
 * Replays every seed (regress/fuzz/corpus/<harness>/) and every input that
 * once crashed a harness (regress/fuzz/crashes/<harness>/) through the
 * same harness functions the fuzzers run, without libFuzzer.  Each input
 * runs in a child process so a crash names its file; the harness's own
 * message (or the config parser's errors) appear on stderr.  Run from the repo
 * root (regress/run does), or set FUZZ_DIR to regress/fuzz.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "../fuzz/fuzz.h"
#include "../fuzz/fuzz_util.c"
#include "../fuzz/fuzz_smtp_cmd.c"
#include "../fuzz/fuzz_smtp_data.c"
#include "../fuzz/fuzz_addr.c"
#include "../fuzz/fuzz_mta_reply.c"
#include "../fuzz/fuzz_mta_relay.c"
#include "../fuzz/fuzz_imsg.c"
#include "../fuzz/fuzz_mbuf.c"
#include "../fuzz/fuzz_conf.c"
#include "../fuzz/fuzz_tablefile.c"
#include "../fuzz/fuzz_envelope.c"
#include "../fuzz/fuzz_smtp_bdat.c"
#include "../fuzz/fuzz_bounce.c"
#include "../fuzz/fuzz_smtp_auth.c"
#include "../fuzz/fuzz_ldap_conf.c"
#include "../fuzz/fuzz_mta_dns.c"

static const struct {
	const char	*name;
	int		(*fn)(const uint8_t *, size_t);
} harnesses[] = {
	{ "smtp_cmd",	fuzz_smtp_cmd },
	{ "smtp_data",	fuzz_smtp_data },
	{ "addr",	fuzz_addr },
	{ "mta_reply",	fuzz_mta_reply },
	{ "mta_relay",	fuzz_mta_relay },
	{ "imsg",	fuzz_imsg },
	{ "mbuf",	fuzz_mbuf },
	{ "conf",	fuzz_conf },
	{ "tablefile",	fuzz_tablefile },
	{ "envelope",	fuzz_envelope },
	{ "smtp_bdat",	fuzz_smtp_bdat },
	{ "bounce",	fuzz_bounce },
	{ "smtp_auth",	fuzz_smtp_auth },
	{ "ldap_conf",	fuzz_ldap_conf },
	{ "mta_dns",	fuzz_mta_dns },
};

/* Whole file into a malloc'd buffer of exactly its size (ASan sees overreads). */
static uint8_t *
slurp(const char *path, size_t *lenp)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (buf = malloc(st.st_size ? st.st_size : 1)) == NULL) {
		close(fd);
		return NULL;
	}
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return NULL;
	}
	*lenp = n;
	return buf;
}

/* Runs one input in a child; NULL if it passed, else why (static). */
static const char *
replay(int (*fn)(const uint8_t *, size_t), const char *path)
{
	static char why[128];
	uint8_t *buf;
	size_t len;
	pid_t pid;
	int status;

	if ((buf = slurp(path, &len)) == NULL)
		return "cannot read";
	fflush(stdout);
	if ((pid = fork()) == -1) {
		free(buf);
		return "fork failed";
	}
	if (pid == 0) {
		fn(buf, len);
		free(buf);
		exit(0);	/* not _exit: LeakSanitizer checks at exit */
	}
	free(buf);
	if (waitpid(pid, &status, 0) == -1)
		return "waitpid failed";
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return NULL;
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "exit status %d",
		    WEXITSTATUS(status));
	return why;
}

/* Replays every file of base/kind/<harness>; returns the number of files, -1 if dir is missing. */
static int
replay_dir(const char *base, const char *kind, size_t h)
{
	char dir[1024], path[1400], name[600];
	struct dirent *de;
	const char *why;
	DIR *d;
	int n = 0, bad = 0;

	snprintf(dir, sizeof(dir), "%s/%s/%s", base, kind,
	    harnesses[h].name);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n++;
		if ((why = replay(harnesses[h].fn, path)) != NULL) {
			snprintf(name, sizeof(name), "%s %s/%s",
			    harnesses[h].name, kind, de->d_name);
			t_check(0, name, "%s (reproduce: "
			    "regress/fuzz/build/fuzz_%s %s)", why,
			    harnesses[h].name, path);
			bad++;
		}
	}
	closedir(d);
	return bad ? -2 : n;
}

int
main(void)
{
	const char *base;
	char name[128];
	size_t h;
	int n;

	if ((base = getenv("FUZZ_DIR")) == NULL)
		base = "regress/fuzz";
	for (h = 0; h < sizeof(harnesses) / sizeof(harnesses[0]); h++) {
		n = replay_dir(base, "corpus", h);
		snprintf(name, sizeof(name), "%s corpus", harnesses[h].name);
		if (n != -2)
			t_check(n > 0, name, "no seeds in %s/corpus/%s", base,
			    harnesses[h].name);
		n = replay_dir(base, "crashes", h);
		snprintf(name, sizeof(name), "%s crashes", harnesses[h].name);
		if (n != -2)
			t_check(1, name, "%d", n);
	}
	return t_exit();
}
