/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stage 2 of the egress path: ask the kernel's FIB where the packet goes,
 * rewrite the Ethernet header, decrement TTL / hop limit and pick the devmap
 * slot. Anything the FIB cannot finish is handed back as a pass reason.
 */
#ifndef XDP_EGRESS_ROUTE_H
#define XDP_EGRESS_ROUTE_H

#include "parse.h"


/*
 * The L3 device the kernel would route this frame as: 0 means the ingress
 * device itself; a bridge port (Docker's docker0, CNI's bridge) gives the
 * bridge, because br_pass_frame_up() makes the bridge the frame's device,
 * so ip rules on iif and the bridge's forwarding setting apply.
 */
const volatile __u32 l3_ifindex = 0;

/* Uplinks this attachment may redirect to, keyed by ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, MAX_UPLINKS);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} tx_ports SEC(".maps");

/* RFC 1624 incremental update for TTL - 1, as ip_decrease_ttl() does. */
static __always_inline void ipv4_decrement_ttl(struct iphdr *iph)
{
	__u32 check = (__u32)iph->check;

	check += (__u32)bpf_htons(0x0100);
	iph->check = (__sum16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

static __always_inline void fill_ports(struct bpf_fib_lookup *fib,
				       struct packet *p)
{
	if (p->l4_proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		fib->sport = th->source;
		fib->dport = th->dest;
	} else if (p->l4_proto == IPPROTO_UDP) {
		struct udphdr *uh = p->l4;

		fib->sport = uh->source;
		fib->dport = uh->dest;
	}
}

/* Map a bpf_fib_lookup() result that is not SUCCESS to a pass reason. */
static __always_inline int fib_pass_reason(int rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return CNT_PASS_NO_NEIGH;
	case BPF_FIB_LKUP_RET_NOT_FWDED:
		return CNT_PASS_LOCAL;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return CNT_PASS_TOO_BIG;
	default: /* blackhole, unreachable, prohibit, fwd disabled, lwt */
		return CNT_PASS_FIB_FAIL;
	}
}

/* What the kernel never forwards, whatever the FIB says: checked for every
 * packet, the route cache's included. */
static __always_inline int route_check(const struct packet *p)
{
	/* Frames to a group MAC are never forwarded by the kernel either. */
	if (p->eth->h_dest[0] & 1)
		return CNT_PASS_LOCAL;
	if (p->l3_proto == ETH_P_IP) {
		__u32 daddr = bpf_ntohl(p->ip4->daddr);

		/* Limited broadcast, multicast and 0/8 match the default
		 * route in the FIB, but the kernel never forwards them. */
		if (daddr == 0xffffffff || (daddr & 0xf0000000) == 0xe0000000 ||
		    (daddr & 0xff000000) == 0)
			return CNT_PASS_LOCAL;
		if (p->ip4->ttl <= 1)
			return CNT_PASS_TTL;
	} else if (p->ip6->hop_limit <= 1) {
		return CNT_PASS_TTL;
	}
	return PARSE_OK;
}

/*
 * The IP length the route's MTU applies to: the packet's own, or for a GSO
 * skb (gso_size != 0) that of one segment, IP and L4 headers + gso_size, as
 * ip_forward() / ip6_forward() check a GSO skb (skb_gso_validate_network_len).
 * bpf_fib_lookup() compares it with the MTU the forwarding path would use
 * (a locked route MTU included). Left 0, the skb flavour of the helper would
 * only run is_skb_forwardable() against the device: no route MTU, 4 bytes of
 * VLAN slack, and every GSO skb passes, whatever its segment size.
 */
static __always_inline __u16 mtu_len(struct packet *p, __u32 ip_len,
				     __u32 hdr_len, __u32 gso_size)
{
	__u32 seg;

	if (!gso_size)
		return ip_len;
	if (p->l4_proto == IPPROTO_TCP)
		hdr_len += ((struct tcphdr *)p->l4)->doff * 4;
	else
		hdr_len += sizeof(struct udphdr); /* UDP GSO; ICMP is never GSO */
	seg = hdr_len + gso_size;
	return seg < ip_len ? seg : ip_len;
}

/*
 * Route p. On success *fibp holds the next hop (fibp->ifindex the egress
 * device) and PARSE_OK is returned; route_forward() then rewrites the frame. Otherwise returns the pass
 * reason and leaves the frame untouched, so the kernel sees what the
 * container sent. gso_size: the skb's (tc), 0 for XDP.
 */
static __always_inline int route_lookup(void *ctx, struct packet *p,
					struct bpf_fib_lookup *fibp, __u32 gso_size)
{
	struct bpf_fib_lookup fib = {};
	__u32 in_ifindex = p->ifindex;
	int rc;

	rc = route_check(p);
	if (rc != PARSE_OK)
		return rc;
	fib.l4_protocol = p->l4_proto;
	fib.ifindex = l3_ifindex ? l3_ifindex : in_ifindex;
	fill_ports(&fib, p);
	if (p->l3_proto == ETH_P_IP) {
		struct iphdr *iph = p->ip4;

		fib.family = AF_INET;
		fib.tos = iph->tos;
		fib.tot_len = mtu_len(p, bpf_ntohs(iph->tot_len), sizeof(*iph),
				      gso_size);
		fib.ipv4_src = iph->saddr;
		fib.ipv4_dst = iph->daddr;
	} else {
		struct ipv6hdr *ip6h = p->ip6;

		fib.family = AF_INET6;
		fib.flowinfo = *(__be32 *)ip6h & bpf_htonl(0x0FFFFFFF);
		fib.tot_len = mtu_len(p, sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len),
				      sizeof(*ip6h), gso_size);
		__builtin_memcpy(fib.ipv6_src, &ip6h->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, &ip6h->daddr, 16);
	}

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return fib_pass_reason(rc);
	/* A route back out of the same veth (hairpin) is the kernel's job. */
	if (fib.ifindex == in_ifindex)
		return CNT_PASS_NOT_UPLINK;
	if (!bpf_map_lookup_elem(&tx_ports, &fib.ifindex))
		return CNT_PASS_NOT_UPLINK;
	*fibp = fib;
	return PARSE_OK;
}

/*
 * Route cache. Looking the FIB up is most of what a packet of an established
 * SNAT flow costs (bpf_fib_lookup: FIB trie, nexthop, MTU, neighbour), so
 * the result for the flow is kept in its orig ct entry (egress device, both
 * MACs) and reused by the flow's next packets for at most RT_CACHE_TICKS
 * jiffies: 2-20 ms after HZ (bpf_jiffies64() is inlined by the verifier, no
 * clock read). Then the next packet looks the FIB up again. So a route,
 * neighbour (MAC), MTU or forwarding change reaches a flow that late at
 * most; the kernel's own path sees it at once.
 *
 * What the FIB used from the packet, beyond the flow's 5-tuple (the key),
 * is checked per packet: the device it came in on (the entry's), the TOS or
 * IPv6 traffic class and flow label, and the length (the MTU check: a
 * packet no longer than the one looked up passes too); so is route_check().
 * Only a successful lookup to a configured uplink is cached.
 *
 * Several CPUs may use one flow: rt_seq is a sequence count, odd while a
 * writer fills the cache; a reader that sees it odd or changed looks the
 * FIB up itself. Two CPUs refreshing at the same moment write what they
 * looked up, normally the same; a reader between them could only mix two
 * lookups made microseconds apart across a route change.
 */
#define RT_CACHE_TICKS 2

#define READ_ONCE_U32(x) (*(volatile __u32 *)&(x))
#define compiler_barrier() asm volatile("" ::: "memory")

/* What of p besides the 5-tuple went into the lookup and may change. */
static __always_inline __be32 rt_flowinfo_of(const struct packet *p)
{
	if (p->l3_proto == ETH_P_IP)
		return p->ip4->tos;
	return *(__be32 *)p->ip6 & bpf_htonl(0x0FFFFFFF);
}

static __always_inline __u32 rt_len_of(const struct packet *p)
{
	if (p->l3_proto == ETH_P_IP)
		return bpf_ntohs(p->ip4->tot_len);
	return sizeof(struct ipv6hdr) + bpf_ntohs(p->ip6->payload_len);
}

/* The cached next hop of e, if still good for p: into fib's ifindex and
 * MACs, as route_lookup() would have left them. */
static __always_inline int rt_cache_get(const struct ct_entry *e,
					const struct packet *p,
					struct bpf_fib_lookup *fib)
{
	__u32 seq = READ_ONCE_U32(e->rt_seq);

	if (seq & 1)
		return 0;
	compiler_barrier();
	fib->ifindex = e->rt_ifindex;
	if (!fib->ifindex || e->ifindex != p->ifindex)
		return 0;
	if (bpf_jiffies64() - e->rt_j >= RT_CACHE_TICKS)
		return 0;
	if (e->rt_flowinfo != rt_flowinfo_of(p) || rt_len_of(p) > e->rt_max_len)
		return 0;
	if (route_check(p) != PARSE_OK)
		return 0;
	__builtin_memcpy(fib->dmac, e->rt_dmac, ETH_ALEN);
	__builtin_memcpy(fib->smac, e->rt_smac, ETH_ALEN);
	compiler_barrier();
	return READ_ONCE_U32(e->rt_seq) == seq;
}

/* route_lookup() found fib for p, a packet of e's flow: cache it. */
static __always_inline void rt_cache_put(struct ct_entry *e,
					 const struct packet *p,
					 const struct bpf_fib_lookup *fib)
{
	/* A flow seen on two devices (one 5-tuple from two containers)
	 * keeps the FIB to itself. Another CPU writing: leave it to it. */
	if (e->ifindex != p->ifindex || (READ_ONCE_U32(e->rt_seq) & 1))
		return;
	__sync_fetch_and_add(&e->rt_seq, 1);
	e->rt_ifindex = fib->ifindex;
	__builtin_memcpy(e->rt_dmac, fib->dmac, ETH_ALEN);
	__builtin_memcpy(e->rt_smac, fib->smac, ETH_ALEN);
	e->rt_flowinfo = rt_flowinfo_of(p);
	e->rt_max_len = rt_len_of(p);
	e->rt_j = bpf_jiffies64();
	__sync_fetch_and_add(&e->rt_seq, 1);
}

/* Forward p to the next hop route_lookup() found: TTL and MACs. */
static __always_inline void route_forward(struct packet *p,
					  const struct bpf_fib_lookup *fib)
{
	if (p->l3_proto == ETH_P_IP)
		ipv4_decrement_ttl(p->ip4);
	else
		p->ip6->hop_limit--;
	__builtin_memcpy(p->eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, fib->smac, ETH_ALEN);
}

#endif
