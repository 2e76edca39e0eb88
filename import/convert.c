/* SPDX-License-Identifier: GPL-2.0-or-later */
/* import/convert.c: keepalived's keywords to directord.conf (see import.h).
 * Two passes over the tree: the first collects global_defs, vrrp_script,
 * vrrp_instance, vrrp_sync_group and virtual_server_group; the second
 * writes each virtual_server into the cluster that holds its VIP. Every
 * keyword either maps to a key, is a note (it has no meaning here, like
 * virtual_router_id), or is reported as not converted with its file:line.
 * Runs in directord-import's only thread. */
#include "config.h"
#include "import/import.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define NAME_MAX_LEN 63
#define MAX_CLUSTERS 16
#define MAX_LINKS 8
#define DRAIN_FOREVER_MS 86400000L

typedef const struct ka_node kn;

struct note {
	char *file;
	int line;
	char *what;
	bool missing;           /* not converted (else: a note) */
};

enum { NT_ANY, NT_MASTER, NT_BACKUP, NT_FAULT, NT_STOP, NT_N };
static const char *const nt_kw[NT_N] = { "notify", "notify_master", "notify_backup",
					  "notify_fault", "notify_stop" };
static const char *const nt_key[NT_N] = { "notify", "notify_active", "notify_standby",
					   "notify_fault", "notify_stop" };

struct strs {
	char **v;
	size_t n;
};

struct inst {
	kn *n;
	char *name;
	const char *iface;
	int prio;
	bool nopreempt;
	long preempt_delay_ms;
	long advert_ms;         /* -1 unset */
	bool dont_track_primary;
	kn *vips[256];
	size_t n_vips;
	struct strs track_if, track_sc;
	const char *src;        /* unicast_src_ip */
	kn *peers;              /* the unicast_peer block */
	kn *notify[NT_N];
	long garp_repeat, garp_refresh_ms, garp_interval_ms;
	int group;              /* index in cv.groups or -1 */
	int vrid;               /* virtual_router_id, the sync daemon's default id */
};

struct group {
	kn *n;
	char *name;
	struct strs members;
	kn *notify[NT_N];
	struct strs track_if, track_sc;
};

struct cluster {
	char *name;
	kn *src;                /* the instance or group it comes from */
	bool is_group;
	int insts[64];
	size_t n_insts;
	char *svc;              /* services text */
	size_t svc_len;
	FILE *svcf;
	int n_svc;
};

struct vsg_ent {
	kn *n;
	bool fwmark;
	unsigned long mark;
	char addr[INET6_ADDRSTRLEN];
	int port;
};

struct vsg {
	kn *n;
	const char *name;
	struct vsg_ent *e;
	size_t n_e;
};

struct cv {
	const struct dd_import_opts *o;
	struct note *notes;
	size_t n_notes;
	bool missing;
	kn *router_id;
	kn *script_user;
	kn *sync;
	kn *lvs_timeouts;
	long g_garp_repeat, g_garp_refresh_ms, g_garp_interval_ms;
	struct inst *insts;
	size_t n_insts;
	struct group *groups;
	size_t n_groups;
	kn **scripts;
	size_t n_scripts;
	struct vsg *vsgs;
	size_t n_vsgs;
	struct cluster cl[MAX_CLUSTERS + 1];
	size_t n_cl;
};

/* A file name as comments and messages show it: a control character
 * (a newline in a name would end the comment) becomes '?'. */
static char *safe_name(const char *f)
{
	char *r = xstrdup(f);
	for (char *p = r; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return r;
}

__attribute__((format(printf, 4, 0)))
static void vnote(struct cv *c, kn *n, bool missing, const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	char *fn = safe_name(n ? n->file : "?");
	for (size_t i = 0; i < c->n_notes; i++)
		if (c->notes[i].line == (n ? n->line : 0) && !strcmp(c->notes[i].what, s) &&
		    !strcmp(c->notes[i].file, fn)) {
			free(s);
			free(fn);
			return;
		}
	free(fn);
	c->notes = xrealloc(c->notes, (c->n_notes + 1) * sizeof *c->notes);
	c->notes[c->n_notes++] = (struct note){ safe_name(n ? n->file : "?"), n ? n->line : 0, s, missing };
	if (missing)
		c->missing = true;
}

__attribute__((format(printf, 3, 4)))
static void nc(struct cv *c, kn *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnote(c, n, true, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4)))
static void note(struct cv *c, kn *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnote(c, n, false, fmt, ap);
	va_end(ap);
}

/* "keyword args..." of a line, for messages (shortened). */
static char *line_text(kn *n)
{
	char buf[200];
	size_t l = 0;
	for (int i = 0; i < n->argc && l < sizeof buf - 1; i++) {
		int w = snprintf(buf + l, sizeof buf - l, "%s%s", i ? " " : "", n->argv[i]);
		if (w < 0)
			break;
		l += (size_t)w;
	}
	if (l >= sizeof buf - 1)
		strcpy(buf + sizeof buf - 4, "...");
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return xstrdup(buf);
}

static void nc_line(struct cv *c, kn *n, const char *why)
{
	char *t = line_text(n);
	nc(c, n, "%s%s%s%s", t, n->has_block ? " { ... }" : "", why ? ": " : "", why ? why : "");
	free(t);
}

static void strs_add(struct strs *s, const char *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], v))
			return;
	s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	s->v[s->n++] = xstrdup(v);
}

static void strs_free(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static bool is(kn *n, const char *kw)
{
	return !strcmp(n->argv[0], kw);
}

static const char *arg(kn *n, int i)
{
	return i < n->argc ? n->argv[i] : NULL;
}

/* A libconfig string literal. */
static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void put_kv(FILE *f, const char *ind, const char *key, const char *val)
{
	fprintf(f, "%s%s = ", ind, key);
	put_str(f, val);
	fputs(";\n", f);
}

static void put_loc(FILE *f, kn *n)
{
	char *nm = safe_name(n->file);
	fprintf(f, "%s:%d", nm, n->line);
	free(nm);
}

/* Where a piece came from, as the comment that precedes it. */
static void put_from(FILE *f, const char *ind, kn *n)
{
	char *t = line_text(n);
	fprintf(f, "%s# ", ind);
	put_loc(f, n);
	fprintf(f, ": %s\n", t);
	free(t);
}

/* A name by directord's rule: 1..63 printable ASCII, no blanks, quotes or
 * backslashes. */
static char *clean_name(const char *s)
{
	size_t l = strlen(s);
	if (l > NAME_MAX_LEN)
		l = NAME_MAX_LEN;
	char *r = xmalloc(l + 2);
	for (size_t i = 0; i < l; i++) {
		unsigned char ch = (unsigned char)s[i];
		r[i] = (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\'' || ch == '\\') ? '_' : (char)ch;
	}
	if (!l)
		r[l++] = '_';
	r[l] = '\0';
	return r;
}

static bool int_arg(const char *s, long lo, long hi, long *out)
{
	if (!s || !*s)
		return false;
	char *e;
	long v = strtol(s, &e, 10);
	if (*e || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* keepalived TIMER: decimal seconds (up to microseconds), to ms. */
static bool timer_arg(const char *s, long *ms)
{
	if (!s || !*s || !(isdigit((unsigned char)*s) || *s == '.'))
		return false;
	char *e;
	double v = strtod(s, &e);
	if (*e || !(v >= 0) || v > 1e7)
		return false;
	*ms = lround(v * 1000.0);
	return true;
}

static int family_of(const char *a)
{
	unsigned char b[16];
	if (inet_pton(AF_INET, a, b) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, a, b) == 1)
		return AF_INET6;
	return 0;
}

/* Same address, whatever its spelling. */
static bool same_addr(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	int fa = family_of(a), fb = family_of(b);
	if (!fa || fa != fb)
		return false;
	inet_pton(fa, a, x);
	inet_pton(fb, b, y);
	return !memcmp(x, y, fa == AF_INET ? 4 : 16);
}

/* ---- pass 1: what the services depend on ---------------------------- */

static void rd_notify(struct cv *c, kn *n, kn **slot)
{
	for (int k = 0; k < NT_N; k++) {
		if (!is(n, nt_kw[k]))
			continue;
		if (n->argc < 2) {
			nc_line(c, n, "no script");
			return;
		}
		if (n->argc > 2)
			nc(c, n, "%s: the user '%s' (notify commands run as scripts.user)", n->argv[0], n->argv[2]);
		slot[k] = n;
		return;
	}
}

static bool is_notify(kn *n)
{
	for (int k = 0; k < NT_N; k++)
		if (is(n, nt_kw[k]))
			return true;
	return false;
}

static void rd_track_block(struct cv *c, kn *n, struct strs *s)
{
	for (kn *e = n->child; e; e = e->next) {
		char *nm = is(n, "track_script") ? clean_name(e->argv[0]) : xstrdup(e->argv[0]);
		strs_add(s, nm);
		free(nm);
		if (e->argc > 1)
			nc(c, e, "%s %s: a per-%s weight (directord: %s)", n->argv[0], e->argv[0],
			   is(n, "track_script") ? "instance script" : "interface",
			   is(n, "track_script") ? "weight is set on the vrrp_script only"
						 : "a tracked interface down is always a fault");
	}
}

static void rd_global(struct cv *c, kn *g)
{
	for (kn *n = g->child; n; n = n->next) {
		long v;
		if (is(n, "router_id") && n->argc >= 2)
			c->router_id = n;
		else if (is(n, "script_user") && n->argc >= 2)
			c->script_user = n;
		else if (is(n, "enable_script_security"))
			note(c, n, "enable_script_security: directord always applies that rule");
		else if (is(n, "vrrp_version"))
			note(c, n, "vrrp_version: directord speaks its own heartbeat protocol");
		else if (is(n, "lvs_sync_daemon") && n->argc >= 2)
			c->sync = n;
		else if (is(n, "lvs_timeouts"))
			c->lvs_timeouts = n;
		else if (is(n, "vrrp_garp_master_repeat") && int_arg(arg(n, 1), 0, 1000, &v))
			c->g_garp_repeat = v;
		else if (is(n, "vrrp_garp_master_refresh") && int_arg(arg(n, 1), 0, 86400, &v))
			c->g_garp_refresh_ms = v * 1000;
		else if (is(n, "vrrp_garp_interval") && timer_arg(arg(n, 1), &v) && v <= 60000)
			c->g_garp_interval_ms = v;
		else
			nc_line(c, n, NULL);
	}
}

static void rd_vip_block(struct cv *c, struct inst *in, kn *b)
{
	for (kn *v = b->child; v; v = v->next) {
		if (in->n_vips >= sizeof in->vips / sizeof in->vips[0]) {
			nc_line(c, v, "too many VIPs in one instance");
			continue;
		}
		in->vips[in->n_vips++] = v;
	}
}

static void rd_instance(struct cv *c, kn *n)
{
	if (n->argc < 2 || !n->has_block) {
		nc_line(c, n, "no name or block");
		return;
	}
	c->insts = xrealloc(c->insts, (c->n_insts + 1) * sizeof *c->insts);
	struct inst *in = &c->insts[c->n_insts++];
	memset(in, 0, sizeof *in);
	in->n = n;
	in->name = clean_name(n->argv[1]);
	in->prio = 100;
	in->advert_ms = -1;
	in->garp_repeat = in->garp_refresh_ms = in->garp_interval_ms = -1;
	in->group = -1;
	for (kn *e = n->child; e; e = e->next) {
		long v;
		if (is(e, "state")) {
			if (e->argc >= 2 && strcmp(e->argv[1], "MASTER") && strcmp(e->argv[1], "BACKUP"))
				nc_line(c, e, NULL);
			else
				note(c, e, "state %s: directord gives the cluster to the live director with the higher priority",
				     arg(e, 1) ? arg(e, 1) : "");
		} else if (is(e, "interface") && e->argc >= 2) {
			in->iface = e->argv[1];
		} else if (is(e, "priority") && int_arg(arg(e, 1), 1, 255, &v)) {
			if (v == 255) {
				nc(c, e, "priority 255 (address owner): directord's highest is 254");
				v = 254;
			}
			in->prio = (int)v;
		} else if (is(e, "nopreempt")) {
			in->nopreempt = true;
		} else if (is(e, "preempt_delay") && timer_arg(arg(e, 1), &v)) {
			in->preempt_delay_ms = v;
		} else if (is(e, "advert_int") && timer_arg(arg(e, 1), &v)) {
			in->advert_ms = v;
		} else if (is(e, "virtual_router_id")) {
			if (int_arg(arg(e, 1), 1, 255, &v))
				in->vrid = (int)v;
			note(c, e, "virtual_router_id: directord identifies clusters by name");
		} else if (is(e, "authentication")) {
			note(c, e, "authentication: replaced by the heartbeat key (heartbeat.key_file)");
		} else if (is(e, "virtual_ipaddress") || is(e, "virtual_ipaddress_excluded")) {
			rd_vip_block(c, in, e);
		} else if (is(e, "track_interface")) {
			rd_track_block(c, e, &in->track_if);
		} else if (is(e, "track_script")) {
			rd_track_block(c, e, &in->track_sc);
		} else if (is(e, "dont_track_primary")) {
			in->dont_track_primary = true;
		} else if (is(e, "unicast_src_ip") && e->argc >= 2) {
			in->src = e->argv[1];
		} else if (is(e, "unicast_peer")) {
			in->peers = e;
		} else if (is_notify(e)) {
			rd_notify(c, e, in->notify);
		} else if (is(e, "garp_master_repeat") && int_arg(arg(e, 1), 0, 1000, &v)) {
			in->garp_repeat = v;
		} else if (is(e, "garp_master_refresh") && int_arg(arg(e, 1), 0, 86400, &v)) {
			in->garp_refresh_ms = v * 1000;
		} else if (is(e, "garp_interval") && timer_arg(arg(e, 1), &v) && v <= 60000) {
			in->garp_interval_ms = v;
		} else {
			nc_line(c, e, NULL);
		}
	}
	if (!in->iface)
		nc(c, n, "vrrp_instance %s has no interface", in->name);
	if (in->nopreempt && in->preempt_delay_ms)
		note(c, n, "preempt_delay with nopreempt: ignored, as keepalived does");
}

static void rd_group(struct cv *c, kn *n)
{
	if (n->argc < 2 || !n->has_block) {
		nc_line(c, n, "no name or block");
		return;
	}
	c->groups = xrealloc(c->groups, (c->n_groups + 1) * sizeof *c->groups);
	struct group *g = &c->groups[c->n_groups++];
	memset(g, 0, sizeof *g);
	g->n = n;
	g->name = clean_name(n->argv[1]);
	for (kn *e = n->child; e; e = e->next) {
		if (is(e, "group")) {
			for (kn *m = e->child; m; m = m->next)
				strs_add(&g->members, m->argv[0]);
		} else if (is_notify(e)) {
			rd_notify(c, e, g->notify);
		} else if (is(e, "track_interface")) {
			rd_track_block(c, e, &g->track_if);
		} else if (is(e, "track_script")) {
			rd_track_block(c, e, &g->track_sc);
		} else if (is(e, "global_tracking")) {
			note(c, e, "global_tracking: a cluster has one set of monitors anyway");
		} else {
			nc_line(c, e, NULL);
		}
	}
}

/* "192.0.2.1-10" expands to .1 .. .10 (IPv4 only). */
static void rd_vsg(struct cv *c, kn *n)
{
	if (n->argc < 2 || !n->has_block) {
		nc_line(c, n, "no name or block");
		return;
	}
	c->vsgs = xrealloc(c->vsgs, (c->n_vsgs + 1) * sizeof *c->vsgs);
	struct vsg *g = &c->vsgs[c->n_vsgs++];
	memset(g, 0, sizeof *g);
	g->n = n;
	g->name = n->argv[1];
	for (kn *e = n->child; e; e = e->next) {
		long v;
		if (is(e, "fwmark") && e->argc >= 2) {
			char *end;
			unsigned long m = strtoul(e->argv[1], &end, 10);
			if (*end || !m || m > 4294967295UL) {
				nc_line(c, e, "bad mark");
				continue;
			}
			g->e = xrealloc(g->e, (g->n_e + 1) * sizeof *g->e);
			g->e[g->n_e++] = (struct vsg_ent){ .n = e, .fwmark = true, .mark = m };
			continue;
		}
		long port = 0;
		if (e->argc >= 2 && !int_arg(e->argv[1], 0, 65535, &port)) {
			nc_line(c, e, "bad port");
			continue;
		}
		char a[64];
		snprintf(a, sizeof a, "%s", e->argv[0]);
		char *dash = strchr(a, '-');
		long last = -1;
		if (dash) {
			*dash = '\0';
			if (family_of(a) != AF_INET || !int_arg(dash + 1, 0, 255, &last)) {
				nc_line(c, e, "only IPv4 address ranges are converted");
				continue;
			}
		}
		int fam = family_of(a);
		if (!fam) {
			nc_line(c, e, "not an address");
			continue;
		}
		if (!port) {
			nc_line(c, e, "no port");
			continue;
		}
		if (last < 0) {
			g->e = xrealloc(g->e, (g->n_e + 1) * sizeof *g->e);
			struct vsg_ent *x = &g->e[g->n_e++];
			*x = (struct vsg_ent){ .n = e, .port = (int)port };
			snprintf(x->addr, sizeof x->addr, "%.45s", a);
			continue;
		}
		unsigned char b[4];
		inet_pton(AF_INET, a, b);
		for (v = b[3]; v <= last; v++) {
			b[3] = (unsigned char)v;
			g->e = xrealloc(g->e, (g->n_e + 1) * sizeof *g->e);
			struct vsg_ent *x = &g->e[g->n_e++];
			*x = (struct vsg_ent){ .n = e, .port = (int)port };
			inet_ntop(AF_INET, b, x->addr, sizeof x->addr);
		}
	}
}

/* ---- clusters ------------------------------------------------------- */

static int find_inst(struct cv *c, const char *name)
{
	char *cn = clean_name(name);
	int r = -1;
	for (size_t i = 0; i < c->n_insts; i++)
		if (!strcmp(c->insts[i].name, cn)) {
			r = (int)i;
			break;
		}
	free(cn);
	return r;
}

static struct cluster *new_cluster(struct cv *c, const char *name, kn *src)
{
	if (c->n_cl >= MAX_CLUSTERS) {
		nc(c, src, "more than %d clusters: %s", MAX_CLUSTERS, name);
		return NULL;
	}
	struct cluster *cl = &c->cl[c->n_cl++];
	memset(cl, 0, sizeof *cl);
	cl->name = xstrdup(name);
	for (int k = 2; k < 100; k++) {
		bool dup = false;
		for (size_t i = 0; i + 1 < c->n_cl; i++)
			dup |= !strcmp(c->cl[i].name, cl->name);
		if (!dup)
			break;
		char buf[NAME_MAX_LEN + 1];
		snprintf(buf, sizeof buf, "%.59s_%d", name, k);
		free(cl->name);
		cl->name = xstrdup(buf);
		note(c, src, "cluster name %s given twice: this one is %s", name, buf);
	}
	cl->src = src;
	cl->svcf = open_memstream(&cl->svc, &cl->svc_len);
	if (!cl->svcf)
		abort();
	return cl;
}

static void make_clusters(struct cv *c)
{
	for (size_t g = 0; g < c->n_groups; g++) {
		struct group *gr = &c->groups[g];
		struct cluster *cl = new_cluster(c, gr->name, gr->n);
		if (!cl)
			continue;
		cl->is_group = true;
		for (size_t m = 0; m < gr->members.n; m++) {
			int i = find_inst(c, gr->members.v[m]);
			if (i < 0) {
				nc(c, gr->n, "vrrp_sync_group %s: no vrrp_instance %s", gr->name, gr->members.v[m]);
				continue;
			}
			if (c->insts[i].group >= 0) {
				nc(c, gr->n, "vrrp_instance %s is in two sync groups", gr->members.v[m]);
				continue;
			}
			c->insts[i].group = (int)g;
			if (cl->n_insts < sizeof cl->insts / sizeof cl->insts[0])
				cl->insts[cl->n_insts++] = i;
		}
	}
	for (size_t i = 0; i < c->n_insts; i++) {
		if (c->insts[i].group >= 0)
			continue;
		struct cluster *cl = new_cluster(c, c->insts[i].name, c->insts[i].n);
		if (cl)
			cl->insts[cl->n_insts++] = (int)i;
	}
}

static bool vip_addr(kn *v, char *out, size_t sz)
{
	snprintf(out, sz, "%s", v->argv[0]);
	char *sl = strchr(out, '/');
	if (sl)
		*sl = '\0';
	return family_of(out) != 0;
}

/* The cluster holding `addr` as a VIP; NULL if none. */
static struct cluster *cluster_of(struct cv *c, const char *addr)
{
	for (size_t k = 0; k < c->n_cl; k++) {
		struct cluster *cl = &c->cl[k];
		for (size_t i = 0; i < cl->n_insts; i++) {
			struct inst *in = &c->insts[cl->insts[i]];
			for (size_t v = 0; v < in->n_vips; v++) {
				char a[INET6_ADDRSTRLEN + 8];
				if (vip_addr(in->vips[v], a, sizeof a) && same_addr(a, addr))
					return cl;
			}
		}
	}
	return NULL;
}

/* Services whose VIP no vrrp_instance holds: keepalived programs them on
 * every node; they go into a cluster of their own without VIPs. */
static struct cluster *orphan_cluster(struct cv *c, kn *vs)
{
	for (size_t k = 0; k < c->n_cl; k++)
		if (!c->cl[k].n_insts && !strcmp(c->cl[k].name, "services"))
			return &c->cl[k];
	struct cluster *cl = new_cluster(c, "services", vs);
	if (cl && c->n_insts)
		note(c, vs, "cluster \"services\" holds the virtual servers whose address is no VIP of a vrrp_instance");
	else if (cl)
		note(c, vs, "cluster \"services\" has no VIPs (none in this file): add `vips` for directord to hold them");
	return cl;
}

/* ---- pass 2: virtual servers ---------------------------------------- */

struct chk {                    /* what a keepalived checker sets */
	long delay_ms, timeout_ms, retry;
	int alpha;              /* -1 unset */
	const char *vhost;
};

struct vsset {
	kn *vs;
	const char *proto;
	const char *sched;
	const char *fwd;
	long persist_s;
	kn *granularity;
	long quorum, hysteresis;
	kn *sorry;
	bool inhibit;
	bool ops;
	struct strs flags;
	const char *family;
	struct chk chk;
};

static const char *fwd_name(struct cv *c, kn *n)
{
	const char *k = arg(n, 1);
	if (!k) {
		nc_line(c, n, NULL);
		return NULL;
	}
	if (n->argc > 2)
		nc(c, n, "%s %s: tunnel options (%s ...)", n->argv[0], k, n->argv[2]);
	if (!strcmp(k, "NAT"))
		return "nat";
	if (!strcmp(k, "DR"))
		return "dr";
	if (!strcmp(k, "TUN"))
		return "tun";
	nc_line(c, n, "unknown forwarding method");
	return NULL;
}

/* A keyword every checker, real server and virtual server may carry. */
static bool rd_chk(struct cv *c, kn *e, struct chk *k)
{
	long v;
	if (is(e, "delay_loop") && timer_arg(arg(e, 1), &v)) {
		k->delay_ms = v;
	} else if (is(e, "connect_timeout") && timer_arg(arg(e, 1), &v)) {
		k->timeout_ms = v;
	} else if ((is(e, "retry") || is(e, "nb_get_retry")) && int_arg(arg(e, 1), 0, 998, &v)) {
		k->retry = v;
	} else if (is(e, "alpha")) {
		k->alpha = e->argc < 2 || !strcmp(e->argv[1], "yes") || !strcmp(e->argv[1], "true") ||
			   !strcmp(e->argv[1], "on");
	} else if (is(e, "virtualhost") && e->argc >= 2) {
		k->vhost = e->argv[1];
	} else if (is(e, "delay_before_retry") || is(e, "warmup")) {
		note(c, e, "%s: directord checks every interval_ms and spreads the first checks itself",
		     e->argv[0]);
	} else if (is(e, "log_all_failures")) {
		note(c, e, "log_all_failures: directord logs every state change with its reason");
	} else {
		return false;
	}
	return true;
}

static const struct chk chk_unset = { -1, -1, -1, -1, NULL };

/* Registered HTTP codes, to keep a keepalived range within directord's 32. */
static const int http_codes[] = {
	100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
	300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405,
	406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422,
	423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
	506, 507, 508, 510, 511,
};

static void status_list(struct cv *c, kn *n, FILE *f, const char *ind)
{
	int codes[64];
	size_t nc_ = 0;
	bool over = false;
	for (int i = 1; n && i < n->argc; i++) {
		long lo, hi;
		char buf[32];
		snprintf(buf, sizeof buf, "%s", n->argv[i]);
		char *d = strchr(buf, '-');
		if (d)
			*d = '\0';
		if (!int_arg(buf, 100, 599, &lo) || (d ? !int_arg(d + 1, lo, 599, &hi) : (hi = lo, 0))) {
			nc(c, n, "status_code %s: not a code or range", n->argv[i]);
			continue;
		}
		if (lo == hi) {
			if (nc_ < 32)
				codes[nc_++] = (int)lo;
			else
				over = true;
			continue;
		}
		for (size_t k = 0; k < ARRAY_SIZE(http_codes); k++)
			if (http_codes[k] >= lo && http_codes[k] <= hi) {
				if (nc_ < 32)
					codes[nc_++] = http_codes[k];
				else
					over = true;
			}
		note(c, n, "status_code %s: directord lists the registered codes of that range", n->argv[i]);
	}
	if (!n) {
		for (int k = 200; k <= 226; k++)
			for (size_t j = 0; j < ARRAY_SIZE(http_codes); j++)
				if (http_codes[j] == k)
					codes[nc_++] = k;
	}
	if (over)
		nc(c, n, "status_code: more than 32 codes; the first 32 are kept");
	if (!nc_)
		return;
	fprintf(f, "%sstatus = [ ", ind);
	for (size_t i = 0; i < nc_; i++)
		fprintf(f, "%s%d", i ? ", " : "", codes[i]);
	fputs(" ];\n", f);
}

/* UDP_CHECK hex string to text, when it is printable text. */
static char *hex_text(const char *const *words, int nw, bool *ok)
{
	char digits[1024];
	size_t nd = 0;
	*ok = true;
	for (int w = 0; w < nw; w++) {
		size_t l = strlen(words[w]);
		for (size_t i = 0; i < l; i++) {
			if (!isxdigit((unsigned char)words[w][i]) || nd >= sizeof digits - 2) {
				*ok = false;
				return NULL;
			}
		}
		if (l % 2)
			digits[nd++] = '0'; /* keepalived pads an odd group on the left */
		memcpy(digits + nd, words[w], l);
		nd += l;
	}
	char *out = xmalloc(nd / 2 + 1);
	size_t n = 0;
	for (size_t i = 0; i + 1 < nd; i += 2) {
		char h[3] = { digits[i], digits[i + 1], 0 };
		int ch = (int)strtol(h, NULL, 16);
		if (ch < 0x20 || ch > 0x7e) {
			*ok = false;
			free(out);
			return NULL;
		}
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	return out;
}

/* One real server's check, written whole (directord would merge a service
 * check into it; keepalived's are per real server). */
static void put_check(struct cv *c, FILE *f, const char *ind, kn *rs, const struct chk *inh,
		      bool fwmark_rs_noport)
{
	kn *ck = NULL;
	static const char *const types[] = { "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK",
					     "DNS_CHECK", "UDP_CHECK", "SMTP_CHECK", "PING_CHECK",
					     "BFD_CHECK", "FILE_CHECK" };
	for (kn *e = rs->child; e; e = e->next)
		for (size_t t = 0; t < ARRAY_SIZE(types); t++)
			if (is(e, types[t])) {
				if (!ck)
					ck = e;
				else
					nc(c, e, "%s: a second checker (directord has one check per real server)",
					   e->argv[0]);
			}
	if (!ck) {
		fprintf(f, "%scheck = { type = \"none\"; };   # no checker: always up\n", ind);
		return;
	}
	const char *type = NULL;
	if (is(ck, "TCP_CHECK"))
		type = "tcp";
	else if (is(ck, "HTTP_GET"))
		type = "http";
	else if (is(ck, "SSL_GET"))
		type = "https";
	else if (is(ck, "MISC_CHECK"))
		type = "exec";
	else if (is(ck, "DNS_CHECK"))
		type = "dns";
	else if (is(ck, "UDP_CHECK"))
		type = "udp";
	else if (is(ck, "SMTP_CHECK")) {
		type = "tcp";
		nc(c, ck, "SMTP_CHECK: converted to a TCP check (directord has no SMTP dialogue)");
	} else {
		nc(c, ck, "%s: directord has no such check; the server is always up", ck->argv[0]);
		fprintf(f, "%scheck = { type = \"none\"; };\n", ind);
		return;
	}
	struct chk k = *inh;
	long port = -1;
	const char *source = NULL, *iface = NULL, *path = NULL, *command = NULL, *dnsname = NULL;
	const char *sni = NULL, *body = NULL;
	bool enable_sni = false, have_url = false;
	kn *status = NULL, *payload = NULL, *reply = NULL;
	long misc_timeout = -1;
	for (kn *e = ck->child; e; e = e->next) {
		long v;
		if (rd_chk(c, e, &k))
			continue;
		if (is(e, "connect_port") && int_arg(arg(e, 1), 1, 65535, &v))
			port = v;
		else if (is(e, "bindto") && e->argc >= 2)
			source = e->argv[1];
		else if (is(e, "bind_if") && e->argc >= 2)
			iface = e->argv[1];
		else if (is(e, "url") && (!strcmp(type, "http") || !strcmp(type, "https"))) {
			if (have_url) {
				nc(c, e, "url: a second url (directord checks one path)");
				continue;
			}
			have_url = true;
			for (kn *u = e->child; u; u = u->next) {
				if (is(u, "path") && u->argc >= 2)
					path = u->argv[1];
				else if (is(u, "status_code"))
					status = u;
				else if (is(u, "virtualhost") && u->argc >= 2)
					k.vhost = u->argv[1];
				else if (is(u, "body_match") && u->argc >= 2) /* from ldirectord's receive= */
					body = u->argv[1];
				else if (is(u, "digest"))
					nc(c, u, "digest: directord matches the status (and body_match), not an MD5 of the body");
				else
					nc_line(c, u, NULL);
			}
		} else if (is(e, "enable_sni") && !strcmp(type, "https"))
			enable_sni = true;
		else if (is(e, "sni_name") && e->argc >= 2 && !strcmp(type, "https"))
			sni = e->argv[1];
		else if ((is(e, "http_protocol") || is(e, "fast_recovery") || is(e, "tls_compliant")) &&
			 (!strcmp(type, "http") || !strcmp(type, "https")))
			note(c, e, "%s: directord speaks HTTP/1.0 with Connection: close", e->argv[0]);
		else if (is(e, "misc_path") && e->argc >= 2 && !strcmp(type, "exec"))
			command = e->argv[1];
		else if (is(e, "misc_timeout") && int_arg(arg(e, 1), 0, 3600, &v) && !strcmp(type, "exec"))
			misc_timeout = v * 1000;
		else if (is(e, "name") && e->argc >= 2 && !strcmp(type, "dns"))
			dnsname = e->argv[1];
		else if (is(e, "type") && !strcmp(type, "dns")) {
			if (!arg(e, 1) || strcmp(arg(e, 1), "A"))
				nc(c, e, "DNS_CHECK type %s: directord queries type A", arg(e, 1) ? arg(e, 1) : "");
		} else if (is(e, "payload") && !strcmp(type, "udp"))
			payload = e;
		else if (is(e, "require_reply") && !strcmp(type, "udp"))
			reply = e;
		else
			nc_line(c, e, NULL);
	}
	if (!strcmp(type, "dns") && k.retry < 0)
		k.retry = 3;
	if (!strcmp(type, "exec") && k.retry < 0)
		k.retry = 0;
	if (!strcmp(type, "http") || !strcmp(type, "https"))
		if (!have_url)
			nc(c, ck, "%s without url: keepalived checks nothing then; directord asks for /", ck->argv[0]);

	long interval = k.delay_ms >= 0 ? k.delay_ms : 60000;
	long timeout = !strcmp(type, "exec") ? (misc_timeout > 0 ? misc_timeout : interval)
					       : (k.timeout_ms >= 0 ? k.timeout_ms : 5000);
	if (interval < 10)
		interval = 10;
	if (interval > 3600000)
		interval = 3600000;
	if (timeout < 1)
		timeout = 1;
	if (timeout >= interval) {
		note(c, ck, "%s: timeout %ld ms not below the interval %ld ms: %ld ms", ck->argv[0],
		     timeout, interval, interval - 1);
		timeout = interval - 1;
	}
	long fall = (k.retry >= 0 ? k.retry : 1) + 1;
	put_from(f, ind, ck);
	fprintf(f, "%scheck = {\n", ind);
	char in2[80];
	snprintf(in2, sizeof in2, "%.60s  ", ind);
	put_kv(f, in2, "type", type);
	fprintf(f, "%sinterval_ms = %ld; timeout_ms = %ld;   # delay_loop, connect_timeout\n", in2,
		interval, timeout);
	fprintf(f, "%srise = 1; fall = %ld;   # keepalived: one success; retry + 1 failures\n", in2, fall);
	put_kv(f, in2, "initial", k.alpha == 1 ? "down" : "up");
	if (!strcmp(type, "exec")) {
		if (command)
			put_kv(f, in2, "command", command);
		else
			nc(c, ck, "MISC_CHECK without misc_path");
		fprintf(f, "%s};\n", ind);
		return;
	}
	if (port > 0)
		fprintf(f, "%sport = %ld;   # connect_port\n", in2, port);
	else if (fwmark_rs_noport)
		nc(c, ck, "%s: a fwmark real server without a port needs connect_port", ck->argv[0]);
	if (source)
		put_kv(f, in2, "source", source);
	if (iface)
		put_kv(f, in2, "interface", iface);
	if (!strcmp(type, "http") || !strcmp(type, "https")) {
		put_kv(f, in2, "path", path ? path : "/");
		if (k.vhost)
			put_kv(f, in2, "host", k.vhost);
		status_list(c, status, f, in2);
		if (body)
			put_kv(f, in2, "body_match", body);
		if (!strcmp(type, "https") && (sni || enable_sni))
			put_kv(f, in2, "sni", sni ? sni : (k.vhost ? k.vhost : ""));
	}
	if (!strcmp(type, "dns"))
		put_kv(f, in2, "dns_query", dnsname ? dnsname : ".");
	if (!strcmp(type, "udp")) {
		bool ok = true;
		if (payload) {
			char *t = hex_text((const char *const *)payload->argv + 1, payload->argc - 1, &ok);
			if (ok)
				put_kv(f, in2, "send", t);
			else
				nc(c, payload, "payload: not printable text (directord sends a string)");
			free(t);
		} else {
			note(c, ck, "UDP_CHECK without payload: directord sends an empty datagram");
		}
		if (reply && reply->argc > 1) {
			char *t = hex_text((const char *const *)reply->argv + 1, reply->argc - 1, &ok);
			if (ok)
				put_kv(f, in2, "expect", t);
			else
				nc(c, reply, "require_reply: not printable text");
			free(t);
		} else if (!reply) {
			nc(c, ck, "UDP_CHECK without require_reply: keepalived's success is no ICMP error; directord waits for a reply");
		}
	}
	fprintf(f, "%s};\n", ind);
}

static void put_rs(struct cv *c, FILE *f, kn *rs, const struct vsset *s, bool fwmark)
{
	const char *ind = "            ";
	long port = 0;
	if (rs->argc < 2 || !family_of(rs->argv[1]) ||
	    (rs->argc >= 3 && !int_arg(rs->argv[2], 0, 65535, &port))) {
		nc_line(c, rs, "bad address or port");
		return;
	}
	put_from(f, "          ", rs);
	fprintf(f, "          {\n");
	put_kv(f, ind, "address", rs->argv[1]);
	if (port)
		fprintf(f, "%sport = %ld;\n", ind, port);
	struct chk k = s->chk;
	for (kn *e = rs->child; e; e = e->next) {
		long v;
		if (rd_chk(c, e, &k))
			continue;
		if (is(e, "weight") && int_arg(arg(e, 1), 0, 65535, &v))
			fprintf(f, "%sweight = %ld;\n", ind, v);
		else if (is(e, "uthreshold") && int_arg(arg(e, 1), 0, 2147483647, &v))
			fprintf(f, "%supper_threshold = %ld;\n", ind, v);
		else if (is(e, "lthreshold") && int_arg(arg(e, 1), 0, 2147483647, &v))
			fprintf(f, "%slower_threshold = %ld;\n", ind, v);
		else if (is(e, "lvs_method")) {
			const char *fw = fwd_name(c, e);
			if (fw)
				put_kv(f, ind, "forward", fw);
		} else if (is(e, "notify_up") || is(e, "notify_down")) {
			if (e->argc < 2) {
				nc_line(c, e, NULL);
				continue;
			}
			if (e->argc > 2)
				nc(c, e, "%s: the user '%s' (commands run as scripts.user)", e->argv[0], e->argv[2]);
			put_kv(f, ind, e->argv[0], e->argv[1]);
		} else if (is(e, "inhibit_on_failure")) {
			bool on = e->argc < 2 || !strcmp(e->argv[1], "yes") || !strcmp(e->argv[1], "true") ||
				  !strcmp(e->argv[1], "on");
			if (on != s->inhibit)
				nc(c, e, "inhibit_on_failure on one real server: directord sets removal per service (%s)",
				   s->inhibit ? "drain" : "remove");
		} else if (is(e, "TCP_CHECK") || is(e, "HTTP_GET") || is(e, "SSL_GET") || is(e, "MISC_CHECK") ||
			   is(e, "DNS_CHECK") || is(e, "UDP_CHECK") || is(e, "SMTP_CHECK") ||
			   is(e, "PING_CHECK") || is(e, "BFD_CHECK") || is(e, "FILE_CHECK")) {
			continue;
		} else {
			nc_line(c, e, NULL);
		}
	}
	put_check(c, f, ind, rs, &k, fwmark && !port);
	fprintf(f, "          },\n");
}

static void rd_vsset(struct cv *c, kn *vs, struct vsset *s)
{
	memset(s, 0, sizeof *s);
	s->vs = vs;
	s->fwd = "nat";
	s->sched = "wlc";
	s->persist_s = -1;
	s->quorum = 1;
	s->chk = chk_unset;
	for (kn *e = vs->child; e; e = e->next) {
		long v;
		if (is(e, "real_server"))
			continue;
		if (rd_chk(c, e, &s->chk))
			continue;
		if ((is(e, "lb_algo") || is(e, "lvs_sched")) && e->argc >= 2) {
			s->sched = e->argv[1];
		} else if (is(e, "lb_kind") || is(e, "lvs_method")) {
			const char *fw = fwd_name(c, e);
			if (fw)
				s->fwd = fw;
		} else if (is(e, "protocol") && e->argc >= 2) {
			if (!strcmp(e->argv[1], "TCP"))
				s->proto = "tcp";
			else if (!strcmp(e->argv[1], "UDP"))
				s->proto = "udp";
			else if (!strcmp(e->argv[1], "SCTP"))
				s->proto = "sctp";
			else
				nc_line(c, e, NULL);
		} else if (is(e, "persistence_timeout")) {
			if (e->argc < 2)
				s->persist_s = 360;
			else if (int_arg(e->argv[1], 0, 31536000, &v))
				s->persist_s = v;
			else
				nc_line(c, e, NULL);
		} else if (is(e, "persistence_granularity") && e->argc >= 2) {
			s->granularity = e;
		} else if (is(e, "quorum") && int_arg(arg(e, 1), 0, 65535, &v)) {
			s->quorum = v;
		} else if (is(e, "hysteresis") && int_arg(arg(e, 1), 0, 65535, &v)) {
			s->hysteresis = v;
		} else if (is(e, "sorry_server") && e->argc >= 2) {
			s->sorry = e;
		} else if (is(e, "inhibit_on_failure")) {
			s->inhibit = e->argc < 2 || !strcmp(e->argv[1], "yes") || !strcmp(e->argv[1], "true") ||
				     !strcmp(e->argv[1], "on");
		} else if (is(e, "ops")) {
			s->ops = true;
		} else if (is(e, "sh-port") || is(e, "sh-fallback") || is(e, "mh-port") || is(e, "mh-fallback")) {
			strs_add(&s->flags, e->argv[0]);
		} else if (is(e, "ip_family") && e->argc >= 2 &&
			   (!strcmp(e->argv[1], "inet") || !strcmp(e->argv[1], "inet6"))) {
			s->family = e->argv[1];
		} else {
			nc_line(c, e, NULL);
		}
	}
}

/* One service: `addr`/`port` or `mark`; real servers from the vs block. */
static void put_service(struct cv *c, struct vsset *s, kn *from, const char *addr, long port,
			unsigned long mark)
{
	struct cluster *cl = NULL;
	if (addr) {
		cl = cluster_of(c, addr);
	} else if (c->n_cl == 1 || (c->n_cl && c->cl[0].n_insts)) {
		cl = &c->cl[0];
		if (c->n_cl > 1)
			note(c, from, "fwmark %lu: placed in cluster \"%s\" (a mark has no VIP to choose by)", mark,
			     cl->name);
	}
	if (!cl)
		cl = orphan_cluster(c, from);
	if (!cl) {
		nc_line(c, from, "no cluster for it");
		return;
	}
	FILE *f = cl->svcf;
	const char *ind = "        ";
	put_from(f, "      ", from);
	fprintf(f, "      {\n");
	int fam = addr ? family_of(addr) : (s->family && !strcmp(s->family, "inet6") ? AF_INET6 : AF_INET);
	if (!addr && !s->family) {
		/* keepalived takes a mark's family from its real servers. */
		for (kn *e = s->vs->child; e; e = e->next)
			if (is(e, "real_server") && e->argc >= 2 && family_of(e->argv[1])) {
				fam = family_of(e->argv[1]);
				break;
			}
	}
	if (addr) {
		if (!s->proto) {
			nc(c, s->vs, "virtual_server without protocol: keepalived uses UDP");
			s->proto = "udp";
		}
		put_kv(f, ind, "protocol", s->proto);
		put_kv(f, ind, "address", addr);
		fprintf(f, "%sport = %ld;\n", ind, port);
	} else {
		fprintf(f, "%sfwmark = %lu%s;\n", ind, mark, mark > 2147483647UL ? "L" : "");
		if (fam == AF_INET6)
			put_kv(f, ind, "family", "inet6");
	}
	put_kv(f, ind, "scheduler", s->sched);
	put_kv(f, ind, "forward", s->fwd);
	if (s->persist_s > 0)
		fprintf(f, "%spersistence_timeout_s = %ld;\n", ind, s->persist_s);
	if (s->granularity) {
		const char *g = s->granularity->argv[1];
		long v;
		if (strchr(g, '.') && fam == AF_INET)
			put_kv(f, ind, "persistence_netmask", g);
		else if (int_arg(g, 0, fam == AF_INET ? 32 : 128, &v))
			fprintf(f, "%spersistence_netmask = %ld;\n", ind, v);
		else
			nc_line(c, s->granularity, NULL);
	}
	if (s->ops) {
		if (addr && strcmp(s->proto, "udp"))
			nc(c, s->vs, "ops: only for udp and fwmark services");
		else
			fprintf(f, "%sops = true;\n", ind);
	}
	if (s->flags.n) {
		fprintf(f, "%ssched_flags = [ ", ind);
		for (size_t i = 0; i < s->flags.n; i++) {
			fputs(i ? ", " : "", f);
			put_str(f, s->flags.v[i]);
		}
		fputs(" ];\n", f);
	}
	size_t n_rs = 0;
	bool weights_one = true;
	for (kn *e = s->vs->child; e; e = e->next)
		if (is(e, "real_server")) {
			n_rs++;
			for (kn *w = e->child; w; w = w->next) {
				long v;
				if (is(w, "weight") && int_arg(arg(w, 1), 0, 65535, &v) && v != 1)
					weights_one = false;
			}
		}
	long q = s->quorum;
	if (q != 1 && !weights_one)
		nc(c, s->vs, "quorum %ld: keepalived counts the weight of live servers, directord counts servers", q);
	if ((size_t)q > n_rs) {
		if (s->quorum != 1 || n_rs)
			nc(c, s->vs, "quorum %ld: more than the %zu real servers", q, n_rs);
		q = (long)n_rs;
	}
	if (q != 1)
		fprintf(f, "%squorum = %ld;\n", ind, q);
	if (s->hysteresis) {
		long h = s->hysteresis > q ? q : s->hysteresis;
		if (h != s->hysteresis)
			nc(c, s->vs, "hysteresis %ld: more than the quorum", s->hysteresis);
		fprintf(f, "%squorum_hysteresis = %ld;   # hysteresis\n", ind, h);
	}
	if (s->sorry) {
		long sp = 0;
		if (!family_of(s->sorry->argv[1]) ||
		    (s->sorry->argc >= 3 && !int_arg(s->sorry->argv[2], 0, 65535, &sp))) {
			nc_line(c, s->sorry, NULL);
		} else {
			fprintf(f, "%ssorry_server = { address = ", ind);
			put_str(f, s->sorry->argv[1]);
			if (sp)
				fprintf(f, "; port = %ld", sp);
			fputs("; };\n", f);
		}
	}
	if (s->inhibit)
		fprintf(f, "%sremoval = \"drain\"; drain_ms = %ld;   # inhibit_on_failure\n", ind, DRAIN_FOREVER_MS);
	else
		fprintf(f, "%sremoval = \"remove\";   # keepalived without inhibit_on_failure\n", ind);
	fprintf(f, "%sreal_servers = (\n", ind);
	for (kn *e = s->vs->child; e; e = e->next)
		if (is(e, "real_server"))
			put_rs(c, f, e, s, !addr);
	fprintf(f, "        );\n      },\n");
	cl->n_svc++;
}

static void rd_vs(struct cv *c, kn *vs)
{
	if (vs->argc < 2 || !vs->has_block) {
		nc_line(c, vs, "no address or block");
		return;
	}
	/* The notes of the vs block are taken once, even for a group. */
	struct vsset s;
	rd_vsset(c, vs, &s);
	if (!strcmp(vs->argv[1], "group")) {
		struct vsg *g = NULL;
		for (size_t i = 0; i < c->n_vsgs; i++)
			if (vs->argc >= 3 && !strcmp(c->vsgs[i].name, vs->argv[2]))
				g = &c->vsgs[i];
		if (!g) {
			nc_line(c, vs, "no such virtual_server_group");
		} else {
			note(c, vs, "virtual_server group %s: one service per group entry", g->name);
			for (size_t i = 0; i < g->n_e; i++) {
				if (g->e[i].fwmark)
					put_service(c, &s, g->e[i].n, NULL, 0, g->e[i].mark);
				else
					put_service(c, &s, g->e[i].n, g->e[i].addr, g->e[i].port, 0);
			}
		}
	} else if (!strcmp(vs->argv[1], "fwmark")) {
		char *end = NULL;
		unsigned long m = vs->argc >= 3 ? strtoul(vs->argv[2], &end, 10) : 0;
		if (!m || *end || m > 4294967295UL)
			nc_line(c, vs, "bad mark");
		else
			put_service(c, &s, vs, NULL, 0, m);
	} else {
		long port = 0;
		if (!family_of(vs->argv[1]) || vs->argc < 3 || !int_arg(vs->argv[2], 1, 65535, &port))
			nc_line(c, vs, "an address without port, or not an address");
		else
			put_service(c, &s, vs, vs->argv[1], port, 0);
	}
	strs_free(&s.flags);
}

/* ---- writing -------------------------------------------------------- */

static void put_strs(FILE *f, const char *ind, const char *key, const struct strs *s)
{
	if (!s->n)
		return;
	fprintf(f, "%s%s = [ ", ind, key);
	for (size_t i = 0; i < s->n; i++) {
		fputs(i ? ", " : "", f);
		put_str(f, s->v[i]);
	}
	fputs(" ];\n", f);
}

static void put_scripts(struct cv *c, FILE *f)
{
	if (!c->n_scripts)
		return;
	fputs("# keepalived: vrrp_script\ntrack_scripts = (\n", f);
	for (size_t i = 0; i < c->n_scripts; i++) {
		kn *n = c->scripts[i];
		long interval = 1000, timeout = -1, rise = 1, fall = 1, weight = 0, v;
		const char *cmd = NULL, *user = NULL;
		for (kn *e = n->child; e; e = e->next) {
			if (is(e, "script") && e->argc >= 2)
				cmd = e->argv[1];
			else if (is(e, "interval") && timer_arg(arg(e, 1), &v))
				interval = v;
			else if (is(e, "timeout") && timer_arg(arg(e, 1), &v))
				timeout = v;
			else if (is(e, "rise") && int_arg(arg(e, 1), 1, 1000, &v))
				rise = v;
			else if (is(e, "fall") && int_arg(arg(e, 1), 1, 1000, &v))
				fall = v;
			else if (is(e, "weight") && int_arg(arg(e, 1), -253, 253, &v)) {
				weight = v;
				if (e->argc > 2)
					nc(c, e, "weight %s %s: directord has no reverse weight", e->argv[1], e->argv[2]);
			} else if (is(e, "user") && e->argc >= 2) {
				user = e->argv[1];
				if (e->argc > 2)
					nc(c, e, "user %s %s: the group (scripts.group applies)", e->argv[1], e->argv[2]);
			} else if (is(e, "init_fail"))
				note(c, e, "init_fail: a track script starts failed in directord until its first success");
			else
				nc_line(c, e, NULL);
		}
		if (interval < 10)
			interval = 10;
		if (timeout < 0)
			timeout = interval;
		if (timeout >= interval) {
			note(c, n, "vrrp_script %s: timeout %ld ms not below the interval: %ld ms", n->argv[1],
			     timeout, interval - 1);
			timeout = interval - 1;
		}
		put_from(f, "  ", n);
		fprintf(f, "  { ");
		char *nm = clean_name(n->argv[1]);
		fputs("name = ", f);
		put_str(f, nm);
		free(nm);
		fputs(";\n    command = ", f);
		if (!cmd)
			nc(c, n, "vrrp_script %s without script", n->argv[1]);
		put_str(f, cmd ? cmd : "/bin/false");
		fprintf(f, ";\n    interval_ms = %ld; timeout_ms = %ld; rise = %ld; fall = %ld; weight = %ld;\n",
			interval, timeout, rise, fall, weight);
		if (user)
			put_kv(f, "    ", "user", user);
		fprintf(f, "  },\n");
	}
	fputs(");\n\n", f);
}

static void put_vip(struct cv *c, FILE *f, kn *v, const char *iface)
{
	char a[INET6_ADDRSTRLEN + 8];
	if (!vip_addr(v, a, sizeof a)) {
		nc_line(c, v, "not an address");
		return;
	}
	const char *dev = iface, *label = NULL;
	for (int i = 1; i < v->argc; i++) {
		if (!strcmp(v->argv[i], "dev") && i + 1 < v->argc)
			dev = v->argv[++i];
		else if (!strcmp(v->argv[i], "label") && i + 1 < v->argc)
			label = v->argv[++i];
		else if (!strcmp(v->argv[i], "scope") && i + 1 < v->argc && !strcmp(v->argv[i + 1], "global"))
			i++; /* the default */
		else {
			nc(c, v, "virtual_ipaddress %s: option %s", v->argv[0], v->argv[i]);
			if (i + 1 < v->argc && strcmp(v->argv[i], "no_track") && strcmp(v->argv[i], "home"))
				i++;
		}
	}
	if (!dev) {
		nc(c, v, "virtual_ipaddress %s: no interface", v->argv[0]);
		dev = "eth0";
	}
	fprintf(f, "      { address = ");
	put_str(f, v->argv[0]);
	fputs("; interface = ", f);
	put_str(f, dev);
	if (label) {
		fputs("; label = ", f);
		put_str(f, label);
	}
	fputs("; },   # ", f);
	put_loc(f, v);
	fputc('\n', f);
}

static void put_cluster(struct cv *c, FILE *f, struct cluster *cl)
{
	put_from(f, "  ", cl->src);
	fputs("  {\n", f);
	put_kv(f, "    ", "name", cl->name);
	struct strs tif = { 0 }, tsc = { 0 };
	kn *notify[NT_N] = { 0 };
	bool group_notify = false;
	if (cl->is_group) {
		struct group *g = NULL;
		for (size_t i = 0; i < c->n_groups; i++)
			if (c->groups[i].n == cl->src)
				g = &c->groups[i];
		for (size_t i = 0; g && i < g->track_if.n; i++)
			strs_add(&tif, g->track_if.v[i]);
		for (size_t i = 0; g && i < g->track_sc.n; i++)
			strs_add(&tsc, g->track_sc.v[i]);
		for (int k = 0; g && k < NT_N; k++)
			if (g->notify[k]) {
				notify[k] = g->notify[k];
				group_notify = true;
			}
	}
	struct inst *first = cl->n_insts ? &c->insts[cl->insts[0]] : NULL;
	long repeat = c->g_garp_repeat, refresh = c->g_garp_refresh_ms, gint = c->g_garp_interval_ms;
	for (size_t i = 0; i < cl->n_insts; i++) {
		struct inst *in = &c->insts[cl->insts[i]];
		if (in->prio != first->prio)
			nc(c, in->n, "vrrp_instance %s: priority %d differs from %d of %s in the same sync group",
			   in->name, in->prio, first->prio, first->name);
		if (in->nopreempt != first->nopreempt)
			nc(c, in->n, "vrrp_instance %s: nopreempt differs within the sync group", in->name);
		if (in->iface && !in->dont_track_primary)
			strs_add(&tif, in->iface);
		for (size_t k = 0; k < in->track_if.n; k++)
			strs_add(&tif, in->track_if.v[k]);
		for (size_t k = 0; k < in->track_sc.n; k++)
			strs_add(&tsc, in->track_sc.v[k]);
		for (int k = 0; k < NT_N; k++) {
			if (!in->notify[k])
				continue;
			if (notify[k] && (group_notify || notify[k] != in->notify[k]))
				nc(c, in->notify[k], "%s of instance %s: the cluster has one (kept: line %d)",
				   nt_kw[k], in->name, notify[k]->line);
			else
				notify[k] = in->notify[k];
		}
		if (in->garp_repeat >= 0)
			repeat = in->garp_repeat;
		if (in->garp_refresh_ms >= 0)
			refresh = in->garp_refresh_ms;
		if (in->garp_interval_ms >= 0)
			gint = in->garp_interval_ms;
	}
	if (first) {
		fprintf(f, "    priority = %d;\n", first->prio);
		fprintf(f, "    failback = %s;   # keepalived preempts unless nopreempt\n",
			first->nopreempt ? "false" : "true");
		if (!first->nopreempt && first->preempt_delay_ms)
			fprintf(f, "    failback_delay_ms = %ld;   # preempt_delay\n", first->preempt_delay_ms);
	}
	put_strs(f, "    ", "track_interfaces", &tif);
	for (size_t i = 0; i < tsc.n; i++) {
		bool found = false;
		for (size_t k = 0; k < c->n_scripts; k++) {
			char *nm = clean_name(c->scripts[k]->argv[1]);
			found |= !strcmp(nm, tsc.v[i]);
			free(nm);
		}
		if (!found)
			nc(c, cl->src, "track_script %s: no vrrp_script of that name", tsc.v[i]);
	}
	put_strs(f, "    ", "track_scripts", &tsc);
	for (int k = 0; k < NT_N; k++)
		if (notify[k]) {
			put_kv(f, "    ", nt_key[k], notify[k]->argv[1]);
		}
	if (notify[NT_ANY])
		put_kv(f, "    ", "notify_type", group_notify ? "group" : "instance");
	if (repeat >= 0 || refresh >= 0 || gint >= 0) {
		fputs("    garp = {", f);
		if (repeat >= 0)
			fprintf(f, " count = %ld;", repeat);
		if (gint >= 0)
			fprintf(f, " interval_ms = %ld;", gint);
		if (refresh >= 0)
			fprintf(f, " refresh_ms = %ld;", refresh);
		fputs(" };\n", f);
	}
	bool any_vip = false;
	for (size_t i = 0; i < cl->n_insts; i++)
		any_vip |= c->insts[cl->insts[i]].n_vips > 0;
	if (any_vip) {
		fputs("    vips = (   # virtual_ipaddress\n", f);
		for (size_t i = 0; i < cl->n_insts; i++) {
			struct inst *in = &c->insts[cl->insts[i]];
			for (size_t v = 0; v < in->n_vips; v++)
				put_vip(c, f, in->vips[v], in->iface);
		}
		fputs("    );\n", f);
	}
	fclose(cl->svcf);
	cl->svcf = NULL;
	if (cl->n_svc) {
		fputs("    services = (   # virtual_server\n", f);
		fwrite(cl->svc, 1, cl->svc_len, f);
		fputs("    );\n", f);
	}
	fputs("  },\n", f);
	strs_free(&tif);
	strs_free(&tsc);
}

static void put_heartbeat(struct cv *c, FILE *f, FILE *diag, bool *has_peer)
{
	struct link { const char *local, *remote, *iface; kn *n; } links[MAX_LINKS];
	size_t nl = 0;
	const char *peer_name = c->o->peer_name ? c->o->peer_name : "peer";
	long advert = -1;
	int prio = 100;
	for (size_t i = 0; i < c->n_insts; i++) {
		struct inst *in = &c->insts[i];
		if (in->advert_ms >= 0 && (advert < 0 || in->advert_ms < advert)) {
			if (advert >= 0 && in->advert_ms != advert)
				note(c, in->n, "advert_int differs between instances; the smallest is the heartbeat interval");
			advert = in->advert_ms;
			prio = in->prio;
		}
		if (!in->peers)
			continue;
		kn *p = in->peers->child;
		if (!p) {
			nc(c, in->peers, "empty unicast_peer");
			continue;
		}
		for (kn *x = p->next; x; x = x->next)
			nc(c, x, "unicast_peer %s: a third director (directord pairs two)", x->argv[0]);
		if (p->argc > 1)
			note(c, p, "unicast_peer options (%s ...): not needed", p->argv[1]);
		if (!family_of(p->argv[0])) {
			nc_line(c, p, "not an address");
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < nl; k++)
			if (same_addr(links[k].remote, p->argv[0]) &&
			    ((!links[k].local && !in->src) ||
			     (links[k].local && in->src && same_addr(links[k].local, in->src))))
				dup = true;
		if (dup)
			continue;
		if (nl >= MAX_LINKS) {
			nc(c, p, "more than %d links to the peer", MAX_LINKS);
			continue;
		}
		links[nl++] = (struct link){ in->src, p->argv[0], in->iface, p };
	}
	if (!nl && c->n_insts)
		nc(c, c->insts[0].n,
		   "VRRP multicast (no unicast_peer): directord talks to its peer by unicast or a group it is given;"
		   " add heartbeat.peers with the other director's addresses");
	*has_peer = nl > 0;
	if (!nl && advert < 0)
		return;
	fputs("heartbeat = {\n", f);
	if (nl) {
		const char *key = c->o->key_file ? c->o->key_file : DD_IMPORT_DEFAULT_KEY;
		fputs("  # keepalived's VRRP has no key file. Make one on this director with\n", f);
		fprintf(f, "  #   directord --genkey %s\n", key);
		fputs("  # and copy it (mode 0600) to the other director: the same key on both.\n", f);
		put_kv(f, "  ", "key_file", key);
		fprintf(diag, "directord-import: heartbeat: run `directord --genkey %s` and copy the file (mode 0600) to the other director\n", key);
		fprintf(diag, "directord-import: heartbeat: the other director's `node` must be \"%s\" (peers.name), and its own file must name this one's node as its peer\n", peer_name);
	}
	if (advert >= 0) {
		long iv = advert < 5 ? 5 : advert > 60000 ? 60000 : advert;
		long dead = 3 * iv + iv * (256 - prio) / 256;
		if (dead > 600000)
			dead = 600000;
		fprintf(f, "  interval_ms = %ld;   # advert_int\n", iv);
		fprintf(f, "  dead_ms = %ld;   # keepalived: 3 x advert_int + skew\n", dead);
	}
	if (nl) {
		fputs("  peers = ( {\n", f);
		fputs("    # the other director's `node`: set it there, or change it here\n", f);
		put_kv(f, "    ", "name", peer_name);
		fputs("    links = (   # unicast_src_ip / unicast_peer / interface\n", f);
		for (size_t k = 0; k < nl; k++) {
			const char *local = links[k].local;
			if (!local) {
				local = family_of(links[k].remote) == AF_INET6 ? "::" : "0.0.0.0";
				nc(c, links[k].n, "unicast_peer %s without unicast_src_ip: set `local` to this director's address (placeholder %s)",
				   links[k].remote, local);
				fputs("      # PLACEHOLDER local: write this director's address on that interface\n", f);
			}
			fputs("      { local = ", f);
			put_str(f, local);
			fputs("; remote = ", f);
			put_str(f, links[k].remote);
			if (links[k].iface) {
				fputs("; interface = ", f);
				put_str(f, links[k].iface);
			}
			fputs("; },   # ", f);
			put_loc(f, links[k].n);
			fputc('\n', f);
		}
		fputs("    );\n  } );\n", f);
	}
	fputs("};\n\n", f);
}

static void put_sync(struct cv *c, FILE *f)
{
	if (!c->sync && !c->lvs_timeouts)
		return;
	fputs("sync = {\n", f);
	if (c->sync) {
		kn *n = c->sync;
		put_from(f, "  ", n);
		fputs("  enabled = true;\n", f);
		put_kv(f, "  ", "interface", n->argv[1]);
		bool id = false;
		for (int i = 3; i < n->argc; i++) {
			long v;
			if (!strcmp(n->argv[i - 1], "id") && int_arg(n->argv[i], 0, 255, &v)) {
				fprintf(f, "  syncid = %ld;\n", v);
				id = true;
			}
		}
		int in = n->argc > 2 ? find_inst(c, n->argv[2]) : -1;
		if (!id && in >= 0 && c->insts[in].vrid)
			fprintf(f, "  syncid = %d;   # keepalived: the virtual_router_id of %s\n",
				c->insts[in].vrid, c->insts[in].name);
		for (int i = 2; i < n->argc; i++) {
			if (!strcmp(n->argv[i], "id")) {
				i++;
				continue;
			}
			if (i == 2 && find_inst(c, n->argv[i]) >= 0) {
				note(c, n, "lvs_sync_daemon %s: directord runs the sync daemon for every cluster", n->argv[i]);
				continue;
			}
			nc(c, n, "lvs_sync_daemon option %s", n->argv[i]);
			if (i + 1 < n->argc)
				i++;
		}
	}
	if (c->lvs_timeouts) {
		kn *n = c->lvs_timeouts;
		put_from(f, "  ", n);
		for (int i = 1; i + 1 < n->argc; i += 2) {
			long v;
			const char *k = n->argv[i];
			if (!int_arg(n->argv[i + 1], 0, 2592000, &v) ||
			    (strcmp(k, "tcp") && strcmp(k, "tcpfin") && strcmp(k, "udp"))) {
				nc(c, n, "lvs_timeouts %s %s", k, n->argv[i + 1]);
				continue;
			}
			fprintf(f, "  %s_timeout_s = %ld;\n", k, v);
		}
	}
	fputs("};\n\n", f);
}

/* The writers end every list element with a comma; libconfig wants none
 * after the last one. Drops a comma (outside strings and comments) that
 * only blanks and comments separate from `)` or `]`. */
static void put_body(FILE *out, const char *b, size_t n)
{
	bool str = false, com = false;
	for (size_t i = 0; i < n; i++) {
		char ch = b[i];
		if (com) {
			com = ch != '\n';
		} else if (str) {
			if (ch == '\\' && i + 1 < n) {
				fputc(ch, out);
				ch = b[++i];
			} else if (ch == '"') {
				str = false;
			}
		} else if (ch == '"') {
			str = true;
		} else if (ch == '#') {
			com = true;
		} else if (ch == ',') {
			size_t j = i + 1;
			for (;;) {
				while (j < n && isspace((unsigned char)b[j]))
					j++;
				if (j < n && b[j] == '#') {
					while (j < n && b[j] != '\n')
						j++;
					continue;
				}
				break;
			}
			if (j < n && (b[j] == ')' || b[j] == ']'))
				continue;
		}
		fputc(ch, out);
	}
}

int dd_import_keepalived(const struct ka_doc *doc, const struct dd_import_opts *o,
			 FILE *out, FILE *diag)
{
	struct cv c;
	memset(&c, 0, sizeof c);
	c.o = o;
	c.g_garp_repeat = c.g_garp_refresh_ms = c.g_garp_interval_ms = -1;

	for (kn *n = doc->root; n; n = n->next) {
		if (is(n, "global_defs"))
			rd_global(&c, n);
		else if (is(n, "vrrp_script")) {
			if (n->argc < 2 || !n->has_block) {
				nc_line(&c, n, "no name or block");
				continue;
			}
			c.scripts = xrealloc(c.scripts, (c.n_scripts + 1) * sizeof *c.scripts);
			c.scripts[c.n_scripts++] = n;
		} else if (is(n, "vrrp_instance"))
			rd_instance(&c, n);
		else if (is(n, "vrrp_sync_group"))
			rd_group(&c, n);
		else if (is(n, "virtual_server_group"))
			rd_vsg(&c, n);
		else if (!is(n, "virtual_server"))
			nc_line(&c, n, NULL);
	}
	make_clusters(&c);
	for (kn *n = doc->root; n; n = n->next)
		if (is(n, "virtual_server"))
			rd_vs(&c, n);

	char *body = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&body, &blen);
	if (!f)
		abort();
	const char *node = o->node;
	if (node) {
		put_kv(f, "", "node", node);
	} else if (c.router_id) {
		put_from(f, "", c.router_id);
		char *nm = clean_name(c.router_id->argv[1]);
		put_kv(f, "", "node", nm);
		free(nm);
	} else {
		fputs("# node: no router_id; directord uses the host name\n", f);
	}
	fputc('\n', f);
	if (c.script_user) {
		put_from(f, "", c.script_user);
		fputs("scripts = {\n", f);
		put_kv(f, "  ", "user", c.script_user->argv[1]);
		if (c.script_user->argc > 2)
			put_kv(f, "  ", "group", c.script_user->argv[2]);
		fputs("};\n\n", f);
	}
	bool has_peer = false;
	put_heartbeat(&c, f, diag, &has_peer);
	put_sync(&c, f);
	put_scripts(&c, f);
	if (c.n_cl) {
		fputs("clusters = (\n", f);
		for (size_t k = 0; k < c.n_cl; k++)
			put_cluster(&c, f, &c.cl[k]);
		fputs(");\n", f);
	}
	fclose(f);

	char *src = safe_name(doc->n_files ? doc->files[0] : "?");
	fprintf(out, "# directord.conf converted by directord-import from %s\n", src);
	free(src);
	fputs("# Check it with `directord -t -f FILE`; see directord.conf(5).\n", out);
	size_t n_missing = 0;
	for (size_t i = 0; i < c.n_notes; i++)
		n_missing += c.notes[i].missing;
	if (n_missing) {
		fprintf(out, "# %zu thing%s had no equivalent:\n", n_missing, n_missing == 1 ? "" : "s");
		for (size_t i = 0; i < c.n_notes; i++)
			if (c.notes[i].missing) {
				fprintf(out, "# not converted: %s:%d: %s\n", c.notes[i].file, c.notes[i].line,
					c.notes[i].what);
				fprintf(diag, "%s:%d: not converted: %s\n", c.notes[i].file, c.notes[i].line,
					c.notes[i].what);
			}
	} else {
		fputs("# Everything was converted.\n", out);
	}
	for (size_t i = 0; i < c.n_notes; i++)
		if (!c.notes[i].missing)
			fprintf(out, "# note: %s:%d: %s\n", c.notes[i].file, c.notes[i].line, c.notes[i].what);
	fputc('\n', out);
	put_body(out, body, blen);
	free(body);

	for (size_t i = 0; i < c.n_notes; i++) {
		free(c.notes[i].what);
		free(c.notes[i].file);
	}
	free(c.notes);
	for (size_t i = 0; i < c.n_insts; i++) {
		free(c.insts[i].name);
		strs_free(&c.insts[i].track_if);
		strs_free(&c.insts[i].track_sc);
	}
	free(c.insts);
	for (size_t i = 0; i < c.n_groups; i++) {
		free(c.groups[i].name);
		strs_free(&c.groups[i].members);
		strs_free(&c.groups[i].track_if);
		strs_free(&c.groups[i].track_sc);
	}
	free(c.groups);
	free(c.scripts);
	for (size_t i = 0; i < c.n_vsgs; i++)
		free(c.vsgs[i].e);
	free(c.vsgs);
	for (size_t k = 0; k < c.n_cl; k++) {
		if (c.cl[k].svcf)
			fclose(c.cl[k].svcf);
		free(c.cl[k].svc);
		free(c.cl[k].name);
	}
	(void)has_peer;
	return c.missing ? 1 : 0;
}
