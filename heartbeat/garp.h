/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heartbeat/garp.h: announce a VIP on its link: gratuitous ARP (IPv4) or an
 * unsolicited neighbour advertisement (IPv6), sent on AF_PACKET so that it
 * does not depend on routing or on the address having finished DAD. Called
 * from the heartbeat thread right after the VIP is added. No state. */
#ifndef DD_HB_GARP_H
#define DD_HB_GARP_H

#include <stddef.h>

#include "conf/model.h"
#include "lib/addr.h"

/* One long-lived send-only AF_PACKET socket (protocol 0: it never
 * receives). Opening and closing packet sockets costs an RCU grace period
 * each (~10 ms), which a takeover must not pay. */
struct dd_garp;
struct dd_garp *dd_garp_open(char **err);
void dd_garp_close(struct dd_garp *g);

/* Sends one announcement. Returns 0; 1 if the interface has no link-layer
 * neighbours to tell (not Ethernet); -1 with a message in err. */
int dd_garp_send(struct dd_garp *g, const struct dd_addr *vip, const char *ifname,
		 enum dd_garp_mode mode, char **err);

#endif
