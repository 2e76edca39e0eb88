/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/oneshot.c: see oneshot.h. Runs on the loop given to
 * dd_oneshot_new (the daemon's main loop). */
#include "config.h"
#include "directord/oneshot.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Per wakeup: a flood of connects must not keep the loop in one callback. */
#define ACCEPT_BATCH 64
/* After accept failed: EMFILE clears when one of our connections closes
 * (which resumes at once), ENFILE and ENOMEM when someone else frees, which
 * nothing tells us about. */
#define ACCEPT_RETRY_S 1.0
/* Rejected clients that may stay until they read `busy`; beyond these a
 * rejected client is closed right after the send, so a flood of them costs
 * no fds. */
#define REJECT_LINGER_MAX 4
#define REJECT_LINGER_S 1.0
#define NO_UID ((uid_t)-1)

struct conn {
	struct dd_oneshot *srv;
	struct conn *next, **pprev;
	int fd;
	bool rejected;          /* told `busy`; not counted in st.open */
	uid_t uid;              /* SO_PEERCRED, when the caps need it; else NO_UID */
	ev_io io;
	ev_timer timer;
	double deadline;        /* for the whole request */
	double last_rx;         /* for the idle timeout */
	char *in;
	size_t in_len;
	char *out;              /* reply being sent; NULL while reading */
	size_t out_len, out_off;
	struct dd_oneshot_ticket *ticket; /* the reply is being built elsewhere */
};

struct dd_oneshot_ticket {
	struct conn *c;         /* NULL once the connection has closed */
};

struct dd_oneshot {
	struct ev_loop *loop;
	struct dd_oneshot_params p;
	int fd;
	ev_io io;
	ev_timer retry;         /* runs while accept is paused */
	bool paused;
	unsigned lingering;     /* rejected connections still open */
	struct conn *conns;
	struct conn *handling;  /* inside p.handle: whose request it is */
	struct dd_oneshot_stats st;
	/* Clients trigger these lines: one bucket for their requests, one for
	 * accept failures, so neither drowns the other. */
	struct dlog_ratelimit rl_client, rl_accept;
};

static void resume(struct dd_oneshot *s)
{
	if (!s->paused)
		return;
	s->paused = false;
	ev_timer_stop(s->loop, &s->retry);
	ev_io_start(s->loop, &s->io);
}

static void conn_close(struct conn *c)
{
	struct dd_oneshot *s = c->srv;
	ev_io_stop(s->loop, &c->io);
	ev_timer_stop(s->loop, &c->timer);
	close(c->fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	if (c->rejected)
		s->lingering--;
	else
		s->st.open--;
	if (c->ticket)
		c->ticket->c = NULL;
	free(c->in);
	free(c->out);
	free(c);
	/* An fd is free again: the accept that failed for want of one may work. */
	resume(s);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents);

/* Switches the connection from reading to writing `text` (taken over). */
static void conn_reply(struct conn *c, char *text, size_t len)
{
	struct dd_oneshot *s = c->srv;
	ev_io_stop(s->loop, &c->io);
	c->out = text;
	c->out_len = len;
	c->out_off = 0;
	ev_io_init(&c->io, on_write, c->fd, EV_WRITE);
	c->io.data = c;
	ev_io_start(s->loop, &c->io);
	/* The same deadline again for the reply: a client that never reads
	 * must not hold the connection for ever. */
	ev_timer_stop(s->loop, &c->timer);
	ev_timer_set(&c->timer, s->p.timeout_s, 0.);
	ev_timer_start(s->loop, &c->timer);
}

static void conn_reply_str(struct conn *c, const char *text)
{
	conn_reply(c, xstrdup(text), strlen(text));
}

/* After the reply: discard whatever the client still sends until it
 * closes. Closing with unread bytes queued makes the kernel reset the
 * connection (TCP and AF_UNIX alike), and the client would lose the reply,
 * e.g. the "too long" answer to an oversized request. */
static void on_linger(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	char sink[4096];
	for (;;) {
		ssize_t n = recv(c->fd, sink, sizeof sink, 0);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(c);
		return;
	}
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(c); /* client went away: nothing more to do */
			return;
		}
		c->out_off += (size_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	ev_io_stop(loop, &c->io);
	ev_io_init(&c->io, on_linger, c->fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
}

static void handle(struct conn *c, size_t len, bool eof)
{
	struct dd_oneshot *s = c->srv;
	struct dd_buf reply = { 0 };
	s->handling = c;
	s->p.handle(s->p.ctx, c->fd, c->in ? c->in : "", len, eof, &reply);
	s->handling = NULL;
	if (c->out) {
		/* deferred, and finished before the handler returned */
		dd_buf_free(&reply);
		return;
	}
	if (c->ticket) {
		/* Built elsewhere: nothing more is read, and the request's
		 * timeout starts again for the answer to arrive and go out. */
		dd_buf_free(&reply);
		ev_io_stop(s->loop, &c->io);
		ev_timer_stop(s->loop, &c->timer);
		ev_timer_set(&c->timer, s->p.timeout_s, 0.);
		ev_timer_start(s->loop, &c->timer);
		return;
	}
	size_t n = reply.len;
	conn_reply(c, dd_buf_take(&reply), n);
}

struct dd_oneshot_ticket *dd_oneshot_defer(struct dd_oneshot *s)
{
	struct conn *c = s ? s->handling : NULL;
	if (!c || c->ticket)
		return NULL;
	c->ticket = xcalloc(1, sizeof *c->ticket);
	c->ticket->c = c;
	return c->ticket;
}

void dd_oneshot_finish(struct dd_oneshot_ticket *t, struct dd_buf *reply)
{
	struct conn *c = t->c;
	free(t);
	if (!c) {
		dd_buf_free(reply);
		return;
	}
	c->ticket = NULL;
	size_t n = reply->len;
	conn_reply(c, dd_buf_take(reply), n);
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	struct dd_oneshot *s = c->srv;
	for (;;) {
		/* One byte more than allowed, so "exactly at the limit" and
		 * "over it" are told apart. */
		size_t room = s->p.max_request + 1 - c->in_len;
		ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(c);
			return;
		}
		if (n == 0) {
			handle(c, c->in_len, true);
			return;
		}
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		c->last_rx = ev_now(loop);
		size_t done = s->p.complete(c->in, c->in_len);
		if (done > 0 && done <= s->p.max_request) {
			handle(c, done, false);
			return;
		}
		if (c->in_len > s->p.max_request) {
			s->st.too_long++;
			unsigned skipped;
			if (dlog_ratelimit_ok(&s->rl_client, &skipped))
				log_warn(s->p.name, "request over %zu bytes rejected (%u similar lines suppressed)",
					 s->p.max_request, skipped);
			conn_reply_str(c, s->p.too_long);
			return;
		}
	}
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	struct dd_oneshot *s = c->srv;
	if (c->out || c->rejected || c->ticket || !s->p.timed_out) {
		conn_close(c);
		return;
	}
	/* One timer for both limits: it fires at the earlier one, and a byte
	 * since then only moves the idle limit on. */
	double now = ev_now(loop);
	double due = c->deadline;
	if (s->p.idle_s > 0 && c->last_rx + s->p.idle_s < due)
		due = c->last_rx + s->p.idle_s;
	if (due > now + 0.001) {
		ev_timer_set(w, due - now, 0.);
		ev_timer_start(loop, w);
		return;
	}
	s->st.timed_out++;
	unsigned skipped;
	bool idle = now < c->deadline - 0.001;
	if (dlog_ratelimit_ok(&s->rl_client, &skipped)) {
		if (idle)
			log_info(s->p.name, "client idle for %.0f s before a complete request; closing"
				 " (%u similar lines suppressed)", s->p.idle_s, skipped);
		else
			log_info(s->p.name, "client sent no complete request within %.0f s; closing"
				 " (%u similar lines suppressed)", s->p.timeout_s, skipped);
	}
	conn_reply_str(c, s->p.timed_out);
}

static struct conn *conn_new(struct dd_oneshot *s, int fd, bool rejected, uid_t uid)
{
	struct conn *c = xcalloc(1, sizeof *c);
	c->srv = s;
	c->fd = fd;
	c->rejected = rejected;
	c->uid = uid;
	c->next = s->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &s->conns;
	s->conns = c;
	if (rejected)
		s->lingering++;
	else
		s->st.open++;
	c->timer.data = c;
	c->io.data = c;
	return c;
}

/* The peer's uid, for the caps that need one; NO_UID for TCP or when the
 * kernel does not say (counted as one more uid, never as root). */
static uid_t peer_uid(const struct dd_oneshot *s, int fd)
{
	if (!s->p.reserved_root && !s->p.max_per_uid)
		return NO_UID;
	struct ucred cred;
	socklen_t cl = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cl != sizeof cred)
		return NO_UID;
	return cred.uid;
}

static bool admit(const struct dd_oneshot *s, uid_t uid)
{
	unsigned cap = s->p.max_conns;
	if (uid == 0)
		return s->st.open < cap;
	unsigned reserved = s->p.reserved_root < cap ? s->p.reserved_root : cap;
	if (s->st.open >= cap - reserved)
		return false;
	if (!s->p.max_per_uid)
		return true;
	unsigned mine = 0;
	for (const struct conn *c = s->conns; c; c = c->next)
		if (!c->rejected && c->uid == uid)
			mine++;
	return mine < s->p.max_per_uid;
}

/* Over a cap: the answer goes out at once (a fresh socket's buffer holds
 * it), and only a few rejected clients may stay to read it, since closing
 * with their request unread resets the connection. */
static void reject(struct dd_oneshot *s, int fd)
{
	s->st.rejected_busy++;
	size_t len = strlen(s->p.busy);
	ssize_t n = send(fd, s->p.busy, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)len || s->lingering >= REJECT_LINGER_MAX) {
		close(fd);
		return;
	}
	shutdown(fd, SHUT_WR);
	struct conn *c = conn_new(s, fd, true, NO_UID);
	ev_io_init(&c->io, on_linger, fd, EV_READ);
	ev_io_start(s->loop, &c->io);
	ev_timer_init(&c->timer, on_timeout, REJECT_LINGER_S, 0.);
	ev_timer_start(s->loop, &c->timer);
}

/* Level-triggered: a listener whose accept keeps failing (no fd left) would
 * wake the loop for ever. It sleeps instead, until a connection closes or
 * the retry timer fires. */
static void pause_accept(struct dd_oneshot *s, int e)
{
	s->st.accept_failed++;
	s->paused = true;
	ev_io_stop(s->loop, &s->io);
	ev_timer_set(&s->retry, ACCEPT_RETRY_S, 0.);
	ev_timer_start(s->loop, &s->retry);
	unsigned skipped;
	if (dlog_ratelimit_ok(&s->rl_accept, &skipped))
		log_warn(s->p.name, "accept failed: %s; not accepting clients for %.0f s or until one leaves"
			 " (%u similar lines suppressed)", strerror(e), ACCEPT_RETRY_S, skipped);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	resume(w->data);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dd_oneshot *s = w->data;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				pause_accept(s, errno);
			return;
		}
		s->st.accepted++;
		uid_t uid = peer_uid(s, fd);
		if (!admit(s, uid)) {
			reject(s, fd);
			continue;
		}
		struct conn *c = conn_new(s, fd, false, uid);
		c->in = xmalloc(s->p.max_request + 2);
		c->in[0] = '\0';
		c->deadline = c->last_rx = ev_now(loop);
		c->deadline += s->p.timeout_s;
		double first = s->p.idle_s > 0 && s->p.idle_s < s->p.timeout_s ? s->p.idle_s : s->p.timeout_s;
		ev_timer_init(&c->timer, on_timeout, first, 0.);
		ev_io_init(&c->io, on_read, fd, EV_READ);
		ev_io_start(loop, &c->io);
		ev_timer_start(loop, &c->timer);
	}
}

struct dd_oneshot *dd_oneshot_new(struct ev_loop *loop, int fd, const struct dd_oneshot_params *p)
{
	struct dd_oneshot *s = xcalloc(1, sizeof *s);
	s->loop = loop;
	s->p = *p;
	s->fd = fd;
	dlog_ratelimit_init(&s->rl_client, 10, 1.0);
	dlog_ratelimit_init(&s->rl_accept, 3, 0.1);
	ev_io_init(&s->io, on_accept, fd, EV_READ);
	s->io.data = s;
	ev_io_start(loop, &s->io);
	ev_timer_init(&s->retry, on_retry, ACCEPT_RETRY_S, 0.);
	s->retry.data = s;
	return s;
}

void dd_oneshot_set_limits(struct dd_oneshot *s, unsigned max_conns, unsigned max_per_uid)
{
	s->p.max_conns = max_conns;
	s->p.max_per_uid = max_per_uid;
}

void dd_oneshot_free(struct dd_oneshot *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	ev_io_stop(s->loop, &s->io);
	ev_timer_stop(s->loop, &s->retry);
	close(s->fd);
	free(s);
}

void dd_oneshot_get_stats(const struct dd_oneshot *s, struct dd_oneshot_stats *out)
{
	*out = s->st;
}
