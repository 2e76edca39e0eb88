/* heartbeat/garp.h: announce a VIP on its link: gratuitous ARP (IPv4) or an
 * unsolicited neighbour advertisement (IPv6), sent on AF_PACKET so that it
 * does not depend on routing or on the address having finished DAD. Called
 * from the heartbeat thread right after the VIP is added. No state. */
#ifndef DD_HB_GARP_H
#define DD_HB_GARP_H

#include <stddef.h>

#include "conf/model.h"
#include "lib/addr.h"

/* Sends one announcement. Returns 0, or -1 with a message in err. */
int dd_garp_send(const struct dd_addr *vip, const char *ifname, enum dd_garp_mode mode,
		 char *err, size_t errlen);

#endif
