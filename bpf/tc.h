/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two tc programs (tc_egress on a container's host device,
 * tc_uplink on an uplink) share: their verdict for "not mine", how they
 * parse an skb and how they carry it.
 */
#ifndef XDP_EGRESS_TC_H
#define XDP_EGRESS_TC_H

#include <linux/pkt_cls.h>

#include "parse.h"
#include "route.h"
#include "rewrite.h"
#include "counters.h"

/*
 * What a tc program returns for a packet it leaves to the kernel: "not
 * mine, go on". TC_ACT_UNSPEC is TCX_NEXT for tcx (bpf_mprog: the next
 * program of the device runs, then the stack) and "continue" for a cls_bpf
 * filter in direct-action mode. TC_ACT_OK would end the chain there: another
 * tc program behind this one (a CNI's policy, Cilium's) would never see the
 * packets the kernel path carries.
 */
#define TC_PASS TC_ACT_UNSPEC

/* Headers the parser reads: Ethernet + VLAN + IPv6 + TCP with options. */
#define TC_PULL_LEN (14 + 4 + 40 + 60)

/*
 * Whether the headers parse_frame() reads are all in the linear part:
 * Ethernet, IPv4 (options included) or IPv6, and TCP (options included) or
 * UDP. For anything else the old rule: want bytes (TC_PULL_LEN, or the
 * whole frame when shorter). Only lengths, no verdicts: parse_frame() runs
 * once after it, because 6.1's verifier lost the TCP header's bounds when
 * it ran twice (once on the linear part, once after a pull).
 */
static __always_inline int tc_headers_linear(struct __sk_buff *skb, __u32 want)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *th;
	void *l4;
	__u8 proto;

	if (data + want <= end)
		return 1;
	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > end)
			return 0;
		proto = iph->protocol;
		l4 = (void *)iph + iph->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > end)
			return 0;
		proto = ip6h->nexthdr;
		l4 = ip6h + 1;
	} else {
		return 0;
	}
	if (proto == IPPROTO_UDP)
		return l4 + sizeof(struct udphdr) <= end;
	if (proto != IPPROTO_TCP)
		return 0;
	th = l4;
	if ((void *)(th + 1) > end)
		return 0;
	return l4 + th->doff * 4 <= end;
}

/*
 * parse_frame() on an skb at tc ingress. The stack's own skbs carry their
 * headers in the linear part, and often nothing more (TCP puts its payload
 * in page fragments): only a frame whose headers run past it is pulled.
 * Pulling every short one (as before) moved payload into a reallocated
 * head (pskb_expand_head(), a copy) on every TCP segment: about a tenth of
 * the programs' time on the kernel path.
 */
static __always_inline int tc_parse(struct __sk_buff *skb, struct packet *p)
{
	__u32 len = skb->len, want = len < TC_PULL_LEN ? len : TC_PULL_LEN;

	if (!tc_headers_linear(skb, want))
		bpf_skb_pull_data(skb, want);
	/* A tagged frame reaches tc without its tag (skb_vlan_untag() runs
	 * before ingress): parse_frame() judges it as XDP does a tagged one. */
	return parse_frame(p, (void *)(long)skb->data, (void *)(long)skb->data_end,
			   len, skb->ingress_ifindex, skb->vlan_present);
}

/* Carry p, decided (*out, *nh): forward, translate, count into stats and
 * redirect to nh's device; a rewrite that fails drops it (counted
 * malformed). The tc verdict. */
static __always_inline int tc_carry(struct __sk_buff *skb, struct packet *p,
				    const struct kct_out *out,
				    const struct next_hop *nh, void *stats,
				    __u32 len)
{
	route_forward(p, nh);
	if (kct_out_changes(p, out) && skb_rewrite(skb, p, out)) {
		count_to(stats, CNT_DROP_MALFORMED, len);
		return TC_ACT_SHOT;
	}
	count_to(stats, CNT_REDIRECTED, len);
	if (skb->gso_size)
		count_to(stats, CNT_GSO, len);
	return bpf_redirect(nh->ifindex, 0);
}

#endif
