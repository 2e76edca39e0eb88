/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/genkey.c: `directord --genkey FILE`. The key is born with mode
 * 0600 and never exists on disk readable by others, even for a moment,
 * because a key anyone on the machine could read lets them forge keepalives
 * and take the VIPs. Runs from the command line only, before any loop. */
#include "config.h"
#include "directord/genkey.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static int fill_random(unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0)
			got += (size_t)r;
	}
	return 0;
}

/* O_EXCL so that the file is ours from the first byte: an attacker cannot
 * pre-create it readable, and a symlink there is refused. fchmod because the
 * umask may have cleared the owner's read bit. */
static int write_new(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int ok = fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	int e = errno;
	if (close(fd) < 0 && ok) {
		ok = 0;
		e = errno;
	}
	if (!ok) {
		unlink(path);
		errno = e;
		return -1;
	}
	return 0;
}

int dd_genkey(const char *path, bool force, char **err)
{
	unsigned char raw[DD_GENKEY_BYTES];
	char text[2 * DD_GENKEY_BYTES + 2];
	static const char hex[] = "0123456789abcdef";
	if (fill_random(raw, sizeof raw) < 0) {
		dd_seterr(err, "cannot get random bytes: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof raw; i++) {
		text[2 * i] = hex[raw[i] >> 4];
		text[2 * i + 1] = hex[raw[i] & 15];
	}
	text[2 * DD_GENKEY_BYTES] = '\n';
	text[2 * DD_GENKEY_BYTES + 1] = '\0';
	explicit_bzero(raw, sizeof raw);
	size_t len = 2 * DD_GENKEY_BYTES + 1;

	int rc;
	if (!force) {
		rc = write_new(path, text, len);
		if (rc < 0 && errno == EEXIST)
			dd_seterr(err, "%s exists; --force replaces it (then copy it to the peer again)", path);
		else if (rc < 0)
			dd_seterr(err, "%s: %s", path, strerror(errno));
	} else {
		/* A new file renamed over the old one: a reader sees the old key or
		 * the new one, and the old file's mode cannot leak into the new. */
		char tmp[4096];
		if (snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
			dd_seterr(err, "%s: path too long", path);
			rc = -1;
		} else if ((rc = write_new(tmp, text, len)) < 0) {
			dd_seterr(err, "%s: %s", tmp, strerror(errno));
		} else if ((rc = rename(tmp, path)) < 0) {
			dd_seterr(err, "%s: %s", path, strerror(errno));
			unlink(tmp);
		}
	}
	explicit_bzero(text, sizeof text);
	return rc;
}
