/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/oneshot.h: a listening socket whose connections each carry one
 * bounded request and get one reply, then close. The control socket and the
 * metrics HTTP listener are both this shape.
 *
 * Runs on the libev loop it is given (the daemon's main loop). A slow or
 * silent client costs one fd and a timer, never a blocked loop: reads and
 * writes are non-blocking, the request has a size bound, a deadline and an
 * idle timeout, and the number of open connections is capped (in total,
 * per uid, with slots only root may take). A client over a cap is accepted,
 * told `busy` and closed at once, so it holds no fd; when accept itself
 * fails (no fd left: EMFILE, ENFILE) the listener is paused instead of
 * retried in a loop, until a connection closes or a short timer fires.
 */
#ifndef DD_DIRECTORD_ONESHOT_H
#define DD_DIRECTORD_ONESHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "directord/json.h"

struct ev_loop;
struct dd_oneshot;

struct dd_oneshot_params {
	const char *name;        /* subsystem tag for log lines: "ctl", "metrics" */
	size_t max_request;      /* bytes; a longer request gets `too_long` */
	double timeout_s;        /* to receive the whole request */
	double idle_s;           /* with no byte for this long, the request has
				  * timed out too; 0: only timeout_s */
	unsigned max_conns;      /* further clients get `busy` and are closed */
	/* Peer credentials (AF_UNIX only; 0 for TCP): of max_conns, this many
	 * are only for uid 0, and no other uid holds more than max_per_uid. */
	unsigned reserved_root;
	unsigned max_per_uid;    /* 0: no bound per uid */
	/* Length of the complete request in buf (terminator included), or 0
	 * if more bytes are needed. */
	size_t (*complete)(const char *buf, size_t len);
	/* Builds the reply for one complete request. `fd` is the client socket,
	 * for peer credentials; it must not be read, written or closed.
	 * `eof` is true when the client closed before the request was complete
	 * (buf holds what arrived). */
	void (*handle)(void *ctx, int fd, const char *buf, size_t len, bool eof,
		       struct dd_buf *reply);
	void *ctx;
	const char *too_long;    /* reply text when max_request is exceeded */
	const char *busy;        /* reply text when max_conns are open */
	const char *timed_out;   /* reply text after timeout_s; NULL: just close */
};

/* A reply built later, off this loop (a status rendered by another
 * thread): called from inside `handle`, it returns the ticket for this
 * request, and `handle`'s own reply buffer is then ignored. Nothing more
 * is read from the client; the reply must arrive within timeout_s or the
 * connection is closed. NULL outside `handle`, or if already deferred. */
struct dd_oneshot_ticket;
struct dd_oneshot_ticket *dd_oneshot_defer(struct dd_oneshot *s);
/* On the server's loop, exactly once per ticket: sends `reply` (taken
 * over; empty afterwards) and frees the ticket. If the client has gone or
 * timed out meanwhile, the reply is just freed. */
void dd_oneshot_finish(struct dd_oneshot_ticket *t, struct dd_buf *reply);

/* Takes ownership of the listening socket `fd` (already bound, listening). */
struct dd_oneshot *dd_oneshot_new(struct ev_loop *loop, int fd, const struct dd_oneshot_params *p);
/* A reload's new caps; connections already open over them stay. */
void dd_oneshot_set_limits(struct dd_oneshot *s, unsigned max_conns, unsigned max_per_uid);
/* Closes the listener and every open connection. NULL is fine. */
void dd_oneshot_free(struct dd_oneshot *s);
/* Counters, for metrics. */
struct dd_oneshot_stats {
	unsigned long long accepted, rejected_busy, too_long, timed_out;
	unsigned long long accept_failed; /* each pauses the listener */
	unsigned open;          /* connections being served (not the rejected) */
};
void dd_oneshot_get_stats(const struct dd_oneshot *s, struct dd_oneshot_stats *out);

#endif
