/* SPDX-License-Identifier: GPL-2.0-or-later */
/* health/health.c: which checks run, when, and what their results mean.
 * Runs on the loop given to dd_health_new() (the daemon's main loop).
 *
 * Real servers with identical checks share one probe (struct hc); each
 * service using it is a subscriber and hears every verdict. Probes are
 * scheduled on a fixed grid (start + k * interval) so that a slow loop
 * shows up as measurable slip instead of silently stretching the interval,
 * and each probe's place on the grid comes from a hash of its key, which
 * spreads thousands of checks over the interval and keeps the phase stable
 * across reloads. Checks due at the same instant (same slot, same start)
 * share one timer: a tick group, so that libev's timer heap holds a few
 * hundred entries instead of one per check.
 */
#include "config.h"
#include "health/health.h"
#include "health/probe.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_S 0.004 /* start times are multiples of this apart */
#define SLIP_BUCKET_MS 0.1
#define SLIP_BUCKETS 20001 /* 0..2 s in 0.1 ms steps, the last one open */

struct sub {
	char service[DD_NAME_MAX];
	struct dd_addr addr;
	uint16_t port;
	enum dd_initial initial;
};

struct hc {
	struct dd_health *h;
	struct dd_check chk;     /* deep copy: the config is not kept */
	struct dd_addr addr;
	uint16_t port;           /* port probed */
	uint64_t key;            /* hash of addr, port, check */
	struct sub *subs;
	size_t n_subs;
	bool taken;              /* reload: moved into the new set */

	bool up;
	uint32_t streak;
	bool last_ok;
	char reason[DD_PROBE_REASON_MAX];
	double since;
	uint64_t n_checks, n_ok, n_failed, n_transitions;

	double due;              /* monotonic seconds */
	struct tick_group *group; /* the group of checks due at `due` */
	struct hc *gprev, *gnext;
	struct dd_probe probe;
};

/* Checks whose next tick is at exactly the same time: those made in one
 * pass (same `now`) with the same slot and interval stay together. */
struct tick_group {
	double due;
	struct hc *head;
	ev_timer w;
	struct dd_health *h;
	struct tick_group *hnext; /* hash chain */
};

#define GROUP_BUCKETS 1024

struct dd_health {
	struct ev_loop *loop;
	struct dd_health_hooks hooks;
	struct dd_probe_ctx pctx;
	struct hc **v;
	size_t n;
	uint64_t started, skipped;
	uint64_t slip_n;
	double slip_max;
	uint32_t *slip_hist;
	struct tick_group *groups[GROUP_BUCKETS];
	struct dd_index by_sub;  /* (service, address, port) -> hc */
};

/* ---- keys -------------------------------------------------------------- */

static uint64_t check_key(const struct dd_addr *a, uint16_t port, const struct dd_check *c)
{
	uint64_t h = DD_HASH_INIT;
	h = dd_hash_bytes(h, &a->family, sizeof a->family);
	h = dd_hash_bytes(h, &a->u, dd_addr_len(a));
	h = dd_hash_bytes(h, &port, sizeof port);
	uint32_t nums[] = { c->type, c->interval_ms, c->timeout_ms, c->rise, c->fall,
			    c->initial, c->verify_tls, (uint32_t)c->script_uid, (uint32_t)c->script_gid };
	h = dd_hash_bytes(h, nums, sizeof nums);
	h = dd_hash_str(h, c->method);
	h = dd_hash_str(h, c->path);
	h = dd_hash_str(h, c->host);
	h = dd_hash_bytes(h, c->status, c->n_status * sizeof *c->status);
	h = dd_hash_bytes(h, &c->n_status, sizeof c->n_status);
	h = dd_hash_str(h, c->body_match);
	h = dd_hash_str(h, c->sni);
	h = dd_hash_str(h, c->ca_file);
	h = dd_hash_str(h, c->command);
	h = dd_hash_str(h, c->send);
	h = dd_hash_str(h, c->expect);
	h = dd_hash_str(h, c->dns_query);
	return h;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool check_eq(const struct dd_check *a, const struct dd_check *b)
{
	return a->type == b->type && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->rise == b->rise && a->fall == b->fall &&
	       a->initial == b->initial && a->port == b->port &&
	       a->script_uid == b->script_uid && a->script_gid == b->script_gid &&
	       dd_addr_eq(&a->source, &b->source) && strcmp(a->interface, b->interface) == 0 &&
	       a->verify_tls == b->verify_tls && a->n_status == b->n_status &&
	       (a->n_status == 0 || memcmp(a->status, b->status, a->n_status * sizeof *a->status) == 0) &&
	       str_eq(a->method, b->method) && str_eq(a->path, b->path) &&
	       str_eq(a->host, b->host) && str_eq(a->body_match, b->body_match) &&
	       str_eq(a->sni, b->sni) && str_eq(a->ca_file, b->ca_file) &&
	       str_eq(a->command, b->command) && str_eq(a->send, b->send) &&
	       str_eq(a->expect, b->expect) && str_eq(a->dns_query, b->dns_query);
}

static bool hc_matches(const struct hc *c, uint64_t key, const struct dd_addr *a,
		       uint16_t port, const struct dd_check *chk)
{
	return c->key == key && c->port == port && dd_addr_eq(&c->addr, a) &&
	       check_eq(&c->chk, chk);
}

/* The copy is the loader's (conf/keys.c); only the guards are ours. */
static void check_copy(struct dd_check *d, const struct dd_check *s)
{
	dd_check_copy(d, s);
	/* A zero would spin the loop or never fail; the loader's defaults. */
	if (!d->interval_ms)
		d->interval_ms = 2000;
	if (!d->timeout_ms)
		d->timeout_ms = 1000;
	if (!d->rise)
		d->rise = 1;
	if (!d->fall)
		d->fall = 1;
}

/* An index over a set of hc by check key, for building from a config of
 * ten thousand real servers without a quadratic search. */
static struct hc *index_find(const struct dd_index *ix, uint64_t key, const struct dd_addr *a,
			     uint16_t port, const struct dd_check *chk, bool skip_taken)
{
	size_t pos = 0;
	for (struct hc *c; (c = dd_index_next(ix, key, &pos));)
		if ((!skip_taken || !c->taken) && hc_matches(c, key, a, port, chk))
			return c;
	return NULL;
}

/* ---- verdicts ---------------------------------------------------------- */

static void rs_label(const struct hc *c, char *buf, size_t len)
{
	char ap[DD_ADDR_STRLEN];
	const struct sub *s = &c->subs[0];
	dd_addr_port_str(&s->addr, s->port, ap, sizeof ap);
	if (c->chk.type != DD_CHECK_EXEC && c->port != s->port)
		snprintf(buf, len, "%s (check port %u)", ap, c->port);
	else
		snprintf(buf, len, "%s", ap);
}

static void services_label(const struct hc *c, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "%s ", c->n_subs > 1 ? "services" : "service");
	for (size_t i = 0; i < c->n_subs && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", c->subs[i].service);
}

static void transition(struct hc *c, double now)
{
	struct dd_health *h = c->h;
	bool up = !c->up;
	char svc[512], rs[DD_ADDR_STRLEN + 32];
	services_label(c, svc, sizeof svc);
	rs_label(c, rs, sizeof rs);
	uint32_t need = up ? c->chk.rise : c->chk.fall;
	dlog(up ? LOG_NOTICE : LOG_WARNING, "health",
	     "%s: real server %s %s after %.1f s %s: %s (%u/%u)", svc, rs,
	     up ? "UP" : "DOWN", now - c->since, c->up ? "UP" : "DOWN",
	     up ? "check succeeded" : c->reason, c->streak, need);
	c->up = up;
	c->since = now;
	c->streak = 0;
	c->n_transitions++;
	if (!h->hooks.changed)
		return;
	for (size_t i = 0; i < c->n_subs; i++)
		h->hooks.changed(h->hooks.ctx, c->subs[i].service, &c->subs[i].addr,
				 c->subs[i].port, up, c->reason);
}

static void probe_done(struct dd_probe *p, bool ok, const char *reason)
{
	struct hc *c = (struct hc *)((char *)p - offsetof(struct hc, probe));
	c->n_checks++;
	ok ? c->n_ok++ : c->n_failed++;
	c->last_ok = ok;
	snprintf(c->reason, sizeof c->reason, "%s", reason);
	if (ok == c->up) {
		c->streak = 0;
		return;
	}
	c->streak++;
	if (c->streak >= (c->up ? c->chk.fall : c->chk.rise))
		transition(c, mono_now());
}

/* ---- scheduling -------------------------------------------------------- */

static void record_slip(struct dd_health *h, double slip_s)
{
	double ms = slip_s * 1000.0;
	if (ms < 0)
		ms = 0;
	size_t b = (size_t)(ms / SLIP_BUCKET_MS);
	if (b >= SLIP_BUCKETS)
		b = SLIP_BUCKETS - 1;
	h->slip_hist[b]++;
	h->slip_n++;
	if (ms > h->slip_max)
		h->slip_max = ms;
}

static size_t group_bucket(double due)
{
	uint64_t bits;
	memcpy(&bits, &due, sizeof bits);
	return (size_t)((bits * 0x9E3779B97F4A7C15ULL) >> 54) % GROUP_BUCKETS;
}

static void group_free(struct tick_group *g)
{
	struct tick_group **pp = &g->h->groups[group_bucket(g->due)];
	while (*pp != g)
		pp = &(*pp)->hnext;
	*pp = g->hnext;
	ev_timer_stop(g->h->loop, &g->w);
	free(g);
}

static void group_unlink(struct hc *c)
{
	struct tick_group *g = c->group;
	if (!g)
		return;
	if (c->gprev)
		c->gprev->gnext = c->gnext;
	else
		g->head = c->gnext;
	if (c->gnext)
		c->gnext->gprev = c->gprev;
	c->group = NULL;
	c->gprev = c->gnext = NULL;
	if (!g->head)
		group_free(g);
}

static void tick(struct hc *c, double now);

static void group_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tick_group *g = w->data;
	struct hc *c = g->head;
	g->head = NULL;
	group_free(g);
	/* libev measures `after` from the loop's cached time; refresh it so the
	 * next timers land on the grid. */
	ev_now_update(loop);
	/* The checks leave the group before any runs: a probe never calls back
	 * from inside dd_probe_start(), so nothing frees a check meanwhile. */
	for (struct hc *x = c; x; x = x->gnext)
		x->group = NULL;
	while (c) {
		struct hc *next = c->gnext;
		c->gprev = c->gnext = NULL;
		tick(c, mono_now());
		c = next;
	}
}

static void arm(struct hc *c, double now)
{
	struct dd_health *h = c->h;
	size_t b = group_bucket(c->due);
	struct tick_group *g = h->groups[b];
	while (g && g->due != c->due)
		g = g->hnext;
	if (!g) {
		g = xcalloc(1, sizeof *g);
		g->due = c->due;
		g->h = h;
		g->hnext = h->groups[b];
		h->groups[b] = g;
		ev_timer_init(&g->w, group_cb, c->due > now ? c->due - now : 0., 0.);
		g->w.data = g;
		ev_timer_start(h->loop, &g->w);
	}
	c->group = g;
	c->gprev = NULL;
	c->gnext = g->head;
	if (g->head)
		g->head->gprev = c;
	g->head = c;
}

static void tick(struct hc *c, double now)
{
	struct dd_health *h = c->h;
	record_slip(h, now - c->due);
	if (c->probe.running) {
		h->skipped++;
	} else {
		h->started++;
		dd_probe_start(&c->probe);
	}
	double iv = c->chk.interval_ms / 1000.0;
	c->due += iv;
	if (c->due <= now) /* fell behind by a whole interval: skip, do not burst */
		c->due += ceil((now - c->due) / iv) * iv;
	arm(c, now);
}

static struct hc *hc_new(struct dd_health *h, uint64_t key, const struct dd_addr *a,
			 uint16_t port, const struct dd_check *chk, double now)
{
	struct hc *c = xcalloc(1, sizeof *c);
	c->h = h;
	check_copy(&c->chk, chk);
	c->addr = *a;
	c->port = port;
	c->key = key;
	c->up = chk->initial == DD_INITIAL_UP;
	c->since = mono_now();
	/* Place on the grid: a hash-chosen phase, rounded to a slot so that
	 * checks due close together run in one loop wakeup (fewer context
	 * switches) while still spread over the whole interval. */
	double iv = c->chk.interval_ms / 1000.0;
	double phase = (double)(key % 1000003) / 1000003.0 * iv;
	c->due = now + floor(phase / SLOT_S) * SLOT_S;
	c->probe.ctx = &h->pctx;
	c->probe.chk = &c->chk;
	c->probe.addr = *a;
	c->probe.port = port;
	c->probe.done = probe_done;
	c->probe.fd = -1;
	return c;
}

static void hc_free(struct hc *c)
{
	group_unlink(c);
	dd_probe_cleanup(&c->probe);
	dd_check_free(&c->chk);
	free(c->subs);
	free(c);
}

/* Reload bookkeeping: which old check served each (service, real server). */
struct sub_ref {
	const struct sub *sub;
	struct hc *hc;
};

static bool sub_eq(const struct sub *a, const char *service, const struct dd_addr *addr, uint16_t port)
{
	return a->port == port && dd_addr_eq(&a->addr, addr) && strcmp(a->service, service) == 0;
}

static struct hc *sub_ref_find(const struct dd_index *m, const struct sub *s)
{
	size_t pos = 0;
	for (const struct sub_ref *r; (r = dd_index_next(m, dd_hash_rs(s->service, &s->addr, s->port), &pos));)
		if (sub_eq(r->sub, s->service, &s->addr, s->port))
			return r->hc;
	return NULL;
}

/* dd_health_get's index: each check once per subscriber, by the
 * subscriber's key. Rebuilt whenever the set of checks changes, because
 * the subscriber arrays move then. */
static void index_subs(struct dd_health *h)
{
	size_t n = 0;
	for (size_t i = 0; i < h->n; i++)
		n += h->v[i]->n_subs;
	dd_index_free(&h->by_sub);
	dd_index_init(&h->by_sub, n);
	for (size_t i = 0; i < h->n; i++)
		for (size_t k = 0; k < h->v[i]->n_subs; k++) {
			const struct sub *sb = &h->v[i]->subs[k];
			dd_index_put(&h->by_sub, dd_hash_rs(sb->service, &sb->addr, sb->port), h->v[i]);
		}
}

static void add_sub(struct hc *c, const char *service, const struct dd_real_server *rs)
{
	for (size_t i = 0; i < c->n_subs; i++)
		if (sub_eq(&c->subs[i], service, &rs->addr, rs->port))
			return;
	c->subs = xrealloc(c->subs, (c->n_subs + 1) * sizeof *c->subs);
	struct sub *s = &c->subs[c->n_subs++];
	memset(s, 0, sizeof *s);
	snprintf(s->service, sizeof s->service, "%s", service);
	s->addr = rs->addr;
	s->port = rs->port;
	s->initial = rs->check.initial;
}

/* Build the set of checks for cfg. With `old`, unchanged checks are moved
 * over from it (state and in-flight probe included) and marked taken. */
static void build(struct dd_health *h, const struct dd_config *cfg, struct dd_index *old,
		  struct hc ***out, size_t *n_out)
{
	size_t total = 0;
	for (size_t i = 0; i < cfg->n_clusters; i++)
		for (size_t j = 0; j < cfg->clusters[i].n_services; j++)
			total += cfg->clusters[i].services[j].n_rs;
	struct dd_index ix;
	dd_index_init(&ix, total);
	struct hc **v = xcalloc(total ? total : 1, sizeof *v);
	size_t n = 0;
	double now = mono_now() + SLOT_S; /* one epoch for the whole set */
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct dd_cluster *cl = &cfg->clusters[i];
		for (size_t j = 0; j < cl->n_services; j++) {
			const struct dd_service *svc = &cl->services[j];
			for (size_t k = 0; k < svc->n_rs; k++) {
				const struct dd_real_server *rs = &svc->rs[k];
				const struct dd_check *chk = &rs->check;
				if (chk->type == DD_CHECK_NONE)
					continue;
				uint16_t port = chk->port ? chk->port : rs->port;
				uint64_t key = check_key(&rs->addr, port, chk);
				struct hc *c = index_find(&ix, key, &rs->addr, port, chk, false);
				if (!c && old) {
					c = index_find(old, key, &rs->addr, port, chk, true);
					if (c) {
						c->taken = true;
						c->n_subs = 0; /* rebuilt below from the new config */
						dd_index_put(&ix, c->key, c);
						v[n++] = c;
					}
				}
				if (!c) {
					c = hc_new(h, key, &rs->addr, port, chk, now);
					dd_index_put(&ix, c->key, c);
					v[n++] = c;
				}
				add_sub(c, svc->name, rs);
			}
		}
	}
	dd_index_free(&ix);
	*out = v;
	*n_out = n;
}

/* Every probe in flight holds a descriptor; ten thousand checks with a
 * timeout close to their interval need that many. */
static void ensure_fd_limit(size_t n_probes)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n_probes + 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rlim_t old = rl.rlim_cur;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_notice("health", "raised the open-file limit from %llu to %llu for %zu checks",
			   (unsigned long long)old, (unsigned long long)rl.rlim_cur, n_probes);
	if (rl.rlim_cur < want)
		log_warn("health", "open-file limit %llu is low for %zu checks: probes may fail "
			 "with \"Too many open files\"", (unsigned long long)rl.rlim_cur, n_probes);
}

struct dd_health *dd_health_new(struct ev_loop *loop, const struct dd_config *cfg,
				const struct dd_health_hooks *hooks)
{
	/* OpenSSL writes to its sockets with write(2): a server that resets
	 * the connection mid-check must cost an EPIPE, not the process. */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	struct dd_health *h = xcalloc(1, sizeof *h);
	h->loop = loop;
	if (hooks)
		h->hooks = *hooks;
	h->slip_hist = xcalloc(SLIP_BUCKETS, sizeof *h->slip_hist);
	dd_probe_ctx_init(&h->pctx, loop);
	build(h, cfg, NULL, &h->v, &h->n);
	index_subs(h);
	ensure_fd_limit(h->n);
	double now = mono_now();
	ev_now_update(loop);
	for (size_t i = 0; i < h->n; i++)
		arm(h->v[i], now);
	log_info("health", "%zu checks for real servers started", h->n);
	return h;
}

int dd_health_reload(struct dd_health *h, const struct dd_config *cfg)
{
	struct dd_index old;
	dd_index_init(&old, h->n);
	size_t n_prev = 0;
	for (size_t i = 0; i < h->n; i++)
		n_prev += h->v[i]->n_subs;
	struct dd_index prev;
	dd_index_init(&prev, n_prev);
	struct sub_ref *refs = xcalloc(n_prev ? n_prev : 1, sizeof *refs);
	/* The old subscriber arrays stay alive (as prev_subs) until the end. */
	struct sub **prev_subs = xcalloc(h->n ? h->n : 1, sizeof *prev_subs);
	for (size_t i = 0, r = 0; i < h->n; i++) {
		struct hc *c = h->v[i];
		c->taken = false;
		dd_index_put(&old, c->key, c);
		for (size_t k = 0; k < c->n_subs; k++, r++) {
			const struct sub *sb = &c->subs[k];
			refs[r] = (struct sub_ref){ sb, c };
			dd_index_put(&prev, dd_hash_rs(sb->service, &sb->addr, sb->port), &refs[r]);
		}
		prev_subs[i] = c->subs;
		c->subs = NULL;
	}
	struct hc **nv;
	size_t nn;
	build(h, cfg, &old, &nv, &nn);

	size_t kept = 0, started = 0, inherited = 0;
	double now = mono_now();
	ev_now_update(h->loop);
	for (size_t i = 0; i < nn; i++) {
		struct hc *c = nv[i];
		if (c->taken) {
			kept++;
		} else {
			/* A changed check for a real server that was checked before
			 * keeps its verdict: tuning a check must not bounce servers. */
			for (size_t k = 0; k < c->n_subs; k++) {
				const struct hc *from = sub_ref_find(&prev, &c->subs[k]);
				if (from) {
					c->up = from->up;
					c->since = from->since;
					snprintf(c->reason, sizeof c->reason, "%s", from->reason);
					inherited++;
					break;
				}
			}
			arm(c, now);
			started++;
		}
		/* Each service hears about a verdict that differs from what it
		 * last heard (or, if new, from where it starts). */
		for (size_t k = 0; k < c->n_subs; k++) {
			const struct sub *ns = &c->subs[k];
			const struct hc *from = sub_ref_find(&prev, ns);
			bool known = from ? from->up : ns->initial == DD_INITIAL_UP;
			if (c->up != known && h->hooks.changed)
				h->hooks.changed(h->hooks.ctx, ns->service, &ns->addr, ns->port,
						 c->up, c->reason[0] ? c->reason : "state kept across reload");
		}
	}
	size_t stopped = 0;
	for (size_t i = 0; i < h->n; i++) {
		free(prev_subs[i]);
		if (!h->v[i]->taken) {
			hc_free(h->v[i]);
			stopped++;
		}
	}
	free(prev_subs);
	dd_index_free(&prev);
	free(refs);
	dd_index_free(&old);
	free(h->v);
	h->v = nv;
	h->n = nn;
	index_subs(h);
	ensure_fd_limit(nn);
	log_info("health", "reload: %zu checks kept, %zu started (%zu keep their server's state), %zu stopped",
		 kept, started, inherited, stopped);
	return 0;
}

void dd_health_free(struct dd_health *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		hc_free(h->v[i]);
	free(h->v);
	dd_index_free(&h->by_sub);
	dd_probe_ctx_cleanup(&h->pctx);
	free(h->slip_hist);
	free(h);
}

/* ---- status ------------------------------------------------------------ */

static void fill_status(const struct hc *c, const struct sub *s, double now,
			struct dd_health_rs_status *st)
{
	memset(st, 0, sizeof *st);
	st->service = s->service;
	st->addr = s->addr;
	st->port = s->port;
	st->check_port = c->port;
	st->type = c->chk.type;
	st->up = c->up;
	st->last_ok = c->last_ok;
	st->reason = c->reason;
	st->in_state_s = now - c->since;
	st->streak = c->streak;
	st->needed = c->up ? c->chk.fall : c->chk.rise;
	st->n_checks = c->n_checks;
	st->n_ok = c->n_ok;
	st->n_failed = c->n_failed;
	st->n_transitions = c->n_transitions;
	st->n_shared = (unsigned)c->n_subs;
	st->n_tls_resumed = c->probe.tls_resumed;
}

void dd_health_foreach(struct dd_health *h, dd_health_status_fn fn, void *arg)
{
	double now = mono_now();
	struct dd_health_rs_status st;
	for (size_t i = 0; i < h->n; i++)
		for (size_t s = 0; s < h->v[i]->n_subs; s++) {
			fill_status(h->v[i], &h->v[i]->subs[s], now, &st);
			fn(arg, &st);
		}
}

bool dd_health_get(struct dd_health *h, const char *service, const struct dd_addr *rs,
		   uint16_t port, struct dd_health_rs_status *out)
{
	size_t pos = 0;
	for (const struct hc *c; (c = dd_index_next(&h->by_sub, dd_hash_rs(service, rs, port), &pos));)
		for (size_t s = 0; s < c->n_subs; s++)
			if (sub_eq(&c->subs[s], service, rs, port)) {
				fill_status(c, &c->subs[s], mono_now(), out);
				return true;
			}
	return false;
}

static double slip_quantile(const struct dd_health *h, double q)
{
	if (!h->slip_n)
		return 0;
	uint64_t want = (uint64_t)ceil(q * (double)h->slip_n), acc = 0;
	for (size_t b = 0; b < SLIP_BUCKETS; b++) {
		acc += h->slip_hist[b];
		if (acc >= want)
			return (double)(b + 1) * SLIP_BUCKET_MS; /* bucket's upper edge */
	}
	return h->slip_max;
}

void dd_health_get_stats(struct dd_health *h, struct dd_health_stats *out)
{
	memset(out, 0, sizeof *out);
	out->n_probes = h->n;
	for (size_t i = 0; i < h->n; i++)
		out->n_subscribers += h->v[i]->n_subs;
	out->in_flight = h->pctx.in_flight;
	out->started = h->started;
	out->skipped = h->skipped;
	out->slip_samples = h->slip_n;
	out->slip_p50_ms = slip_quantile(h, 0.50);
	out->slip_p99_ms = slip_quantile(h, 0.99);
	out->slip_max_ms = h->slip_max;
}

void dd_health_reset_stats(struct dd_health *h)
{
	memset(h->slip_hist, 0, SLIP_BUCKETS * sizeof *h->slip_hist);
	h->slip_n = 0;
	h->slip_max = 0;
	h->started = h->skipped = 0;
}
