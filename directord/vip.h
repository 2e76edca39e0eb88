/* directord/vip.h: add and remove a cluster's virtual addresses over
 * rtnetlink (libnl-route). Each user owns its own handle (socket); the
 * heartbeat thread has one so that a takeover never waits for the main
 * loop's netlink traffic. */
#ifndef DD_VIP_H
#define DD_VIP_H

#include <stddef.h>

#include "conf/model.h"

struct dd_vipctl;

struct dd_vipctl *dd_vipctl_new(char *err, size_t errlen);
void dd_vipctl_free(struct dd_vipctl *c);

/* Both are idempotent: adding a present address or removing an absent one
 * succeeds. Return 0, or -1 with a message in err. */
int dd_vip_add(struct dd_vipctl *c, const struct dd_vip *v, char *err, size_t errlen);
int dd_vip_del(struct dd_vipctl *c, const struct dd_vip *v, char *err, size_t errlen);

/* "192.0.2.10/32 on eth0" */
const char *dd_vip_str(const struct dd_vip *v, char *buf, size_t len);

#endif
