/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/util.h: small helpers with no state: clocks, allocation that cannot
 * return NULL, string copies. Usable from any thread. */
#ifndef DD_LIB_UTIL_H
#define DD_LIB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

double mono_now(void);      /* CLOCK_MONOTONIC in seconds */
uint64_t mono_ms(void);     /* CLOCK_MONOTONIC in milliseconds */
uint64_t mono_us(void);     /* CLOCK_MONOTONIC in microseconds */

/* Out of memory in a director is not recoverable in any useful way; these
 * abort with a log line instead of spreading NULL checks everywhere. */
/* Keeps large blocks (a status reply at 10,000 real servers is 2-4 MB, its
 * model 2 MB) in the heap once freed instead of returning them to the
 * kernel: glibc otherwise maps each one afresh, and the page faults and
 * zeroing of new pages were a third of a scrape's time on the main loop.
 * The cost is that the heap keeps its high-water mark (a few MB at that
 * size). Call once, before any thread starts. */
void dd_heap_tune(void);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* The "char **err" convention of the parts' constructors: *err gets a
 * malloc'd message the caller frees; a NULL err means the caller does not
 * want one. */
void dd_seterr(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code
 * points past U+10FFFF), which is what JSON and the logs can carry. */
bool dd_utf8_valid(const char *s);

/* Read a whole small file (key files). Returns bytes read or -1 with errno
 * set; the buffer is NUL-terminated. */
long read_small_file(const char *path, char *buf, size_t bufsz);

/* Files root writes at run time (pid file, state file, control socket)
 * must not be steered by another user. dd_dir_open() opens the directory
 * that holds `path` and refuses (-1, errno EPERM, *err) one that a user
 * other than root or us can write unless it is sticky (/tmp); in a sticky
 * shared one, *shared is set and the file itself must be ours. *base
 * points into path at the file's name. Use the directory fd with the *at()
 * calls and O_NOFOLLOW, never the path again. */
int dd_dir_open(const char *path, const char **base, bool *shared, char **err);
/* The file `base` in dirfd is absent (1), ours and not a symlink (0), or
 * someone else's / a symlink (-1 with *err). */
int dd_file_ours(int dirfd, const char *path, const char *base, char **err);
/* Reads `path` like read_small_file, without following a symlink, in a
 * directory dd_dir_open() accepts, and only if the file is ours. -1 with
 * errno ENOENT (and no *err) when absent. */
long read_owned_file(const char *path, char *buf, size_t bufsz, char **err);
/* Writes atomically: a new temp file (O_EXCL, O_NOFOLLOW, random name) in
 * the same directory, fsync, rename over `path`, in a directory
 * dd_dir_open() accepts, never over a file that is not ours. */
int write_file_atomic(const char *path, const void *buf, size_t len, char **err);

#endif
