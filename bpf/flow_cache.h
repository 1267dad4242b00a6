/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU flow cache in front of the kernel's conntrack and the FIB. A
 * conntrack lookup (bpf_xdp_ct_lookup: hash, RCU walk, refcount) and a FIB
 * lookup cost about as much as the rest of the fast path together, so each
 * CPU keeps, per program, a few slots (direct-mapped by a hash of the
 * packet's tuple) holding what the last packet of a flow was decided: the
 * translation and the next hop. A packet of the same flow arriving on the
 * same device in the *same jiffy* takes it from there.
 *
 * Why one jiffy: the first packet of every jiffy takes the full path, so
 * - the kernel's verdict is at most one jiffy old: an entry the kernel
 *   closed (FIN/RST through it), deleted (conntrack -F) or that `flush`
 *   gave back to the kernel stops being carried within 1-10 ms after HZ,
 *   as a route, neighbour or MTU change does;
 * - the kernel entry's keep-alive (kct.h) runs at least once per jiffy.
 * TCP control packets never take the cache (kct_decide passes them), and
 * a FIN or RST passed anywhere in the namespace empties every cache
 * (kct.h's close_gen), so the ACK that follows it meets the kernel. What
 * the FIB used from the packet beyond its tuple, and route_check(), are
 * checked per packet. A slot is this CPU's alone (XDP and tc run with
 * migration off), so no ordering is needed.
 */
#ifndef XDP_EGRESS_FLOW_CACHE_H
#define XDP_EGRESS_FLOW_CACHE_H

#include "route.h"

#define FC_SLOTS 64             /* a power of 2 */
#define FC_SLOT_BITS 6

/* A packet's tuple and device, as the cache's key. */
struct fc_key {
	__u32 ifindex;
	__u8 family;
	__u8 proto;
	__be16 sport;
	__be16 dport;
	__u16 pad;
	__u32 pad2;
	__be32 saddr[4];
	__be32 daddr[4];
};

struct fc_slot {
	struct fc_key key;
	__u64 j;                /* jiffies of the fill: good in that jiffy only */
	__u64 gen;              /* kct_close_gen() at the fill */
	/* Carried from here since the fill, not yet added to the flow's
	 * `flows` entry (flows.h); beside the fields every hit reads, so that
	 * counting writes no other cache line. */
	__u64 pend_bytes;
	__u32 pend_pkts;
	__s32 rc;               /* the verdict: PARSE_OK (out, nh hold the
				 * way) or the pass reason */
	struct kct_out out;     /* the translation */
	struct next_hop nh;     /* and the next hop */
	struct kct_sample smp;  /* a promoted TCP flow's window samples */
	__be32 flowinfo;        /* what the FIB used beyond the tuple */
	__u32 max_len;          /* the length looked up: the MTU allowed it */
};

_Static_assert(sizeof(struct fc_key) == 48, "fc_key: six words (fc_key_eq)");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FC_SLOTS);
	__type(key, __u32);
	__type(value, struct fc_slot);
} flow_cache SEC(".maps");

static __always_inline void fc_key_of(const struct packet *p, struct fc_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->ifindex = p->ifindex;
	k->proto = p->l4_proto;
	l4_ports(p, &k->sport, &k->dport);
	if (p->l3_proto == ETH_P_IP) {
		k->family = AF_INET;
		k->saddr[0] = p->ip4->saddr;
		k->daddr[0] = p->ip4->daddr;
	} else {
		k->family = AF_INET6;
		__builtin_memcpy(k->saddr, &p->ip6->saddr, 16);
		__builtin_memcpy(k->daddr, &p->ip6->daddr, 16);
	}
}

static __always_inline struct fc_slot *fc_slot_of(const struct fc_key *k)
{
	__u32 h = k->saddr[0] ^ k->daddr[0] ^ k->saddr[3] ^ k->daddr[3] ^
		  ((__u32)k->sport << 16 | k->dport) ^ k->proto ^ k->ifindex;
	__u32 idx = (h * 0x9E3779B1u) >> (32 - FC_SLOT_BITS);

	return bpf_map_lookup_elem(&flow_cache, &idx);
}

static __always_inline int fc_key_eq(const struct fc_key *a, const struct fc_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] &&
	       x[4] == y[4] && x[5] == y[5];
}

/* Packets that must see the kernel's verdict afresh. */
static __always_inline int fc_plain(const struct packet *p)
{
	if (p->l4_proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		/* Bounds known since parse_l4(); again for 6.1's verifier
		 * (egress_admit() says why). */
		if ((void *)(th + 1) > p->data_end)
			return 0;
		return th->ack && !(th->syn || th->fin || th->rst);
	}
	return 1;
}

/* p (its key k) belongs to a flow this CPU decided in this jiffy: return
 * that verdict, with *out and *nh filled as the full path would have for
 * PARSE_OK. Otherwise -1: take the full path. */
static __always_inline int fc_get(const struct fc_key *k, const struct packet *p,
				  struct kct_out *out, struct next_hop *nh,
				  __u32 bytes)
{
	struct fc_slot *s = fc_slot_of(k);

	if (!s || s->j != bpf_jiffies64() || !fc_key_eq(&s->key, k) ||
	    s->gen != kct_close_gen() || !fc_plain(p))
		return -1;
	if (s->rc != PARSE_OK)
		return s->rc;
	if (s->flowinfo != route_flowinfo_of(p) || route_len_of(p) > s->max_len ||
	    route_check(p) != PARSE_OK)
		return -1;
	if (s->smp.dir != KCT_NO_SAMPLE && p->l4_proto == IPPROTO_TCP)
		kct_resample(&s->smp, p);
	/* flows.h: counted here, added to the flow's entry at the next fill. */
	if (!flows_off) {
		s->pend_pkts++;
		s->pend_bytes += bytes;
	}
	*out = s->out;
	*nh = s->nh;
	return PARSE_OK;
}

/* Verdicts worth remembering besides PARSE_OK: a flow's route says the
 * kernel's (the host's own traffic on an uplink: local), or the kernel keeps
 * the flow for life. Passing is always safe, and the flow meets the
 * kernel's verdict afresh in the next jiffy. Not the states a flow leaves
 * within milliseconds (new, not established: the next packet may already
 * be carried), nor what counts towards promotion, nor what the packet
 * itself decided (length, TTL, flags). */
static __always_inline int fc_keeps(int rc)
{
	return rc == PARSE_OK || rc == CNT_PASS_LOCAL ||
	       rc == CNT_PASS_NOT_CONTAINER || rc == CNT_PASS_NOT_UPLINK ||
	       rc == CNT_PASS_FIB_FAIL || rc == CNT_PASS_KERNEL_ONLY;
}

/* The full path decided p (key k) with rc: remember it for the rest of this
 * jiffy (fc_keeps()). */
static __always_inline void fc_put(const struct fc_key *k, const struct packet *p,
				   int rc, const struct kct_out *out,
				   const struct next_hop *nh,
				   const struct kct_sample *smp)
{
	struct fc_slot *s = fc_slot_of(k);

	if (!s)
		return;
	/* What the slot carried since its fill goes to its flow's counts
	 * before the slot is filled again (flows.h). */
	if (s->pend_pkts) {
		if (s->smp.flow_dir != FLOW_NOTE_OFF)
			flows_add(&s->smp.okey, s->smp.flow_dir, s->pend_pkts,
				  s->pend_bytes);
		s->pend_pkts = 0;
		s->pend_bytes = 0;
	}
	if (!fc_keeps(rc) || !fc_plain(p))
		return;
	s->key = *k;
	s->rc = rc;
	if (rc == PARSE_OK) {
		s->out = *out;
		s->nh = *nh;
		s->smp = *smp;
	}
	s->flowinfo = route_flowinfo_of(p);
	s->max_len = route_len_of(p);
	s->gen = kct_close_gen();
	s->j = bpf_jiffies64();
}

/*
 * Stages 3 and 4 together, for both programs: the kernel's verdict on p and
 * where it goes, from this CPU's cache when it decided the flow in this
 * jiffy. PARSE_OK with *out and *nh filled, or the pass reason. *promoted:
 * this packet handed its TCP flow to the agent. uplinks: whether the
 * program may redirect to tx_ports (egress) or only to containers (the
 * return path).
 *
 * In two halves, so that the egress program can put its source check
 * between them: flow_cached() answers from the cache (or -1; k is then the
 * key to fill), flow_decide_miss() takes the full path and fills it. A
 * cached verdict is for the same device and source address (the key holds
 * both), which passed the source check when the entry was filled.
 */
static __always_inline int flow_cached(const struct packet *p, struct fc_key *k,
				       struct kct_out *out, struct next_hop *nh)
{
	fc_key_of(p, k);
	/* The IP length, as conntrack's acct counts it (the frame's own
	 * padding left out). */
	return fc_get(k, p, out, nh, route_len_of(p));
}

static __always_inline int flow_decide_miss(void *ctx, int is_skb, struct packet *p,
					    const struct fc_key *k, __u32 gso_size,
					    int uplinks, struct kct_out *out,
					    struct next_hop *nh, int *promoted)
{
	struct kct_sample smp;
	int rc;

	rc = kct_decide(ctx, is_skb, p, out, &smp, promoted);
	if (rc == PARSE_OK)
		rc = route_lookup(ctx, p, out, nh, gso_size, uplinks);
	if (rc == PARSE_OK && smp.flow_dir != FLOW_NOTE_OFF)
		flows_carry(&smp.okey, smp.flow_dir, p, out, route_len_of(p));
	fc_put(k, p, rc, out, nh, &smp);
	return rc;
}

static __always_inline int flow_decide(void *ctx, int is_skb, struct packet *p,
				       __u32 gso_size, int uplinks,
				       struct kct_out *out, struct next_hop *nh,
				       int *promoted)
{
	struct fc_key k;
	int rc;

	*promoted = 0;
	rc = flow_cached(p, &k, out, nh);
	if (rc >= 0)
		return rc;
	return flow_decide_miss(ctx, is_skb, p, &k, gso_size, uplinks, out, nh,
				promoted);
}

#endif
