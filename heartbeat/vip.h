/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/vip.h: add and remove a cluster's virtual addresses over
 * rtnetlink (libnl-route). Each user owns its own handle (socket); the
 * heartbeat thread has one so that a takeover never waits for the main
 * loop's netlink traffic. */
#ifndef DD_HB_VIP_H
#define DD_HB_VIP_H

#include <stddef.h>

#include "conf/model.h"

struct dd_vipctl;

struct dd_vipctl *dd_vipctl_new(char **err);
void dd_vipctl_free(struct dd_vipctl *c);

/* Both are idempotent: adding a present address or removing an absent one
 * succeeds. Return 0 (dd_vip_del: 1 if the address was there), or -1
 * with *err (malloc'd; the caller names the VIP). The address is found by dd_vip_same() identity:
 * address, prefix, interface and label. */
int dd_vip_add(struct dd_vipctl *c, const struct dd_vip *v, char **err);
int dd_vip_del(struct dd_vipctl *c, const struct dd_vip *v, char **err);

/* Drops the kernel's neighbour entry for a on ifname, so that the next
 * packet to it resolves at once. A heartbeat link that was cut leaves the
 * peer's entry waiting up to a second (the ARP/ND retransmit time) for its
 * next probe, with our keepalives queued behind it: a split brain would
 * outlive the cut by that long. 0, or -1 with *err. */
struct dd_addr;
int dd_neigh_forget(struct dd_vipctl *c, const struct dd_addr *a, const char *ifname, char **err);

/* "192.0.2.10/32 on eth0" */
const char *dd_vip_str(const struct dd_vip *v, char *buf, size_t len);

#endif
