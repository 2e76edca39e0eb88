/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/genkey.h: `directord --genkey FILE`, a new heartbeat key.
 * Runs before any loop exists, from the command line only. */
#ifndef DD_GENKEY_H
#define DD_GENKEY_H

#include <stdbool.h>

/* Random bytes from the kernel, hex-encoded: 64 printable characters
 * (256 bits) that dd_hb_key_load() accepts and that survive copy and paste
 * between the two directors. */
#define DD_GENKEY_BYTES 32

/* Writes a new key to `path` with mode 0600. An existing file is an error
 * unless `force`, which replaces it atomically (the peer keeps working with
 * the old key until the new one is copied there). 0 or -1 with *err set. */
int dd_genkey(const char *path, bool force, char **err);

#endif
