/* directord/oneshot.h: a listening socket whose connections each carry one
 * bounded request and get one reply, then close. The control socket and the
 * metrics HTTP listener are both this shape.
 *
 * Runs on the libev loop it is given (the daemon's main loop). A slow or
 * silent client costs one fd and a timer, never a blocked loop: reads and
 * writes are non-blocking, the request has a size bound and a deadline, and
 * the number of open connections is capped.
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
	unsigned max_conns;      /* further clients get `busy` and are closed */
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

/* Takes ownership of the listening socket `fd` (already bound, listening). */
struct dd_oneshot *dd_oneshot_new(struct ev_loop *loop, int fd, const struct dd_oneshot_params *p);
/* Closes the listener and every open connection. NULL is fine. */
void dd_oneshot_free(struct dd_oneshot *s);
/* Counters, for metrics. */
struct dd_oneshot_stats {
	unsigned long long accepted, rejected_busy, too_long, timed_out;
	unsigned open;
};
void dd_oneshot_get_stats(const struct dd_oneshot *s, struct dd_oneshot_stats *out);

#endif
