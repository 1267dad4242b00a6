/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stage 5: apply the kernel's translation (kct.h's kct_out) to the packet:
 * source and destination address and port, with every checksum that covers
 * them. Two flavours:
 * - XDP (xdp_rewrite): incremental updates (csum.h) of checksums that must
 *   be complete: native XDP consumes the skb, so attach turns the
 *   container's tx-checksumming off whenever native XDP runs.
 * - tc (skb_rewrite): the kernel's helpers, which know skb->ip_summed: a
 *   container with checksum offload and TSO sends CHECKSUM_PARTIAL skbs,
 *   GSO super-packets included, whose checksum field holds only the
 *   pseudo-header sum. That must follow the addresses but not the ports;
 *   bpf_l4_csum_replace (inet_proto_csum_replace*) does the right thing for
 *   partial, complete and plain checksums alike.
 */
#ifndef XDP_EGRESS_REWRITE_H
#define XDP_EGRESS_REWRITE_H

#include "kct.h"
#include "csum.h"

#ifndef BPF_F_PSEUDO_HDR
#define BPF_F_PSEUDO_HDR (1ULL << 4)
#endif
#ifndef BPF_F_MARK_MANGLED_0
#define BPF_F_MARK_MANGLED_0 (1ULL << 5)
#endif

/* The fields the translation writes. */
struct l4_fields {
	__sum16 *sum;            /* NULL: IPv4 UDP without checksum */
	__be16 *sport, *dport;
};

static __always_inline void l4_fields_of(struct packet *p, struct l4_fields *f)
{
	if (p->l4_proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		f->sum = &th->check;
		f->sport = &th->source;
		f->dport = &th->dest;
	} else {
		struct udphdr *uh = p->l4;

		/* IPv4 UDP without checksum stays without. */
		f->sum = uh->check || p->l3_proto != ETH_P_IP ? &uh->check : 0;
		f->sport = &uh->source;
		f->dport = &uh->dest;
	}
}

static __always_inline int kct_out_changes(const struct packet *p,
					   const struct kct_out *o)
{
	struct l4_fields f;

	l4_fields_of((struct packet *)p, &f);
	if (*f.sport != o->sport || *f.dport != o->dport)
		return 1;
	if (p->l3_proto == ETH_P_IP)
		return p->ip4->saddr != o->saddr[0] || p->ip4->daddr != o->daddr[0];
	return !addr16_eq(&p->ip6->saddr, o->saddr) ||
	       !addr16_eq(&p->ip6->daddr, o->daddr);
}

/* XDP: rewrite p to *o, checksums complete. */
static __always_inline void xdp_rewrite(struct packet *p, const struct kct_out *o)
{
	struct l4_fields f;

	l4_fields_of(p, &f);
	if (p->l3_proto == ETH_P_IP) {
		struct iphdr *iph = p->ip4;

		if (iph->saddr != o->saddr[0]) {
			csum_replace4(&iph->check, iph->saddr, o->saddr[0]);
			if (f.sum)
				csum_replace4(f.sum, iph->saddr, o->saddr[0]);
			iph->saddr = o->saddr[0];
		}
		if (iph->daddr != o->daddr[0]) {
			csum_replace4(&iph->check, iph->daddr, o->daddr[0]);
			if (f.sum)
				csum_replace4(f.sum, iph->daddr, o->daddr[0]);
			iph->daddr = o->daddr[0];
		}
	} else {
		struct ipv6hdr *ip6h = p->ip6;

		if (!addr16_eq(&ip6h->saddr, o->saddr)) {
			csum_replace16(f.sum, (__be32 *)&ip6h->saddr, o->saddr);
			__builtin_memcpy(&ip6h->saddr, o->saddr, 16);
		}
		if (!addr16_eq(&ip6h->daddr, o->daddr)) {
			csum_replace16(f.sum, (__be32 *)&ip6h->daddr, o->daddr);
			__builtin_memcpy(&ip6h->daddr, o->daddr, 16);
		}
	}
	if (*f.sport != o->sport) {
		if (f.sum)
			csum_replace2(f.sum, *f.sport, o->sport);
		*f.sport = o->sport;
	}
	if (*f.dport != o->dport) {
		if (f.sum)
			csum_replace2(f.sum, *f.dport, o->dport);
		*f.dport = o->dport;
	}
	if (f.sum && p->l4_proto == IPPROTO_UDP)
		udp_csum_fixup_zero(f.sum);
}

/*
 * tc: rewrite p to *o. The header writes come first (direct packet access),
 * the checksum helpers last: they may move the packet, after which p's
 * pointers are stale. Returns 0, or -1 when a helper failed (the caller
 * drops: the packet is half rewritten).
 */
static __always_inline int skb_rewrite(struct __sk_buff *skb, struct packet *p,
				       const struct kct_out *o)
{
	__be32 old_addr[8] = {}, new_addr[8] = {};
	__be32 old_ports, new_ports;
	__u64 l4_flags = 0;
	struct l4_fields f;
	__u32 csum_off;
	__s64 diff;
	int words;

	l4_fields_of(p, &f);
	if (p->l4_proto == IPPROTO_UDP)
		/* A computed 0 is sent as 0xffff; a UDP checksum of 0 (none)
		 * stays 0. */
		l4_flags = BPF_F_MARK_MANGLED_0;
	csum_off = (void *)(p->l4_proto == IPPROTO_TCP ?
			    &((struct tcphdr *)p->l4)->check :
			    &((struct udphdr *)p->l4)->check) - p->data;
	if (p->l3_proto == ETH_P_IP) {
		struct iphdr *iph = p->ip4;

		old_addr[0] = iph->saddr;
		old_addr[1] = iph->daddr;
		new_addr[0] = o->saddr[0];
		new_addr[1] = o->daddr[0];
		/* The IP header checksum is always complete. */
		csum_replace4(&iph->check, iph->saddr, o->saddr[0]);
		csum_replace4(&iph->check, iph->daddr, o->daddr[0]);
		iph->saddr = o->saddr[0];
		iph->daddr = o->daddr[0];
		words = 2;
	} else {
		struct ipv6hdr *ip6h = p->ip6;

		__builtin_memcpy(old_addr, &ip6h->saddr, 16);
		__builtin_memcpy(old_addr + 4, &ip6h->daddr, 16);
		__builtin_memcpy(new_addr, o->saddr, 16);
		__builtin_memcpy(new_addr + 4, o->daddr, 16);
		__builtin_memcpy(&ip6h->saddr, o->saddr, 16);
		__builtin_memcpy(&ip6h->daddr, o->daddr, 16);
		words = 8;
	}
	old_ports = (__be32)*f.sport | (__be32)*f.dport << 16;
	new_ports = (__be32)o->sport | (__be32)o->dport << 16;
	*f.sport = o->sport;
	*f.dport = o->dport;

	/* From here on p's pointers must not be used. */
	diff = bpf_csum_diff(old_addr, words * 4, new_addr, words * 4, 0);
	if (diff < 0)
		return -1;
	if (bpf_l4_csum_replace(skb, csum_off, 0, diff, l4_flags | BPF_F_PSEUDO_HDR))
		return -1;
	if (old_ports != new_ports &&
	    bpf_l4_csum_replace(skb, csum_off, old_ports, new_ports, l4_flags | 4))
		return -1;
	return 0;
}

#endif
