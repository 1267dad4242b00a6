// SPDX-License-Identifier: GPL-2.0
/*
 * The egress program: attached to the host side of a container's veth (or a
 * VM's tap), it runs on the container's *transmit* path, because that is the
 * host device's receive. Stages, each in its own header:
 *
 *   parse.h  -> route.h (bpf_fib_lookup, TTL, MACs) -> XDP_REDIRECT (devmap)
 *
 * Whatever a stage cannot finish safely goes to the kernel with XDP_PASS and a
 * counted reason; only malformed frames are dropped.
 */
#include "parse.h"
#include "route.h"

char LICENSE[] SEC("license") = "GPL";

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

SEC("xdp")
int xdp_egress(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	struct packet p;
	__u32 ifindex = 0;
	int rc;

	rc = parse_packet(ctx, &p);
	if (rc == PARSE_OK)
		rc = route_packet(ctx, &p, &ifindex);
	if (rc == PARSE_OK) {
		count(CNT_REDIRECTED, len);
		/* Lookup already succeeded in route_packet(); XDP_PASS is only a
		 * fallback should the entry vanish in between. */
		return bpf_redirect_map(&tx_ports, ifindex, XDP_PASS);
	}
	count(rc, len);
	return rc == CNT_DROP_MALFORMED ? XDP_DROP : XDP_PASS;
}
