/*
 * imsg framing and the imsgev link: round trip with fd passing, partial
 * frames, malformed lengths, and a handler failing the link.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsg.h"
#include "imsgev.h"
#include "log.h"
#include "mbuf.h"
#include "proto.h"
#include "test.h"

static int
pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
}

/* Read until a frame is complete or the peer closes; 1, 0 or -1. */
static int
get_one(struct imsgbuf *ib, struct imsg *imsg)
{
	ssize_t n;
	int r;

	for (;;) {
		if ((r = imsg_get(ib, imsg)) != 0)
			return r;
		if ((n = imsgbuf_read(ib)) <= 0)
			return n == 0 ? 0 : -1;
	}
}

static void
test_roundtrip(void)
{
	struct imsgbuf a, b;
	struct imsg imsg;
	char big[IMSG_MAX_SIZE - IMSG_HDR_SIZE];
	char tmpl[] = "/tmp/mxgate-test-imsg.XXXXXX";
	char rd[64];
	int sv[2], tfd, ok, i;
	ssize_t n;

	if (pair(sv) == -1 || (tfd = mkstemp(tmpl)) == -1) {
		t_check(0, "imsg roundtrip setup", "%s", strerror(errno));
		return;
	}
	unlink(tmpl);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	memset(big, 'x', sizeof(big));

	ok = imsg_compose(&a, IMSG_CTL_HELLO, 7, -1, "hello", 5) == 0;
	ok &= imsg_compose(&a, IMSG_QUEUE_CREATE_OK, 8, dup(tfd), "f", 1) == 0;
	ok &= imsg_compose(&a, IMSG_CTL_END, 9, -1, NULL, 0) == 0;
	ok &= imsg_compose(&a, IMSG_CONF_DATA, 10, -1, big, sizeof(big)) == 0;
	T_OK(ok, "imsg compose 4 frames");
	T_OK(a.out_bytes == 4 * IMSG_HDR_SIZE + 5 + 1 + sizeof(big),
	    "imsg out_bytes counts queued frames");
	T_OK(imsg_compose(&a, IMSG_CONF_DATA, 0, -1, big, sizeof(big) + 1)
	    == -1 && errno == EMSGSIZE, "imsg compose too big: EMSGSIZE");

	/* the socket buffer may not take it all at once: alternate */
	for (i = 0; i < 4; i++) {
		int r = imsgbuf_flush(&a);

		if (r == -1)
			break;
		if (get_one(&b, &imsg) != 1)
			break;
		if (i == 0)
			t_check(imsg.hdr.type == IMSG_CTL_HELLO &&
			    imsg.hdr.peerid == 7 && imsg.datalen == 5 &&
			    memcmp(imsg.data, "hello", 5) == 0 && imsg.fd == -1 &&
			    imsg.hdr.pid == (uint32_t)getpid() &&
			    imsg.hdr.len == IMSG_HDR_SIZE + 5,
			    "imsg frame 1", "type %u len %u fd %d",
			    imsg.hdr.type, imsg.hdr.len, imsg.fd);
		if (i == 1) {
			t_check(imsg.hdr.type == IMSG_QUEUE_CREATE_OK &&
			    imsg.hdr.peerid == 8 && imsg.fd >= 0 &&
			    (fcntl(imsg.fd, F_GETFD) & FD_CLOEXEC),
			    "imsg frame 2 carries a CLOEXEC fd",
			    "type %u fd %d", imsg.hdr.type, imsg.fd);
			if (imsg.fd >= 0) {
				n = write(imsg.fd, "through-fd", 10);
				memset(rd, 0, sizeof(rd));
				n = pread(tfd, rd, sizeof(rd) - 1, 0);
				t_check(n == 10 && strcmp(rd, "through-fd") == 0,
				    "imsg passed fd is the same file",
				    "read %zd '%s'", n, rd);
			}
		}
		if (i == 2)
			t_check(imsg.hdr.type == IMSG_CTL_END && imsg.datalen == 0
			    && imsg.fd == -1, "imsg frame 3 empty", "type %u",
			    imsg.hdr.type);
		if (i == 3)
			t_check(imsg.hdr.type == IMSG_CONF_DATA &&
			    imsg.datalen == sizeof(big) &&
			    memcmp(imsg.data, big, sizeof(big)) == 0,
			    "imsg frame 4 of maximum size", "len %zu",
			    imsg.datalen);
		imsg_free(&imsg);
	}
	T_OK(i == 4, "imsg all frames received");
	T_OK(imsgbuf_flush(&a) == 0 && a.out_bytes == 0 && a.out_head == NULL,
	    "imsg output queue drained");

	/* an fd still queued for output is closed by imsgbuf_clear */
	{
		int d = dup(tfd);

		imsg_compose(&a, IMSG_PEER_FD, 0, d, NULL, 0);
		imsgbuf_clear(&a);
		T_OK(fcntl(d, F_GETFD) == -1 && errno == EBADF,
		    "imsg clear closes queued fd");
	}
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
	close(tfd);
}

static void
test_partial(void)
{
	struct imsgbuf a, b;
	struct imsg imsg;
	uint8_t frame[IMSG_HDR_SIZE + 100];
	struct imsg_hdr hdr;
	int sv[2], r;

	if (pair(sv) == -1)
		return;
	imsgbuf_init(&b, sv[1]);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = IMSG_CTL_DATA;
	hdr.len = sizeof(frame);
	hdr.peerid = 3;
	memcpy(frame, &hdr, sizeof(hdr));
	memset(frame + IMSG_HDR_SIZE, 'p', 100);

	(void)!write(sv[0], frame, 10);		/* truncated header */
	imsgbuf_read(&b);
	T_OK(imsg_get(&b, &imsg) == 0, "imsg truncated header not returned");
	(void)!write(sv[0], frame + 10, 50);	/* header + part of payload */
	imsgbuf_read(&b);
	T_OK(imsg_get(&b, &imsg) == 0, "imsg partial frame not returned");
	(void)!write(sv[0], frame + 60, sizeof(frame) - 60);
	imsgbuf_read(&b);
	r = imsg_get(&b, &imsg);
	t_check(r == 1 && imsg.datalen == 100 && imsg.hdr.peerid == 3 &&
	    ((char *)imsg.data)[99] == 'p', "imsg frame complete after rest",
	    "r %d", r);
	if (r == 1)
		imsg_free(&imsg);
	T_OK(imsg_get(&b, &imsg) == 0, "imsg nothing more");

	/* the same, composed: byte-at-a-time reception */
	imsgbuf_init(&a, sv[0]);
	imsg_compose(&a, IMSG_CTL_DATA, 4, -1, "abc", 3);
	imsgbuf_flush(&a);
	imsgbuf_clear(&a);
	r = get_one(&b, &imsg);
	T_OK(r == 1 && imsg.datalen == 3 && imsg.hdr.peerid == 4,
	    "imsg composed frame after partial one");
	if (r == 1)
		imsg_free(&imsg);

	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static int
raw_len(uint32_t len, uint32_t type)
{
	struct imsgbuf b;
	struct imsg imsg;
	struct imsg_hdr hdr;
	int sv[2], r;

	if (pair(sv) == -1)
		return -2;
	imsgbuf_init(&b, sv[1]);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	(void)!write(sv[0], &hdr, sizeof(hdr));
	imsgbuf_read(&b);
	r = imsg_get(&b, &imsg);
	if (r == 1)
		imsg_free(&imsg);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
	return r;
}

static void
test_malformed(void)
{
	T_OK(raw_len(15, IMSG_CTL_HELLO) == -1, "imsg len < 16 is malformed");
	T_OK(raw_len(0, IMSG_CTL_HELLO) == -1, "imsg len 0 is malformed");
	T_OK(raw_len(IMSG_MAX_SIZE + 1, IMSG_CTL_HELLO) == -1,
	    "imsg len > IMSG_MAX_SIZE is malformed");
	T_OK(raw_len(0xffffffffu, IMSG_CTL_HELLO) == -1,
	    "imsg len 2^32-1 is malformed");
	T_OK(raw_len(16, IMSG_CTL_HELLO) == 1, "imsg len 16 is fine");
	T_OK(raw_len(16, IMSG_CTL_HELLO | 0x80000000u) == -1,
	    "imsg frame flagged with fd but without one is malformed");
}

/* imsgev: a handler that rejects what it does not expect. */
static int	ev_got, ev_closed, ev_close_b;

static void
strict_handler(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader mr;

	ev_got++;
	if (imsg->hdr.type != IMSG_CTL_HELLO) {
		imsgev_fail(iev, "unexpected message");
		return;
	}
	mreader_init(&mr, imsg);
	mr_u32(&mr);
	if (mr_end(&mr) == -1)
		imsgev_fail(iev, "bad HELLO");
}

static void
on_close(struct imsgev *iev)
{
	ev_closed++;
	event_base_loopbreak(iev->base);
}

static void
test_imsgev_fail(void)
{
	struct event_base *base;
	struct imsgev iev;
	struct imsgbuf a;
	struct mbuf m;
	int sv[2], sent;

	if (pair(sv) == -1 || (base = event_base_new()) == NULL)
		return;
	imsgbuf_init(&a, sv[0]);
	ev_got = ev_closed = 0;
	T_OK(imsgev_init(&iev, base, sv[1], "testpeer", strict_handler,
	    on_close, NULL) == 0, "imsgev init");
	T_OK(imsgev_active(&iev), "imsgev active");

	mbuf_init(&m);
	mbuf_add_u32(&m, MXGATE_PROTO_VERSION);
	imsg_compose(&a, IMSG_CTL_HELLO, 0, -1, m.buf, m.len);
	mbuf_free(&m);
	imsg_compose(&a, IMSG_MTA_RESULT, 0, -1, "junk", 4);
	imsg_compose(&a, IMSG_CTL_HELLO, 0, -1, NULL, 0); /* never handed */
	imsgbuf_flush(&a);
	/* something for the link to send back, to check it is dropped */
	sent = imsgev_compose(&iev, IMSG_CTL_HELLO, 0, -1, "x", 1);
	T_OK(sent == 0 && imsgev_queued(&iev) == IMSG_HDR_SIZE + 1,
	    "imsgev queued counts output");

	event_base_dispatch(base);
	t_check(ev_got == 2, "imsgev stops handing frames after fail",
	    "handler called %d times", ev_got);
	t_check(ev_closed == 1, "imsgev fail calls on_close once",
	    "on_close called %d times", ev_closed);
	T_OK(!imsgev_active(&iev), "imsgev inactive after fail");
	T_OK(imsgev_compose(&iev, IMSG_CTL_HELLO, 0, -1, NULL, 0) == -1,
	    "imsgev compose on a closed link fails");

	imsgbuf_clear(&a);
	close(sv[0]);
	event_base_free(base);
}

static void
close_b(struct imsgev *iev)
{
	ev_close_b++;
	event_base_loopbreak(iev->base);
}

/* EOF closes the link; fail from outside a handler closes it later. */
static void
test_imsgev_eof(void)
{
	struct event_base *base;
	struct imsgev iev, iev2;
	int sv[2], sv2[2];

	if (pair(sv) == -1 || pair(sv2) == -1 ||
	    (base = event_base_new()) == NULL)
		return;
	ev_close_b = 0;
	imsgev_init(&iev, base, sv[1], "eofpeer", strict_handler, close_b,
	    NULL);
	close(sv[0]);
	event_base_dispatch(base);
	T_OK(ev_close_b == 1 && !imsgev_active(&iev),
	    "imsgev EOF calls on_close");

	ev_close_b = 0;
	imsgev_init(&iev2, base, sv2[1], "failpeer", strict_handler, close_b,
	    NULL);
	imsgev_fail(&iev2, "test failure outside a handler");
	T_OK(ev_close_b == 0 && !imsgev_active(&iev2),
	    "imsgev fail outside a handler defers on_close");
	event_base_dispatch(base);
	T_OK(ev_close_b == 1, "imsgev deferred close calls on_close");
	close(sv2[0]);

	/* re-init while a deferred close is pending: old link finished first */
	if (pair(sv2) == -1 || pair(sv) == -1)
		return;
	ev_close_b = 0;
	imsgev_init(&iev2, base, sv2[1], "reinit", strict_handler, close_b,
	    NULL);
	imsgev_fail(&iev2, "test failure before re-init");
	imsgev_init(&iev2, base, sv[1], "reinit2", strict_handler, close_b,
	    NULL);
	T_OK(ev_close_b == 1 && imsgev_active(&iev2) &&
	    fcntl(sv2[1], F_GETFD) == -1,
	    "imsgev re-init finishes a pending close");
	event_base_loop(base, EVLOOP_NONBLOCK);
	T_OK(ev_close_b == 1 && imsgev_active(&iev2),
	    "imsgev re-init cancels the deferred close");
	imsgev_clear(&iev2);
	T_OK(!imsgev_active(&iev2) && fcntl(sv[1], F_GETFD) == -1,
	    "imsgev clear closes the socket");
	close(sv[0]);
	close(sv2[0]);

	/* clear on a zeroed struct must not close fd 0 */
	memset(&iev2, 0, sizeof(iev2));
	imsgev_clear(&iev2);
	T_OK(fcntl(0, F_GETFD) != -1, "imsgev clear on a zeroed struct");
	event_base_free(base);
}

/* A frame with an fd and an mbuf payload over imsgev, both ways. */
static int	echo_fd_ok;

static void
echo_handler(struct imsgev *iev, struct imsg *imsg)
{
	struct mreader mr;
	char s[32];
	uint64_t v;

	mreader_init(&mr, imsg);
	v = mr_u64(&mr);
	mr_str(&mr, s, sizeof(s));
	if (mr_end(&mr) == -1 || v != 42 || strcmp(s, "msgid") != 0 ||
	    imsg->fd < 0) {
		imsgev_fail(iev, "bad message");
		return;
	}
	echo_fd_ok = write(imsg->fd, "ok", 2) == 2;
	/* keep the fd: the imsg must not close it */
	close(imsg->fd);
	imsg->fd = -1;
	event_base_loopbreak(iev->base);
}

static void
test_imsgev_mbuf_fd(void)
{
	struct event_base *base;
	struct imsgev tx, rx;
	struct mbuf m;
	int sv[2], p[2];
	char buf[4] = "";

	if (pair(sv) == -1 || pipe(p) == -1 ||
	    (base = event_base_new()) == NULL)
		return;
	imsgev_init(&tx, base, sv[0], "rx", NULL, NULL, NULL);
	imsgev_init(&rx, base, sv[1], "tx", echo_handler, on_close, NULL);
	mbuf_init(&m);
	mbuf_add_u64(&m, 42);
	mbuf_add_str(&m, "msgid");
	T_OK(imsgev_compose_mbuf(&tx, IMSG_QUEUE_CREATE_OK, 1, p[1], &m) == 0
	    && m.buf == NULL, "imsgev compose_mbuf frees the mbuf");
	echo_fd_ok = 0;
	event_base_dispatch(base);
	T_OK(echo_fd_ok && read(p[0], buf, 2) == 2 && memcmp(buf, "ok", 2) == 0,
	    "imsgev mbuf payload and fd delivered");
	mbuf_init(&m);
	m.err = 1;
	T_OK(imsgev_compose_mbuf(&tx, IMSG_CTL_END, 0, -1, &m) == -1,
	    "imsgev compose_mbuf refuses a failed mbuf");
	imsgev_clear(&tx);
	imsgev_clear(&rx);
	close(p[0]);
	event_base_free(base);
}

/* Many frames, every third with an fd, through full socket buffers. */
#define STRESS_N	300
static int	stress_seen, stress_bad;

static void
stress_handler(struct imsgev *iev, struct imsg *imsg)
{
	uint32_t idx;

	if (imsg->datalen != 2000 || imsg->hdr.peerid != (uint32_t)stress_seen)
		stress_bad++;
	idx = imsg->hdr.peerid;
	if ((idx % 3 == 0) != (imsg->fd >= 0))
		stress_bad++;
	else if (imsg->fd >= 0 && write(imsg->fd, &idx, sizeof(idx)) !=
	    sizeof(idx))
		stress_bad++;
	if (++stress_seen == STRESS_N)
		event_base_loopbreak(iev->base);
}

static void
test_imsgev_stress(void)
{
	struct event_base *base;
	struct imsgev tx, rx;
	static int pipes[STRESS_N / 3][2];
	char payload[2000];
	uint32_t idx;
	size_t maxq;
	int sv[2], i, ok = 1;

	if (pair(sv) == -1 || (base = event_base_new()) == NULL)
		return;
	imsgev_init(&tx, base, sv[0], "stress-rx", NULL, NULL, NULL);
	imsgev_init(&rx, base, sv[1], "stress-tx", stress_handler, on_close,
	    NULL);
	memset(payload, 'S', sizeof(payload));
	for (i = 0; i < STRESS_N; i++) {
		int fd = -1;

		if (i % 3 == 0) {
			if (pipe(pipes[i / 3]) == -1)
				return;
			fd = pipes[i / 3][1];
		}
		ok &= imsgev_compose(&tx, IMSG_CTL_DATA, i, fd, payload,
		    sizeof(payload)) == 0;
	}
	maxq = imsgev_queued(&tx);
	stress_seen = stress_bad = 0;
	event_base_dispatch(base);
	t_check(ok && stress_seen == STRESS_N && stress_bad == 0 &&
	    imsgev_queued(&tx) == 0 && maxq > 0,
	    "imsgev 300 frames with 100 fds in order",
	    "seen %d bad %d queued %zu", stress_seen, stress_bad,
	    imsgev_queued(&tx));
	for (i = 0; i < STRESS_N / 3; i++) {
		if (read(pipes[i][0], &idx, sizeof(idx)) != sizeof(idx) ||
		    idx != (uint32_t)i * 3)
			ok = 0;
		/* EOF: every copy of the write end was closed */
		if (read(pipes[i][0], &idx, 1) != 0)
			ok = 0;
		close(pipes[i][0]);
	}
	T_OK(ok, "imsgev each fd reached its own frame, then closed");
	imsgev_clear(&tx);
	imsgev_clear(&rx);
	event_base_free(base);
}

static void
test_names(void)
{
	T_OK(strcmp(imsg_type_name(IMSG_LKA_RCPT), "IMSG_LKA_RCPT") == 0,
	    "imsg_type_name");
	T_OK(strcmp(imsg_type_name(IMSG_CTL_END), "IMSG_CTL_END") == 0,
	    "imsg_type_name last");
	T_OK(strcmp(imsg_type_name(IMSG_TYPE_COUNT), "IMSG_?") == 0 &&
	    strcmp(imsg_type_name(-1), "IMSG_?") == 0,
	    "imsg_type_name out of range");
	T_OK(strcmp(proc_name(PROC_LOOKUPD), "lookupd") == 0 &&
	    strcmp(proc_name(PROC_CONTROL), "control") == 0, "proc_name");
}

int
main(void)
{
	log_init(1, "test");
	test_roundtrip();
	test_partial();
	test_malformed();
	test_imsgev_fail();
	test_imsgev_eof();
	test_imsgev_mbuf_fd();
	test_imsgev_stress();
	test_names();
	return t_exit();
}
