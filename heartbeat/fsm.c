/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/fsm.c: per-cluster role state machine (see fsm.h). Pure: run by
 * the heartbeat thread and by the unit tests, never touches the outside. */
#include "config.h"
#include "heartbeat/fsm.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

void dd_fsm_init(struct dd_fsm *f, const char *cluster, const char *self, uint8_t priority,
		 bool failback, uint32_t failback_delay_ms, uint32_t init_wait_ms,
		 uint32_t handover_wait_ms, uint64_t now_ms)
{
	memset(f, 0, sizeof *f);
	copy(f->cluster, sizeof f->cluster, cluster);
	copy(f->self, sizeof f->self, self);
	f->priority = priority;
	f->failback = failback;
	f->failback_delay_ms = failback_delay_ms;
	f->init_wait_ms = init_wait_ms;
	f->handover_wait_ms = handover_wait_ms;
	f->role = DD_ROLE_INIT;
	f->since_ms = f->start_ms = now_ms;
}

void dd_fsm_set_fault_why(struct dd_fsm *f, bool fault, enum dd_fsm_why why, const char *reason)
{
	f->fault_known = true;
	f->fault = fault;
	f->fault_why = fault ? why : DD_WHY_NONE;
	copy(f->fault_reason, sizeof f->fault_reason, reason);
}

void dd_fsm_set_fault(struct dd_fsm *f, bool fault, const char *reason)
{
	dd_fsm_set_fault_why(f, fault, DD_WHY_FAULT, reason);
}

bool dd_fsm_wins(uint8_t prio_a, const char *name_a, uint8_t prio_b, const char *name_b)
{
	if (prio_a != prio_b)
		return prio_a > prio_b;
	return strcmp(name_a, name_b) < 0;
}

uint8_t dd_fsm_flags(const struct dd_fsm *f)
{
	uint8_t fl = 0;
	if (f->role == DD_ROLE_ACTIVE && f->releasing)
		fl |= DD_HB_CF_STANDING_DOWN;
	if (f->role == DD_ROLE_STANDBY && f->want_takeover)
		fl |= DD_HB_CF_WANT_TAKEOVER;
	return fl;
}

const char *dd_fsm_why_name(enum dd_fsm_why w)
{
	switch (w) {
	case DD_WHY_NONE: return "none";
	case DD_WHY_FAULT: return "fault";
	case DD_WHY_FAULT_CLEARED: return "fault-cleared";
	case DD_WHY_NO_PEER: return "no-peer";
	case DD_WHY_PEER_SILENT: return "peer-silent";
	case DD_WHY_PEER_UNBELIEVED: return "peer-not-believed";
	case DD_WHY_PEER_LACKS_CLUSTER: return "peer-lacks-cluster";
	case DD_WHY_PEER_ACTIVE: return "peer-active";
	case DD_WHY_PEER_STANDING_DOWN: return "peer-standing-down";
	case DD_WHY_PEER_FAULT: return "peer-fault";
	case DD_WHY_PRIORITY: return "priority";
	case DD_WHY_HANDED_OVER: return "handed-over";
	case DD_WHY_SPLIT_BRAIN: return "split-brain";
	case DD_WHY_STOPPING: return "stopping";
	case DD_WHY_TRACK_SCRIPT: return "track-script";
	}
	return "?";
}

static void go(struct dd_fsm *f, struct dd_fsm_out *out, enum dd_role to, enum dd_fsm_why why,
	       uint64_t now, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void go(struct dd_fsm *f, struct dd_fsm_out *out, enum dd_role to, enum dd_fsm_why why,
	       uint64_t now, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof out->reason, fmt, ap);
	va_end(ap);
	out->changed = true;
	out->old_role = f->role;
	out->new_role = to;
	out->why = why;
	f->role = to;
	f->why = why;
	f->since_ms = now;
	f->releasing = false;
	f->want_takeover = false;
	f->failback_since = 0;
	f->split_brain = false;
}

static void note(struct dd_fsm_out *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct dd_fsm_out *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->note_text, sizeof out->note_text, fmt, ap);
	va_end(ap);
	out->note = true;
}

/* The peer as a contender for this cluster: it must be alive and run it. */
static bool peer_up(const struct dd_fsm_peer *p)
{
	return p->alive && p->has_cluster;
}

static enum dd_fsm_why peer_gone(const struct dd_fsm_peer *p, char *buf, size_t n)
{
	if (p->none) {
		snprintf(buf, n, "%s", p->none_why ? p->none_why : "no peer configured");
		return DD_WHY_NO_PEER;
	}
	if (!p->alive) {
		snprintf(buf, n, "peer %s %s", p->name, p->silence && *p->silence ? p->silence : "silent");
		return p->unbelieved ? DD_WHY_PEER_UNBELIEVED : DD_WHY_PEER_SILENT;
	}
	snprintf(buf, n, "peer %s does not run this cluster", p->name);
	return DD_WHY_PEER_LACKS_CLUSTER;
}

void dd_fsm_step(struct dd_fsm *f, const struct dd_fsm_peer *p, uint64_t now,
		 struct dd_fsm_out *out)
{
	memset(out, 0, sizeof *out);
	char tmp[DD_FSM_REASON_MAX];
	bool up = peer_up(p);
	bool peer_active = up && p->role == DD_ROLE_ACTIVE;
	bool peer_leaving = peer_active && (p->flags & DD_HB_CF_STANDING_DOWN);
	bool we_win = dd_fsm_wins(f->priority, f->self, p->priority, p->name);

	if (f->fault) {
		if (f->role != DD_ROLE_FAULT)
			go(f, out, DD_ROLE_FAULT, f->fault_why ? f->fault_why : DD_WHY_FAULT, now, "%s",
			   f->fault_reason);
		return;
	}

	switch (f->role) {
	case DD_ROLE_STOPPED:
		return; /* only the engine reports it; no machine is in it */

	case DD_ROLE_FAULT:
		go(f, out, DD_ROLE_STANDBY, DD_WHY_FAULT_CLEARED, now, "fault cleared");
		return;

	case DD_ROLE_INIT:
		if (!f->fault_known)
			return; /* the monitors have not answered: do not claim anything yet */
		if (up) {
			if (peer_leaving)
				go(f, out, DD_ROLE_ACTIVE, DD_WHY_PEER_STANDING_DOWN, now, "peer %s is standing down", p->name);
			else if (peer_active)
				go(f, out, DD_ROLE_STANDBY, DD_WHY_PEER_ACTIVE, now, "peer %s is active", p->name);
			else if (p->role == DD_ROLE_FAULT)
				go(f, out, DD_ROLE_ACTIVE, DD_WHY_PEER_FAULT, now, "peer %s is in fault", p->name);
			else if (we_win)
				go(f, out, DD_ROLE_ACTIVE, DD_WHY_PRIORITY, now, "no active director, priority %u beats peer %s (%u)",
				   f->priority, p->name, p->priority);
			else
				go(f, out, DD_ROLE_STANDBY, DD_WHY_PRIORITY, now, "peer %s has precedence (priority %u, ours %u)",
				   p->name, p->priority, f->priority);
		} else if (p->none) {
			/* Nobody to hear from: waiting would only delay the VIPs. */
			enum dd_fsm_why why = peer_gone(p, tmp, sizeof tmp);
			go(f, out, DD_ROLE_ACTIVE, why, now, "%s", tmp);
		} else if (now - f->start_ms >= f->init_wait_ms) {
			enum dd_fsm_why why = peer_gone(p, tmp, sizeof tmp);
			go(f, out, DD_ROLE_ACTIVE, why, now, "%s since start", tmp);
		}
		return;

	case DD_ROLE_STANDBY:
		if (!up) {
			enum dd_fsm_why why = peer_gone(p, tmp, sizeof tmp);
			go(f, out, DD_ROLE_ACTIVE, why, now, "%s", tmp);
		} else if (peer_leaving) {
			go(f, out, DD_ROLE_ACTIVE, DD_WHY_PEER_STANDING_DOWN, now, "peer %s is standing down", p->name);
		} else if (p->role == DD_ROLE_FAULT) {
			go(f, out, DD_ROLE_ACTIVE, DD_WHY_PEER_FAULT, now, "peer %s is in fault", p->name);
		} else if (!peer_active && we_win) {
			go(f, out, DD_ROLE_ACTIVE, DD_WHY_PRIORITY, now, "no active director, priority %u beats peer %s (%u)",
			   f->priority, p->name, p->priority);
		} else if (f->want_takeover && now - f->want_ms >= f->handover_wait_ms) {
			f->want_takeover = false;
			note(out, "takeover request timed out: peer %s did not stand down within %u ms",
			     p->name, f->handover_wait_ms);
		}
		return;

	case DD_ROLE_ACTIVE:
		if (f->releasing) {
			if (peer_active && !peer_leaving) {
				go(f, out, DD_ROLE_STANDBY, DD_WHY_HANDED_OVER, now, "%s; peer %s took over", f->release_reason, p->name);
			} else if (now - f->release_ms >= f->handover_wait_ms) {
				f->releasing = false;
				note(out, "handover cancelled: peer %s did not take over within %u ms",
				     p->name, f->handover_wait_ms);
			}
			return;
		}
		if (peer_active && !peer_leaving) {
			if (!we_win) {
				go(f, out, DD_ROLE_STANDBY, DD_WHY_SPLIT_BRAIN, now,
				   "split brain: peer %s is active too and has precedence (priority %u, ours %u)",
				   p->name, p->priority, f->priority);
			} else if (!f->split_brain) {
				f->split_brain = true;
				out->reannounce = true;
				note(out, "split brain: peer %s is active too; we have precedence (priority %u, peer %u), announcing again",
				     p->name, f->priority, p->priority);
			}
			return;
		}
		f->split_brain = false;
		if (up && p->role == DD_ROLE_STANDBY && (p->flags & DD_HB_CF_WANT_TAKEOVER)) {
			f->releasing = true;
			f->release_ms = now;
			snprintf(f->release_reason, sizeof f->release_reason,
				 "peer %s requested takeover", p->name);
			note(out, "standing down: %s", f->release_reason);
			return;
		}
		if (f->failback && up && p->role == DD_ROLE_STANDBY &&
		    !we_win) {
			if (!f->failback_since)
				f->failback_since = now ? now : 1;
			if (now - f->failback_since >= f->failback_delay_ms) {
				f->failback_since = 0;
				f->releasing = true;
				f->release_ms = now;
				snprintf(f->release_reason, sizeof f->release_reason,
					 "failback to peer %s (priority %u, ours %u)",
					 p->name, p->priority, f->priority);
				note(out, "standing down: %s", f->release_reason);
			}
		} else {
			f->failback_since = 0;
		}
		return;
	}
}

int dd_fsm_release(struct dd_fsm *f, const struct dd_fsm_peer *p, uint64_t now,
		   const char *reason, char *why, size_t whylen)
{
	if (f->role != DD_ROLE_ACTIVE) {
		snprintf(why, whylen, "cluster %s is %s, not active", f->cluster, dd_role_name(f->role));
		return -1;
	}
	if (p->none) {
		snprintf(why, whylen, "cluster %s has no peer to hand over to", f->cluster);
		return -1;
	}
	if (!peer_up(p) || p->role == DD_ROLE_FAULT || p->role == DD_ROLE_INIT) {
		snprintf(why, whylen, "peer %s cannot take over cluster %s (%s)", p->name, f->cluster,
			 !p->alive ? "silent" : !p->has_cluster ? "does not run it" : dd_role_name(p->role));
		return -1;
	}
	f->releasing = true;
	f->release_ms = now;
	copy(f->release_reason, sizeof f->release_reason, reason);
	return 0;
}

int dd_fsm_takeover(struct dd_fsm *f, const struct dd_fsm_peer *p, uint64_t now,
		    char *why, size_t whylen)
{
	if (f->role == DD_ROLE_ACTIVE) {
		snprintf(why, whylen, "cluster %s is already active", f->cluster);
		return -1;
	}
	if (f->role != DD_ROLE_STANDBY) {
		snprintf(why, whylen, "cluster %s is %s, cannot take over", f->cluster, dd_role_name(f->role));
		return -1;
	}
	if (!peer_up(p) || p->role != DD_ROLE_ACTIVE) {
		snprintf(why, whylen, "peer %s is not active for cluster %s", p->name, f->cluster);
		return -1;
	}
	f->want_takeover = true;
	f->want_ms = now;
	return 0;
}

uint64_t dd_fsm_deadline(const struct dd_fsm *f)
{
	uint64_t d = UINT64_MAX;
	/* INIT without a monitor verdict waits for the monitor, not the clock. */
	if (f->role == DD_ROLE_INIT && f->fault_known)
		d = f->start_ms + f->init_wait_ms;
	if (f->releasing && f->release_ms + f->handover_wait_ms < d)
		d = f->release_ms + f->handover_wait_ms;
	if (f->want_takeover && f->want_ms + f->handover_wait_ms < d)
		d = f->want_ms + f->handover_wait_ms;
	if (f->failback_since && f->failback_since + f->failback_delay_ms < d)
		d = f->failback_since + f->failback_delay_ms;
	return d;
}
