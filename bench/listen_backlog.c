/*
 * listen_backlog.so: LD_PRELOADed into OpenSMTPD by bench/bench.py only.
 *
 * OpenSMTPD 6.8 calls listen(fd, 5) on its SMTP sockets (SMTPD_BACKLOG is
 * compiled in).  With 20 clients opening a new connection per message the
 * accept queue overflows: Linux drops the SYN or the handshake's last ACK,
 * the client waits for a retransmission (1 s, then 3 s, ...) while every
 * server process sits idle, and a client whose ACK was dropped can wait
 * for the banner forever.  That, not the server, set its rate here.  This
 * raises any backlog to SOMAXCONN (the kernel caps it at
 * net.core.somaxconn), what mxgate's listen() asks for.  Nothing else is changed.
 */
#define _GNU_SOURCE
#include <sys/socket.h>

#include <dlfcn.h>
#include <stddef.h>

int
listen(int fd, int backlog)
{
	static int	(*real_listen)(int, int);

	if (real_listen == NULL)
		real_listen = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
	if (backlog < SOMAXCONN)
		backlog = SOMAXCONN;
	return real_listen(fd, backlog);
}
