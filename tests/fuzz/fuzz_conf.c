/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/fuzz/fuzz_conf.c: libFuzzer target for the config loader and
 * printer. Whatever loads must print, and the printed text must load again
 * and print identically; a failed load must say why. Single-threaded.
 *
 * Seeds: tests/fuzz/corpus/fuzz_conf/ (the examples and golden files).
 * `make fuzz-check` runs it (./configure CC=clang --enable-fuzzer). The
 * inputs are "loaded" from a private temp dir holding 0600 key files named
 * as the seeds name them, so seeds with peers load fully; the dictionary of
 * directord.conf keys is added to the command line when none is given.
 */
#include "config.h"
#include "conf/model.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef DD_SRCDIR
#define DD_SRCDIR "."
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char name[128];
static char keys[2][128];

static void cleanup(void)
{
	for (int i = 0; i < 2; i++)
		unlink(keys[i]);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(dir, sizeof dir, "/tmp/fuzz_conf.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(name, sizeof name, "%s/fuzz.conf", dir);
	static const char *const kn[2] = { "heartbeat.key", "mc.key" };
	for (int i = 0; i < 2; i++) {
		snprintf(keys[i], sizeof keys[i], "%s/%s", dir, kn[i]);
		int fd = open(keys[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, "0123456789abcdef0123456789abcdef", 32) != 32)
			abort();
		close(fd);
	}
	atexit(cleanup);

	/* libFuzzer parses flags after this hook, so a dictionary added here
	 * counts; keep the caller's if it gave one. */
	for (int i = 1; i < *argc; i++)
		if (strncmp((*argv)[i], "-dict=", 6) == 0)
			return 0;
	static const char dict[] = "-dict=" DD_SRCDIR "/tests/fuzz/conf.dict";
	if (access(dict + 6, R_OK) != 0)
		return 0;
	char **nv = calloc((size_t)*argc + 2, sizeof *nv);
	if (!nv)
		abort();
	nv[0] = (*argv)[0];
	nv[1] = (char *)dict;
	for (int i = 1; i < *argc; i++)
		nv[i + 1] = (*argv)[i];
	*argc += 1;
	*argv = nv;     /* lives as long as the process */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct dd_conf_errors errs = { 0 };
	struct dd_config *c = dd_config_load_string(text, name, &errs);
	free(text);
	if (!c) {
		if (errs.n == 0)
			abort();        /* a failed load always says why */
		for (size_t i = 0; i < errs.n; i++)
			if (!errs.v[i].file || !errs.v[i].msg || !errs.v[i].msg[0])
				abort();
		dd_conf_errors_free(&errs);
		return 0;
	}
	if (errs.n)
		abort();
	char *p1 = dd_config_print(c);
	dd_config_free(c);
	struct dd_config *c2 = dd_config_load_string(p1, name, &errs);
	if (!c2) {
		dd_conf_errors_print(&errs, stderr);
		fputs(p1, stderr);
		abort();        /* the canonical form must load */
	}
	char *p2 = dd_config_print(c2);
	if (strcmp(p1, p2) != 0)
		abort();        /* and be a fixed point */
	free(p1);
	free(p2);
	dd_config_free(c2);
	return 0;
}
