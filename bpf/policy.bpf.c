// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
// Network policy at the gateway's edge: L3/L4 ingress rules evaluated per packet.
//
// Two lookups decide a packet:
//   1. source address -> "class" in an LPM trie (src4 / src6). A class stands for the exact set
//      of rules whose source selectors (CIDRs minus their excepts) cover that prefix; userspace
//      computes it, so excepts need no extra lookup here.
//   2. (class, protocol, destination port) -> verdict + rule slot in a second LPM trie (ports).
//      Port ranges are stored as aligned power-of-two blocks; userspace has already resolved
//      overlaps (deny beats allow), so the longest match is the answer.
// No source match -> the policy's default verdict (userspace writes the default into every class,
// so within a class the port lookup always answers). Every decision bumps a per-CPU
// packet/byte counter for the rule slot that made it (slots 0/1 = default pass/drop).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define VERDICT_ALLOW 1
#define VERDICT_DENY 2

#define SLOT_DEFAULT_PASS 0
#define SLOT_DEFAULT_DROP 1
#define SLOT_NOT_IP 2 /* ARP, IPv6 neighbour discovery, malformed: always passed */
#define MAX_SLOTS 4096

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

struct src4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct src6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct port_key {
	__u32 prefixlen; /* 32 (class only) .. 32 + 8 + 16 */
	__u32 cls;
	__u8 proto;
	__u8 port[2]; /* network byte order so the prefix covers the high bits first */
	__u8 pad;
};

struct port_val {
	__u32 slot;
	__u32 verdict;
};

struct config {
	__u32 default_verdict; /* VERDICT_ALLOW or VERDICT_DENY */
	__u32 enabled;         /* 0: pass everything without lookups (loaded but no policy yet) */
};

struct counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct src4_key);
	__type(value, __u32);
} src4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct src6_key);
	__type(value, __u32);
} src6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, struct port_key);
	__type(value, struct port_val);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

static __always_inline void count(__u32 slot, __u64 bytes)
{
	struct counter *c = bpf_map_lookup_elem(&counters, &slot);
	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

/* Reads the destination port of a TCP/UDP/SCTP header at l4 (all three start with sport, dport). */
static __always_inline int read_dport(void *l4, void *data_end, __u8 proto, __u16 *dport_be)
{
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP) {
		*dport_be = 0;
		return 0;
	}
	__u16 *ports_hdr = l4;
	if ((void *)(ports_hdr + 2) > data_end)
		return -1;
	*dport_be = ports_hdr[1];
	return 0;
}

/* Returns 1 to pass, 0 to drop. */
static __always_inline int decide(void *data, void *data_end, __u64 bytes)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || !cfg->enabled)
		return 1;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		goto not_ip;

	__u32 *cls = 0;
	__u8 proto = 0;
	__u16 dport_be = 0;
	__u16 h_proto = eth->h_proto;
	void *l3 = eth + 1;

	/* One 802.1Q / 802.1ad tag: tagged traffic must not slip past the policy as "not IP". */
	if (h_proto == bpf_htons(ETH_P_8021Q) || h_proto == bpf_htons(ETH_P_8021AD)) {
		__u16 *vlan = l3;
		if ((void *)(vlan + 2) > data_end)
			goto not_ip;
		h_proto = vlan[1];
		l3 = vlan + 2;
	}

	if (h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		if ((void *)(ip + 1) > data_end)
			goto not_ip;
		__u32 ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			goto not_ip;
		struct src4_key k = {.prefixlen = 32};
		__builtin_memcpy(k.addr, &ip->saddr, 4);
		cls = bpf_map_lookup_elem(&src4, &k);
		proto = ip->protocol;
		/* Non-first fragments carry no L4 header: they are decided as port 0. */
		if ((ip->frag_off & bpf_htons(0x1fff)) == 0) {
			if (read_dport((void *)ip + ihl, data_end, proto, &dport_be) < 0)
				goto not_ip;
		}
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end)
			goto not_ip;
		struct src6_key k = {.prefixlen = 128};
		__builtin_memcpy(k.addr, &ip6->saddr, 16);
		cls = bpf_map_lookup_elem(&src6, &k);
		proto = ip6->nexthdr;
		void *l4 = ip6 + 1;
		/* Skip a bounded number of extension headers to reach the transport header. */
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (proto == IPPROTO_HOPOPTS || proto == IPPROTO_ROUTING || proto == IPPROTO_DSTOPTS) {
				__u8 *ext = l4;
				if ((void *)(ext + 2) > data_end)
					goto not_ip;
				proto = ext[0];
				l4 = (void *)ext + (ext[1] + 1) * 8;
			} else if (proto == IPPROTO_FRAGMENT) {
				__u8 *ext = l4;
				if ((void *)(ext + 8) > data_end)
					goto not_ip;
				proto = ext[0];
				__u16 off = ((__u16)ext[2] << 8 | ext[3]) & 0xfff8;
				l4 = (void *)ext + 8;
				if (off != 0) {
					dport_be = 0;
					goto lookup;
				}
			} else {
				break;
			}
		}
		if (proto == IPPROTO_ICMPV6) {
			struct icmp6hdr *icmp = l4;
			if ((void *)(icmp + 1) > data_end)
				goto not_ip;
			/* Neighbour discovery keeps the link alive whatever the policy says. */
			if (icmp->icmp6_type >= 133 && icmp->icmp6_type <= 137)
				goto not_ip;
		}
		if (read_dport(l4, data_end, proto, &dport_be) < 0)
			goto not_ip;
	} else {
		goto not_ip;
	}

lookup:
	if (cls) {
		struct port_key pk = {.prefixlen = 32 + 8 + 16, .cls = *cls, .proto = proto};
		__builtin_memcpy(pk.port, &dport_be, 2);
		struct port_val *v = bpf_map_lookup_elem(&ports, &pk);
		if (v) {
			count(v->slot, bytes);
			return v->verdict != VERDICT_DENY;
		}
	}
	if (cfg->default_verdict == VERDICT_DENY) {
		count(SLOT_DEFAULT_DROP, bytes);
		return 0;
	}
	count(SLOT_DEFAULT_PASS, bytes);
	return 1;

not_ip:
	count(SLOT_NOT_IP, bytes);
	return 1;
}

SEC("xdp")
int sluice_policy_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	return decide(data, data_end, data_end - data) ? XDP_PASS : XDP_DROP;
}

/* tcx ingress fallback where XDP cannot attach (the same decision on the skb's linear data). */
SEC("tc")
int sluice_policy_tc(struct __sk_buff *skb)
{
	/* Headers we read must be in the linear area; 128 bytes covers eth + ipv6 + 4 ext + ports. */
	bpf_skb_pull_data(skb, 128 < skb->len ? 128 : skb->len);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	return decide(data, data_end, skb->len) ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
