// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
// Kernel splicing for L4 routes: bytes between an accepted client and its backend connection are
// moved by the kernel, socket to socket, without entering userspace.
//
// Userspace puts both sockets of a proxied connection in `splice_socks` (a sockhash keyed by
// socket cookie) and records each one's peer in `splice_peers`. The sk_skb stream verdict program
// attached to the sockhash runs for every skb received on a stored socket and redirects it to the
// peer's send side (egress). Each pair entry counts the bytes it forwarded, so userspace can tell
// when everything received before a FIN has reached the peer and only then pass the FIN on.
// A socket with no peer entry keeps its data (SK_PASS): userspace reads it as usual. A FIN reaches
// userspace as EOF; userspace passes it on (shutdown of the peer's write side).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define STAT_REDIRECTED_SKBS 0
#define STAT_REDIRECTED_BYTES 1
#define STAT_PASSED_SKBS 2
#define STAT_FAILED_SKBS 3
#define STAT_EMPTY_SKBS 4
#define STAT_COUNT 8

struct peer {
	__u64 cookie; /* the peer socket's cookie (its key in splice_socks) */
	__u64 bytes;  /* bytes this socket received and the program forwarded to the peer */
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} splice_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct peer);
} splice_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} splice_stats SEC(".maps");

static __always_inline void count(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&splice_stats, &slot);
	if (v)
		*v += n;
}

SEC("sk_skb/stream_verdict")
int sluice_splice(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct peer *p = bpf_map_lookup_elem(&splice_peers, &cookie);
	if (!p) {
		count(STAT_PASSED_SKBS, 1);
		return SK_PASS;
	}
	__u32 len = skb->len;
	if (len == 0) {
		/* A bare FIN. Redirected, it would be a zero-length send, which the kernel takes as a broken
		 * pipe on the peer; passed, it would queue behind bytes waiting to be sent on this socket and
		 * break it the same way. The socket already knows it got a FIN, so the skb carries nothing:
		 * drop it. Userspace reads EOF and passes the FIN on once the bytes before it have left. */
		count(STAT_EMPTY_SKBS, 1);
		return SK_DROP;
	}
	__u64 to = p->cookie;
	long verdict = bpf_sk_redirect_hash(skb, &splice_socks, &to, 0);
	if (verdict == SK_PASS) {
		__sync_fetch_and_add(&p->bytes, len);
		count(STAT_REDIRECTED_SKBS, 1);
		count(STAT_REDIRECTED_BYTES, len);
	} else {
		/* The peer left the map (it closed): nothing can carry these bytes any more. */
		count(STAT_FAILED_SKBS, 1);
	}
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
