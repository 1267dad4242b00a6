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

/* parse_frame() on an skb at tc ingress. */
static __always_inline int tc_parse_linear(struct __sk_buff *skb, struct packet *p)
{
	/* A tagged frame reaches tc without its tag (skb_vlan_untag() runs
	 * before ingress): parse_frame() judges it as XDP does a tagged one. */
	return parse_frame(p, (void *)(long)skb->data, (void *)(long)skb->data_end,
			   skb->len, skb->ingress_ifindex, skb->vlan_present);
}

/*
 * The stack's own skbs carry their headers in the linear part, and often
 * nothing more (TCP puts its payload in page fragments), so the parser
 * first reads what is linear. Only a frame whose headers run past it is
 * pulled (bpf_skb_pull_data()) and parsed again: pulling every short one
 * moved payload into a reallocated head (pskb_expand_head(), a copy) on
 * every TCP segment, about a tenth of the program's time on the kernel path.
 */
static __always_inline int tc_parse(struct __sk_buff *skb, struct packet *p)
{
	__u32 len = skb->len, want = len < TC_PULL_LEN ? len : TC_PULL_LEN;
	int rc = tc_parse_linear(skb, p);

	if (rc != CNT_DROP_MALFORMED ||
	    (void *)(long)skb->data + want <= (void *)(long)skb->data_end)
		return rc;
	if (bpf_skb_pull_data(skb, want))
		return rc;
	return tc_parse_linear(skb, p);
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
