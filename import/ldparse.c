/* SPDX-License-Identifier: GPL-2.0-or-later */
/* import/ldparse.c: ldirectord.cf read into the tree kaparse.h describes,
 * as the keepalived keywords that mean the same (virtual= becomes a
 * virtual_server block, real= a real_server with the checker its
 * checktype and service ask for), so that one converter serves both.
 * Every node keeps the ldirectord file:line; an option with no keepalived
 * spelling stays as its own `key=value` line, which the converter reports
 * as not converted. Runs in directord-import's only thread. */
#include "config.h"
#include "import/kaparse.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define LD_MAX_FILE (16u << 20)
#define LD_MAX_VIRTUALS 4096

enum { O_CHECKTYPE, O_SERVICE, O_REQUEST, O_RECEIVE, O_VHOST, O_SCHED, O_PERSIST, O_NETMASK,
       O_PROTO, O_CHECKPORT, O_INTERVAL, O_CTIMEOUT, O_NTIMEOUT, O_FAILCOUNT, O_QUIESCENT,
       O_FALLBACK, O_CHECKCMD, O_N };
static const char *const opt_name[O_N] = {
	"checktype", "service", "request", "receive", "virtualhost", "scheduler", "persistent",
	"netmask", "protocol", "checkport", "checkinterval", "checktimeout", "negotiatetimeout",
	"failurecount", "quiescent", "fallback", "checkcommand",
};

/* The options of one virtual (or the global defaults), with their lines. */
struct ldv {
	int line;               /* of virtual= */
	char *addr, *port;      /* or addr = mark and port = NULL for fwm */
	char *opt[O_N];
	int opt_line[O_N];
	struct { char *text; int line; } *reals, *other;
	size_t n_reals, n_other;
};

static struct ka_node *node(struct ka_node ***tail, const char *file, int line, int argc, ...)
{
	struct ka_node *n = xcalloc(1, sizeof *n);
	n->file = file;
	n->line = line;
	n->argc = argc;
	n->argv = xcalloc((size_t)argc + 1, sizeof *n->argv);
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		n->argv[i] = xstrdup(va_arg(ap, const char *));
	va_end(ap);
	**tail = n;
	*tail = &n->next;
	return n;
}

static struct ka_node **block(struct ka_node *n)
{
	n->has_block = 1;
	return &n->child;
}

static const char *opt(const struct ldv *v, const struct ldv *g, int o, int *line)
{
	if (v->opt[o]) {
		*line = v->opt_line[o];
		return v->opt[o];
	}
	*line = g->opt_line[o] ? g->opt_line[o] : v->line;
	return g->opt[o];
}

/* "IP:PORT", "[IPv6]:PORT" or "IP" into its parts (malloc'd). */
static void split_hostport(const char *s, char **host, char **port)
{
	const char *c;
	if (s[0] == '[' && (c = strchr(s, ']'))) {
		*host = xmalloc((size_t)(c - s));
		memcpy(*host, s + 1, (size_t)(c - s - 1));
		(*host)[c - s - 1] = '\0';
		*port = xstrdup(c[1] == ':' ? c + 2 : "");
		return;
	}
	c = strrchr(s, ':');
	if (c && strchr(s, ':') == c) {
		*host = xmalloc((size_t)(c - s) + 1);
		memcpy(*host, s, (size_t)(c - s));
		(*host)[c - s] = '\0';
		*port = xstrdup(c + 1);
	} else {
		*host = xstrdup(s);
		*port = xstrdup("");
	}
}

static const char *method_kw(const char *m)
{
	if (!strcmp(m, "gate"))
		return "DR";
	if (!strcmp(m, "masq"))
		return "NAT";
	if (!strcmp(m, "ipip"))
		return "TUN";
	return NULL;
}

/* Words of a real= value: address, method, weight, "request", "receive". */
static int words(const char *s, char out[5][256])
{
	int n = 0;
	while (*s && n < 5) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!*s)
			break;
		size_t l = 0;
		if (*s == '"') {
			s++;
			while (*s && *s != '"' && l < 255)
				out[n][l++] = *s++;
			if (*s == '"')
				s++;
		} else {
			while (*s && *s != ' ' && *s != '\t' && *s != ',' && l < 255)
				out[n][l++] = *s++;
		}
		out[n++][l] = '\0';
	}
	return n;
}

/* The checker of one real server, as keepalived would spell it. */
static void checker(struct ka_node ***tail, const char *file, const struct ldv *v,
		    const struct ldv *g, int rline, const char *req, const char *recv)
{
	int l;
	const char *ct = opt(v, g, O_CHECKTYPE, &l);
	const char *svc = opt(v, g, O_SERVICE, &l);
	int ctl = l;
	if (!ct)
		ct = "negotiate";
	if (!svc)
		svc = "none";
	if (!strcmp(ct, "none") || !strcmp(ct, "off") || !strcmp(ct, "on"))
		return;
	if (!strcmp(ct, "external")) {
		const char *cmd = opt(v, g, O_CHECKCMD, &l);
		struct ka_node *ck = node(tail, file, ctl, 1, "MISC_CHECK");
		struct ka_node **mt = block(ck);
		if (cmd)
			node(&mt, file, l, 2, "misc_path", cmd);
		const char *s = opt(v, g, O_INTERVAL, &l);
		node(&mt, file, l, 2, "delay_loop", s ? s : "10");
		s = opt(v, g, O_CTIMEOUT, &l);
		node(&mt, file, l, 2, "misc_timeout", s ? s : "5");
		return;
	}
	const char *kind;
	bool negotiate = !strcmp(ct, "negotiate") || !strcmp(ct, "negotiate_connect");
	if (!strcmp(ct, "connect") || (negotiate && !strcmp(svc, "none")))
		kind = "TCP_CHECK";
	else if (negotiate && !strcmp(svc, "http"))
		kind = "HTTP_GET";
	else if (negotiate && !strcmp(svc, "https"))
		kind = "SSL_GET";
	else if (negotiate && !strcmp(svc, "dns"))
		kind = "DNS_CHECK";
	else if (!strcmp(ct, "ping"))
		kind = "PING_CHECK";
	else if (negotiate) {
		char t[300];
		snprintf(t, sizeof t, "service=%s", svc);
		/* An unknown checker keyword: the converter reports it, and the
		 * real server keeps a TCP check. */
		node(tail, file, ctl, 1, t);
		kind = "TCP_CHECK";
	} else {
		char t[300];
		snprintf(t, sizeof t, "checktype=%s", ct);
		node(tail, file, ctl, 1, t);
		return;
	}
	struct ka_node *ck = node(tail, file, rline, 1, kind);
	struct ka_node **ct_tail = block(ck);
	const char *s;
	s = opt(v, g, O_INTERVAL, &l);
	node(&ct_tail, file, l, 2, "delay_loop", s ? s : "10");
	s = opt(v, g, negotiate ? O_NTIMEOUT : O_CTIMEOUT, &l);
	if (!s && negotiate)
		s = opt(v, g, O_CTIMEOUT, &l);
	node(&ct_tail, file, l, 2, "connect_timeout", s ? s : negotiate ? "30" : "5");
	s = opt(v, g, O_FAILCOUNT, &l);
	long fc = s ? strtol(s, NULL, 10) : 1;
	char r[24];
	snprintf(r, sizeof r, "%ld", fc > 1 ? fc - 1 : 0);
	node(&ct_tail, file, l, 2, "retry", r);
	s = opt(v, g, O_CHECKPORT, &l);
	if (s)
		node(&ct_tail, file, l, 2, "connect_port", s);
	if (!strcmp(kind, "HTTP_GET") || !strcmp(kind, "SSL_GET")) {
		const char *rq = req ? req : opt(v, g, O_REQUEST, &l);
		int rql = req ? rline : l;
		const char *rc = recv ? recv : opt(v, g, O_RECEIVE, &l);
		int rcl = recv ? rline : l;
		struct ka_node *u = node(&ct_tail, file, rql, 1, "url");
		struct ka_node **ut = block(u);
		char path[300];
		snprintf(path, sizeof path, "%s%s", rq && rq[0] == '/' ? "" : "/", rq ? rq : "");
		node(&ut, file, rql, 2, "path", path);
		node(&ut, file, rql, 2, "status_code", "200-299");
		if (rc)
			node(&ut, file, rcl, 2, "body_match", rc);
		s = opt(v, g, O_VHOST, &l);
		if (s)
			node(&ct_tail, file, l, 2, "virtualhost", s);
	} else if (!strcmp(kind, "DNS_CHECK")) {
		const char *rq = req ? req : opt(v, g, O_REQUEST, &l);
		node(&ct_tail, file, req ? rline : l, 2, "type", "A");
		if (rq)
			node(&ct_tail, file, req ? rline : l, 2, "name", rq);
	}
}

static void emit_virtual(struct ka_doc *d, struct ka_node ***tail, const char *file,
			 struct ldv *v, const struct ldv *g)
{
	int l;
	struct ka_node *vs;
	const char *proto = opt(v, g, O_PROTO, &l);
	if (!v->port)
		vs = node(tail, file, v->line, 3, "virtual_server", "fwmark", v->addr);
	else
		vs = node(tail, file, v->line, 3, "virtual_server", v->addr, v->port);
	struct ka_node **t = block(vs);
	(void)d;
	const char *s = opt(v, g, O_SCHED, &l);
	node(&t, file, l, 2, "lb_algo", s ? s : "wrr");
	if (v->port) {
		char up[16];
		snprintf(up, sizeof up, "%s", proto ? proto : "tcp");
		for (char *p = up; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		node(&t, file, proto ? l : v->line, 2, "protocol", up);
	}
	/* The first real server's method is the service's. */
	const char *fw = "DR";
	for (size_t i = 0; i < v->n_reals; i++) {
		char w[5][256];
		int n = words(v->reals[i].text, w);
		if (n >= 2 && method_kw(w[1])) {
			fw = method_kw(w[1]);
			break;
		}
	}
	node(&t, file, v->line, 2, "lb_kind", fw);
	s = opt(v, g, O_PERSIST, &l);
	if (s)
		node(&t, file, l, 2, "persistence_timeout", s);
	s = opt(v, g, O_NETMASK, &l);
	if (s)
		node(&t, file, l, 2, "persistence_granularity", s);
	s = opt(v, g, O_QUIESCENT, &l);
	if (!s || !strcmp(s, "yes"))
		node(&t, file, l, 1, "inhibit_on_failure");
	s = opt(v, g, O_FALLBACK, &l);
	if (s) {
		char w[5][256];
		int n = words(s, w);
		char *h, *p;
		split_hostport(n ? w[0] : s, &h, &p);
		if (p[0])
			node(&t, file, l, 3, "sorry_server", h, p);
		else
			node(&t, file, l, 2, "sorry_server", h);
		free(h);
		free(p);
	}
	for (size_t i = 0; i < v->n_other; i++)
		node(&t, file, v->other[i].line, 1, v->other[i].text);
	for (size_t i = 0; i < v->n_reals; i++) {
		char w[5][256];
		int n = words(v->reals[i].text, w);
		int rl = v->reals[i].line;
		if (!n || strstr(w[0], "->")) {
			char txt[300];
			snprintf(txt, sizeof txt, "real=%s", v->reals[i].text);
			node(&t, file, rl, 1, txt);
			continue;
		}
		char *h, *p;
		split_hostport(w[0], &h, &p);
		struct ka_node *rs = p[0] ? node(&t, file, rl, 3, "real_server", h, p)
					  : node(&t, file, rl, 2, "real_server", h);
		free(h);
		free(p);
		struct ka_node **rt = block(rs);
		int k = 1;
		if (n > k && method_kw(w[k]))
			node(&rt, file, rl, 2, "lvs_method", method_kw(w[k++]));
		if (n > k && isdigit((unsigned char)w[k][0]))
			node(&rt, file, rl, 2, "weight", w[k++]);
		const char *req = n > k ? w[k++] : NULL;
		const char *rcv = n > k ? w[k++] : NULL;
		checker(&rt, file, v, g, rl, req, rcv);
	}
}

static void ldv_free(struct ldv *v)
{
	free(v->addr);
	free(v->port);
	for (int i = 0; i < O_N; i++)
		free(v->opt[i]);
	for (size_t i = 0; i < v->n_reals; i++)
		free(v->reals[i].text);
	for (size_t i = 0; i < v->n_other; i++)
		free(v->other[i].text);
	free(v->reals);
	free(v->other);
	memset(v, 0, sizeof *v);
}

struct ka_doc *ld_parse_buf(const char *text, size_t len, const char *name, char **err)
{
	struct ka_doc *d = xcalloc(1, sizeof *d);
	d->files = xcalloc(1, sizeof *d->files);
	d->files[0] = xstrdup(name);
	d->n_files = 1;
	const char *file = d->files[0];
	struct ka_node **tail = &d->root;
	struct ldv g = { 0 }, v = { 0 };
	bool in_v = false;
	size_t n_v = 0;
	int line = 0;
	char *buf = NULL;
	for (size_t i = 0; i < len;) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		line++;
		size_t l = e - i;
		buf = xrealloc(buf, l + 1);
		memcpy(buf, text + i, l);
		buf[l] = '\0';
		i = e + 1;
		if (memchr(buf, '\0', l)) {
			dd_seterr(err, "%s:%d: NUL byte in the line", name, line);
			goto fail;
		}
		bool indented = buf[0] == ' ' || buf[0] == '\t';
		char *s = buf + strspn(buf, " \t");
		char *hash = strchr(s, '#');
		if (hash)
			*hash = '\0';
		size_t sl = strlen(s);
		while (sl && isspace((unsigned char)s[sl - 1]))
			s[--sl] = '\0';
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			dd_seterr(err, "%s:%d: not key=value: %.60s", name, line, s);
			goto fail;
		}
		*eq = '\0';
		char *key = s, *val = eq + 1;
		size_t kl = strlen(key);
		while (kl && isspace((unsigned char)key[kl - 1]))
			key[--kl] = '\0';
		val += strspn(val, " \t");
		if (in_v && !indented) {
			emit_virtual(d, &tail, file, &v, &g);
			ldv_free(&v);
			in_v = false;
		}
		if (!strcmp(key, "virtual")) {
			if (indented) {
				dd_seterr(err, "%s:%d: virtual= must not be indented", name, line);
				goto fail;
			}
			if (++n_v > LD_MAX_VIRTUALS) {
				dd_seterr(err, "%s:%d: too many virtual services", name, line);
				goto fail;
			}
			in_v = true;
			v.line = line;
			if (val[0] && strspn(val, "0123456789") == strlen(val)) {
				v.addr = xstrdup(val);
			} else {
				split_hostport(val, &v.addr, &v.port);
				if (!v.port[0]) {
					free(v.port);
					v.port = xstrdup("0");
				}
			}
			continue;
		}
		struct ldv *t = in_v ? &v : &g;
		if (in_v && !strcmp(key, "real")) {
			v.reals = xrealloc(v.reals, (v.n_reals + 1) * sizeof *v.reals);
			v.reals[v.n_reals].text = xstrdup(val);
			v.reals[v.n_reals++].line = line;
			continue;
		}
		int o = -1;
		for (int k = 0; k < O_N; k++)
			if (!strcmp(key, opt_name[k]) || (k == O_CTIMEOUT && !strcmp(key, "connecttimeout")))
				o = k;
		if (o >= 0) {
			char *vv = xstrdup(val);
			size_t vl = strlen(vv);
			if (vl >= 2 && vv[0] == '"' && vv[vl - 1] == '"') {
				memmove(vv, vv + 1, vl - 2);
				vv[vl - 2] = '\0';
			}
			free(t->opt[o]);
			t->opt[o] = vv;
			t->opt_line[o] = line;
			continue;
		}
		/* No keepalived spelling: the converter names it. */
		char txt[300];
		snprintf(txt, sizeof txt, "%s=%.200s", key, val);
		if (in_v) {
			v.other = xrealloc(v.other, (v.n_other + 1) * sizeof *v.other);
			v.other[v.n_other].text = xstrdup(txt);
			v.other[v.n_other++].line = line;
		} else {
			node(&tail, file, line, 1, txt);
		}
	}
	if (in_v)
		emit_virtual(d, &tail, file, &v, &g);
	ldv_free(&v);
	ldv_free(&g);
	free(buf);
	return d;
fail:
	ldv_free(&v);
	ldv_free(&g);
	free(buf);
	ka_doc_free(d);
	return NULL;
}

struct ka_doc *ld_parse_file(const char *path, char **err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		dd_seterr(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *text = xmalloc(LD_MAX_FILE + 1);
	size_t len = fread(text, 1, LD_MAX_FILE + 1, f);
	bool bad = ferror(f) || len > LD_MAX_FILE;
	fclose(f);
	struct ka_doc *d = NULL;
	if (bad)
		dd_seterr(err, "%s: read error or larger than 16 MiB", path);
	else
		d = ld_parse_buf(text, len, path, err);
	free(text);
	return d;
}
