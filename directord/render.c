/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/render.c: the render thread (render.h). One worker thread with
 * a job queue under one mutex; finished jobs go back to the main loop
 * through an ev_async. The mutex is held only to move a job between lists,
 * never while rendering, so the main loop never waits on a render except
 * in dd_render_quiesce and dd_render_free, which wait on purpose. */
#include "config.h"
#include "directord/render.h"
#include "lib/util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

struct job {
	struct job *next;
	struct dd_status st;
	dd_render_fn fn;
	dd_render_done_fn done;
	void *arg;
	struct dd_buf out;
};

struct dd_render {
	struct ev_loop *loop;
	ev_async wake;          /* render thread -> main loop: jobs are done */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work;    /* a job is queued, or stop */
	pthread_cond_t idle;    /* the queue is empty and nothing renders */
	struct job *queue, **queue_tail;
	struct job *finished, **finished_tail;
	bool busy, stop;
	struct dd_render_stats st;
};

static void push(struct job ***tail, struct job *j)
{
	j->next = NULL;
	**tail = j;
	*tail = &j->next;
}

static void *worker(void *arg)
{
	struct dd_render *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->queue && !r->stop)
			pthread_cond_wait(&r->work, &r->mu);
		if (!r->queue)
			break;
		struct job *j = r->queue;
		r->queue = j->next;
		if (!r->queue)
			r->queue_tail = &r->queue;
		r->busy = true;
		pthread_mutex_unlock(&r->mu);

		double t0 = mono_now();
		j->fn(j->arg, &j->st, &j->out);
		dd_status_free(&j->st);
		double ms = (mono_now() - t0) * 1000;

		pthread_mutex_lock(&r->mu);
		r->busy = false;
		r->st.jobs++;
		r->st.last_ms = ms;
		if (ms > r->st.max_ms)
			r->st.max_ms = ms;
		push(&r->finished_tail, j);
		if (!r->queue)
			pthread_cond_broadcast(&r->idle);
		ev_async_send(r->loop, &r->wake);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void deliver(struct dd_render *r)
{
	pthread_mutex_lock(&r->mu);
	struct job *j = r->finished;
	r->finished = NULL;
	r->finished_tail = &r->finished;
	pthread_mutex_unlock(&r->mu);
	while (j) {
		struct job *next = j->next;
		j->done(j->arg, &j->out);
		dd_buf_free(&j->out);
		free(j);
		j = next;
	}
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	deliver(w->data);
}

struct dd_render *dd_render_new(struct ev_loop *loop, char **err)
{
	struct dd_render *r = xcalloc(1, sizeof *r);
	r->loop = loop;
	r->queue_tail = &r->queue;
	r->finished_tail = &r->finished;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->work, NULL);
	pthread_cond_init(&r->idle, NULL);
	ev_async_init(&r->wake, on_wake);
	r->wake.data = r;
	ev_async_start(loop, &r->wake);
	/* The thread takes no signals: they belong to the main loop. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&r->thread, NULL, worker, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		dd_seterr(err, "cannot start the render thread: %s", strerror(e));
		ev_async_stop(loop, &r->wake);
		pthread_cond_destroy(&r->idle);
		pthread_cond_destroy(&r->work);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return NULL;
	}
	return r;
}

void dd_render_submit(struct dd_render *r, struct dd_status *st, dd_render_fn fn,
		      dd_render_done_fn done, void *arg)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->st = *st;
	memset(st, 0, sizeof *st);
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&r->mu);
	push(&r->queue_tail, j);
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->mu);
}

void dd_render_quiesce(struct dd_render *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	while (r->queue || r->busy)
		pthread_cond_wait(&r->idle, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

void dd_render_free(struct dd_render *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->mu);
	/* The worker drains the queue before it sees `stop`. */
	pthread_join(r->thread, NULL);
	deliver(r);
	ev_async_stop(r->loop, &r->wake);
	pthread_cond_destroy(&r->idle);
	pthread_cond_destroy(&r->work);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void dd_render_get_stats(struct dd_render *r, struct dd_render_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->st;
	pthread_mutex_unlock(&r->mu);
}
