/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/log.h: the one logging API of directord.
 *
 * Every event is one line: "<subsystem>: <message>". Levels are the syslog
 * levels (LOG_ALERT ... LOG_DEBUG) so failover alerts keep their meaning all
 * the way to the operator's syslog. Safe to call from any thread: a line is
 * formatted into a local buffer and written with one write(2) or syslog(3).
 */
#ifndef DD_LIB_LOG_H
#define DD_LIB_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

enum dlog_sink {
	DLOG_STDERR, /* foreground (-n): stderr, with a timestamp */
	DLOG_SYSLOG, /* service: syslog(3) with the configured facility */
};

/* Set once at start-up and again after a reload changes the facility. */
void dlog_open(const char *ident, enum dlog_sink sink, int facility);
void dlog_set_level(int max_level); /* lines above this level are dropped */
/* The names, NULL-terminated, for messages that list them; lookups by
 * name ignore case. */
extern const char *const dlog_level_names[];
extern const char *const dlog_facility_names[];
int dlog_level_from_name(const char *name);       /* -1 if unknown */
const char *dlog_level_name(int level);
int dlog_facility_from_name(const char *name);    /* -1 if unknown */
const char *dlog_facility_name(int facility);

void dlog(int level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vdlog(int level, const char *subsys, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define log_alert(sub, ...) dlog(LOG_ALERT, sub, __VA_ARGS__)
#define log_crit(sub, ...)  dlog(LOG_CRIT, sub, __VA_ARGS__)
#define log_err(sub, ...)   dlog(LOG_ERR, sub, __VA_ARGS__)
#define log_warn(sub, ...)  dlog(LOG_WARNING, sub, __VA_ARGS__)
#define log_notice(sub, ...) dlog(LOG_NOTICE, sub, __VA_ARGS__)
#define log_info(sub, ...)  dlog(LOG_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...) dlog(LOG_DEBUG, sub, __VA_ARGS__)

/* Lines from a thread that must never block (the heartbeat thread): after
 * dlog_defer_thread(q) the calling thread's lines go into q, a lock-free
 * ring with one producer thread; `wake` (e.g. ev_async_send to the main
 * loop) is called after each line, and the owner of q writes the lines with
 * dlog_queue_drain(). A full queue drops lines and says how many once it
 * drains. dlog_queue_free() drains what is left. */
struct dlog_queue;
struct dlog_queue *dlog_queue_new(unsigned slots, void (*wake)(void *arg), void *arg);
void dlog_queue_free(struct dlog_queue *q);
void dlog_defer_thread(struct dlog_queue *q); /* NULL: write directly again */
size_t dlog_queue_drain(struct dlog_queue *q);

/* A token bucket for log lines about untrusted input (e.g. dropped
 * heartbeats): at most `burst` lines, refilled at `per_sec` lines/s. The
 * caller owns the struct; dlog_ratelimit() says whether to log now and how
 * many lines were suppressed since the last one that passed. */
struct dlog_ratelimit {
	double tokens;
	double last;      /* monotonic seconds */
	unsigned suppressed;
	unsigned burst;
	double per_sec;
};
void dlog_ratelimit_init(struct dlog_ratelimit *rl, unsigned burst, double per_sec);
/* Returns 1 if a line may be logged now; *suppressed gets the count skipped. */
int dlog_ratelimit_ok(struct dlog_ratelimit *rl, unsigned *suppressed);

#endif
