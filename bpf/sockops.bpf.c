// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
// Socket acceleration between local sockets (the sockmap technique Cilium uses).
//
// sock_ops, attached to the gateway's own cgroup v2: when a TCP connection of a process in that
// cgroup becomes established (either side) and its peer address is on this host, the socket is
// stored in `sockmap_socks` under its own 4-tuple.
// sk_msg, attached to that sockhash: each sendmsg() on a stored socket looks up the socket at the
// other end of the connection (the reversed 4-tuple). When it is stored too, the message goes
// straight into that socket's receive queue (BPF_F_INGRESS), skipping TCP/IP and loopback; when
// not, it takes the normal path. Per-CPU counters in `sockmap_stats` show what happened.
//
// A socket leaves the sockhash by itself when it closes.
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#define STAT_REDIRECTED_MSGS 0
#define STAT_REDIRECTED_BYTES 1
#define STAT_PASSED_MSGS 2
#define STAT_PASSED_BYTES 3
#define STAT_SOCKETS_ADDED 4
#define STAT_SOCKETS_SKIPPED 5
#define STAT_COUNT 8

/* A connection end: IPv4 (and v4-mapped IPv6) in addr[0] with family 4, IPv6 with family 6.
 * Addresses in network byte order, ports in host byte order. */
struct sock_key {
	__u32 family;
	__u32 local[4];
	__u32 remote[4];
	__u32 local_port;
	__u32 remote_port;
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct sock_key);
	__type(value, __u64);
} sockmap_socks SEC(".maps");

/* Addresses of this host besides loopback (filled by userspace); key as sock_key.local. */
struct addr_key {
	__u32 family;
	__u32 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct addr_key);
	__type(value, __u8);
} sockmap_local SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} sockmap_stats SEC(".maps");

static __always_inline void count(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&sockmap_stats, &slot);
	if (v)
		*v += n; /* per-CPU slot: no other writer */
}

static __always_inline int is_v4_mapped(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0x0000ffff);
}

/* Fills the address part of a key from a context's fields; returns 0 for other families. */
static __always_inline int fill_addrs(struct sock_key *k, __u32 family, __u32 l4, __u32 r4, const __u32 *l6, const __u32 *r6)
{
	if (family == AF_INET) {
		k->family = 4;
		k->local[0] = l4;
		k->remote[0] = r4;
		return 1;
	}
	if (family != AF_INET6)
		return 0;
	if (is_v4_mapped(l6) && is_v4_mapped(r6)) {
		k->family = 4;
		k->local[0] = l6[3];
		k->remote[0] = r6[3];
		return 1;
	}
	k->family = 6;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		k->local[i] = l6[i];
		k->remote[i] = r6[i];
	}
	return 1;
}

static __always_inline int is_local(const struct sock_key *k)
{
	if (k->family == 4 && (bpf_ntohl(k->remote[0]) >> 24) == 127)
		return 1;
	if (k->family == 6 && k->remote[0] == 0 && k->remote[1] == 0 && k->remote[2] == 0 && k->remote[3] == bpf_htonl(1))
		return 1;
	struct addr_key a = { .family = k->family };
#pragma unroll
	for (int i = 0; i < 4; i++)
		a.addr[i] = k->remote[i];
	return bpf_map_lookup_elem(&sockmap_local, &a) != NULL;
}

SEC("sockops")
int sluice_sockops(struct bpf_sock_ops *ops)
{
	if (ops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && ops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	struct sock_key k = {};
	__u32 l6[4] = { ops->local_ip6[0], ops->local_ip6[1], ops->local_ip6[2], ops->local_ip6[3] };
	__u32 r6[4] = { ops->remote_ip6[0], ops->remote_ip6[1], ops->remote_ip6[2], ops->remote_ip6[3] };
	if (!fill_addrs(&k, ops->family, ops->local_ip4, ops->remote_ip4, l6, r6))
		return 1;
	k.local_port = ops->local_port;
	k.remote_port = bpf_ntohl(ops->remote_port);
	if (!is_local(&k)) {
		count(STAT_SOCKETS_SKIPPED, 1);
		return 1;
	}
	if (bpf_sock_hash_update(ops, &sockmap_socks, &k, BPF_NOEXIST) == 0)
		count(STAT_SOCKETS_ADDED, 1);
	return 1;
}

SEC("sk_msg")
int sluice_sk_msg(struct sk_msg_md *msg)
{
	struct sock_key own = {};
	__u32 l6[4] = { msg->local_ip6[0], msg->local_ip6[1], msg->local_ip6[2], msg->local_ip6[3] };
	__u32 r6[4] = { msg->remote_ip6[0], msg->remote_ip6[1], msg->remote_ip6[2], msg->remote_ip6[3] };
	__u32 size = msg->size;
	if (!fill_addrs(&own, msg->family, msg->local_ip4, msg->remote_ip4, l6, r6))
		goto pass;
	/* The peer's key is ours reversed. */
	struct sock_key peer = { .family = own.family };
#pragma unroll
	for (int i = 0; i < 4; i++) {
		peer.local[i] = own.remote[i];
		peer.remote[i] = own.local[i];
	}
	peer.local_port = bpf_ntohl(msg->remote_port);
	peer.remote_port = msg->local_port;
	if (bpf_msg_redirect_hash(msg, &sockmap_socks, &peer, BPF_F_INGRESS) == SK_PASS) {
		count(STAT_REDIRECTED_MSGS, 1);
		count(STAT_REDIRECTED_BYTES, size);
		return SK_PASS;
	}
pass:
	/* No redirect target was set: SK_PASS sends the message the normal way. */
	count(STAT_PASSED_MSGS, 1);
	count(STAT_PASSED_BYTES, size);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
