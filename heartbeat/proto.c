/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/proto.c: heartbeat wire format, HMAC, anti-replay window,
 * generation counter. No state of its own; called from the heartbeat thread
 * (and tests/fuzzers). See doc/heartbeat-protocol.md for the layout. */
#include "config.h"
#include "heartbeat/proto.h"
#include "lib/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

const char *dd_role_name(enum dd_role r)
{
	switch (r) {
	case DD_ROLE_INIT: return "init";
	case DD_ROLE_STANDBY: return "standby";
	case DD_ROLE_ACTIVE: return "active";
	case DD_ROLE_FAULT: return "fault";
	case DD_ROLE_STOPPED: return "stopped";
	}
	return "?";
}

const char *dd_hb_verdict_name(enum dd_hb_verdict v)
{
	switch (v) {
	case DD_HB_OK: return "ok";
	case DD_HB_MALFORMED: return "malformed";
	case DD_HB_BAD_VERSION: return "unsupported version";
	case DD_HB_BAD_AUTH: return "bad HMAC";
	}
	return "?";
}

int dd_hb_key_load(const char *path, struct dd_hb_key *key, char **err)
{
	long n = dd_key_file_read(path, key->bytes, err);
	if (n < 0)
		return -1;
	key->len = (size_t)n;
	return 0;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }
static void put64(uint8_t *p, uint64_t v) { put32(p, v >> 32); put32(p + 4, v & 0xffffffffu); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static int mac(const struct dd_hb_key *key, const uint8_t *buf, size_t len, uint8_t out[DD_HB_MAC_LEN])
{
	unsigned int olen = DD_HB_MAC_LEN;
	if (!HMAC(EVP_sha256(), key->bytes, (int)key->len, buf, len, out, &olen))
		return -1;
	return olen == DD_HB_MAC_LEN ? 0 : -1;
}

/* Names on the wire: 1..63 printable bytes, no spaces, so a peer cannot
 * inject anything odd into log lines or the notify environment. */
bool dd_hb_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= DD_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int dd_hb_encode(const struct dd_hb_msg *m, const struct dd_hb_key *key,
		 uint8_t *buf, size_t bufsz)
{
	size_t nl = strnlen(m->node, DD_NAME_MAX);
	if (!dd_hb_name_ok(m->node, nl) || m->n_clusters > DD_HB_MAX_CLUSTERS)
		return -1;
	size_t len = DD_HB_HDR_LEN + nl;
	for (size_t i = 0; i < m->n_clusters; i++) {
		size_t cl = strnlen(m->clusters[i].name, DD_NAME_MAX);
		if (!dd_hb_name_ok(m->clusters[i].name, cl))
			return -1;
		len += 1 + cl + 4;
	}
	len += DD_HB_MAC_LEN;
	if (len > bufsz || len > DD_HB_MAX_PKT)
		return -1;
	uint8_t *p = buf;
	memcpy(p, DD_HB_MAGIC, 4);
	p[4] = m->version;
	p[5] = m->type;
	put16(p + 6, (uint16_t)len);
	put64(p + 8, m->generation);
	put64(p + 16, m->seq);
	put32(p + 24, m->interval_ms);
	put32(p + 28, m->dead_ms);
	p[32] = m->link;
	p[33] = (uint8_t)m->n_clusters;
	p[34] = (uint8_t)nl;
	p[35] = 0;
	put64(p + 36, m->echo);
	p += DD_HB_HDR_LEN;
	memcpy(p, m->node, nl);
	p += nl;
	for (size_t i = 0; i < m->n_clusters; i++) {
		const struct dd_hb_cluster *c = &m->clusters[i];
		size_t cl = strnlen(c->name, DD_NAME_MAX);
		*p++ = (uint8_t)cl;
		memcpy(p, c->name, cl);
		p += cl;
		*p++ = c->role;
		*p++ = c->priority;
		*p++ = c->flags;
		*p++ = 0;
	}
	if (mac(key, buf, (size_t)(p - buf), p) < 0)
		return -1;
	return (int)len;
}

enum dd_hb_verdict dd_hb_decode(const uint8_t *buf, size_t len,
				const struct dd_hb_key *key, struct dd_hb_msg *out)
{
	if (len < DD_HB_HDR_LEN + 1 + DD_HB_MAC_LEN || len > DD_HB_MAX_PKT)
		return DD_HB_MALFORMED;
	if (memcmp(buf, DD_HB_MAGIC, 4) != 0)
		return DD_HB_MALFORMED;
	if (get16(buf + 6) != len)
		return DD_HB_MALFORMED;
	if (buf[4] != DD_HB_VERSION)
		return DD_HB_BAD_VERSION;
	uint8_t want[DD_HB_MAC_LEN];
	if (mac(key, buf, len - DD_HB_MAC_LEN, want) < 0 ||
	    CRYPTO_memcmp(want, buf + len - DD_HB_MAC_LEN, DD_HB_MAC_LEN) != 0)
		return DD_HB_BAD_AUTH;

	/* Authenticated from here on, but still parsed as if hostile: a peer
	 * with the key and a bug must not crash us. */
	memset(out, 0, sizeof *out);
	out->version = buf[4];
	out->type = buf[5];
	out->generation = get64(buf + 8);
	out->seq = get64(buf + 16);
	out->interval_ms = get32(buf + 24);
	out->dead_ms = get32(buf + 28);
	out->link = buf[32];
	out->n_clusters = buf[33];
	size_t nl = buf[34];
	out->echo = get64(buf + 36);
	if (out->type != DD_HB_TYPE_KEEPALIVE || buf[35] != 0)
		return DD_HB_MALFORMED;
	if (out->n_clusters > DD_HB_MAX_CLUSTERS || out->interval_ms == 0 ||
	    out->dead_ms <= out->interval_ms)
		return DD_HB_MALFORMED;
	const uint8_t *p = buf + DD_HB_HDR_LEN, *end = buf + len - DD_HB_MAC_LEN;
	if ((size_t)(end - p) < nl || !dd_hb_name_ok((const char *)p, nl))
		return DD_HB_MALFORMED;
	memcpy(out->node, p, nl);
	p += nl;
	for (size_t i = 0; i < out->n_clusters; i++) {
		struct dd_hb_cluster *c = &out->clusters[i];
		if (end - p < 1)
			return DD_HB_MALFORMED;
		size_t cl = *p++;
		if ((size_t)(end - p) < cl + 4 || !dd_hb_name_ok((const char *)p, cl))
			return DD_HB_MALFORMED;
		memcpy(c->name, p, cl);
		p += cl;
		c->role = *p++;
		c->priority = *p++;
		c->flags = *p++;
		if (*p++ != 0 || c->role > DD_ROLE_MAX || (c->flags & ~DD_HB_CF_MASK))
			return DD_HB_MALFORMED;
		for (size_t j = 0; j < i; j++)
			if (strcmp(out->clusters[j].name, c->name) == 0)
				return DD_HB_MALFORMED;
	}
	if (p != end)
		return DD_HB_MALFORMED;
	return DD_HB_OK;
}

enum dd_hb_replay_verdict dd_hb_replay_check(struct dd_hb_replay *r, uint64_t generation,
					     uint64_t seq)
{
	if (!r->seen || generation > r->generation) {
		bool restarted = r->seen;
		r->seen = true;
		r->generation = generation;
		r->top = seq;
		r->bitmap = 1;
		return restarted ? DD_HB_NEW_GENERATION : DD_HB_FRESH;
	}
	if (generation < r->generation)
		return DD_HB_OLD_GENERATION;
	if (seq > r->top) {
		uint64_t shift = seq - r->top;
		r->bitmap = shift >= 64 ? 1 : (r->bitmap << shift) | 1;
		r->top = seq;
		return DD_HB_FRESH;
	}
	uint64_t back = r->top - seq;
	if (back >= 64 || (r->bitmap >> back) & 1)
		return DD_HB_REPLAYED;
	r->bitmap |= (uint64_t)1 << back;
	return DD_HB_FRESH;
}

int dd_hb_generation_next(const char *state_file, uint64_t *gen, char **err)
{
	if (!state_file || !*state_file) {
		dd_seterr(err, "heartbeat state_file is not set");
		return -1;
	}
	char buf[64], *e = NULL;
	uint64_t stored = 0;
	long n = read_owned_file(state_file, buf, sizeof buf, &e);
	if (n < 0 && (e || errno != ENOENT)) {
		dd_seterr(err, "state file: %s", e ? e : strerror(errno));
		free(e);
		return -1;
	}
	if (n > 0) {
		errno = 0;
		unsigned long long v = strtoull(buf, &e, 10);
		if (errno || e == buf || (*e && *e != '\n')) {
			dd_seterr(err, "state file %s: not a generation number", state_file);
			return -1;
		}
		stored = v;
	}
	uint64_t g = stored + 1;
	uint64_t wall = (uint64_t)time(NULL);
	if (wall > g)
		g = wall;
	int len = snprintf(buf, sizeof buf, "%" PRIu64 "\n", g);
	e = NULL;
	if (write_file_atomic(state_file, buf, (size_t)len, &e) < 0) {
		dd_seterr(err, "state file: %s", e);
		free(e);
		return -1;
	}
	*gen = g;
	return 0;
}
