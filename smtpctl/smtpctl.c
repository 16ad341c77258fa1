/*
 * smtpctl: the administrator's tool over the control socket.
 *   smtpctl [-s socket] COMMAND [ARGS]	(ctl_cmd.c lists them)
 *   smtpctl makemap file			(local, see makemap.c)
 *   smtpctl ldap-export ldapconf outfile	(local, see ldap_export.c)
 *   smtpctl test hook worker action	(test builds only, test_hook.h)
 * Lines the daemon sends are printed as they come; the final status
 * decides the exit code.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "imsg.h"
#include "ctl_cmd.h"
#include "ldap_export.h"
#include "makemap.h"
#include "mbuf.h"
#include "proto.h"

#define DEFAULT_SOCKET	"/run/mxgate.sock"

static void __attribute__((noreturn))
usage(void)
{
	const char *const *u;

	for (u = ctl_cmd_usage; *u != NULL; u++)
		fprintf(stderr, "%s smtpctl [-s socket] %s\n",
		    u == ctl_cmd_usage ? "usage:" : "      ", *u);
	exit(2);
}

static int
connect_socket(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "smtpctl: socket path too long\n");
		exit(1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "smtpctl: %s: %s (is mxgate running?)\n",
		    path, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Blocks until one complete message has arrived. */
static void
next_imsg(struct imsgbuf *ib, struct imsg *imsg)
{
	ssize_t n;
	int	rc;

	while ((rc = imsg_get(ib, imsg)) == 0) {
		if ((n = imsgbuf_read(ib)) == -1 && errno != EAGAIN &&
		    errno != EINTR) {
			fprintf(stderr, "smtpctl: read: %s\n", strerror(errno));
			exit(1);
		}
		if (n == 0) {
			fprintf(stderr, "smtpctl: the daemon closed the "
			    "connection\n");
			exit(1);
		}
	}
	if (rc == -1) {
		fprintf(stderr, "smtpctl: malformed answer\n");
		exit(1);
	}
}

static void
send_request(struct imsgbuf *ib, uint32_t type, struct mbuf *m)
{
	if (m->err || imsg_compose(ib, type, 0, -1, m->buf, m->len) == -1 ||
	    imsgbuf_flush_all(ib) == -1) {
		fprintf(stderr, "smtpctl: write: %s\n", strerror(errno));
		exit(1);
	}
	mbuf_free(m);
}

/* Prints the answer; returns the exit status. */
static int
read_answer(struct imsgbuf *ib)
{
	struct imsg	imsg;
	struct mreader	r;
	static char	line[IMSG_MAX_SIZE];
	uint32_t	status;

	for (;;) {
		next_imsg(ib, &imsg);
		mreader_init(&r, &imsg);
		if (imsg.hdr.type == IMSG_CTL_DATA) {
			mr_str(&r, line, sizeof(line));
			if (mr_end(&r) == 0)
				printf("%s\n", line);
		} else if (imsg.hdr.type == IMSG_CTL_END) {
			status = mr_u32(&r);
			mr_str(&r, line, sizeof(line));
			if (mr_end(&r) == -1)
				status = 1, strlcpy(line, "malformed answer",
				    sizeof(line));
			if (line[0] != '\0')
				fprintf(status ? stderr : stdout, "%s\n", line);
			imsg_free(&imsg);
			return status ? 1 : 0;
		}
		imsg_free(&imsg);
	}
}

static void
handshake(struct imsgbuf *ib)
{
	struct imsg	imsg;
	struct mreader	r;
	uint32_t	version;
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_add_u32(&m, MXGATE_PROTO_VERSION);
	send_request(ib, IMSG_CTL_HELLO, &m);
	next_imsg(ib, &imsg);
	if (imsg.hdr.type == IMSG_CTL_END) {
		imsg_free(&imsg);
		fprintf(stderr, "smtpctl: the daemon speaks another protocol "
		    "version than this smtpctl (%d)\n", MXGATE_PROTO_VERSION);
		exit(1);
	}
	mreader_init(&r, &imsg);
	version = mr_u32(&r);
	if (imsg.hdr.type != IMSG_CTL_HELLO || mr_end(&r) == -1 ||
	    version != MXGATE_PROTO_VERSION) {
		fprintf(stderr, "smtpctl: unexpected answer to hello\n");
		exit(1);
	}
	imsg_free(&imsg);
}

int
main(int argc, char **argv)
{
	struct imsgbuf	 ib;
	struct mbuf	 req;
	const char	*path = DEFAULT_SOCKET;
	char		 err[256];
	uint32_t	 type;
	int		 ch, status;

	while ((ch = getopt(argc, argv, "s:")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0 && strcmp(argv[0], "makemap") == 0)
		return makemap_main(argc, argv);	/* no daemon needed */
	if (argc > 0 && strcmp(argv[0], "ldap-export") == 0)
		return ldap_export_main(argc, argv);	/* nor here */
	mbuf_init(&req);
	if (ctl_cmd_parse(argc, argv, &type, &req, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			usage();
		fprintf(stderr, "smtpctl: %s\n", err);
		return 2;
	}
	if (imsgbuf_init(&ib, connect_socket(path)) == -1) {
		fprintf(stderr, "smtpctl: out of memory\n");
		return 1;
	}
	handshake(&ib);
	send_request(&ib, type, &req);
	status = read_answer(&ib);
	imsgbuf_clear(&ib);
	close(ib.fd);
	return status;
}
