/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/fuzz/fuzz_import.c: libFuzzer target for directord-import's
 * keepalived.conf and ldirectord.cf readers and the converter: any input,
 * read both ways, either fails to parse
 * with a message or converts, with every output going to memory.
 * Includes are not followed (the input is one buffer). Single-threaded.
 *
 * Seeds: tests/fuzz/corpus/fuzz_import/ (the import test corpus).
 * `make fuzz-check` runs it (./configure CC=clang --enable-fuzzer).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "import/import.h"
#include "import/kaparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(struct ka_doc *doc, char *err);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ka_opts ko = { .config_id = "lb1", .no_include = 1 };
	char *err = NULL;
	one(ka_parse_buf((const char *)data, size, "fuzz.conf", &ko, &err), err);
	err = NULL;
	one(ld_parse_buf((const char *)data, size, "fuzz.cf", &err), err);
	return 0;
}

/* Either a message or a tree that converts. */
static void one(struct ka_doc *doc, char *err)
{
	if (!doc) {
		if (!err)
			abort(); /* a failure must say why */
		free(err);
		return;
	}
	char *out = NULL, *diag = NULL;
	size_t ol = 0, dl = 0;
	FILE *o = open_memstream(&out, &ol), *d = open_memstream(&diag, &dl);
	if (!o || !d)
		abort();
	struct dd_import_opts io = { .key_file = "/etc/directord/heartbeat.key" };
	int rc = dd_import_keepalived(doc, &io, o, d);
	fclose(o);
	fclose(d);
	if (rc != 0 && rc != 1)
		abort();
	free(out);
	free(diag);
	ka_doc_free(doc);
}
