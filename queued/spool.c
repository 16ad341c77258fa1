/*
 * The spool.
 *
 * Layout (files 0600, directories 0700, all owned by the queue user):
 *
 *	<spool>/queue/<ID>.msg		the message as smtpd streamed it
 *					(headers and body), env->size bytes
 *	<spool>/queue/<ID>.env		its envelope (envelope.c); exists
 *					only once the message is committed
 *	<spool>/queue/<ID>.env.tmp	an envelope being written, never read
 *	<spool>/corrupt/<name>		quarantined files, for a human
 *
 * <ID> is QUEUE_ID_LEN uppercase hex digits (28 bits of time, 20 random
 * bits), unique because <ID>.msg is created with O_EXCL.
 *
 * Guarantee: a message is committed if and only if <ID>.env exists, and
 * <ID>.env only ever appears whole, after <ID>.msg is on disk.  Commit,
 * for every message whose commit arrived while the previous batch was
 * being made durable (group commit, queued.c and spool_aio.c):
 *
 *	1. check <ID>.msg has the size smtpd announced, write
 *	   <ID>.env.tmp (spool_stage, per message, no sync);
 *	2. fdatasync every <ID>.msg and <ID>.env.tmp of the batch, all
 *	   submitted at once and waited for without blocking queued;
 *	3. rename each <ID>.env.tmp to <ID>.env (spool_publish);
 *	4. one fsync of the queue directory: the renames are on disk;
 *	5. only then are the commits acknowledged (and clients hear 250).
 *
 * The disk sees the syncs of a whole batch together (the file system's
 * journal commits them as one), and queued goes on taking new messages
 * meanwhile; they form the next batch.  spool_commit() does the same for
 * one message, blocking (DSNs).
 *
 * A crash before step 4 completes leaves either no <ID>.env (recovery
 * removes the message; the client never got 250) or a whole one, whose
 * message is whole too since step 2 came before its rename (the message
 * is delivered; its client may have missed the 250 and send it again:
 * the one unavoidable duplicate).  An envelope update is a temp file,
 * fdatasync, rename and directory fsync, so the envelope on disk is
 * always the old or the new one, whole.
 *
 * Removal unlinks <ID>.env first, then <ID>.msg: a crash in between leaves
 * a message without envelope, which recovery removes as uncommitted.
 * Removal needs no sync: a lost unlink can only bring a message back (and
 * have it delivered twice), never lose one.  (Should a filesystem make
 * the second unlink durable before the first, recovery finds an envelope
 * without message and quarantines it.)
 *
 * Recovery never trusts an envelope that does not decode, or whose
 * message is missing or of another size: both files go to corrupt/ and
 * the rest of the queue carries on.
 *
 * Every access is relative to the directory fds opened by spool_open(),
 * before the sandbox, so the code is the same chrooted into <spool> or
 * not.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "log.h"
#include "spool.h"

#define SPOOL_NAME_MAX		(QUEUE_ID_LEN + 16)
#define SPOOL_CREATE_TRIES	100
#define SPOOL_QUARANTINE_TRIES	1000

enum spool_kind {
	KIND_ENV = 1,
	KIND_TMP = 2,
	KIND_MSG = 4
};

static const struct {
	enum spool_kind	 kind;
	const char	*suffix;
} spool_suffixes[] = {
	{ KIND_ENV, ".env" },
	{ KIND_TMP, ".env.tmp" },
	{ KIND_MSG, ".msg" }
};

struct spool_file {
	char		 id[QUEUE_ID_LEN + 1];
	enum spool_kind	 kind;
};

static void
spool_name(char *buf, const char *id, enum spool_kind kind)
{
	size_t i;

	for (i = 0; spool_suffixes[i].kind != kind; i++)
		;
	snprintf(buf, SPOOL_NAME_MAX, "%s%s", id, spool_suffixes[i].suffix);
}

/* Creates dir/name if missing; an fd of it, owned like the spool. */
static int
spool_subdir(struct spool *sp, const char *name, const struct stat *top)
{
	struct stat st;
	int fd;

	if (mkdirat(sp->dirfd, name, 0700) == -1 && errno != EEXIST) {
		log_warn("spool: mkdir %s", name);
		return -1;
	}
	fd = openat(sp->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		log_warn("spool: open %s", name);
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* Made by root before the privilege drop: give it to the owner
	 * of the spool, whom the parent made the queue user. */
	if (geteuid() == 0 &&
	    (st.st_uid != top->st_uid || st.st_gid != top->st_gid) &&
	    fchown(fd, top->st_uid, top->st_gid) == -1) {
		log_warn("spool: chown %s", name);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) == -1)
		log_warn("spool: chmod %s", name);
	return fd;
}

int
spool_open(struct spool *sp, const char *path)
{
	struct stat st;

	sp->queuefd = sp->corruptfd = -1;
	sp->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd == -1 || fstat(sp->dirfd, &st) == -1) {
		log_warn("spool %s", path);
		spool_close(sp);
		return -1;
	}
	if (st.st_mode & 077)
		log_warnx("spool %s: mode %03o, should be 0700", path,
		    (unsigned)(st.st_mode & 0777));
	if ((sp->queuefd = spool_subdir(sp, "queue", &st)) == -1 ||
	    (sp->corruptfd = spool_subdir(sp, "corrupt", &st)) == -1) {
		spool_close(sp);
		return -1;
	}
	return 0;
}

void
spool_close(struct spool *sp)
{
	if (sp->dirfd != -1)
		close(sp->dirfd);
	if (sp->queuefd != -1)
		close(sp->queuefd);
	if (sp->corruptfd != -1)
		close(sp->corruptfd);
	sp->dirfd = sp->queuefd = sp->corruptfd = -1;
}

static void
spool_new_id(char id[QUEUE_ID_LEN + 1])
{
	uint64_t v;

	v = ((uint64_t)time(NULL) & 0xfffffff) << 20 |
	    (arc4random() & 0xfffff);
	snprintf(id, QUEUE_ID_LEN + 1, "%012llX", (unsigned long long)v);
}

int
spool_create(struct spool *sp, char id[QUEUE_ID_LEN + 1])
{
	char name[SPOOL_NAME_MAX];
	int fd, i;

	for (i = 0; i < SPOOL_CREATE_TRIES; i++) {
		spool_new_id(id);
		spool_name(name, id, KIND_MSG);
		fd = openat(sp->queuefd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1)
			return fd;
		if (errno != EEXIST) {
			log_warn("%s: create message file", id);
			return -1;
		}
	}
	log_warnx("create message file: no free queue id");
	return -1;
}

int
spool_msg_open(struct spool *sp, const char *id)
{
	char name[SPOOL_NAME_MAX];
	int fd;
	int saved;

	spool_name(name, id, KIND_MSG);
	fd = openat(sp->queuefd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		saved = errno;
		log_warn("%s: open message file", id);
		errno = saved;
	}
	return fd;
}

int
spool_msg_usable(int fd, const struct envelope *env)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		log_warn("%s: stat message file", env->id);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != env->size) {
		log_warnx("%s: message file has %lld bytes, expected %llu",
		    env->id, (long long)st.st_size,
		    (unsigned long long)env->size);
		return -1;
	}
	return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes <ID>.env.tmp.  With fdp, leaves it open there (for the caller to
 * sync); else fdatasync()s and closes it.  0, or -1 with it removed.
 */
static int
spool_write_tmp(struct spool *sp, const struct envelope *env, int *fdp)
{
	char tmp[SPOOL_NAME_MAX];
	char *buf;
	size_t len;
	int fd;

	if ((buf = envelope_encode(env, &len)) == NULL) {
		log_warn("%s: encode envelope", env->id);
		return -1;
	}
	spool_name(tmp, env->id, KIND_TMP);
	fd = openat(sp->queuefd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("%s: create %s", env->id, tmp);
		free(buf);
		return -1;
	}
	if (write_all(fd, buf, len) == -1 || (fdp == NULL &&
	    fdatasync(fd) == -1)) {
		log_warn("%s: write %s", env->id, tmp);
		free(buf);
		close(fd);
		goto fail;
	}
	free(buf);
	if (fdp != NULL) {
		*fdp = fd;
		return 0;
	}
	if (close(fd) == -1) {
		log_warn("%s: close %s", env->id, tmp);
		goto fail;
	}
	return 0;
 fail:
	unlinkat(sp->queuefd, tmp, 0);
	return -1;
}

int
spool_publish(struct spool *sp, const char *id)
{
	char tmp[SPOOL_NAME_MAX], name[SPOOL_NAME_MAX];

	spool_name(tmp, id, KIND_TMP);
	spool_name(name, id, KIND_ENV);
	if (renameat(sp->queuefd, tmp, sp->queuefd, name) == -1) {
		log_warn("%s: rename %s", id, tmp);
		unlinkat(sp->queuefd, tmp, 0);
		return -1;
	}
	return 0;
}

void
spool_unstage(struct spool *sp, const char *id)
{
	char tmp[SPOOL_NAME_MAX];

	spool_name(tmp, id, KIND_TMP);
	if (unlinkat(sp->queuefd, tmp, 0) == -1 && errno != ENOENT)
		log_warn("%s: remove %s", id, tmp);
}

int
spool_stage(struct spool *sp, const struct envelope *env, int *msgfd,
    int *envfd)
{
	char name[SPOOL_NAME_MAX];
	struct stat st;
	int fd;

	spool_name(name, env->id, KIND_MSG);
	fd = openat(sp->queuefd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		log_warn("%s: open message file", env->id);
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != env->size) {
		log_warnx("%s: message file has %lld bytes, expected %llu",
		    env->id, (long long)st.st_size,
		    (unsigned long long)env->size);
		close(fd);
		return -1;
	}
	if (spool_write_tmp(sp, env, envfd) == -1) {
		close(fd);
		return -1;
	}
	*msgfd = fd;
	return 0;
}

int
spool_commit(struct spool *sp, const struct envelope *env)
{
	int msgfd, envfd, rc = -1;

	if (spool_stage(sp, env, &msgfd, &envfd) == -1)
		return -1;
	if (fdatasync(msgfd) == -1 || fdatasync(envfd) == -1)
		log_warn("%s: sync", env->id);
	else
		rc = 0;
	close(msgfd);
	close(envfd);
	if (rc == -1) {
		spool_unstage(sp, env->id);
		return -1;
	}
	if (spool_publish(sp, env->id) == -1 || spool_sync(sp) == -1)
		return -1;
	return 0;
}

int
spool_sync(struct spool *sp)
{
	if (fsync(sp->queuefd) == -1) {
		log_warn("spool: sync queue directory");
		return -1;
	}
	return 0;
}

int
spool_update(struct spool *sp, const struct envelope *env)
{
	if (spool_write_tmp(sp, env, NULL) == -1 ||
	    spool_publish(sp, env->id) == -1)
		return -1;
	return spool_sync(sp);
}

int
spool_remove(struct spool *sp, const char *id)
{
	char name[SPOOL_NAME_MAX];

	spool_name(name, id, KIND_ENV);
	if (unlinkat(sp->queuefd, name, 0) == -1 && errno != ENOENT) {
		log_warn("%s: remove envelope", id);
		return -1;
	}
	spool_name(name, id, KIND_MSG);
	if (unlinkat(sp->queuefd, name, 0) == -1 && errno != ENOENT) {
		log_warn("%s: remove message file", id);
		return -1;
	}
	return 0;
}

/* Recovery */

static int
rec_parse_name(const char *name, struct spool_file *f)
{
	size_t i;

	if (strlen(name) < QUEUE_ID_LEN)
		return -1;
	memcpy(f->id, name, QUEUE_ID_LEN);
	f->id[QUEUE_ID_LEN] = '\0';
	if (!envelope_valid_id(f->id))
		return -1;
	for (i = 0; i < sizeof(spool_suffixes) / sizeof(spool_suffixes[0]);
	    i++) {
		if (strcmp(name + QUEUE_ID_LEN, spool_suffixes[i].suffix) == 0) {
			f->kind = spool_suffixes[i].kind;
			return 0;
		}
	}
	return -1;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct spool_file *fa = a, *fb = b;
	int c;

	if ((c = strcmp(fa->id, fb->id)) != 0)
		return c;
	return (int)fa->kind - (int)fb->kind;
}

/* Every spool file in queue/, sorted by id. */
static int
rec_scan(struct spool *sp, struct spool_file **filesp, size_t *np)
{
	struct spool_file *files = NULL, *tmp, f;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(sp->queuefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (dir = fdopendir(fd)) == NULL) {
		log_warn("spool: open queue directory");
		if (fd != -1)
			close(fd);
		return -1;
	}
	for (errno = 0; (de = readdir(dir)) != NULL; errno = 0) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (rec_parse_name(de->d_name, &f) == -1) {
			log_warnx("spool: unexpected file queue/%s, left alone",
			    de->d_name);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			tmp = reallocarray(files, cap, sizeof(*files));
			if (tmp == NULL)
				break;
			files = tmp;
		}
		files[n++] = f;
	}
	if (errno != 0) {
		log_warn("spool: read queue directory");
		closedir(dir);
		free(files);
		return -1;
	}
	closedir(dir);
	if (n > 0)
		qsort(files, n, sizeof(*files), rec_cmp);
	*filesp = files;
	*np = n;
	return 0;
}

/* Reads and decodes <id>.env; NULL with *why set if it cannot. */
static struct envelope *
rec_read(struct spool *sp, const char *id, const char **why)
{
	char name[SPOOL_NAME_MAX], *buf = NULL;
	struct envelope *env = NULL;
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd;

	*why = "cannot read";
	spool_name(name, id, KIND_ENV);
	fd = openat(sp->queuefd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		goto done;
	if (st.st_size > ENVELOPE_FILE_MAX) {
		*why = "too large";
		goto done;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL ||
	    (env = calloc(1, sizeof(*env))) == NULL)
		goto done;
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			goto done;
		got += (size_t)r;
	}
	if (envelope_decode(env, buf, got, why) == -1)
		goto done;
	if (strcmp(env->id, id) != 0) {
		*why = "queue id differs from file name";
		envelope_clear(env);
		goto done;
	}
	free(buf);
	close(fd);
	return env;
 done:
	if (fd != -1)
		close(fd);
	free(buf);
	free(env);
	return NULL;
}

/* NULL if <id>.msg is there with the size the envelope says. */
static const char *
rec_check_msg(struct spool *sp, const struct envelope *env, int kinds)
{
	char name[SPOOL_NAME_MAX];
	struct stat st;

	if (!(kinds & KIND_MSG))
		return "message file missing";
	spool_name(name, env->id, KIND_MSG);
	if (fstatat(sp->queuefd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode))
		return "message file unreadable";
	if ((uint64_t)st.st_size != env->size)
		return "message file size differs";
	return NULL;
}

/* Moves queue/<name> to corrupt/<name>[.N] without replacing anything. */
static int
rec_move(struct spool *sp, const char *name)
{
	char target[SPOOL_NAME_MAX + 8];
	struct stat st;
	int i;

	for (i = 0; i < SPOOL_QUARANTINE_TRIES; i++) {
		if (i == 0)
			snprintf(target, sizeof(target), "%s", name);
		else
			snprintf(target, sizeof(target), "%s.%d", name, i);
		if (fstatat(sp->corruptfd, target, &st,
		    AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (errno != ENOENT)
			break;
		if (renameat(sp->queuefd, name, sp->corruptfd, target) == 0)
			return 0;
		break;
	}
	log_warn("spool: cannot move queue/%s to corrupt/", name);
	return -1;
}

static void
rec_quarantine(struct spool *sp, const char *id, int kinds, const char *why)
{
	char name[SPOOL_NAME_MAX];

	log_warnx("%s: corrupt envelope (%s), moved to corrupt/", id, why);
	spool_name(name, id, KIND_ENV);
	rec_move(sp, name);
	if (kinds & KIND_MSG) {
		spool_name(name, id, KIND_MSG);
		rec_move(sp, name);
	}
	if (fsync(sp->corruptfd) == -1)
		log_warn("spool: sync corrupt directory");
}

int
spool_quarantine(struct spool *sp, const char *id, const char *why)
{
	char name[SPOOL_NAME_MAX];
	struct stat st;
	int rv = 0;

	log_warnx("%s: %s, moved to corrupt/ with its envelope", id, why);
	spool_name(name, id, KIND_ENV);
	if (rec_move(sp, name) == -1)
		rv = -1;
	spool_name(name, id, KIND_MSG);
	if (fstatat(sp->queuefd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    rec_move(sp, name) == -1)
		rv = -1;
	if (fsync(sp->corruptfd) == -1 || fsync(sp->queuefd) == -1)
		log_warn("spool: sync after quarantine");
	return rv;
}

/* A message without envelope: never acknowledged, removed. */
static void
rec_uncommitted(struct spool *sp, const char *id, struct spool_stats *stats)
{
	char name[SPOOL_NAME_MAX];

	spool_name(name, id, KIND_MSG);
	if (unlinkat(sp->queuefd, name, 0) == -1) {
		log_warn("%s: remove uncommitted message", id);
		return;
	}
	log_info("%s: removed uncommitted message", id);
	stats->uncommitted++;
}

static void
rec_one(struct spool *sp, const char *id, int kinds,
    void (*cb)(struct envelope *, void *), void *arg,
    struct spool_stats *stats)
{
	char name[SPOOL_NAME_MAX];
	struct envelope *env;
	const char *why;

	if (kinds & KIND_TMP) {
		spool_name(name, id, KIND_TMP);
		if (unlinkat(sp->queuefd, name, 0) == -1)
			log_warn("spool: remove queue/%s", name);
	}
	if (!(kinds & KIND_ENV)) {
		if (kinds & KIND_MSG)
			rec_uncommitted(sp, id, stats);
		return;
	}
	if ((env = rec_read(sp, id, &why)) != NULL &&
	    envelope_pending(env) == 0) {
		if (spool_remove(sp, id) == 0)
			log_info("%s: removed", id);
		envelope_free(env);
		stats->finished++;
		return;
	}
	if (env != NULL && (why = rec_check_msg(sp, env, kinds)) != NULL) {
		envelope_free(env);
		env = NULL;
	}
	if (env == NULL) {
		rec_quarantine(sp, id, kinds, why);
		stats->corrupt++;
		return;
	}
	stats->loaded++;
	cb(env, arg);
}

int
spool_recover(struct spool *sp, void (*cb)(struct envelope *, void *),
    void *arg, struct spool_stats *stats)
{
	struct spool_stats dummy;
	struct spool_file *files = NULL;
	size_t n = 0, i, j;
	int kinds;

	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	if (rec_scan(sp, &files, &n) == -1)
		return -1;
	for (i = 0; i < n; i = j) {
		kinds = 0;
		for (j = i; j < n && strcmp(files[j].id, files[i].id) == 0; j++)
			kinds |= files[j].kind;
		rec_one(sp, files[i].id, kinds, cb, arg, stats);
	}
	free(files);
	return 0;
}
