/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/metrics.c: see metrics.h. The writer has no state beyond its
 * struct; the listener runs on the daemon's main libev loop. */
#include "config.h"
#include "directord/metrics.h"
#include "directord/ctl.h"
#include "directord/oneshot.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void dd_prom_init(struct dd_prom *p, struct dd_buf *out)
{
	p->out = out;
	p->family[0] = '\0';
}

void dd_prom_family(struct dd_prom *p, const char *name, const char *type, const char *help)
{
	if (strcmp(p->family, name) == 0)
		return;
	snprintf(p->family, sizeof p->family, "%s", name);
	dd_buf_printf(p->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* `{k="v",...` and, with `close`, the `}`. */
static void labels(struct dd_buf *out, va_list ap, bool close)
{
	bool first = true;
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		dd_buf_add(out, first ? "{" : ",", 1);
		first = false;
		dd_buf_puts(out, k);
		dd_buf_add(out, "=\"", 2);
		/* runs between the characters the format escapes */
		for (const char *s = v ? v : "";;) {
			size_t n = strcspn(s, "\\\"\n");
			dd_buf_add(out, s, n);
			s += n;
			if (!*s)
				break;
			dd_buf_add(out, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : "\\n", 2);
			s++;
		}
		dd_buf_add(out, "\"", 1);
	}
	if (!first && close)
		dd_buf_add(out, "}", 1);
}

void dd_prom_labels(struct dd_buf *out, ...)
{
	va_list ap;
	va_start(ap, out);
	labels(out, ap, false);
	va_end(ap);
}

void dd_prom_sample_pre(struct dd_prom *p, const char *name, const char *pre, size_t len,
			const char *extra, uint64_t value)
{
	dd_buf_puts(p->out, name);
	dd_buf_add(p->out, pre, len);
	if (extra)
		dd_buf_puts(p->out, extra);
	dd_buf_add(p->out, "} ", 2);
	dd_buf_u64(p->out, value);
	dd_buf_add(p->out, "\n", 1);
}

void dd_prom_sample(struct dd_prom *p, const char *name, double value, ...)
{
	va_list ap;
	va_start(ap, value);
	dd_buf_puts(p->out, name);
	labels(p->out, ap, true);
	va_end(ap);
	if (isnan(value))
		dd_buf_puts(p->out, " NaN\n");
	else if (isinf(value))
		dd_buf_puts(p->out, value > 0 ? " +Inf\n" : " -Inf\n");
	else
		dd_buf_printf(p->out, " %.9g\n", value);
}

void dd_prom_sample_u64(struct dd_prom *p, const char *name, uint64_t value, ...)
{
	va_list ap;
	va_start(ap, value);
	dd_buf_puts(p->out, name);
	labels(p->out, ap, true);
	va_end(ap);
	dd_buf_add(p->out, " ", 1);
	dd_buf_u64(p->out, value);
	dd_buf_add(p->out, "\n", 1);
}

/* ---- HTTP ------------------------------------------------------------ */

#define HTTP_HEAD_MAX 8192

size_t dd_http_head_complete(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

enum dd_http_verdict dd_http_route(const char *buf, size_t len, int *head_only)
{
	*head_only = 0;
	const char *end = memchr(buf, '\n', len);
	if (!end)
		return DD_HTTP_BAD_REQUEST;
	size_t ll = (size_t)(end - buf);
	if (ll > 0 && buf[ll - 1] == '\r')
		ll--;
	/* METHOD SP TARGET SP HTTP/1.x */
	const char *sp1 = memchr(buf, ' ', ll);
	if (!sp1)
		return DD_HTTP_BAD_REQUEST;
	const char *tgt = sp1 + 1;
	const char *sp2 = memchr(tgt, ' ', ll - (size_t)(tgt - buf));
	if (!sp2 || sp2 == tgt)
		return DD_HTTP_BAD_REQUEST;
	size_t vlen = ll - (size_t)(sp2 + 1 - buf);
	if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return DD_HTTP_BAD_REQUEST;
	size_t mlen = (size_t)(sp1 - buf);
	size_t tlen = (size_t)(sp2 - tgt);
	const char *q = memchr(tgt, '?', tlen);
	if (q)
		tlen = (size_t)(q - tgt);
	bool get = mlen == 3 && memcmp(buf, "GET", 3) == 0;
	bool head = mlen == 4 && memcmp(buf, "HEAD", 4) == 0;
	if (!get && !head)
		return DD_HTTP_BAD_METHOD;
	*head_only = head;
	if (tlen == 8 && memcmp(tgt, "/metrics", 8) == 0)
		return DD_HTTP_METRICS;
	if (tlen == 1 && tgt[0] == '/')
		return DD_HTTP_INDEX;
	return DD_HTTP_NOT_FOUND;
}

struct dd_metrics_http {
	struct dd_oneshot *srv;
	char *listen;
	dd_metrics_build_fn build;
	void *ctx;
};

static void http_reply(struct dd_buf *out, const char *status, const char *ctype,
		       const char *body, size_t blen, bool head_only)
{
	dd_buf_printf(out, "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n", status, ctype, blen);
	if (!head_only)
		dd_buf_add(out, body, blen);
}

void dd_metrics_http_ok(struct dd_buf *out, const struct dd_buf *body, bool head_only)
{
	http_reply(out, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
		   body->p ? body->p : "", body->len, head_only);
}

static void on_http(void *ctx, int fd, const char *buf, size_t len, bool eof, struct dd_buf *out)
{
	struct dd_metrics_http *m = ctx;
	static const struct { const char *status, *body; bool body_on_head; } fixed[] = {
		[DD_HTTP_INDEX] = { "200 OK", "directord: metrics are at /metrics\n", false },
		[DD_HTTP_NOT_FOUND] = { "404 Not Found", "not found; metrics are at /metrics\n", false },
		[DD_HTTP_BAD_METHOD] = { "405 Method Not Allowed", "only GET and HEAD\n", true },
		[DD_HTTP_BAD_REQUEST] = { "400 Bad Request", "bad request\n", true },
	};
	if (eof && len == 0)
		return;
	int head_only = 0;
	enum dd_http_verdict v = dd_http_route(buf, len, &head_only);
	if (v == DD_HTTP_METRICS) {
		struct dd_oneshot_ticket *t = dd_oneshot_defer(m->srv);
		if (t)
			m->build(m->ctx, head_only, t);
		else /* only inside a handler, once: cannot happen */
			http_reply(out, "500 Internal Server Error", "text/plain; charset=utf-8",
				   "internal error\n", 15, head_only);
		return;
	}
	/* A HEAD that is refused still gets its explanation. */
	http_reply(out, fixed[v].status, "text/plain; charset=utf-8", fixed[v].body,
		   strlen(fixed[v].body), head_only && !fixed[v].body_on_head);
}

struct dd_metrics_http *dd_metrics_http_new(struct ev_loop *loop, const char *listen_on,
					    unsigned max_clients, dd_metrics_build_fn build, void *ctx,
					    char **err)
{
	*err = NULL;
	struct dd_addr a;
	uint16_t port;
	struct dd_buf e = { 0 };
	if (!dd_ctl_parse_hostport(listen_on, &a, &port) || port == 0) {
		dd_buf_printf(&e, "metrics_listen '%s' is not IP:PORT or [IPv6]:PORT", listen_on);
		*err = dd_buf_take(&e);
		return NULL;
	}
	struct sockaddr_storage ss;
	socklen_t sl = dd_addr_to_sockaddr(&a, port, &ss);
	int fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    (a.family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		dd_buf_printf(&e, "cannot listen for metrics on %s: %s", listen_on, strerror(errno));
		*err = dd_buf_take(&e);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct dd_metrics_http *m = xcalloc(1, sizeof *m);
	m->listen = xstrdup(listen_on);
	m->build = build;
	m->ctx = ctx;
	struct dd_oneshot_params p = {
		.name = "metrics",
		.max_request = HTTP_HEAD_MAX,
		.timeout_s = 5.0,
		.idle_s = 2.0,
		.max_conns = max_clients,
		.complete = dd_http_head_complete,
		.handle = on_http,
		.ctx = m,
		.too_long = "HTTP/1.0 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
			    "Connection: close\r\n\r\n",
		.busy = "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n"
			"Connection: close\r\n\r\n",
		.timed_out = "HTTP/1.0 408 Request Timeout\r\nContent-Length: 0\r\n"
			     "Connection: close\r\n\r\n",
	};
	m->srv = dd_oneshot_new(loop, fd, &p);
	log_info("metrics", "serving Prometheus metrics on http://%s/metrics", listen_on);
	return m;
}

void dd_metrics_http_free(struct dd_metrics_http *m)
{
	if (!m)
		return;
	dd_oneshot_free(m->srv);
	free(m->listen);
	free(m);
}

void dd_metrics_http_set_limits(struct dd_metrics_http *m, unsigned max_clients)
{
	dd_oneshot_set_limits(m->srv, max_clients, 0);
}

const char *dd_metrics_http_listen(const struct dd_metrics_http *m)
{
	return m->listen;
}
