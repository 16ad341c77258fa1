/*
 * IPv4 and IPv6 addresses and CIDR prefixes, the one parser for them:
 * the config grammar checks `relay from` entries with it and lookupd
 * matches clients with it, so a network the config accepts is a network
 * lookupd can load.
 */
#ifndef MXGATE_NETADDR_H
#define MXGATE_NETADDR_H

#include <stddef.h>
#include <stdint.h>

struct netaddr {
	int		family;		/* AF_INET, AF_INET6 */
	uint8_t		addr[16];
	unsigned	prefix;
};

struct netlist {
	struct netaddr	*v;
	size_t		 n, cap;
};

/* A numeric host address (client addresses): 0 or -1. */
int	netaddr_host(const char *, struct netaddr *);
/* An address or prefix; host bits past the prefix are an error. */
int	netaddr_parse(const char *, struct netaddr *, char *why, size_t whysz);
int	netaddr_match(const struct netaddr *net, const struct netaddr *addr);
int	netlist_add(struct netlist *, const char *, char *why, size_t whysz);
int	netlist_match(const struct netlist *, const struct netaddr *);
void	netlist_free(struct netlist *);

#endif
