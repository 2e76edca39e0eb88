/* SPDX-License-Identifier: GPL-2.0-or-later */
/* health/probe.c: one check attempt, driven by libev watchers on the
 * checker's loop (the daemon's main loop). Nothing here blocks: connects,
 * TLS handshakes, reads and child processes are all watched, and one timer
 * bounds the whole attempt.
 *
 * Exec checks run `/bin/sh -c command` in a process group of their own, so
 * that a timeout can kill the command and everything it started, as the
 * script user and with only DD_RS_ADDR, DD_RS_PORT and PATH (lib/spawn.h).
 */
#include "config.h"
#include "health/probe.h"
#include "health/reply.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>


enum phase { PH_IDLE, PH_FAILED, PH_CONNECT, PH_TLS, PH_SEND, PH_RECV, PH_EXEC };

/* A body match reads at most this much of the reply. */
#define BODY_READ_MAX (1024 * 1024)

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void timed_out(struct dd_probe *p);

/* ---- TLS contexts ------------------------------------------------------ */

static SSL_CTX *tls_ctx_new(const char *ca_file)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	if (!c)
		return NULL;
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* Servers that close without close_notify after "Connection: close"
	 * have still answered. */
	SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	if (ca_file) {
		if (SSL_CTX_load_verify_locations(c, ca_file, NULL) != 1)
			log_err("health", "cannot load CA file %s: %s", ca_file,
				ERR_reason_error_string(ERR_get_error()));
	} else {
		SSL_CTX_set_default_verify_paths(c);
	}
	ERR_clear_error();
	return c;
}

static SSL_CTX *tls_ctx_for(struct dd_probe_ctx *c, const char *ca_file)
{
	if (!ca_file) {
		if (!c->tls_default)
			c->tls_default = tls_ctx_new(NULL);
		return c->tls_default;
	}
	for (struct tls_ca *t = c->tls_by_ca; t; t = t->next)
		if (strcmp(t->ca_file, ca_file) == 0)
			return t->ctx;
	struct tls_ca *t = xcalloc(1, sizeof *t);
	t->ca_file = xstrdup(ca_file);
	t->ctx = tls_ctx_new(ca_file);
	t->next = c->tls_by_ca;
	c->tls_by_ca = t;
	return t->ctx;
}

void dd_probe_ctx_init(struct dd_probe_ctx *c, struct ev_loop *loop)
{
	memset(c, 0, sizeof *c);
	c->loop = loop;
	c->rand_state = (uint32_t)mono_us() ^ (uint32_t)getpid() << 16;
	if (!c->rand_state)
		c->rand_state = 1;
}

void dd_probe_ctx_cleanup(struct dd_probe_ctx *c)
{
	while (c->deadlines) {
		struct dd_probe_deadlines *q = c->deadlines;
		c->deadlines = q->next;
		ev_timer_stop(c->loop, &q->w);
		free(q);
	}
	SSL_CTX_free(c->tls_default);
	while (c->tls_by_ca) {
		struct tls_ca *t = c->tls_by_ca;
		c->tls_by_ca = t->next;
		SSL_CTX_free(t->ctx);
		free(t->ca_file);
		free(t);
	}
}

static uint16_t next_rand16(struct dd_probe_ctx *c)
{
	uint32_t x = c->rand_state; /* xorshift32: ids only need to differ */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	c->rand_state = x;
	return (uint16_t)(x >> 8);
}

/* ---- deadlines ---------------------------------------------------------- */

static void deadline_unlink(struct dd_probe *p)
{
	struct dd_probe_deadlines *q = p->dlq;
	if (!q)
		return;
	if (p->dl_prev)
		p->dl_prev->dl_next = p->dl_next;
	else
		q->head = p->dl_next;
	if (p->dl_next)
		p->dl_next->dl_prev = p->dl_prev;
	else
		q->tail = p->dl_prev;
	p->dl_prev = p->dl_next = NULL;
	p->dlq = NULL;
	/* The timer stays armed for the old head: when it fires it finds the
	 * next deadline and re-arms, once per timeout rather than per probe. */
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dd_probe_deadlines *q = w->data;
	ev_tstamp now = ev_now(loop);
	/* timed_out() may let a probe finish: take each off the queue first. */
	while (q->head && q->head->deadline <= now + 1e-4) {
		struct dd_probe *p = q->head;
		deadline_unlink(p);
		timed_out(p);
	}
	if (q->head) {
		ev_timer_set(w, q->head->deadline - now, 0.);
		ev_timer_start(loop, w);
	}
}

static void deadline_add(struct dd_probe *p)
{
	struct dd_probe_ctx *c = p->ctx;
	struct dd_probe_deadlines *q = c->deadlines;
	while (q && q->timeout_ms != p->chk->timeout_ms)
		q = q->next;
	if (!q) {
		q = xcalloc(1, sizeof *q);
		q->timeout_ms = p->chk->timeout_ms;
		ev_init(&q->w, deadline_cb);
		q->w.data = q;
		q->next = c->deadlines;
		c->deadlines = q;
	}
	p->deadline = ev_now(c->loop) + p->chk->timeout_ms / 1000.0;
	p->dlq = q;
	p->dl_next = NULL;
	p->dl_prev = q->tail;
	if (q->tail)
		q->tail->dl_next = p;
	else
		q->head = p;
	q->tail = p;
	if (!ev_is_active(&q->w)) {
		ev_timer_set(&q->w, p->chk->timeout_ms / 1000.0, 0.);
		ev_timer_start(c->loop, &q->w);
	}
}

/* ---- finishing --------------------------------------------------------- */

static void release(struct dd_probe *p)
{
	struct ev_loop *loop = p->ctx->loop;
	ev_io_stop(loop, &p->io);
	ev_timer_stop(loop, &p->timeout);
	deadline_unlink(p);
	if (p->ssl) {
		/* Keep the session only from a handshake that completed; with
		 * TLS 1.3 the ticket arrives after it, so take it at the end. */
		if (p->phase == PH_RECV || p->phase == PH_SEND) {
			/* close_notify, sent once without waiting for the peer's:
			 * OpenSSL drops a session that ends without it. */
			ERR_clear_error();
			SSL_shutdown(p->ssl);
			SSL_SESSION *sess = SSL_get1_session(p->ssl);
			if (sess && SSL_SESSION_is_resumable(sess)) {
				SSL_SESSION_free(p->tls_session);
				p->tls_session = sess;
			} else {
				SSL_SESSION_free(sess);
			}
		}
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	free(p->buf);
	p->buf = NULL;
	p->len = p->cap = 0;
	free(p->req);
	p->req = NULL;
	if (p->running)
		p->ctx->in_flight--;
	p->running = false;
	p->phase = PH_IDLE;
}

static void finish(struct dd_probe *p, bool ok, const char *reason)
{
	if (reason != p->reason)
		snprintf(p->reason, sizeof p->reason, "%s", reason);
	release(p);
	p->done(p, ok, p->reason);
}

static void finishf(struct dd_probe *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void finishf(struct dd_probe *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof p->reason, fmt, ap);
	va_end(ap);
	finish(p, false, p->reason);
}

/* A failure found inside dd_probe_start is reported from the loop, so the
 * owner never sees its callback run inside its own call. */
static void fail_soon(struct dd_probe *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail_soon(struct dd_probe *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof p->reason, fmt, ap);
	va_end(ap);
	p->phase = PH_FAILED;
	ev_io_stop(p->ctx->loop, &p->io);
	deadline_unlink(p);
	ev_timer_stop(p->ctx->loop, &p->timeout);
	ev_timer_set(&p->timeout, 0., 0.);
	ev_timer_start(p->ctx->loop, &p->timeout);
}

static void watch(struct dd_probe *p, int events)
{
	if (p->io.events == events && ev_is_active(&p->io))
		return;
	ev_io_stop(p->ctx->loop, &p->io);
	ev_io_set(&p->io, p->fd, events);
	ev_io_start(p->ctx->loop, &p->io);
}

static const char *conn_errstr(int e, char *buf, size_t len)
{
	if (e == ECONNREFUSED)
		return "connection refused";
	snprintf(buf, len, "connect failed: %s", strerror(e));
	return buf;
}

/* ---- HTTP request and reply -------------------------------------------- */

static bool is_http(const struct dd_probe *p)
{
	return p->chk->type == DD_CHECK_HTTP || p->chk->type == DD_CHECK_HTTPS;
}

static void build_request(struct dd_probe *p)
{
	const struct dd_check *c = p->chk;
	char host[DD_ADDR_STRLEN + 8];
	if (c->host && *c->host) {
		snprintf(host, sizeof host, "%s", c->host);
	} else {
		uint16_t def = c->type == DD_CHECK_HTTPS ? 443 : 80;
		char ip[INET6_ADDRSTRLEN];
		dd_addr_str(&p->addr, ip, sizeof ip);
		if (p->port == def)
			snprintf(host, sizeof host, p->addr.family == AF_INET6 ? "[%s]" : "%s", ip);
		else
			dd_addr_port_str(&p->addr, p->port, host, sizeof host);
	}
	const char *method = c->method && *c->method ? c->method : "GET";
	const char *path = c->path && *c->path ? c->path : "/";
	int n = snprintf(NULL, 0, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: directord-health\r\n"
			 "Accept: */*\r\nConnection: close\r\n\r\n", method, path, host);
	p->req = xmalloc((size_t)n + 1);
	snprintf(p->req, (size_t)n + 1, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: directord-health\r\n"
		 "Accept: */*\r\nConnection: close\r\n\r\n", method, path, host);
	p->req_len = (size_t)n;
	p->sent = 0;
}

static bool status_expected(const struct dd_check *c, int status)
{
	if (c->n_status == 0)
		return status == 200;
	for (size_t i = 0; i < c->n_status; i++)
		if (c->status[i] == status)
			return true;
	return false;
}

/* Judge the reply so far. Returns true when a verdict was delivered. */
static bool http_judge(struct dd_probe *p, bool eof)
{
	const struct dd_check *c = p->chk;
	struct dd_http_head h;
	bool head_req = c->method && strcasecmp(c->method, "HEAD") == 0;
	enum dd_http_res r = dd_http_parse_head(p->buf, p->len, head_req, &h);
	if (r == DD_HTTP_BAD) {
		finish(p, false, "bad HTTP reply");
		return true;
	}
	if (r == DD_HTTP_MORE) {
		if (eof) {
			finish(p, false, p->len ? "bad HTTP reply" : "connection closed");
			return true;
		}
		return false;
	}
	if (!status_expected(c, h.status)) {
		finishf(p, "HTTP status %d", h.status);
		return true;
	}
	if (!c->body_match || !*c->body_match) {
		finish(p, true, "ok");
		return true;
	}
	size_t blen;
	/* First only ask whether the body is complete, then decode it once. */
	r = dd_http_body(p->buf, p->len, eof, &h, NULL, 0, &blen);
	if (r == DD_HTTP_BAD) {
		finish(p, false, "bad HTTP reply");
		return true;
	}
	if (r == DD_HTTP_MORE)
		return false;
	char *body = xmalloc(p->len + 1);
	dd_http_body(p->buf, p->len, eof, &h, body, p->len, &blen);
	bool found = memmem(body, blen, c->body_match, strlen(c->body_match)) != NULL;
	free(body);
	finish(p, found, found ? "ok" : "body mismatch");
	return true;
}

static size_t read_limit(const struct dd_probe *p)
{
	if (is_http(p))
		return p->chk->body_match && *p->chk->body_match ?
		       DD_HTTP_HEAD_MAX + BODY_READ_MAX : DD_HTTP_HEAD_MAX;
	return 4096;
}

static bool grow(struct dd_probe *p)
{
	size_t limit = read_limit(p);
	if (p->len < p->cap)
		return true;
	if (p->cap >= limit)
		return false;
	size_t ncap = p->cap ? p->cap * 2 : 2048;
	if (ncap > limit)
		ncap = limit;
	p->buf = xrealloc(p->buf, ncap + 1);
	p->cap = ncap;
	return true;
}

/* ---- TLS --------------------------------------------------------------- */

static const char *tls_error(struct dd_probe *p, int ret, char *buf, size_t len)
{
	long vr = SSL_get_verify_result(p->ssl);
	if (p->chk->verify_tls && vr != X509_V_OK) {
		snprintf(buf, len, "%s", X509_verify_cert_error_string(vr));
		return buf;
	}
	unsigned long e = ERR_peek_last_error();
	if (e) {
		const char *rs = ERR_reason_error_string(e);
		snprintf(buf, len, "%s", rs ? rs : "unknown error");
	} else if (SSL_get_error(p->ssl, ret) == SSL_ERROR_SYSCALL && errno) {
		snprintf(buf, len, "%s", strerror(errno));
	} else {
		snprintf(buf, len, "connection closed");
	}
	return buf;
}

static bool is_ip_literal(const char *s)
{
	struct dd_addr a;
	return dd_addr_parse(s, &a);
}

static void tls_begin(struct dd_probe *p)
{
	const struct dd_check *c = p->chk;
	SSL_CTX *ctx = tls_ctx_for(p->ctx, c->ca_file);
	p->ssl = ctx ? SSL_new(ctx) : NULL;
	if (!p->ssl) {
		finish(p, false, "TLS handshake failed: cannot create TLS session");
		return;
	}
	SSL_set_fd(p->ssl, p->fd);
	SSL_set_connect_state(p->ssl);
	if (p->tls_session)
		SSL_set_session(p->ssl, p->tls_session);
	const char *name = c->sni && *c->sni ? c->sni : (c->host && *c->host ? c->host : NULL);
	if (name && !is_ip_literal(name))
		SSL_set_tlsext_host_name(p->ssl, name);
	if (c->verify_tls) {
		SSL_set_verify(p->ssl, SSL_VERIFY_PEER, NULL);
		if (name && !is_ip_literal(name)) {
			SSL_set1_host(p->ssl, name);
		} else {
			char ip[INET6_ADDRSTRLEN];
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl),
						      name ? name : dd_addr_str(&p->addr, ip, sizeof ip));
		}
	} else {
		SSL_set_verify(p->ssl, SSL_VERIFY_NONE, NULL);
	}
	p->phase = PH_TLS;
}

/* Returns false when the probe finished (or must wait: *ev set). */
static bool tls_step(struct dd_probe *p, int ret, int *ev, const char *what)
{
	int err = SSL_get_error(p->ssl, ret);
	if (err == SSL_ERROR_WANT_READ) {
		*ev = EV_READ;
		return false;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		*ev = EV_WRITE;
		return false;
	}
	char b[120];
	finishf(p, "%s%s", what, tls_error(p, ret, b, sizeof b));
	*ev = 0;
	return false;
}

/* ---- the state machine ------------------------------------------------- */

static void send_request(struct dd_probe *p)
{
	for (;;) {
		if (p->sent >= p->req_len) {
			p->phase = PH_RECV;
			watch(p, EV_READ);
			return;
		}
		const char *d = p->req + p->sent;
		size_t n = p->req_len - p->sent;
		if (p->ssl) {
			ERR_clear_error();
			int r = SSL_write(p->ssl, d, (int)n);
			if (r <= 0) {
				int ev;
				tls_step(p, r, &ev, "TLS error: ");
				if (ev)
					watch(p, ev);
				return;
			}
			p->sent += (size_t)r;
		} else {
			ssize_t r = send(p->fd, d, n, MSG_NOSIGNAL);
			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					watch(p, EV_WRITE);
					return;
				}
				finishf(p, "send failed: %s", strerror(errno));
				return;
			}
			p->sent += (size_t)r;
		}
	}
}

static void recv_reply(struct dd_probe *p)
{
	for (;;) {
		bool eof = false;
		if (!grow(p)) {
			eof = true; /* read enough: judge what we have */
		} else if (p->ssl) {
			ERR_clear_error();
			int r = SSL_read(p->ssl, p->buf + p->len, (int)(p->cap - p->len));
			if (r > 0) {
				p->len += (size_t)r;
				continue;
			}
			int err = SSL_get_error(p->ssl, r);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
				/* Judge before waiting: a verdict frees the probe. */
				if (!http_judge(p, false))
					watch(p, err == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
				return;
			}
			if (err != SSL_ERROR_ZERO_RETURN && err != SSL_ERROR_SYSCALL) {
				char b[120];
				if (http_judge(p, true))
					return;
				finishf(p, "TLS error: %s", tls_error(p, r, b, sizeof b));
				return;
			}
			eof = true;
		} else {
			ssize_t r = recv(p->fd, p->buf + p->len, p->cap - p->len, 0);
			if (r > 0) {
				p->len += (size_t)r;
				if (p->len < p->cap)
					break; /* drained the socket for now */
				continue;
			}
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (r < 0 && p->len == 0) {
				finish(p, false, errno == ECONNREFUSED ? "connection refused" :
				       errno == ECONNRESET ? "connection reset" : "receive failed");
				return;
			}
			eof = true;
		}
		if (eof) {
			http_judge(p, true);
			return;
		}
	}
	http_judge(p, false);
}

static void udp_recv(struct dd_probe *p)
{
	uint8_t b[4096];
	for (;;) {
		ssize_t r = recv(p->fd, b, sizeof b, 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			finish(p, false, errno == ECONNREFUSED ? "connection refused" : "receive failed");
			return;
		}
		if (p->chk->type == DD_CHECK_DNS) {
			unsigned answers;
			int rc = dd_dns_check_reply(b, (size_t)r, p->dns_id, &answers);
			if (rc < 0)
				continue; /* not a reply to our query: keep waiting */
			if (rc != 0)
				finishf(p, "DNS rcode %d", rc);
			else
				finish(p, true, "ok");
			return;
		}
		const char *exp = p->chk->expect;
		if (exp && *exp && !memmem(b, (size_t)r, exp, strlen(exp)))
			finish(p, false, "reply mismatch");
		else
			finish(p, true, "ok");
		return;
	}
}

static void udp_send(struct dd_probe *p)
{
	uint8_t q[300];
	const void *d;
	size_t n;
	if (p->chk->type == DD_CHECK_DNS) {
		p->dns_id = next_rand16(p->ctx);
		n = dd_dns_build_query(p->dns_id, p->chk->dns_query ? p->chk->dns_query : ".",
				       q, sizeof q);
		if (n == 0) {
			finish(p, false, "bad DNS query name");
			return;
		}
		d = q;
	} else {
		d = p->chk->send ? p->chk->send : "";
		n = strlen(d);
	}
	if (send(p->fd, d, n, MSG_NOSIGNAL) < 0) {
		if (errno == EAGAIN)
			return; /* stay writable-watched */
		finish(p, false, errno == ECONNREFUSED ? "connection refused" : "send failed");
		return;
	}
	p->phase = PH_RECV;
	watch(p, EV_READ);
}

static void advance(struct dd_probe *p, int revents)
{
	if (p->phase == PH_CONNECT) {
		int err = 0;
		socklen_t l = sizeof err;
		/* Watched for both: a failed connect reports an error, which libev
		 * passes on as readable and writable. Writable alone is success
		 * and needs no system call to say so. */
		if (revents != EV_WRITE && getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
			err = errno;
		if (err) {
			char b[96];
			finish(p, false, conn_errstr(err, b, sizeof b));
			return;
		}
		switch (p->chk->type) {
		case DD_CHECK_TCP:
			finish(p, true, "ok");
			return;
		case DD_CHECK_HTTPS:
			tls_begin(p);
			if (p->phase != PH_TLS)
				return;
			break;
		case DD_CHECK_HTTP:
			build_request(p);
			p->phase = PH_SEND;
			break;
		default:
			finish(p, false, "unsupported check");
			return;
		}
	}
	if (p->phase == PH_TLS) {
		ERR_clear_error();
		int r = SSL_connect(p->ssl);
		if (r != 1) {
			int ev;
			tls_step(p, r, &ev, "TLS handshake failed: ");
			if (ev)
				watch(p, ev);
			return;
		}
		if (SSL_session_reused(p->ssl))
			p->tls_resumed++;
		build_request(p);
		p->phase = PH_SEND;
	}
	if (p->phase == PH_SEND) {
		if (p->chk->type == DD_CHECK_UDP || p->chk->type == DD_CHECK_DNS)
			udp_send(p);
		else
			send_request(p);
		return;
	}
	if (p->phase == PH_RECV) {
		if (p->chk->type == DD_CHECK_UDP || p->chk->type == DD_CHECK_DNS)
			udp_recv(p);
		else
			recv_reply(p);
	}
	(void)revents;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dd_probe *p = w->data;
	advance(p, revents);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dd_probe *p = w->data;
	if (p->phase == PH_FAILED) {
		finish(p, false, p->reason);
		return;
	}
	if (p->phase == PH_EXEC) {
		/* The verdict waits for the reap, so that a server never has two
		 * instances of its command running. */
		snprintf(p->reason, sizeof p->reason, "timeout after %u ms", p->chk->timeout_ms);
		p->killed = true;
		kill(-p->pid, SIGKILL);
		return;
	}
	timed_out(p);
}

/* A network probe's deadline passed. */
static void timed_out(struct dd_probe *p)
{
	/* One last look before blaming the server: when the loop itself ran
	 * late (a loaded host), the answer may already be waiting. */
	struct pollfd pfd = { .fd = p->fd };
	pfd.events = (short)((p->io.events & EV_READ ? POLLIN : 0) |
			     (p->io.events & EV_WRITE ? POLLOUT : 0));
	if (pfd.fd >= 0 && pfd.events && ev_is_active(&p->io) && poll(&pfd, 1, 0) > 0) {
		advance(p, 0);
		if (!p->running)
			return;
	}
	const char *what = p->phase == PH_CONNECT ? "connect " :
			   p->phase == PH_TLS ? "TLS handshake failed: " : "";
	finishf(p, "%stimeout after %u ms", what, p->chk->timeout_ms);
}

/* ---- exec -------------------------------------------------------------- */

static void exec_reaped(struct dd_child *w, int status)
{
	struct dd_probe *p = w->data;
	/* Whatever the command left behind in its group goes with it. */
	kill(-p->pid, SIGKILL);
	p->pid = 0;
	p->exec_status = status;
	if (p->killed) {
		finish(p, false, p->reason);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		finish(p, true, "ok");
	else if (WIFEXITED(status))
		finishf(p, "exit code %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		finishf(p, "killed by signal %d", WTERMSIG(status));
	else
		finish(p, false, "exited abnormally");
}

static void exec_start(struct dd_probe *p)
{
	const struct dd_check *c = p->chk;
	if (!c->command || !*c->command) {
		fail_soon(p, "no command");
		return;
	}
	char ip[INET6_ADDRSTRLEN], e_addr[INET6_ADDRSTRLEN + 16], e_port[32];
	snprintf(e_addr, sizeof e_addr, "DD_RS_ADDR=%s", dd_addr_str(&p->addr, ip, sizeof ip));
	snprintf(e_port, sizeof e_port, "DD_RS_PORT=%u", p->port);
	/* A track script (directord/track.c) has no real server. */
	char *extra[] = { e_addr, e_port, NULL };
	if (!p->addr.family)
		extra[0] = NULL;
	pid_t pid;
	/* As the script user the loader put in the check (scripts.user). */
	struct dd_run_as as = { c->script_uid, c->script_gid };
	char *err = NULL;
	if (dd_spawn_script(c->command, &as, extra, true, &pid, &err) < 0) {
		fail_soon(p, "%s", err);
		free(err);
		return;
	}
	p->killed = false;
	p->phase = PH_EXEC;
	if (dd_child_watch(&p->child, p->ctx->loop, pid, exec_reaped, p, &err) < 0) {
		fail_soon(p, "cannot watch command: %s", err);
		free(err);
		return;
	}
	p->pid = pid;
}

/* ---- source ------------------------------------------------------------ */

/* check.source and check.interface (keepalived's bindto and bind_if).
 * Without them the kernel chooses; directord's own VIPs are kept out of
 * that choice (heartbeat/vip.c), these are for the cases it cannot cover. */
static bool bind_source(struct dd_probe *p, bool stream)
{
	const struct dd_check *c = p->chk;
	if (c->interface[0] && setsockopt(p->fd, SOL_SOCKET, SO_BINDTODEVICE, c->interface,
					  (socklen_t)strlen(c->interface)) < 0) {
		fail_soon(p, "cannot bind to interface %s: %s", c->interface, strerror(errno));
		return false;
	}
	if (!c->source.family)
		return true;
	/* bind() before connect() would pick the local port without knowing
	 * the peer, so thousands of checks a second would run out of ports:
	 * let connect() choose it, as it does without a source */
	int one = 1;
	if (stream)
		setsockopt(p->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	struct sockaddr_storage ss;
	socklen_t sl = dd_addr_to_sockaddr(&c->source, 0, &ss);
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) && c->interface[0])
		s6->sin6_scope_id = if_nametoindex(c->interface);
	if (bind(p->fd, (struct sockaddr *)&ss, sl) < 0) {
		char b[DD_ADDR_STRLEN];
		fail_soon(p, "cannot bind source %s: %s", dd_addr_str(&c->source, b, sizeof b), strerror(errno));
		return false;
	}
	return true;
}

/* ---- entry points ------------------------------------------------------ */

void dd_probe_start(struct dd_probe *p)
{
	struct ev_loop *loop = p->ctx->loop;
	p->running = true;
	p->ctx->in_flight++;
	p->fd = -1;
	p->ssl = NULL;
	p->buf = p->req = NULL;
	p->len = p->cap = 0;
	p->reason[0] = '\0';
	ev_init(&p->io, io_cb);
	p->io.data = p;
	ev_timer_init(&p->timeout, timeout_cb, p->chk->timeout_ms / 1000.0, 0.);
	p->timeout.data = p;
	p->dlq = NULL;
	p->dl_prev = p->dl_next = NULL;

	if (p->chk->type == DD_CHECK_EXEC) {
		p->exec_status = -1;
		p->killed = false;
		exec_start(p);
		if (p->phase == PH_EXEC)
			ev_timer_start(loop, &p->timeout);
		return;
	}
	if (p->port == 0) {
		fail_soon(p, "no port to check");
		return;
	}
	bool dgram = p->chk->type == DD_CHECK_UDP || p->chk->type == DD_CHECK_DNS;
	p->fd = socket(p->addr.family, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		fail_soon(p, "socket failed: %s", strerror(errno));
		return;
	}
	if (!dgram) {
		/* Check connections close with RST once the verdict is in: no
		 * TIME_WAIT pile-up on the director when thousands of servers are
		 * checked every second (the reply has been read by then). */
		struct linger lg = { 1, 0 };
		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	if (!bind_source(p, !dgram))
		return;
	struct sockaddr_storage ss;
	socklen_t sl = dd_addr_to_sockaddr(&p->addr, p->port, &ss);
	if (connect(p->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		char b[96];
		fail_soon(p, "%s", conn_errstr(errno, b, sizeof b));
		return;
	}
	p->phase = dgram ? PH_SEND : PH_CONNECT;
	ev_io_set(&p->io, p->fd, dgram ? EV_WRITE : EV_READ | EV_WRITE);
	ev_io_start(loop, &p->io);
	deadline_add(p);
}

void dd_probe_abort(struct dd_probe *p)
{
	if (!p->running)
		return;
	if (p->pid > 0) {
		dd_child_abandon(&p->child);
		p->pid = 0;
	}
	release(p);
}

void dd_probe_cleanup(struct dd_probe *p)
{
	dd_probe_abort(p);
	SSL_SESSION_free(p->tls_session);
	p->tls_session = NULL;
}
