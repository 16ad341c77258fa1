/*
 * The envelope record: what queued knows about one message besides its
 * body.  envelope_encode() writes it as text, envelope_decode() reads it
 * back and rejects anything that envelope_encode() could not have written.
 * The format is described at the top of envelope.c.
 */
#ifndef MXGATE_ENVELOPE_H
#define MXGATE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define ENVELOPE_VERSION	2		/* written; 1 is still read */

#define QUEUE_ID_LEN		12		/* uppercase hex digits */

/* Longest values, decoded, including the NUL. */
#define ENVELOPE_ADDR_MAX	1024		/* sender, rcpt, orig rcpt */
#define ENVELOPE_HELO_MAX	1024
#define ENVELOPE_CLIENT_MAX	256
#define ENVELOPE_RELAY_MAX	1024
#define ENVELOPE_REPLY_MAX	1024		/* last reply for a recipient */
#define ENVELOPE_ENVID_MAX	101		/* ENVID=, decoded */
#define ENVELOPE_ORCPT_MAX	1024		/* ORCPT=, "type;addr" decoded */
#define ENVELOPE_RCPT_MAX	100000
#define ENVELOPE_FILE_MAX	(64 * 1024 * 1024)

enum rcpt_state {
	RCPT_PENDING,		/* to be delivered (queued or deferred) */
	RCPT_SENT,		/* the next hop took it */
	RCPT_BOUNCED,		/* permanent failure */
	RCPT_EXPIRED		/* temporary failures beyond the queue lifetime */
};

struct envelope_rcpt {
	char		*to;		/* final recipient, after aliases */
	char		*orig;		/* as the client gave it */
	char		*relay;		/* "smtp:[127.0.0.1]:2525", ... */
	char		*reply;		/* last reply from the next hop, "" */
	uint32_t	 notify;	/* DSN_NOTIFY_* (proto.h), 0 default */
	char		*orcpt;		/* ORCPT=, "" none */
	enum rcpt_state	 state;
	uint32_t	 tries;		/* temporary failures so far */
	int64_t		 next;		/* time of the next try (epoch s) */
	int		 inflight;	/* runtime only, never encoded */
};

struct envelope {
	char		 id[QUEUE_ID_LEN + 1];
	int64_t		 created;	/* epoch seconds */
	uint64_t	 size;		/* of the message file, bytes */
	char		*sender;	/* "" for the null sender */
	char		*helo;
	char		*client;	/* client address as smtpd gave it */
	/* ESMTP parameters of MAIL (enum values of proto.h) */
	uint32_t	 body;		/* enum msg_body */
	uint32_t	 smtputf8;	/* 0 or 1 */
	uint32_t	 ret;		/* enum dsn_ret */
	char		*envid;		/* ENVID=, "" none */
	uint32_t	 warned;	/* 1 once a delay DSN went out */
	size_t		 nrcpt;
	struct envelope_rcpt *rcpt;
};

/* 1 if s is a queue id: exactly QUEUE_ID_LEN of [0-9A-F]. */
int		 envelope_valid_id(const char *s);
/* Frees what the envelope points to (not the struct itself). */
void		 envelope_clear(struct envelope *);
/* envelope_clear() and free(); NULL is fine. */
void		 envelope_free(struct envelope *);
/* Recipients still in RCPT_PENDING. */
size_t		 envelope_pending(const struct envelope *);
const char	*envelope_state_name(enum rcpt_state);

/*
 * xtext-style escaping: every byte outside 0x21..0x7e, and '%', becomes
 * %XX (uppercase hex).  Returns a malloc'd string, NULL on ENOMEM.
 */
char		*envelope_escape(const char *);
/*
 * For log lines: copies src into dst (truncating to dstsz), bytes
 * outside 0x20..0x7e replaced by '?'.  Returns dst.
 */
char		*envelope_vis(char *dst, size_t dstsz, const char *src);

/*
 * The record as a malloc'd buffer (not NUL-terminated, *lenp bytes).
 * NULL with errno EINVAL if a value is over its limit or the envelope is
 * otherwise not one the decoder would accept, ENOMEM on allocation failure.
 */
char		*envelope_encode(const struct envelope *, size_t *lenp);

/*
 * Fills *env (which is overwritten) from a record.  0 on success; -1 on a
 * malformed record, with *why set to a static reason when why is not
 * NULL, and *env left empty.  On success free with envelope_clear().
 */
int		 envelope_decode(struct envelope *env, const char *buf,
		    size_t len, const char **why);

#endif
