// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
// Socket acceleration between local sockets (the sockmap technique Cilium uses).
//
// sock_ops, attached to the gateway's own cgroup v2, puts only connections with both ends in that
// cgroup into the sockhash `sockmap_socks`, each socket under its own 4-tuple:
// - the connecting end (ACTIVE_ESTABLISHED, fires first) when its peer address is on this host;
// - the accepting end (PASSIVE_ESTABLISHED) only when its connecting end is already stored
//   (mirrored in `sockmap_members`): a client outside the cgroup (a load generator, a browser)
//   never redirects to the gateway, and its socket in the map would only make each of the
//   gateway's sends to it slower;
// - a connecting end whose sent data comes back acknowledged by TCP (the first RTT sample) while
//   its peer is not stored (a same-host backend outside the cgroup) leaves the map again.
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
#define STAT_SOCKETS_DROPPED 6
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

/* Keys of the sockets now in the sockhash. A sockhash lookup from sock_ops takes a socket
 * reference that this program type cannot release, so membership is mirrored here (entries go
 * when the socket closes; LRU in case a close is ever missed). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sock_key);
	__type(value, __u8);
} sockmap_members SEC(".maps");

static __always_inline int key_of(struct bpf_sock_ops *ops, struct sock_key *k)
{
	__u32 l6[4] = { ops->local_ip6[0], ops->local_ip6[1], ops->local_ip6[2], ops->local_ip6[3] };
	__u32 r6[4] = { ops->remote_ip6[0], ops->remote_ip6[1], ops->remote_ip6[2], ops->remote_ip6[3] };
	if (!fill_addrs(k, ops->family, ops->local_ip4, ops->remote_ip4, l6, r6))
		return 0;
	k->local_port = ops->local_port;
	k->remote_port = bpf_ntohl(ops->remote_port);
	return 1;
}

static __always_inline int peer_stored(const struct sock_key *k)
{
	struct sock_key peer = { .family = k->family, .local_port = k->remote_port, .remote_port = k->local_port };
#pragma unroll
	for (int i = 0; i < 4; i++) {
		peer.local[i] = k->remote[i];
		peer.remote[i] = k->local[i];
	}
	return bpf_map_lookup_elem(&sockmap_members, &peer) != NULL;
}

/* Stores the socket; on success also mirrors it and asks for the callbacks in `cb_flags`. */
static __always_inline void store(struct bpf_sock_ops *ops, struct sock_key *k, int cb_flags)
{
	__u8 one = 1;
	if (bpf_sock_hash_update(ops, &sockmap_socks, k, BPF_NOEXIST) != 0)
		return;
	count(STAT_SOCKETS_ADDED, 1);
	bpf_map_update_elem(&sockmap_members, k, &one, BPF_ANY);
	bpf_sock_ops_cb_flags_set(ops, cb_flags);
}

SEC("sockops")
int sluice_sockops(struct bpf_sock_ops *ops)
{
	struct sock_key k = {};
	switch (ops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		/* Fires before the peer's PASSIVE_ESTABLISHED (our ACK completes its handshake). */
		if (!key_of(ops, &k) || !is_local(&k)) {
			count(STAT_SOCKETS_SKIPPED, 1);
			return 1;
		}
		store(ops, &k, BPF_SOCK_OPS_RTT_CB_FLAG | BPF_SOCK_OPS_STATE_CB_FLAG);
		return 1;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		/* Only when the connecting end is one of ours: a client outside the cgroup never
		 * redirects here, and sk_msg on this socket would only slow down every response. */
		if (!key_of(ops, &k) || !peer_stored(&k)) {
			count(STAT_SOCKETS_SKIPPED, 1);
			return 1;
		}
		store(ops, &k, BPF_SOCK_OPS_STATE_CB_FLAG);
		return 1;
	case BPF_SOCK_OPS_RTT_CB:
		/* Data we sent went through TCP and came back acknowledged. With no stored peer (a
		 * same-host backend outside the cgroup) it always will: sk_msg would only cost, so the
		 * socket leaves the map. With a peer (it was stored just after our first send) it stays. */
		if (!key_of(ops, &k))
			return 1;
		if (ops->state == BPF_TCP_ESTABLISHED && !peer_stored(&k)) {
			bpf_map_delete_elem(&sockmap_socks, &k);
			bpf_map_delete_elem(&sockmap_members, &k);
			bpf_sock_ops_cb_flags_set(ops, 0);
			count(STAT_SOCKETS_DROPPED, 1);
			return 1;
		}
		bpf_sock_ops_cb_flags_set(ops, BPF_SOCK_OPS_STATE_CB_FLAG);
		return 1;
	case BPF_SOCK_OPS_STATE_CB:
		/* args[1] is the new state; the sockhash drops a closed socket by itself. */
		if (ops->args[1] == BPF_TCP_CLOSE && key_of(ops, &k)) {
			bpf_map_delete_elem(&sockmap_members, &k);
			bpf_sock_ops_cb_flags_set(ops, 0);
		}
		return 1;
	}
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
