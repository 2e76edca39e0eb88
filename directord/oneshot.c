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

struct conn {
	struct dd_oneshot *srv;
	struct conn *next, **pprev;
	int fd;
	ev_io io;
	ev_timer timer;
	char *in;
	size_t in_len;
	char *out;              /* reply being sent; NULL while reading */
	size_t out_len, out_off;
};

struct dd_oneshot {
	struct ev_loop *loop;
	struct dd_oneshot_params p;
	int fd;
	ev_io io;
	struct conn *conns;
	struct dd_oneshot_stats st;
};

static void conn_close(struct conn *c)
{
	struct dd_oneshot *s = c->srv;
	ev_io_stop(s->loop, &c->io);
	ev_timer_stop(s->loop, &c->timer);
	close(c->fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	s->st.open--;
	free(c->in);
	free(c->out);
	free(c);
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
	s->p.handle(s->p.ctx, c->fd, c->in ? c->in : "", len, eof, &reply);
	size_t n = reply.len;
	conn_reply(c, dd_buf_take(&reply), n);
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
		size_t done = s->p.complete(c->in, c->in_len);
		if (done > 0 && done <= s->p.max_request) {
			handle(c, done, false);
			return;
		}
		if (c->in_len > s->p.max_request) {
			s->st.too_long++;
			log_warn(s->p.name, "request over %zu bytes rejected", s->p.max_request);
			conn_reply_str(c, s->p.too_long);
			return;
		}
	}
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	struct dd_oneshot *s = c->srv;
	if (c->out || !s->p.timed_out) {
		conn_close(c);
		return;
	}
	s->st.timed_out++;
	log_info(s->p.name, "client sent no complete request within %.0f s; closing", s->p.timeout_s);
	conn_reply_str(c, s->p.timed_out);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dd_oneshot *s = w->data;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn(s->p.name, "accept failed: %s", strerror(errno));
			return;
		}
		s->st.accepted++;
		struct conn *c = xcalloc(1, sizeof *c);
		c->srv = s;
		c->fd = fd;
		c->in = xmalloc(s->p.max_request + 2);
		c->in[0] = '\0';
		c->next = s->conns;
		if (c->next)
			c->next->pprev = &c->next;
		c->pprev = &s->conns;
		s->conns = c;
		s->st.open++;
		ev_timer_init(&c->timer, on_timeout, s->p.timeout_s, 0.);
		c->timer.data = c;
		if (s->st.open > s->p.max_conns) {
			s->st.rejected_busy++;
			conn_reply_str(c, s->p.busy);
			continue;
		}
		ev_io_init(&c->io, on_read, fd, EV_READ);
		c->io.data = c;
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
	ev_io_init(&s->io, on_accept, fd, EV_READ);
	s->io.data = s;
	ev_io_start(loop, &s->io);
	return s;
}

void dd_oneshot_free(struct dd_oneshot *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	ev_io_stop(s->loop, &s->io);
	close(s->fd);
	free(s);
}

void dd_oneshot_get_stats(const struct dd_oneshot *s, struct dd_oneshot_stats *out)
{
	*out = s->st;
}
