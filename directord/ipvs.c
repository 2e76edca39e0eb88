/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ipvs.c: IPVS over generic netlink with libnl-3.
 *
 * libnl builds and parses the messages and resolves the family; the batch
 * I/O is done on the socket's fd directly, because libnl sends and waits for
 * one message at a time. A batch is many requests concatenated into one
 * sendmsg(2): the kernel handles each in turn and queues one ACK (or error)
 * per request, matched back to its op by sequence number. Batches are kept
 * small enough that their ACKs fit the receive buffer.
 *
 * Runs wherever its caller runs (the daemon's main loop); blocking calls.
 */
#include "config.h"
#include "directord/ipvs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "directord/ipvs_model.h"
#include "lib/log.h"
#include "lib/util.h"

#define BATCH_MAX_MSGS 256
#define BATCH_MAX_BYTES (128 * 1024)
#define RECV_BUF (256 * 1024)

struct ipvs {
	struct nl_sock *sk;
	int fd;
	int family;
	uint32_t version;
	uint32_t seq;
	uint8_t *rbuf;
	uint8_t *sbuf;
	struct ipvs_model *model; /* DIRECTORD_TEST_IPVS=model: no kernel at all */
};

/* ---------------------------------------------------------------- values */

static int cmp_u32(uint32_t a, uint32_t b) { return a < b ? -1 : a > b; }

int ipvs_svc_key_cmp(const struct ipvs_svc_key *a, const struct ipvs_svc_key *b)
{
	int c;
	if ((c = cmp_u32(a->af, b->af)))
		return c;
	if ((c = cmp_u32(a->protocol, b->protocol)))
		return c;
	if ((c = cmp_u32(a->fwmark, b->fwmark)))
		return c;
	if ((c = cmp_u32(a->port, b->port)))
		return c;
	if (a->fwmark || !a->protocol)
		return 0;
	return dd_addr_cmp(&a->addr, &b->addr);
}

int ipvs_dest_key_cmp(const struct ipvs_dest *a, const struct ipvs_dest *b)
{
	int c = dd_addr_cmp(&a->addr, &b->addr);
	return c ? c : cmp_u32(a->port, b->port);
}

static const char *proto_name(uint16_t p)
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_SCTP: return "sctp";
	}
	return "?";
}

const char *ipvs_svc_key_str(const struct ipvs_svc_key *k, char *buf, size_t len)
{
	if (k->fwmark)
		snprintf(buf, len, "fwmark %u%s", k->fwmark, k->af == AF_INET6 ? " ipv6" : "");
	else {
		char a[DD_ADDR_STRLEN];
		snprintf(buf, len, "%s %s", proto_name(k->protocol),
			 dd_addr_port_str(&k->addr, k->port, a, sizeof(a)));
	}
	return buf;
}

const char *ipvs_fwd_name(uint32_t fwd)
{
	switch (fwd & IP_VS_CONN_F_FWD_MASK) {
	case IP_VS_CONN_F_MASQ: return "nat";
	case IP_VS_CONN_F_DROUTE: return "dr";
	case IP_VS_CONN_F_TUNNEL: return "tun";
	}
	return "?";
}

struct ipvs_service *ipvs_table_add(struct ipvs_table *t)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->svc = xrealloc(t->svc, t->cap * sizeof(*t->svc));
	}
	struct ipvs_service *s = &t->svc[t->n++];
	memset(s, 0, sizeof(*s));
	return s;
}

struct ipvs_dest *ipvs_service_add_dest(struct ipvs_service *s)
{
	/* grow in powers of two: capacity is implied by n_dests */
	size_t n = s->n_dests;
	if (n == 0 || (n & (n - 1)) == 0)
		s->dests = xrealloc(s->dests, (n ? n * 2 : 1) * sizeof(*s->dests));
	struct ipvs_dest *d = &s->dests[s->n_dests++];
	memset(d, 0, sizeof(*d));
	return d;
}

void ipvs_service_clear(struct ipvs_service *s)
{
	free(s->dests);
	s->dests = NULL;
	s->n_dests = 0;
}

void ipvs_table_free(struct ipvs_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		ipvs_service_clear(&t->svc[i]);
	free(t->svc);
	memset(t, 0, sizeof(*t));
}

static int svc_qcmp(const void *a, const void *b)
{
	return ipvs_svc_key_cmp(&((const struct ipvs_service *)a)->key,
				&((const struct ipvs_service *)b)->key);
}

static int dest_qcmp(const void *a, const void *b)
{
	return ipvs_dest_key_cmp(a, b);
}

void ipvs_table_sort(struct ipvs_table *t)
{
	if (t->n > 1)
		qsort(t->svc, t->n, sizeof(*t->svc), svc_qcmp);
	for (size_t i = 0; i < t->n; i++)
		if (t->svc[i].n_dests > 1)
			qsort(t->svc[i].dests, t->svc[i].n_dests, sizeof(struct ipvs_dest), dest_qcmp);
}

const struct ipvs_dest *ipvs_service_find_dest(const struct ipvs_service *s, const struct dd_addr *a,
					       uint16_t port)
{
	struct ipvs_dest key = { .addr = *a, .port = port };
	return s->n_dests ? bsearch(&key, s->dests, s->n_dests, sizeof(*s->dests), dest_qcmp) : NULL;
}

struct ipvs_service *ipvs_table_find(const struct ipvs_table *t, const struct ipvs_svc_key *k)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = ipvs_svc_key_cmp(&t->svc[mid].key, k);
		if (c == 0)
			return &t->svc[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void ipvs_service_copy(struct ipvs_service *dst, const struct ipvs_service *src)
{
	*dst = *src;
	dst->dests = NULL;
	dst->n_dests = 0;
	for (size_t i = 0; i < src->n_dests; i++)
		*ipvs_service_add_dest(dst) = src->dests[i];
}

/* ------------------------------------------------------------- messages */

static struct nl_msg *msg_new(struct ipvs *h, uint8_t cmd, int flags)
{
	struct nl_msg *m = nlmsg_alloc();
	if (!m)
		return NULL;
	/* we bypass nl_send_auto(), which would add NLM_F_REQUEST: without
	 * it the kernel only ACKs and does nothing */
	if (!genlmsg_put(m, NL_AUTO_PORT, ++h->seq, h->family, 0, flags | NLM_F_REQUEST, cmd,
			 IPVS_GENL_VERSION)) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

static int put_addr(struct nl_msg *m, int attr, const struct dd_addr *a)
{
	return nla_put(m, attr, (int)dd_addr_len(a), a->u.bytes);
}

/* The service identity, plus its attributes when `full`. */
static int put_service(struct nl_msg *m, const struct ipvs_service *s, bool full)
{
	struct nlattr *n = nla_nest_start(m, IPVS_CMD_ATTR_SERVICE);
	if (!n)
		return -1;
	int r = nla_put_u16(m, IPVS_SVC_ATTR_AF, s->key.af);
	if (s->key.fwmark)
		r |= nla_put_u32(m, IPVS_SVC_ATTR_FWMARK, s->key.fwmark);
	else {
		r |= nla_put_u16(m, IPVS_SVC_ATTR_PROTOCOL, s->key.protocol);
		r |= put_addr(m, IPVS_SVC_ATTR_ADDR, &s->key.addr);
		r |= nla_put_u16(m, IPVS_SVC_ATTR_PORT, htons(s->key.port));
	}
	if (full) {
		struct ip_vs_flags fl = { .flags = s->flags & IPVS_USER_FLAGS, .mask = ~0u };
		r |= nla_put_string(m, IPVS_SVC_ATTR_SCHED_NAME, s->sched);
		r |= nla_put(m, IPVS_SVC_ATTR_FLAGS, sizeof(fl), &fl);
		r |= nla_put_u32(m, IPVS_SVC_ATTR_TIMEOUT, s->timeout);
		r |= nla_put_u32(m, IPVS_SVC_ATTR_NETMASK, s->netmask);
	}
	nla_nest_end(m, n);
	return r ? -1 : 0;
}

static int put_dest(struct nl_msg *m, const struct ipvs_dest *d, bool full)
{
	struct nlattr *n = nla_nest_start(m, IPVS_CMD_ATTR_DEST);
	if (!n)
		return -1;
	int r = put_addr(m, IPVS_DEST_ATTR_ADDR, &d->addr);
	r |= nla_put_u16(m, IPVS_DEST_ATTR_PORT, htons(d->port));
	r |= nla_put_u16(m, IPVS_DEST_ATTR_ADDR_FAMILY, (uint16_t)d->addr.family);
	if (full) {
		r |= nla_put_u32(m, IPVS_DEST_ATTR_FWD_METHOD, d->fwd & IP_VS_CONN_F_FWD_MASK);
		r |= nla_put_u32(m, IPVS_DEST_ATTR_WEIGHT, d->weight);
		r |= nla_put_u32(m, IPVS_DEST_ATTR_U_THRESH, d->u_thresh);
		r |= nla_put_u32(m, IPVS_DEST_ATTR_L_THRESH, d->l_thresh);
	}
	nla_nest_end(m, n);
	return r ? -1 : 0;
}

static struct nl_msg *op_msg(struct ipvs *h, const struct ipvs_op *op)
{
	static const uint8_t cmds[] = {
		[IPVS_OP_ADD_SVC] = IPVS_CMD_NEW_SERVICE, [IPVS_OP_EDIT_SVC] = IPVS_CMD_SET_SERVICE,
		[IPVS_OP_DEL_SVC] = IPVS_CMD_DEL_SERVICE, [IPVS_OP_ADD_DEST] = IPVS_CMD_NEW_DEST,
		[IPVS_OP_EDIT_DEST] = IPVS_CMD_SET_DEST, [IPVS_OP_DEL_DEST] = IPVS_CMD_DEL_DEST,
	};
	struct nl_msg *m = msg_new(h, cmds[op->type], NLM_F_ACK);
	if (!m)
		return NULL;
	bool svc_full = op->type == IPVS_OP_ADD_SVC || op->type == IPVS_OP_EDIT_SVC;
	bool dest = op->type >= IPVS_OP_ADD_DEST;
	int r = put_service(m, &op->svc, svc_full);
	if (dest)
		r |= put_dest(m, &op->dest, op->type != IPVS_OP_DEL_DEST);
	if (r) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

/* ------------------------------------------------------------------ I/O */

static int send_buf(struct ipvs *h, const void *buf, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	for (;;) {
		ssize_t n = sendto(h->fd, buf, len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* Longest wait for a reply. The kernel does not always answer: when
 * IPVS_CMD_DEL_DAEMON stops a sync thread that has not run yet (a role flap
 * under load), kthread_stop() returns -EINTR and netlink_rcv_skb() skips
 * the ACK for -EINTR. Without a bound the daemon's main loop would hang. */
#define REPLY_TIMEOUT_MS 3000

/* One recv(2); returns bytes or -errno (-ETIMEDOUT: no reply in time). */
static ssize_t recv_buf(struct ipvs *h)
{
	for (;;) {
		struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
		int pr = poll(&pfd, 1, REPLY_TIMEOUT_MS);
		if (pr == 0)
			return -ETIMEDOUT;
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr < 0)
			continue;
		ssize_t n = recv(h->fd, h->rbuf, RECV_BUF, 0);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

/* Sends ops[0..n) as one buffer and collects their ACKs. */
static int apply_batch(struct ipvs *h, struct ipvs_op *ops, size_t n, size_t *done)
{
	size_t len = 0, k;
	uint32_t first = h->seq + 1;
	for (k = 0; k < n; k++) {
		struct nl_msg *m = op_msg(h, &ops[k]);
		if (!m)
			return -ENOMEM;
		struct nlmsghdr *hdr = nlmsg_hdr(m);
		if (len + hdr->nlmsg_len > BATCH_MAX_BYTES && k > 0) {
			h->seq--;
			nlmsg_free(m);
			break;
		}
		memcpy(h->sbuf + len, hdr, hdr->nlmsg_len);
		len += NLMSG_ALIGN(hdr->nlmsg_len);
		nlmsg_free(m);
		ops[k].err = 1; /* pending */
	}
	*done = k;
	int r = send_buf(h, h->sbuf, len);
	if (r)
		return r;
	size_t pending = k;
	while (pending) {
		ssize_t got = recv_buf(h);
		if (got < 0)
			return (int)got;
		int rem = (int)got;
		for (struct nlmsghdr *hdr = (struct nlmsghdr *)h->rbuf; nlmsg_ok(hdr, rem);
		     hdr = nlmsg_next(hdr, &rem)) {
			if (hdr->nlmsg_type != NLMSG_ERROR)
				continue;
			uint32_t i = hdr->nlmsg_seq - first;
			if (i >= k || ops[i].err != 1)
				continue;
			struct nlmsgerr *e = nlmsg_data(hdr);
			ops[i].err = e->error;
			pending--;
		}
	}
	return 0;
}

int ipvs_apply(struct ipvs *h, struct ipvs_op *ops, size_t n)
{
	if (h->model)
		return ipvs_model_apply(h->model, ops, n);
	size_t off = 0;
	int failed = 0;
	while (off < n) {
		size_t cnt = n - off, done = 0;
		if (cnt > BATCH_MAX_MSGS)
			cnt = BATCH_MAX_MSGS;
		int r = apply_batch(h, ops + off, cnt, &done);
		if (r)
			return r;
		for (size_t i = off; i < off + done; i++)
			failed += ops[i].err != 0;
		off += done;
	}
	return failed;
}

/* Sends one request (and frees it); *seq says which replies are its. */
static int send_msg(struct ipvs *h, struct nl_msg *m, uint32_t *seq)
{
	struct nlmsghdr *hdr = nlmsg_hdr(m);
	*seq = hdr->nlmsg_seq;
	int r = send_buf(h, hdr, hdr->nlmsg_len);
	nlmsg_free(m);
	return r;
}

/* Sends one request and waits for its ACK. */
static int transact(struct ipvs *h, struct nl_msg *m)
{
	uint32_t seq;
	int r = send_msg(h, m, &seq);
	if (r)
		return r;
	for (;;) {
		ssize_t got = recv_buf(h);
		if (got < 0)
			return (int)got;
		int rem = (int)got;
		for (struct nlmsghdr *hdr = (struct nlmsghdr *)h->rbuf; nlmsg_ok(hdr, rem); hdr = nlmsg_next(hdr, &rem))
			if (hdr->nlmsg_type == NLMSG_ERROR && hdr->nlmsg_seq == seq)
				return ((struct nlmsgerr *)nlmsg_data(hdr))->error;
	}
}

typedef int (*dump_cb)(struct nlattr **tb, void *arg);

/* Sends a dump request and calls cb for each reply until NLMSG_DONE. */
static int dump(struct ipvs *h, struct nl_msg *m, dump_cb cb, void *arg)
{
	uint32_t seq;
	int r = send_msg(h, m, &seq);
	if (r)
		return r;
	int result = 0;
	for (;;) {
		ssize_t got = recv_buf(h);
		if (got < 0)
			return (int)got;
		int rem = (int)got;
		for (struct nlmsghdr *hdr = (struct nlmsghdr *)h->rbuf; nlmsg_ok(hdr, rem); hdr = nlmsg_next(hdr, &rem)) {
			if (hdr->nlmsg_seq != seq)
				continue;
			if (hdr->nlmsg_type == NLMSG_DONE)
				return result;
			if (hdr->nlmsg_type == NLMSG_ERROR) {
				int e = ((struct nlmsgerr *)nlmsg_data(hdr))->error;
				if (e)
					return e;
				continue;
			}
			struct nlattr *tb[IPVS_CMD_ATTR_MAX + 1];
			if (genlmsg_parse(hdr, 0, tb, IPVS_CMD_ATTR_MAX, NULL) < 0) {
				result = -EPROTO;
				continue;
			}
			if (!result)
				result = cb(tb, arg);
		}
	}
}

/* --------------------------------------------------------------- parsing */

static uint32_t get_u32(const struct nlattr *a)
{
	return a && nla_len(a) >= 4 ? nla_get_u32((struct nlattr *)a) : 0;
}

static uint16_t get_u16(const struct nlattr *a)
{
	return a && nla_len(a) >= 2 ? nla_get_u16((struct nlattr *)a) : 0;
}

static uint64_t get_u64(const struct nlattr *a)
{
	return a && nla_len(a) >= 8 ? nla_get_u64((struct nlattr *)a) : 0;
}

static void get_addr(const struct nlattr *a, uint16_t af, struct dd_addr *out)
{
	memset(out, 0, sizeof(*out));
	size_t want = af == AF_INET6 ? 16 : 4;
	if (!a || (size_t)nla_len(a) < want || (af != AF_INET && af != AF_INET6))
		return;
	out->family = af;
	memcpy(out->u.bytes, nla_data(a), want);
}

static void get_stats(struct nlattr *s64, struct nlattr *s32, struct ipvs_stats *st)
{
	struct nlattr *tb[IPVS_STATS_ATTR_MAX + 1];
	memset(st, 0, sizeof(*st));
	if (s64 && nla_parse_nested(tb, IPVS_STATS_ATTR_MAX, s64, NULL) == 0) {
		st->conns = get_u64(tb[IPVS_STATS_ATTR_CONNS]);
		st->inpkts = get_u64(tb[IPVS_STATS_ATTR_INPKTS]);
		st->outpkts = get_u64(tb[IPVS_STATS_ATTR_OUTPKTS]);
		st->inbytes = get_u64(tb[IPVS_STATS_ATTR_INBYTES]);
		st->outbytes = get_u64(tb[IPVS_STATS_ATTR_OUTBYTES]);
		st->cps = get_u64(tb[IPVS_STATS_ATTR_CPS]);
		st->inpps = get_u64(tb[IPVS_STATS_ATTR_INPPS]);
		st->outpps = get_u64(tb[IPVS_STATS_ATTR_OUTPPS]);
		st->inbps = get_u64(tb[IPVS_STATS_ATTR_INBPS]);
		st->outbps = get_u64(tb[IPVS_STATS_ATTR_OUTBPS]);
	} else if (s32 && nla_parse_nested(tb, IPVS_STATS_ATTR_MAX, s32, NULL) == 0) {
		st->conns = get_u32(tb[IPVS_STATS_ATTR_CONNS]);
		st->inpkts = get_u32(tb[IPVS_STATS_ATTR_INPKTS]);
		st->outpkts = get_u32(tb[IPVS_STATS_ATTR_OUTPKTS]);
		st->inbytes = get_u64(tb[IPVS_STATS_ATTR_INBYTES]);
		st->outbytes = get_u64(tb[IPVS_STATS_ATTR_OUTBYTES]);
		st->cps = get_u32(tb[IPVS_STATS_ATTR_CPS]);
		st->inpps = get_u32(tb[IPVS_STATS_ATTR_INPPS]);
		st->outpps = get_u32(tb[IPVS_STATS_ATTR_OUTPPS]);
		st->inbps = get_u32(tb[IPVS_STATS_ATTR_INBPS]);
		st->outbps = get_u32(tb[IPVS_STATS_ATTR_OUTBPS]);
	}
}

static int parse_service(struct nlattr *nest, struct ipvs_service *s)
{
	struct nlattr *tb[IPVS_SVC_ATTR_MAX + 1];
	if (!nest || nla_parse_nested(tb, IPVS_SVC_ATTR_MAX, nest, NULL) < 0)
		return -EPROTO;
	memset(s, 0, sizeof(*s));
	s->key.af = get_u16(tb[IPVS_SVC_ATTR_AF]);
	s->key.fwmark = get_u32(tb[IPVS_SVC_ATTR_FWMARK]);
	if (!s->key.fwmark) {
		s->key.protocol = get_u16(tb[IPVS_SVC_ATTR_PROTOCOL]);
		get_addr(tb[IPVS_SVC_ATTR_ADDR], s->key.af, &s->key.addr);
		s->key.port = ntohs(get_u16(tb[IPVS_SVC_ATTR_PORT]));
	}
	if (tb[IPVS_SVC_ATTR_SCHED_NAME])
		snprintf(s->sched, sizeof(s->sched), "%s", nla_get_string(tb[IPVS_SVC_ATTR_SCHED_NAME]));
	if (tb[IPVS_SVC_ATTR_FLAGS] && nla_len(tb[IPVS_SVC_ATTR_FLAGS]) >= (int)sizeof(struct ip_vs_flags)) {
		struct ip_vs_flags fl;
		memcpy(&fl, nla_data(tb[IPVS_SVC_ATTR_FLAGS]), sizeof(fl));
		s->flags = fl.flags & IPVS_USER_FLAGS;
	}
	s->timeout = get_u32(tb[IPVS_SVC_ATTR_TIMEOUT]);
	s->netmask = get_u32(tb[IPVS_SVC_ATTR_NETMASK]);
	get_stats(tb[IPVS_SVC_ATTR_STATS64], tb[IPVS_SVC_ATTR_STATS], &s->stats);
	return 0;
}

static int svc_cb(struct nlattr **tb, void *arg)
{
	struct ipvs_table *t = arg;
	struct ipvs_service tmp;
	if (parse_service(tb[IPVS_CMD_ATTR_SERVICE], &tmp) < 0)
		return -EPROTO;
	*ipvs_table_add(t) = tmp;
	return 0;
}

static int dest_cb(struct nlattr **tb, void *arg)
{
	struct ipvs_service *s = arg;
	struct nlattr *d[IPVS_DEST_ATTR_MAX + 1];
	if (!tb[IPVS_CMD_ATTR_DEST] || nla_parse_nested(d, IPVS_DEST_ATTR_MAX, tb[IPVS_CMD_ATTR_DEST], NULL) < 0)
		return -EPROTO;
	struct ipvs_dest *x = ipvs_service_add_dest(s);
	uint16_t af = d[IPVS_DEST_ATTR_ADDR_FAMILY] ? get_u16(d[IPVS_DEST_ATTR_ADDR_FAMILY]) : s->key.af;
	get_addr(d[IPVS_DEST_ATTR_ADDR], af, &x->addr);
	x->port = ntohs(get_u16(d[IPVS_DEST_ATTR_PORT]));
	x->fwd = get_u32(d[IPVS_DEST_ATTR_FWD_METHOD]) & IP_VS_CONN_F_FWD_MASK;
	x->weight = get_u32(d[IPVS_DEST_ATTR_WEIGHT]);
	x->u_thresh = get_u32(d[IPVS_DEST_ATTR_U_THRESH]);
	x->l_thresh = get_u32(d[IPVS_DEST_ATTR_L_THRESH]);
	x->active_conns = get_u32(d[IPVS_DEST_ATTR_ACTIVE_CONNS]);
	x->inact_conns = get_u32(d[IPVS_DEST_ATTR_INACT_CONNS]);
	x->persist_conns = get_u32(d[IPVS_DEST_ATTR_PERSIST_CONNS]);
	get_stats(d[IPVS_DEST_ATTR_STATS64], d[IPVS_DEST_ATTR_STATS], &x->stats);
	return 0;
}

int ipvs_dump_dests(struct ipvs *h, struct ipvs_service *s)
{
	if (h->model)
		return ipvs_model_dump_dests(h->model, s);
	ipvs_service_clear(s);
	struct nl_msg *m = msg_new(h, IPVS_CMD_GET_DEST, NLM_F_DUMP);
	if (!m)
		return -ENOMEM;
	if (put_service(m, s, false)) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	int r = dump(h, m, dest_cb, s);
	if (r == 0 && s->n_dests > 1)
		qsort(s->dests, s->n_dests, sizeof(*s->dests), dest_qcmp);
	return r;
}

int ipvs_dump_services(struct ipvs *h, struct ipvs_table *out)
{
	if (h->model)
		return ipvs_model_dump_services(h->model, out);
	memset(out, 0, sizeof(*out));
	struct nl_msg *m = msg_new(h, IPVS_CMD_GET_SERVICE, NLM_F_DUMP);
	if (!m)
		return -ENOMEM;
	int r = dump(h, m, svc_cb, out);
	if (r)
		ipvs_table_free(out);
	else if (out->n > 1)
		qsort(out->svc, out->n, sizeof(*out->svc), svc_qcmp);
	return r;
}

int ipvs_dump(struct ipvs *h, struct ipvs_table *out)
{
	int r = ipvs_dump_services(h, out);
	for (size_t i = 0; r == 0 && i < out->n; i++)
		r = ipvs_dump_dests(h, &out->svc[i]); /* sorts them */
	if (r)
		ipvs_table_free(out);
	return r;
}

/* ----------------------------------------------------------- daemon/config */

int ipvs_daemon_start(struct ipvs *h, const struct ipvs_daemon *d)
{
	if (h->model)
		return 0;
	struct nl_msg *m = msg_new(h, IPVS_CMD_NEW_DAEMON, NLM_F_ACK);
	if (!m)
		return -ENOMEM;
	struct nlattr *n = nla_nest_start(m, IPVS_CMD_ATTR_DAEMON);
	int r = !n || nla_put_u32(m, IPVS_DAEMON_ATTR_STATE, d->state) ||
		nla_put_string(m, IPVS_DAEMON_ATTR_MCAST_IFN, d->ifname) ||
		nla_put_u32(m, IPVS_DAEMON_ATTR_SYNC_ID, d->syncid);
	if (r) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	nla_nest_end(m, n);
	return transact(h, m);
}

int ipvs_daemon_stop(struct ipvs *h, uint32_t state)
{
	if (h->model)
		return 0;
	struct nl_msg *m = msg_new(h, IPVS_CMD_DEL_DAEMON, NLM_F_ACK);
	if (!m)
		return -ENOMEM;
	struct nlattr *n = nla_nest_start(m, IPVS_CMD_ATTR_DAEMON);
	if (!n || nla_put_u32(m, IPVS_DAEMON_ATTR_STATE, state)) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	nla_nest_end(m, n);
	return transact(h, m);
}

struct daemon_list { struct ipvs_daemon *out; int n; };

static int daemon_cb(struct nlattr **tb, void *arg)
{
	struct daemon_list *l = arg;
	struct nlattr *d[IPVS_DAEMON_ATTR_MAX + 1];
	if (!tb[IPVS_CMD_ATTR_DAEMON] ||
	    nla_parse_nested(d, IPVS_DAEMON_ATTR_MAX, tb[IPVS_CMD_ATTR_DAEMON], NULL) < 0)
		return -EPROTO;
	if (l->n >= 2)
		return 0;
	struct ipvs_daemon *x = &l->out[l->n++];
	memset(x, 0, sizeof(*x));
	x->state = get_u32(d[IPVS_DAEMON_ATTR_STATE]);
	x->syncid = get_u32(d[IPVS_DAEMON_ATTR_SYNC_ID]);
	if (d[IPVS_DAEMON_ATTR_MCAST_IFN])
		snprintf(x->ifname, sizeof(x->ifname), "%s", nla_get_string(d[IPVS_DAEMON_ATTR_MCAST_IFN]));
	return 0;
}

int ipvs_daemon_list(struct ipvs *h, struct ipvs_daemon out[2])
{
	struct daemon_list l = { out, 0 };
	if (h->model)
		return 0;
	struct nl_msg *m = msg_new(h, IPVS_CMD_GET_DAEMON, NLM_F_DUMP);
	if (!m)
		return -ENOMEM;
	int r = dump(h, m, daemon_cb, &l);
	return r ? r : l.n;
}

int ipvs_set_timeouts(struct ipvs *h, uint32_t tcp_s, uint32_t tcpfin_s, uint32_t udp_s)
{
	if ((!tcp_s && !tcpfin_s && !udp_s) || h->model)
		return 0;
	struct nl_msg *m = msg_new(h, IPVS_CMD_SET_CONFIG, NLM_F_ACK);
	if (!m)
		return -ENOMEM;
	int r = 0;
	if (tcp_s)
		r |= nla_put_u32(m, IPVS_CMD_ATTR_TIMEOUT_TCP, tcp_s);
	if (tcpfin_s)
		r |= nla_put_u32(m, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, tcpfin_s);
	if (udp_s)
		r |= nla_put_u32(m, IPVS_CMD_ATTR_TIMEOUT_UDP, udp_s);
	if (r) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	return transact(h, m);
}

/* ------------------------------------------------------------ open/close */

static int info_cb(struct nlattr **tb, void *arg)
{
	if (tb[IPVS_INFO_ATTR_VERSION])
		*(uint32_t *)arg = get_u32(tb[IPVS_INFO_ATTR_VERSION]);
	return 0;
}

struct ipvs *ipvs_open(char **err)
{
	struct ipvs *h = xcalloc(1, sizeof(*h));
	if ((h->model = ipvs_model_open())) {
		/* A test double in a production binary: never silent. */
		log_crit("ipvs", "DIRECTORD_TEST_IPVS=model: IPVS is an in-memory model for tests; "
			 "nothing is forwarded");
		h->version = 0x010201;
		return h;
	}
	h->sk = nl_socket_alloc();
	if (!h->sk) {
		dd_seterr(err, "cannot allocate a netlink socket");
		goto fail;
	}
	if (genl_connect(h->sk) < 0) {
		dd_seterr(err, "cannot open a generic netlink socket: %s", strerror(errno));
		goto fail;
	}
	h->fd = nl_socket_get_fd(h->sk);
	h->family = genl_ctrl_resolve(h->sk, IPVS_GENL_NAME);
	if (h->family < 0) {
		dd_seterr(err, "IPVS is not available in this kernel (is ip_vs loaded?)");
		goto fail;
	}
	/* ACKs of a whole batch must fit: try to raise the buffer past rmem_max */
	int sz = 4 * 1024 * 1024;
	if (setsockopt(h->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	sz = 1024 * 1024;
	if (setsockopt(h->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(h->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	h->rbuf = xmalloc(RECV_BUF);
	h->sbuf = xmalloc(BATCH_MAX_BYTES + 4096);
	h->seq = (uint32_t)mono_us();
	/* GET_INFO is not a dump: its reply is a single message, then the ACK */
	struct nl_msg *m = msg_new(h, IPVS_CMD_GET_INFO, NLM_F_ACK);
	if (!m) {
		dd_seterr(err, "out of memory");
		goto fail;
	}
	uint32_t seq;
	int r = send_msg(h, m, &seq);
	bool acked = false;
	while (r == 0 && !acked) {
		ssize_t got = recv_buf(h);
		if (got < 0) {
			r = (int)got;
			break;
		}
		int rem = (int)got;
		for (struct nlmsghdr *hdr = (struct nlmsghdr *)h->rbuf; nlmsg_ok(hdr, rem); hdr = nlmsg_next(hdr, &rem)) {
			if (hdr->nlmsg_seq != seq)
				continue;
			if (hdr->nlmsg_type == NLMSG_ERROR) {
				r = ((struct nlmsgerr *)nlmsg_data(hdr))->error;
				acked = true;
			} else if (hdr->nlmsg_type == h->family) {
				struct nlattr *tb[IPVS_INFO_ATTR_MAX + 1];
				if (genlmsg_parse(hdr, 0, tb, IPVS_INFO_ATTR_MAX, NULL) == 0)
					info_cb(tb, &h->version);
			}
		}
	}
	if (r || !h->version) {
		dd_seterr(err, "IPVS is not available in this kernel (is ip_vs loaded?): version query failed: %s",
			       r ? strerror(-r) : "no version in reply");
		goto fail;
	}
	return h;
fail:
	ipvs_close(h);
	return NULL;
}

uint32_t ipvs_version(const struct ipvs *h) { return h->version; }

bool ipvs_is_model(const struct ipvs *h) { return h->model != NULL; }

void ipvs_close(struct ipvs *h)
{
	if (!h)
		return;
	if (h->sk)
		nl_socket_free(h->sk);
	ipvs_model_close(h->model);
	free(h->rbuf);
	free(h->sbuf);
	free(h);
}
