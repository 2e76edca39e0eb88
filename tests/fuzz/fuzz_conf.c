/* tests/fuzz/fuzz_conf.c: libFuzzer target for the config loader and
 * printer. Whatever loads must print, and the printed text must load again
 * and print identically. Seeds: conf/examples/. Single-threaded. */
#include "config.h"
#include "conf/model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct dd_conf_errors errs = { 0 };
	struct dd_config *c = dd_config_load_string(text, "fuzz.conf", &errs);
	free(text);
	if (!c) {
		if (errs.n == 0)
			abort();        /* a failed load always says why */
		dd_conf_errors_free(&errs);
		return 0;
	}
	if (errs.n)
		abort();
	char *p1 = dd_config_print(c);
	dd_config_free(c);
	struct dd_config *c2 = dd_config_load_string(p1, "fuzz.conf", &errs);
	if (!c2)
		abort();        /* the canonical form must load */
	char *p2 = dd_config_print(c2);
	if (strcmp(p1, p2) != 0)
		abort();        /* and be a fixed point */
	free(p1);
	free(p2);
	dd_config_free(c2);
	return 0;
}
