/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directorctl: the operator's client for directord's control socket.
 * Sends one request line, prints the reply, and turns the reply's status
 * word into the exit status. Single-threaded, blocking I/O with a deadline.
 * The protocol is described in directord/ctl.h and directorctl(8). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET RUNSTATEDIR "/directord.sock"
#define REQ_MAX 4096

enum {
	EX_OK = 0, EX_FAILED = 1, EX_USAGE = 2, EX_NOCONN = 3, EX_DENIED = 4, EX_UNAVAIL = 5,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: directorctl [-s SOCKET] [-T SECONDS] [--json] COMMAND [ARGS]\n"
		"commands:\n"
		"  status [CLUSTER]            roles, peers, links, services, real servers\n"
		"  metrics                     Prometheus text exposition\n"
		"  takeover CLUSTER            become active for CLUSTER (planned)\n"
		"  release CLUSTER             hand CLUSTER over to the peer (planned)\n"
		"  drain [SERVICE] SERVER      maintenance: weight 0 until enabled\n"
		"  enable [SERVICE] SERVER     end maintenance\n"
		"  drain-director              ECMP: withdraw every VIP, serve what is established\n"
		"  undrain-director            ECMP: announce the healthy VIPs again\n"
		"  reload                      reload the configuration (like SIGHUP)\n"
		"  plan [FILE]                 IPVS and VIP changes a reload would make\n"
		"  check [FILE]                test a configuration file\n"
		"  version                     the daemon's version\n"
		"options:\n"
		"  -s, --socket SOCKET  control socket (default " DEFAULT_SOCKET ")\n"
		"  -T SECONDS           give up after this long (default 30)\n"
		"  -j, --json           JSON output (read commands and errors)\n"
		"  -V, --version        directorctl's version (`version` asks the daemon)\n"
		"  -h, --help           this help\n"
		"exit status: 0 ok, 1 failed, 2 usage, 3 no daemon/busy/timeout,\n"
		"             4 permission denied, 5 not available in this build\n");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for `events` on fd until the deadline; 0 ready, -1 timed out. */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - now_s();
		if (left <= 0)
			return -1;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int status_exit(const char *word)
{
	static const struct { const char *w; int ex; } map[] = {
		{ "ok", EX_OK }, { "failed", EX_FAILED }, { "usage", EX_USAGE },
		{ "denied", EX_DENIED }, { "unavailable", EX_UNAVAIL }, { "busy", EX_NOCONN },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].w, word) == 0)
			return map[i].ex;
	return -1;
}

/* Everything until the server closes; NULL (after a message) on error. */
static char *read_reply(int fd, const char *sock, double deadline, double timeout, size_t *rlen)
{
	size_t cap = 65536;
	char *resp = malloc(cap);
	*rlen = 0;
	while (resp) {
		if (wait_fd(fd, POLLIN, deadline) < 0) {
			fprintf(stderr, "directorctl: no reply from %s within %.0f s\n", sock, timeout);
			break;
		}
		if (*rlen == cap) {
			cap *= 2;
			char *p = realloc(resp, cap);
			if (!p)
				break;
			resp = p;
		}
		ssize_t r = recv(fd, resp + *rlen, cap - *rlen, MSG_DONTWAIT);
		if (r == 0)
			return resp;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fprintf(stderr, "directorctl: receive: %s\n", strerror(errno));
			break;
		}
		*rlen += (size_t)r;
	}
	free(resp);
	return NULL;
}

static void indent(FILE *out, int depth)
{
	fputc('\n', out);
	for (int i = 0; i < depth; i++)
		fputs("  ", out);
}

/* The daemon sends some documents compact (status: half the bytes and
 * half the time on its loop with 10,000 real servers); people get every
 * one indented like the daemon's pretty form: two spaces, one member per
 * line, "[]" and "{}" when empty. Whitespace outside strings is dropped
 * and re-made, so a document that came indented comes out the same. */
static void print_json(FILE *out, const char *s, size_t n)
{
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '"') {
			size_t j = i + 1;
			while (j < n && s[j] != '"')
				j += s[j] == '\\' ? 2 : 1;
			fwrite(s + i, 1, (j < n ? j + 1 : n) - i, out);
			i = j;
			continue;
		}
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
			continue;
		bool closed = false;
		if (c == '{' || c == '[') {
			size_t j = i + 1;
			while (j < n && (s[j] == ' ' || s[j] == '\n' || s[j] == '\t' || s[j] == '\r'))
				j++;
			fputc(c, out);
			if (j < n && s[j] == (c == '{' ? '}' : ']')) {
				fputc(s[j], out);
				i = j;
				closed = true;
			} else {
				indent(out, ++depth);
			}
		} else if (c == '}' || c == ']') {
			indent(out, depth > 0 ? --depth : 0);
			fputc(c, out);
			closed = true;
		} else if (c == ',') {
			fputc(',', out);
			indent(out, depth);
		} else if (c == ':') {
			fputs(": ", out);
		} else {
			fputc(c, out);
		}
		if (closed && depth == 0)
			fputc('\n', out);
	}
}

/* Prints the body where it belongs; returns the exit status. */
static int print_reply(char *resp, size_t rlen, const char *sock, bool json)
{
	char *nl = memchr(resp, '\n', rlen);
	if (!nl) {
		fprintf(stderr, "directorctl: malformed reply from %s (did directord stop?)\n", sock);
		return EX_FAILED;
	}
	*nl = '\0';
	int ex = status_exit(resp);
	if (ex < 0) {
		fprintf(stderr, "directorctl: unknown reply status '%.32s'\n", resp);
		return EX_FAILED;
	}
	const char *body = nl + 1;
	size_t blen = rlen - (size_t)(body - resp);
	/* Errors go to stderr for people; with --json the error document goes
	 * to stdout like any other, for the script that asked for it. */
	FILE *out = (ex == EX_OK || json) ? stdout : stderr;
	if (ex != EX_OK && !json)
		fputs("directorctl: ", out);
	if (json && blen && (body[0] == '{' || body[0] == '['))
		print_json(out, body, blen);
	else
		fwrite(body, 1, blen, out);
	fflush(out);
	return ex;
}

int main(int argc, char **argv)
{
	const char *sock = getenv("DIRECTORD_SOCKET");
	double timeout = 30;
	bool json = false;
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	/* "+": options end at the command, so arguments are never options. */
	while ((c = getopt_long(argc, argv, "+s:T:jhV", lopts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'T': {
			char *end;
			timeout = strtod(optarg, &end);
			if (*end || !(timeout > 0)) {
				fprintf(stderr, "directorctl: -T takes a positive number of seconds\n");
				return EX_USAGE;
			}
			break;
		}
		case 'j': json = true; break;
		case 'h': usage(stdout); return EX_OK;
		case 'V': puts("directorctl (" PACKAGE_STRING ")"); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (!sock || !*sock)
		sock = DEFAULT_SOCKET;
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}

	/* The request line. A trailing --json after the command is accepted
	 * too, as people type it there. File arguments of plan/check are made
	 * absolute: the daemon's working directory is "/". */
	char req[REQ_MAX + 1];
	size_t len = 0;
	const char *cmd = argv[optind];
	for (int i = optind; i < argc; i++) {
		const char *a = argv[i];
		char abs[PATH_MAX];
		if (strcmp(a, "--json") == 0 || strcmp(a, "-j") == 0) {
			json = true;
			continue;
		}
		if (i > optind && a[0] != '/' && (strcmp(cmd, "plan") == 0 || strcmp(cmd, "check") == 0)) {
			if (!realpath(a, abs)) {
				fprintf(stderr, "directorctl: %s: %s\n", a, strerror(errno));
				return EX_FAILED;
			}
			a = abs;
		}
		if (!*a || strpbrk(a, " \t\r\n")) {
			fprintf(stderr, "directorctl: argument '%s' is empty or has white space\n", a);
			return EX_USAGE;
		}
		int n = snprintf(req + len, sizeof req - len, "%s%s", len ? " " : "", a);
		if (n < 0 || (size_t)n >= sizeof req - len) {
			fprintf(stderr, "directorctl: request longer than %d bytes\n", REQ_MAX);
			return EX_USAGE;
		}
		len += (size_t)n;
	}
	int n = snprintf(req + len, sizeof req - len, "%s\n", json ? " --json" : "");
	if (n < 0 || (size_t)n >= sizeof req - len) {
		fprintf(stderr, "directorctl: request longer than %d bytes\n", REQ_MAX);
		return EX_USAGE;
	}
	len += (size_t)n;

	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(sock) >= sizeof sun.sun_path) {
		fprintf(stderr, "directorctl: socket path too long: %s\n", sock);
		return EX_USAGE;
	}
	memcpy(sun.sun_path, sock, strlen(sock));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		int e = errno;
		/* The socket is there but not ours to use: that is a matter of
		 * permission (control.group, control.mode), not a missing daemon. */
		bool denied = e == EACCES || e == EPERM;
		fprintf(stderr, "directorctl: cannot connect to %s: %s%s\n", sock, strerror(e),
			denied ? " (see control.group and control.mode in directord.conf(5))" :
			e == ENOENT || e == ECONNREFUSED ? " (is directord running?)" : "");
		return denied ? EX_DENIED : EX_NOCONN;
	}
	double deadline = now_s() + timeout;
	for (size_t off = 0; off < len;) {
		if (wait_fd(fd, POLLOUT, deadline) < 0) {
			fprintf(stderr, "directorctl: timed out sending to %s\n", sock);
			return EX_NOCONN;
		}
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "directorctl: send: %s\n", strerror(errno));
			return EX_NOCONN;
		}
		if (w > 0)
			off += (size_t)w;
	}

	/* The reply: status word, newline, body until the server closes. */
	size_t rlen = 0;
	char *resp = read_reply(fd, sock, deadline, timeout, &rlen);
	close(fd);
	if (!resp)
		return EX_NOCONN;
	int ex = print_reply(resp, rlen, sock, json);
	free(resp);
	return ex;
}
