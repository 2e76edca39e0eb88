/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/addr.c: see addr.h. No state; any thread. */
#include "config.h"
#include "lib/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dd_addr_parse(const char *s, struct dd_addr *out)
{
	memset(out, 0, sizeof *out);
	if (!s)
		return false;
	if (inet_pton(AF_INET, s, &out->u.v4) == 1) {
		out->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &out->u.v6) == 1) {
		out->family = AF_INET6;
		return true;
	}
	return false;
}

bool dd_prefix_parse(const char *s, struct dd_addr *out, int *prefix)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (!s || strlen(s) >= sizeof buf)
		return false;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (!dd_addr_parse(buf, out))
		return false;
	int max = dd_addr_max_prefix(out);
	if (!slash) {
		*prefix = max;
		return true;
	}
	char *end;
	long p = strtol(slash, &end, 10);
	if (*slash == '\0' || *end != '\0' || p < 0 || p > max)
		return false;
	*prefix = (int)p;
	return true;
}

/* IPv4 by hand: glibc's inet_ntop goes through sprintf, and a scrape
 * formats ten thousand addresses. */
static size_t v4_str(const struct in_addr *in, char *buf)
{
	const unsigned char *b = (const unsigned char *)&in->s_addr;
	size_t o = 0;
	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (i)
			buf[o++] = '.';
		if (v >= 100)
			buf[o++] = (char)('0' + v / 100);
		if (v >= 10)
			buf[o++] = (char)('0' + v / 10 % 10);
		buf[o++] = (char)('0' + v % 10);
	}
	buf[o] = '\0';
	return o;
}

const char *dd_addr_str(const struct dd_addr *a, char *buf, size_t len)
{
	if (a->family == AF_INET && len >= INET_ADDRSTRLEN)
		v4_str(&a->u.v4, buf);
	else if (!a->family || !inet_ntop(a->family, &a->u, buf, (socklen_t)len))
		snprintf(buf, len, "(none)");
	return buf;
}

const char *dd_addr_port_str(const struct dd_addr *a, uint16_t port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	if (a->family == AF_INET && len >= INET_ADDRSTRLEN + 6) {
		size_t o = v4_str(&a->u.v4, buf);
		char p[6];
		size_t n = 0;
		do {
			p[n++] = (char)('0' + port % 10);
			port /= 10;
		} while (port);
		buf[o++] = ':';
		while (n)
			buf[o++] = p[--n];
		buf[o] = '\0';
		return buf;
	}
	dd_addr_str(a, ip, sizeof ip);
	if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
	return buf;
}

size_t dd_addr_len(const struct dd_addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
}

int dd_addr_max_prefix(const struct dd_addr *a)
{
	return a->family == AF_INET6 ? 128 : 32;
}

int dd_addr_cmp(const struct dd_addr *a, const struct dd_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(&a->u, &b->u, dd_addr_len(a));
}

bool dd_addr_eq(const struct dd_addr *a, const struct dd_addr *b)
{
	return dd_addr_cmp(a, b) == 0;
}

socklen_t dd_addr_to_sockaddr(const struct dd_addr *a, uint16_t port,
			      struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = a->u.v4;
		return sizeof *sin;
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = a->u.v6;
		return sizeof *sin6;
	}
	return 0;
}

bool dd_addr_from_sockaddr(const struct sockaddr *sa, struct dd_addr *a, uint16_t *port)
{
	memset(a, 0, sizeof *a);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		a->u.v4 = sin->sin_addr;
		if (port)
			*port = ntohs(sin->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		a->family = AF_INET6;
		a->u.v6 = sin6->sin6_addr;
		if (port)
			*port = ntohs(sin6->sin6_port);
		return true;
	}
	return false;
}
