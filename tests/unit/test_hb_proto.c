/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/unit/test_hb_proto.c: heartbeat wire format, HMAC, anti-replay,
 * key and generation files. Single-threaded Check suite. */
#include "config.h"
#include "heartbeat/proto.h"
#include "lib/util.h"

#include <check.h>
#include "tests/unit/ck_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct dd_hb_key key(const char *s)
{
	struct dd_hb_key k;
	k.len = strlen(s);
	memcpy(k.bytes, s, k.len);
	return k;
}

static struct dd_hb_msg sample(void)
{
	struct dd_hb_msg m;
	memset(&m, 0, sizeof m);
	m.version = DD_HB_VERSION;
	m.type = DD_HB_TYPE_KEEPALIVE;
	m.generation = 1700000000123ull;
	m.seq = 42;
	m.interval_ms = 50;
	m.dead_ms = 200;
	m.link = 1;
	m.echo = 1700000000999ull;
	strcpy(m.node, "lb1");
	m.n_clusters = 2;
	strcpy(m.clusters[0].name, "web");
	m.clusters[0].role = DD_ROLE_ACTIVE;
	m.clusters[0].priority = 150;
	m.clusters[0].flags = DD_HB_CF_STANDING_DOWN;
	strcpy(m.clusters[1].name, "dns");
	m.clusters[1].role = DD_ROLE_STANDBY;
	m.clusters[1].priority = 100;
	return m;
}

START_TEST(roundtrip)
{
	struct dd_hb_key k = key("0123456789abcdef-secret");
	struct dd_hb_msg m = sample(), d;
	uint8_t buf[DD_HB_MAX_PKT];
	int n = dd_hb_encode(&m, &k, buf, sizeof buf);
	ck_assert_int_eq(n, DD_HB_HDR_LEN + 3 + (1 + 3 + 4) * 2 + DD_HB_MAC_LEN);
	ck_assert_int_eq(dd_hb_decode(buf, (size_t)n, &k, &d), DD_HB_OK);
	ck_assert_str_eq(d.node, "lb1");
	ck_assert_uint_eq(d.generation, m.generation);
	ck_assert_uint_eq(d.seq, 42);
	ck_assert_uint_eq(d.echo, m.echo);
	ck_assert_uint_eq(d.interval_ms, 50);
	ck_assert_uint_eq(d.dead_ms, 200);
	ck_assert_uint_eq(d.link, 1);
	ck_assert_uint_eq(d.n_clusters, 2);
	ck_assert_str_eq(d.clusters[0].name, "web");
	ck_assert_uint_eq(d.clusters[0].role, DD_ROLE_ACTIVE);
	ck_assert_uint_eq(d.clusters[0].priority, 150);
	ck_assert_uint_eq(d.clusters[0].flags, DD_HB_CF_STANDING_DOWN);
	ck_assert_str_eq(d.clusters[1].name, "dns");
	ck_assert_uint_eq(d.clusters[1].role, DD_ROLE_STANDBY);
}
END_TEST

START_TEST(wrong_key_and_tamper)
{
	struct dd_hb_key k = key("0123456789abcdef-secret"), k2 = key("0123456789abcdef-other!");
	struct dd_hb_msg m = sample(), d;
	uint8_t buf[DD_HB_MAX_PKT];
	int n = dd_hb_encode(&m, &k, buf, sizeof buf);
	ck_assert_int_eq(dd_hb_decode(buf, (size_t)n, &k2, &d), DD_HB_BAD_AUTH);
	/* Every single-bit flip outside the length field must be caught. */
	for (int i = 0; i < n; i++) {
		if (i == 6 || i == 7)
			continue;
		buf[i] ^= 0x10;
		ck_assert_int_ne(dd_hb_decode(buf, (size_t)n, &k, &d), DD_HB_OK);
		buf[i] ^= 0x10;
	}
	ck_assert_int_eq(dd_hb_decode(buf, (size_t)n, &k, &d), DD_HB_OK);
}
END_TEST

START_TEST(malformed)
{
	struct dd_hb_key k = key("0123456789abcdef-secret");
	struct dd_hb_msg m = sample(), d;
	uint8_t buf[DD_HB_MAX_PKT];
	int n = dd_hb_encode(&m, &k, buf, sizeof buf);
	for (int len = 0; len < n; len++)
		ck_assert_int_eq(dd_hb_decode(buf, (size_t)len, &k, &d), DD_HB_MALFORMED);
	buf[4] = 1; /* the first version had no echo field */
	ck_assert_int_eq(dd_hb_decode(buf, (size_t)n, &k, &d), DD_HB_BAD_VERSION);
	buf[4] = DD_HB_VERSION;
	buf[0] = 'X';
	ck_assert_int_eq(dd_hb_decode(buf, (size_t)n, &k, &d), DD_HB_MALFORMED);

	/* Authenticated but inconsistent content is still refused. */
	m.clusters[1].role = 9;
	n = dd_hb_encode(&m, &k, buf, sizeof buf);
	ck_assert_int_eq(dd_hb_decode(buf, (size_t)n, &k, &d), DD_HB_MALFORMED);
	m = sample();
	strcpy(m.clusters[1].name, "web");
	n = dd_hb_encode(&m, &k, buf, sizeof buf);
	ck_assert_int_eq(dd_hb_decode(buf, (size_t)n, &k, &d), DD_HB_MALFORMED);
	m = sample();
	m.dead_ms = m.interval_ms;
	n = dd_hb_encode(&m, &k, buf, sizeof buf);
	ck_assert_int_eq(dd_hb_decode(buf, (size_t)n, &k, &d), DD_HB_MALFORMED);
	/* Names with spaces or control bytes cannot even be encoded. */
	m = sample();
	strcpy(m.node, "lb 1");
	ck_assert_int_eq(dd_hb_encode(&m, &k, buf, sizeof buf), -1);
	m = sample();
	ck_assert_int_eq(dd_hb_encode(&m, &k, buf, 20), -1);
}
END_TEST

START_TEST(replay_window)
{
	struct dd_hb_replay r;
	memset(&r, 0, sizeof r);
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 100), DD_HB_FRESH);
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 100), DD_HB_REPLAYED);
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 102), DD_HB_FRESH);
	/* Reordered across links: 101 arrives late, once. */
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 101), DD_HB_FRESH);
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 101), DD_HB_REPLAYED);
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 102 + 63), DD_HB_FRESH);
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 102), DD_HB_REPLAYED);
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 101), DD_HB_REPLAYED); /* left the window */
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 1000), DD_HB_FRESH);
	ck_assert_int_eq(dd_hb_replay_check(&r, 9, 5000), DD_HB_OLD_GENERATION);
	ck_assert_int_eq(dd_hb_replay_check(&r, 11, 1), DD_HB_NEW_GENERATION);
	ck_assert_int_eq(dd_hb_replay_check(&r, 10, 2000), DD_HB_OLD_GENERATION);
	ck_assert_int_eq(dd_hb_replay_check(&r, 11, 1), DD_HB_REPLAYED);
	ck_assert_int_eq(dd_hb_replay_check(&r, 11, 2), DD_HB_FRESH);
}
END_TEST

static char tmpdir[64];

static void mk_tmp(void)
{
	strcpy(tmpdir, "/tmp/test_hb_proto.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void write_file(const char *path, const char *s, mode_t mode)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(s, f);
	fclose(f);
	chmod(path, mode);
}

START_TEST(key_file)
{
	mk_tmp();
	char path[128];
	snprintf(path, sizeof path, "%s/key", tmpdir);
	struct dd_hb_key k;
	char *err = NULL;
	write_file(path, "0123456789abcdefXYZ\n", 0600);
	ck_assert_int_eq(dd_hb_key_load(path, &k, &err), 0);
	ck_assert_uint_eq(k.len, 19);
	ck_assert_int_eq(memcmp(k.bytes, "0123456789abcdefXYZ", 19), 0);
	chmod(path, 0644);
	ck_assert_int_eq(dd_hb_key_load(path, &k, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "mode 0644"));
	free(err);
	write_file(path, "short\n", 0400);
	ck_assert_int_eq(dd_hb_key_load(path, &k, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "needs at least 16"));
	free(err);
	unlink(path);
	ck_assert_int_eq(dd_hb_key_load(path, &k, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "does not exist"));
	free(err);
	rmdir(tmpdir);
}
END_TEST

/* The loader and the heartbeat read the key by one rule (conf/keyfile.c):
 * every file -t refuses, the engine refuses with the same words, and the
 * one -t accepts, the engine loads. `directord -t` used to pass all of
 * these but the last, and the engine then refused to start. */
START_TEST(key_file_same_rule_as_loader)
{
	mk_tmp();
	char path[128];
	snprintf(path, sizeof path, "%s/key", tmpdir);
	static char big[1 << 20];
	memset(big, 'k', sizeof big - 1);
	char k257[258];
	memset(k257, 'k', 257);
	k257[257] = '\0';
	const struct { const char *text; mode_t mode; uid_t owner; const char *msg; } cases[] = {
		{ "0123456789abcdef", 0700, 0, "has mode 0700, not 0600 or 0400" },
		{ "0123456789abcdef", 0200, 0, "has mode 0200, not 0600 or 0400" },
		{ "0123456789abcdef", 0000, 0, "has mode 0000, not 0600 or 0400" },
		{ "0123456789abcde\n", 0600, 0, "holds 15 bytes; a key needs at least 16" },
		{ "\n", 0600, 0, "is empty" },
		{ "", 0600, 0, "is empty" },
		{ big, 0600, 0, "is longer than 256 bytes" },
		{ k257, 0600, 0, "is longer than 256 bytes" },
		{ "0123456789abcdef", 0600, 65534, "belongs to uid 65534, not root" },
		{ k257 + 1, 0400, 0, NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (cases[i].owner && geteuid() != 0)
			continue;
		unlink(path);
		write_file(path, cases[i].text, cases[i].mode);
		if (cases[i].owner)
			ck_assert_int_eq(chown(path, cases[i].owner, cases[i].owner), 0);
		char *conf_err = NULL, *hb_err = NULL;
		uint8_t buf[DD_KEY_MAX];
		long n = dd_key_file_read(path, buf, &conf_err);
		struct dd_hb_key key;
		int r = dd_hb_key_load(path, &key, &hb_err);
		if (!cases[i].msg) {
			ck_assert_int_eq(n, 256);
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(key.len, 256);
			continue;
		}
		ck_assert_msg(n == -1 && r == -1, "case %zu accepted", i);
		ck_assert_str_eq(conf_err, hb_err);
		ck_assert_msg(strstr(hb_err, cases[i].msg), "case %zu: %s", i, hb_err);
		free(conf_err);
		free(hb_err);
	}
	unlink(path);
	rmdir(tmpdir);
}
END_TEST

START_TEST(generation)
{
	mk_tmp();
	char path[128];
	snprintf(path, sizeof path, "%s/generation", tmpdir);
	uint64_t g1, g2, g3;
	char *err = NULL;
	ck_assert_int_eq(dd_hb_generation_next(path, &g1, &err), 0);
	ck_assert_int_eq(dd_hb_generation_next(path, &g2, &err), 0);
	ck_assert_uint_gt(g2, g1);
	/* A stored value ahead of the clock still grows by one. */
	write_file(path, "99999999999\n", 0600);
	ck_assert_int_eq(dd_hb_generation_next(path, &g3, &err), 0);
	ck_assert_uint_eq(g3, 100000000000ull);
	write_file(path, "garbage\n", 0600);
	ck_assert_int_eq(dd_hb_generation_next(path, &g3, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a generation number"));
	free(err);
	unlink(path);
	rmdir(tmpdir);
	snprintf(path, sizeof path, "%s/nodir/generation", tmpdir);
	ck_assert_int_eq(dd_hb_generation_next(path, &g3, &err), -1);
	ck_assert_msg(strstr(err, "No such file or directory"), "%s", err);
	free(err);
}
END_TEST

/* The state file is root's, in a directory others may not steer: a
 * symlink planted at its name, a directory anyone can write (not sticky),
 * or a file of another user there are refused and change nothing. */
START_TEST(state_file_not_steered)
{
	char dir[] = "/tmp/test_hb_state.XXXXXX", path[128], victim[128], buf[64];
	char *err = NULL;
	uint64_t g;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/generation", dir);
	snprintf(victim, sizeof victim, "%s/victim", dir);
	write_file(victim, "precious\n", 0644);
	ck_assert_int_eq(symlink(victim, path), 0);
	ck_assert_int_eq(dd_hb_generation_next(path, &g, &err), -1);
	ck_assert_msg(strstr(err, "symbolic link"), "%s", err);
	free(err);
	ck_assert_int_gt(read_small_file(victim, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "precious\n");
	unlink(path);

	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(dd_hb_generation_next(path, &g, &err), -1);
	ck_assert_msg(strstr(err, "can be written by other users and is not sticky"), "%s", err);
	free(err);

	/* Sticky like /tmp: our own file is fine, another user's is not. */
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(dd_hb_generation_next(path, &g, &err), 0);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	ck_assert_int_eq(dd_hb_generation_next(path, &g, &err), -1);
	ck_assert_msg(strstr(err, "not a regular file of ours"), "%s", err);
	free(err);
	unlink(path);
	unlink(victim);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hb_proto");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, roundtrip);
	tcase_add_test(tc, wrong_key_and_tamper);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, replay_window);
	tcase_add_test(tc, key_file);
	tcase_add_test(tc, key_file_same_rule_as_loader);
	tcase_add_test(tc, state_file_not_steered);
	tcase_add_test(tc, generation);
	suite_add_tcase(s, tc);
	return dd_ck_run(s);
}
