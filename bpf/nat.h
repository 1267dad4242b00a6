/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stage 3 of the egress path (with --snat) and the heart of the uplink
 * program: source NAT with port allocation, and its reverse. Rewrites keep
 * every checksum right with incremental updates (csum.h). The container side
 * sends full checksums: attach turns its tx-checksumming off whenever SNAT is
 * on, because XDP cannot see whether an skb's checksum was partial.
 */
#ifndef XDP_EGRESS_NAT_H
#define XDP_EGRESS_NAT_H

#include "conntrack.h"
#include "csum.h"

/* bpf_xdp_ct_lookup() (net/netfilter/nf_conntrack_bpf.c, 6.x): the kernel's
 * own conntrack, to leave flows the kernel path started to the kernel. */
struct bpf_ct_opts_xe {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};
struct nf_conn {
	int unused; /* opaque; a body so libbpf matches it to the kernel's */
};
extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx,
					 struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz,
					 struct bpf_ct_opts_xe *opts,
					 __u32 opts__sz) __ksym;
extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb_ctx,
					 struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz,
					 struct bpf_ct_opts_xe *opts,
					 __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

#define BPF_F_CURRENT_NETNS_ (-1)

/* Does the kernel's conntrack know this tuple, in either direction? ctx is
 * an xdp_md, or an __sk_buff when is_skb (the tc program). */
static __always_inline int kernel_owns_flow(void *ctx, const struct ct_key *k,
					    int is_skb)
{
	struct bpf_ct_opts_xe opts = { .netns_id = BPF_F_CURRENT_NETNS_,
				       .l4proto = k->proto };
	struct bpf_sock_tuple tup = {};
	struct nf_conn *c;
	__u32 sz;

	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP)
		return 0;
	if (k->family == AF_INET) {
		tup.ipv4.saddr = k->saddr[0];
		tup.ipv4.daddr = k->daddr[0];
		tup.ipv4.sport = k->sport;
		tup.ipv4.dport = k->dport;
		sz = sizeof(tup.ipv4);
	} else {
		__builtin_memcpy(tup.ipv6.saddr, k->saddr, 16);
		__builtin_memcpy(tup.ipv6.daddr, k->daddr, 16);
		tup.ipv6.sport = k->sport;
		tup.ipv6.dport = k->dport;
		sz = sizeof(tup.ipv6);
	}
	if (is_skb)
		c = bpf_skb_ct_lookup(ctx, &tup, sz, &opts, sizeof(opts));
	else
		c = bpf_xdp_ct_lookup(ctx, &tup, sz, &opts, sizeof(opts));
	if (!c)
		return 0;
	bpf_ct_release(c);
	return 1;
}

/* ---- rewrites ---- */

/* Replace the source (egress) or destination (ingress) address and the
 * matching port / ICMP id, with every checksum that covers them. */
static __always_inline void nat_rewrite(struct packet *p, int rewrite_src,
					const __be32 *addr, __be16 port)
{
	__sum16 *l4sum = 0;
	__be16 *portp = 0;
	int pseudo = 1;

	switch (p->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = p->l4;

		l4sum = &th->check;
		portp = rewrite_src ? &th->source : &th->dest;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = p->l4;

		/* IPv4 UDP without checksum stays without. */
		if (uh->check || p->l3_proto != ETH_P_IP)
			l4sum = &uh->check;
		portp = rewrite_src ? &uh->source : &uh->dest;
		break;
	}
	default: { /* ICMP / ICMPv6 echo: the id is the "port" both ways */
		struct icmp_echo_hdr *ih = p->l4;

		l4sum = &ih->checksum;
		portp = &ih->id;
		pseudo = p->l4_proto == IPPROTO_ICMPV6;
	}
	}

	if (p->l3_proto == ETH_P_IP) {
		struct iphdr *iph = p->ip4;
		__be32 *a = rewrite_src ? &iph->saddr : &iph->daddr;

		csum_replace4(&iph->check, *a, addr[0]);
		if (l4sum && pseudo)
			csum_replace4(l4sum, *a, addr[0]);
		*a = addr[0];
	} else {
		struct ipv6hdr *ip6h = p->ip6;
		__be32 *a = rewrite_src ? (__be32 *)&ip6h->saddr
					: (__be32 *)&ip6h->daddr;

		if (l4sum)
			csum_replace16(l4sum, a, addr);
		__builtin_memcpy(a, addr, 16);
	}
	if (l4sum)
		csum_replace2(l4sum, *portp, port);
	*portp = port;
	if (l4sum && p->l4_proto == IPPROTO_UDP)
		udp_csum_fixup_zero(l4sum);
}

/* ---- egress: find or create the translation ---- */

struct snat_config {
	__be32 addr[4];          /* the translated source */
	__u16 port_min, port_max; /* host order, inclusive */
	__u32 timeout_s[CT_TO_MAX];
	int check_kernel;        /* consult the kernel's conntrack for new flows */
};

#define SNAT_PORT_TRIES 32

/* Scratch space for the entries snat_create() inserts: a struct ct_entry
 * on the stack would leave xdp_egress no room under the 512-byte limit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[sizeof(struct ct_entry)]);
} ct_scratch SEC(".maps");

/*
 * Reserve a reply key (a free translated port for this remote) and insert
 * the reply entry. Returns the port (network order) or 0 when no port is
 * free; *full is set when the map itself is full.
 */
static __always_inline __be16 snat_reserve_port(void *ctx, int is_skb,
						struct ct_key *rkey,
						struct ct_entry *rentry,
						const struct ct_key *okey,
						const struct snat_config *cfg,
						int *full)
{
	__u32 range = (__u32)cfg->port_max - cfg->port_min + 1;
	__u16 orig = bpf_ntohs(okey->sport);
	__u32 start, i;
	long err;

	/* Keep the original port when it lies in the range and is free, as
	 * the kernel's NAT does. */
	rkey->dport = okey->sport;
	if (orig >= cfg->port_min && orig <= cfg->port_max &&
	    !(cfg->check_kernel && kernel_owns_flow(ctx, rkey, is_skb))) {
		err = bpf_map_update_elem(&ct, rkey, rentry, BPF_NOEXIST);
		if (!err)
			return rkey->dport;
		if (err != -17 /* EEXIST */) {
			*full = 1;
			return 0;
		}
	}
	start = bpf_get_prandom_u32();
	for (i = 0; i < SNAT_PORT_TRIES; i++) {
		__u16 port = cfg->port_min + (__u16)((start + i * 7919) % range);

		rkey->dport = bpf_htons(port);
		/* The kernel's NAT or the host itself may use this port
		 * towards this remote: its reply tuple would be ours. */
		if (cfg->check_kernel && kernel_owns_flow(ctx, rkey, is_skb))
			continue;
		err = bpf_map_update_elem(&ct, rkey, rentry, BPF_NOEXIST);
		if (!err)
			return rkey->dport;
		if (err != -17) {
			*full = 1;
			return 0;
		}
	}
	*full = 1;
	return 0;
}

/* snat_translate() found no flow: snat_create() may start one. */
#define SNAT_NO_FLOW (CNT_MAX + 1)

/* Where a flow's packets go: the translated source address and port. The
 * caller rewrites the packet (nat_rewrite() in XDP, skb_nat_rewrite() in tc,
 * whose checksum rules differ). */
struct nat_to {
	const __be32 *addr;      /* into the ct entry or the snat_config */
	__be16 port;
};

/* The orig key of p's flow, if p may belong to one: PARSE_OK or a pass
 * reason. */
static __always_inline int snat_key(struct packet *p, struct ct_key *okey)
{
	if (ct_key_of(p, okey))
		return CNT_PASS_ICMP_OTHER;
	if (p->l4_proto == IPPROTO_ICMP || p->l4_proto == IPPROTO_ICMPV6) {
		__u8 type = ((struct icmp_echo_hdr *)p->l4)->type;

		/* Only echo requests start a flow (id 0 included). */
		if (type != 8 && type != 128)
			return CNT_PASS_ICMP_OTHER;
	}
	return PARSE_OK;
}

/* The orig entry under okey (snat_key()'s): PARSE_OK (*ep set) or
 * SNAT_NO_FLOW. */
static __always_inline int snat_lookup(const struct ct_key *okey,
				       struct ct_entry **ep)
{
	struct ct_entry *e = bpf_map_lookup_elem(&ct, okey);

	if (e && e->dir == CT_DIR_ORIG) {
		*ep = e;
		return PARSE_OK;
	}
	*ep = 0;
	return SNAT_NO_FLOW;
}

/* The per-packet part: find the orig entry of p's flow, without changing
 * anything. Returns PARSE_OK (*ep set), a pass reason, or SNAT_NO_FLOW. */
static __always_inline int snat_find(struct packet *p, struct ct_key *okey,
				     struct ct_entry **ep)
{
	int rc;

	*ep = 0;
	rc = snat_key(p, okey);
	if (rc != PARSE_OK)
		return rc;
	return snat_lookup(okey, ep);
}

/* A packet of the known flow e: its state moves on, *to is its translation. */
static __always_inline void snat_translate(struct packet *p, struct ct_entry *e,
					   struct nat_to *to)
{
	ct_update_state(e, p, CT_DIR_ORIG);
	to->addr = e->nat_addr;
	to->port = e->nat_port;
}

/*
 * A packet without a flow: start one where the container starts it (TCP
 * SYN, UDP, ICMP echo request) and the kernel does not already track it.
 * Only here is the attachment's SNAT configuration needed.
 */
static __always_inline int snat_create(void *ctx, int is_skb, struct packet *p,
				       struct ct_key *okey,
				       const struct snat_config *cfg,
				       __u32 *new_flow, struct nat_to *to)
{
	struct ct_key rkey;
	struct ct_entry *e, *ne;
	__u32 zero = 0;
	int full = 0;
	__be16 port;

	if (p->l4_proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		/* Mid-flow packet of a connection we never saw open. */
		if (!th->syn || th->ack)
			return CNT_PASS_KERNEL_FLOW;
	}
	if (cfg->check_kernel && kernel_owns_flow(ctx, okey, is_skb))
		return CNT_PASS_KERNEL_FLOW;

	ne = bpf_map_lookup_elem(&ct_scratch, &zero);
	if (!ne)
		return CNT_PASS_CT_FULL;
	/* Reply entry first: it reserves the port. */
	__builtin_memset(ne, 0, sizeof(*ne));
	__builtin_memset(&rkey, 0, sizeof(rkey));
	rkey.family = okey->family;
	rkey.proto = okey->proto;
	__builtin_memcpy(rkey.saddr, okey->daddr, 16);
	__builtin_memcpy(rkey.daddr, cfg->addr, 16);
	rkey.sport = okey->dport;
	ne->dir = CT_DIR_REPLY;
	ne->ifindex = p->ifindex;
	__builtin_memcpy(ne->nat_addr, okey->saddr, 16);
	ne->nat_port = okey->sport;
	__builtin_memcpy(ne->container_mac, p->eth->h_source, 6);
	__builtin_memcpy(ne->host_mac, p->eth->h_dest, 6);
	ne->other = *okey;
	port = snat_reserve_port(ctx, is_skb, &rkey, ne, okey, cfg, &full);
	if (!port)
		return CNT_PASS_CT_FULL;

	/* Then the orig entry, which carries the flow's state and expiry. */
	__builtin_memset(ne, 0, sizeof(*ne));
	ne->dir = CT_DIR_ORIG;
	ne->state = CT_NEW;
	ne->last_seen_ns = bpf_ktime_get_ns();
	ne->touched_j = bpf_jiffies64();
	ne->ifindex = p->ifindex;
	__builtin_memcpy(ne->nat_addr, cfg->addr, 16);
	ne->nat_port = port;
	__builtin_memcpy(ne->timeout_s, cfg->timeout_s, sizeof(ne->timeout_s));
	ne->other = rkey;
	if (bpf_map_update_elem(&ct, okey, ne, BPF_NOEXIST)) {
		/* Full, or another CPU created the same flow just now. */
		bpf_map_delete_elem(&ct, &rkey);
		e = bpf_map_lookup_elem(&ct, okey);
		if (!e || e->dir != CT_DIR_ORIG)
			return CNT_PASS_CT_FULL;
		to->addr = e->nat_addr;
		to->port = e->nat_port;
		return PARSE_OK;
	}
	ct_sweeper_ensure();
	*new_flow = 1;
	to->addr = cfg->addr;
	to->port = port;
	return PARSE_OK;
}

#endif
