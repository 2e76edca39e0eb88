/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/ecmp/fake_ipvs.c: LD_PRELOAD shim for the ECMP withdrawal benchmark
 * only (bench/ecmp/run.sh loads it into directord). The host kernel has no
 * IPVS, and directord refuses to start with services it cannot program.
 * The benchmark measures the control plane (when the router loses a next
 * hop), which needs the real health checker and quorum but no forwarding,
 * so this shim answers directord's IPVS generic-netlink socket as an empty
 * IPVS 1.2.1 would: the family resolves, GET_INFO has a version, every
 * change is acknowledged, every dump is empty. Writes to the IPVS sysctls
 * (/proc/sys/net/ipv4/vs/) go to /dev/null.
 *
 * How: when libnl resolves the family "IPVS", the socket's descriptor is
 * replaced by one end of a datagram socket pair; requests sent on it are
 * answered on the other end, so directord's own poll(2)/recv(2) read the
 * replies. Runs in directord's main thread (the only user of that socket).
 * Not part of directord.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

struct nl_sock;
extern int nl_socket_get_fd(const struct nl_sock *sk);

#define FAKE_FAMILY 0x3f0
#define VS_SYSCTL "/proc/sys/net/ipv4/vs/"

static int fake_fd = -1, peer_fd = -1;

int genl_ctrl_resolve(struct nl_sock *sk, const char *name)
{
	static int (*real)(struct nl_sock *, const char *);
	if (strcmp(name, IPVS_GENL_NAME) != 0) {
		if (!real)
			real = (int (*)(struct nl_sock *, const char *))dlsym(RTLD_NEXT, "genl_ctrl_resolve");
		return real(sk, name);
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	int fd = nl_socket_get_fd(sk);
	if (dup3(sv[0], fd, O_CLOEXEC) < 0)
		return -1;
	close(sv[0]);
	fake_fd = fd;
	peer_fd = sv[1];
	return FAKE_FAMILY;
}

static size_t put_msg(uint8_t *out, uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid, const void *pl,
		      size_t len)
{
	struct nlmsghdr h = { .nlmsg_len = (uint32_t)(NLMSG_HDRLEN + len), .nlmsg_type = type,
			      .nlmsg_flags = flags, .nlmsg_seq = seq, .nlmsg_pid = pid };
	memcpy(out, &h, sizeof(h));
	memcpy(out + NLMSG_HDRLEN, pl, len);
	return NLMSG_ALIGN(h.nlmsg_len);
}

static void flush(uint8_t *buf, size_t *len)
{
	if (*len)
		(void)send(peer_fd, buf, *len, 0);
	*len = 0;
}

/* The replies to one buffer of requests. */
static void answer(const uint8_t *buf, size_t len)
{
	static uint8_t out[32768];
	size_t n = 0;
	const struct nlmsghdr *h = (const void *)buf;
	int rem = (int)len;
	for (; NLMSG_OK(h, rem); h = NLMSG_NEXT(h, rem)) {
		if (n > sizeof(out) - 256)
			flush(out, &n);
		if (h->nlmsg_flags & NLM_F_DUMP) {
			int zero = 0;
			n += put_msg(out + n, NLMSG_DONE, NLM_F_MULTI, h->nlmsg_seq, h->nlmsg_pid, &zero, sizeof(zero));
			continue;
		}
		const struct genlmsghdr *g = NLMSG_DATA(h);
		if (h->nlmsg_type == FAKE_FAMILY && h->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN) &&
		    g->cmd == IPVS_CMD_GET_INFO) {
			uint8_t pl[GENL_HDRLEN + 2 * NLA_HDRLEN + 8];
			struct genlmsghdr rg = { .cmd = IPVS_CMD_GET_INFO, .version = 1 };
			memcpy(pl, &rg, sizeof(rg));
			struct nlattr a = { .nla_len = NLA_HDRLEN + 4, .nla_type = IPVS_INFO_ATTR_VERSION };
			uint32_t v = 0x010201, size = 4096;
			memcpy(pl + GENL_HDRLEN, &a, sizeof(a));
			memcpy(pl + GENL_HDRLEN + NLA_HDRLEN, &v, 4);
			a.nla_type = IPVS_INFO_ATTR_CONN_TAB_SIZE;
			memcpy(pl + GENL_HDRLEN + NLA_HDRLEN + 4, &a, sizeof(a));
			memcpy(pl + GENL_HDRLEN + 2 * NLA_HDRLEN + 4, &size, 4);
			n += put_msg(out + n, FAKE_FAMILY, 0, h->nlmsg_seq, h->nlmsg_pid, pl, sizeof(pl));
		}
		struct nlmsgerr e = { .error = 0, .msg = *h };
		n += put_msg(out + n, NLMSG_ERROR, 0, h->nlmsg_seq, h->nlmsg_pid, &e, sizeof(e));
	}
	flush(out, &n);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen)
{
	static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	if (fd >= 0 && fd == fake_fd) {
		answer(buf, len);
		return (ssize_t)len;
	}
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))dlsym(
			RTLD_NEXT, "sendto");
	return real(fd, buf, len, flags, to, tolen);
}

static const char *redirect(const char *path)
{
	return path && strncmp(path, VS_SYSCTL, strlen(VS_SYSCTL)) == 0 ? "/dev/null" : path;
}

int open(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	if (!real)
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	return real(redirect(path), flags, mode);
}

int open64(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	if (!real)
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open64");
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	return real(redirect(path), flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	static int (*real)(int, const char *, int, ...);
	if (!real)
		real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	return real(dirfd, redirect(path), flags, mode);
}
