/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU flow cache of the XDP egress program, in front of the conntrack
 * table (the route cache's first level; route.h has the second).
 *
 * With the FIB lookup cached in the ct entry, what an established flow's
 * packet still cost was mostly the ct lookup itself: jhash over the 40-byte
 * key, the bucket walk, the key compare, and the entry's lines shared with
 * every other CPU. So each CPU keeps, per attachment, a few slots
 * (direct-mapped by a hash of the key) holding what the last packet of a
 * flow resolved to: the translation and the next hop. A packet whose key
 * matches a slot filled in the *same jiffy* takes it from there.
 *
 * Why the jiffy: everything the ct path does per packet is kept by making
 * the first packet of every jiffy take that path.
 * - ct_touch() writes last_seen once per jiffy anyway, so the sweeper sees
 *   the flow exactly as busy as without this cache.
 * - The next hop in a slot comes from the ct entry's route cache (looked up
 *   at most one jiffy before the fill) or a fresh lookup, so it is at most
 *   RT_CACHE_TICKS old when used, as with the route cache alone.
 * - TCP packets that may move the state on (SYN, FIN, RST) always take the
 *   ct path; other packets of the original direction never change it.
 * - A flow's translation does not change while its entry exists; entries of
 *   a live flow are only deleted at detach, after the program is gone. An
 *   entry deleted otherwise is still used by this CPU until the jiffy ends.
 * What the FIB used from the packet beyond the key, and route_check(), are
 * checked per packet, as for the route cache. A slot is this CPU's alone
 * (XDP runs with migration off), so no ordering is needed.
 *
 * Memory: FC_SLOTS * 104 bytes per possible CPU per attachment.
 */
#ifndef XDP_EGRESS_FLOW_CACHE_H
#define XDP_EGRESS_FLOW_CACHE_H

#include "route.h"
#include "nat.h"

#define FC_SLOTS 16             /* a power of 2 */
#define FC_SLOT_BITS 4

struct fc_slot {
	__u64 key[5];           /* the flow's struct ct_key (orig direction) */
	__u64 j;                /* jiffies of the fill: good in that jiffy only */
	__be32 nat_addr[4];     /* the translation */
	__be16 nat_port;
	__u16 pad;
	__u32 in_ifindex;       /* the device the flow came in on */
	__u32 out_ifindex;      /* the next hop, as in the route cache */
	__be32 flowinfo;
	__u32 max_len;
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
};

_Static_assert(sizeof(struct ct_key) == 5 * sizeof(__u64), "ct_key: 40 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FC_SLOTS);
	__type(key, __u32);
	__type(value, struct fc_slot);
} flow_cache SEC(".maps");

static __always_inline struct fc_slot *fc_slot_of(const struct ct_key *k)
{
	__u32 h = k->saddr[0] ^ k->daddr[0] ^ k->saddr[3] ^ k->daddr[3] ^
		  ((__u32)k->sport << 16 | k->dport) ^ k->proto;
	__u32 idx = (h * 0x9E3779B1u) >> (32 - FC_SLOT_BITS);

	return bpf_map_lookup_elem(&flow_cache, &idx);
}

/* Packets that never change a flow's ct state (original direction). */
static __always_inline int fc_plain(const struct packet *p)
{
	if (p->l4_proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		return !(th->syn || th->fin || th->rst);
	}
	return 1;
}

/*
 * p (its orig key okey, 8-byte aligned) belongs to a flow this CPU forwarded
 * in this jiffy: fill fib's ifindex and MACs and *to as the ct path would
 * have, return 1. Otherwise 0: take the ct path.
 */
static __always_inline int fc_get(const struct ct_key *okey,
				  const struct packet *p,
				  struct bpf_fib_lookup *fib, struct nat_to *to)
{
	const __u64 *k = (const __u64 *)okey;
	struct fc_slot *s = fc_slot_of(okey);

	if (!s || s->j != bpf_jiffies64())
		return 0;
	if (s->key[0] != k[0] || s->key[1] != k[1] || s->key[2] != k[2] ||
	    s->key[3] != k[3] || s->key[4] != k[4])
		return 0;
	if (s->in_ifindex != p->ifindex || s->flowinfo != rt_flowinfo_of(p) ||
	    rt_len_of(p) > s->max_len || !fc_plain(p) ||
	    route_check(p) != PARSE_OK)
		return 0;
	fib->ifindex = s->out_ifindex;
	__builtin_memcpy(fib->dmac, s->dmac, ETH_ALEN);
	__builtin_memcpy(fib->smac, s->smac, ETH_ALEN);
	to->addr = s->nat_addr;
	to->port = s->nat_port;
	return 1;
}

/* The ct path forwarded p, of e's flow, to the next hop in fib: remember it
 * for the rest of this jiffy. */
static __always_inline void fc_put(const struct ct_key *okey,
				   const struct packet *p,
				   const struct ct_entry *e,
				   const struct bpf_fib_lookup *fib)
{
	const __u64 *k = (const __u64 *)okey;
	struct fc_slot *s;

	/* The route cache's rule: a flow seen on two devices is not cached. */
	if (!fc_plain(p) || e->ifindex != p->ifindex)
		return;
	s = fc_slot_of(okey);
	if (!s)
		return;
	s->key[0] = k[0];
	s->key[1] = k[1];
	s->key[2] = k[2];
	s->key[3] = k[3];
	s->key[4] = k[4];
	__builtin_memcpy(s->nat_addr, e->nat_addr, sizeof(s->nat_addr));
	s->nat_port = e->nat_port;
	s->in_ifindex = p->ifindex;
	s->out_ifindex = fib->ifindex;
	s->flowinfo = rt_flowinfo_of(p);
	s->max_len = rt_len_of(p);
	__builtin_memcpy(s->dmac, fib->dmac, ETH_ALEN);
	__builtin_memcpy(s->smac, fib->smac, ETH_ALEN);
	s->j = bpf_jiffies64();
}

#endif
