/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stage 1 of the egress path: parse Ethernet (one optional 802.1Q tag),
 * IPv4/IPv6 and the TCP/UDP/ICMP header. Every bounds check of the project
 * lives here; later stages only use the pointers this fills in.
 */
#ifndef XDP_EGRESS_PARSE_H
#define XDP_EGRESS_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdp_egress.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif
#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

/* linux/icmp.h pulls in libc socket headers that do not build for BPF. */
struct icmp_echo_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

struct vlan_hdr_ {
	__be16 tci;
	__be16 encap_proto;
};

/* What the parser found. l3 points at the IP header, l4 at the L4 header. */
struct packet {
	void *data;
	void *data_end;          /* end of what the program can read directly */
	__u32 len;               /* the whole frame (an skb may be longer than
				  * its linear part: GSO super-packets) */
	__u32 ifindex;           /* the device it arrived on */
	struct ethhdr *eth;
	__u16 l3_proto;          /* host order ETH_P_IP / ETH_P_IPV6 */
	struct iphdr *ip4;
	struct ipv6hdr *ip6;
	__u8 l4_proto;           /* IPPROTO_* */
	void *l4;
};

/* Two IPv6 addresses (or zero-padded IPv4 ones) equal? BPF has no memcmp. */
static __always_inline int addr16_eq(const void *a, const void *b)
{
	const __u32 *x = a, *y = b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/*
 * Result of parsing: either "go on" (PARSE_OK) or the counter that says why
 * the fast path stops here. Malformed frames map to CNT_DROP_MALFORMED.
 */
#define PARSE_OK CNT_MAX

static __always_inline int parse_l4(struct packet *p, void *l4)
{
	void *end = p->data_end;

	p->l4 = l4;
	switch (p->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > end)
			return CNT_DROP_MALFORMED;
		if (th->doff < 5 || l4 + th->doff * 4 > end)
			return CNT_DROP_MALFORMED;
		return PARSE_OK;
	}
	case IPPROTO_UDP:
		if (l4 + sizeof(struct udphdr) > end)
			return CNT_DROP_MALFORMED;
		return PARSE_OK;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (l4 + sizeof(struct icmp_echo_hdr) > end)
			return CNT_DROP_MALFORMED;
		return PARSE_OK;
	default:
		return CNT_PASS_L4_OTHER;
	}
}

/*
 * The L4 header found by parse_l4() must also lie within the IP packet
 * (l4_len bytes by its header), not run on into padding or trailing bytes:
 * the kernel's conntrack finds no flow for such a packet. A separate step,
 * after the bounds checks the verifier needs, in scalars only.
 */
static __always_inline int parse_l4_len(const struct packet *p, int rc, __u32 l4_len)
{
	struct tcphdr *th = p->l4;

	if (rc != PARSE_OK)
		return rc;
	if (p->l4_proto == IPPROTO_TCP) {
		/* parse_l4() checked this already; checked again because 6.1's
		 * verifier loses the tie between a reloaded l4_proto and that
		 * check when the compiler spills it (seen when bpf/flows.h
		 * grew the uplink program: "invalid access to packet, off=46
		 * r=42" on a path it thought was ICMP). */
		if ((void *)(th + 1) > p->data_end)
			return CNT_DROP_MALFORMED;
		return th->doff * 4 > l4_len ? CNT_DROP_MALFORMED : rc;
	}
	return l4_len < 8 ? CNT_DROP_MALFORMED : rc;
}

/* A 20-byte IPv4 header whose checksum verifies (ip_rcv() drops any other). */
static __always_inline int ipv4_csum_ok(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static __always_inline int parse_ipv4(struct packet *p, void *l3)
{
	struct iphdr *iph = l3;
	void *end = p->data_end;
	__u16 tot_len;
	__u32 ihl_len;

	if ((void *)(iph + 1) > end)
		return CNT_DROP_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return CNT_DROP_MALFORMED;
	ihl_len = iph->ihl * 4;
	tot_len = bpf_ntohs(iph->tot_len);
	/* The frame may carry Ethernet padding after the IP packet, never less. */
	/* BIG TCP (gso_ipv4_max_size > 64k) leaves tot_len 0 on an skb
	 * longer than 64k: not ours to judge, the kernel's. */
	if (tot_len == 0 && p->len > 0xffff)
		return CNT_PASS_TOO_BIG;
	if (tot_len < ihl_len || (l3 - p->data) + tot_len > p->len)
		return CNT_DROP_MALFORMED;
	p->ip4 = iph;
	p->l4_proto = iph->protocol;
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return CNT_PASS_FRAGMENT;
	if (ihl_len != sizeof(*iph))
		return CNT_PASS_IP_OPTIONS;
	/* A corrupt header: the kernel would drop it (IpInCsumErrors); a
	 * rewrite here would only carry the corruption on. */
	if (!ipv4_csum_ok(iph))
		return CNT_DROP_MALFORMED;
	return parse_l4_len(p, parse_l4(p, l3 + sizeof(*iph)), tot_len - ihl_len);
}

static __always_inline int parse_ipv6(struct packet *p, void *l3)
{
	struct ipv6hdr *ip6h = l3;
	void *end = p->data_end;

	if ((void *)(ip6h + 1) > end)
		return CNT_DROP_MALFORMED;
	if (ip6h->version != 6)
		return CNT_DROP_MALFORMED;
	if (ip6h->payload_len == 0 && p->len > 0xffff) /* BIG TCP, as above */
		return CNT_PASS_TOO_BIG;
	if ((l3 - p->data) + sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len) > p->len)
		return CNT_DROP_MALFORMED;
	p->ip6 = ip6h;
	p->l4_proto = ip6h->nexthdr;
	switch (ip6h->nexthdr) {
	case IPPROTO_FRAGMENT:
		return CNT_PASS_FRAGMENT;
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_ESP:
	case IPPROTO_MH:
		return CNT_PASS_IP_OPTIONS;
	}
	return parse_l4_len(p, parse_l4(p, l3 + sizeof(*ip6h)),
			    bpf_ntohs(ip6h->payload_len));
}

/*
 * Parse the frame [data, data_end) of len bytes in all (len > data_end -
 * data for an skb whose payload lies in pages) into p; vlan_stripped: an
 * skb whose 802.1Q tag the stack holds apart. Returns PARSE_OK or a counter
 * id.
 */
static __always_inline int parse_frame(struct packet *p, void *data,
				       void *data_end, __u32 len, __u32 ifindex,
				       int vlan_stripped)
{
	struct ethhdr *eth = data;
	void *l3 = data + sizeof(*eth);
	__u16 proto;

	p->data = data;
	p->data_end = data_end;
	p->len = len;
	p->ifindex = ifindex;
	p->eth = eth;
	p->ip4 = 0;
	p->ip6 = 0;
	p->l4 = 0;
	p->l4_proto = 0;
	if (l3 > data_end)
		return CNT_DROP_MALFORMED;
	proto = bpf_ntohs(eth->h_proto);
	if (!vlan_stripped && (proto == ETH_P_8021Q || proto == ETH_P_8021AD)) {
		struct vlan_hdr_ *vh = l3;

		if ((void *)(vh + 1) > data_end)
			return CNT_DROP_MALFORMED;
		proto = bpf_ntohs(vh->encap_proto);
		l3 = vh + 1;
		vlan_stripped = 1;
	}
	if (vlan_stripped) {
		/* Tagged (an skb's tag already moved out of the frame by the
		 * stack, skb_vlan_untag()): the vlan device routes it. Still
		 * validate what is inside so runts are dropped, not passed. */
		p->l3_proto = proto;
		if (proto == ETH_P_IP && l3 + sizeof(struct iphdr) > data_end)
			return CNT_DROP_MALFORMED;
		if (proto == ETH_P_IPV6 && l3 + sizeof(struct ipv6hdr) > data_end)
			return CNT_DROP_MALFORMED;
		return CNT_PASS_VLAN;
	}
	p->l3_proto = proto;
	if (proto == ETH_P_IP)
		return parse_ipv4(p, l3);
	if (proto == ETH_P_IPV6)
		return parse_ipv6(p, l3);
	return CNT_PASS_NON_IP;
}

/* XDP: the whole frame is in [data, data_end). */
static __always_inline int parse_packet(struct xdp_md *ctx, struct packet *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return parse_frame(p, data, data_end, data_end - data,
			   ctx->ingress_ifindex, 0);
}

#endif
