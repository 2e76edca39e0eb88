/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/keys.c: the key lists and the one name table of each enum, shared
 * by the loader, the printer, the tests and the daemon, and the deep
 * copy/free of a check. No state; any thread. */
#include "config.h"
#include "conf/conf_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/util.h"

const char *const dd_keys_top[] = { "node", "pid_file", "logging", "scripts",
	"control", "heartbeat", "sync", "ecmp", "snmp", "track_scripts", "clusters", NULL };
const char *const dd_keys_track_script[] = { "name", "command", "interval_ms",
	"timeout_ms", "rise", "fall", "weight", "user", NULL };
const char *const dd_keys_scripts[] = { "user", "group", NULL };
const char *const dd_keys_logging[] = { "facility", "level", "notify",
	"notify_timeout_ms", NULL };
const char *const dd_keys_control[] = { "socket", "group", "mode",
	"metrics_listen", "max_clients", "max_clients_per_uid", "metrics_max_clients", NULL };
const char *const dd_keys_heartbeat[] = { "key_file", "port", "interval_ms",
	"dead_ms", "dscp", "state_file", "multicast_group", "peers", NULL };
const char *const dd_keys_peer[] = { "name", "links", NULL };
const char *const dd_keys_link[] = { "local", "remote", "interface", NULL };
const char *const dd_keys_sync[] = { "enabled", "interface", "syncid",
	"tcp_timeout_s", "tcpfin_timeout_s", "udp_timeout_s", "sloppy", NULL };
const char *const dd_keys_snmp[] = { "enabled", "agentx_socket", "traps", NULL };
const char *const dd_keys_ecmp[] = { "device", "drain_timeout_s", "stop_wait_ms", NULL };
const char *const dd_keys_cluster[] = { "name", "mode", "priority", "failback",
	"failback_delay_ms", "track_interfaces", "ping_targets", "gateway",
	"ping_interval_ms", "ping_timeout_ms", "ping_fall", "track_scripts",
	"notify", "notify_type", "notify_active", "notify_standby", "notify_fault",
	"notify_stop", "garp", "vips", "services", NULL };
const char *const dd_keys_garp[] = { "count", "interval_ms", "mode",
	"refresh_ms", NULL };
const char *const dd_keys_vip[] = { "address", "interface", "label", NULL };
const char *const dd_keys_service[] = { "name", "protocol", "address", "port",
	"fwmark", "family", "scheduler", "forward", "persistence_timeout_s",
	"persistence_netmask", "ops", "sched_flags", "quorum",
	"quorum_hysteresis", "sorry_server", "removal", "drain_ms", "check",
	"notify_up", "notify_down", "real_servers", NULL };
const char *const dd_keys_sorry[] = { "address", "port", NULL };
const char *const dd_keys_check[] = { "type", "interval_ms", "timeout_ms",
	"rise", "fall", "initial", "port", "source", "interface", "method",
	"path", "host", "status",
	"body_match", "sni", "verify_tls", "ca_file", "command", "send",
	"expect", "dns_query", NULL };
const char *const dd_keys_rs[] = { "address", "port", "weight",
	"upper_threshold", "lower_threshold", "forward", "slow_start_ms",
	"check", "notify_up", "notify_down", NULL };

const char *const *const dd_key_lists[] = { dd_keys_top, dd_keys_logging, dd_keys_scripts,
	dd_keys_control, dd_keys_heartbeat, dd_keys_peer, dd_keys_link,
	dd_keys_sync, dd_keys_ecmp, dd_keys_snmp, dd_keys_cluster, dd_keys_garp, dd_keys_vip,
	dd_keys_service, dd_keys_sorry, dd_keys_check, dd_keys_rs, dd_keys_track_script, NULL };

const char *const dd_schedulers[] = { "rr", "wrr", "lc", "wlc", "lblc",
	"lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos", NULL };

int dd_name_index(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* One table per enum, indexed by value (so the designators must cover
 * 0..last without holes), and its name()/parse() pair. */
#define ENUM_NAMES(type, fn, ...)                                             \
	const char *const dd_##fn##_names[] = { __VA_ARGS__, NULL };          \
	const char *dd_##fn##_name(type v)                                    \
	{                                                                     \
		return (size_t)v < ARRAY_SIZE(dd_##fn##_names) - 1            \
			? dd_##fn##_names[v] : "?";                           \
	}                                                                     \
	bool dd_##fn##_parse(const char *s, type *out)                        \
	{                                                                     \
		int i = dd_name_index(dd_##fn##_names, s);                    \
		if (i >= 0)                                                   \
			*out = (type)i;                                       \
		return i >= 0;                                                \
	}

ENUM_NAMES(enum dd_proto, proto, [DD_PROTO_TCP] = "tcp", [DD_PROTO_UDP] = "udp",
	   [DD_PROTO_SCTP] = "sctp", [DD_PROTO_FWMARK] = "fwmark")
ENUM_NAMES(enum dd_fwd, fwd, [DD_FWD_NAT] = "nat", [DD_FWD_DR] = "dr", [DD_FWD_TUN] = "tun")
ENUM_NAMES(enum dd_check_type, check_type, [DD_CHECK_NONE] = "none", [DD_CHECK_TCP] = "tcp",
	   [DD_CHECK_HTTP] = "http", [DD_CHECK_HTTPS] = "https", [DD_CHECK_EXEC] = "exec",
	   [DD_CHECK_UDP] = "udp", [DD_CHECK_DNS] = "dns")
ENUM_NAMES(enum dd_removal, removal, [DD_REMOVAL_DRAIN] = "drain", [DD_REMOVAL_REMOVE] = "remove")
ENUM_NAMES(enum dd_garp_mode, garp_mode, [DD_GARP_REQUEST] = "request", [DD_GARP_REPLY] = "reply")
ENUM_NAMES(enum dd_initial, initial, [DD_INITIAL_DOWN] = "down", [DD_INITIAL_UP] = "up")
ENUM_NAMES(enum dd_mode, mode, [DD_MODE_PAIR] = "pair", [DD_MODE_ECMP] = "ecmp")
ENUM_NAMES(enum dd_notify_type, notify_type, [DD_NOTIFY_INSTANCE] = "instance",
	   [DD_NOTIFY_GROUP] = "group")
#undef ENUM_NAMES

bool dd_config_has_ecmp(const struct dd_config *c)
{
	for (size_t i = 0; c && i < c->n_clusters; i++)
		if (c->clusters[i].mode == DD_MODE_ECMP)
			return true;
	return false;
}

/* Not an enum: the address family, inet first. */
const char *const dd_family_names[] = { "inet", "inet6", NULL };

const char *dd_family_name(int af)
{
	return dd_family_names[af == AF_INET6];
}

bool dd_family_parse(const char *s, int *af)
{
	int i = dd_name_index(dd_family_names, s);
	if (i >= 0)
		*af = i ? AF_INET6 : AF_INET;
	return i >= 0;
}

#define T(x) (1u << (x))
unsigned dd_check_key_types(const char *key)
{
	static const struct { const char *key; unsigned types; } tab[] = {
		{ "source", T(DD_CHECK_TCP) | T(DD_CHECK_HTTP) | T(DD_CHECK_HTTPS) | T(DD_CHECK_UDP) |
			    T(DD_CHECK_DNS) },
		{ "interface", T(DD_CHECK_TCP) | T(DD_CHECK_HTTP) | T(DD_CHECK_HTTPS) | T(DD_CHECK_UDP) |
			       T(DD_CHECK_DNS) },
		{ "method", T(DD_CHECK_HTTP) | T(DD_CHECK_HTTPS) },
		{ "path", T(DD_CHECK_HTTP) | T(DD_CHECK_HTTPS) },
		{ "host", T(DD_CHECK_HTTP) | T(DD_CHECK_HTTPS) },
		{ "status", T(DD_CHECK_HTTP) | T(DD_CHECK_HTTPS) },
		{ "body_match", T(DD_CHECK_HTTP) | T(DD_CHECK_HTTPS) },
		{ "sni", T(DD_CHECK_HTTPS) },
		{ "verify_tls", T(DD_CHECK_HTTPS) },
		{ "ca_file", T(DD_CHECK_HTTPS) },
		{ "command", T(DD_CHECK_EXEC) },
		{ "send", T(DD_CHECK_UDP) },
		{ "expect", T(DD_CHECK_UDP) },
		{ "dns_query", T(DD_CHECK_DNS) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(tab); i++)
		if (strcmp(tab[i].key, key) == 0)
			return tab[i].types;
	return 0;
}
#undef T

void dd_check_free(struct dd_check *c)
{
	free(c->method);
	free(c->path);
	free(c->host);
	free(c->status);
	free(c->body_match);
	free(c->sni);
	free(c->ca_file);
	free(c->command);
	free(c->send);
	free(c->expect);
	free(c->dns_query);
	memset(c, 0, sizeof *c);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void dd_check_copy(struct dd_check *dst, const struct dd_check *src)
{
	*dst = *src;
	dst->method = dup_or_null(src->method);
	dst->path = dup_or_null(src->path);
	dst->host = dup_or_null(src->host);
	dst->body_match = dup_or_null(src->body_match);
	dst->sni = dup_or_null(src->sni);
	dst->ca_file = dup_or_null(src->ca_file);
	dst->command = dup_or_null(src->command);
	dst->send = dup_or_null(src->send);
	dst->expect = dup_or_null(src->expect);
	dst->dns_query = dup_or_null(src->dns_query);
	dst->status = NULL;
	if (src->n_status) {
		dst->status = xcalloc(src->n_status, sizeof *dst->status);
		memcpy(dst->status, src->status, src->n_status * sizeof *dst->status);
	}
}
