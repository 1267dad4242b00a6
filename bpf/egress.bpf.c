// SPDX-License-Identifier: GPL-2.0
/*
 * The egress program: attached to the host side of a container's veth (or a
 * VM's tap), it runs on the container's *transmit* path, because that is the
 * host device's receive. Stages, each in its own header:
 *
 *   parse.h -> route.h (bpf_fib_lookup) -> nat.h (SNAT, conntrack.h)
 *           -> route.h (TTL, MACs) -> XDP_REDIRECT (devmap)
 *
 * Whatever a stage cannot finish safely goes to the kernel with XDP_PASS and a
 * counted reason, untouched; only malformed frames are dropped.
 */
#include "parse.h"
#include "route.h"
#include "nat.h"

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

static __always_inline int snat_stage(struct xdp_md *ctx, struct packet *p)
{
	struct snat_config cfg = {};
	struct ct_key okey;
	__u32 new_flow = 0;
	int rc, i;

	if (p->l3_proto == ETH_P_IP ? !snat_v4_on : !snat_v6_on)
		return PARSE_OK;
	rc = snat_translate(p, &okey);
	if (rc != SNAT_NO_FLOW)
		return rc;
	/* A new flow: only now is the configuration needed. */
	if (p->l3_proto == ETH_P_IP) {
		cfg.addr[0] = snat_v4_addr;
	} else {
		for (i = 0; i < 4; i++)
			cfg.addr[i] = snat_v6_addr[i];
	}
	cfg.port_min = snat_port_min;
	cfg.port_max = snat_port_max;
	for (i = 0; i < CT_TO_MAX; i++)
		cfg.timeout_s[i] = ct_timeouts[i];
	cfg.check_kernel = snat_check_kernel_ct;
	rc = snat_create(ctx, p, &okey, &cfg, &new_flow);
	if (new_flow)
		count(CNT_SNAT_NEW, 0);
	return rc;
}

SEC("xdp")
int xdp_egress(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	struct bpf_fib_lookup fib;
	struct packet p;
	int rc;

	rc = parse_packet(ctx, &p);
	if (rc == PARSE_OK)
		rc = route_lookup(ctx, &p, &fib);
	if (rc == CNT_PASS_NO_NEIGH) {
		/* The kernel resolves the next hop with this packet. With
		 * SNAT it must leave translated, or the container's address
		 * leaks: translate it (attach set accept_local on this veth,
		 * so the kernel forwards a packet with the host's address as
		 * its source) and pass it on. */
		if (snat_stage(ctx, &p) == PARSE_OK)
			rc = CNT_PASS_NO_NEIGH;
	} else if (rc == PARSE_OK) {
		rc = snat_stage(ctx, &p);
	}
	if (rc == PARSE_OK) {
		route_forward(&p, &fib);
		count(CNT_REDIRECTED, len);
		/* route_lookup() checked the devmap entry; XDP_PASS is only a
		 * fallback should it vanish in between. */
		return bpf_redirect_map(&tx_ports, fib.ifindex, XDP_PASS);
	}
	count(rc, len);
	return rc == CNT_DROP_MALFORMED ? XDP_DROP : XDP_PASS;
}
