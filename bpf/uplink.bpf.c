// SPDX-License-Identifier: GPL-2.0
/*
 * The return path: XDP (xdp_uplink) or tc (tc_uplink) on the uplink,
 * whichever costs less there (`--uplink-mode`). A packet of a flow the
 * kernel has accepted (a confirmed, established conntrack entry) whose
 * translated destination is an attached container gets the entry's
 * translation and is redirected straight into the container's host veth,
 * without the host stack: the reply to a container's connection
 * (MASQUERADE undone), or a connection to a container's published port
 * (DNAT). Everything else, the host's own traffic first of all, passes
 * untouched; so does every packet the kernel has not already decided (TCP
 * control packets, ICMP errors, fragments, new flows).
 *
 *   parse.h -> kct.h (the kernel's verdict) -> route.h (to a container)
 *           -> flow_cache.h -> rewrite.h -> XDP_REDIRECT (container_ports)
 *                                           or bpf_redirect() (tc.h)
 */
#include "parse.h"
#include "kct.h"
#include "route.h"
#include "flow_cache.h"
#include "rewrite.h"
#include "build_salt.h"
#include "counters.h"
#include "tc.h"

char LICENSE[] SEC("license") = "GPL";

/* Set at load: the uplink's own MAC. Frames to other MACs (promiscuous
 * mode, a bridge) are not for the host to route. */
const volatile __u8 uplink_mac[ETH_ALEN] = {};
const volatile __u8 check_uplink_mac = 0;

COUNTER_MAP(ingress_stats);

static __always_inline void count_in(__u32 id, __u64 bytes)
{
	count_to(&ingress_stats, id, bytes);
}

static __always_inline int uplink_admit(const struct packet *p)
{
	int i;

	if (p->eth->h_dest[0] & 1)
		return CNT_PASS_LOCAL;
	if (check_uplink_mac)
		for (i = 0; i < ETH_ALEN; i++)
			if (p->eth->h_dest[i] != uplink_mac[i])
				return CNT_PASS_NOT_ROUTED;
	if (p->l4_proto == IPPROTO_ICMP || p->l4_proto == IPPROTO_ICMPV6)
		return CNT_PASS_ICMP;
	return PARSE_OK;
}

/* What xdp_uplink and tc_uplink decide alike, once the frame is parsed
 * (rc: the parser's verdict): PARSE_OK with *out and *nh set when the
 * packet is to be carried, else the counter of why not. ctx is an xdp_md,
 * or an __sk_buff when is_skb. */
static __always_inline int uplink_decide(void *ctx, int is_skb, int rc,
					 struct packet *p, __u32 gso_size,
					 struct kct_out *out, struct next_hop *nh)
{
	int promoted = 0;

	/* Not for us to judge the host's traffic: even malformed frames go
	 * on to the kernel. */
	if (rc == CNT_DROP_MALFORMED)
		rc = CNT_PASS_L4_OTHER;
	if (rc == PARSE_OK)
		rc = uplink_admit(p);
	if (rc == PARSE_OK)
		rc = flow_decide(ctx, is_skb, p, gso_size, 0, out, nh, &promoted);
	if (promoted)
		count_in(CNT_PROMOTE_REQUESTS, 0);
	return rc;
}

SEC("xdp")
int xdp_uplink(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	struct next_hop nh;
	struct kct_out out;
	struct packet p;
	int rc;

	BUILD_SALT();
	rc = uplink_decide(ctx, 0, parse_packet(ctx, &p), &p, 0, &out, &nh);
	if (rc != PARSE_OK) {
		count_in(rc, len);
		/* A FIN or RST out of a promoted flow's window (kct.h). */
		return rc == CNT_DROP_OUT_OF_WINDOW ? XDP_DROP : XDP_PASS;
	}
	xdp_rewrite(&p, &out);
	route_forward(&p, &nh);
	count_in(CNT_REDIRECTED, len);
	return bpf_redirect_map(&container_ports, nh.ifindex, XDP_PASS);
}

/*
 * The same return path as a tc program on the uplink's ingress, for an
 * uplink where XDP costs more than it saves: on a veth, native XDP copies
 * every frame the peer sends into an XDP buffer, and generic XDP copies
 * every cloned skb (all TCP) and cannot redirect a GSO super-packet. Here
 * the skb goes on as it came, GSO and checksum state kept, to the
 * container's host device (bpf_redirect()).
 */
SEC("tc")
int tc_uplink(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	struct next_hop nh;
	struct kct_out out;
	struct packet p;
	int rc;

	BUILD_SALT();
	rc = uplink_decide(skb, 1, tc_parse(skb, &p), &p, skb->gso_size, &out, &nh);
	if (rc != PARSE_OK) {
		count_in(rc, len);
		return rc == CNT_DROP_OUT_OF_WINDOW ? TC_ACT_SHOT : TC_PASS;
	}
	return tc_carry(skb, &p, &out, &nh, &ingress_stats, len);
}
