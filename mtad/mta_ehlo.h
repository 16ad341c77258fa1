/*
 * What a server's EHLO reply offers that mtad uses.  Pure.
 */
#ifndef MXGATE_MTA_EHLO_H
#define MXGATE_MTA_EHLO_H

#define MTA_EXT_PIPELINING	0x01	/* RFC 2920 */
#define MTA_EXT_SIZE		0x02	/* RFC 1870 */
#define MTA_EXT_STARTTLS	0x04	/* RFC 3207 */
#define MTA_EXT_8BITMIME	0x08	/* RFC 6152 */
#define MTA_EXT_SMTPUTF8	0x10	/* RFC 6531 */

struct mta_ehlo {
	unsigned		 ext;		/* MTA_EXT_* */
	unsigned long long	 maxsize;	/* SIZE, 0: none given */
};

/*
 * From the reply as mta_reply.h keeps it: the lines joined by a space,
 * "250-mx.example.com 250-PIPELINING 250 SIZE 1000".  The first line
 * (the server's name) is no keyword.
 */
void	mta_ehlo_parse(struct mta_ehlo *, const char *text);

#endif
