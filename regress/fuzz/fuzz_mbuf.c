/*
 * Typed unmarshalling (common/mbuf.h): byte 0 picks an imsg type, the
 * rest is its payload, read field by field as common/proto.h documents
 * it, the way every receiver does (mreader_init, mr_*, mr_end).  Counts
 * are taken from the payload, so a huge n must stop at the first short
 * field.  fuzz_proto_decode() is shared with fuzz_imsg.c.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imsg.h"
#include "mbuf.h"
#include "proto.h"

/*
 * Payload layout per type: u = u32, U = u64, s = str, n(...) = u32 count
 * then that many groups, * = raw bytes (config text), "" = empty.
 */
static const char *const layout[IMSG_TYPE_COUNT] = {
	[IMSG_CONF_DATA] = "*",
	[IMSG_PEER_FD] = "u",
	[IMSG_LISTEN_FD] = "u",
	[IMSG_READY] = "us",
	[IMSG_LKA_RCPT] = "Ussss",
	[IMSG_LKA_RCPT_RESULT] = "Uusn(ss)",
	[IMSG_LKA_AUTH] = "Usss",
	[IMSG_LKA_AUTH_RESULT] = "Uu",
	[IMSG_QUEUE_CREATE] = "U",
	[IMSG_QUEUE_CREATE_OK] = "Us",
	[IMSG_QUEUE_CREATE_FAIL] = "U",
	[IMSG_QUEUE_COMMIT] = "UssssUuuusn(sssus)",
	[IMSG_QUEUE_COMMIT_OK] = "Us",
	[IMSG_QUEUE_COMMIT_FAIL] = "Us",
	[IMSG_QUEUE_ABORT] = "Us",
	[IMSG_MTA_TRANSFER] = "Usssuun(s)",
	[IMSG_MTA_RESULT] = "Usn(us)",
	[IMSG_CTL_HELLO] = "u",
	[IMSG_CTL_DATA] = "s",
	[IMSG_CTL_END] = "us",
	[IMSG_LKA_ROUTE] = "Us",
	[IMSG_LKA_ROUTE_RESULT] = "Uus",
};

static char strbuf[4096];

/* Reads fields of fmt up to the matching ')' or the end; returns there. */
static const char *
decode_fields(struct mreader *mr, const char *fmt)
{
	const char *group;
	uint32_t n, i;

	while (*fmt != '\0' && *fmt != ')') {
		switch (*fmt++) {
		case 'u':
			(void)mr_u32(mr);
			break;
		case 'U':
			(void)mr_u64(mr);
			break;
		case 's':
			mr_str(mr, strbuf, sizeof(strbuf));
			if (!mr->err)
				FUZZ_ASSERT(strlen(strbuf) < sizeof(strbuf));
			break;
		case 'n':
			n = mr_u32(mr);
			group = fmt + 1;	/* past '(' */
			for (i = 0; i < n && !mr->err; i++)
				(void)decode_fields(mr, group);
			fmt = strchr(group, ')') + 1;	/* no nesting */
			break;
		default:
			abort();
		}
	}
	return fmt;
}

int
fuzz_proto_decode(const struct imsg *imsg)
{
	struct mreader mr;
	const char *fmt;
	size_t left;

	if (imsg->hdr.type >= IMSG_TYPE_COUNT)
		return -1;
	FUZZ_ASSERT(imsg_type_name(imsg->hdr.type) != NULL);
	fmt = layout[imsg->hdr.type] ? layout[imsg->hdr.type] : "";
	if (strcmp(fmt, "*") == 0)
		return 0;
	mreader_init(&mr, imsg);
	left = mr.left;
	(void)decode_fields(&mr, fmt);
	FUZZ_ASSERT(mr.left <= left);
	return mr_end(&mr);
}

int
fuzz_mbuf(const uint8_t *data, size_t size)
{
	struct imsg imsg;

	if (size < 1)
		return 0;
	memset(&imsg, 0, sizeof(imsg));
	imsg.fd = -1;
	imsg.hdr.type = data[0] % IMSG_TYPE_COUNT;
	imsg.hdr.len = IMSG_HDR_SIZE + size - 1;
	imsg.datalen = size - 1;
	/* an exact-size copy, so reading past the payload is caught */
	if (imsg.datalen > 0) {
		if ((imsg.data = malloc(imsg.datalen)) == NULL)
			abort();
		memcpy(imsg.data, data + 1, imsg.datalen);
	}
	(void)fuzz_proto_decode(&imsg);
	free(imsg.data);
	return 0;
}
