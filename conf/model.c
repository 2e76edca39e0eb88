/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/model.c: the error-list helpers, and the one form errors are shown
 * in. No state; any thread. */
#include "config.h"
#include "conf/model.h"

#include <stdio.h>
#include <stdlib.h>

void dd_conf_errors_free(struct dd_conf_errors *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].msg);
	}
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

const char *dd_conf_error_str(const struct dd_conf_error *e, char *buf, size_t len)
{
	if (e->line > 0)
		snprintf(buf, len, "%s:%d: %s", e->file, e->line, e->msg);
	else
		snprintf(buf, len, "%s: %s", e->file, e->msg);
	return buf;
}

void dd_conf_errors_print(const struct dd_conf_errors *e, FILE *out)
{
	char b[DD_CONF_ERROR_STRLEN];
	for (size_t i = 0; i < e->n; i++)
		fprintf(out, "%s\n", dd_conf_error_str(&e->v[i], b, sizeof b));
}
