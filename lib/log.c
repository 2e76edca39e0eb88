/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/log.c: logging to stderr or syslog. Called from every loop and thread
 * (main loop, heartbeat thread); the state here is written only during
 * start-up and reload, before or between the threads' use of it.
 *
 * A thread that must never block (the heartbeat thread) hands its lines to
 * a dlog_queue instead: a write(2) to a log file or syslog(3) to a busy
 * syslog daemon can wait for a disk, and a keepalive thread waiting for a
 * disk misses keepalives. The main loop writes the queued lines. */
#include "config.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdatomic.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_sink = DLOG_STDERR;
static _Atomic int log_max = LOG_INFO;

/* LOG_EMERG..LOG_DEBUG are 0..7: a level is its index. */
const char *const dlog_level_names[] = { "emerg", "alert", "crit", "err",
	"warning", "notice", "info", "debug", NULL };
_Static_assert(LOG_EMERG == 0 && LOG_DEBUG == 7, "syslog levels are 0..7");

const char *const dlog_facility_names[] = { "daemon", "user", "local0",
	"local1", "local2", "local3", "local4", "local5", "local6", "local7", NULL };
static const int facility_values[] = { LOG_DAEMON, LOG_USER, LOG_LOCAL0,
	LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6,
	LOG_LOCAL7 };
_Static_assert(ARRAY_SIZE(dlog_facility_names) == ARRAY_SIZE(facility_values) + 1,
	       "one value per facility name");

int dlog_level_from_name(const char *name)
{
	for (int i = 0; dlog_level_names[i]; i++)
		if (strcasecmp(name, dlog_level_names[i]) == 0)
			return i;
	return -1;
}

const char *dlog_level_name(int level)
{
	return level >= LOG_EMERG && level <= LOG_DEBUG ? dlog_level_names[level] : "?";
}

int dlog_facility_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(facility_values); i++)
		if (strcasecmp(name, dlog_facility_names[i]) == 0)
			return facility_values[i];
	return -1;
}

const char *dlog_facility_name(int facility)
{
	for (size_t i = 0; i < ARRAY_SIZE(facility_values); i++)
		if (facility_values[i] == facility)
			return dlog_facility_names[i];
	return "?";
}

void dlog_open(const char *ident, enum dlog_sink sink, int facility)
{
	if (sink == DLOG_SYSLOG) {
		closelog();
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
	}
	atomic_store(&log_sink, sink);
}

void dlog_set_level(int max_level)
{
	atomic_store(&log_max, max_level);
}

/* Writes one finished line; `ts` is when the event happened (a queued
 * line is written later than that). syslog stamps lines itself. */
static void emit(int level, const char *subsys, const char *msg, const struct timespec *ts)
{
	if (atomic_load(&log_sink) == DLOG_SYSLOG) {
		syslog(level, "%s: %s", subsys, msg);
		return;
	}
	struct tm tm;
	localtime_r(&ts->tv_sec, &tm);
	char line[1200];
	int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %-7s %s: %s\n",
			 tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000L,
			 dlog_level_name(level), subsys, msg);
	if (n > (int)sizeof line - 1)
		n = sizeof line - 1, line[n - 1] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

/* ---- queue for threads that must not block -------------------------------- */

#define DLOG_MSG_MAX 1024

struct dlog_slot {
	int level;
	char subsys[32];
	struct timespec ts;
	char msg[DLOG_MSG_MAX];
};

/* One producer thread, one consumer (the main loop): a ring indexed by two
 * counters, each written by one side only, so neither side ever waits. */
struct dlog_queue {
	struct dlog_slot *slots;
	unsigned n;
	_Atomic uint64_t head; /* next slot to fill: written by the producer */
	_Atomic uint64_t tail; /* next slot to write out: written by the consumer */
	_Atomic uint64_t dropped;
	void (*wake)(void *arg);
	void *wake_arg;
};

static _Thread_local struct dlog_queue *tl_queue;

struct dlog_queue *dlog_queue_new(unsigned slots, void (*wake)(void *arg), void *arg)
{
	struct dlog_queue *q = xcalloc(1, sizeof *q);
	q->slots = xcalloc(slots, sizeof *q->slots);
	q->n = slots;
	q->wake = wake;
	q->wake_arg = arg;
	return q;
}

void dlog_queue_free(struct dlog_queue *q)
{
	if (!q)
		return;
	dlog_queue_drain(q);
	free(q->slots);
	free(q);
}

void dlog_defer_thread(struct dlog_queue *q)
{
	tl_queue = q;
}

static void enqueue(struct dlog_queue *q, int level, const char *subsys, const char *msg,
		    const struct timespec *ts)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	if (h - t >= q->n) {
		atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
	} else {
		struct dlog_slot *s = &q->slots[h % q->n];
		s->level = level;
		snprintf(s->subsys, sizeof s->subsys, "%s", subsys);
		s->ts = *ts;
		snprintf(s->msg, sizeof s->msg, "%s", msg);
		atomic_store_explicit(&q->head, h + 1, memory_order_release);
	}
	if (q->wake)
		q->wake(q->wake_arg);
}

size_t dlog_queue_drain(struct dlog_queue *q)
{
	size_t done = 0;
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	for (; t != h; t++, done++) {
		struct dlog_slot *s = &q->slots[t % q->n];
		emit(s->level, s->subsys, s->msg, &s->ts);
		atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	}
	uint64_t lost = atomic_exchange_explicit(&q->dropped, 0, memory_order_relaxed);
	if (lost) {
		struct timespec ts;
		char msg[128];
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(msg, sizeof msg, "%" PRIu64 " log lines from a real-time thread dropped: its queue was full", lost);
		emit(LOG_WARNING, "log", msg, &ts);
	}
	return done;
}

void vdlog(int level, const char *subsys, const char *fmt, va_list ap)
{
	if (level > atomic_load(&log_max))
		return;
	char msg[DLOG_MSG_MAX];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* One event, one line: never let a peer-supplied string split it. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (tl_queue)
		enqueue(tl_queue, level, subsys, msg, &ts);
	else
		emit(level, subsys, msg, &ts);
}

void dlog(int level, const char *subsys, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdlog(level, subsys, fmt, ap);
	va_end(ap);
}

void dlog_ratelimit_init(struct dlog_ratelimit *rl, unsigned burst, double per_sec)
{
	rl->tokens = burst;
	rl->last = mono_now();
	rl->suppressed = 0;
	rl->burst = burst;
	rl->per_sec = per_sec;
}

int dlog_ratelimit_ok(struct dlog_ratelimit *rl, unsigned *suppressed)
{
	double now = mono_now();
	rl->tokens += (now - rl->last) * rl->per_sec;
	if (rl->tokens > rl->burst)
		rl->tokens = rl->burst;
	rl->last = now;
	if (rl->tokens < 1.0) {
		rl->suppressed++;
		return 0;
	}
	rl->tokens -= 1.0;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}
