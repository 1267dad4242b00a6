/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stage 4: where the kernel would send the packet. bpf_fib_lookup() with
 * the addresses the kernel routes by: the destination after the entry's
 * destination NAT (PREROUTING DNAT runs before routing), the source before
 * its source NAT (POSTROUTING). The next hop is an uplink of this
 * attachment, or an attached container (a Service backend on this node, a
 * reply to a container): then the frame goes straight into its veth with
 * the MACs learned at attach. Anything the FIB cannot finish is handed back
 * as a pass reason.
 */
#ifndef XDP_EGRESS_ROUTE_H
#define XDP_EGRESS_ROUTE_H

#include "kct.h"

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

/* Attached containers of the host namespace (shared, pinned): by address,
 * and their host veths as redirect targets. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct container_key);
	__type(value, struct container_val);
} containers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} container_ports SEC(".maps");

/* Where a packet goes: the device and the frame's MACs. */
struct next_hop {
	__u32 ifindex;
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
	__u8 to_container;       /* ifindex is in container_ports, not tx_ports */
	__u8 pad[3];
};

/* RFC 1624 incremental update for TTL - 1, as ip_decrease_ttl() does. */
static __always_inline void ipv4_decrement_ttl(struct iphdr *iph)
{
	__u32 check = (__u32)iph->check;

	check += (__u32)bpf_htons(0x0100);
	iph->check = (__sum16)(check + (check >= 0xFFFF));
	iph->ttl--;
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
 * packet, the flow cache's included. */
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
		hdr_len += sizeof(struct udphdr); /* UDP GSO */
	seg = hdr_len + gso_size;
	return seg < ip_len ? seg : ip_len;
}

/* What of p besides its tuple goes into the lookup and may change from one
 * packet of a flow to the next: TOS, or traffic class and flow label. */
static __always_inline __be32 route_flowinfo_of(const struct packet *p)
{
	if (p->l3_proto == ETH_P_IP)
		return p->ip4->tos;
	return *(__be32 *)p->ip6 & bpf_htonl(0x0FFFFFFF);
}

static __always_inline __u32 route_len_of(const struct packet *p)
{
	if (p->l3_proto == ETH_P_IP)
		return bpf_ntohs(p->ip4->tot_len);
	return sizeof(struct ipv6hdr) + bpf_ntohs(p->ip6->payload_len);
}

/*
 * Route p, whose tuple the kernel translates to *out. On success *nh holds
 * the next hop and PARSE_OK is returned; route_forward() then rewrites the
 * frame. Otherwise the pass reason, the frame untouched. gso_size: the
 * skb's (tc), 0 for XDP. uplinks: this program may redirect to tx_ports.
 */
static __always_inline int route_lookup(void *ctx, struct packet *p,
					const struct kct_out *out,
					struct next_hop *nh, __u32 gso_size,
					int uplinks)
{
	struct bpf_fib_lookup fib = {};
	struct container_key ck = {};
	struct container_val *c;
	__be16 sport, dport;
	int rc;

	rc = route_check(p);
	if (rc != PARSE_OK)
		return rc;
	fib.l4_protocol = p->l4_proto;
	fib.ifindex = l3_ifindex ? l3_ifindex : p->ifindex;
	l4_ports(p, &sport, &dport);
	fib.sport = sport;
	fib.dport = out->dport;
	if (p->l3_proto == ETH_P_IP) {
		struct iphdr *iph = p->ip4;

		fib.family = AF_INET;
		fib.tos = iph->tos;
		fib.tot_len = mtu_len(p, bpf_ntohs(iph->tot_len), sizeof(*iph),
				      gso_size);
		fib.ipv4_src = iph->saddr;
		fib.ipv4_dst = out->daddr[0];
		ck.family = AF_INET;
		ck.addr[0] = out->daddr[0];
	} else {
		struct ipv6hdr *ip6h = p->ip6;

		fib.family = AF_INET6;
		fib.flowinfo = route_flowinfo_of(p);
		fib.tot_len = mtu_len(p, sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len),
				      sizeof(*ip6h), gso_size);
		__builtin_memcpy(fib.ipv6_src, &ip6h->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, out->daddr, 16);
		ck.family = AF_INET6;
		__builtin_memcpy(ck.addr, out->daddr, 16);
	}

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	c = bpf_map_lookup_elem(&containers, &ck);
	if (c) {
		/* An attached container: the MACs are known, so a neighbour
		 * the host has not resolved yet does not matter; the route
		 * must still lead where the container is. */
		if (rc != BPF_FIB_LKUP_RET_SUCCESS &&
		    rc != BPF_FIB_LKUP_RET_NO_NEIGH)
			return fib_pass_reason(rc);
		if (fib.ifindex != c->l3_ifindex ||
		    !bpf_map_lookup_elem(&container_ports, &c->ifindex))
			return CNT_PASS_NOT_CONTAINER;
		nh->ifindex = c->ifindex;
		__builtin_memcpy(nh->dmac, c->mac, ETH_ALEN);
		__builtin_memcpy(nh->smac, c->router_mac, ETH_ALEN);
		nh->to_container = 1;
		return PARSE_OK;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return fib_pass_reason(rc);
	if (!uplinks)
		return CNT_PASS_NOT_CONTAINER;
	/* A route back out of the same device is the kernel's job. */
	if (fib.ifindex == p->ifindex ||
	    !bpf_map_lookup_elem(&tx_ports, &fib.ifindex))
		return CNT_PASS_NOT_UPLINK;
	nh->ifindex = fib.ifindex;
	__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
	nh->to_container = 0;
	return PARSE_OK;
}

/* Forward p to nh: TTL and MACs (the translation is rewrite.h's). */
static __always_inline void route_forward(struct packet *p,
					  const struct next_hop *nh)
{
	if (p->l3_proto == ETH_P_IP)
		ipv4_decrement_ttl(p->ip4);
	else
		p->ip6->hop_limit--;
	__builtin_memcpy(p->eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, nh->smac, ETH_ALEN);
}

#endif
