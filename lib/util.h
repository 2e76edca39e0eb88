/* lib/util.h: small helpers with no state: clocks, allocation that cannot
 * return NULL, string copies. Usable from any thread. */
#ifndef DD_LIB_UTIL_H
#define DD_LIB_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

double mono_now(void);      /* CLOCK_MONOTONIC in seconds */
uint64_t mono_ms(void);     /* CLOCK_MONOTONIC in milliseconds */
uint64_t mono_us(void);     /* CLOCK_MONOTONIC in microseconds */

/* Out of memory in a director is not recoverable in any useful way; these
 * abort with a log line instead of spreading NULL checks everywhere. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* The "char **err" convention of the parts' constructors: *err gets a
 * malloc'd message the caller frees; a NULL err means the caller does not
 * want one. */
void dd_seterr(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read a whole small file (key files, state files). Returns bytes read or -1
 * with errno set; the buffer is NUL-terminated. */
long read_small_file(const char *path, char *buf, size_t bufsz);
/* Write atomically: temp file in the same directory, fsync, rename. */
int write_file_atomic(const char *path, const void *buf, size_t len);

#endif
