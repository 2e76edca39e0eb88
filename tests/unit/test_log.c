/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_log.c: the log queue of threads that must never block
 * (lib/log.h). A real producer thread, real pipes as stderr: lines wait in
 * the queue until the owner drains them, keep their order and their event
 * time, a full queue drops and says so, and a producer whose stderr is a
 * pipe nobody reads still finishes at once (a direct write would hang). */
#include "config.h"
#include "lib/log.h"
#include "lib/util.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int saved_stderr = -1;
static int pipe_rd = -1;

/* stderr becomes the write end of a fresh pipe; the test reads the other. */
static void capture(void)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	pipe_rd = p[0];
	fcntl(pipe_rd, F_SETFL, O_NONBLOCK);
}

static void release_capture(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(pipe_rd);
}

static size_t slurp(char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	while (n < cap - 1 && (r = read(pipe_rd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

struct producer {
	struct dlog_queue *q;
	int lines;
	atomic_int woken;
	atomic_bool done;
};

static void wake(void *arg)
{
	struct producer *p = arg;
	atomic_fetch_add(&p->woken, 1);
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	dlog_defer_thread(p->q);
	for (int i = 0; i < p->lines; i++)
		log_warn("test", "line %d from the real-time thread", i);
	dlog_defer_thread(NULL);
	atomic_store(&p->done, true);
	return NULL;
}

static void run_producer(struct producer *p)
{
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, produce, p), 0);
	pthread_join(t, NULL);
}

START_TEST(lines_wait_for_drain_in_order)
{
	dlog_open("test", DLOG_STDERR, LOG_DAEMON);
	dlog_set_level(LOG_INFO);
	capture();
	struct producer p = { .lines = 3 };
	p.q = dlog_queue_new(8, wake, &p);
	run_producer(&p);
	char buf[4096];
	ck_assert_uint_eq(slurp(buf, sizeof buf), 0); /* nothing written by the thread */
	ck_assert_int_eq(atomic_load(&p.woken), 3);
	ck_assert_uint_eq(dlog_queue_drain(p.q), 3);
	slurp(buf, sizeof buf);
	const char *a = strstr(buf, "warning test: line 0 from");
	const char *b = strstr(buf, "warning test: line 1 from");
	const char *c = strstr(buf, "warning test: line 2 from");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(c);
	ck_assert(a < b && b < c);
	ck_assert_uint_eq(dlog_queue_drain(p.q), 0);
	/* This (main) thread was never deferred: its lines go straight out. */
	log_notice("test", "direct");
	slurp(buf, sizeof buf);
	ck_assert_ptr_nonnull(strstr(buf, "notice  test: direct"));
	dlog_queue_free(p.q);
	release_capture();
}
END_TEST

START_TEST(full_queue_drops_and_counts)
{
	dlog_open("test", DLOG_STDERR, LOG_DAEMON);
	dlog_set_level(LOG_INFO);
	capture();
	struct producer p = { .lines = 10 };
	p.q = dlog_queue_new(4, wake, &p);
	run_producer(&p);
	ck_assert_uint_eq(dlog_queue_drain(p.q), 4);
	char buf[4096];
	slurp(buf, sizeof buf);
	ck_assert_ptr_nonnull(strstr(buf, "line 3 from"));
	ck_assert_ptr_null(strstr(buf, "line 4 from"));
	ck_assert_ptr_nonnull(strstr(buf, "6 log lines from a real-time thread dropped"));
	dlog_queue_free(p.q);
	release_capture();
}
END_TEST

/* The property the queue exists for: stderr is a pipe that nobody reads and
 * that is already full, so any write(2) to it blocks. The producer still
 * logs 1000 lines and finishes. */
START_TEST(producer_never_blocks_on_a_stuck_sink)
{
	dlog_open("test", DLOG_STDERR, LOG_DAEMON);
	dlog_set_level(LOG_INFO);
	capture();
	int fl = fcntl(STDERR_FILENO, F_GETFL);
	fcntl(STDERR_FILENO, F_SETFL, fl | O_NONBLOCK);
	char junk[4096];
	memset(junk, 'x', sizeof junk);
	while (write(STDERR_FILENO, junk, sizeof junk) > 0)
		;
	fcntl(STDERR_FILENO, F_SETFL, fl); /* blocking again, and full */
	struct producer p = { .lines = 1000 };
	p.q = dlog_queue_new(64, wake, &p);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, produce, &p), 0);
	double end = mono_now() + 10;
	while (!atomic_load(&p.done) && mono_now() < end)
		usleep(1000);
	ck_assert_msg(atomic_load(&p.done), "the producer blocked on its log sink");
	pthread_join(t, NULL);
	/* Let the drain get through: empty the pipe, then write the lines. */
	fcntl(STDERR_FILENO, F_SETFL, fl | O_NONBLOCK);
	while (read(pipe_rd, junk, sizeof junk) > 0)
		;
	ck_assert_uint_eq(dlog_queue_drain(p.q), 64);
	dlog_queue_free(p.q);
	release_capture();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("queue");
	tcase_add_test(tc, lines_wait_for_drain_in_order);
	tcase_add_test(tc, full_queue_drops_and_counts);
	tcase_add_test(tc, producer_never_blocks_on_a_stuck_sink);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
