/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/proto.h: the heartbeat wire format (doc/heartbeat-protocol.md):
 * encode, authenticate (HMAC-SHA256), decode, and the anti-replay window.
 * Pure functions on buffers, no sockets; run by the heartbeat thread, and
 * by the unit tests and the fuzzer. */
#ifndef DD_HB_PROTO_H
#define DD_HB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/keyfile.h"
#include "conf/model.h"

#define DD_HB_MAGIC "DDHB"
#define DD_HB_VERSION 2
#define DD_HB_TYPE_KEEPALIVE 1
#define DD_HB_HDR_LEN 44
#define DD_HB_MAC_LEN 32
#define DD_HB_MAX_PKT 1400
#define DD_HB_MAX_CLUSTERS DD_MAX_CLUSTERS
/* conf/keyfile.c reads the key: its limits are the wire's. */
#define DD_HB_KEY_MIN DD_KEY_MIN
#define DD_HB_KEY_MAX DD_KEY_MAX

/* Roles as carried on the wire (up to DD_ROLE_MAX). DD_ROLE_STOPPED never
 * goes on the wire: it is what the engine reports when it stops while a
 * cluster was active. The names are the ones every output uses. */
enum dd_role { DD_ROLE_INIT = 0, DD_ROLE_STANDBY = 1, DD_ROLE_ACTIVE = 2, DD_ROLE_FAULT = 3,
	       DD_ROLE_STOPPED = 4 };
#define DD_ROLE_MAX DD_ROLE_FAULT
#define DD_ROLE_COUNT (DD_ROLE_STOPPED + 1)
const char *dd_role_name(enum dd_role r);

/* Per-cluster flags. */
#define DD_HB_CF_STANDING_DOWN 0x01 /* active, handing over: take over now */
#define DD_HB_CF_WANT_TAKEOVER 0x02 /* standby asks the active to stand down */
#define DD_HB_CF_MASK 0x03

struct dd_hb_cluster {
	char name[DD_NAME_MAX];
	uint8_t role;
	uint8_t priority;
	uint8_t flags;
};

struct dd_hb_msg {
	uint8_t version;
	uint8_t type;
	uint64_t generation;
	uint64_t seq;
	uint32_t interval_ms;
	uint32_t dead_ms;
	uint8_t link;           /* sender's link number (0-based) */
	uint64_t echo;          /* the receiver's generation, as the sender last
				 * heard it (0: not yet): fresh proof of life, so
				 * a recording from before the receiver started
				 * is never believed */
	char node[DD_NAME_MAX];
	size_t n_clusters;
	struct dd_hb_cluster clusters[DD_HB_MAX_CLUSTERS];
};

enum dd_hb_verdict {
	DD_HB_OK = 0,
	DD_HB_MALFORMED,     /* too short, bad magic, lengths that do not add up */
	DD_HB_BAD_VERSION,   /* well-formed header, other protocol version */
	DD_HB_BAD_AUTH,      /* HMAC does not match: wrong key or forged */
};
const char *dd_hb_verdict_name(enum dd_hb_verdict v);

struct dd_hb_key {
	uint8_t bytes[DD_HB_KEY_MAX];
	size_t len;
};

/* Names on the wire (nodes, clusters): 1..63 printable bytes, no spaces. */
bool dd_hb_name_ok(const char *s, size_t n);

/* Reads the key file by the loader's rule (conf/keyfile.h: mode 0600 or
 * 0400, owned by root or us, 16..256 bytes after one trailing newline).
 * Returns 0, or -1 with *err malloc'd. */
int dd_hb_key_load(const char *path, struct dd_hb_key *key, char **err);

/* Returns the packet length, or -1 if it does not fit (too many clusters,
 * names too long). */
int dd_hb_encode(const struct dd_hb_msg *m, const struct dd_hb_key *key,
		 uint8_t *buf, size_t bufsz);
/* Checks the HMAC before looking at anything but the header size and
 * version, then parses strictly. */
enum dd_hb_verdict dd_hb_decode(const uint8_t *buf, size_t len,
				const struct dd_hb_key *key, struct dd_hb_msg *out);

/* Anti-replay: per peer, the newest generation seen and a 64-packet window
 * of sequence numbers in it. A higher generation means the peer restarted
 * and resets the window. */
struct dd_hb_replay {
	bool seen;
	uint64_t generation;
	uint64_t top;      /* highest seq accepted in this generation */
	uint64_t bitmap;   /* bit i: seq top-i was accepted */
};
enum dd_hb_replay_verdict {
	DD_HB_FRESH = 0,       /* accepted, same generation */
	DD_HB_NEW_GENERATION,  /* accepted, peer (re)started */
	DD_HB_REPLAYED,        /* already seen, or older than the window */
	DD_HB_OLD_GENERATION,  /* from before the peer's last restart */
};
enum dd_hb_replay_verdict dd_hb_replay_check(struct dd_hb_replay *r, uint64_t generation,
					     uint64_t seq);

/* Generation: max(stored + 1, wall-clock seconds), written back before use,
 * so a restart always outranks every packet sent before it, even if the
 * state file was lost. Returns 0, or -1 with *err malloc'd. */
int dd_hb_generation_next(const char *state_file, uint64_t *gen, char **err);

#endif
