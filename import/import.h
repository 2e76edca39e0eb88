/* SPDX-License-Identifier: GPL-2.0-or-later */
/* import/import.h: keepalived.conf (as read by kaparse.h) to directord.conf.
 * Used by directord-import and its fuzz target; one thread, no loop. */
#ifndef DD_IMPORT_IMPORT_H
#define DD_IMPORT_IMPORT_H

#include <stdio.h>

#include "import/kaparse.h"

struct dd_import_opts {
	const char *key_file;   /* heartbeat.key_file to write; NULL = the default */
	const char *peer_name;  /* peers.name; NULL = "peer" */
	const char *node;       /* node; NULL = router_id, else the host name */
};

#define DD_IMPORT_DEFAULT_KEY "/etc/directord/heartbeat.key"

/* Writes the directord.conf equivalent of `doc` to `out` and one line per
 * thing it could not convert (`file:line: not converted: what`) and the
 * steps left to the user to `diag`. Returns 0 when everything was
 * converted, 1 when something was not. */
int dd_import_keepalived(const struct ka_doc *doc, const struct dd_import_opts *o,
			 FILE *out, FILE *diag);

#endif
