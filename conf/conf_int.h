/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/conf_int.h: what the loader, the printer and the tests of conf/ share
 * and nobody else needs: the lists of valid keys and enum names. Keeping
 * one list per group lets the tests prove that the printer and the man
 * page mention every key the loader accepts. No state. */
#ifndef DD_CONF_INT_H
#define DD_CONF_INT_H

#include "conf/model.h"

/* NULL-terminated key lists, one per group, in canonical print order. */
extern const char *const dd_keys_top[];
extern const char *const dd_keys_logging[];
extern const char *const dd_keys_scripts[];
extern const char *const dd_keys_control[];
extern const char *const dd_keys_heartbeat[];
extern const char *const dd_keys_peer[];
extern const char *const dd_keys_link[];
extern const char *const dd_keys_sync[];
extern const char *const dd_keys_snmp[];
extern const char *const dd_keys_ecmp[];
extern const char *const dd_keys_cluster[];
extern const char *const dd_keys_garp[];
extern const char *const dd_keys_vip[];
extern const char *const dd_keys_service[];
extern const char *const dd_keys_sorry[];
extern const char *const dd_keys_check[];
extern const char *const dd_keys_rs[];
extern const char *const dd_keys_track_script[];
/* Every list above, for tests that walk them all. */
extern const char *const *const dd_key_lists[];

/* IPVS scheduler names, NULL-terminated. */
extern const char *const dd_schedulers[];

/* The tables behind the name()/parse() pairs of conf/model.h, indexed by
 * the enum value and NULL-terminated, so that the loader can list them in
 * "is not one of ..." messages. */
extern const char *const dd_proto_names[];
extern const char *const dd_fwd_names[];
extern const char *const dd_check_type_names[];
extern const char *const dd_removal_names[];
extern const char *const dd_garp_mode_names[];
extern const char *const dd_initial_names[];
extern const char *const dd_mode_names[];
extern const char *const dd_notify_type_names[];
extern const char *const dd_family_names[]; /* inet, inet6 */
/* Index of `s` in a NULL-terminated table, or -1. */
int dd_name_index(const char *const *names, const char *s);

/* Which check types a type-specific check key applies to (bit per enum
 * dd_check_type); 0 for keys every type has. */
unsigned dd_check_key_types(const char *key);

/* A set of items already seen, by a hash of their key (conf/seen.c): how
 * the loader finds duplicates in linear time. Zero-initialise; items are
 * pointers the caller keeps alive while the set is used. */
struct dd_seen {
	struct dd_seen_slot {
		uint64_t h;
		const void *item;
	} *slot;
	size_t mask, n;
};
/* FNV-1a over n bytes, starting from h (DD_SEEN_HASH0 for a new key). */
#define DD_SEEN_HASH0 14695981039346656037ULL
uint64_t dd_seen_hash(uint64_t h, const void *p, size_t n);
/* The earlier item eq() to `item` (whose key hashed to h), or NULL after
 * adding it. */
const void *dd_seen_add(struct dd_seen *s, uint64_t h, const void *item,
			bool (*eq)(const void *a, const void *b));
/* The same without adding. */
const void *dd_seen_find(const struct dd_seen *s, uint64_t h, const void *item,
			 bool (*eq)(const void *a, const void *b));
void dd_seen_free(struct dd_seen *s);


#endif
