/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/failover/probe.c: send one ICMP echo request to a VIP every
 * millisecond, on an absolute clock, whatever the replies do.
 *
 * iputils ping slows down while replies are missing (exactly during a
 * failover), which made the measured gap jump in ~10 ms steps. This prober
 * keeps a fixed 1 ms pace; the replies are timestamped by tcpdump on the
 * client, so the prober never reads them. Single-threaded; runs until
 * SIGINT/SIGTERM or for the given number of seconds.
 *
 * usage: probe ADDRESS [SECONDS] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/ip_icmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static unsigned short csum(const void *p, size_t n)
{
	const unsigned short *w = p;
	unsigned long sum = 0;
	for (; n > 1; n -= 2)
		sum += *w++;
	if (n)
		sum += *(const unsigned char *)w;
	sum = (sum >> 16) + (sum & 0xffff);
	sum += sum >> 16;
	return (unsigned short)~sum;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: probe ADDRESS [SECONDS]\n");
		return 2;
	}
	struct sockaddr_in dst = { .sin_family = AF_INET };
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "probe: bad address %s\n", argv[1]);
		return 2;
	}
	double seconds = argc > 2 ? atof(argv[2]) : 600;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (fd < 0) {
		perror("probe: socket");
		return 1;
	}
	/* Replies are not read: a tiny receive buffer keeps them from piling up. */
	int small = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);

	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	long total = (long)(seconds * 1000);
	unsigned short id = (unsigned short)getpid();
	for (long seq = 0; !stop && seq < total; seq++) {
		struct { struct icmphdr h; char pad[16]; } pkt;
		memset(&pkt, 0, sizeof pkt);
		pkt.h.type = ICMP_ECHO;
		pkt.h.un.echo.id = htons(id);
		pkt.h.un.echo.sequence = htons((unsigned short)seq);
		pkt.h.checksum = csum(&pkt, sizeof pkt);
		(void)sendto(fd, &pkt, sizeof pkt, MSG_DONTWAIT, (struct sockaddr *)&dst, sizeof dst);
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	close(fd);
	return 0;
}
