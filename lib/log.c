/* lib/log.c: logging to stderr or syslog. Called from every loop and thread
 * (main loop, heartbeat thread); the state here is written only during
 * start-up and reload, before or between the threads' use of it. */
#include "config.h"
#include "lib/log.h"
#include "lib/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_sink = DLOG_STDERR;
static _Atomic int log_max = LOG_INFO;

static const struct { const char *name; int value; } levels[] = {
	{ "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
	{ "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

static const struct { const char *name; int value; } facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER }, { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

int dlog_level_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (strcasecmp(name, levels[i].name) == 0)
			return levels[i].value;
	return -1;
}

const char *dlog_level_name(int level)
{
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (levels[i].value == level)
			return levels[i].name;
	return "?";
}

int dlog_facility_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(facilities); i++)
		if (strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].value;
	return -1;
}

const char *dlog_facility_name(int facility)
{
	for (size_t i = 0; i < ARRAY_SIZE(facilities); i++)
		if (facilities[i].value == facility)
			return facilities[i].name;
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

void vdlog(int level, const char *subsys, const char *fmt, va_list ap)
{
	if (level > atomic_load(&log_max))
		return;
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* One event, one line: never let a peer-supplied string split it. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (atomic_load(&log_sink) == DLOG_SYSLOG) {
		syslog(level, "%s: %s", subsys, msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	char line[1200];
	int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %-7s %s: %s\n",
			 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
			 dlog_level_name(level), subsys, msg);
	if (n > (int)sizeof line - 1)
		n = sizeof line - 1, line[n - 1] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
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
