/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/fuzz/fuzz_import.c: libFuzzer target for directord-import's
 * keepalived.conf reader and converter: any input either fails to parse
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ka_opts ko = { .config_id = "lb1", .no_include = 1 };
	char *err = NULL;
	struct ka_doc *doc = ka_parse_buf((const char *)data, size, "fuzz.conf", &ko, &err);
	if (!doc) {
		if (!err)
			abort(); /* a failure must say why */
		free(err);
		return 0;
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
	return 0;
}
