/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ctl.c: the control socket server: request parsing, peer
 * credentials, the command table, and dispatch to the daemon's callbacks.
 * Runs on the daemon's main libev loop; see ctl.h for the protocol. */
#include "config.h"
#include "directord/ctl.h"
#include "directord/oneshot.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/util.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

struct dd_ctl {
	struct ev_loop *loop;
	struct dd_ctl_ops ops;
	struct dd_oneshot *srv;
	char *path;
	dev_t dev;              /* the socket file we bound, to remove only ours */
	ino_t ino;
	bool has_group;
	gid_t gid;
	struct dd_ctl_stats st;
	struct dlog_ratelimit rl; /* for lines any local user can provoke */
};

static const char *const status_words[] = {
	[DD_CTL_OK] = "ok", [DD_CTL_FAILED] = "failed", [DD_CTL_USAGE] = "usage",
	[DD_CTL_DENIED] = "denied", [DD_CTL_UNAVAILABLE] = "unavailable", [DD_CTL_BUSY] = "busy",
};

const char *dd_ctl_status_word(enum dd_ctl_status s)
{
	return (size_t)s < ARRAY_SIZE(status_words) ? status_words[s] : "failed";
}

int dd_ctl_status_from_word(const char *w, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_words); i++)
		if (strlen(status_words[i]) == len && memcmp(status_words[i], w, len) == 0)
			return (int)i;
	return -1;
}

int dd_ctl_parse(const char *line, size_t len, struct dd_ctl_req *req, char *err, size_t errlen)
{
	memset(req, 0, offsetof(struct dd_ctl_req, cmd)); /* buf: only what is used */
	req->cmd = NULL;
	req->argc = 0;
	req->json = false;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > DD_CTL_REQ_MAX - 1) {
		snprintf(err, errlen, "request longer than %d bytes", DD_CTL_REQ_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			snprintf(err, errlen, "request has a control byte 0x%02x at offset %zu; "
				 "send one line of text", ch, i);
			return -1;
		}
	}
	memcpy(req->buf, line, len);
	req->buf[len] = '\0';

	char *save = NULL;
	for (char *t = strtok_r(req->buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (t[0] == '-' && t[1] == '-') {
			if (strcmp(t, "--json") == 0) {
				req->json = true;
				continue;
			}
			snprintf(err, errlen, "unknown option '%.64s'", t);
			return -1;
		}
		if (!req->cmd) {
			req->cmd = t;
			continue;
		}
		if (req->argc == DD_CTL_ARGS_MAX) {
			snprintf(err, errlen, "more than %d arguments", DD_CTL_ARGS_MAX);
			return -1;
		}
		req->argv[req->argc++] = t;
	}
	if (!req->cmd) {
		snprintf(err, errlen, "empty request");
		return -1;
	}
	return 0;
}

bool dd_ctl_parse_hostport(const char *s, struct dd_addr *a, uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 2];
	*port = 0;
	if (dd_addr_parse(s, a))
		return true;
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = '\0';
		h++;
	}
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || p == 0 || p > 65535 || !dd_addr_parse(h, a))
		return false;
	*port = (uint16_t)p;
	return true;
}

static void error_body(struct dd_ctl_resp *r, enum dd_ctl_status st, const char *msg)
{
	r->status = st;
	r->body.len = 0;
	if (r->body.p)
		r->body.p[0] = '\0';
	if (r->json) {
		struct dd_json j;
		dd_json_init(&j, &r->body, true);
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "error", dd_ctl_status_word(st));
		dd_json_kstr(&j, "message", msg);
		dd_json_obj_end(&j);
	} else {
		dd_buf_printf(&r->body, "%s\n", msg);
	}
}

void dd_ctl_error(struct dd_ctl_resp *r, enum dd_ctl_status st, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	error_body(r, st, msg);
}

enum priv { OPEN, PRIV, PRIV_IF_ARG };

struct cmd {
	const char *name;
	int min_args, max_args;
	enum priv priv;
	bool json;
	size_t op;              /* offset of the callback in struct dd_ctl_ops */
	const char *usage;
};

#define OP(f) offsetof(struct dd_ctl_ops, f)
#define OP_BUILTIN ((size_t)-1)

/* plan and check with a FILE make the daemon (root) read any file and quote
 * it in error messages: that needs the same privilege as a change. */
static const struct cmd cmds[] = {
	{ "status", 0, 1, OPEN, true, OP(status), "status [CLUSTER]" },
	{ "metrics", 0, 0, OPEN, false, OP(metrics), "metrics" },
	{ "takeover", 1, 1, PRIV, true, OP(takeover), "takeover CLUSTER" },
	{ "release", 1, 1, PRIV, true, OP(release), "release CLUSTER" },
	{ "drain", 1, 2, PRIV, true, OP(drain), "drain [SERVICE] SERVER[:PORT]" },
	{ "enable", 1, 2, PRIV, true, OP(enable), "enable [SERVICE] SERVER[:PORT]" },
	{ "reload", 0, 0, PRIV, true, OP(reload), "reload" },
	{ "plan", 0, 1, PRIV_IF_ARG, true, OP(plan), "plan [FILE]" },
	{ "check", 0, 1, PRIV_IF_ARG, true, OP(check), "check [FILE]" },
	{ "drain-director", 0, 0, PRIV, true, OP(drain_director), "drain-director" },
	{ "undrain-director", 0, 0, PRIV, true, OP(undrain_director), "undrain-director" },
	{ "version", 0, 0, OPEN, true, OP_BUILTIN, "version" },
};

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void builtin_version(const struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	if (r->json) {
		struct dd_json j;
		dd_json_init(&j, &r->body, true);
		dd_json_obj_begin(&j);
		dd_json_kstr(&j, "version", PACKAGE_VERSION);
		dd_json_kint(&j, "pid", (int64_t)getpid());
		dd_json_kbool(&j, "privileged", req->privileged);
		dd_json_obj_end(&j);
	} else {
		dd_buf_printf(&r->body, "%s (pid %ld)\n", PACKAGE_STRING, (long)getpid());
	}
}

static bool in_group(const struct dd_ctl *c, int fd, gid_t primary)
{
	if (!c->has_group)
		return false;
	if (primary == c->gid)
		return true;
	gid_t groups[256];
	socklen_t len = sizeof groups;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false; /* ERANGE: over 256 groups; ENOPROTOOPT: old kernel */
	for (size_t i = 0; i < len / sizeof groups[0]; i++)
		if (groups[i] == c->gid)
			return true;
	return false;
}

static void dispatch(struct dd_ctl *c, struct dd_ctl_req *req, struct dd_ctl_resp *r)
{
	const struct cmd *cmd = find_cmd(req->cmd);
	if (!cmd) {
		c->st.malformed++;
		dd_ctl_error(r, DD_CTL_USAGE, "unknown command '%.64s'", req->cmd);
		return;
	}
	if (req->argc < cmd->min_args || req->argc > cmd->max_args) {
		c->st.malformed++;
		dd_ctl_error(r, DD_CTL_USAGE, "usage: %s", cmd->usage);
		return;
	}
	if (req->json && !cmd->json) {
		r->json = false;
		dd_ctl_error(r, DD_CTL_USAGE, "%s has no --json output", cmd->name);
		return;
	}
	bool need = cmd->priv == PRIV || (cmd->priv == PRIV_IF_ARG && req->argc > 0);
	if (need && !req->privileged) {
		c->st.denied++;
		unsigned skipped;
		if (dlog_ratelimit_ok(&c->rl, &skipped))
			log_warn("ctl", "%s refused to uid %lu (pid %ld): not root and not in the control group"
				 " (%u similar lines suppressed)", cmd->name, (unsigned long)req->uid,
				 (long)req->pid, skipped);
		dd_ctl_error(r, DD_CTL_DENIED, "permission denied: %s needs root or membership in the control group",
			     cmd->name);
		return;
	}
	if (cmd->op == OP_BUILTIN) {
		builtin_version(req, r);
		return;
	}
	dd_ctl_fn fn = *(const dd_ctl_fn *)((const char *)&c->ops + cmd->op);
	if (!fn) {
		dd_ctl_error(r, DD_CTL_UNAVAILABLE, "%s: not available in this build", cmd->name);
		return;
	}
	if (need) {
		char args[256] = "";
		for (int i = 0; i < req->argc; i++)
			snprintf(args + strlen(args), sizeof args - strlen(args), " %s", req->argv[i]);
		log_notice("ctl", "%s%s requested by uid %lu (pid %ld)", cmd->name, args,
			   (unsigned long)req->uid, (long)req->pid);
	}
	fn(c->ops.ctx, req, r);
}

static size_t line_complete(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	return nl ? (size_t)(nl - buf) + 1 : 0;
}

static void on_request(void *ctx, int fd, const char *buf, size_t len, bool eof, struct dd_buf *out)
{
	struct dd_ctl *c = ctx;
	struct dd_ctl_req *req = xmalloc(sizeof *req);
	struct dd_ctl_resp r = { .status = DD_CTL_OK, .srv = c->srv };
	char err[256];

	c->st.requests++;
	if (eof && len == 0) {
		free(req);
		return; /* connected and left: nothing to answer */
	}
	if (dd_ctl_parse(buf, len, req, err, sizeof err) < 0) {
		c->st.malformed++;
		unsigned skipped;
		if (dlog_ratelimit_ok(&c->rl, &skipped))
			log_info("ctl", "malformed request rejected: %s (%u similar lines suppressed)",
				 err, skipped);
		dd_ctl_error(&r, DD_CTL_USAGE, "malformed request: %s", err);
	} else if (eof) {
		c->st.malformed++;
		dd_ctl_error(&r, DD_CTL_USAGE, "malformed request: no newline before end of input");
	} else {
		r.json = req->json;
		struct ucred cred;
		socklen_t cl = sizeof cred;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
			dd_ctl_error(&r, DD_CTL_DENIED, "cannot identify the peer: %s", strerror(errno));
		} else {
			req->pid = cred.pid;
			req->uid = cred.uid;
			req->gid = cred.gid;
			req->privileged = cred.uid == 0 || in_group(c, fd, cred.gid);
			dispatch(c, req, &r);
		}
	}
	if (r.later) {
		dd_buf_free(&r.body);
		free(req);
		return;
	}
	dd_ctl_reply_head(out, r.status);
	if (r.body.len)
		dd_buf_add(out, r.body.p, r.body.len);
	dd_buf_free(&r.body);
	free(req);
}

struct dd_ctl_later {
	struct dd_oneshot_ticket *ticket;
};

void dd_ctl_reply_head(struct dd_buf *out, enum dd_ctl_status st)
{
	dd_buf_puts(out, dd_ctl_status_word(st));
	dd_buf_add(out, "\n", 1);
}

struct dd_ctl_later *dd_ctl_defer(struct dd_ctl_resp *r)
{
	if (!r->later) {
		r->later = xcalloc(1, sizeof *r->later);
		r->later->ticket = dd_oneshot_defer(r->srv);
	}
	return r->later;
}

void dd_ctl_finish(struct dd_ctl_later *l, struct dd_buf *reply)
{
	if (l->ticket)
		dd_oneshot_finish(l->ticket, reply);
	else
		dd_buf_free(reply);
	free(l);
}

static int resolve_group(const struct dd_control *conf, bool *has, gid_t *gid, char **err)
{
	*has = false;
	if (!conf->group)
		return 0;
	struct group gr, *res = NULL;
	char buf[4096];
	int e = getgrnam_r(conf->group, &gr, buf, sizeof buf, &res);
	if (!res) {
		dd_seterr(err, "control group '%s' %s", conf->group,
			      e ? strerror(e) : "does not exist");
		return -1;
	}
	*has = true;
	*gid = gr.gr_gid;
	return 0;
}

/* A socket file left by a crashed daemon is replaced; a live one means
 * another daemon answers there, and anything that is not a socket (a
 * symlink above all) is not ours to replace. 0 when `base` is absent or a
 * stale socket that the rename in bind_socket may replace. */
static int check_target(int dfd, const char *path, const char *base, bool shared, char **err)
{
	struct stat sb;
	if (fstatat(dfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : (dd_seterr(err, "control socket %s: %s", path, strerror(errno)), -1);
	if (S_ISLNK(sb.st_mode)) {
		dd_seterr(err, "control socket %s is a symbolic link: refusing to use it", path);
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		dd_seterr(err, "control socket %s exists and is not a socket; not replacing it", path);
		return -1;
	}
	if (shared && sb.st_uid != geteuid()) {
		dd_seterr(err, "control socket %s is owned by another user: refusing to replace it", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		dd_seterr(err, "socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof sun.sun_path, "/proc/self/fd/%d/%s", dfd, base);
	int r = strlen(sun.sun_path) + 1 < sizeof sun.sun_path ? connect(fd, (struct sockaddr *)&sun, sizeof sun) : -1;
	close(fd);
	if (r == 0) {
		dd_seterr(err, "control socket %s is in use by another process", path);
		return -1;
	}
	return 0;
}

/* Mode and group go on the inode we bound, opened without following a
 * symlink: a name in the directory is looked up once, checked, and then
 * only the fd is used (chmod through /proc/self/fd, since fchmod refuses
 * an O_PATH fd and a socket cannot be opened otherwise). */
static int set_access(int dfd, const char *name, const char *path, dev_t dev, ino_t ino,
		      bool has_group, gid_t gid, uint32_t mode, char **err)
{
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		dd_seterr(err, "control socket %s: %s; restart directord to create it again", path,
			  strerror(errno));
		return -1;
	}
	struct stat sb;
	int rc = -1;
	char proc[64];
	if (fstat(fd, &sb) < 0) {
		dd_seterr(err, "control socket %s: %s", path, strerror(errno));
	} else if (S_ISLNK(sb.st_mode)) {
		dd_seterr(err, "control socket %s is a symbolic link: refusing to change its mode or group; "
			  "restart directord to create it again", path);
	} else if (!S_ISSOCK(sb.st_mode) || sb.st_dev != dev || sb.st_ino != ino) {
		dd_seterr(err, "control socket %s is no longer the socket directord bound: refusing to "
			  "change its mode or group; restart directord to create it again", path);
	} else if (fchownat(fd, "", 0, has_group ? gid : 0, AT_EMPTY_PATH) < 0 && geteuid() == 0) {
		dd_seterr(err, "cannot set the group of %s: %s", path, strerror(errno));
	} else if (snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd) < 0 ||
		   chmod(proc, (mode_t)(mode & 07777)) < 0) {
		dd_seterr(err, "cannot set mode %04o on %s: %s", (unsigned)mode, path, strerror(errno));
	} else {
		rc = 0;
	}
	close(fd);
	return rc;
}

/* Bound under a random name in the socket's directory, given its mode and
 * group there, renamed into place and only then listening: no client ever
 * reaches it with the umask's mode, and rename(2) replaces a name without
 * following it. The directory is the one dd_dir_open() checked, reached
 * through its fd, so a swapped path cannot steer the bind. */
static int bind_socket(const struct dd_control *conf, bool has_group, gid_t gid,
		       dev_t *dev, ino_t *ino, char **err)
{
	const char *path = conf->socket_path;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (!path || !path[0] || strlen(path) >= sizeof sun.sun_path) {
		dd_seterr(err, "control socket path '%s' is empty or longer than %zu bytes",
			path ? path : "", sizeof sun.sun_path - 1);
		return -1;
	}
	const char *base;
	bool shared;
	int dfd = dd_dir_open(path, &base, &shared, err);
	if (dfd < 0)
		return -1;
	if (check_target(dfd, path, base, shared, err) < 0) {
		close(dfd);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		dd_seterr(err, "socket: %s", strerror(errno));
		close(dfd);
		return -1;
	}
	char tmp[40];
	int r = -1;
	for (int tries = 0; r < 0 && tries < 16; tries++) {
		uint64_t rnd = mono_us() ^ ((uint64_t)getpid() << 32);
		unsigned char b[8];
		if (getentropy(b, sizeof b) == 0)
			for (int i = 0; i < 8; i++)
				rnd ^= (uint64_t)b[i] << (8 * i);
		snprintf(tmp, sizeof tmp, ".directord-ctl.%016llx", (unsigned long long)rnd);
		snprintf(sun.sun_path, sizeof sun.sun_path, "/proc/self/fd/%d/%s", dfd, tmp);
		r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
		if (r < 0 && errno != EADDRINUSE)
			break;
	}
	if (r < 0) {
		dd_seterr(err, "cannot bind control socket %s: %s", path, strerror(errno));
		close(fd);
		close(dfd);
		return -1;
	}
	struct stat sb;
	if (fstatat(dfd, tmp, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		dd_seterr(err, "control socket %s: %s", path, strerror(errno));
	} else if (set_access(dfd, tmp, path, sb.st_dev, sb.st_ino, has_group, gid, conf->mode, err) < 0) {
		/* the message is set */
	} else if (renameat(dfd, tmp, dfd, base) < 0) {
		dd_seterr(err, "cannot put control socket in place as %s: %s", path, strerror(errno));
	} else if (listen(fd, 64) < 0) {
		dd_seterr(err, "control socket %s: %s", path, strerror(errno));
		unlinkat(dfd, base, 0);
	} else {
		close(dfd);
		*dev = sb.st_dev;
		*ino = sb.st_ino;
		return fd;
	}
	unlinkat(dfd, tmp, 0);
	close(dfd);
	close(fd);
	return -1;
}

static void start_server(struct dd_ctl *c, int fd, const struct dd_control *conf)
{
	static const struct dd_oneshot_params base = {
		.name = "ctl",
		.max_request = DD_CTL_REQ_MAX,
		.timeout_s = DD_CTL_TIMEOUT_S,
		.idle_s = DD_CTL_IDLE_S,
		.reserved_root = DD_CONTROL_ROOT_SLOTS,
		.complete = line_complete,
		.handle = on_request,
		.too_long = "usage\nmalformed request: longer than 4096 bytes\n",
		.busy = "busy\ntoo many control clients; try again\n",
		.timed_out = "usage\nmalformed request: no complete line in time (2 s idle, 5 s in all)\n",
	};
	struct dd_oneshot_params p = base;
	p.ctx = c;
	p.max_conns = conf->max_clients;
	p.max_per_uid = conf->max_clients_per_uid;
	c->srv = dd_oneshot_new(c->loop, fd, &p);
}

static void remove_if_ours(const char *path, dev_t dev, ino_t ino)
{
	struct stat sb;
	if (lstat(path, &sb) == 0 && sb.st_dev == dev && sb.st_ino == ino)
		unlink(path);
}

struct dd_ctl *dd_ctl_new(struct ev_loop *loop, const struct dd_control *conf,
			  const struct dd_ctl_ops *ops, char **err)
{
	*err = NULL;
	struct dd_ctl *c = xcalloc(1, sizeof *c);
	c->loop = loop;
	c->ops = *ops;
	dlog_ratelimit_init(&c->rl, 10, 1.0);
	if (resolve_group(conf, &c->has_group, &c->gid, err) < 0) {
		free(c);
		return NULL;
	}
	int fd = bind_socket(conf, c->has_group, c->gid, &c->dev, &c->ino, err);
	if (fd < 0) {
		free(c);
		return NULL;
	}
	c->path = xstrdup(conf->socket_path);
	start_server(c, fd, conf);
	log_info("ctl", "control socket %s ready (mode %04o, group %s)", c->path,
		 (unsigned)conf->mode, conf->group ? conf->group : "root");
	return c;
}

int dd_ctl_reconfigure(struct dd_ctl *c, const struct dd_control *conf, char **err)
{
	*err = NULL;
	bool has_group;
	gid_t gid = 0;
	if (resolve_group(conf, &has_group, &gid, err) < 0)
		return -1;
	/* The path stays until restart, like the pid file: moving it would
	 * strand clients mid-request, the `reload` command's own among them. */
	if (strcmp(conf->socket_path, c->path) != 0)
		log_warn("ctl", "control.socket changed to %s; it takes effect at restart, "
			 "still listening on %s", conf->socket_path, c->path);
	dd_oneshot_set_limits(c->srv, conf->max_clients, conf->max_clients_per_uid);
	const char *base;
	bool shared;
	int dfd = dd_dir_open(c->path, &base, &shared, err);
	if (dfd < 0)
		return -1;
	int r = set_access(dfd, base, c->path, c->dev, c->ino, has_group, gid, conf->mode, err);
	close(dfd);
	if (r < 0)
		return -1;
	c->has_group = has_group;
	c->gid = gid;
	return 0;
}

void dd_ctl_free(struct dd_ctl *c)
{
	if (!c)
		return;
	dd_oneshot_free(c->srv);
	remove_if_ours(c->path, c->dev, c->ino);
	free(c->path);
	free(c);
}

void dd_ctl_get_stats(const struct dd_ctl *c, struct dd_ctl_stats *out)
{
	*out = c->st;
	struct dd_oneshot_stats os;
	dd_oneshot_get_stats(c->srv, &os);
	out->too_long = os.too_long;
	out->busy = os.rejected_busy;
}
