// SPDX-License-Identifier: GPL-2.0
/*
 * Redirect failures happen after the XDP program has returned (in
 * xdp_do_redirect() or in the target's ndo_xdp_xmit()), so the egress program
 * cannot count them itself. These BTF tracepoint programs count them into the
 * attachment's own stats map (shared with the egress program by pinning).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "xdp_egress.h"

char LICENSE[] SEC("license") = "GPL";

/* Set before load: which prog and device this instance watches. */
const volatile __u32 watched_prog_id = 0;
const volatile __u32 watched_ifindex = 0;
const volatile __u32 watched_netns_ino = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, struct counter_val);
} egress_stats SEC(".maps");

static __always_inline void count_errors(__u64 n)
{
	__u32 id = CNT_REDIRECT_ERR;
	struct counter_val *v = bpf_map_lookup_elem(&egress_stats, &id);

	if (v)
		v->packets += n;
}

SEC("tp_btf/xdp_redirect_err")
int BPF_PROG(count_redirect_err, const struct net_device *dev,
	     const struct bpf_prog *xdp, const void *tgt, int err)
{
	if (BPF_CORE_READ(xdp, aux, id) == watched_prog_id)
		count_errors(1);
	return 0;
}

/* Frames the devmap flushed to the target but the target refused (e.g. a
 * veth whose peer has no NAPI: veth_xdp_xmit() drops them). */
SEC("tp_btf/xdp_devmap_xmit")
int BPF_PROG(count_devmap_drops, const struct net_device *from_dev,
	     const struct net_device *to_dev, int sent, int drops, int err)
{
	if (drops <= 0)
		return 0;
	if (BPF_CORE_READ(from_dev, ifindex) != watched_ifindex)
		return 0;
	if (BPF_CORE_READ(from_dev, nd_net.net, ns.inum) != watched_netns_ino)
		return 0;
	count_errors(drops);
	return 0;
}
