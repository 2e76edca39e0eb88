/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/keyfile.c: the heartbeat key file rule (conf/keyfile.h). The key
 * authenticates failover: whoever can read it can take the VIPs, and
 * whoever can write it can stop the pair from hearing each other, so the
 * mode, the owner and the size are all checked, in one place, for both
 * the loader and the heartbeat. Any thread; no state. */
#include "config.h"
#include "conf/keyfile.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/util.h"

static long refuse(uint8_t *buf, int fd)
{
	OPENSSL_cleanse(buf, DD_KEY_MAX);
	if (fd >= 0)
		close(fd);
	return -1;
}

long dd_key_file_read(const char *path, uint8_t buf[DD_KEY_MAX], char **err)
{
	struct stat st;
	if (!path || !*path) {
		dd_seterr(err, "heartbeat key_file is not set");
		return -1;
	}
	/* stat first: opening a device node can have side effects. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		dd_seterr(err, "key file %s is not a regular file", path);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			dd_seterr(err, "key file %s does not exist", path);
		else if (errno == EACCES)
			dd_seterr(err, "key file %s is not readable", path);
		else
			dd_seterr(err, "key file %s cannot be opened: %s", path, strerror(errno));
		return -1;
	}
	unsigned mode;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		dd_seterr(err, "key file %s is not a regular file", path);
		return refuse(buf, fd);
	}
	mode = (unsigned)(st.st_mode & 07777);
	if (mode & 077) {
		dd_seterr(err, "key file %s is %s by group or others (mode %04o); chmod 600 it", path,
			  (mode & 044) ? "readable" : "writable", mode);
		return refuse(buf, fd);
	}
	/* 0700, 0200, 0000: nothing else reads it, but an executable or
	 * unreadable key is a mistake the daemon would only find at start. */
	if (mode != 0600 && mode != 0400) {
		dd_seterr(err, "key file %s has mode %04o, not 0600 or 0400; chmod 600 it", path, mode);
		return refuse(buf, fd);
	}
	/* Another user who owns it can chmod it and read it later. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		dd_seterr(err, "key file %s belongs to uid %u, not root%s", path, (unsigned)st.st_uid,
			  geteuid() ? " or the user directord runs as" : "");
		return refuse(buf, fd);
	}
	/* One byte past the longest key and its newline says "too long"
	 * without reading a huge file. */
	uint8_t tmp[DD_KEY_MAX + 2];
	size_t n = 0;
	while (n < sizeof tmp) {
		ssize_t r = read(fd, tmp + n, sizeof tmp - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			dd_seterr(err, "key file %s cannot be read: %s", path, strerror(errno));
			OPENSSL_cleanse(tmp, sizeof tmp);
			return refuse(buf, fd);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > 0 && n <= DD_KEY_MAX + 1 && tmp[n - 1] == '\n')
		n--;
	if (n == 0)
		dd_seterr(err, "key file %s is empty", path);
	else if (n > DD_KEY_MAX)
		dd_seterr(err, "key file %s is longer than %d bytes", path, DD_KEY_MAX);
	else if (n < DD_KEY_MIN)
		dd_seterr(err, "key file %s holds %zu bytes; a key needs at least %d", path, n, DD_KEY_MIN);
	bool ok = n >= DD_KEY_MIN && n <= DD_KEY_MAX;
	if (ok)
		memcpy(buf, tmp, n);
	OPENSSL_cleanse(tmp, sizeof tmp);
	return ok ? (long)n : refuse(buf, -1);
}
