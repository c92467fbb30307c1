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
//
// Flow events (off until userspace sets flow_config.enabled): a "new" event on the ring buffer for
// the first passed packet of a 5-tuple not in the `flows` LRU table, and a "drop" event for dropped
// packets, rate-limited per 5-tuple (`drop_flows` LRU): the first drop of a tuple is reported at
// once, later ones at most once per drop_interval_ns, each event carrying the packets/bytes dropped
// since the previous one (0 = one event per dropped packet). Drops live in their own table so a
// flood of denied sources cannot evict the allowed flows (which would re-report them as new).
// Events the ring has no room for are counted in flow_lost.
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

#define FLOW_EVENT_NEW 1
#define FLOW_EVENT_DROP 2

/* 5-tuple; IPv4 addresses use the first 4 bytes (the rest stays zero). Ports in network order. */
struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family; /* 4 or 6 */
	__u8 pad[2];
};

struct flow_state {
	__u64 first_ns;
	__u64 last_ns;
	__u64 packets;
	__u64 bytes;
};

struct drop_state {
	__u64 reported_ns; /* when the last drop event for this tuple was emitted */
	__u64 packets;     /* dropped since then, not yet reported */
	__u64 bytes;
};

/* The record on the ring buffer (src/ebpf/flow-event.ts decodes it: keep both in step). */
struct flow_event {
	__u64 ts_ns;    /* bpf_ktime_get_ns() of this packet (CLOCK_MONOTONIC) */
	__u64 first_ns; /* new: same as ts_ns; drop: when this tuple's previous drop event went out (0: first) */
	__u64 packets;  /* new: 1; drop: packets this event reports (suppressed ones included) */
	__u64 bytes;
	__u32 slot;     /* counter slot of the rule that decided */
	__u32 ifindex;
	__u8 type;      /* FLOW_EVENT_* */
	__u8 verdict;   /* VERDICT_* */
	__u8 proto;
	__u8 family;
	__u16 sport;    /* network order */
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct flow_config {
	__u32 enabled;
	__u32 pad;
	__u64 drop_interval_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_config);
} flow_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_state);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct flow_key);
	__type(value, struct drop_state);
} drop_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} flow_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} flow_lost SEC(".maps");

static __always_inline void count(__u32 slot, __u64 bytes)
{
	struct counter *c = bpf_map_lookup_elem(&counters, &slot);
	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

/* Reads the ports of a TCP/UDP/SCTP header at l4 (all three start with sport, dport). */
static __always_inline int read_ports(void *l4, void *data_end, struct flow_key *k)
{
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP && k->proto != IPPROTO_SCTP)
		return 0;
	__u16 *ports_hdr = l4;
	if ((void *)(ports_hdr + 2) > data_end)
		return -1;
	k->sport = ports_hdr[0];
	k->dport = ports_hdr[1];
	return 0;
}

static __always_inline void emit(struct flow_key *k, __u8 type, __u8 verdict, __u32 slot, __u32 ifindex, __u64 now,
				 __u64 first_ns, __u64 packets, __u64 bytes)
{
	struct flow_event *e = bpf_ringbuf_reserve(&flow_events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&flow_lost, &zero);
		if (lost)
			*lost += 1;
		return;
	}
	e->ts_ns = now;
	e->first_ns = first_ns;
	e->packets = packets;
	e->bytes = bytes;
	e->slot = slot;
	e->ifindex = ifindex;
	e->type = type;
	e->verdict = verdict;
	e->proto = k->proto;
	e->family = k->family;
	e->sport = k->sport;
	e->dport = k->dport;
	__builtin_memcpy(e->saddr, k->saddr, 16);
	__builtin_memcpy(e->daddr, k->daddr, 16);
	bpf_ringbuf_submit(e, 0);
}

/* Flow table upkeep and events for one decided packet. Concurrent CPUs may race on a fresh tuple
 * (both report it new); counts within an entry are approximate under such races. */
static __always_inline void track(struct flow_config *fc, struct flow_key *k, int pass, __u32 slot, __u64 bytes,
				  __u32 ifindex)
{
	__u64 now = bpf_ktime_get_ns();
	if (pass) {
		struct flow_state *st = bpf_map_lookup_elem(&flows, k);
		if (st) {
			st->last_ns = now;
			__sync_fetch_and_add(&st->packets, 1);
			__sync_fetch_and_add(&st->bytes, bytes);
			return;
		}
		struct flow_state fresh = {.first_ns = now, .last_ns = now, .packets = 1, .bytes = bytes};
		/* NOEXIST: of two CPUs racing on the same new tuple, only the winner reports it. */
		if (bpf_map_update_elem(&flows, k, &fresh, BPF_NOEXIST) == 0)
			emit(k, FLOW_EVENT_NEW, VERDICT_ALLOW, slot, ifindex, now, now, 1, bytes);
		return;
	}
	struct drop_state *d = bpf_map_lookup_elem(&drop_flows, k);
	if (!d) {
		struct drop_state fresh = {.reported_ns = now};
		if (bpf_map_update_elem(&drop_flows, k, &fresh, BPF_NOEXIST) == 0)
			emit(k, FLOW_EVENT_DROP, VERDICT_DENY, slot, ifindex, now, 0, 1, bytes);
		return;
	}
	__u64 packets = __sync_fetch_and_add(&d->packets, 1) + 1;
	__u64 total = __sync_fetch_and_add(&d->bytes, bytes) + bytes;
	__u64 prev = d->reported_ns;
	if (now - prev < fc->drop_interval_ns)
		return;
	d->reported_ns = now;
	d->packets = 0;
	d->bytes = 0;
	emit(k, FLOW_EVENT_DROP, VERDICT_DENY, slot, ifindex, now, prev, packets, total);
}

/* Returns 1 to pass, 0 to drop. */
static __always_inline int decide(void *data, void *data_end, __u64 bytes, __u32 ifindex)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &zero);
	struct flow_config *fc = bpf_map_lookup_elem(&flow_config, &zero);
	/* Each pointer is NULL unless its feature is on, so the verifier sees every use checked. */
	if (cfg && !cfg->enabled)
		cfg = 0;
	if (fc && !fc->enabled)
		fc = 0;
	if (!cfg && !fc)
		return 1;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		goto not_ip;

	struct flow_key k = {};
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
		k.family = 4;
		__builtin_memcpy(k.saddr, &ip->saddr, 4);
		__builtin_memcpy(k.daddr, &ip->daddr, 4);
		k.proto = ip->protocol;
		/* Non-first fragments carry no L4 header: they are decided as port 0. */
		if ((ip->frag_off & bpf_htons(0x1fff)) == 0) {
			if (read_ports((void *)ip + ihl, data_end, &k) < 0)
				goto not_ip;
		}
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		if ((void *)(ip6 + 1) > data_end)
			goto not_ip;
		k.family = 6;
		__builtin_memcpy(k.saddr, &ip6->saddr, 16);
		__builtin_memcpy(k.daddr, &ip6->daddr, 16);
		__u8 proto = ip6->nexthdr;
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
					k.proto = proto;
					goto lookup;
				}
			} else {
				break;
			}
		}
		k.proto = proto;
		if (proto == IPPROTO_ICMPV6) {
			struct icmp6hdr *icmp = l4;
			if ((void *)(icmp + 1) > data_end)
				goto not_ip;
			/* Neighbour discovery keeps the link alive whatever the policy says. */
			if (icmp->icmp6_type >= 133 && icmp->icmp6_type <= 137)
				goto not_ip;
		}
		if (read_ports(l4, data_end, &k) < 0)
			goto not_ip;
	} else {
		goto not_ip;
	}

lookup:;
	__u32 slot = SLOT_DEFAULT_PASS;
	int pass = 1;
	if (cfg) {
		__u32 *cls;
		if (k.family == 4) {
			struct src4_key sk = {.prefixlen = 32};
			__builtin_memcpy(sk.addr, k.saddr, 4);
			cls = bpf_map_lookup_elem(&src4, &sk);
		} else {
			struct src6_key sk = {.prefixlen = 128};
			__builtin_memcpy(sk.addr, k.saddr, 16);
			cls = bpf_map_lookup_elem(&src6, &sk);
		}
		struct port_val *v = 0;
		if (cls) {
			struct port_key pk = {.prefixlen = 32 + 8 + 16, .cls = *cls, .proto = k.proto};
			__builtin_memcpy(pk.port, &k.dport, 2);
			v = bpf_map_lookup_elem(&ports, &pk);
		}
		if (v) {
			slot = v->slot;
			pass = v->verdict != VERDICT_DENY;
		} else if (cfg->default_verdict == VERDICT_DENY) {
			slot = SLOT_DEFAULT_DROP;
			pass = 0;
		}
		count(slot, bytes);
	}
	if (fc)
		track(fc, &k, pass, slot, bytes, ifindex);
	return pass;

not_ip:
	if (cfg)
		count(SLOT_NOT_IP, bytes);
	return 1;
}

SEC("xdp")
int sluice_policy_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	return decide(data, data_end, data_end - data, ctx->ingress_ifindex) ? XDP_PASS : XDP_DROP;
}

/* tcx ingress fallback where XDP cannot attach (the same decision on the skb's linear data). */
SEC("tc")
int sluice_policy_tc(struct __sk_buff *skb)
{
	/* Headers we read must be in the linear area; 128 bytes covers eth + ipv6 + 4 ext + ports. */
	bpf_skb_pull_data(skb, 128 < skb->len ? 128 : skb->len);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	return decide(data, data_end, skb->len, skb->ifindex) ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
