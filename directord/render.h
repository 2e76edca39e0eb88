/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/render.h: renders status answers in a thread of their own, so
 * that writing out 2-4 MB of text or JSON for 10,000 real servers does not
 * hold the main loop, which times every health check.
 *
 * The main loop fills a struct dd_status (directord/status.h; filling
 * reads the running parts, so it stays on the main loop) and submits it
 * with a function that renders it; the render thread runs that function
 * and the main loop then gets the output through `done`. The model owns
 * everything it points to except the config, so the config a job was
 * filled from must outlive the job: dd_render_quiesce() waits until no
 * job is left, and the daemon calls it before it frees a config.
 *
 * dd_render_new, _submit, _quiesce and _free are called on the main loop
 * only; `fn` runs on the render thread and may touch nothing but the model
 * and its output; `done` runs on the main loop. No logging on the render
 * thread.
 */
#ifndef DD_DIRECTORD_RENDER_H
#define DD_DIRECTORD_RENDER_H

#include "directord/json.h"
#include "directord/status.h"

struct ev_loop;
struct dd_render;

typedef void (*dd_render_fn)(void *arg, const struct dd_status *st, struct dd_buf *out);
/* `out` is the rendered answer: take it over (dd_buf_take), or leave it
 * to be freed. Every submitted job gets its `done`, also at dd_render_free. */
typedef void (*dd_render_done_fn)(void *arg, struct dd_buf *out);

/* Starts the thread. NULL with *err (malloc'd) if it cannot. */
struct dd_render *dd_render_new(struct ev_loop *loop, char **err);
/* Takes over *st (its storage is freed once rendered). */
void dd_render_submit(struct dd_render *r, struct dd_status *st, dd_render_fn fn,
		      dd_render_done_fn done, void *arg);
/* Returns once every submitted job has been rendered (their `done` calls
 * still follow on the loop). A job renders in milliseconds; this is for
 * the moment before a config is freed. */
void dd_render_quiesce(struct dd_render *r);
/* Jobs submitted and not yet delivered are finished, then delivered
 * (done called) before this returns. NULL is fine. */
void dd_render_free(struct dd_render *r);

struct dd_render_stats {
	unsigned long long jobs;
	double last_ms, max_ms;        /* render time on the render thread */
};
void dd_render_get_stats(struct dd_render *r, struct dd_render_stats *out);

#endif
