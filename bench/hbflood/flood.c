/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/hbflood/flood.c: a paced flood of keepalives that fail
 * authentication, spoofed from the peer's address, for the heartbeat flood
 * benchmark (bench/hbflood/run.py). Single-threaded, blocking sendmmsg.
 *
 *   flood dd  SRC DST RATE SECONDS   directord keepalives (UDP 7694, protocol
 *                                    version 2, a valid header and a wrong
 *                                    HMAC: the receiver pays the HMAC)
 *   flood vrrp SRC DST RATE SECONDS  VRRPv2 adverts for VRID 51 with a wrong
 *                                    PASS password (IP protocol 112)
 *
 * Raw IPv4 sockets with IP_HDRINCL, so the source is the peer's address and
 * the packets reach the receiver's own checks. Prints "sent N" at the end. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)(b[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

/* A keepalive from "lb1" for cluster "web", active, as the protocol
 * document lays it out, with 32 bytes of zeros where the HMAC goes. */
static size_t dd_payload(uint8_t *p, uint64_t seq)
{
	const char *node = "lb1", *cl = "web";
	size_t nl = strlen(node), cll = strlen(cl);
	size_t len = 44 + nl + 1 + cll + 4 + 32;
	memset(p, 0, len);
	memcpy(p, "DDHB", 4);
	p[4] = 2;
	p[5] = 1;
	put16(p + 6, (uint16_t)len);
	put64(p + 8, 1ull << 40);
	put64(p + 16, seq);
	put32(p + 24, 50);
	put32(p + 28, 200);
	p[33] = 1;
	p[34] = (uint8_t)nl;
	memcpy(p + 44, node, nl);
	uint8_t *c = p + 44 + nl;
	*c++ = (uint8_t)cll;
	memcpy(c, cl, cll);
	c += cll;
	*c++ = 2;   /* active */
	*c++ = 150;
	return len;
}

static size_t vrrp_payload(uint8_t *p, struct in_addr vip)
{
	memset(p, 0, 28);
	p[0] = 0x21;        /* version 2, advertisement */
	p[1] = 51;          /* VRID */
	p[2] = 150;         /* priority */
	p[3] = 1;           /* one address */
	p[4] = 1;           /* auth type: simple password */
	p[5] = 1;           /* advert interval, s */
	memcpy(p + 8, &vip, 4);
	memcpy(p + 12, "wrongpw!", 8);
	put16(p + 6, csum(p, 20));
	return 20;
}

int main(int argc, char **argv)
{
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: flood dd|vrrp SRC DST RATE SECONDS [VIP]\n");
		return 2;
	}
	int vrrp = strcmp(argv[1], "vrrp") == 0;
	struct in_addr src, dst, vip = { 0 };
	if (!inet_pton(AF_INET, argv[2], &src) || !inet_pton(AF_INET, argv[3], &dst) ||
	    (argc == 7 && !inet_pton(AF_INET, argv[6], &vip))) {
		fprintf(stderr, "flood: bad address\n");
		return 2;
	}
	double rate = atof(argv[4]), secs = atof(argv[5]);
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("flood: raw socket");
		return 1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one);
	static uint8_t pkt[BATCH][256];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst };
	memset(msgs, 0, sizeof msgs);
	uint64_t seq = 1, sent = 0;
	double start = now(), end = start + secs;
	while (now() < end) {
		for (int i = 0; i < BATCH; i++) {
			uint8_t *p = pkt[i];
			struct iphdr *ip = (struct iphdr *)p;
			size_t body;
			memset(ip, 0, sizeof *ip);
			ip->version = 4;
			ip->ihl = 5;
			ip->id = htons((uint16_t)seq);
			ip->saddr = src.s_addr;
			ip->daddr = dst.s_addr;
			if (vrrp) {
				ip->ttl = 255;
				ip->protocol = 112;
				body = vrrp_payload(p + 20, vip);
			} else {
				ip->ttl = 64;
				ip->protocol = IPPROTO_UDP;
				uint8_t *u = p + 20;
				body = 8 + dd_payload(u + 8, seq);
				put16(u, 7694);
				put16(u + 2, 7694);
				put16(u + 4, (uint16_t)body);
				put16(u + 6, 0); /* no UDP checksum: allowed for IPv4 */
			}
			seq++;
			ip->tot_len = htons((uint16_t)(20 + body));
			ip->check = 0;
			ip->check = htons(csum(ip, 20));
			iov[i].iov_base = p;
			iov[i].iov_len = 20 + body;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &to;
			msgs[i].msg_hdr.msg_namelen = sizeof to;
		}
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0)
			sent += (uint64_t)n;
		else if (n < 0 && errno != ENOBUFS && errno != EAGAIN) {
			perror("flood: sendmmsg");
			return 1;
		}
		/* Pace on an absolute clock: the rate is an average, in bursts
		 * of BATCH, like a real flood. */
		double due = start + (double)sent / rate;
		double wait = due - now();
		if (wait > 0) {
			struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
	printf("sent %llu in %.2f s\n", (unsigned long long)sent, now() - start);
	return 0;
}
