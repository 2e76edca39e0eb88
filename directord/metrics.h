/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/metrics.h: Prometheus text exposition (format 0.0.4): a small
 * writer that emits each family's HELP/TYPE once and escapes label values,
 * and the optional HTTP listener (control.metrics_listen) that serves it.
 *
 * The listener runs on the daemon's main libev loop; what it serves comes
 * from a callback the daemon provides, so it shows the same numbers as
 * `directorctl metrics`.
 */
#ifndef DD_DIRECTORD_METRICS_H
#define DD_DIRECTORD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directord/json.h"

struct ev_loop;

struct dd_prom {
	struct dd_buf *out;
	char family[128];       /* last family whose HELP/TYPE was written */
};

void dd_prom_init(struct dd_prom *p, struct dd_buf *out);
/* HELP and TYPE ("counter", "gauge"), once per family. */
void dd_prom_family(struct dd_prom *p, const char *name, const char *type, const char *help);
/* One sample: labels are name/value string pairs ending with NULL. The
 * family must have been declared just before (samples of one family are
 * contiguous, as the format requires). */
void dd_prom_sample(struct dd_prom *p, const char *name, double value, ...)
	__attribute__((sentinel));
void dd_prom_sample_u64(struct dd_prom *p, const char *name, uint64_t value, ...)
	__attribute__((sentinel));

/* A label set formatted once for many samples (one real server in a dozen
 * families): `{k="v",...` without the closing brace; pairs end with NULL.
 * dd_prom_sample_pre writes name, that set (len bytes), `extra` (more
 * pairs as `,k="v"`, or NULL), the brace and the value. */
void dd_prom_labels(struct dd_buf *out, ...) __attribute__((sentinel));
void dd_prom_sample_pre(struct dd_prom *p, const char *name, const char *pre, size_t len,
			const char *extra, uint64_t value);

/* The HTTP listener. For each scrape it calls `build`, which answers later
 * (the exposition is rendered off the main loop): it must hand the whole
 * HTTP response (dd_metrics_http_ok) to dd_oneshot_finish(t, ...) exactly
 * once, on the main loop. */
struct dd_oneshot_ticket;
typedef void (*dd_metrics_build_fn)(void *ctx, bool head_only, struct dd_oneshot_ticket *t);
/* The 200 response carrying `body` (without it for HEAD). Pure: any thread. */
void dd_metrics_http_ok(struct dd_buf *out, const struct dd_buf *body, bool head_only);
struct dd_metrics_http;
/* `listen`: "IP:PORT" or "[IPv6]:PORT"; at most max_clients scrapes at
 * once (anyone who reaches the port is a client: more get 503 and are
 * closed). NULL with *err (malloc'd). */
struct dd_metrics_http *dd_metrics_http_new(struct ev_loop *loop, const char *listen,
					    unsigned max_clients, dd_metrics_build_fn build, void *ctx,
					    char **err);
/* A reload's new cap, for new clients. */
void dd_metrics_http_set_limits(struct dd_metrics_http *m, unsigned max_clients);
void dd_metrics_http_free(struct dd_metrics_http *m);
const char *dd_metrics_http_listen(const struct dd_metrics_http *m);

/* Request parsing, pure (fuzzed): length of the complete request head in
 * buf, or 0 if more is needed. */
size_t dd_http_head_complete(const char *buf, size_t len);
enum dd_http_verdict { DD_HTTP_METRICS, DD_HTTP_INDEX, DD_HTTP_NOT_FOUND,
		       DD_HTTP_BAD_METHOD, DD_HTTP_BAD_REQUEST };
/* *head_only is set for HEAD. */
enum dd_http_verdict dd_http_route(const char *buf, size_t len, int *head_only);

#endif
