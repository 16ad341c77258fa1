/*
 * imsg frame decoding: the input is written into one end of a UNIX
 * socketpair as a peer would send it (headers in host byte order) and
 * read back with imsgbuf_read() / imsg_get() until EOF or a malformed
 * frame; every frame is unmarshalled as proto.h says (fuzz_mbuf.c).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "imsg.h"

int
fuzz_imsg(const uint8_t *data, size_t size)
{
	struct imsgbuf ib;
	struct imsg imsg;
	size_t off = 0;
	ssize_t n;
	int sv[2], rv, eof = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
	    imsgbuf_init(&ib, sv[1]) == -1)
		abort();
	if (size == 0)
		shutdown(sv[0], SHUT_WR);
	while (!eof) {
		if (off < size) {
			n = write(sv[0], data + off, size - off);
			if (n == -1 && errno != EAGAIN)
				abort();
			if (n > 0)
				off += n;
			if (off == size)
				shutdown(sv[0], SHUT_WR);
		}
		n = imsgbuf_read(&ib);
		if (n == -1)
			break;
		if (n == 0)
			eof = 1;
		while ((rv = imsg_get(&ib, &imsg)) == 1) {
			FUZZ_ASSERT(imsg.datalen + IMSG_HDR_SIZE == imsg.hdr.len);
			FUZZ_ASSERT(imsg.hdr.len <= IMSG_MAX_SIZE);
			FUZZ_ASSERT(imsg.fd == -1);
			(void)fuzz_proto_decode(&imsg);
			imsg_free(&imsg);
		}
		if (rv == -1)
			break;
	}
	imsgbuf_clear(&ib);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
