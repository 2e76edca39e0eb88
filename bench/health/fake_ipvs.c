/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/health/fake_ipvs.c: LD_PRELOAD shim for the benchmark only. The host
 * kernel has no IPVS, and keepalived's checker process exits when it cannot
 * program IPVS. This answers keepalived's IPVS socket options
 * (IPPROTO_IP, IP_VS_SO_*) as an empty IPVS 1.2.1 would, and accepts every
 * change without doing anything, so keepalived runs its real TCP_CHECK and
 * HTTP_GET checkers against real servers. Its netlink attempt fails (no
 * IPVS genl family) and keepalived falls back to these socket options.
 * Not part of directord; loaded only into keepalived by bench/health/run.sh.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define IP_VS_BASE_CTL (64 + 1024 + 64)
#define IP_VS_SO_GET_VERSION IP_VS_BASE_CTL
#define IP_VS_SO_GET_INFO (IP_VS_BASE_CTL + 1)
#define IP_VS_SO_GET_MAX (IP_VS_BASE_CTL + 7)
#define IP_VS_SO_SET_MAX (IP_VS_BASE_CTL + 15)

static int is_ipvs(int level, int optname, int max)
{
	return level == IPPROTO_IP && optname >= IP_VS_BASE_CTL && optname <= max;
}

int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)
{
	static int (*real)(int, int, int, void *, socklen_t *);
	if (!is_ipvs(level, optname, IP_VS_SO_GET_MAX)) {
		if (!real)
			real = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
		return real(fd, level, optname, optval, optlen);
	}
	/* Empty answers: no services, no destinations, zero timeouts. */
	memset(optval, 0, *optlen);
	if (optname == IP_VS_SO_GET_VERSION) {
		snprintf(optval, *optlen, "IP Virtual Server version 1.2.1 (size=4096)");
	} else if (optname == IP_VS_SO_GET_INFO && *optlen >= 12) {
		unsigned int *info = optval; /* version, conn table size, services */
		info[0] = 0x010201;
		info[1] = 4096;
	}
	return 0;
}

int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	static int (*real)(int, int, int, const void *, socklen_t);
	if (!is_ipvs(level, optname, IP_VS_SO_SET_MAX)) {
		if (!real)
			real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
		return real(fd, level, optname, optval, optlen);
	}
	return 0;
}
