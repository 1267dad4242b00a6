/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fast path carried of each flow, for `xdp-egress flows`, and the
 * flow start and end events for `xdp-egress events`.
 *
 * Conntrack's own counters (nf_conntrack_acct) see only the packets of the
 * kernel path, so the fast path counts its share itself, by the kernel
 * entry's original tuple (the map `flows`). Not per packet into that map,
 * though: a hash update with atomics costs about a quarter of the fast
 * path's ~80 ns. A packet the flow cache carries (flow_cache.h) adds to
 * its slot instead (this CPU's alone, already in hand: two adds); the
 * slot's counts go to `flows` on the full path, which every flow takes at
 * least once per jiffy per CPU, when the slot is filled again. Counts thus
 * lag by at most one jiffy's packets per CPU, until the slot is reused.
 *
 * The ring buffer `flow_events` is written at a flow's first carried packet
 * (its `flows` entry is made) and at its FIN or RST (kct_guard_close()):
 * never per packet. A flow that ends by timeout never shows the fast path
 * anything; `events` learns of it from the kernel (ctnetlink destroy).
 */
#ifndef XDP_EGRESS_FLOWS_H
#define XDP_EGRESS_FLOWS_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct kct_key);
	__type(value, struct flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} flow_events SEC(".maps");

/* Set at load (attach, XDP_EGRESS_FLOWS=off): no per-flow counts, no
 * events; the verifier then prunes all of it (the benchmark's comparison,
 * contender xdp-native-noflows). */
const volatile __u8 flows_off = 0;

/* kct_sample.flow_dir when the flow is not counted (flows_off). */
#define FLOW_NOTE_OFF 0xff

/* A new entry's value before its fields are set: from .bss, off the
 * stack (the programs are near its 512 bytes). */
static const struct flow_val flow_zero;

/* Add to an entry's counts (other CPUs may add at once). */
static __always_inline void flow_count(struct flow_val *v, __u32 dir,
				       __u64 pkts, __u64 bytes, __u64 now)
{
	__sync_fetch_and_add(&v->packets[dir & 1], pkts);
	__sync_fetch_and_add(&v->bytes[dir & 1], bytes);
	v->last_ns = now;
}

static __always_inline void flows_add(const struct kct_key *k, __u32 dir,
				      __u64 pkts, __u64 bytes)
{
	struct flow_val *v = bpf_map_lookup_elem(&flows, k);

	if (v)
		flow_count(v, dir, pkts, bytes, bpf_ktime_get_ns());
}

/* The flow's translated original direction: what the packet became (it
 * went the original way), or the inverse of what arrived (a reply). */
static __always_inline void flows_nat_of(struct flow_tuple *t, __u32 dir,
					 const struct packet *p,
					 const struct kct_out *out)
{
	__be16 sport, dport;

	if (!(dir & 1)) {
		__builtin_memcpy(t->saddr, out->saddr, 16);
		__builtin_memcpy(t->daddr, out->daddr, 16);
		t->sport = out->sport;
		t->dport = out->dport;
		return;
	}
	l4_ports(p, &sport, &dport);
	__builtin_memset(t->saddr, 0, 32);
	if (p->l3_proto == ETH_P_IP) {
		t->saddr[0] = p->ip4->daddr;
		t->daddr[0] = p->ip4->saddr;
	} else {
		__builtin_memcpy(t->saddr, &p->ip6->daddr, 16);
		__builtin_memcpy(t->daddr, &p->ip6->saddr, 16);
	}
	t->sport = dport;
	t->dport = sport;
}

/* The full path carries p (of the flow whose original tuple is k, in
 * direction dir, translated to out): count it; at a flow's first carried
 * packet (or the first of a new connection on the tuple of one that
 * ended) make its entry and tell `events`. */
static __always_inline void flows_carry(const struct kct_key *k, __u32 dir,
					const struct packet *p,
					const struct kct_out *out, __u32 bytes)
{
	struct flow_val *v = bpf_map_lookup_elem(&flows, k);
	struct flow_event *e;
	__u32 d = dir & 1;
	__u64 now;

	if (v && v->ended == FLOW_LIVE) {
		flow_count(v, d, 1, bytes, bpf_ktime_get_ns());
		return;
	}
	/* Two CPUs may start it at once: the loser counts into the winner's. */
	if (bpf_map_update_elem(&flows, k, &flow_zero, v ? BPF_EXIST : BPF_NOEXIST)) {
		flows_add(k, d, 1, bytes);
		return;
	}
	v = bpf_map_lookup_elem(&flows, k);
	if (!v)
		return;
	now = bpf_ktime_get_ns();
	v->first_ns = now;
	v->ifindex = p->ifindex;
	flow_count(v, d, 1, bytes, now);
	e = bpf_ringbuf_reserve(&flow_events, sizeof(*e), 0);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->type = FLOW_EV_START;
	e->dir = d;
	e->ifindex = p->ifindex;
	e->ts_ns = now;
	e->key = *k;
	flows_nat_of(&e->nat, d, p, out);
	bpf_ringbuf_submit(e, 0);
}

/* A FIN or RST of the flow k passed the window check: its end, once. Both
 * sides' FINs crossing on two CPUs may tell it twice (BPF before v3 has no
 * compare-and-swap). */
static __always_inline void flows_end(const struct kct_key *k, __u32 reason,
				      __u32 ifindex)
{
	struct flow_val *v = bpf_map_lookup_elem(&flows, k);
	struct flow_event *e;

	if (!v || v->ended != FLOW_LIVE)
		return;
	v->ended = reason;
	e = bpf_ringbuf_reserve(&flow_events, sizeof(*e), 0);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->type = FLOW_EV_END;
	e->reason = reason;
	e->ifindex = ifindex;
	e->ts_ns = bpf_ktime_get_ns();
	e->key = *k;
	e->packets = v->packets[0] + v->packets[1];
	e->bytes = v->bytes[0] + v->bytes[1];
	bpf_ringbuf_submit(e, 0);
}

#endif
