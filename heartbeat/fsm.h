/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/fsm.h: the role state machine of one cluster, as a pure module.
 *
 * Inputs: what the peer last said about this cluster (or that it is
 * silent), the local fault state, operator requests and the clock. Output:
 * at most one role change per step, with the reason in words. No sockets,
 * no timers, no clock reads: the heartbeat thread drives it and the unit
 * tests drive it the same way. The rules are in doc/heartbeat-protocol.md.
 */
#ifndef DD_HB_FSM_H
#define DD_HB_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/model.h"
#include "heartbeat/proto.h"

#define DD_FSM_REASON_MAX 256

/* Why a role changed, as a value (the words are in dd_fsm_out.reason).
 * dd_fsm_why_name() gives the stable token outputs use. */
enum dd_fsm_why {
	DD_WHY_NONE = 0,
	DD_WHY_FAULT,              /* a local monitor failed */
	DD_WHY_FAULT_CLEARED,
	DD_WHY_NO_PEER,            /* standalone: nobody to wait for */
	DD_WHY_PEER_SILENT,        /* the peer is silent, or was never heard */
	DD_WHY_PEER_UNBELIEVED,    /* heard, but its keepalives cannot be believed */
	DD_WHY_PEER_LACKS_CLUSTER, /* the peer is alive but does not run it */
	DD_WHY_PEER_ACTIVE,
	DD_WHY_PEER_STANDING_DOWN,
	DD_WHY_PEER_FAULT,
	DD_WHY_PRIORITY,           /* an election: priority, then node name */
	DD_WHY_HANDED_OVER,        /* we stood down and the peer took over */
	DD_WHY_SPLIT_BRAIN,
	DD_WHY_STOPPING,           /* the engine stopped while active */
	DD_WHY_TRACK_SCRIPT,       /* a track script of weight 0 failed */
};
#define DD_WHY_COUNT (DD_WHY_TRACK_SCRIPT + 1)
const char *dd_fsm_why_name(enum dd_fsm_why w);

/* What the peer last told us about this cluster. */
struct dd_fsm_peer {
	const char *name;
	bool none;              /* no peer configured: a standalone director,
				 * with nobody to wait for or defer to */
	bool alive;             /* a valid heartbeat within its dead time */
	bool unbelieved;        /* !alive, but its address sends keepalives we
				 * cannot believe (another key, version, name) */
	bool has_cluster;       /* its last heartbeat listed this cluster */
	enum dd_role role;
	uint8_t priority;
	uint8_t flags;          /* DD_HB_CF_* */
	const char *silence;    /* when !alive: "silent for 312 ms on 2/2 links" */
	const char *none_why;   /* with none: why there is none; NULL: not configured */
};

struct dd_fsm {
	char cluster[DD_NAME_MAX];
	char self[DD_NAME_MAX];
	uint8_t priority;
	bool failback;
	uint32_t failback_delay_ms;
	uint32_t init_wait_ms;      /* how long INIT waits to hear the peer */
	uint32_t handover_wait_ms;  /* how long a release waits for the peer */

	enum dd_role role;
	enum dd_fsm_why why;        /* of the last role change */
	uint64_t since_ms;          /* entered the current role */
	uint64_t start_ms;
	bool fault_known;           /* monitors have an answer (first probe done) */
	bool fault;
	enum dd_fsm_why fault_why;  /* DD_WHY_FAULT or DD_WHY_TRACK_SCRIPT */
	char fault_reason[DD_FSM_REASON_MAX];
	bool releasing;             /* active, announcing that it stands down */
	uint64_t release_ms;
	char release_reason[DD_FSM_REASON_MAX];
	bool want_takeover;         /* standby asked the active to stand down */
	uint64_t want_ms;
	uint64_t failback_since;    /* 0: no failback pending */
	bool split_brain;           /* peer claims active too (episode not over) */
};

struct dd_fsm_out {
	bool changed;
	enum dd_role old_role, new_role;
	enum dd_fsm_why why;
	char reason[DD_FSM_REASON_MAX];
	bool reannounce;        /* stay active but announce the VIPs again */
	bool note;              /* something worth a log line without a role change */
	char note_text[DD_FSM_REASON_MAX];
};

void dd_fsm_init(struct dd_fsm *f, const char *cluster, const char *self, uint8_t priority,
		 bool failback, uint32_t failback_delay_ms, uint32_t init_wait_ms,
		 uint32_t handover_wait_ms, uint64_t now_ms);

/* Local fault from the monitors (tracked interfaces, ping targets, gateway). */
void dd_fsm_set_fault(struct dd_fsm *f, bool fault, const char *reason);
/* The same with the reason code a fault's role change gets (a track
 * script's: DD_WHY_TRACK_SCRIPT). */
void dd_fsm_set_fault_why(struct dd_fsm *f, bool fault, enum dd_fsm_why why, const char *reason);

/* One evaluation. Call after every input change and at dd_fsm_deadline().
 * Makes at most one role change; call again while out->changed. */
void dd_fsm_step(struct dd_fsm *f, const struct dd_fsm_peer *peer, uint64_t now_ms,
		 struct dd_fsm_out *out);

/* Operator requests. Return 0, or -1 with a reason in `why`. */
int dd_fsm_release(struct dd_fsm *f, const struct dd_fsm_peer *peer, uint64_t now_ms,
		   const char *reason, char *why, size_t whylen);
int dd_fsm_takeover(struct dd_fsm *f, const struct dd_fsm_peer *peer, uint64_t now_ms,
		    char *why, size_t whylen);

/* Flags to put in our own heartbeat for this cluster. */
uint8_t dd_fsm_flags(const struct dd_fsm *f);

/* Earliest time (ms) at which a step may change something without any new
 * input; UINT64_MAX if none. */
uint64_t dd_fsm_deadline(const struct dd_fsm *f);

/* Who wins an election: higher priority, then the smaller node name. */
bool dd_fsm_wins(uint8_t prio_a, const char *name_a, uint8_t prio_b, const char *name_b);

#endif
