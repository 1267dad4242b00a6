// SPDX-License-Identifier: GPL-2.0
/*
 * The return path: XDP on the uplink. A packet that answers a flow the egress
 * programs translated (a reply entry in the shared conntrack map) gets its
 * destination translated back and is redirected straight into the
 * container's host veth, so it reaches the container without the host stack.
 * ICMP errors about such a flow are translated too, inner header included,
 * so path-MTU discovery and traceroute work from the container. Everything
 * else, the host's own traffic first of all, passes untouched.
 *
 *   parse.h -> conntrack.h (reply lookup) -> nat.h (reverse rewrite)
 *           -> TTL, MACs -> XDP_REDIRECT (devmap of container veths)
 */
#include "parse.h"
#include "nat.h"

char LICENSE[] SEC("license") = "GPL";

/* Host veths of the attached containers, keyed by ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} container_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IN_MAX);
	__type(key, __u32);
	__type(value, struct counter_val);
} ingress_stats SEC(".maps");

static __always_inline int count_in(__u32 id, __u64 bytes, int action)
{
	struct counter_val *v = bpf_map_lookup_elem(&ingress_stats, &id);

	if (v) {
		v->packets++;
		v->bytes += bytes;
	}
	return action;
}

static __always_inline int ttl_expiring(struct packet *p)
{
	if (p->l3_proto == ETH_P_IP)
		return p->ip4->ttl <= 1;
	return p->ip6->hop_limit <= 1;
}

static __always_inline void decrement_ttl(struct packet *p)
{
	if (p->l3_proto == ETH_P_IP) {
		__u32 check = (__u32)p->ip4->check;

		check += (__u32)bpf_htons(0x0100);
		p->ip4->check = (__sum16)(check + (check >= 0xFFFF));
		p->ip4->ttl--;
	} else {
		p->ip6->hop_limit--;
	}
}

/* Finish a matched packet: L2 towards the container, redirect. */
static __always_inline int deliver(struct packet *p, const struct ct_entry *e,
				   __u32 counter, __u64 len)
{
	__u32 ifindex = e->ifindex;

	decrement_ttl(p);
	__builtin_memcpy(p->eth->h_dest, e->container_mac, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, e->host_mac, ETH_ALEN);
	count_in(counter, len, 0);
	return bpf_redirect_map(&container_ports, ifindex, XDP_PASS);
}

static __always_inline int is_icmp_error(const struct packet *p)
{
	struct icmp_echo_hdr *ih = p->l4;

	if (p->l4_proto == IPPROTO_ICMP)
		return ih->type == 3 || ih->type == 11 || ih->type == 12;
	if (p->l4_proto == IPPROTO_ICMPV6)
		return ih->type >= 1 && ih->type <= 4;
	return 0;
}

/*
 * The quoted packet inside an ICMP error is one we sent: source = the SNAT
 * address and port. Translate it back (and the outer destination) and keep
 * the outer ICMP checksum right for every word changed inside it.
 */
static __always_inline int icmp_error_v4(struct packet *p, __u64 len)
{
	struct icmp_echo_hdr *oh = p->l4;
	struct iphdr *in = (void *)(oh + 1);
	void *end = p->data_end;
	struct ct_key k = {};
	struct ct_entry *e;
	__be16 *inner_port, *inner_sum = 0, old_sum;
	__be32 new_addr;
	__be16 new_port;
	__u8 *l4;

	if ((void *)(in + 1) > end || in->ihl != 5 || in->version != 4)
		return count_in(IN_PASS_OTHER, len, XDP_PASS);
	l4 = (void *)(in + 1);
	if (l4 + 8 > (__u8 *)end)
		return count_in(IN_PASS_OTHER, len, XDP_PASS);
	k.family = AF_INET;
	k.proto = in->protocol;
	k.saddr[0] = in->daddr;
	k.daddr[0] = in->saddr;
	if (in->protocol == IPPROTO_TCP || in->protocol == IPPROTO_UDP) {
		k.sport = *(__be16 *)(l4 + 2);
		k.dport = *(__be16 *)l4;
		inner_port = (__be16 *)l4;
		if (in->protocol == IPPROTO_TCP && l4 + 18 <= (__u8 *)end)
			inner_sum = (__be16 *)(l4 + 16);
		if (in->protocol == IPPROTO_UDP && *(__be16 *)(l4 + 6))
			inner_sum = (__be16 *)(l4 + 6);
	} else if (in->protocol == IPPROTO_ICMP && l4[0] == 8) {
		k.dport = *(__be16 *)(l4 + 4);
		inner_port = (__be16 *)(l4 + 4);
		inner_sum = (__be16 *)(l4 + 2);
	} else {
		return count_in(IN_PASS_OTHER, len, XDP_PASS);
	}
	e = bpf_map_lookup_elem(&ct, &k);
	if (!e || e->dir != CT_DIR_REPLY)
		return count_in(IN_PASS_NO_CT, len, XDP_PASS);
	if (ttl_expiring(p) ||
	    !bpf_map_lookup_elem(&container_ports, &e->ifindex))
		return count_in(IN_PASS_NO_NEIGH, len, XDP_PASS);
	new_addr = e->nat_addr[0];
	new_port = e->nat_port;

	/* Inner L4 checksum: pseudo header (TCP/UDP) and port/id. */
	if (inner_sum) {
		old_sum = *inner_sum;
		if (in->protocol != IPPROTO_ICMP)
			csum_replace4((__sum16 *)inner_sum, in->saddr, new_addr);
		csum_replace2((__sum16 *)inner_sum, *inner_port, new_port);
		if (in->protocol == IPPROTO_UDP)
			udp_csum_fixup_zero((__sum16 *)inner_sum);
		csum_replace2(&oh->checksum, old_sum, *inner_sum);
	}
	csum_replace2(&oh->checksum, *inner_port, new_port);
	*inner_port = new_port;
	/* Inner IP source and header checksum. */
	old_sum = in->check;
	csum_replace4(&in->check, in->saddr, new_addr);
	csum_replace2(&oh->checksum, old_sum, in->check);
	csum_replace4(&oh->checksum, in->saddr, new_addr);
	in->saddr = new_addr;
	/* Outer destination (ICMPv4 has no pseudo header). */
	csum_replace4(&p->ip4->check, p->ip4->daddr, new_addr);
	p->ip4->daddr = new_addr;
	return deliver(p, e, IN_ICMP_ERROR, len);
}

static __always_inline int icmp_error_v6(struct packet *p, __u64 len)
{
	struct icmp_echo_hdr *oh = p->l4;
	struct ipv6hdr *in = (void *)(oh + 1);
	void *end = p->data_end;
	struct ct_key k = {};
	struct ct_entry *e;
	__be16 *inner_port, *inner_sum = 0, old_sum;
	__be32 new_addr[4];
	__be16 new_port;
	__u8 *l4;

	if ((void *)(in + 1) > end || in->version != 6)
		return count_in(IN_PASS_OTHER, len, XDP_PASS);
	l4 = (void *)(in + 1);
	if (l4 + 8 > (__u8 *)end)
		return count_in(IN_PASS_OTHER, len, XDP_PASS);
	k.family = AF_INET6;
	k.proto = in->nexthdr;
	__builtin_memcpy(k.saddr, &in->daddr, 16);
	__builtin_memcpy(k.daddr, &in->saddr, 16);
	if (in->nexthdr == IPPROTO_TCP || in->nexthdr == IPPROTO_UDP) {
		k.sport = *(__be16 *)(l4 + 2);
		k.dport = *(__be16 *)l4;
		inner_port = (__be16 *)l4;
		if (in->nexthdr == IPPROTO_TCP && l4 + 18 <= (__u8 *)end)
			inner_sum = (__be16 *)(l4 + 16);
		if (in->nexthdr == IPPROTO_UDP)
			inner_sum = (__be16 *)(l4 + 6);
	} else if (in->nexthdr == IPPROTO_ICMPV6 && l4[0] == 128) {
		k.dport = *(__be16 *)(l4 + 4);
		inner_port = (__be16 *)(l4 + 4);
		inner_sum = (__be16 *)(l4 + 2);
	} else {
		return count_in(IN_PASS_OTHER, len, XDP_PASS);
	}
	e = bpf_map_lookup_elem(&ct, &k);
	if (!e || e->dir != CT_DIR_REPLY)
		return count_in(IN_PASS_NO_CT, len, XDP_PASS);
	if (ttl_expiring(p) ||
	    !bpf_map_lookup_elem(&container_ports, &e->ifindex))
		return count_in(IN_PASS_NO_NEIGH, len, XDP_PASS);
	__builtin_memcpy(new_addr, e->nat_addr, 16);
	new_port = e->nat_port;

	if (inner_sum) {
		old_sum = *inner_sum;
		/* ICMPv6 has a pseudo header too: every inner checksum does. */
		csum_replace16((__sum16 *)inner_sum, (__be32 *)&in->saddr, new_addr);
		csum_replace2((__sum16 *)inner_sum, *inner_port, new_port);
		if (in->nexthdr == IPPROTO_UDP)
			udp_csum_fixup_zero((__sum16 *)inner_sum);
		csum_replace2(&oh->checksum, old_sum, *inner_sum);
	}
	csum_replace2(&oh->checksum, *inner_port, new_port);
	*inner_port = new_port;
	csum_replace16(&oh->checksum, (__be32 *)&in->saddr, new_addr);
	__builtin_memcpy(&in->saddr, new_addr, 16);
	/* Outer destination: in the outer ICMPv6 pseudo header. */
	csum_replace16(&oh->checksum, (__be32 *)&p->ip6->daddr, new_addr);
	__builtin_memcpy(&p->ip6->daddr, new_addr, 16);
	return deliver(p, e, IN_ICMP_ERROR, len);
}

SEC("xdp")
int xdp_uplink(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	struct ct_entry *e, *orig;
	struct packet p;
	struct ct_key k;
	int rc;

	rc = parse_packet(ctx, &p);
	if (rc != PARSE_OK)
		/* Not for us to judge the host's traffic: even malformed
		 * frames go on to the kernel. */
		return count_in(rc == CNT_DROP_MALFORMED ? IN_PASS_MALFORMED
							  : IN_PASS_OTHER,
				len, XDP_PASS);
	if (is_icmp_error(&p)) {
		if (p.l3_proto == ETH_P_IP)
			return icmp_error_v4(&p, len);
		return icmp_error_v6(&p, len);
	}
	if (ct_key_of(&p, &k))
		return count_in(IN_PASS_NO_CT, len, XDP_PASS);
	e = bpf_map_lookup_elem(&ct, &k);
	if (!e || e->dir != CT_DIR_REPLY)
		return count_in(IN_PASS_NO_CT, len, XDP_PASS);
	if (ttl_expiring(&p) ||
	    !bpf_map_lookup_elem(&container_ports, &e->ifindex))
		return count_in(IN_PASS_NO_NEIGH, len, XDP_PASS);
	orig = bpf_map_lookup_elem(&ct, &e->other);
	if (orig)
		ct_update_state(orig, &p, CT_DIR_REPLY);
	nat_rewrite(&p, 0, e->nat_addr, e->nat_port);
	return deliver(&p, e, IN_REDIRECTED, len);
}
