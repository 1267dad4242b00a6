// SPDX-License-Identifier: GPL-2.0
/*
 * The egress programs, attached to the host side of a container's veth (or
 * a VM's tap). They run on the container's *transmit* path, because that is
 * the host device's receive. Stages, each in its own header:
 *
 *   parse.h -> route.h (bpf_fib_lookup) -> nat.h (SNAT, conntrack.h)
 *           -> route.h (TTL, MACs) -> redirect to the uplink
 *
 * With SNAT (XDP only), a packet of an established flow whose orig ct entry
 * holds a fresh route (route.h, the route cache) skips bpf_fib_lookup; one
 * of a flow this CPU forwarded in the same jiffy skips the ct lookup too
 * (flow_cache.h).
 *
 * Two programs run these stages; `attach --mode` picks one:
 * - xdp_egress (native or generic XDP): XDP_REDIRECT through a devmap. The
 *   cheapest per packet, but native XDP on a veth costs the container its
 *   TSO (veth_fix_features()), so bulk TCP crosses it one MTU at a time.
 * - tc_egress (tcx ingress, --mode tc): bpf_redirect() of the skb, GSO
 *   super-packet and partial checksum kept (skb_nat.h), so the container
 *   keeps TSO and checksum offload.
 *
 * Whatever a stage cannot finish safely goes to the kernel (XDP_PASS /
 * TC_ACT_OK) with a counted reason, untouched; only malformed frames are
 * dropped.
 */
#include <linux/pkt_cls.h>

#include "parse.h"
#include "route.h"
#include "nat.h"
#include "flow_cache.h"
#include "skb_nat.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by `attach` before load; the verifier prunes what is off. */
const volatile __u8 snat_v4_on = 0;
const volatile __u8 snat_v6_on = 0;
const volatile __be32 snat_v4_addr = 0;
const volatile __be32 snat_v6_addr[4] = {};
const volatile __u16 snat_port_min = 16384;
const volatile __u16 snat_port_max = 32767;
const volatile __u32 ct_timeouts[CT_TO_MAX] = CT_TIMEOUT_DEFAULTS;
const volatile __u8 snat_check_kernel_ct = 1;
/* auto mode: the tc program runs behind native XDP. What XDP passes, XDP
 * has judged (and with SNAT and no neighbour, already translated): it marks
 * the frame in its metadata so tc_egress leaves it to the kernel. */
const volatile __u8 xdp_marks_passed = 0;
#define XE_PASSED_MARK 0x78655061 /* "xePa" */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, struct counter_val);
} egress_stats SEC(".maps");

static __always_inline void count(__u32 id, __u64 bytes)
{
	struct counter_val *v = bpf_map_lookup_elem(&egress_stats, &id);

	if (v) {
		v->packets++;
		v->bytes += bytes;
	}
}

static __always_inline int snat_on_for(const struct packet *p)
{
	return p->l3_proto == ETH_P_IP ? snat_v4_on : snat_v6_on;
}

/* The flow p belongs to, when SNAT is on for its family: snat_find()'s
 * result, *ep its orig entry if it has one. SNAT_OFF when SNAT is off. */
#define SNAT_OFF (CNT_MAX + 2)

static __always_inline int snat_flow(struct packet *p, struct ct_key *okey,
				     struct ct_entry **ep)
{
	*ep = 0;
	if (!snat_on_for(p))
		return SNAT_OFF;
	return snat_find(p, okey, ep);
}

/* SNAT stage: the translation of the flow snat_flow() found, or a new one;
 * the caller rewrites. Returns PARSE_OK with *to filled in (to->addr 0 when
 * SNAT is off for this family), or a pass reason. cfg is the caller's:
 * to->addr may point into it. */
static __always_inline int snat_stage(void *ctx, int is_skb, struct packet *p,
				      struct ct_key *okey, struct ct_entry *e,
				      int flow_rc, struct snat_config *cfg,
				      struct nat_to *to)
{
	__u32 new_flow = 0;
	int rc, i;

	to->addr = 0;
	if (flow_rc == SNAT_OFF)
		return PARSE_OK;
	if (e) {
		snat_translate(p, e, to);
		return PARSE_OK;
	}
	if (flow_rc != SNAT_NO_FLOW)
		return flow_rc;
	/* A new flow: only now is the configuration needed. */
	__builtin_memset(cfg, 0, sizeof(*cfg));
	if (p->l3_proto == ETH_P_IP) {
		cfg->addr[0] = snat_v4_addr;
	} else {
		for (i = 0; i < 4; i++)
			cfg->addr[i] = snat_v6_addr[i];
	}
	cfg->port_min = snat_port_min;
	cfg->port_max = snat_port_max;
	for (i = 0; i < CT_TO_MAX; i++)
		cfg->timeout_s[i] = ct_timeouts[i];
	cfg->check_kernel = snat_check_kernel_ct;
	rc = snat_create(ctx, is_skb, p, okey, cfg, &new_flow, to);
	if (new_flow)
		count(CNT_SNAT_NEW, 0);
	return rc;
}

/* TTL, MACs, redirect to the uplink fib names. */
static __always_inline int forward(struct packet *p,
				   const struct bpf_fib_lookup *fib, __u64 len)
{
	route_forward(p, fib);
	count(CNT_REDIRECTED, len);
	/* route_lookup() checked the devmap entry (for a cached route: when
	 * it cached it); XDP_PASS is only a fallback should it vanish in
	 * between. */
	return bpf_redirect_map(&tx_ports, fib->ifindex, XDP_PASS);
}

SEC("xdp")
int xdp_egress(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	struct bpf_fib_lookup fib;
	struct snat_config cfg;
	struct ct_entry *e = 0;
	struct ct_key okey __attribute__((aligned(8)));
	struct nat_to to;
	struct packet p;
	int rc, flow_rc = SNAT_OFF;

	rc = parse_packet(ctx, &p);
	if (rc == PARSE_OK && snat_on_for(&p)) {
		flow_rc = snat_key(&p, &okey);
		if (flow_rc == PARSE_OK && fc_get(&okey, &p, &fib, &to)) {
			/* This CPU forwarded the flow in this jiffy: no ct
			 * lookup, no FIB. */
			nat_rewrite(&p, 1, to.addr, to.port);
			return forward(&p, &fib, len);
		}
		if (flow_rc == PARSE_OK)
			flow_rc = snat_lookup(&okey, &e);
	}
	if (rc == PARSE_OK && e && rt_cache_get(e, &p, &fib)) {
		/* An established flow with a fresh cached route: no FIB. */
		snat_translate(&p, e, &to);
		nat_rewrite(&p, 1, to.addr, to.port);
		fc_put(&okey, &p, e, &fib);
	} else if (rc == PARSE_OK) {
		rc = route_lookup(ctx, &p, &fib, 0);
		if (rc == CNT_PASS_NO_NEIGH || rc == PARSE_OK) {
			int route_rc = rc;

			rc = snat_stage(ctx, 0, &p, &okey, e, flow_rc, &cfg, &to);
			if (rc == PARSE_OK && to.addr)
				nat_rewrite(&p, 1, to.addr, to.port);
			/* No next hop yet: the kernel resolves it with this
			 * packet. With SNAT it leaves translated, or the
			 * container's address leaks (attach set accept_local
			 * on this veth, so the kernel forwards a packet with
			 * the host's address as its source). */
			if (rc == PARSE_OK)
				rc = route_rc;
			if (rc == PARSE_OK && e) {
				rt_cache_put(e, &p, &fib);
				fc_put(&okey, &p, e, &fib);
			}
		}
	}
	if (rc == PARSE_OK)
		return forward(&p, &fib, len);
	count(rc, len);
	if (rc == CNT_DROP_MALFORMED)
		return XDP_DROP;
	if (xdp_marks_passed && !bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32))) {
		__u32 *meta = (void *)(long)ctx->data_meta;

		if ((void *)(meta + 1) <= (void *)(long)ctx->data)
			*meta = XE_PASSED_MARK;
	}
	return XDP_PASS;
}

/* Headers the parser reads: Ethernet + VLAN + IPv6 + TCP with options. */
#define TC_PULL_LEN (14 + 4 + 40 + 60)

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	struct bpf_fib_lookup fib;
	struct snat_config cfg;
	struct nat_to to;
	struct packet p;
	int rc;

	/* Passed by the XDP program in front (auto mode): the kernel's. */
	if (xdp_marks_passed) {
		__u32 *meta = (void *)(long)skb->data_meta;

		if ((void *)(meta + 1) <= (void *)(long)skb->data &&
		    *meta == XE_PASSED_MARK)
			return TC_ACT_OK;
	}
	/* The stack's own skbs carry their headers in the linear part; make
	 * sure of it for anything else (a no-op when they are). */
	if ((void *)(long)skb->data + TC_PULL_LEN > (void *)(long)skb->data_end)
		bpf_skb_pull_data(skb, len < TC_PULL_LEN ? len : TC_PULL_LEN);
	/* A tagged frame reaches tc without its tag (skb_vlan_untag() runs
	 * before ingress): parse_frame() judges it as XDP does a tagged one. */
	rc = parse_frame(&p, (void *)(long)skb->data, (void *)(long)skb->data_end,
			 len, skb->ingress_ifindex, skb->vlan_present);
	if (rc == PARSE_OK)
		rc = route_lookup(skb, &p, &fib, skb->gso_size);
	if (rc == CNT_PASS_NO_NEIGH || rc == PARSE_OK) {
		int route_rc = rc;
		struct ct_entry *e;
		struct ct_key okey;

		rc = snat_flow(&p, &okey, &e);
		rc = snat_stage(skb, 1, &p, &okey, e, rc, &cfg, &to);
		if (rc == PARSE_OK) {
			if (route_rc == PARSE_OK)
				route_forward(&p, &fib);
			if (to.addr && skb_nat_rewrite(skb, &p, &to)) {
				count(CNT_DROP_MALFORMED, len);
				return TC_ACT_SHOT;
			}
			rc = route_rc;
		}
	}
	if (rc == PARSE_OK) {
		count(CNT_REDIRECTED, len);
		if (skb->gso_size)
			count(CNT_GSO, len);
		return bpf_redirect(fib.ifindex, 0);
	}
	count(rc, len);
	return rc == CNT_DROP_MALFORMED ? TC_ACT_SHOT : TC_ACT_OK;
}
