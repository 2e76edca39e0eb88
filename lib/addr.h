/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/addr.h: IPv4/IPv6 addresses as plain values: parse, format, compare.
 * No state; any thread. */
#ifndef DD_LIB_ADDR_H
#define DD_LIB_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct dd_addr {
	int family; /* AF_INET, AF_INET6, or 0 for "unset" */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	} u;
};

/* "IP:PORT" or "[IPv6]:PORT" fits in this. */
#define DD_ADDR_STRLEN (INET6_ADDRSTRLEN + 8)

bool dd_addr_parse(const char *s, struct dd_addr *out);
/* "ADDR/PREFIX"; a missing prefix means a host prefix (32 or 128). */
bool dd_prefix_parse(const char *s, struct dd_addr *out, int *prefix);
const char *dd_addr_str(const struct dd_addr *a, char *buf, size_t len);
/* "1.2.3.4:80" or "[2001:db8::1]:80" */
const char *dd_addr_port_str(const struct dd_addr *a, uint16_t port, char *buf, size_t len);
int dd_addr_cmp(const struct dd_addr *a, const struct dd_addr *b);
bool dd_addr_eq(const struct dd_addr *a, const struct dd_addr *b);
size_t dd_addr_len(const struct dd_addr *a); /* 4, 16 or 0 */
int dd_addr_max_prefix(const struct dd_addr *a);

/* Conversions for socket calls. Return the sockaddr length. */
socklen_t dd_addr_to_sockaddr(const struct dd_addr *a, uint16_t port,
			      struct sockaddr_storage *ss);
bool dd_addr_from_sockaddr(const struct sockaddr *sa, struct dd_addr *a, uint16_t *port);

#endif
