/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/util.c: see util.h. No state; any thread. */
#include "config.h"
#include "lib/util.h"
#include "lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void dd_heap_tune(void)
{
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t mono_ms(void)
{
	return mono_us() / 1000u;
}

static void oom(size_t n)
{
	log_crit("core", "out of memory allocating %zu bytes", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		oom(n * sz);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom(strlen(s));
	return p;
}

void dd_seterr(char **err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
}

bool dd_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p++;
		int more;
		unsigned min;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, min = 0x80, c &= 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, min = 0x800, c &= 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, min = 0x10000, c &= 0x07;
		else
			return false;
		for (; more; more--, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (*p & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
	}
	return true;
}

/* Reads fd to its end or to bufsz - 1 bytes, NUL-terminates, and closes
 * it. Returns the bytes read, or -1 with errno. */
static long read_and_close(int fd, char *buf, size_t bufsz)
{
	size_t got = 0;
	while (got + 1 < bufsz) {
		ssize_t r = read(fd, buf + got, bufsz - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	return (long)got;
}

long read_small_file(const char *path, char *buf, size_t bufsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -1 : read_and_close(fd, buf, bufsz);
}

int dd_dir_open(const char *path, const char **base, bool *shared, char **err)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (!slash) {
		snprintf(dir, sizeof dir, ".");
		*base = path;
	} else if (slash == path) {
		snprintf(dir, sizeof dir, "/");
		*base = slash + 1;
	} else {
		if ((size_t)(slash - path) >= sizeof dir) {
			dd_seterr(err, "%s: path too long", path);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		*base = slash + 1;
	}
	if (!**base) {
		dd_seterr(err, "%s: names a directory, not a file", path);
		errno = EISDIR;
		return -1;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		dd_seterr(err, "directory %s: %s", dir, strerror(e));
		errno = e;
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		dd_seterr(err, "directory %s: %s", dir, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	/* Others may add names here when it is writable by a group or by all,
	 * or when it belongs to someone else. */
	bool others = (st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid != 0) ||
		      (st.st_uid != 0 && st.st_uid != geteuid());
	*shared = others;
	if (others && !(st.st_mode & S_ISVTX)) {
		dd_seterr(err, "directory %s can be written by other users and is not sticky: refusing to "
			  "keep %s there", dir, *base);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int dd_file_ours(int dirfd, const char *path, const char *base, char **err)
{
	struct stat st;
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 1;
		int e = errno;
		dd_seterr(err, "%s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	if (S_ISLNK(st.st_mode) || st.st_uid != geteuid()) {
		dd_seterr(err, "%s is %s: refusing to use it", path,
			  S_ISLNK(st.st_mode) ? "a symbolic link" : "owned by another user");
		errno = EPERM;
		return -1;
	}
	return 0;
}

long read_owned_file(const char *path, char *buf, size_t bufsz, char **err)
{
	const char *base;
	bool shared;
	int dfd = dd_dir_open(path, &base, &shared, err);
	if (dfd < 0)
		return -1;
	int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e != ENOENT)
			dd_seterr(err, "%s: %s", path, e == ELOOP ? "is a symbolic link" : strerror(e));
		close(dfd);
		errno = e;
		return -1;
	}
	close(dfd);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		dd_seterr(err, "%s: not a regular file of ours: refusing to read it", path);
		close(fd);
		errno = EPERM;
		return -1;
	}
	long n = read_and_close(fd, buf, bufsz);
	if (n < 0)
		dd_seterr(err, "%s: %s", path, strerror(errno));
	return n;
}

int write_file_atomic(const char *path, const void *buf, size_t len, char **err)
{
	const char *base;
	bool shared;
	int dfd = dd_dir_open(path, &base, &shared, err);
	if (dfd < 0)
		return -1;
	if (dd_file_ours(dfd, path, base, err) < 0) {
		close(dfd);
		return -1;
	}
	/* A name nobody can guess, created exclusively: a name planted in
	 * advance (a symlink, say) makes this fail instead of being followed. */
	char tmp[300];
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		uint64_t r = mono_us() ^ ((uint64_t)getpid() << 32) ^ ((uint64_t)tries * 0x9e3779b97f4a7c15ull);
		unsigned char rnd[8];
		if (getentropy(rnd, sizeof rnd) == 0)
			for (int i = 0; i < 8; i++)
				r ^= (uint64_t)rnd[i] << (8 * i);
		if (snprintf(tmp, sizeof tmp, ".%.200s.%016llx", base, (unsigned long long)r) >= (int)sizeof tmp)
			break;
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		int e = errno;
		dd_seterr(err, "%s: cannot create a temporary file: %s", path, strerror(e));
		close(dfd);
		errno = e;
		return -1;
	}
	const char *p = buf;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, base) < 0)
		goto fail;
	fsync(dfd); /* the rename itself, so a crash right after keeps it */
	close(dfd);
	return 0;
fail:;
	int e = errno;
	dd_seterr(err, "%s: cannot write: %s", path, strerror(e));
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	close(dfd);
	errno = e;
	return -1;
}
