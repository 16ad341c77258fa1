/*
 * Typed marshalling of imsg payloads.  Writers append fields; readers take
 * them back in the same order and finish with mr_end(), which fails unless
 * every byte was consumed and every field was well-formed.  Strings travel
 * as a u32 length and the bytes, never NUL-terminated on the wire; a NUL
 * inside a string is an error.
 */
#ifndef MXGATE_MBUF_H
#define MXGATE_MBUF_H

#include <stddef.h>
#include <stdint.h>

struct imsg;
struct imsgev;

struct mbuf {
	uint8_t	*buf;
	size_t	 len, cap;
	int	 err;			/* set on allocation failure */
};

void	mbuf_init(struct mbuf *);
void	mbuf_free(struct mbuf *);
void	mbuf_add_u32(struct mbuf *, uint32_t);
void	mbuf_add_u64(struct mbuf *, uint64_t);
void	mbuf_add_str(struct mbuf *, const char *);
void	mbuf_add_data(struct mbuf *, const void *, size_t);

struct mreader {
	const uint8_t	*p;
	size_t		 left;
	int		 err;		/* sticky: any short or bad field */
};

void		 mreader_init(struct mreader *, const struct imsg *);
uint32_t	 mr_u32(struct mreader *);
uint64_t	 mr_u64(struct mreader *);
/* Copies into dst (NUL-terminated); too long or containing NUL sets err. */
void		 mr_str(struct mreader *, char *dst, size_t dstsz);
/* 0 when every field was read cleanly and nothing is left, else -1. */
int		 mr_end(struct mreader *);

#endif
