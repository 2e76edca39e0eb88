/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/keyfile.h: the one rule for the heartbeat key file, used by the
 * loader (so `directord -t` and a reload refuse what the engine would) and
 * by the heartbeat when it reads the key. Any thread; no state. */
#ifndef DD_CONF_KEYFILE_H
#define DD_CONF_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define DD_KEY_MIN 16           /* bytes, after one trailing newline is dropped */
#define DD_KEY_MAX 256

/* Reads the key in `path` into buf. The file must be a regular file of
 * mode 0600 or 0400 owned by root or by this process's euid, holding
 * DD_KEY_MIN..DD_KEY_MAX bytes plus at most one newline. Returns the
 * key's length, or -1 with *err ("key file PATH ..."). buf is cleansed
 * on failure. */
long dd_key_file_read(const char *path, uint8_t buf[DD_KEY_MAX], char **err);

#endif
