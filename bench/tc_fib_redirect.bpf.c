// SPDX-License-Identifier: GPL-2.0
/*
 * tc-bpf baseline: what Cilium's BPF host routing does for pod egress, reduced
 * to its core. Attached at the host veth's tc ingress (clsact), it routes the
 * container's IPv4 packet with bpf_fib_lookup and sends it straight to the
 * uplink: bpf_redirect with the resolved MACs when the neighbour is known,
 * bpf_redirect_neigh (tc only, kernel >= 5.10) when it is not. The skb keeps
 * its GSO state and partial checksum, so bulk TCP stays at kernel speed.
 * Anything it cannot finish (non-IPv4, options, TTL <= 1, local or
 * unroutable destinations) goes to the kernel unchanged.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_OK 0
#define ETH_P_IP 0x0800
#define AF_INET 2

/* Same arithmetic as the kernel's ip_decrease_ttl() (include/net/ip.h). */
static __always_inline void ipv4_decrease_ttl(struct iphdr *iph)
{
	__u32 check = iph->check;

	check += bpf_htons(0x0100);
	iph->check = (__u16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

SEC("tc")
int tc_fib_redirect(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	void *data = (void *)(long)skb->data;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	struct iphdr *iph;
	int rc;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->ihl != 5 || iph->ttl <= 1)
		return TC_ACT_OK;

	fib.family = AF_INET;
	fib.tos = iph->tos;
	fib.l4_protocol = iph->protocol;
	fib.tot_len = bpf_ntohs(iph->tot_len);
	fib.ipv4_src = iph->saddr;
	fib.ipv4_dst = iph->daddr;
	fib.ifindex = skb->ingress_ifindex;

	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		ipv4_decrease_ttl(iph);
		__builtin_memcpy(eth->h_dest, fib.dmac, 6);
		__builtin_memcpy(eth->h_source, fib.smac, 6);
		return bpf_redirect(fib.ifindex, 0);
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/* bpf_fib_lookup left the next hop in ipv4_dst. */
		struct bpf_redir_neigh nh = {
			.nh_family = AF_INET,
			.ipv4_nh = fib.ipv4_dst,
		};

		ipv4_decrease_ttl(iph);
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
