// SPDX-License-Identifier: GPL-2.0
/*
 * The egress programs, attached to the host side of a container's veth (or
 * a VM's tap). They run on the container's *transmit* path, because that is
 * the host device's receive. Stages, each in its own header, in order:
 *
 *   parse.h       Ethernet, IP, TCP/UDP headers; every bounds check
 *   source.h      the container's own MAC and address (anti-spoofing)
 *   kct.h         the kernel's verdict: a confirmed, established conntrack
 *                 entry and its translation (SNAT, DNAT alike)
 *   route.h       bpf_fib_lookup: an uplink, or an attached container
 *   flow_cache.h  kct + route per flow, once per jiffy per CPU
 *   rewrite.h     the translation applied, checksums kept right
 *   -> redirect (devmap in XDP, bpf_redirect in tc)
 *
 * Two programs run these stages; `attach --mode` picks one or both:
 * - xdp_egress (native or generic XDP): XDP_REDIRECT through a devmap. The
 *   cheapest per packet, but native XDP on a veth costs the container its
 *   TSO (veth_fix_features()), so bulk TCP crosses it one MTU at a time.
 * - tc_egress (tcx ingress): bpf_redirect() of the skb, GSO super-packet and
 *   partial checksum kept, so the container keeps TSO and checksum offload.
 *
 * Whatever a stage cannot finish, and every packet the kernel has not
 * already accepted, goes to the kernel (XDP_PASS / TC_ACT_UNSPEC) untouched,
 * with a counted reason: the kernel decides. Only malformed frames, and a
 * FIN or RST the kernel would have judged out of window, are dropped.
 */
#include "parse.h"
#include "source.h"
#include "kct.h"
#include "route.h"
#include "flow_cache.h"
#include "rewrite.h"
#include "build_salt.h"
#include "counters.h"
#include "tc.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by attach: the MAC of the device the kernel routes the container's
 * frames as (its host veth, or the bridge); frames to any other MAC are
 * bridged or dropped by the kernel, never routed. */
const volatile __u8 router_mac[ETH_ALEN] = {};
const volatile __u8 check_router_mac = 0;
/* auto mode: the tc program runs behind native XDP. What XDP passes, XDP
 * has judged: it marks the frame in its metadata so tc_egress leaves it to
 * the kernel instead of judging (and counting) it twice. */
const volatile __u8 xdp_marks_passed = 0;
#define XE_PASSED_MARK 0x78655061 /* "xePa" */

COUNTER_MAP(egress_stats);

static __always_inline void count(__u32 id, __u64 bytes)
{
	count_to(&egress_stats, id, bytes);
}

/* Stage 2, and what only the kernel handles: PARSE_OK for routed TCP/UDP
 * from the container's own MAC, else the pass reason (or a drop). Its
 * address is checked by egress_decide(). */
static __always_inline int egress_admit(void *ctx, int is_skb, struct packet *p)
{
	int i, rc;

	/* Group MACs: never forwarded (route_check says so too). */
	if (p->eth->h_dest[0] & 1)
		return CNT_PASS_LOCAL;
	if (check_router_mac)
		for (i = 0; i < ETH_ALEN; i++)
			if (p->eth->h_dest[i] != router_mac[i])
				return CNT_PASS_NOT_ROUTED;
	if (p->l4_proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		/* parse_l4() checked these bounds; checked again because
		 * 6.1's verifier can lose the tie between a reloaded l4_proto
		 * and that check (as in parse_l4_len()): "invalid access to
		 * packet, off=46 r=42" here on the UDP path's state. */
		if ((void *)(th + 1) > p->data_end)
			return CNT_DROP_MALFORMED;
		if (th->fin || th->rst) {
			/* A FIN or RST outside a promoted flow's window never
			 * reaches the kernel, spoofed or not
			 * (kct_guard_close()). */
			rc = kct_guard_close(ctx, is_skb, p);
			if (rc == PARSE_OK)
				rc = source_check(p);
			return rc == PARSE_OK ? CNT_PASS_TCP_CONTROL : rc;
		}
	}
	/* ICMP is the kernel's anyway (neighbour discovery from a link-local
	 * address among it): counted as such, not as spoofed. */
	if (p->l4_proto == IPPROTO_ICMP || p->l4_proto == IPPROTO_ICMPV6)
		return CNT_PASS_ICMP;
	return source_mac_ok(p) ? PARSE_OK : CNT_PASS_SPOOFED;
}

/* Stages 3 and 4 (flow_cache.h), the source address checked on a cache
 * miss only: a cached verdict is for this device and this source address,
 * checked when it was filled. */
static __always_inline int egress_decide(void *ctx, int is_skb, struct packet *p,
					 __u32 gso_size, struct kct_out *out,
					 struct next_hop *nh, int *promoted)
{
	struct fc_key k;
	int rc;

	*promoted = 0;
	rc = flow_cached(p, &k, out, nh);
	if (rc >= 0)
		return rc;
	rc = source_addr_ok(p);
	if (rc != PARSE_OK)
		return rc;
	return flow_decide_miss(ctx, is_skb, p, &k, gso_size, 1, out, nh, promoted);
}

static __always_inline int is_drop(int rc)
{
	return rc == CNT_DROP_MALFORMED || rc == CNT_DROP_OUT_OF_WINDOW;
}

SEC("xdp")
int xdp_egress(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	struct next_hop nh;
	struct kct_out out;
	struct packet p;
	int rc, promoted = 0;

	BUILD_SALT();
	rc = parse_packet(ctx, &p);
	if (rc == PARSE_OK)
		rc = egress_admit(ctx, 0, &p);
	if (rc == PARSE_OK)
		rc = egress_decide(ctx, 0, &p, 0, &out, &nh, &promoted);
	if (promoted)
		count(CNT_PROMOTE_REQUESTS, 0);
	if (rc == PARSE_OK) {
		xdp_rewrite(&p, &out);
		route_forward(&p, &nh);
		count(CNT_REDIRECTED, len);
		/* route_lookup() checked the devmap entry; XDP_PASS is only a
		 * fallback should it vanish in between. */
		if (nh.to_container) {
			int act = bpf_redirect_map(&container_ports, nh.ifindex,
						   XDP_PASS);

			/* Keeps the two calls apart: merged into one call
			 * site, that site would see two maps, and the
			 * verifier would call the generic helper (an indirect
			 * call through the map's ops, a retpoline here)
			 * instead of the devmap's own redirect: about 10 ns a
			 * packet (XE_MEASURE_HIT). */
			barrier_var(act);
			return act;
		}
		return bpf_redirect_map(&tx_ports, nh.ifindex, XDP_PASS);
	}
	count(rc, len);
	if (is_drop(rc))
		return XDP_DROP;
	if (xdp_marks_passed && !bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32))) {
		__u32 *meta = (void *)(long)ctx->data_meta;

		if ((void *)(meta + 1) <= (void *)(long)ctx->data)
			*meta = XE_PASSED_MARK;
	}
	return XDP_PASS;
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	struct next_hop nh;
	struct kct_out out;
	struct packet p;
	int rc, promoted = 0;

	BUILD_SALT();
	/* Passed by the XDP program in front (auto mode): the kernel's. */
	if (xdp_marks_passed) {
		__u32 *meta = (void *)(long)skb->data_meta;

		if ((void *)(meta + 1) <= (void *)(long)skb->data &&
		    *meta == XE_PASSED_MARK)
			return TC_PASS;
	}
	rc = tc_parse(skb, &p);
	if (rc == PARSE_OK)
		rc = egress_admit(skb, 1, &p);
	if (rc == PARSE_OK)
		rc = egress_decide(skb, 1, &p, skb->gso_size, &out, &nh, &promoted);
	if (promoted)
		count(CNT_PROMOTE_REQUESTS, 0);
	if (rc == PARSE_OK)
		return tc_carry(skb, &p, &out, &nh, &egress_stats, len);
	count(rc, len);
	return is_drop(rc) ? TC_ACT_SHOT : TC_PASS;
}
