/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conf/load.c: read a libconfig file into a struct dd_config and validate
 * it, collecting every error as "FILE:LINE: message" instead of stopping at
 * the first, so `directord -t` shows them all at once.
 *
 * Runs in whichever thread calls it (main at start-up and on reload); no
 * state outside the loader context on the stack. The input is untrusted
 * (fuzzed): every value is type- and range-checked before it is used.
 */
#include "config.h"
#include "conf/conf_int.h"
#include "conf/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <libconfig.h>
#include <openssl/crypto.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/util.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

typedef const config_setting_t cs_t;

struct ld {
	struct dd_conf_errors *errs;
	const char *file;       /* name used in messages */
	char *dir;              /* where relative paths resolve; NULL: cwd */
	struct dd_config *c;
	/* Uniqueness across the file (conf/seen.c): VIPs, service names,
	 * service keys. */
	struct dd_seen vips, svc_names, svc_keys;
	/* No scripts.user and no user nobody: an error at the first script. */
	bool no_script_user;
};

/* ---- errors ---------------------------------------------------------- */

/* libconfig names an included file as written in @include, relative to
 * the main file's directory: name it as the user can open it. */
static char *error_file(const struct ld *ld, const char *file)
{
	if (!file)
		return xstrdup(ld->file);
	const char *slash = strrchr(ld->file, '/');
	if (file[0] == '/' || !slash || strcmp(file, ld->file) == 0)
		return xstrdup(file);
	size_t n = (size_t)(slash - ld->file) + strlen(file) + 2;
	char *p = xmalloc(n);
	snprintf(p, n, "%.*s/%s", (int)(slash - ld->file), ld->file, file);
	return p;
}

static void add_error(struct ld *ld, const char *file, int line, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static void add_error(struct ld *ld, const char *file, int line, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	struct dd_conf_errors *e = ld->errs;
	e->v = xrealloc(e->v, (e->n + 1) * sizeof *e->v);
	e->v[e->n].file = error_file(ld, file);
	e->v[e->n].line = line;
	e->v[e->n].msg = xstrdup(msg);
	e->n++;
}

static void errl(struct ld *ld, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void errl(struct ld *ld, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_error(ld, NULL, line, fmt, ap);
	va_end(ap);
}

/* An error about setting `s`: its own file (includes) and line. */
static void err(struct ld *ld, cs_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err(struct ld *ld, cs_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_error(ld, s ? config_setting_source_file(s) : NULL,
		  s ? (int)config_setting_source_line(s) : 0, fmt, ap);
	va_end(ap);
}

/* ---- typed readers ----------------------------------------------------
 * Each returns 0 when the key is absent (output untouched), 1 when it was
 * read and is valid, -1 after reporting an error. */

static cs_t *member(cs_t *g, const char *key)
{
	return g ? config_setting_get_member(g, key) : NULL;
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* Report keys that `keys` does not list. `where` completes "in ..." */
static void check_keys(struct ld *ld, cs_t *g, const char *where, const char *const *keys)
{
	if (!g)
		return;
	for (int i = 0; i < config_setting_length(g); i++) {
		cs_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		if (name && !in_list(keys, name))
			err(ld, s, "unknown key '%s' %s", name, where);
	}
}

static int rd_int(struct ld *ld, cs_t *g, const char *key, long long min,
		  long long max, long long *out)
{
	cs_t *s = member(g, key);
	if (!s)
		return 0;
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
		err(ld, s, "%s must be an integer", key);
		return -1;
	}
	long long v = config_setting_get_int64(s);
	if (v < min || v > max) {
		err(ld, s, "%s %lld is out of range (%lld..%lld)", key, v, min, max);
		return -1;
	}
	*out = v;
	return 1;
}

static int rd_u32(struct ld *ld, cs_t *g, const char *key, long long min,
		  long long max, uint32_t *out)
{
	long long v;
	int r = rd_int(ld, g, key, min, max, &v);
	if (r == 1)
		*out = (uint32_t)v;
	return r;
}

static int rd_u16(struct ld *ld, cs_t *g, const char *key, long long min,
		  long long max, uint16_t *out)
{
	long long v;
	int r = rd_int(ld, g, key, min, max, &v);
	if (r == 1)
		*out = (uint16_t)v;
	return r;
}

static int rd_bool(struct ld *ld, cs_t *g, const char *key, bool *out)
{
	cs_t *s = member(g, key);
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		err(ld, s, "%s must be true or false", key);
		return -1;
	}
	*out = config_setting_get_bool(s) != 0;
	return 1;
}

/* A string without control characters (they would break log lines, HTTP
 * requests and the printed form), in UTF-8: strings are echoed into the
 * JSON of directorctl and the metrics, which cannot carry anything else. */
static int rd_str(struct ld *ld, cs_t *g, const char *key, const char **out)
{
	cs_t *s = member(g, key);
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err(ld, s, "%s must be a string", key);
		return -1;
	}
	const char *v = config_setting_get_string(s);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			err(ld, s, "%s contains a control character", key);
			return -1;
		}
	if (strlen(v) > 4096) {
		err(ld, s, "%s is too long (at most 4096 characters)", key);
		return -1;
	}
	if (!dd_utf8_valid(v)) {
		err(ld, s, "%s is not valid UTF-8", key);
		return -1;
	}
	*out = v;
	return 1;
}

/* A malloc'd string. An optional key treats "" as unset (the printer
 * writes unset optional keys as ""); a required one rejects "". */
static int rd_strdup(struct ld *ld, cs_t *g, const char *key, bool optional, char **out)
{
	const char *v;
	int r = rd_str(ld, g, key, &v);
	if (r != 1)
		return r;
	if (!*v && !optional) {
		err(ld, member(g, key), "%s must not be empty", key);
		return -1;
	}
	free(*out);
	*out = *v ? xstrdup(v) : NULL;
	return 1;
}

/* Names end up in logs, metrics labels, the control protocol and the
 * heartbeat wire (which takes 1..63 printable bytes without spaces):
 * printable ASCII without blanks or quotes. */
static bool name_chars_ok(const char *v)
{
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\'' || *p == '\\')
			return false;
	return true;
}

static int rd_name(struct ld *ld, cs_t *g, const char *key, char buf[DD_NAME_MAX])
{
	const char *v;
	int r = rd_str(ld, g, key, &v);
	if (r != 1)
		return r;
	cs_t *s = member(g, key);
	if (!*v) {
		err(ld, s, "%s must not be empty", key);
		return -1;
	}
	if (strlen(v) >= DD_NAME_MAX) {
		err(ld, s, "%s '%s' is too long (at most %d characters)", key, v, DD_NAME_MAX - 1);
		return -1;
	}
	if (!name_chars_ok(v)) {
		err(ld, s, "%s '%s' must be printable ASCII without blanks, quotes or backslashes", key, v);
		return -1;
	}
	snprintf(buf, DD_NAME_MAX, "%s", v);
	return 1;
}

static bool ifname_ok(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 15 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
		return false;
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == '/' || *p == ':')
			return false;
	return true;
}

static int rd_ifname(struct ld *ld, cs_t *g, const char *key, bool optional, char buf[16])
{
	const char *v;
	int r = rd_str(ld, g, key, &v);
	if (r != 1)
		return r;
	if (!*v && optional) {
		buf[0] = '\0';
		return 1;
	}
	if (!ifname_ok(v)) {
		err(ld, member(g, key), "%s '%s' is not an interface name", key, v);
		return -1;
	}
	snprintf(buf, 16, "%s", v);
	return 1;
}

/* Name tables are NULL-terminated; a key may accept only the first n
 * names of one (protocol takes no "fwmark"), or all of them. */
#define ALL_NAMES SIZE_MAX

/* "a, b, c" from the first n names. */
static void join_names(const char *const *names, size_t n, char *list, size_t sz)
{
	size_t len = 0;
	list[0] = '\0';
	for (size_t i = 0; i < n && names[i]; i++) {
		int w = snprintf(list + len, sz - len, "%s%s", len ? ", " : "", names[i]);
		if (w < 0 || (size_t)w >= sz - len)
			break;
		len += (size_t)w;
	}
}

/* Report "KEY 'v' is not one of a, b, c". */
static void err_enum(struct ld *ld, cs_t *s, const char *key, const char *v,
		     const char *const *names, size_t n)
{
	char list[256];
	join_names(names, n, list, sizeof list);
	err(ld, s, "%s '%s' is not one of %s", key, v, list);
}

/* `out` gets the name's index, which is the enum value for conf/ tables. */
static int rd_enum(struct ld *ld, cs_t *g, const char *key,
		   const char *const *names, size_t n, int *out)
{
	const char *v;
	int r = rd_str(ld, g, key, &v);
	if (r != 1)
		return r;
	int i = dd_name_index(names, v);
	if (i >= 0 && (size_t)i < n) {
		*out = i;
		return 1;
	}
	err_enum(ld, member(g, key), key, v, names, n);
	return -1;
}

static int rd_addr(struct ld *ld, cs_t *g, const char *key, bool optional,
		   struct dd_addr *out)
{
	const char *v;
	int r = rd_str(ld, g, key, &v);
	if (r != 1)
		return r;
	if (!*v && optional) {
		memset(out, 0, sizeof *out);
		return 1;
	}
	if (!dd_addr_parse(v, out)) {
		err(ld, member(g, key), "%s '%s' is not an IP address", key, v);
		return -1;
	}
	return 1;
}

static cs_t *rd_group(struct ld *ld, cs_t *g, const char *key)
{
	cs_t *s = member(g, key);
	if (s && !config_setting_is_group(s)) {
		err(ld, s, "%s must be a group { ... }", key);
		return NULL;
	}
	return s;
}

/* Lists of groups: ( { ... }, { ... } ). An empty [] is accepted too. */
static cs_t *rd_list(struct ld *ld, cs_t *g, const char *key)
{
	cs_t *s = member(g, key);
	if (!s)
		return NULL;
	if (config_setting_is_list(s) ||
	    (config_setting_is_array(s) && config_setting_length(s) == 0))
		return s;
	err(ld, s, "%s must be a list ( { ... }, ... )", key);
	return NULL;
}

/* Lists of scalars: [ a, b ] or ( a, b ). */
static cs_t *rd_scalars(struct ld *ld, cs_t *g, const char *key)
{
	cs_t *s = member(g, key);
	if (!s)
		return NULL;
	if (config_setting_is_list(s) || config_setting_is_array(s))
		return s;
	err(ld, s, "%s must be a list [ ... ]", key);
	return NULL;
}

/* Element i of a list of groups, or NULL after reporting it is not one. */
static cs_t *list_group(struct ld *ld, cs_t *list, int i, const char *what)
{
	cs_t *e = config_setting_get_elem(list, (unsigned)i);
	if (!config_setting_is_group(e)) {
		err(ld, e, "%s must be a group { ... }", what);
		return NULL;
	}
	return e;
}

static char *join_dir(const char *dir, const char *path)
{
	if (path[0] == '/' || !dir)
		return xstrdup(path);
	size_t n = strlen(dir) + strlen(path) + 2;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/%s", dir, path);
	return p;
}

/* Relative paths resolve against the config file's directory, so a config
 * and its key can move together. */
static int rd_path(struct ld *ld, cs_t *g, const char *key, bool optional, char **out)
{
	char *v = NULL;
	int r = rd_strdup(ld, g, key, optional, &v);
	if (r != 1)
		return r;
	free(*out);
	*out = v ? join_dir(ld->dir, v) : NULL;
	free(v);
	return 1;
}

/* ---- scripts, logging, control --------------------------------------- */

/* Who runs notify commands and exec checks (keepalived's script_user).
 * As root, a flaw in a check script, or anyone who can edit one, acts as
 * root; so the default is nobody (keepalived's is keepalived_script) and
 * root must be asked for. */
static void load_scripts(struct ld *ld, cs_t *root)
{
	struct dd_scripts *sc = &ld->c->scripts;
	cs_t *g = rd_group(ld, root, "scripts");
	char *user = NULL, *group = NULL;
	if (g) {
		sc->line = (int)config_setting_source_line(g);
		check_keys(ld, g, "in scripts", dd_keys_scripts);
		rd_strdup(ld, g, "user", true, &user);
		rd_strdup(ld, g, "group", true, &group);
	}
	const struct passwd *pw = getpwnam(user ? user : "nobody");
	if (!pw) {
		if (user)
			err(ld, member(g, "user"), "user '%s' does not exist", user);
		else
			ld->no_script_user = true;
		free(user);
		free(group);
		return;
	}
	sc->user = xstrdup(pw->pw_name);
	sc->uid = (uint32_t)pw->pw_uid;
	sc->gid = (uint32_t)pw->pw_gid;
	const struct group *gr = NULL;
	if (group) {
		if (!(gr = getgrnam(group)))
			err(ld, member(g, "group"), "group '%s' does not exist", group);
	} else if (!user) {
		gr = getgrnam("nogroup");
	}
	if (!gr)
		gr = getgrgid(pw->pw_gid);
	if (gr) {
		sc->group = xstrdup(gr->gr_name);
		sc->gid = (uint32_t)gr->gr_gid;
	}
	free(user);
	free(group);
}

/* A command the daemon will run as the script user: refused now, with
 * its line, if lib/spawn.c would refuse it then. */
static void check_script(struct ld *ld, cs_t *s, const char *command)
{
	if (ld->no_script_user) {
		err(ld, s, "scripts run as user nobody unless scripts.user says otherwise, and there is "
		    "no user nobody: set scripts.user (\"root\" to run them as root)");
		ld->no_script_user = false;
	}
	char *msg = NULL;
	if (dd_script_check(command, ld->c->scripts.uid, &msg) < 0)
		err(ld, s, "%s", msg);
	free(msg);
}

static void load_logging(struct ld *ld, cs_t *root)
{
	struct dd_alerting *a = &ld->c->alert;
	a->syslog_facility = LOG_DAEMON;
	a->log_level = LOG_INFO;
	a->notify_timeout_ms = 10000;
	cs_t *g = rd_group(ld, root, "logging");
	if (!g)
		return;
	check_keys(ld, g, "in logging", dd_keys_logging);
	/* lib/log.c owns these names; the file must spell them exactly. */
	int i;
	if (rd_enum(ld, g, "facility", dlog_facility_names, ALL_NAMES, &i) == 1)
		a->syslog_facility = dlog_facility_from_name(dlog_facility_names[i]);
	if (rd_enum(ld, g, "level", dlog_level_names, ALL_NAMES, &i) == 1)
		a->log_level = dlog_level_from_name(dlog_level_names[i]);
	if (rd_strdup(ld, g, "notify", true, &a->notify) == 1 && a->notify)
		check_script(ld, member(g, "notify"), a->notify);
	rd_u32(ld, g, "notify_timeout_ms", 100, 3600000, &a->notify_timeout_ms);
}

/* "IP:PORT" or "[IPv6]:PORT" */
static bool hostport_ok(const char *v)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	if (v[0] == '[') {
		const char *end = strchr(v, ']');
		if (!end || end[1] != ':' || (size_t)(end - v - 1) >= sizeof host)
			return false;
		memcpy(host, v + 1, (size_t)(end - v - 1));
		host[end - v - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || (size_t)(colon - v) >= sizeof host)
			return false;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
	}
	struct dd_addr a;
	if (!dd_addr_parse(host, &a) || (v[0] == '[') != (a.family == AF_INET6))
		return false;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	return colon[1] >= '0' && colon[1] <= '9' && !*end && !errno && p >= 1 && p <= 65535;
}

static void load_control(struct ld *ld, cs_t *root)
{
	struct dd_control *c = &ld->c->control;
	c->socket_path = xstrdup(RUNSTATEDIR "/directord.sock");
	c->mode = 0660;
	c->max_clients = 32;
	c->max_clients_per_uid = 8;
	c->metrics_max_clients = 16;
	cs_t *g = rd_group(ld, root, "control");
	if (!g)
		return;
	check_keys(ld, g, "in control", dd_keys_control);
	rd_path(ld, g, "socket", false, &c->socket_path);
	if (rd_strdup(ld, g, "group", true, &c->group) == 1 && c->group) {
		if (!getgrnam(c->group))
			err(ld, member(g, "group"), "group '%s' does not exist", c->group);
	}
	cs_t *m = member(g, "mode");
	const char *v;
	if (m && config_setting_type(m) != CONFIG_TYPE_STRING) {
		err(ld, m, "mode must be an octal string such as \"0660\"");
	} else if (rd_str(ld, g, "mode", &v) == 1) {
		char *end;
		long mode = strtol(v, &end, 8);
		if (!*v || *end || mode < 0 || mode > 0777 || v[0] == '-' || v[0] == '+')
			err(ld, m, "mode '%s' is not an octal mode (0000..0777)", v);
		else
			c->mode = (uint32_t)mode;
	}
	if (rd_strdup(ld, g, "metrics_listen", true, &c->metrics_listen) == 1 &&
	    c->metrics_listen && !hostport_ok(c->metrics_listen)) {
		err(ld, member(g, "metrics_listen"),
		    "metrics_listen '%s' is not IP:PORT or [IPv6]:PORT", c->metrics_listen);
	}
	/* Each client is an fd; the bounds keep them well below the fd limit,
	 * and leave others room beside root's reserved slots. */
	rd_u32(ld, g, "max_clients", DD_CONTROL_ROOT_SLOTS * 2, 1024, &c->max_clients);
	rd_u32(ld, g, "max_clients_per_uid", 1, 1024, &c->max_clients_per_uid);
	rd_u32(ld, g, "metrics_max_clients", 1, 1024, &c->metrics_max_clients);
}

/* ---- heartbeat ------------------------------------------------------- */

/* The rule is conf/keyfile.c's, which the heartbeat reads the key with:
 * what `-t` accepts, the daemon starts with. */
static void check_key_file(struct ld *ld, cs_t *s, const char *path)
{
	uint8_t key[DD_KEY_MAX];
	char *msg = NULL;
	if (dd_key_file_read(path, key, &msg) < 0)
		err(ld, s, "%s", msg);
	else
		OPENSSL_cleanse(key, sizeof key);
	free(msg);
}

static void load_link(struct ld *ld, cs_t *g, struct dd_link *l, bool mcast)
{
	l->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in link", dd_keys_link);
	int ok_local = rd_addr(ld, g, "local", false, &l->local);
	int ok_remote = rd_addr(ld, g, "remote", true, &l->remote);
	rd_ifname(ld, g, "interface", true, l->ifname);
	if (ok_local == 0)
		err(ld, g, "link needs a local address");
	/* remote = "" reads as unset, like an absent key. */
	if (ok_remote >= 0 && !l->remote.family && !mcast)
		err(ld, ok_remote ? member(g, "remote") : g,
		    "link needs a remote address (or set heartbeat.multicast_group)");
	if (ok_local == 1 && ok_remote == 1 && l->remote.family &&
	    l->local.family != l->remote.family)
		err(ld, member(g, "remote"), "remote address family differs from local");
}

static void load_peer(struct ld *ld, cs_t *g, struct dd_peer *p, bool mcast)
{
	p->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in peer", dd_keys_peer);
	if (rd_name(ld, g, "name", p->name) == 0)
		err(ld, g, "peer needs a name");
	cs_t *links = rd_list(ld, g, "links");
	if (!links) {
		if (!member(g, "links"))
			err(ld, g, "peer needs at least one link");
		return;
	}
	int n = config_setting_length(links);
	if (n == 0)
		err(ld, links, "peer needs at least one link");
	else if (n > DD_MAX_LINKS)
		err(ld, links, "peer has %d links; at most %d are supported", n, DD_MAX_LINKS);
	p->links = xcalloc((size_t)n, sizeof *p->links);
	for (int i = 0; i < n; i++) {
		cs_t *e = list_group(ld, links, i, "link");
		if (!e)
			continue;
		load_link(ld, e, &p->links[p->n_links++], mcast);
	}
}

static void load_heartbeat(struct ld *ld, cs_t *root)
{
	struct dd_heartbeat *h = &ld->c->hb;
	h->port = 7694;
	h->interval_ms = 50;
	h->dead_ms = 200;
	h->dscp = 48;
	h->state_file = xstrdup(LOCALSTATEDIR "/lib/directord/generation");
	cs_t *g = rd_group(ld, root, "heartbeat");
	if (!g)
		return;
	h->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in heartbeat", dd_keys_heartbeat);
	if (rd_path(ld, g, "key_file", true, &h->key_file) == 1 && h->key_file)
		check_key_file(ld, member(g, "key_file"), h->key_file);
	rd_u16(ld, g, "port", 1, 65535, &h->port);
	int iv = rd_u32(ld, g, "interval_ms", 5, 60000, &h->interval_ms);
	int dd = rd_u32(ld, g, "dead_ms", 15, 600000, &h->dead_ms);
	if (iv >= 0 && dd >= 0 && h->dead_ms <= h->interval_ms)
		err(ld, member(g, "dead_ms") ? member(g, "dead_ms") : g,
		    "dead_ms %u must be greater than interval_ms %u", h->dead_ms, h->interval_ms);
	long long dscp;
	if (rd_int(ld, g, "dscp", 0, 63, &dscp) == 1)
		h->dscp = (uint8_t)dscp;
	rd_path(ld, g, "state_file", false, &h->state_file);
	if (rd_addr(ld, g, "multicast_group", true, &h->mcast_group) == 1 &&
	    h->mcast_group.family) {
		bool mc = h->mcast_group.family == AF_INET
			? (ntohl(h->mcast_group.u.v4.s_addr) >> 28) == 14
			: h->mcast_group.u.v6.s6_addr[0] == 0xff;
		if (!mc) {
			char b[INET6_ADDRSTRLEN];
			err(ld, member(g, "multicast_group"),
			    "multicast_group %s is not a multicast address",
			    dd_addr_str(&h->mcast_group, b, sizeof b));
		}
	}
	bool mcast = h->mcast_group.family != 0;
	cs_t *peers = rd_list(ld, g, "peers");
	if (!peers)
		return;
	int n = config_setting_length(peers);
	h->peers = xcalloc((size_t)n, sizeof *h->peers);
	for (int i = 0; i < n; i++) {
		cs_t *e = list_group(ld, peers, i, "peer");
		if (!e)
			continue;
		struct dd_peer *p = &h->peers[h->n_peers];
		load_peer(ld, e, p, mcast);
		h->n_peers++;
		if (!p->name[0])
			continue;
		if (strcmp(p->name, ld->c->node_name) == 0)
			err(ld, member(e, "name"), "peer name '%s' is this node's name", p->name);
		/* The director pair is two machines; the engine hears one peer. */
		if (h->n_peers == 2)
			err(ld, e, "only one peer is supported (a director pair); '%s' is a second one", p->name);
		for (size_t j = 0; j + 1 < h->n_peers; j++)
			if (strcmp(h->peers[j].name, p->name) == 0)
				err(ld, member(e, "name"), "duplicate peer name '%s' (first at line %d)",
				    p->name, h->peers[j].line);
		for (size_t k = 0; k < p->n_links; k++)
			if (mcast && p->links[k].local.family &&
			    p->links[k].local.family != h->mcast_group.family)
				errl(ld, p->links[k].line,
				     "link address family differs from multicast_group");
	}
	if (h->n_peers && !h->key_file)
		err(ld, g, "heartbeat needs key_file when peers are configured");
}

static void load_sync(struct ld *ld, cs_t *root)
{
	struct dd_sync *s = &ld->c->sync;
	cs_t *g = rd_group(ld, root, "sync");
	if (!g)
		return;
	s->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in sync", dd_keys_sync);
	rd_bool(ld, g, "enabled", &s->enabled);
	rd_ifname(ld, g, "interface", true, s->ifname);
	rd_u32(ld, g, "syncid", 0, 255, &s->syncid);
	rd_u32(ld, g, "tcp_timeout_s", 0, 86400 * 30, &s->tcp_timeout_s);
	rd_u32(ld, g, "tcpfin_timeout_s", 0, 86400 * 30, &s->tcpfin_timeout_s);
	rd_u32(ld, g, "udp_timeout_s", 0, 86400 * 30, &s->udp_timeout_s);
	rd_bool(ld, g, "sloppy", &s->sloppy);
	if (s->enabled && !s->ifname[0])
		err(ld, g, "sync is enabled but has no interface");
}

/* Accepted in every build, so that one config serves both; only a build
 * with the subagent (configure --enable-snmp) may enable it. */
static void load_snmp(struct ld *ld, cs_t *root)
{
	struct dd_snmp_conf *s = &ld->c->snmp;
	s->agentx_socket = xstrdup("/var/agentx/master");
	s->traps = true;
	cs_t *g = rd_group(ld, root, "snmp");
	if (!g)
		return;
	s->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in snmp", dd_keys_snmp);
	rd_bool(ld, g, "enabled", &s->enabled);
	/* net-snmp transport syntax: a path, or "tcp:localhost:705" */
	rd_strdup(ld, g, "agentx_socket", false, &s->agentx_socket);
	rd_bool(ld, g, "traps", &s->traps);
#ifndef DD_HAVE_SNMP
	if (s->enabled)
		err(ld, member(g, "enabled"), "snmp is enabled, but this directord was built without SNMP "
		    "(configure --enable-snmp, net-snmp's agent library)");
#endif
}

/* ---- track scripts and notify commands (issue 15) ---------------------- */

/* A command run as `uid` (a track script's own user): refused now if
 * lib/spawn.c would refuse it then. */
static void check_script_as(struct ld *ld, cs_t *s, const char *command, uint32_t uid)
{
	char *msg = NULL;
	if (dd_script_check(command, uid, &msg) < 0)
		err(ld, s, "%s", msg);
	free(msg);
}

static bool track_name_same(const void *a, const void *b)
{
	return strcmp(((const struct dd_track_script *)a)->name,
		      ((const struct dd_track_script *)b)->name) == 0;
}

static void load_track_script(struct ld *ld, cs_t *g, struct dd_track_script *t)
{
	t->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in track script", dd_keys_track_script);
	t->interval_ms = 1000;
	t->timeout_ms = 500;
	t->rise = 1;
	t->fall = 1;
	t->uid = ld->c->scripts.uid;
	t->gid = ld->c->scripts.gid;
	if (rd_name(ld, g, "name", t->name) == 0)
		err(ld, g, "track script needs a name");
	int iv = rd_u32(ld, g, "interval_ms", 10, 3600000, &t->interval_ms);
	int to = rd_u32(ld, g, "timeout_ms", 1, 3600000, &t->timeout_ms);
	if (iv >= 0 && to >= 0 && t->timeout_ms >= t->interval_ms)
		err(ld, member(g, "timeout_ms") ? member(g, "timeout_ms") : g,
		    "timeout_ms %u must be less than interval_ms %u (a run never overlaps the next)",
		    t->timeout_ms, t->interval_ms);
	rd_u32(ld, g, "rise", 1, 1000, &t->rise);
	rd_u32(ld, g, "fall", 1, 1000, &t->fall);
	long long w;
	if (rd_int(ld, g, "weight", -253, 253, &w) == 1)
		t->weight = (int32_t)w;
	bool user_ok = true;
	if (rd_strdup(ld, g, "user", true, &t->user) == 1 && t->user) {
		const struct passwd *pw = getpwnam(t->user);
		if (!pw) {
			err(ld, member(g, "user"), "user '%s' does not exist", t->user);
			user_ok = false;
		} else {
			t->uid = (uint32_t)pw->pw_uid;
			t->gid = (uint32_t)pw->pw_gid;
		}
	}
	int rc = rd_strdup(ld, g, "command", false, &t->command);
	if (rc == 0)
		err(ld, g, "track script needs a command");
	else if (rc == 1 && t->user && user_ok)
		check_script_as(ld, member(g, "command"), t->command, t->uid);
	else if (rc == 1 && !t->user)
		check_script(ld, member(g, "command"), t->command);
}

static void load_track_scripts(struct ld *ld, cs_t *root)
{
	struct dd_config *c = ld->c;
	cs_t *l = rd_list(ld, root, "track_scripts");
	int n = l ? config_setting_length(l) : 0;
	if (n > DD_MAX_TRACK_SCRIPTS)
		err(ld, l, "%d track scripts; at most %d are supported", n, DD_MAX_TRACK_SCRIPTS);
	c->track_scripts = xcalloc((size_t)n, sizeof *c->track_scripts);
	struct dd_seen seen = { 0 };
	for (int i = 0; i < n; i++) {
		cs_t *e = list_group(ld, l, i, "track script");
		if (!e)
			continue;
		struct dd_track_script *t = &c->track_scripts[c->n_track_scripts++];
		load_track_script(ld, e, t);
		if (!t->name[0])
			continue;
		const struct dd_track_script *first = dd_seen_add(
			&seen, dd_seen_hash(DD_SEEN_HASH0, t->name, strlen(t->name)), t, track_name_same);
		if (first)
			err(ld, member(e, "name"), "duplicate track script name '%s' (first at line %d)",
			    t->name, first->line);
	}
	dd_seen_free(&seen);
}

/* A cluster's track_scripts = [ "name", ... ]: each names a script of the
 * top-level list, once. */
static void load_cluster_track(struct ld *ld, cs_t *g, struct dd_cluster *cl)
{
	const struct dd_config *c = ld->c;
	cs_t *ts = rd_scalars(ld, g, "track_scripts");
	int n = ts ? config_setting_length(ts) : 0;
	if (n > DD_CLUSTER_TRACK_MAX) {
		err(ld, ts, "cluster follows %d track scripts; at most %d are supported", n,
		    DD_CLUSTER_TRACK_MAX);
		return;
	}
	for (int i = 0; i < n; i++) {
		cs_t *e = config_setting_get_elem(ts, (unsigned)i);
		const char *v = config_setting_type(e) == CONFIG_TYPE_STRING
			? config_setting_get_string(e) : NULL;
		if (!v) {
			err(ld, ts, "track_scripts entries must be names of track scripts (strings)");
			continue;
		}
		size_t k = 0;
		while (k < c->n_track_scripts && strcmp(c->track_scripts[k].name, v) != 0)
			k++;
		if (k == c->n_track_scripts) {
			err(ld, ts, "unknown track script '%s' (not in the top-level track_scripts)", v);
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < cl->n_track; j++)
			dup = dup || strcmp(cl->track[j].name, v) == 0;
		if (dup) {
			err(ld, ts, "track script '%s' listed twice in cluster", v);
			continue;
		}
		struct dd_cluster_track *t = &cl->track[cl->n_track++];
		snprintf(t->name, sizeof t->name, "%s", v);
		t->weight = c->track_scripts[k].weight;
	}
}

static void rd_command(struct ld *ld, cs_t *g, const char *key, char **out)
{
	if (rd_strdup(ld, g, key, true, out) == 1 && *out)
		check_script(ld, member(g, key), *out);
}

static void load_cluster_notify(struct ld *ld, cs_t *g, struct dd_cluster *cl)
{
	rd_command(ld, g, "notify", &cl->notify.all);
	int t;
	if (rd_enum(ld, g, "notify_type", dd_notify_type_names, ALL_NAMES, &t) == 1)
		cl->notify.type = (enum dd_notify_type)t;
	rd_command(ld, g, "notify_active", &cl->notify.active);
	rd_command(ld, g, "notify_standby", &cl->notify.standby);
	rd_command(ld, g, "notify_fault", &cl->notify.fault);
	rd_command(ld, g, "notify_stop", &cl->notify.stop);
}

/* notify_up / notify_down of a service, or of a real server on top of
 * its service's (absent: inherited; "": none). */
static void load_rs_notify(struct ld *ld, cs_t *g, char **up, char **down, const char *up0,
			   const char *down0)
{
	*up = up0 ? xstrdup(up0) : NULL;
	*down = down0 ? xstrdup(down0) : NULL;
	rd_command(ld, g, "notify_up", up);
	rd_command(ld, g, "notify_down", down);
}

/* ---- checks ---------------------------------------------------------- */

static void check_defaults(struct dd_check *c)
{
	memset(c, 0, sizeof *c);
	c->type = DD_CHECK_TCP;
	c->interval_ms = 2000;
	c->timeout_ms = 1000;
	c->rise = 2;
	c->fall = 3;
	c->initial = DD_INITIAL_DOWN;
	c->method = xstrdup("GET");
	c->path = xstrdup("/");
	c->status = xcalloc(1, sizeof *c->status);
	c->status[0] = 200;
	c->n_status = 1;
}

static bool header_value_ok(const char *v)
{
	for (; *v; v++)
		if (*v == ' ' || *v == '\t')
			return false;
	return true;
}

/* Apply the keys of check group `g` on top of `c` (defaults or the
 * service's check), then validate the result. */
static void load_check(struct ld *ld, cs_t *g, struct dd_check *c)
{
	check_keys(ld, g, "in check", dd_keys_check);
	int t;
	if (rd_enum(ld, g, "type", dd_check_type_names, ALL_NAMES, &t) == 1)
		c->type = (enum dd_check_type)t;
	int iv = rd_u32(ld, g, "interval_ms", 10, 3600000, &c->interval_ms);
	int to = rd_u32(ld, g, "timeout_ms", 1, 3600000, &c->timeout_ms);
	rd_u32(ld, g, "rise", 1, 1000, &c->rise);
	rd_u32(ld, g, "fall", 1, 1000, &c->fall);
	if (rd_enum(ld, g, "initial", dd_initial_names, ALL_NAMES, &t) == 1)
		c->initial = (enum dd_initial)t;
	rd_u16(ld, g, "port", 0, 65535, &c->port);
	rd_addr(ld, g, "source", true, &c->source);
	rd_ifname(ld, g, "interface", true, c->interface);

	const char *v;
	if (rd_str(ld, g, "method", &v) == 1) {
		bool ok = *v && strlen(v) <= 16;
		for (const char *p = v; *p; p++)
			ok = ok && *p >= 'A' && *p <= 'Z';
		if (ok)
			rd_strdup(ld, g, "method", false, &c->method);
		else
			err(ld, member(g, "method"), "method '%s' is not an HTTP method (GET, HEAD, ...)", v);
	}
	if (rd_str(ld, g, "path", &v) == 1) {
		if (v[0] != '/' || !header_value_ok(v))
			err(ld, member(g, "path"), "path '%s' must start with / and contain no blanks", v);
		else
			rd_strdup(ld, g, "path", false, &c->path);
	}
	if (rd_str(ld, g, "host", &v) == 1) {
		if (!header_value_ok(v))
			err(ld, member(g, "host"), "host '%s' contains blanks", v);
		else
			rd_strdup(ld, g, "host", true, &c->host);
	}
	cs_t *st = rd_scalars(ld, g, "status");
	if (st) {
		int n = config_setting_length(st);
		bool ok = n > 0 && n <= 32;
		if (!ok)
			err(ld, st, "status must list 1 to 32 HTTP status codes");
		for (int i = 0; ok && i < n; i++) {
			cs_t *e = config_setting_get_elem(st, (unsigned)i);
			int et = config_setting_type(e);
			long long code = (et == CONFIG_TYPE_INT || et == CONFIG_TYPE_INT64)
				? config_setting_get_int64(e) : -1;
			if (code < 100 || code > 599) {
				err(ld, st, "status must list HTTP status codes (100..599)");
				ok = false;
			}
		}
		if (ok) {
			free(c->status);
			c->status = xcalloc((size_t)n, sizeof *c->status);
			c->n_status = (size_t)n;
			for (int i = 0; i < n; i++)
				c->status[i] = (uint16_t)config_setting_get_int64(
					config_setting_get_elem(st, (unsigned)i));
		}
	}
	rd_strdup(ld, g, "body_match", true, &c->body_match);
	if (rd_str(ld, g, "sni", &v) == 1) {
		if (!header_value_ok(v))
			err(ld, member(g, "sni"), "sni '%s' contains blanks", v);
		else
			rd_strdup(ld, g, "sni", true, &c->sni);
	}
	rd_bool(ld, g, "verify_tls", &c->verify_tls);
	rd_path(ld, g, "ca_file", true, &c->ca_file);
	if (rd_strdup(ld, g, "command", true, &c->command) == 1 && c->command)
		check_script(ld, member(g, "command"), c->command);
	rd_strdup(ld, g, "send", true, &c->send);
	rd_strdup(ld, g, "expect", true, &c->expect);
	if (rd_str(ld, g, "dns_query", &v) == 1) {
		if (!header_value_ok(v))
			err(ld, member(g, "dns_query"), "dns_query '%s' contains blanks", v);
		else
			rd_strdup(ld, g, "dns_query", true, &c->dns_query);
	}

	/* Keys written in this group must fit the effective type; keys merged
	 * from the service's check that do not apply are simply unused. */
	for (int i = 0; i < config_setting_length(g); i++) {
		cs_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		unsigned types = name ? dd_check_key_types(name) : 0;
		if (types && !(types & (1u << c->type))) {
			char need[96] = "";
			size_t len = 0;
			for (unsigned m = types; m; m &= m - 1) {
				bool last = !(m & (m - 1));
				int w = snprintf(need + len, sizeof need - len, "%s%s",
						 len ? (last ? " or " : ", ") : "",
						 dd_check_type_name((enum dd_check_type)__builtin_ctz(m)));
				if (w > 0 && (size_t)w < sizeof need - len)
					len += (size_t)w;
			}
			err(ld, s, "%s applies to %s checks, not %s", name, need,
			    dd_check_type_name(c->type));
		}
	}
	if (iv >= 0 && to >= 0 && c->type != DD_CHECK_NONE && c->timeout_ms >= c->interval_ms)
		err(ld, member(g, "timeout_ms") ? member(g, "timeout_ms") : g,
		    "timeout_ms %u must be less than interval_ms %u", c->timeout_ms, c->interval_ms);
	if (c->type == DD_CHECK_EXEC && !c->command)
		err(ld, g, "exec check needs a command");
	if (c->type == DD_CHECK_DNS && !c->dns_query)
		err(ld, g, "dns check needs dns_query");
}

/* ---- clusters, services, real servers -------------------------------- */

static void default_service_name(struct dd_service *s)
{
	char ap[DD_ADDR_STRLEN];
	if (s->proto == DD_PROTO_FWMARK)
		snprintf(s->name, sizeof s->name, "fwmark/%u%s", s->fwmark,
			 s->af == AF_INET6 ? "/inet6" : "");
	else
		snprintf(s->name, sizeof s->name, "%s/%s", dd_proto_name(s->proto),
			 dd_addr_port_str(&s->vip, s->port, ap, sizeof ap));
}

static int service_family(const struct dd_service *s)
{
	return s->proto == DD_PROTO_FWMARK ? s->af : s->vip.family;
}

static uint64_t addr_hash(uint64_t h, const struct dd_addr *a)
{
	h = dd_seen_hash(h, &a->family, sizeof a->family);
	return dd_seen_hash(h, &a->u, dd_addr_len(a));
}

static bool rs_same(const void *a, const void *b)
{
	const struct dd_real_server *x = a, *y = b;
	return x->port == y->port && dd_addr_eq(&x->addr, &y->addr);
}

/* IPVS keys a service by proto/VIP/port or fwmark/family. */
static uint64_t svc_key_hash(const struct dd_service *s)
{
	uint64_t h = dd_seen_hash(DD_SEEN_HASH0, &s->proto, sizeof s->proto);
	if (s->proto == DD_PROTO_FWMARK) {
		h = dd_seen_hash(h, &s->fwmark, sizeof s->fwmark);
		return dd_seen_hash(h, &s->af, sizeof s->af);
	}
	h = dd_seen_hash(h, &s->port, sizeof s->port);
	return addr_hash(h, &s->vip);
}

static bool svc_key_same(const void *a, const void *b)
{
	const struct dd_service *t = a, *s = b;
	return t->proto == s->proto &&
	       (s->proto == DD_PROTO_FWMARK ? t->fwmark == s->fwmark && t->af == s->af
					    : t->port == s->port && dd_addr_eq(&t->vip, &s->vip));
}

static bool svc_name_same(const void *a, const void *b)
{
	return strcmp(((const struct dd_service *)a)->name, ((const struct dd_service *)b)->name) == 0;
}

static bool vip_same_addr(const void *a, const void *b)
{
	return dd_addr_eq(&((const struct dd_vip *)a)->addr, &((const struct dd_vip *)b)->addr);
}

static void load_rs(struct ld *ld, cs_t *g, struct dd_service *svc,
		    struct dd_real_server *rs, bool svc_check_ok)
{
	rs->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in real server", dd_keys_rs);
	rs->port = svc->port;
	rs->weight = 1;
	rs->fwd = svc->fwd;
	int ok_addr = rd_addr(ld, g, "address", false, &rs->addr);
	if (ok_addr == 0)
		err(ld, g, "real server needs an address");
	rd_u16(ld, g, "port", svc->proto == DD_PROTO_FWMARK ? 0 : 1, 65535, &rs->port);
	rd_u32(ld, g, "weight", 0, 65535, &rs->weight);
	rd_u32(ld, g, "upper_threshold", 0, UINT32_MAX, &rs->upper_threshold);
	int lo = rd_u32(ld, g, "lower_threshold", 0, UINT32_MAX, &rs->lower_threshold);
	if (lo == 1 && rs->upper_threshold && rs->lower_threshold >= rs->upper_threshold)
		err(ld, member(g, "lower_threshold"),
		    "lower_threshold %u must be less than upper_threshold %u",
		    rs->lower_threshold, rs->upper_threshold);
	int f;
	if (rd_enum(ld, g, "forward", dd_fwd_names, ALL_NAMES, &f) == 1)
		rs->fwd = (enum dd_fwd)f;
	rd_u32(ld, g, "slow_start_ms", 0, 3600000, &rs->slow_start_ms);
	load_rs_notify(ld, g, &rs->notify_up, &rs->notify_down, svc->notify_up, svc->notify_down);
	dd_check_copy(&rs->check, &svc->check);
	cs_t *cg = rd_group(ld, g, "check");
	if (cg && svc_check_ok)
		load_check(ld, cg, &rs->check);
	else if (cg)    /* merged values would repeat the service's errors */
		check_keys(ld, cg, "in check", dd_keys_check);
	/* A fwmark real server without a port keeps the client's port, so
	 * its check has no port to connect to unless one is given. */
	if (svc_check_ok && svc->proto == DD_PROTO_FWMARK && !rs->port && !rs->check.port &&
	    rs->check.type != DD_CHECK_NONE && rs->check.type != DD_CHECK_EXEC)
		err(ld, cg ? cg : g, "check needs a port: the real server has none (fwmark service)");
	/* A source of the other family could never be bound: every probe
	 * would fail, and the server would look dead. */
	const struct dd_addr *src = &rs->check.source;
	if (svc_check_ok && ok_addr == 1 && src->family && src->family != rs->addr.family &&
	    rs->check.type != DD_CHECK_NONE && rs->check.type != DD_CHECK_EXEC) {
		char sb[DD_ADDR_STRLEN], ab[DD_ADDR_STRLEN];
		cs_t *at = cg && member(cg, "source") ? member(cg, "source") : member(g, "address");
		err(ld, at, "check source %s and real server %s differ in address family",
		    dd_addr_str(src, sb, sizeof sb), dd_addr_str(&rs->addr, ab, sizeof ab));
	}
	int fam = service_family(svc);
	if (ok_addr == 1 && fam && rs->addr.family != fam && rs->fwd != DD_FWD_TUN)
		err(ld, member(g, "address"),
		    "real server address family differs from the service's (only forward = \"tun\" may mix)");
}

static void load_service(struct ld *ld, cs_t *g, struct dd_service *s)
{
	s->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in service", dd_keys_service);
	snprintf(s->scheduler, sizeof s->scheduler, "wlc");
	s->fwd = DD_FWD_DR;
	s->quorum = 1;
	s->drain_ms = 30000;
	s->removal = DD_REMOVAL_DRAIN;

	long long mark;
	int has_fwmark = rd_int(ld, g, "fwmark", 1, UINT32_MAX, &mark);
	int p;
	int has_proto = rd_enum(ld, g, "protocol", dd_proto_names, DD_PROTO_FWMARK, &p);
	int has_addr = rd_addr(ld, g, "address", false, &s->vip);
	int has_port = rd_u16(ld, g, "port", 1, 65535, &s->port);
	int fam = 0;
	int has_family = rd_enum(ld, g, "family", dd_family_names, ALL_NAMES, &fam);
	if (member(g, "fwmark")) {
		s->proto = DD_PROTO_FWMARK;
		s->fwmark = has_fwmark == 1 ? (uint32_t)mark : 0;
		dd_family_parse(dd_family_names[fam], &s->af);
		if (member(g, "protocol"))
			err(ld, member(g, "protocol"), "protocol and fwmark are exclusive");
		if (member(g, "address"))
			err(ld, member(g, "address"), "fwmark service takes no address");
		if (member(g, "port"))
			err(ld, member(g, "port"), "fwmark service takes no port");
		memset(&s->vip, 0, sizeof s->vip);
		s->port = 0;
	} else {
		s->proto = has_proto == 1 ? (enum dd_proto)p : DD_PROTO_TCP;
		if (has_proto == 0)
			err(ld, g, "service needs a protocol (tcp, udp, sctp) or a fwmark");
		if (has_addr == 0)
			err(ld, g, "%s service needs an address", dd_proto_name(s->proto));
		if (has_port == 0)
			err(ld, g, "%s service needs a port", dd_proto_name(s->proto));
		if (has_family != 0)
			err(ld, member(g, "family"),
			    "family applies to fwmark services only (the address gives it)");
	}
	if (rd_name(ld, g, "name", s->name) != 1)
		default_service_name(s);

	const char *v;
	if (rd_str(ld, g, "scheduler", &v) == 1) {
		if (in_list(dd_schedulers, v)) {
			snprintf(s->scheduler, sizeof s->scheduler, "%s", v);
		} else {
			char list[256];
			join_names(dd_schedulers, ALL_NAMES, list, sizeof list);
			err(ld, member(g, "scheduler"), "scheduler '%s' is not an IPVS scheduler (%s)", v, list);
		}
	}
	int f;
	if (rd_enum(ld, g, "forward", dd_fwd_names, ALL_NAMES, &f) == 1)
		s->fwd = (enum dd_fwd)f;
	rd_u32(ld, g, "persistence_timeout_s", 0, 31536000, &s->persistence_timeout_s);

	int family = service_family(s);
	int maxp = family == AF_INET6 ? 128 : 32;
	s->persistence_prefix = maxp;
	cs_t *pm = member(g, "persistence_netmask");
	if (pm && config_setting_type(pm) == CONFIG_TYPE_STRING) {
		struct dd_addr m;
		const char *mv;
		if (rd_str(ld, g, "persistence_netmask", &mv) == 1) {
			if (!dd_addr_parse(mv, &m) || m.family != AF_INET) {
				err(ld, pm, "persistence_netmask '%s' is not an IPv4 netmask (use a prefix length for IPv6)", mv);
			} else {
				uint32_t bits = ntohl(m.u.v4.s_addr);
				int plen = __builtin_popcount(bits);
				if (plen && bits != (uint32_t)(0xffffffffu << (32 - plen)))
					err(ld, pm, "persistence_netmask '%s' is not contiguous", mv);
				else if (family == AF_INET6)
					err(ld, pm, "persistence_netmask of an IPv6 service must be a prefix length");
				else
					s->persistence_prefix = plen;
			}
		}
	} else if (pm) {
		long long plen;
		if (rd_int(ld, g, "persistence_netmask", 0, maxp, &plen) == 1)
			s->persistence_prefix = (int)plen;
	}
	rd_bool(ld, g, "ops", &s->ops);
	if (s->ops && s->proto != DD_PROTO_UDP && s->proto != DD_PROTO_FWMARK)
		err(ld, member(g, "ops"), "ops (one-packet scheduling) needs protocol udp");
	cs_t *sf = rd_scalars(ld, g, "sched_flags");
	for (int i = 0; sf && i < config_setting_length(sf); i++) {
		cs_t *e = config_setting_get_elem(sf, (unsigned)i);
		const char *fv = config_setting_type(e) == CONFIG_TYPE_STRING
			? config_setting_get_string(e) : NULL;
		static const char *const flags[] = { "sh-fallback", "sh-port",
			"mh-fallback", "mh-port", NULL };
		if (!fv || !in_list(flags, fv)) {
			err_enum(ld, sf, "sched_flags entry", fv ? fv : "?", flags, ALL_NAMES);
			break;
		}
		if (strncmp(fv, s->scheduler, 2) != 0 || strlen(s->scheduler) != 2) {
			err(ld, sf, "sched_flags '%s' needs scheduler '%.2s'", fv, fv);
			break;
		}
		if (strstr(fv, "fallback"))
			s->sched_flags.fallback = true;
		else
			s->sched_flags.port = true;
	}
	rd_u32(ld, g, "quorum", 0, 65535, &s->quorum);
	int hy = rd_u32(ld, g, "quorum_hysteresis", 0, 65535, &s->quorum_hysteresis);
	if (hy == 1 && s->quorum_hysteresis > s->quorum)
		err(ld, member(g, "quorum_hysteresis"),
		    "quorum_hysteresis %u must not exceed quorum %u", s->quorum_hysteresis, s->quorum);

	cs_t *sg = rd_group(ld, g, "sorry_server");
	if (sg) {
		check_keys(ld, sg, "in sorry_server", dd_keys_sorry);
		int a = rd_addr(ld, sg, "address", false, &s->sorry_addr);
		if (a == 0)
			err(ld, sg, "sorry_server needs an address");
		s->sorry_port = s->port;
		rd_u16(ld, sg, "port", s->proto == DD_PROTO_FWMARK ? 0 : 1, 65535, &s->sorry_port);
		if (a == 1 && family && s->sorry_addr.family != family)
			err(ld, member(sg, "address"), "sorry_server address family differs from the service's");
		s->has_sorry = a == 1;
	}
	if (rd_enum(ld, g, "removal", dd_removal_names, ALL_NAMES, &f) == 1)
		s->removal = (enum dd_removal)f;
	rd_u32(ld, g, "drain_ms", 0, 86400000, &s->drain_ms);
	load_rs_notify(ld, g, &s->notify_up, &s->notify_down, NULL, NULL);

	check_defaults(&s->check);
	s->check.script_uid = ld->c->scripts.uid;
	s->check.script_gid = ld->c->scripts.gid;
	size_t errs_before = ld->errs->n;
	cs_t *cg = rd_group(ld, g, "check");
	if (cg)
		load_check(ld, cg, &s->check);
	bool check_ok = ld->errs->n == errs_before;

	cs_t *rl = rd_list(ld, g, "real_servers");
	int n = rl ? config_setting_length(rl) : 0;
	s->rs = xcalloc((size_t)n, sizeof *s->rs);
	struct dd_seen seen = { 0 };
	for (int i = 0; i < n; i++) {
		cs_t *e = list_group(ld, rl, i, "real server");
		if (!e)
			continue;
		struct dd_real_server *rs = &s->rs[s->n_rs++];
		load_rs(ld, e, s, rs, check_ok);
		if (!rs->addr.family)
			continue;
		uint64_t h = addr_hash(DD_SEEN_HASH0, &rs->addr);
		h = dd_seen_hash(h, &rs->port, sizeof rs->port);
		const struct dd_real_server *first = dd_seen_add(&seen, h, rs, rs_same);
		if (first) {
			char ap[DD_ADDR_STRLEN];
			err(ld, e, "real server %s listed twice (first at line %d)",
			    dd_addr_port_str(&rs->addr, rs->port, ap, sizeof ap), first->line);
		}
	}
	dd_seen_free(&seen);
	if (s->quorum > s->n_rs && s->n_rs)
		err(ld, member(g, "quorum") ? member(g, "quorum") : g,
		    "quorum %u exceeds the number of real servers (%zu)", s->quorum, s->n_rs);
}

static void load_vip(struct ld *ld, cs_t *g, struct dd_vip *v)
{
	v->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in vip", dd_keys_vip);
	const char *a;
	int ra = rd_str(ld, g, "address", &a);
	if (ra == 0)
		err(ld, g, "vip needs an address");
	else if (ra == 1 && !dd_prefix_parse(a, &v->addr, &v->prefix))
		err(ld, member(g, "address"), "address '%s' is not an IP address or address/prefix", a);
	if (rd_ifname(ld, g, "interface", false, v->ifname) == 0)
		err(ld, g, "vip needs an interface");
	if (rd_strdup(ld, g, "label", true, &v->label) == 1 && v->label) {
		size_t n = strlen(v->ifname);
		if (v->addr.family == AF_INET6)
			err(ld, member(g, "label"), "label applies to IPv4 addresses only");
		else if (strlen(v->label) > 15 || (n && strncmp(v->label, v->ifname, n) != 0))
			err(ld, member(g, "label"),
			    "label '%s' must start with the interface name and be at most 15 characters",
			    v->label);
	}
}

static void load_cluster(struct ld *ld, cs_t *g, struct dd_cluster *cl)
{
	cl->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in cluster", dd_keys_cluster);
	cl->priority = 100;
	cl->ping_interval_ms = 1000;
	cl->ping_timeout_ms = 1000;
	cl->ping_fall = 3;
	cl->garp.count = 5;
	cl->garp.interval_ms = 200;
	if (rd_name(ld, g, "name", cl->name) == 0)
		err(ld, g, "cluster needs a name");
	rd_u32(ld, g, "priority", 1, 254, &cl->priority);
	rd_bool(ld, g, "failback", &cl->failback);
	rd_u32(ld, g, "failback_delay_ms", 0, 86400000, &cl->failback_delay_ms);

	cs_t *ti = rd_scalars(ld, g, "track_interfaces");
	int n = ti ? config_setting_length(ti) : 0;
	cl->track_ifs = xcalloc((size_t)n, sizeof *cl->track_ifs);
	for (int i = 0; i < n; i++) {
		cs_t *e = config_setting_get_elem(ti, (unsigned)i);
		const char *v = config_setting_type(e) == CONFIG_TYPE_STRING
			? config_setting_get_string(e) : NULL;
		if (!v || !ifname_ok(v)) {
			err(ld, ti, "track_interfaces entry '%s' is not an interface name", v ? v : "?");
			continue;
		}
		snprintf(cl->track_ifs[cl->n_track_ifs++], 16, "%s", v);
	}
	cs_t *pt = rd_scalars(ld, g, "ping_targets");
	n = pt ? config_setting_length(pt) : 0;
	cl->ping_targets = xcalloc((size_t)n, sizeof *cl->ping_targets);
	for (int i = 0; i < n; i++) {
		cs_t *e = config_setting_get_elem(pt, (unsigned)i);
		const char *v = config_setting_type(e) == CONFIG_TYPE_STRING
			? config_setting_get_string(e) : NULL;
		if (!v || !dd_addr_parse(v, &cl->ping_targets[cl->n_ping_targets])) {
			err(ld, pt, "ping_targets entry '%s' is not an IP address", v ? v : "?");
			continue;
		}
		cl->n_ping_targets++;
	}
	rd_addr(ld, g, "gateway", true, &cl->gateway);
	int pi = rd_u32(ld, g, "ping_interval_ms", 10, 3600000, &cl->ping_interval_ms);
	int pto = rd_u32(ld, g, "ping_timeout_ms", 1, 3600000, &cl->ping_timeout_ms);
	(void)pi;
	(void)pto;
	rd_u32(ld, g, "ping_fall", 1, 1000, &cl->ping_fall);
	load_cluster_track(ld, g, cl);
	load_cluster_notify(ld, g, cl);

	cs_t *ga = rd_group(ld, g, "garp");
	if (ga) {
		check_keys(ld, ga, "in garp", dd_keys_garp);
		rd_u32(ld, ga, "count", 0, 1000, &cl->garp.count);
		rd_u32(ld, ga, "interval_ms", 0, 60000, &cl->garp.interval_ms);
		int m;
		if (rd_enum(ld, ga, "mode", dd_garp_mode_names, ALL_NAMES, &m) == 1)
			cl->garp.mode = (enum dd_garp_mode)m;
		rd_u32(ld, ga, "refresh_ms", 0, 86400000, &cl->garp.refresh_ms);
	}

	cs_t *vl = rd_list(ld, g, "vips");
	n = vl ? config_setting_length(vl) : 0;
	cl->vips = xcalloc((size_t)n, sizeof *cl->vips);
	for (int i = 0; i < n; i++) {
		cs_t *e = list_group(ld, vl, i, "vip");
		if (!e)
			continue;
		struct dd_vip *v = &cl->vips[cl->n_vips++];
		load_vip(ld, e, v);
		if (!v->addr.family)
			continue;
		/* A VIP owned twice would flap between clusters. */
		const struct dd_vip *first = dd_seen_add(&ld->vips, addr_hash(DD_SEEN_HASH0, &v->addr),
							 v, vip_same_addr);
		if (first) {
			char b[INET6_ADDRSTRLEN];
			err(ld, e, "vip %s listed twice (first at line %d)",
			    dd_addr_str(&v->addr, b, sizeof b), first->line);
		}
	}

	cs_t *sl = rd_list(ld, g, "services");
	n = sl ? config_setting_length(sl) : 0;
	cl->services = xcalloc((size_t)n, sizeof *cl->services);
	for (int i = 0; i < n; i++) {
		cs_t *e = list_group(ld, sl, i, "service");
		if (!e)
			continue;
		struct dd_service *s = &cl->services[cl->n_services++];
		load_service(ld, e, s);
		/* IPVS keys a service by proto/VIP/port or fwmark/family, and
		 * directord names them: both must be unique in the file. */
		const struct dd_service *t = dd_seen_add(
			&ld->svc_names, dd_seen_hash(DD_SEEN_HASH0, s->name, strlen(s->name)),
			s, svc_name_same);
		if (t)
			err(ld, member(e, "name") ? member(e, "name") : e,
			    "duplicate service name '%s' (first at line %d)", s->name, t->line);
		if ((s->vip.family || s->fwmark) &&
		    (t = dd_seen_add(&ld->svc_keys, svc_key_hash(s), s, svc_key_same)))
			err(ld, e, "duplicate service %s (first at line %d)", s->name, t->line);
	}
}

/* ---- ECMP mode (issue 14) ---------------------------------------------
 * Kept together here so that the pair-mode rules above stay as they are. */

static void load_ecmp(struct ld *ld, cs_t *root)
{
	struct dd_ecmp *e = &ld->c->ecmp;
	snprintf(e->device, sizeof e->device, "dd-ecmp");
	e->drain_timeout_s = 60;
	e->stop_wait_ms = 2000;
	cs_t *g = rd_group(ld, root, "ecmp");
	if (!g)
		return;
	e->line = (int)config_setting_source_line(g);
	check_keys(ld, g, "in ecmp", dd_keys_ecmp);
	rd_ifname(ld, g, "device", false, e->device);
	rd_u32(ld, g, "drain_timeout_s", 0, 86400, &e->drain_timeout_s);
	rd_u32(ld, g, "stop_wait_ms", 0, 600000, &e->stop_wait_ms);
}

/* Element k of a list of groups, counting only groups: the index the
 * loader gave the k-th service it kept. */
static cs_t *nth_group(cs_t *list, size_t k)
{
	for (int i = 0; list && i < config_setting_length(list); i++) {
		cs_t *e = config_setting_get_elem(list, (unsigned)i);
		if (config_setting_is_group(e) && k-- == 0)
			return e;
	}
	return NULL;
}

/* An ECMP cluster is held by every healthy director at once: every
 * director must pick the same real server for a flow (mh, with the same
 * destinations in the same order, none ever deleted), and its VIPs must
 * never be answered for on a shared segment (lo, host routes). */
static void load_cluster_mode(struct ld *ld, cs_t *g, struct dd_cluster *cl)
{
	int m;
	if (rd_enum(ld, g, "mode", dd_mode_names, ALL_NAMES, &m) == 1)
		cl->mode = (enum dd_mode)m;
	if (cl->mode != DD_MODE_ECMP)
		return;
	const struct dd_ecmp *ec = &ld->c->ecmp;
	if (!ec->line)
		err(ld, member(g, "mode"), "cluster '%s' has mode \"ecmp\" but there is no top-level "
		    "ecmp group (ecmp = { device = \"dd-ecmp\"; };)", cl->name);
	if (member(g, "garp"))
		err(ld, member(g, "garp"), "garp does not apply to an ecmp cluster: its VIPs are routed, "
		    "never announced by ARP");
	for (size_t i = 0; i < cl->n_track_ifs; i++)
		if (strcmp(cl->track_ifs[i], ec->device) == 0)
			err(ld, member(g, "track_interfaces"), "track_interfaces lists '%s', the ecmp device "
			    "directord creates itself", ec->device);
	cs_t *vl = member(g, "vips");
	for (size_t i = 0; i < cl->n_vips; i++) {
		const struct dd_vip *v = &cl->vips[i];
		cs_t *ve = nth_group(vl, i);
		cs_t *at = ve && member(ve, "interface") ? member(ve, "interface") : ve;
		char b[DD_ADDR_STRLEN];
		if (v->ifname[0] && strcmp(v->ifname, "lo") != 0)
			err(ld, at, "vip %s of ecmp cluster '%s' must be on interface \"lo\", not '%s': every "
			    "director holds it at once, so it must not answer ARP/ND on a shared segment",
			    dd_addr_str(&v->addr, b, sizeof b), cl->name, v->ifname);
		if (v->addr.family && v->prefix != (v->addr.family == AF_INET6 ? 128 : 32))
			err(ld, ve && member(ve, "address") ? member(ve, "address") : ve,
			    "vip %s/%d of ecmp cluster '%s' must be a host address (/%d): it is announced "
			    "as a host route", dd_addr_str(&v->addr, b, sizeof b), v->prefix, cl->name,
			    v->addr.family == AF_INET6 ? 128 : 32);
	}
	cs_t *sl = member(g, "services");
	for (size_t k = 0; k < cl->n_services; k++) {
		const struct dd_service *s = &cl->services[k];
		cs_t *se = nth_group(sl, k);
		if (strcmp(s->scheduler, "mh") != 0)
			err(ld, se && member(se, "scheduler") ? member(se, "scheduler") : se,
			    "service '%s' of ecmp cluster '%s' needs scheduler \"mh\" (not '%s'): every "
			    "director must send a flow to the same real server", s->name, cl->name,
			    s->scheduler);
		else if (!s->sched_flags.fallback)
			err(ld, se && member(se, "sched_flags") ? member(se, "sched_flags") : se,
			    "service '%s' of ecmp cluster '%s' needs sched_flags [ \"mh-fallback\" ]: a "
			    "failed real server stays in mh's table at weight 0, and without fallback "
			    "the new connections that hash to it are refused", s->name, cl->name);
		if (se && member(se, "removal") && s->removal == DD_REMOVAL_REMOVE)
			err(ld, member(se, "removal"), "service '%s' of ecmp cluster '%s': removal \"remove\" "
			    "would reorder mh's table; a failed real server goes to weight 0 instead",
			    s->name, cl->name);
		if (s->has_sorry)
			err(ld, member(se, "sorry_server"), "service '%s' of ecmp cluster '%s' cannot have a "
			    "sorry_server: a director without quorum withdraws its routes instead", s->name,
			    cl->name);
	}
}

static const struct dd_vip *find_vip(const struct ld *ld, const struct dd_addr *a,
				     const struct dd_cluster **in)
{
	struct dd_vip key = { .addr = *a };
	const struct dd_vip *v = dd_seen_find(&ld->vips, addr_hash(DD_SEEN_HASH0, a), &key,
					      vip_same_addr);
	const struct dd_config *c = ld->c;
	for (size_t i = 0; v && i < c->n_clusters; i++)
		if (v >= c->clusters[i].vips && v < c->clusters[i].vips + c->clusters[i].n_vips) {
			*in = &c->clusters[i];
			return v;
		}
	return NULL;
}

/* A check bound to a VIP fails on the standby, which does not hold it,
 * and in a split brain its replies reach the other director. Once per
 * service when its real servers inherit the source, else per server. */
static void check_sources_not_vips(struct ld *ld)
{
	const struct dd_config *c = ld->c;
	for (size_t i = 0; i < c->n_clusters; i++)
		for (size_t k = 0; k < c->clusters[i].n_services; k++) {
			const struct dd_service *s = &c->clusters[i].services[k];
			bool told = false;
			for (size_t r = 0; r < s->n_rs; r++) {
				const struct dd_check *chk = &s->rs[r].check;
				const struct dd_cluster *in;
				const struct dd_vip *v;
				if (!chk->source.family || chk->type == DD_CHECK_NONE ||
				    chk->type == DD_CHECK_EXEC || !(v = find_vip(ld, &chk->source, &in)))
					continue;
				bool inherited = dd_addr_eq(&chk->source, &s->check.source);
				if (inherited && told)
					continue;
				char b[DD_ADDR_STRLEN];
				errl(ld, inherited ? s->line : s->rs[r].line,
				     "check source %s is a VIP (cluster '%s', line %d): use an address of this director",
				     dd_addr_str(&chk->source, b, sizeof b), in->name, v->line);
				told |= inherited;
			}
		}
}

static void load_clusters(struct ld *ld, cs_t *root)
{
	cs_t *l = rd_list(ld, root, "clusters");
	int n = l ? config_setting_length(l) : 0;
	struct dd_config *c = ld->c;
	c->clusters = xcalloc((size_t)n, sizeof *c->clusters);
	for (int i = 0; i < n; i++) {
		cs_t *e = list_group(ld, l, i, "cluster");
		if (!e)
			continue;
		struct dd_cluster *cl = &c->clusters[c->n_clusters++];
		load_cluster(ld, e, cl);
		load_cluster_mode(ld, e, cl);
		if (c->n_clusters == DD_MAX_CLUSTERS + 1)
			err(ld, e, "cluster '%s' is one too many: at most %d are supported "
			    "(one keepalive carries them all)", cl->name, DD_MAX_CLUSTERS);
		for (size_t j = 0; j + 1 < c->n_clusters; j++)
			if (cl->name[0] && strcmp(c->clusters[j].name, cl->name) == 0) {
				err(ld, member(e, "name"), "duplicate cluster name '%s' (first at line %d)",
				    cl->name, c->clusters[j].line);
				break;
			}
	}
	check_sources_not_vips(ld);
	dd_seen_free(&ld->vips);
	dd_seen_free(&ld->svc_names);
	dd_seen_free(&ld->svc_keys);
}

/* ---- what libconfig 1.5 gets wrong -------------------------------------
 * It silently wraps decimal and hex integers beyond 32 bits (port =
 * 4294967376 reads as 80), it drops a \x00 escape and keeps going (the
 * value read is not the one written, and a C string cannot hold a NUL
 * anyway), and it leaks its buffer on a string left open at the end of
 * the text. Scan the text with libconfig's rules for strings and comments
 * first and refuse all three. Returns false if libconfig must not see the
 * text at all. */
static bool prescan(struct ld *ld, const char *t)
{
	int line = 1;
	for (const char *p = t; *p;) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '"') {
			int start = line;
			for (p++; *p && *p != '"'; p++) {
				/* libconfig reads \x and \X alike */
				if (p[0] == '\\' && (p[1] == 'x' || p[1] == 'X') && p[2] == '0' &&
				    p[3] == '0')
					errl(ld, line, "string contains \\x00: a NUL byte cannot be "
					     "part of a value");
				if (*p == '\\' && p[1])
					p++;
				if (*p == '\n')
					line++;
			}
			if (!*p) {
				errl(ld, start, "string is not closed (missing \")");
				return false;
			}
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				if (*p == '\n')
					line++;
			if (*p)
				p += 2;
		} else if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '*' || *p == '_') {
			while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			       (*p >= '0' && *p <= '9') || *p == '*' || *p == '_' || *p == '-')
				p++;
		} else if (*p >= '0' && *p <= '9') {
			const char *s = p;
			while ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
			       (*p >= 'a' && *p <= 'z') || *p == '.' ||
			       ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')))
				p++;
			size_t len = (size_t)(p - s);
			bool hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
			if (memchr(s, 'L', len) || memchr(s, '.', len) ||
			    (!hex && (memchr(s, 'e', len) || memchr(s, 'E', len))))
				continue;
			char num[64];
			if (len >= sizeof num)
				len = sizeof num - 1;
			memcpy(num, s, len);
			num[len] = '\0';
			errno = 0;
			char *end;
			unsigned long long v = strtoull(num, &end, hex ? 16 : 10);
			if (*end)
				continue;       /* not a number: libconfig reports it */
			if (errno == ERANGE || v > INT32_MAX)
				errl(ld, line, "integer %s is too large for libconfig (at most 2147483647, or add L)", num);
		} else {
			p++;
		}
	}
	return true;
}

/* libconfig 1.5 leaks the text of a string token that ends in a syntax
 * error (its grammar frees no token on error). It lives here, next to the
 * only libconfig user, so every ASan build of a program that loads configs
 * (daemon, tests, fuzzers) ignores exactly that and still fails on any
 * other leak. Only one definition may exist per program: extend this one. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

/* ...and says nothing about it, so `directord -t` output stays clean. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

/* ---- entry points ---------------------------------------------------- */

/* Errors are found group by group (VIPs before services, say); list them
 * in file order, which is how people fix them. Stable: several errors on
 * one line keep the order they were found in. Included files keep
 * discovery order, as their lines do not compare with the main file's. */
static void sort_errors(struct dd_conf_errors *e, size_t from, const char *file)
{
	for (size_t i = from; i < e->n; i++)
		if (strcmp(e->v[i].file, file) != 0)
			return;
	for (size_t i = from + 1; i < e->n; i++) {
		struct dd_conf_error x = e->v[i];
		size_t j = i;
		while (j > from && e->v[j - 1].line > x.line) {
			e->v[j] = e->v[j - 1];
			j--;
		}
		e->v[j] = x;
	}
}

static struct dd_config *load_text(const char *text, const char *name,
				   char *dir, bool allow_include,
				   struct dd_conf_errors *errs)
{
	struct ld ld = { .errs = errs, .file = name, .dir = dir };
	size_t errs_before = errs->n;

	if (!allow_include) {
		/* Tests and fuzzers must not make the loader read files. */
		for (const char *p = text; (p = strchr(p, '@')); p++)
			if (strncasecmp(p, "@include", 8) == 0) {
				int line = 1;
				for (const char *q = text; q < p; q++)
					line += *q == '\n';
				errl(&ld, line, "@include is not allowed here");
				free(dir);
				return NULL;
			}
	}
	if (!prescan(&ld, text)) {
		free(dir);
		return NULL;
	}

	config_t cfg;
	config_init(&cfg);
	if (dir)
		config_set_include_dir(&cfg, dir);
	if (!config_read_string(&cfg, text)) {
		const char *f = config_error_file(&cfg);
		const char *msg = config_error_text(&cfg);
		struct dd_conf_errors *e = errs;
		e->v = xrealloc(e->v, (e->n + 1) * sizeof *e->v);
		e->v[e->n].file = error_file(&ld, f);
		e->v[e->n].line = config_error_line(&cfg);
		e->v[e->n].msg = xstrdup(msg ? msg : "syntax error");
		e->n++;
		config_destroy(&cfg);
		free(dir);
		return NULL;
	}
	if (errs->n != errs_before) {
		config_destroy(&cfg);
		free(dir);
		return NULL;
	}

	struct dd_config *c = xcalloc(1, sizeof *c);
	ld.c = c;
	c->path = xstrdup(name);
	cs_t *root = config_root_setting(&cfg);
	check_keys(&ld, root, "at top level", dd_keys_top);
	if (rd_name(&ld, root, "node", c->node_name) == 0) {
		char host[256] = "";
		if (gethostname(host, sizeof host - 1) != 0 || !host[0])
			snprintf(host, sizeof host, "localhost");
		/* The default must pass the rule a written name does: the
		 * peer would drop keepalives carrying anything else. */
		if (strlen(host) >= DD_NAME_MAX || !name_chars_ok(host))
			errl(&ld, 0, "node is not set and the host name '%s' is not a valid node name "
			     "(1..%d printable characters without blanks or quotes); set node",
			     host, DD_NAME_MAX - 1);
		snprintf(c->node_name, sizeof c->node_name, "%s", host);
	}
	c->pid_file = xstrdup(RUNSTATEDIR "/directord.pid");
	rd_path(&ld, root, "pid_file", false, &c->pid_file);
	load_scripts(&ld, root);
	load_logging(&ld, root);
	load_control(&ld, root);
	load_heartbeat(&ld, root);
	load_sync(&ld, root);
	load_ecmp(&ld, root);
	load_snmp(&ld, root);
	load_track_scripts(&ld, root);
	load_clusters(&ld, root);
	config_destroy(&cfg);
	free(dir);
	if (errs->n != errs_before) {
		sort_errors(errs, errs_before, name);
		dd_config_free(c);
		return NULL;
	}
	return c;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		char cwd[PATH_MAX];
		return getcwd(cwd, sizeof cwd) ? xstrdup(cwd) : NULL;
	}
	if (slash == path)
		return xstrdup("/");
	size_t n = (size_t)(slash - path);
	char *d = xmalloc(n + 1);
	memcpy(d, path, n);
	d[n] = '\0';
	return d;
}

struct dd_config *dd_config_load(const char *path, struct dd_conf_errors *errs)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		struct ld ld = { .errs = errs, .file = path };
		errl(&ld, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 16384;
			text = xrealloc(text, cap);
		}
		size_t r = fread(text + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	bool ioerr = ferror(f);
	fclose(f);
	text[len] = '\0';
	if (ioerr || memchr(text, '\0', len)) {
		struct ld ld = { .errs = errs, .file = path };
		errl(&ld, 0, ioerr ? "read error" : "file contains a NUL byte");
		free(text);
		return NULL;
	}
	struct dd_config *c = load_text(text, path, dir_of(path), true, errs);
	free(text);
	return c;
}

struct dd_config *dd_config_load_string(const char *text, const char *name,
					struct dd_conf_errors *errs)
{
	return load_text(text, name, dir_of(name), false, errs);
}

void dd_cluster_free(struct dd_cluster *cl)
{
	for (size_t j = 0; j < cl->n_vips; j++)
		free(cl->vips[j].label);
	free(cl->vips);
	free(cl->track_ifs);
	free(cl->ping_targets);
	for (size_t j = 0; j < cl->n_services; j++) {
		struct dd_service *s = &cl->services[j];
		for (size_t k = 0; k < s->n_rs; k++) {
			dd_check_free(&s->rs[k].check);
			free(s->rs[k].notify_up);
			free(s->rs[k].notify_down);
		}
		free(s->rs);
		dd_check_free(&s->check);
		free(s->notify_up);
		free(s->notify_down);
	}
	free(cl->services);
	free(cl->notify.all);
	free(cl->notify.active);
	free(cl->notify.standby);
	free(cl->notify.fault);
	free(cl->notify.stop);
}

void dd_config_free(struct dd_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_clusters; i++)
		dd_cluster_free(&c->clusters[i]);
	free(c->clusters);
	for (size_t i = 0; i < c->n_track_scripts; i++) {
		free(c->track_scripts[i].command);
		free(c->track_scripts[i].user);
	}
	free(c->track_scripts);
	for (size_t i = 0; i < c->hb.n_peers; i++)
		free(c->hb.peers[i].links);
	free(c->hb.peers);
	free(c->hb.key_file);
	free(c->hb.state_file);
	free(c->alert.notify);
	free(c->scripts.user);
	free(c->scripts.group);
	free(c->control.socket_path);
	free(c->control.group);
	free(c->control.metrics_listen);
	free(c->snmp.agentx_socket);
	free(c->pid_file);
	free(c->path);
	free(c);
}
