/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/track.c: what the track scripts (keepalived's vrrp_script and
 * track_script) do to a cluster, on the heartbeat thread: a failed script
 * of weight 0 puts it in fault; any other weight moves its effective
 * priority, which the keepalives carry, so the peer's state machine and
 * ours decide a handover by the usual rules (fsm.c). The scripts run on
 * the main loop (directord/track.c); their states arrive here as values
 * through dd_failover_track(). Also where the monitors' verdict meets the
 * state machine, since both are local inputs of one cluster.
 */
#include "config.h"
#include "heartbeat/engine.h"
#include "heartbeat/monitor.h"

#include <stdio.h>
#include <string.h>

static struct dd_track_state *find(struct dd_failover *fo, const char *name)
{
	for (size_t i = 0; i < fo->n_track; i++)
		if (strcmp(fo->track[i].name, name) == 0)
			return &fo->track[i];
	return NULL;
}

static bool tracked(const struct dd_failover *fo, const char *name)
{
	for (size_t i = 0; i < fo->conf->n_clusters; i++) {
		const struct dd_cluster *cl = &fo->conf->clusters[i];
		for (size_t k = 0; k < cl->n_track; k++)
			if (strcmp(cl->track[k].name, name) == 0)
				return true;
	}
	return false;
}

void fo_track_set(struct dd_failover *fo, const struct dd_track_state *st)
{
	struct dd_track_state *t = find(fo, st->name);
	if (!t) {
		/* Only what a cluster follows; the loader bounds that. */
		if (!tracked(fo, st->name) || fo->n_track == DD_MAX_TRACK_SCRIPTS)
			return;
		t = &fo->track[fo->n_track++];
	}
	*t = *st;
}

void fo_track_prune(struct dd_failover *fo)
{
	size_t k = 0;
	for (size_t i = 0; i < fo->n_track; i++)
		if (tracked(fo, fo->track[i].name))
			fo->track[k++] = fo->track[i];
	fo->n_track = k;
}

static void failure_words(const struct dd_track_state *t, char *buf, size_t len)
{
	switch (t->how) {
	case DD_TRACK_EXITED:
		snprintf(buf, len, "track script %s failed: exit status %d", t->name, t->code);
		break;
	case DD_TRACK_SIGNALLED:
		snprintf(buf, len, "track script %s failed: killed by signal %d", t->name, t->code);
		break;
	case DD_TRACK_TIMED_OUT:
		snprintf(buf, len, "track script %s failed: timeout after %u ms", t->name, t->timeout_ms);
		break;
	case DD_TRACK_NOT_RUN:
		snprintf(buf, len, "track script %s failed: could not be run", t->name);
		break;
	}
}

void fo_cluster_inputs(struct dd_failover *fo, struct fo_cluster *c, bool *changed)
{
	const struct dd_cluster *cl = c->cfg;
	bool mknown;
	char reason[DD_FSM_REASON_MAX];
	bool mfault = dd_monitor_fault(fo->mon, c->mon, &mknown, reason, sizeof reason);

	/* keepalived's arithmetic: the base priority, plus the weight of each
	 * OK script with weight > 0, plus (it is negative) the weight of each
	 * failed one with weight < 0, clamped to 1..254. */
	long prio = (long)cl->priority;
	bool tknown = true, tfault = false;
	char treason[DD_FSM_REASON_MAX] = "";
	for (size_t k = 0; k < cl->n_track; k++) {
		const struct dd_track_state *t = find(fo, cl->track[k].name);
		int32_t w = cl->track[k].weight;
		if (!t || !t->known) {
			tknown = false;
			continue;
		}
		if (w == 0 && !t->ok && !tfault) {
			tfault = true;
			failure_words(t, treason, sizeof treason);
		}
		if (w > 0 && t->ok)
			prio += w;
		else if (w < 0 && !t->ok)
			prio += w;
	}
	prio = prio < 1 ? 1 : prio > 254 ? 254 : prio;
	if (c->fsm.priority != (uint8_t)prio) {
		log_notice(SUB, "cluster %s: effective priority %u -> %ld (base %u, track scripts)",
			   cl->name, c->fsm.priority, prio, cl->priority);
		c->fsm.priority = (uint8_t)prio;
		*changed = true;
	}
	/* Known once every input has an answer, or as soon as one says fault:
	 * INIT waits for that, as it waits for the monitors. Once known, a
	 * script without a result yet (new in a reload) holds nothing up. */
	if (mknown && mfault)
		dd_fsm_set_fault(&c->fsm, true, reason);
	else if (tfault)
		dd_fsm_set_fault_why(&c->fsm, true, DD_WHY_TRACK_SCRIPT, treason);
	else if (mknown && (tknown || c->fsm.fault_known))
		dd_fsm_set_fault(&c->fsm, false, "");
}
