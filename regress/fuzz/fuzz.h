/*
 * libFuzzer harnesses, one per parser.  Each body is a plain function
 * fuzz_<name>(data, size) so it serves two drivers:
 *   - fuzz_main.c: LLVMFuzzerTestOneInput, built by regress/fuzz/run with
 *     -DFUZZ_TARGET=fuzz_<name> (clang -fsanitize=fuzzer,address,undefined);
 *   - regress/unit/test_fuzz_corpus.c: replays every file in corpus/<name>/ and
 *     crashes/<name>/ through the same functions under `make check`.
 * A harness abort()s when a documented guarantee of its parser is broken,
 * so invariant violations count as crashes, not just memory errors.
 */
#ifndef MXGATE_FUZZ_H
#define MXGATE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct imsg;

int	fuzz_smtp_cmd(const uint8_t *, size_t);
int	fuzz_smtp_data(const uint8_t *, size_t);
int	fuzz_addr(const uint8_t *, size_t);
int	fuzz_mta_reply(const uint8_t *, size_t);
int	fuzz_mta_relay(const uint8_t *, size_t);
int	fuzz_mta_dns(const uint8_t *, size_t);
int	fuzz_imsg(const uint8_t *, size_t);
int	fuzz_mbuf(const uint8_t *, size_t);
int	fuzz_conf(const uint8_t *, size_t);
int	fuzz_tablefile(const uint8_t *, size_t);
int	fuzz_envelope(const uint8_t *, size_t);
int	fuzz_smtp_bdat(const uint8_t *, size_t);
int	fuzz_bounce(const uint8_t *, size_t);
int	fuzz_smtp_auth(const uint8_t *, size_t);
int	fuzz_ldap_conf(const uint8_t *, size_t);

/* fuzz_mbuf.c: unmarshals one payload as proto.h says for its type. */
int	fuzz_proto_decode(const struct imsg *);

/* A NUL-terminated malloc'd copy, cut at the first NUL; abort()s on ENOMEM. */
char	*fuzz_strndup(const uint8_t *, size_t);
/* abort() with a message when cond is false. */
#define FUZZ_ASSERT(cond)	fuzz_assert((cond), #cond, __FILE__, __LINE__)
void	fuzz_assert(int, const char *, const char *, int);

#endif
