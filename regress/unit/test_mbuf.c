/*
 * Typed marshalling: round trip, and every way a payload can be wrong.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "mbuf.h"
#include "test.h"

/* An imsg whose payload is the mbuf's bytes (not freed: points into m). */
static struct imsg
as_imsg(const struct mbuf *m)
{
	struct imsg imsg;

	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	imsg.data = m->buf;
	imsg.datalen = m->len;
	return imsg;
}

static void
test_roundtrip(void)
{
	struct mbuf m;
	struct mreader mr;
	struct imsg imsg;
	char s1[64], s2[8], s3[4];
	uint32_t a;
	uint64_t b;
	int ok;

	mbuf_init(&m);
	mbuf_add_u32(&m, 0xdeadbeef);
	mbuf_add_u64(&m, 0x0102030405060708ULL);
	mbuf_add_str(&m, "hello world");
	mbuf_add_str(&m, "");
	mbuf_add_u32(&m, 0);
	mbuf_add_str(&m, "abc");
	T_OK(m.err == 0 && m.len == 4 + 8 + 4 + 11 + 4 + 4 + 4 + 3,
	    "mbuf length of fields");
	T_OK(m.buf[0] == 0xef && m.buf[3] == 0xde && m.buf[4] == 0x08,
	    "mbuf integers are little-endian");

	imsg = as_imsg(&m);
	mreader_init(&mr, &imsg);
	a = mr_u32(&mr);
	b = mr_u64(&mr);
	mr_str(&mr, s1, sizeof(s1));
	mr_str(&mr, s2, sizeof(s2));
	ok = mr_u32(&mr) == 0;
	mr_str(&mr, s3, sizeof(s3));	/* "abc" fits exactly in 4 */
	t_check(ok && a == 0xdeadbeef && b == 0x0102030405060708ULL &&
	    strcmp(s1, "hello world") == 0 && s2[0] == '\0' &&
	    strcmp(s3, "abc") == 0 && mr_end(&mr) == 0,
	    "mbuf round trip u32/u64/str", "a %x s1 '%s' s3 '%s' err %d",
	    a, s1, s3, mr.err);
	mbuf_free(&m);
	T_OK(m.buf == NULL && m.len == 0, "mbuf free resets");
}

static void
test_data(void)
{
	struct mbuf m;
	struct mreader mr;
	struct imsg imsg;
	uint8_t blob[3000];
	size_t i;

	for (i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)i;
	mbuf_init(&m);
	mbuf_add_u32(&m, sizeof(blob));
	mbuf_add_data(&m, blob, sizeof(blob));	/* grows past one chunk */
	imsg = as_imsg(&m);
	mreader_init(&mr, &imsg);
	t_check(mr_u32(&mr) == sizeof(blob) && mr.left == sizeof(blob) &&
	    memcmp(mr.p, blob, sizeof(blob)) == 0 && !m.err,
	    "mbuf round trip data", "left %zu", mr.left);
	mbuf_free(&m);
}

static int
read_u32_u64(const uint8_t *p, size_t len)
{
	struct mreader mr;
	struct imsg imsg;

	memset(&imsg, 0, sizeof(imsg));
	imsg.data = (void *)(uintptr_t)p;
	imsg.datalen = len;
	mreader_init(&mr, &imsg);
	mr_u32(&mr);
	mr_u64(&mr);
	return mr_end(&mr);
}

static void
test_bad(void)
{
	struct mbuf m;
	struct mreader mr;
	struct imsg imsg;
	uint8_t raw[16] = { 0 };
	char s[8];

	T_OK(read_u32_u64(raw, 12) == 0, "mbuf exact payload ok");
	T_OK(read_u32_u64(raw, 11) == -1, "mbuf short payload fails");
	T_OK(read_u32_u64(raw, 13) == -1, "mbuf trailing byte fails");
	T_OK(read_u32_u64(NULL, 0) == -1, "mbuf empty payload fails");

	/* a string with a NUL inside */
	mbuf_init(&m);
	mbuf_add_u32(&m, 3);
	mbuf_add_data(&m, "a\0b", 3);
	imsg = as_imsg(&m);
	mreader_init(&mr, &imsg);
	mr_str(&mr, s, sizeof(s));
	T_OK(mr_end(&mr) == -1 && s[0] == '\0', "mbuf string with NUL fails");
	mbuf_free(&m);

	/* too long for the destination */
	mbuf_init(&m);
	mbuf_add_str(&m, "12345678");
	imsg = as_imsg(&m);
	mreader_init(&mr, &imsg);
	mr_str(&mr, s, sizeof(s));
	T_OK(mr_end(&mr) == -1 && s[0] == '\0', "mbuf string too long fails");
	mbuf_free(&m);

	/* length beyond the payload */
	mbuf_init(&m);
	mbuf_add_u32(&m, 100);
	mbuf_add_data(&m, "abc", 3);
	imsg = as_imsg(&m);
	mreader_init(&mr, &imsg);
	mr_str(&mr, s, sizeof(s));
	T_OK(mr_end(&mr) == -1, "mbuf string length past the end fails");
	mbuf_free(&m);

	/* huge length does not wrap */
	mbuf_init(&m);
	mbuf_add_u32(&m, 0xffffffffu);
	imsg = as_imsg(&m);
	mreader_init(&mr, &imsg);
	mr_str(&mr, s, sizeof(s));
	T_OK(mr_end(&mr) == -1, "mbuf string length 2^32-1 fails");
	mbuf_free(&m);

	/* sticky: a good field after a bad one does not clear it */
	mbuf_init(&m);
	mbuf_add_u32(&m, 9);
	imsg = as_imsg(&m);
	mreader_init(&mr, &imsg);
	mr_u64(&mr);
	T_OK(mr_u32(&mr) == 0 && mr_end(&mr) == -1, "mbuf error is sticky");
	mbuf_free(&m);

	mbuf_init(&m);
	m.err = 1;
	mbuf_add_u32(&m, 1);
	T_OK(m.len == 0 && m.err, "mbuf add after error is ignored");
	mbuf_free(&m);
}

int
main(void)
{
	test_roundtrip();
	test_data();
	test_bad();
	return t_exit();
}
