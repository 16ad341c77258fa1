/*
 * What the parent prepares with its privileges before any worker runs:
 * the listening sockets (handed to smtpd, which cannot bind port 25
 * itself), the spool directory owned by the queue user, and the empty
 * chroot directory.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "log.h"
#include "parent.h"

static int
bind_one(const struct listen_conf *l)
{
	struct addrinfo	 hints, *ai;
	char		 port[8];
	int		 fd, rc, on = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", l->port);
	if ((rc = getaddrinfo(l->addr, port, &hints, &ai)) != 0)
		fatalx("listen on %s port %u: %s", l->addr, l->port,
		    gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		fatal("listen on %s port %u: socket", l->addr, l->port);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, SOMAXCONN) == -1)
		fatal("listen on %s port %u", l->addr, l->port);
	freeaddrinfo(ai);
	log_debug("listening on %s port %u", l->addr, l->port);
	return fd;
}

void
parent_bind_listeners(const struct mxgate_conf *conf)
{
	const struct listen_conf *l;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		parent.listen_fds = reallocarray(parent.listen_fds,
		    parent.nlisten + 1, sizeof(int));
		if (parent.listen_fds == NULL)
			fatal("listeners");
		parent.listen_fds[parent.nlisten++] = bind_one(l);
	}
	if (parent.nlisten == 0)
		log_warnx("no listen statement: mail will not be accepted");
}

static void
make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
}

void
parent_prepare_dirs(const struct mxgate_conf *conf)
{
	struct passwd	*pw;
	struct stat	 st;

	make_dir(conf->spool, 0700);
	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(conf->queue_user)) == NULL)
		fatalx("unknown user %s (create it: make users)",
		    conf->queue_user);
	if (chown(conf->spool, pw->pw_uid, pw->pw_gid) == -1 ||
	    chmod(conf->spool, 0700) == -1)
		fatal("spool %s", conf->spool);
	make_dir(conf->empty_dir, 0755);
	if (stat(conf->empty_dir, &st) == -1)
		fatal("%s", conf->empty_dir);
	if (st.st_uid != 0 || (st.st_mode & 022) != 0)
		fatalx("%s must be owned by root and writable only by root",
		    conf->empty_dir);
}
