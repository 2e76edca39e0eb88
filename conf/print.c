/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/print.c: the canonical text of a loaded config: every key, defaults
 * made explicit, fixed order, libconfig syntax. Loading the text again
 * gives the same config, so `directord -t -p` shows exactly what runs.
 * Unset optional strings and addresses print as "" (which loads as unset).
 * A check prints its common keys and the keys of its own type only.
 *
 * Pure function of the config; any thread.
 */
#include "config.h"
#include "conf/conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

struct pr {
	FILE *f;
	int depth;
};

static void ind(struct pr *p)
{
	for (int i = 0; i < p->depth; i++)
		fputs("  ", p->f);
}

static void put_qstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void kv_str(struct pr *p, const char *k, const char *v)
{
	ind(p);
	fprintf(p->f, "%s = ", k);
	put_qstr(p->f, v);
	fputs(";\n", p->f);
}

static void kv_u(struct pr *p, const char *k, unsigned long long v)
{
	ind(p);
	/* Beyond 32 bits libconfig needs the L suffix. */
	fprintf(p->f, "%s = %llu%s;\n", k, v, v > 2147483647ull ? "L" : "");
}

static void kv_bool(struct pr *p, const char *k, bool v)
{
	ind(p);
	fprintf(p->f, "%s = %s;\n", k, v ? "true" : "false");
}

static void kv_addr(struct pr *p, const char *k, const struct dd_addr *a)
{
	char b[INET6_ADDRSTRLEN];
	kv_str(p, k, a->family ? dd_addr_str(a, b, sizeof b) : "");
}

/* Arrays of scalars on one line: k = [ a, b ]; */
static void arr_open(struct pr *p, const char *k)
{
	ind(p);
	fprintf(p->f, "%s = [", k);
}

static void arr_str(struct pr *p, size_t i, const char *v)
{
	fputs(i ? ", " : " ", p->f);
	put_qstr(p->f, v);
}

static void arr_close(struct pr *p)
{
	fputs(" ];\n", p->f);
}

static void open_group(struct pr *p, const char *k)
{
	ind(p);
	if (k)
		fprintf(p->f, "%s = {\n", k);
	else
		fputs("{\n", p->f);
	p->depth++;
}

static void close_group(struct pr *p)
{
	p->depth--;
	ind(p);
	fputs("};\n", p->f);
}

/* A list element's group ends with "," or nothing, a keyed one with ";". */
static void close_elem(struct pr *p, bool last)
{
	p->depth--;
	ind(p);
	fputs(last ? "}\n" : "},\n", p->f);
}

/* An empty list prints whole, "k = ( );", and its close_list does nothing. */
static void open_list(struct pr *p, const char *k, size_t n)
{
	ind(p);
	if (!n) {
		fprintf(p->f, "%s = ( );\n", k);
		return;
	}
	fprintf(p->f, "%s = (\n", k);
	p->depth++;
}

static void close_list(struct pr *p, size_t n)
{
	if (!n)
		return;
	p->depth--;
	ind(p);
	fputs(");\n", p->f);
}

static void print_check(struct pr *p, const struct dd_check *c)
{
	open_group(p, "check");
	kv_str(p, "type", dd_check_type_name(c->type));
	kv_u(p, "interval_ms", c->interval_ms);
	kv_u(p, "timeout_ms", c->timeout_ms);
	kv_u(p, "rise", c->rise);
	kv_u(p, "fall", c->fall);
	kv_str(p, "initial", dd_initial_name(c->initial));
	kv_u(p, "port", c->port);
	if (c->type != DD_CHECK_NONE && c->type != DD_CHECK_EXEC) {
		kv_addr(p, "source", &c->source);
		kv_str(p, "interface", c->interface);
	}
	if (c->type == DD_CHECK_HTTP || c->type == DD_CHECK_HTTPS) {
		kv_str(p, "method", c->method);
		kv_str(p, "path", c->path);
		kv_str(p, "host", c->host);
		arr_open(p, "status");
		for (size_t i = 0; i < c->n_status; i++)
			fprintf(p->f, "%s%u", i ? ", " : " ", c->status[i]);
		arr_close(p);
		kv_str(p, "body_match", c->body_match);
	}
	if (c->type == DD_CHECK_HTTPS) {
		kv_str(p, "sni", c->sni);
		kv_bool(p, "verify_tls", c->verify_tls);
		kv_str(p, "ca_file", c->ca_file);
	}
	if (c->type == DD_CHECK_EXEC)
		kv_str(p, "command", c->command);
	if (c->type == DD_CHECK_UDP) {
		kv_str(p, "send", c->send);
		kv_str(p, "expect", c->expect);
	}
	if (c->type == DD_CHECK_DNS)
		kv_str(p, "dns_query", c->dns_query);
	close_group(p);
}

static void print_service(struct pr *p, const struct dd_service *s, bool last)
{
	char b[INET6_ADDRSTRLEN];
	open_group(p, NULL);
	kv_str(p, "name", s->name);
	if (s->proto == DD_PROTO_FWMARK) {
		kv_u(p, "fwmark", s->fwmark);
		kv_str(p, "family", dd_family_name(s->af));
	} else {
		kv_str(p, "protocol", dd_proto_name(s->proto));
		kv_str(p, "address", dd_addr_str(&s->vip, b, sizeof b));
		kv_u(p, "port", s->port);
	}
	kv_str(p, "scheduler", s->scheduler);
	kv_str(p, "forward", dd_fwd_name(s->fwd));
	kv_u(p, "persistence_timeout_s", s->persistence_timeout_s);
	kv_u(p, "persistence_netmask", (unsigned)s->persistence_prefix);
	kv_bool(p, "ops", s->ops);
	char flag[16];
	size_t nf = 0;
	arr_open(p, "sched_flags");
	if (s->sched_flags.fallback) {
		snprintf(flag, sizeof flag, "%.2s-fallback", s->scheduler);
		arr_str(p, nf++, flag);
	}
	if (s->sched_flags.port) {
		snprintf(flag, sizeof flag, "%.2s-port", s->scheduler);
		arr_str(p, nf++, flag);
	}
	arr_close(p);
	kv_u(p, "quorum", s->quorum);
	kv_u(p, "quorum_hysteresis", s->quorum_hysteresis);
	if (s->has_sorry) {
		open_group(p, "sorry_server");
		kv_addr(p, "address", &s->sorry_addr);
		kv_u(p, "port", s->sorry_port);
		close_group(p);
	}
	kv_str(p, "removal", dd_removal_name(s->removal));
	kv_u(p, "drain_ms", s->drain_ms);
	print_check(p, &s->check);
	kv_str(p, "notify_up", s->notify_up);
	kv_str(p, "notify_down", s->notify_down);
	open_list(p, "real_servers", s->n_rs);
	for (size_t i = 0; i < s->n_rs; i++) {
		const struct dd_real_server *rs = &s->rs[i];
		open_group(p, NULL);
		kv_addr(p, "address", &rs->addr);
		kv_u(p, "port", rs->port);
		kv_u(p, "weight", rs->weight);
		kv_u(p, "upper_threshold", rs->upper_threshold);
		kv_u(p, "lower_threshold", rs->lower_threshold);
		kv_str(p, "forward", dd_fwd_name(rs->fwd));
		kv_u(p, "slow_start_ms", rs->slow_start_ms);
		print_check(p, &rs->check);
		kv_str(p, "notify_up", rs->notify_up);
		kv_str(p, "notify_down", rs->notify_down);
		close_elem(p, i + 1 == s->n_rs);
	}
	close_list(p, s->n_rs);
	close_elem(p, last);
}

static void print_track_scripts(struct pr *p, const struct dd_config *c)
{
	open_list(p, "track_scripts", c->n_track_scripts);
	for (size_t i = 0; i < c->n_track_scripts; i++) {
		const struct dd_track_script *t = &c->track_scripts[i];
		open_group(p, NULL);
		kv_str(p, "name", t->name);
		kv_str(p, "command", t->command);
		kv_u(p, "interval_ms", t->interval_ms);
		kv_u(p, "timeout_ms", t->timeout_ms);
		kv_u(p, "rise", t->rise);
		kv_u(p, "fall", t->fall);
		ind(p);
		fprintf(p->f, "weight = %d;\n", (int)t->weight);
		kv_str(p, "user", t->user);
		close_elem(p, i + 1 == c->n_track_scripts);
	}
	close_list(p, c->n_track_scripts);
}

static void print_cluster_track_notify(struct pr *p, const struct dd_cluster *cl)
{
	arr_open(p, "track_scripts");
	for (size_t i = 0; i < cl->n_track; i++)
		arr_str(p, i, cl->track[i].name);
	arr_close(p);
	kv_str(p, "notify", cl->notify.all);
	kv_str(p, "notify_type", dd_notify_type_name(cl->notify.type));
	kv_str(p, "notify_active", cl->notify.active);
	kv_str(p, "notify_standby", cl->notify.standby);
	kv_str(p, "notify_fault", cl->notify.fault);
	kv_str(p, "notify_stop", cl->notify.stop);
}

static void print_cluster(struct pr *p, const struct dd_cluster *cl, bool last)
{
	char b[INET6_ADDRSTRLEN];
	open_group(p, NULL);
	kv_str(p, "name", cl->name);
	kv_str(p, "mode", dd_mode_name(cl->mode));
	kv_u(p, "priority", cl->priority);
	kv_bool(p, "failback", cl->failback);
	kv_u(p, "failback_delay_ms", cl->failback_delay_ms);
	arr_open(p, "track_interfaces");
	for (size_t i = 0; i < cl->n_track_ifs; i++)
		arr_str(p, i, cl->track_ifs[i]);
	arr_close(p);
	arr_open(p, "ping_targets");
	for (size_t i = 0; i < cl->n_ping_targets; i++)
		arr_str(p, i, dd_addr_str(&cl->ping_targets[i], b, sizeof b));
	arr_close(p);
	kv_addr(p, "gateway", &cl->gateway);
	kv_u(p, "ping_interval_ms", cl->ping_interval_ms);
	kv_u(p, "ping_timeout_ms", cl->ping_timeout_ms);
	kv_u(p, "ping_fall", cl->ping_fall);
	print_cluster_track_notify(p, cl);
	if (cl->mode == DD_MODE_PAIR) { /* an ecmp cluster announces no ARP */
		open_group(p, "garp");
		kv_u(p, "count", cl->garp.count);
		kv_u(p, "interval_ms", cl->garp.interval_ms);
		kv_str(p, "mode", dd_garp_mode_name(cl->garp.mode));
		kv_u(p, "refresh_ms", cl->garp.refresh_ms);
		close_group(p);
	}
	open_list(p, "vips", cl->n_vips);
	for (size_t i = 0; i < cl->n_vips; i++) {
		const struct dd_vip *v = &cl->vips[i];
		char ap[INET6_ADDRSTRLEN + 8];
		snprintf(ap, sizeof ap, "%s/%d", dd_addr_str(&v->addr, b, sizeof b), v->prefix);
		open_group(p, NULL);
		kv_str(p, "address", ap);
		kv_str(p, "interface", v->ifname);
		kv_str(p, "label", v->label);
		close_elem(p, i + 1 == cl->n_vips);
	}
	close_list(p, cl->n_vips);
	open_list(p, "services", cl->n_services);
	for (size_t i = 0; i < cl->n_services; i++)
		print_service(p, &cl->services[i], i + 1 == cl->n_services);
	close_list(p, cl->n_services);
	close_elem(p, last);
}

static void print_heartbeat(struct pr *p, const struct dd_heartbeat *h)
{
	open_group(p, "heartbeat");
	kv_str(p, "key_file", h->key_file);
	kv_u(p, "port", h->port);
	kv_u(p, "interval_ms", h->interval_ms);
	kv_u(p, "dead_ms", h->dead_ms);
	kv_u(p, "dscp", h->dscp);
	kv_str(p, "state_file", h->state_file);
	kv_addr(p, "multicast_group", &h->mcast_group);
	open_list(p, "peers", h->n_peers);
	for (size_t i = 0; i < h->n_peers; i++) {
		const struct dd_peer *pe = &h->peers[i];
		open_group(p, NULL);
		kv_str(p, "name", pe->name);
		open_list(p, "links", pe->n_links);
		for (size_t j = 0; j < pe->n_links; j++) {
			const struct dd_link *l = &pe->links[j];
			open_group(p, NULL);
			kv_addr(p, "local", &l->local);
			kv_addr(p, "remote", &l->remote);
			kv_str(p, "interface", l->ifname);
			close_elem(p, j + 1 == pe->n_links);
		}
		close_list(p, pe->n_links);
		close_elem(p, i + 1 == h->n_peers);
	}
	close_list(p, h->n_peers);
	close_group(p);
}

char *dd_config_print(const struct dd_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	struct pr pr = { .f = open_memstream(&buf, &len) };
	struct pr *p = &pr;
	if (!p->f)
		return NULL;
	fputs("# directord configuration, canonical form (directord -t -p)\n", p->f);
	kv_str(p, "node", c->node_name);
	kv_str(p, "pid_file", c->pid_file);
	open_group(p, "scripts");
	kv_str(p, "user", c->scripts.user);
	kv_str(p, "group", c->scripts.group);
	close_group(p);
	open_group(p, "logging");
	kv_str(p, "facility", dlog_facility_name(c->alert.syslog_facility));
	kv_str(p, "level", dlog_level_name(c->alert.log_level));
	kv_str(p, "notify", c->alert.notify);
	kv_u(p, "notify_timeout_ms", c->alert.notify_timeout_ms);
	close_group(p);
	open_group(p, "control");
	kv_str(p, "socket", c->control.socket_path);
	kv_str(p, "group", c->control.group);
	ind(p);
	fprintf(p->f, "mode = \"%04o\";\n", c->control.mode);
	kv_str(p, "metrics_listen", c->control.metrics_listen);
	kv_u(p, "max_clients", c->control.max_clients);
	kv_u(p, "max_clients_per_uid", c->control.max_clients_per_uid);
	kv_u(p, "metrics_max_clients", c->control.metrics_max_clients);
	close_group(p);
	print_heartbeat(p, &c->hb);
	open_group(p, "sync");
	kv_bool(p, "enabled", c->sync.enabled);
	kv_str(p, "interface", c->sync.ifname);
	kv_u(p, "syncid", c->sync.syncid);
	kv_u(p, "tcp_timeout_s", c->sync.tcp_timeout_s);
	kv_u(p, "tcpfin_timeout_s", c->sync.tcpfin_timeout_s);
	kv_u(p, "udp_timeout_s", c->sync.udp_timeout_s);
	kv_bool(p, "sloppy", c->sync.sloppy);
	close_group(p);
	open_group(p, "ecmp");
	kv_str(p, "device", c->ecmp.device);
	kv_u(p, "drain_timeout_s", c->ecmp.drain_timeout_s);
	kv_u(p, "stop_wait_ms", c->ecmp.stop_wait_ms);
	close_group(p);
	open_group(p, "snmp");
	kv_bool(p, "enabled", c->snmp.enabled);
	kv_str(p, "agentx_socket", c->snmp.agentx_socket);
	kv_bool(p, "traps", c->snmp.traps);
	close_group(p);
	print_track_scripts(p, c);
	open_list(p, "clusters", c->n_clusters);
	for (size_t i = 0; i < c->n_clusters; i++)
		print_cluster(p, &c->clusters[i], i + 1 == c->n_clusters);
	close_list(p, c->n_clusters);
	if (fclose(p->f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
