// SPDX-License-Identifier: GPL-2.0
/*
 * World-side sink and CPU meter.
 *
 * xeb_sink_xdp: on the world end of the uplink veth, counts and drops the
 * benchmark's UDP flood (destination port sink_port) and passes everything
 * else (TCP, latency probes, ARP). Flood packets from an unexpected source
 * (src_net) are counted apart: an untranslated flood is not a result. Native XDP also gives that veth NAPI, which
 * a veth needs to accept XDP_REDIRECTed frames (drivers/net/veth.c,
 * veth_xdp_xmit).
 *
 * The softirq/napi tracepoints measure CPU time spent in the network softirqs
 * (NET_RX, NET_TX), on every CPU, wherever they run (ksoftirqd or on the way
 * out of a syscall), and subtract the polls of the sink's own device, so what
 * remains is the cost of the container -> host -> uplink path. With
 * host_netns_ino set, polls of devices in any other namespace are left out
 * too (other tests running on the same machine); per-CPU backlog polls
 * (no device: veths without NAPI) cannot be told apart and stay in. Time between
 * consecutive napi_poll events inside one softirq run is charged to the
 * device just polled (net_rx_action polls devices one after another).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define IPPROTO_UDP_ 17
#define NET_TX_SIRQ 2
#define NET_RX_SIRQ 3

const volatile __u16 sink_port = 9;
const volatile __u32 sink_ifindex = 0;
const volatile __u32 sink_netns_ino = 0;
const volatile __u32 host_netns_ino = 0; /* 0: charge every other poll to the host */
/*
 * Source check: a flood packet whose source is outside src_net/src_mask is
 * counted apart (wrong_src_packets) and dropped, not counted as received, so
 * a NAT contender that does not translate shows as loss, never as speed.
 * src_mask 0: any source.
 */
const volatile __u32 src_net = 0;  /* network byte order */
const volatile __u32 src_mask = 0; /* network byte order */

struct sink_cpu {
	__u64 rx_packets;   /* flood packets counted and dropped */
	__u64 rx_bytes;
	__u64 other_packets;/* everything passed */
	__u64 net_sirq_ns;  /* NET_RX + NET_TX softirq time */
	__u64 sink_poll_ns; /* part of it spent polling the sink device */
	__u64 foreign_poll_ns; /* polls of devices in other namespaces */
	__u64 wrong_src_packets; /* flood packets from outside src_net, dropped */
	__u64 sirq_start;   /* scratch: current softirq run started */
	__u64 last_mark;    /* scratch: last napi_poll event */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sink_cpu);
} sink_stats SEC(".maps");

static __always_inline struct sink_cpu *cpu_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sink_stats, &zero);
}

SEC("xdp")
int xeb_sink_xdp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct sink_cpu *s = cpu_stats();
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *udp;

	if (!s)
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    iph->protocol != IPPROTO_UDP_ || iph->ihl != 5)
		goto pass;
	udp = (void *)(iph + 1);
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(sink_port))
		goto pass;
	if ((iph->saddr & src_mask) != src_net) {
		s->wrong_src_packets++;
		return XDP_DROP;
	}
	s->rx_packets++;
	s->rx_bytes += data_end - data;
	return XDP_DROP;
pass:
	s->other_packets++;
	return XDP_PASS;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(xeb_sirq_entry, unsigned int vec_nr)
{
	struct sink_cpu *s;

	if (vec_nr != NET_RX_SIRQ && vec_nr != NET_TX_SIRQ)
		return 0;
	s = cpu_stats();
	if (s)
		s->sirq_start = s->last_mark = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/napi_poll")
int BPF_PROG(xeb_napi_poll, struct napi_struct *napi, int work, int budget)
{
	struct sink_cpu *s = cpu_stats();
	struct net_device *dev;
	__u64 now;

	if (!s || !s->sirq_start)
		return 0;
	now = bpf_ktime_get_ns();
	dev = napi->dev;
	if (dev) {
		__u32 ino = BPF_CORE_READ(dev, nd_net.net, ns.inum);

		if (dev->ifindex == sink_ifindex && ino == sink_netns_ino)
			s->sink_poll_ns += now - s->last_mark;
		else if (host_netns_ino && ino != host_netns_ino)
			/* Someone else's traffic on this shared machine. */
			s->foreign_poll_ns += now - s->last_mark;
	}
	s->last_mark = now;
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(xeb_sirq_exit, unsigned int vec_nr)
{
	struct sink_cpu *s;

	if (vec_nr != NET_RX_SIRQ && vec_nr != NET_TX_SIRQ)
		return 0;
	s = cpu_stats();
	if (s && s->sirq_start) {
		s->net_sirq_ns += bpf_ktime_get_ns() - s->sirq_start;
		s->sirq_start = 0;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
