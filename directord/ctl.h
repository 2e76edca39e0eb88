/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ctl.h: the control socket (directorctl's server side).
 *
 * Protocol (documented for operators in directorctl(8)): a client connects
 * to the UNIX stream socket, sends ONE request line
 *
 *     COMMAND [ARG...] [--json]\n
 *
 * of at most DD_CTL_REQ_MAX bytes, and reads the reply until the server
 * closes. The reply's first line is a status word:
 *
 *     ok | failed | usage | denied | unavailable | busy
 *
 * and the rest is the body: text for people, or one JSON document with
 * --json (errors too: {"error": WORD, "message": TEXT}).
 *
 * Peers are identified with SO_PEERCRED (and SO_PEERGROUPS): read commands
 * are open to anyone who can connect; commands that change something, and
 * check and plan with a file, need uid 0 or membership in control.group.
 * Of control.max_clients connections, DD_CONTROL_ROOT_SLOTS are kept for
 * uid 0 and no other uid holds more than control.max_clients_per_uid, so no
 * local user locks root out.
 *
 * The server knows nothing about the daemon's parts: the daemon fills a
 * struct dd_ctl_ops, and a NULL callback answers "unavailable" ("not
 * available in this build"). Runs on the daemon's main libev loop.
 */
#ifndef DD_DIRECTORD_CTL_H
#define DD_DIRECTORD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/model.h"
#include "directord/json.h"

struct ev_loop;

#define DD_CTL_REQ_MAX 4096     /* bytes, newline included */
#define DD_CTL_ARGS_MAX 8
#define DD_CTL_TIMEOUT_S 5.0    /* to send the request line */
#define DD_CTL_IDLE_S 2.0       /* with nothing sent, before a whole line */

enum dd_ctl_status {
	DD_CTL_OK,
	DD_CTL_FAILED,          /* the command ran and failed (bad config, no such cluster) */
	DD_CTL_USAGE,           /* malformed request, unknown command, wrong arguments */
	DD_CTL_DENIED,          /* the peer may not change things */
	DD_CTL_UNAVAILABLE,     /* not available in this build / this daemon */
	DD_CTL_BUSY,            /* too many clients */
};
const char *dd_ctl_status_word(enum dd_ctl_status s);
/* -1 if unknown */
int dd_ctl_status_from_word(const char *w, size_t len);

/* One parsed request. argv points into buf. */
struct dd_ctl_req {
	char buf[DD_CTL_REQ_MAX + 1];
	const char *cmd;
	int argc;
	const char *argv[DD_CTL_ARGS_MAX];
	bool json;
	/* the peer, from SO_PEERCRED */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool privileged;        /* root or member of control.group */
};

/* Parses one request (with or without its trailing newline). Rejects NUL
 * and control bytes, empty requests, unknown --options and more than
 * DD_CTL_ARGS_MAX arguments. 0, or -1 with a message in err. Pure; the
 * fuzz target calls it. */
int dd_ctl_parse(const char *line, size_t len, struct dd_ctl_req *req, char *err, size_t errlen);

/* "ADDR", "ADDR:PORT", "[IPv6]:PORT" or a bare IPv6 address, as operators
 * type real servers and listen addresses. *port is 0 when none is given. */
bool dd_ctl_parse_hostport(const char *s, struct dd_addr *a, uint16_t *port);

/* The reply under construction. */
struct dd_ctl_later;
struct dd_oneshot;
struct dd_ctl_resp {
	enum dd_ctl_status status;
	bool json;              /* the request asked for --json */
	struct dd_buf body;
	struct dd_ctl_later *later; /* set by dd_ctl_defer */
	struct dd_oneshot *srv;     /* the server asked, for dd_ctl_defer */
};

/* The first line of every reply: the status word and a newline. */
void dd_ctl_reply_head(struct dd_buf *out, enum dd_ctl_status st);
/* In a command callback: the reply will be built later, off the main loop
 * (a large status). `status` and `body` are then ignored; the whole reply,
 * head included (dd_ctl_reply_head), goes to dd_ctl_finish, which must be
 * called exactly once, on the main loop (it may be called before the
 * callback returns). */
struct dd_ctl_later *dd_ctl_defer(struct dd_ctl_resp *r);
void dd_ctl_finish(struct dd_ctl_later *l, struct dd_buf *reply);
/* Sets an error status and writes the message as the body (as JSON when
 * the request asked for it). */
void dd_ctl_error(struct dd_ctl_resp *r, enum dd_ctl_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

typedef void (*dd_ctl_fn)(void *ctx, const struct dd_ctl_req *req, struct dd_ctl_resp *resp);

/* What the daemon provides. Arguments are checked for count before a
 * callback is called (see the command table in ctl.c); callbacks check
 * their meaning. */
struct dd_ctl_ops {
	void *ctx;
	dd_ctl_fn status;       /* status [CLUSTER] */
	dd_ctl_fn metrics;      /* metrics: Prometheus text (no --json) */
	dd_ctl_fn takeover;     /* takeover CLUSTER */
	dd_ctl_fn release;      /* release CLUSTER */
	dd_ctl_fn drain;        /* drain [SERVICE] SERVER */
	dd_ctl_fn enable;       /* enable [SERVICE] SERVER */
	dd_ctl_fn reload;       /* reload */
	dd_ctl_fn plan;         /* plan [FILE] */
	dd_ctl_fn check;        /* check [FILE] */
	dd_ctl_fn drain_director;   /* drain-director: ECMP, withdraw every VIP */
	dd_ctl_fn undrain_director; /* undrain-director */
};

struct dd_ctl;

/* Binds the socket (a stale socket file is replaced; a live one, a
 * symlink or another file is an error, and so is a directory that others
 * can write and is not sticky), sets owner group and mode before the
 * socket can be reached, listens. NULL with *err (malloc'd) on failure. */
struct dd_ctl *dd_ctl_new(struct ev_loop *loop, const struct dd_control *conf,
			  const struct dd_ctl_ops *ops, char **err);
/* Reload: new caps apply to new clients; a new group or mode is applied
 * to the socket, unless its name no longer leads to the socket bound (a
 * symlink planted there, say): then -1 with *err (malloc'd), nothing
 * changed. A new path takes effect at restart (logged). */
int dd_ctl_reconfigure(struct dd_ctl *c, const struct dd_control *conf, char **err);
/* Closes every connection, removes the socket file (if it is still ours). */
void dd_ctl_free(struct dd_ctl *c);

struct dd_ctl_stats {
	unsigned long long requests, denied, malformed, too_long, busy;
};
void dd_ctl_get_stats(const struct dd_ctl *c, struct dd_ctl_stats *out);

#endif
