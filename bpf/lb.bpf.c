// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
// Socket-level L4 load balancing for local clients (cgroup v2 sock_addr hooks).
//
// connect4/6 (TCP and connected UDP) and sendmsg4/6 (unconnected UDP) look the destination up in
// `vips`; on a hit the socket cookie is hashed into the service's Maglev table (an inner array
// swapped whole by userspace), and the destination is rewritten to the chosen backend before the
// kernel routes anything. A connected socket therefore keeps its backend for life; an unconnected
// UDP socket hashes to the same entry on every datagram, so Maglev's minimal disruption is what
// keeps its backend when the set changes. recvmsg4/6 and getpeername4/6 translate the backend's
// address back to the VIP through `revnat`, so clients only ever see the address they asked for.
//
// Backend id 0 in a table is the share of unresolved backends: connect()/sendmsg() fail (EPERM),
// as the userspace proxy refuses those connections. A backend id with no entry (a removal racing
// a lookup) leaves the destination alone: the connection goes to the gateway's own listener.
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_SERVICES 4096
#define MAX_BACKENDS 65536
#define MAX_VIPS 16384
#define MAX_REVNAT 65536

#define FAMILY_V4 4
#define FAMILY_V6 6

struct vip_key {
	__u32 addr[4]; /* IPv4 in addr[0]; network byte order */
	__u16 port;    /* network byte order */
	__u8 proto;    /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family;   /* FAMILY_V4 / FAMILY_V6 */
};

struct vip_val {
	__u32 slot;       /* index into tables / stats */
	__u32 table_size; /* entries of the service's Maglev table */
};

struct backend {
	__u32 addr[4];
	__u16 port; /* network byte order */
	__u8 family; /* 0: no backend under this id */
	__u8 pad;
};

struct revnat_key {
	__u64 cookie;
	__u32 addr[4]; /* backend */
	__u16 port;
	__u8 family;
	__u8 pad[5];
};

struct revnat_val {
	__u32 addr[4]; /* VIP */
	__u16 port;
	__u8 family;
	__u8 pad;
};

struct svc_stats {
	__u64 connect;  /* connect() rewritten */
	__u64 sendmsg;  /* datagrams rewritten */
	__u64 refused;  /* share of unresolved backends */
	__u64 missing;  /* table entry or backend absent: left to the gateway's listener */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VIPS);
	__type(key, struct vip_key);
	__type(value, struct vip_val);
} lb_vips SEC(".maps");

struct lb_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* Inner tables of any size fit the same outer slot. */
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32); /* backend id */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MAX_SERVICES);
	__type(key, __u32);
	__array(values, struct lb_table);
} lb_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct backend);
} lb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_REVNAT);
	__type(key, struct revnat_key);
	__type(value, struct revnat_val);
} lb_revnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct svc_stats);
} lb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_BACKENDS);
	__type(key, __u32);
	__type(value, __u64);
} lb_hits SEC(".maps");

static __always_inline __u64 mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* user_port must be read and written as a whole u32 (no narrow access); volatile keeps clang from
 * narrowing the load. */
static __always_inline __u16 ctx_port(struct bpf_sock_addr *ctx)
{
	volatile __u32 p = ctx->user_port;
	return (__u16)p;
}

enum lb_kind { LB_CONNECT, LB_SENDMSG };

/* Picks a backend for the VIP in `k`. Returns the backend (or NULL) and sets *verdict:
 * 1 pass (rewrite when a backend came back), 0 refuse. */
static __always_inline struct backend *pick(struct bpf_sock_addr *ctx, const struct vip_key *k, enum lb_kind kind,
					    int *verdict, __u64 *cookie)
{
	*verdict = 1;
	struct vip_val *v = bpf_map_lookup_elem(&lb_vips, k);
	if (!v)
		return NULL;
	__u32 slot = v->slot;
	__u32 size = v->table_size;
	struct svc_stats *st = bpf_map_lookup_elem(&lb_stats, &slot);
	void *table = bpf_map_lookup_elem(&lb_tables, &slot);
	if (!table || size == 0) {
		if (st)
			st->missing++;
		return NULL;
	}
	*cookie = bpf_get_socket_cookie(ctx);
	__u64 h = mix64(*cookie ^ mix64(((__u64)k->port << 32) ^ k->addr[0] ^ k->addr[3] ^ ((__u64)k->proto << 48)));
	__u32 idx = (__u32)(h >> 32) % size;
	__u32 *id = bpf_map_lookup_elem(table, &idx);
	if (!id) {
		if (st)
			st->missing++;
		return NULL;
	}
	__u32 bid = *id;
	if (bid == 0) {
		if (st)
			st->refused++;
		*verdict = 0;
		return NULL;
	}
	struct backend *b = bpf_map_lookup_elem(&lb_backends, &bid);
	if (!b || b->family != k->family) {
		if (st)
			st->missing++;
		return NULL;
	}
	if (st) {
		if (kind == LB_CONNECT)
			st->connect++;
		else
			st->sendmsg++;
	}
	__u64 *hits = bpf_map_lookup_elem(&lb_hits, &bid);
	if (hits)
		(*hits)++;
	return b;
}

static __always_inline void remember(__u64 cookie, const struct backend *b, const struct vip_key *k)
{
	struct revnat_key rk = {};
	struct revnat_val rv = {};
	rk.cookie = cookie;
	rk.addr[0] = b->addr[0];
	rk.addr[1] = b->addr[1];
	rk.addr[2] = b->addr[2];
	rk.addr[3] = b->addr[3];
	rk.port = b->port;
	rk.family = b->family;
	rv.addr[0] = k->addr[0];
	rv.addr[1] = k->addr[1];
	rv.addr[2] = k->addr[2];
	rv.addr[3] = k->addr[3];
	rv.port = k->port;
	rv.family = k->family;
	bpf_map_update_elem(&lb_revnat, &rk, &rv, BPF_ANY);
}

static __always_inline int lb4(struct bpf_sock_addr *ctx, enum lb_kind kind)
{
	struct vip_key k = {};
	k.addr[0] = ctx->user_ip4;
	k.port = ctx_port(ctx);
	k.proto = ctx->protocol;
	k.family = FAMILY_V4;
	int verdict;
	__u64 cookie = 0;
	struct backend *b = pick(ctx, &k, kind, &verdict, &cookie);
	if (!b)
		return verdict;
	ctx->user_ip4 = b->addr[0];
	ctx->user_port = (__u32)b->port;
	remember(cookie, b, &k);
	return 1;
}

static __always_inline int lb6(struct bpf_sock_addr *ctx, enum lb_kind kind)
{
	struct vip_key k = {};
	k.addr[0] = ctx->user_ip6[0];
	k.addr[1] = ctx->user_ip6[1];
	k.addr[2] = ctx->user_ip6[2];
	k.addr[3] = ctx->user_ip6[3];
	k.port = ctx_port(ctx);
	k.proto = ctx->protocol;
	k.family = FAMILY_V6;
	int verdict;
	__u64 cookie = 0;
	struct backend *b = pick(ctx, &k, kind, &verdict, &cookie);
	if (!b)
		return verdict;
	ctx->user_ip6[0] = b->addr[0];
	ctx->user_ip6[1] = b->addr[1];
	ctx->user_ip6[2] = b->addr[2];
	ctx->user_ip6[3] = b->addr[3];
	ctx->user_port = (__u32)b->port;
	remember(cookie, b, &k);
	return 1;
}

/* The peer address a socket sees (recvmsg source, getpeername) goes back from backend to VIP. */
static __always_inline int rev4(struct bpf_sock_addr *ctx)
{
	struct revnat_key rk = {};
	rk.cookie = bpf_get_socket_cookie(ctx);
	rk.addr[0] = ctx->user_ip4;
	rk.port = ctx_port(ctx);
	rk.family = FAMILY_V4;
	struct revnat_val *rv = bpf_map_lookup_elem(&lb_revnat, &rk);
	if (rv) {
		ctx->user_ip4 = rv->addr[0];
		ctx->user_port = (__u32)rv->port;
	}
	return 1;
}

static __always_inline int rev6(struct bpf_sock_addr *ctx)
{
	struct revnat_key rk = {};
	rk.cookie = bpf_get_socket_cookie(ctx);
	rk.addr[0] = ctx->user_ip6[0];
	rk.addr[1] = ctx->user_ip6[1];
	rk.addr[2] = ctx->user_ip6[2];
	rk.addr[3] = ctx->user_ip6[3];
	rk.port = ctx_port(ctx);
	rk.family = FAMILY_V6;
	struct revnat_val *rv = bpf_map_lookup_elem(&lb_revnat, &rk);
	if (rv) {
		ctx->user_ip6[0] = rv->addr[0];
		ctx->user_ip6[1] = rv->addr[1];
		ctx->user_ip6[2] = rv->addr[2];
		ctx->user_ip6[3] = rv->addr[3];
		ctx->user_port = (__u32)rv->port;
	}
	return 1;
}

SEC("cgroup/connect4")
int sluice_lb_connect4(struct bpf_sock_addr *ctx)
{
	return lb4(ctx, LB_CONNECT);
}

SEC("cgroup/connect6")
int sluice_lb_connect6(struct bpf_sock_addr *ctx)
{
	return lb6(ctx, LB_CONNECT);
}

SEC("cgroup/sendmsg4")
int sluice_lb_sendmsg4(struct bpf_sock_addr *ctx)
{
	return lb4(ctx, LB_SENDMSG);
}

SEC("cgroup/sendmsg6")
int sluice_lb_sendmsg6(struct bpf_sock_addr *ctx)
{
	return lb6(ctx, LB_SENDMSG);
}

SEC("cgroup/recvmsg4")
int sluice_lb_recvmsg4(struct bpf_sock_addr *ctx)
{
	return rev4(ctx);
}

SEC("cgroup/recvmsg6")
int sluice_lb_recvmsg6(struct bpf_sock_addr *ctx)
{
	return rev6(ctx);
}

SEC("cgroup/getpeername4")
int sluice_lb_getpeername4(struct bpf_sock_addr *ctx)
{
	return rev4(ctx);
}

SEC("cgroup/getpeername6")
int sluice_lb_getpeername6(struct bpf_sock_addr *ctx)
{
	return rev6(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
