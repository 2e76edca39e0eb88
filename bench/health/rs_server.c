/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench/health/rs_server.c: the real servers of the health benchmark. One
 * epoll loop, one thread, listening on N consecutive ports of the wildcard
 * address, so that A addresses x N ports of its namespace are A*N real
 * servers. It answers TCP connects (accept, then close) and HTTP GETs (a
 * 200 "ok"), and it measures, per checking director (by source address),
 * how regular the checks of each real server are: the gap between two
 * consecutive connections to the same address:port, minus the nominal
 * period. That is the timer slip as a real server sees it, measured the
 * same way for directord and keepalived.
 *
 *   rs_server BASE_ADDR N_ADDRS BASE_PORT N_PORTS PERIOD_MS
 * SIGUSR1 prints the figures since the last SIGUSR1 and starts afresh;
 * SIGTERM prints them and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PEERS 4
#define BUCKET_MS 0.1
#define BUCKETS 100001 /* 0..10 s */

struct peer {
	uint32_t addr;       /* network order; 0 = free */
	double *last;        /* per real server: last connection time */
	uint32_t *hist;
	uint64_t n, conns, http;
	double max;
};

static struct peer peers[MAX_PEERS];
static uint32_t base_addr;
static unsigned n_addrs, base_port, n_ports;
static double period;
static volatile sig_atomic_t want_report, want_exit;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct peer *peer_for(uint32_t a)
{
	for (int i = 0; i < MAX_PEERS; i++) {
		if (peers[i].addr == a)
			return &peers[i];
		if (!peers[i].addr) {
			peers[i].addr = a;
			peers[i].last = calloc((size_t)n_addrs * n_ports, sizeof(double));
			peers[i].hist = calloc(BUCKETS, sizeof(uint32_t));
			return &peers[i];
		}
	}
	return NULL;
}

static void note(struct sockaddr_in *local, struct sockaddr_in *remote, double t)
{
	struct peer *p = peer_for(remote->sin_addr.s_addr);
	if (!p)
		return;
	p->conns++;
	uint32_t ai = ntohl(local->sin_addr.s_addr) - base_addr;
	unsigned pi = ntohs(local->sin_port) - base_port;
	if (ai >= n_addrs || pi >= n_ports)
		return;
	size_t k = (size_t)ai * n_ports + pi;
	if (p->last[k] > 0) {
		double slip_ms = fabs(t - p->last[k] - period) * 1000.0;
		size_t b = (size_t)(slip_ms / BUCKET_MS);
		p->hist[b < BUCKETS ? b : BUCKETS - 1]++;
		p->n++;
		if (slip_ms > p->max)
			p->max = slip_ms;
	}
	p->last[k] = t;
}

static double quantile(const struct peer *p, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)p->n), acc = 0;
	for (size_t b = 0; b < BUCKETS; b++) {
		acc += p->hist[b];
		if (acc >= want && want)
			return (double)(b + 1) * BUCKET_MS;
	}
	return 0;
}

static void report(void)
{
	for (int i = 0; i < MAX_PEERS && peers[i].addr; i++) {
		struct peer *p = &peers[i];
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &p->addr, a, sizeof a);
		printf("RS peer=%s conns=%llu http=%llu gaps=%llu slip_p50_ms=%.1f slip_p99_ms=%.1f slip_max_ms=%.1f\n",
		       a, (unsigned long long)p->conns, (unsigned long long)p->http,
		       (unsigned long long)p->n, quantile(p, 0.5), quantile(p, 0.99), p->max);
		memset(p->hist, 0, BUCKETS * sizeof(uint32_t));
		p->n = p->conns = p->http = 0;
		p->max = 0;
	}
	printf("RS END\n");
	fflush(stdout);
}

static void on_sig(int s)
{
	if (s == SIGUSR1)
		want_report = 1;
	else
		want_exit = 1;
}

#define TAG_CONN 0x100000000ULL

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: rs_server BASE_ADDR N_ADDRS BASE_PORT N_PORTS PERIOD_MS\n");
		return 2;
	}
	struct in_addr ba;
	if (inet_pton(AF_INET, argv[1], &ba) != 1)
		return 2;
	base_addr = ntohl(ba.s_addr);
	n_addrs = (unsigned)atoi(argv[2]);
	base_port = (unsigned)atoi(argv[3]);
	n_ports = (unsigned)atoi(argv[4]);
	period = atof(argv[5]) / 1000.0;
	struct sigaction sa = { .sa_handler = on_sig };
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (unsigned i = 0; i < n_ports; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(base_port + i)) };
		if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 4096) < 0) {
			perror("bind/listen");
			return 1;
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)fd };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
	printf("RS READY\n");
	fflush(stdout);
	struct epoll_event evs[256];
	char buf[4096];
	while (!want_exit) {
		if (want_report) {
			want_report = 0;
			report();
		}
		int n = epoll_wait(ep, evs, 256, 200);
		double t = now_s();
		for (int i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			int fd = (int)(d & 0xffffffffu);
			if (!(d & TAG_CONN)) {
				for (;;) {
					struct sockaddr_in remote, local;
					socklen_t rl = sizeof remote, ll = sizeof local;
					int c = accept4(fd, (struct sockaddr *)&remote, &rl, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (c < 0)
						break;
					getsockname(c, (struct sockaddr *)&local, &ll);
					note(&local, &remote, t);
					struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
								  .data.u64 = TAG_CONN | (uint64_t)c };
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			ssize_t r = read(fd, buf, sizeof buf);
			if (r > 0 && memmem(buf, (size_t)r, "\r\n\r\n", 4)) {
				struct sockaddr_in remote;
				socklen_t rl = sizeof remote;
				getpeername(fd, (struct sockaddr *)&remote, &rl);
				struct peer *p = peer_for(remote.sin_addr.s_addr);
				if (p)
					p->http++;
				ssize_t w = write(fd, reply, sizeof reply - 1);
				(void)w;
				/* Close as "Connection: close" says: keepalived's
				 * HTTP_GET reads until the server closes. */
			} else if (r > 0 || (r < 0 && errno == EAGAIN)) {
				continue;
			}
			close(fd); /* closing removes it from the epoll set */
		}
	}
	report();
	return 0;
}
