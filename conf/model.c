/* conf/model.c: names of model enums and error-list helpers. No state;
 * any thread. */
#include "config.h"
#include "conf/model.h"

#include <stdio.h>
#include <stdlib.h>

const char *dd_proto_name(enum dd_proto p)
{
	switch (p) {
	case DD_PROTO_TCP: return "tcp";
	case DD_PROTO_UDP: return "udp";
	case DD_PROTO_SCTP: return "sctp";
	case DD_PROTO_FWMARK: return "fwmark";
	}
	return "?";
}

const char *dd_fwd_name(enum dd_fwd f)
{
	switch (f) {
	case DD_FWD_NAT: return "nat";
	case DD_FWD_DR: return "dr";
	case DD_FWD_TUN: return "tun";
	}
	return "?";
}

const char *dd_check_type_name(enum dd_check_type t)
{
	switch (t) {
	case DD_CHECK_NONE: return "none";
	case DD_CHECK_TCP: return "tcp";
	case DD_CHECK_HTTP: return "http";
	case DD_CHECK_HTTPS: return "https";
	case DD_CHECK_EXEC: return "exec";
	case DD_CHECK_UDP: return "udp";
	case DD_CHECK_DNS: return "dns";
	}
	return "?";
}

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
