/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The SNAT rewrite for the tc program (--mode tc): the same translation as
 * nat_rewrite(), on an skb whose L4 checksum may be partial. A container
 * with checksum offload and TSO sends CHECKSUM_PARTIAL skbs, GSO
 * super-packets included: the checksum field then holds only the
 * pseudo-header sum, which must follow the address but not the port. The
 * kernel's helpers (bpf_l4_csum_replace -> inet_proto_csum_replace*) know
 * skb->ip_summed and do the right thing for partial, complete and plain
 * checksums; XDP cannot, which is why native mode turns the container's
 * checksum offload off and this mode does not have to.
 */
#ifndef XDP_EGRESS_SKB_NAT_H
#define XDP_EGRESS_SKB_NAT_H

#include "nat.h"

#ifndef BPF_F_PSEUDO_HDR
#define BPF_F_PSEUDO_HDR (1ULL << 4)
#endif
#ifndef BPF_F_MARK_MANGLED_0
#define BPF_F_MARK_MANGLED_0 (1ULL << 5)
#endif

/*
 * Rewrite p's source to (to->addr, to->port). The header writes come first
 * (direct packet access), the checksum helpers last: they may move the
 * packet, after which p's pointers are stale. Returns 0, or -1 when a helper
 * failed (the caller drops: the packet is half rewritten).
 */
static __always_inline int skb_nat_rewrite(struct __sk_buff *skb,
					   struct packet *p,
					   const struct nat_to *to)
{
	__u64 l4_flags = 0, addr_flags;
	__be32 old_addr[4] = {};
	__u32 csum_off = 0;
	__s64 diff;
	__be16 *portp, old_port;
	int pseudo = 1, words;

	switch (p->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = p->l4;

		csum_off = (void *)&th->check - p->data;
		portp = &th->source;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = p->l4;

		csum_off = (void *)&uh->check - p->data;
		portp = &uh->source;
		/* IPv4 UDP without checksum stays without; a computed 0 is
		 * sent as 0xffff. */
		l4_flags = BPF_F_MARK_MANGLED_0;
		break;
	}
	default: { /* ICMP / ICMPv6 echo request: the id is the port */
		struct icmp_echo_hdr *ih = p->l4;

		csum_off = (void *)&ih->checksum - p->data;
		portp = &ih->id;
		pseudo = p->l4_proto == IPPROTO_ICMPV6;
	}
	}

	if (p->l3_proto == ETH_P_IP) {
		struct iphdr *iph = p->ip4;

		old_addr[0] = iph->saddr;
		/* The IP header checksum is always complete. */
		csum_replace4(&iph->check, iph->saddr, to->addr[0]);
		iph->saddr = to->addr[0];
		words = 1;
	} else {
		struct ipv6hdr *ip6h = p->ip6;

		__builtin_memcpy(old_addr, &ip6h->saddr, 16);
		__builtin_memcpy(&ip6h->saddr, to->addr, 16);
		words = 4;
	}
	old_port = *portp;
	*portp = to->port;

	/* From here on p's pointers must not be used. */
	if (pseudo) {
		diff = bpf_csum_diff(old_addr, words * 4, (__be32 *)to->addr,
				     words * 4, 0);
		if (diff < 0)
			return -1;
		addr_flags = l4_flags | BPF_F_PSEUDO_HDR;
		if (bpf_l4_csum_replace(skb, csum_off, 0, diff, addr_flags))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, csum_off, old_port, to->port, l4_flags | 2))
		return -1;
	return 0;
}

#endif
