/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connection tracking for SNAT, shared by every egress program of a host
 * namespace and by the uplink program (the map is pinned by name in the
 * namespace's pin folder). Each flow has an orig and a reply entry; the orig
 * entry carries a bpf_timer that deletes both once the flow has been idle
 * for its protocol/state timeout (see the sweeper below), so the table
 * drains without a daemon.
 */
#ifndef XDP_EGRESS_CONNTRACK_H
#define XDP_EGRESS_CONNTRACK_H

#include "parse.h"

#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC 1
#endif
#define NSEC_PER_SEC 1000000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144); /* user space may resize before load */
	/* Entries are allocated as flows come: no 40 MB up front. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
} ct SEC(".maps");

static __always_inline __u32 ct_timeout_idx(__u8 proto, __u8 state)
{
	if (proto == IPPROTO_TCP) {
		if (state == CT_ESTABLISHED)
			return CT_TO_TCP_EST;
		if (state == CT_CLOSING)
			return CT_TO_TCP_CLOSE;
		return CT_TO_TCP_SYN;
	}
	if (proto == IPPROTO_UDP)
		return state == CT_ESTABLISHED ? CT_TO_UDP_STREAM : CT_TO_UDP;
	return CT_TO_ICMP;
}

static __always_inline __u64 ct_timeout_ns(const struct ct_key *key,
					   const struct ct_entry *e)
{
	__u32 idx = ct_timeout_idx(key->proto, e->state);

	if (idx >= CT_TO_MAX)
		idx = 0;
	return (__u64)e->timeout_s[idx] * NSEC_PER_SEC;
}

/*
 * Expiry. One sweeper timer per namespace (not one per flow: on 6.18
 * bpf_timer_init() fails with -ENOMEM for bursts of new flows, and a flow
 * whose timer failed would never leave). Every SWEEP_INTERVAL it walks the
 * table and deletes both entries of every flow idle past its timeout. Its
 * map is pinned beside the ct map, so every program shares one sweeper; the
 * first program that sees a new flow starts it.
 */
#define SWEEP_INTERVAL_NS (1ULL * NSEC_PER_SEC)

struct bpf_map;

#define READ_ONCE_U64(x) (*(volatile __u64 *)&(x))

struct sweeper {
	struct bpf_timer timer;
	__u64 runs;              /* sweeps done, for the curious */
	__u64 expired;           /* flows deleted */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sweeper);
} ct_sweeper SEC(".maps");

struct sweep_ctx {
	__u64 now;
	__u64 expired;
};

static long ct_sweep_one(struct bpf_map *map, struct ct_key *key,
			 struct ct_entry *e, struct sweep_ctx *sc)
{
	struct ct_key other;
	__u64 last;

	if (e->dir != CT_DIR_ORIG)
		return 0;
	/* A packet on another CPU may have touched the flow after the sweep
	 * began: last_seen then lies after now, and the flow is busy. */
	last = READ_ONCE_U64(e->last_seen_ns);
	if (last >= sc->now || sc->now - last < ct_timeout_ns(key, e))
		return 0;
	other = e->other;
	bpf_map_delete_elem(map, &other);
	bpf_map_delete_elem(map, key);
	sc->expired++;
	return 0;
}

static int ct_sweeper_fired(void *map, __u32 *key, struct sweeper *sw)
{
	struct sweep_ctx sc = { .now = bpf_ktime_get_ns() };

	bpf_for_each_map_elem(&ct, ct_sweep_one, &sc, 0);
	sw->runs++;
	sw->expired += sc.expired;
	bpf_timer_start(&sw->timer, SWEEP_INTERVAL_NS, 0);
	return 0;
}

/* Start the sweeper if nobody has (cheap when it runs: one failed init). */
static __always_inline void ct_sweeper_ensure(void)
{
	__u32 zero = 0;
	struct sweeper *sw = bpf_map_lookup_elem(&ct_sweeper, &zero);

	if (!sw)
		return;
	/* -EBUSY: already initialised, so already running. */
	if (bpf_timer_init(&sw->timer, &ct_sweeper, CLOCK_MONOTONIC))
		return;
	bpf_timer_set_callback(&sw->timer, ct_sweeper_fired);
	bpf_timer_start(&sw->timer, SWEEP_INTERVAL_NS, 0);
}

/*
 * The flow saw a packet. last_seen_ns is written once per jiffy (jiffies64 is
 * inlined by the verifier; bpf_ktime_get_ns is a helper call that reads the
 * clock), not per packet: a shared entry's cache line is then not dirtied by
 * every packet of every CPU. last_seen_ns lags by at most one tick (1-10 ms
 * after HZ), against timeouts of seconds.
 */
static __always_inline void ct_touch(struct ct_entry *orig)
{
	__u64 j = bpf_jiffies64();

	if (orig->touched_j != j) {
		orig->touched_j = j;
		orig->last_seen_ns = bpf_ktime_get_ns();
	}
}

/* TCP flags that move the state on; called for packets of both directions. */
static __always_inline void ct_update_state(struct ct_entry *orig,
					    const struct packet *p, int dir)
{
	ct_touch(orig);
	if (p->l4_proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		if (th->rst || th->fin) {
			/* The sweeper then applies tcp_close. */
			if (orig->state != CT_CLOSING)
				orig->state = CT_CLOSING;
		} else if (dir == CT_DIR_ORIG && th->syn && !th->ack &&
			   orig->state == CT_CLOSING) {
			/* A new connection on the same tuple starts over. */
			orig->state = CT_NEW;
		} else if (dir == CT_DIR_REPLY && orig->state == CT_NEW) {
			orig->state = CT_ESTABLISHED;
		}
	} else if (dir == CT_DIR_REPLY && orig->state == CT_NEW) {
		orig->state = CT_ESTABLISHED;
	}
}

/* The 5-tuple of p as the ct key of the direction it travels in. For ICMP
 * echo the identifier stands in the port of the side that chose it. */
static __always_inline int ct_key_of(const struct packet *p, struct ct_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->proto = p->l4_proto;
	if (p->l3_proto == ETH_P_IP) {
		k->family = AF_INET;
		k->saddr[0] = p->ip4->saddr;
		k->daddr[0] = p->ip4->daddr;
	} else {
		k->family = AF_INET6;
		__builtin_memcpy(k->saddr, &p->ip6->saddr, 16);
		__builtin_memcpy(k->daddr, &p->ip6->daddr, 16);
	}
	switch (p->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = p->l4;

		k->sport = th->source;
		k->dport = th->dest;
		return 0;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = p->l4;

		k->sport = uh->source;
		k->dport = uh->dest;
		return 0;
	}
	default: {
		struct icmp_echo_hdr *ih = p->l4;

		/* Request (egress): id in sport. Reply (ingress): id in dport. */
		if (ih->type == 8 || ih->type == 128)
			k->sport = ih->id;
		else if (ih->type == 0 || ih->type == 129)
			k->dport = ih->id;
		else
			return -1;
		return 0;
	}
	}
}

#endif
