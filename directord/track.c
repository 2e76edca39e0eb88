/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/track.c: the track scripts' runner (see track.h). Everything
 * here runs in the loop given to dd_track_new(), the daemon's main loop.
 *
 * A run is an exec probe (health/probe.c), so a track script is started,
 * timed out and reaped exactly as an exec check is: posix_spawn of
 * /bin/sh -c through setpriv as its user (lib/spawn.c), its own process
 * group, SIGKILL to the group at the timeout, the verdict only after the
 * reap. The next run starts interval_ms after the previous one started,
 * and never before it was reaped: runs never overlap. */
#include "config.h"
#include "directord/track.h"
#include "health/probe.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

struct script {
	struct dd_track *t;
	struct dd_track_script cfg;     /* command and user are t's own copies */
	struct dd_check chk;            /* the exec check a run is */
	struct dd_probe probe;
	ev_timer next;
	ev_tstamp started;
	uint64_t ended_ms;              /* 0: never */
	uint32_t ok_row, fail_row;      /* results in a row */
	struct dd_track_state st;
	uint64_t runs, failures, timeouts;
	char last[DD_PROBE_REASON_MAX];
};

struct dd_track {
	struct ev_loop *loop;
	struct dd_probe_ctx pctx;
	dd_track_cb cb;
	void *ctx;
	struct script *s;
	size_t n;
};

static void run(struct script *s);

static void on_next(struct ev_loop *loop, ev_timer *w, int revents)
{
	run(w->data);
}

static void schedule(struct script *s)
{
	struct ev_loop *loop = s->t->loop;
	ev_tstamp delay = s->started + s->cfg.interval_ms / 1000.0 - ev_now(loop);
	ev_timer_set(&s->next, delay > 0 ? delay : 0., 0.);
	ev_timer_start(loop, &s->next);
}

static const char *state_word(const struct dd_track_state *st)
{
	return !st->known ? "unknown" : st->ok ? "OK" : "FAILED";
}

/* keepalived's rules: the first result decides at once; after that rise
 * successes in a row make it OK, fall failures in a row make it failed. */
static void on_done(struct dd_probe *p, bool ok, const char *reason)
{
	struct script *s = (struct script *)((char *)p - offsetof(struct script, probe));
	struct dd_track_state prev = s->st;
	s->ended_ms = mono_ms();
	s->runs++;
	snprintf(s->last, sizeof s->last, "%s", reason);
	if (ok) {
		s->ok_row++;
		s->fail_row = 0;
	} else {
		s->fail_row++;
		s->ok_row = 0;
		s->failures++;
		if (p->killed)
			s->timeouts++;
		if (p->killed)
			s->st.how = DD_TRACK_TIMED_OUT;
		else if (p->exec_status < 0)
			s->st.how = DD_TRACK_NOT_RUN;
		else if (WIFSIGNALED(p->exec_status))
			s->st.how = DD_TRACK_SIGNALLED, s->st.code = WTERMSIG(p->exec_status);
		else
			s->st.how = DD_TRACK_EXITED, s->st.code = WEXITSTATUS(p->exec_status);
	}
	if (!s->st.known) {
		s->st.known = true;
		s->st.ok = ok;
	} else if (!s->st.ok && ok && s->ok_row >= s->cfg.rise) {
		s->st.ok = true;
	} else if (s->st.ok && !ok && s->fail_row >= s->cfg.fall) {
		s->st.ok = false;
	}
	if (ok)
		s->st.how = DD_TRACK_EXITED, s->st.code = 0;
	if (prev.known != s->st.known || prev.ok != s->st.ok) {
		uint32_t row = ok ? s->ok_row : s->fail_row;
		uint32_t need = !prev.known ? 1 : ok ? s->cfg.rise : s->cfg.fall;
		dlog(s->st.ok ? LOG_NOTICE : LOG_WARNING, "track", "track script %s %s -> %s: %s (%u/%u)",
		     s->cfg.name, state_word(&prev), state_word(&s->st), reason, row, need);
		s->t->cb(s->t->ctx, &s->st);
	}
	schedule(s);
}

static void run(struct script *s)
{
	s->started = ev_now(s->t->loop);
	s->probe.ctx = &s->t->pctx;
	s->probe.chk = &s->chk;
	memset(&s->probe.addr, 0, sizeof s->probe.addr);
	s->probe.port = 0;
	s->probe.done = on_done;
	dd_probe_start(&s->probe);
}

static char *dup_or_null(const char *v)
{
	return v ? xstrdup(v) : NULL;
}

static void script_init(struct dd_track *t, struct script *s, const struct dd_track_script *c)
{
	memset(s, 0, sizeof *s);
	s->t = t;
	s->cfg = *c;
	s->cfg.command = dup_or_null(c->command);
	s->cfg.user = dup_or_null(c->user);
	s->chk.type = DD_CHECK_EXEC;
	s->chk.interval_ms = c->interval_ms;
	s->chk.timeout_ms = c->timeout_ms;
	s->chk.rise = c->rise;
	s->chk.fall = c->fall;
	s->chk.command = s->cfg.command;
	s->chk.script_uid = c->uid;
	s->chk.script_gid = c->gid;
	snprintf(s->st.name, sizeof s->st.name, "%s", c->name);
	s->st.timeout_ms = c->timeout_ms;
	ev_init(&s->next, on_next);
	s->next.data = s;
}

static void script_stop(struct script *s)
{
	ev_timer_stop(s->t->loop, &s->next);
	dd_probe_abort(&s->probe);
	dd_probe_cleanup(&s->probe);
	free(s->cfg.command);
	free(s->cfg.user);
}

static bool same_script(const struct dd_track_script *a, const struct dd_track_script *b)
{
	return strcmp(a->command, b->command) == 0 && a->uid == b->uid && a->gid == b->gid &&
	       a->interval_ms == b->interval_ms && a->timeout_ms == b->timeout_ms &&
	       a->rise == b->rise && a->fall == b->fall;
}

static void load(struct dd_track *t, const struct dd_config *cfg, struct script *old, size_t n_old)
{
	t->n = cfg->n_track_scripts;
	t->s = xcalloc(t->n ? t->n : 1, sizeof *t->s);
	for (size_t i = 0; i < t->n; i++) {
		struct script *s = &t->s[i];
		script_init(t, s, &cfg->track_scripts[i]);
		for (size_t j = 0; j < n_old; j++)
			if (strcmp(old[j].cfg.name, s->cfg.name) == 0 && same_script(&old[j].cfg, &s->cfg)) {
				s->st = old[j].st;
				s->ok_row = old[j].ok_row;
				s->fail_row = old[j].fail_row;
				s->runs = old[j].runs;
				s->failures = old[j].failures;
				s->timeouts = old[j].timeouts;
				s->ended_ms = old[j].ended_ms;
				memcpy(s->last, old[j].last, sizeof s->last);
			}
		run(s);
	}
}

struct dd_track *dd_track_new(struct ev_loop *loop, const struct dd_config *cfg, dd_track_cb cb,
			      void *ctx)
{
	struct dd_track *t = xcalloc(1, sizeof *t);
	t->loop = loop;
	t->cb = cb;
	t->ctx = ctx;
	dd_probe_ctx_init(&t->pctx, loop);
	load(t, cfg, NULL, 0);
	return t;
}

void dd_track_reload(struct dd_track *t, const struct dd_config *cfg)
{
	struct script *old = t->s;
	size_t n_old = t->n;
	/* A run in progress is given up (its group killed); the script runs
	 * again at once under the new config. */
	for (size_t i = 0; i < n_old; i++) {
		ev_timer_stop(t->loop, &old[i].next);
		dd_probe_abort(&old[i].probe);
	}
	load(t, cfg, old, n_old);
	for (size_t i = 0; i < n_old; i++)
		script_stop(&old[i]);
	free(old);
	/* A script that starts afresh says nothing until its first result:
	 * the engine keeps the last state it had under that name meanwhile,
	 * so changing a command does not flap the clusters. */
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].st.known)
			t->cb(t->ctx, &t->s[i].st);
}

void dd_track_free(struct dd_track *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		script_stop(&t->s[i]);
	free(t->s);
	dd_probe_ctx_cleanup(&t->pctx);
	free(t);
}

size_t dd_track_count(const struct dd_track *t)
{
	return t ? t->n : 0;
}

size_t dd_track_status(const struct dd_track *t, struct dd_track_script_status *out, size_t max)
{
	size_t n = 0;
	uint64_t now = mono_ms();
	for (; t && n < t->n && n < max; n++) {
		const struct script *s = &t->s[n];
		struct dd_track_script_status *o = &out[n];
		memset(o, 0, sizeof *o);
		snprintf(o->name, sizeof o->name, "%s", s->cfg.name);
		o->known = s->st.known;
		o->ok = s->st.ok;
		o->running = s->probe.running;
		o->weight = s->cfg.weight;
		o->consecutive = s->ok_row ? s->ok_row : s->fail_row;
		o->runs = s->runs;
		o->failures = s->failures;
		o->timeouts = s->timeouts;
		o->last_run_age_ms = s->ended_ms ? (int64_t)(now - s->ended_ms) : -1;
		snprintf(o->last_result, sizeof o->last_result, "%s", s->last);
	}
	return n;
}
