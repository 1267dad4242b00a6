/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Closing a flow the fast path made liberal (kct.h): each side's window,
 * sampled from the packets the fast path carries, and the check of a FIN's
 * or RST's sequence number against it that the kernel no longer makes
 * (kct_guard_close()). Included by kct.h after its maps and lookups.
 */
#ifndef XDP_EGRESS_KCT_CLOSE_H
#define XDP_EGRESS_KCT_CLOSE_H

/*
 * Each side's latest ACK and window on a flow the fast path made liberal,
 * for kct_guard_close(): stored in the flow's promote entry whenever the
 * window's right edge (ACK + window) moved on by more than
 * KCT_RESAMPLE_BYTES since the last store, checked on every carried
 * packet (the flow cache keeps the last edge it stored: kct_sample).
 */
#define KCT_RESAMPLE_BYTES (32U << 10)

struct kct_sample {
	struct kct_key okey;     /* the entry's original tuple */
	__u32 edge;              /* ACK + window at the last store */
	__u8 dir;                /* the sender's direction; KCT_NO_SAMPLE: none */
	__u8 wscale;             /* its window scale */
	__u8 flow_dir;           /* flows.h: the carried packet's direction in
				  * the flow okey; FLOW_NOTE_OFF: not counted */
	__u8 pad;
};
#define KCT_NO_SAMPLE 0xff

/* Store ack/win of direction d in k's promote entry; never backwards (two
 * CPUs may store the same direction). */
static __always_inline void kct_sample_store(const struct kct_key *k, __u32 d,
					     __u32 ack, __u32 win)
{
	struct promote_val *v = bpf_map_lookup_elem(&promote, k), fresh = {};

	if (!v) {
		bpf_map_update_elem(&promote, k, &fresh, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&promote, k);
		if (!v)
			return;
	}
	d &= 1;
	if ((v->sampled & (1 << d)) &&
	    (__s32)(ack + win - (v->ack[d] + v->win[d])) < 0)
		return;
	v->ack[d] = ack;
	v->win[d] = win;
	if (!(v->sampled & (1 << d)))
		v->sampled |= 1 << d; /* racy but monotonic: set again next time */
}

static __always_inline __u32 tcp_win_scaled(const struct tcphdr *th, __u8 wscale)
{
	return (__u32)bpf_ntohs(th->window) << (wscale & 15);
}

/* The full path: a packet of a flow the fast path made liberal. Stores its
 * ACK and window and fills smp for the flow cache; smp->wscale is p's side's
 * window scale, set by kct_tcp_verdict(). */
static __always_inline void kct_sample_window(struct nf_conn___xe *ct,
					      const struct packet *p, int dir,
					      struct kct_sample *smp)
{
	struct tcphdr *th = p->l4;
	__u32 d = dir & 1, ack = bpf_ntohl(th->ack_seq), win;

	win = tcp_win_scaled(th, smp->wscale);
	kct_orig_key(ct, p, &smp->okey);
	smp->dir = d;
	smp->edge = ack + win;
	kct_sample_store(&smp->okey, d, ack, win);
}

/* A packet the flow cache carries: store again once the edge moved on. */
static __always_inline void kct_resample(struct kct_sample *smp,
					 const struct packet *p)
{
	struct tcphdr *th = p->l4;
	__u32 ack = bpf_ntohl(th->ack_seq), win = tcp_win_scaled(th, smp->wscale);

	if ((__s32)(ack + win - smp->edge) <= (__s32)KCT_RESAMPLE_BYTES)
		return;
	smp->edge = ack + win;
	kct_sample_store(&smp->okey, smp->dir, ack, win);
}

/* What a legitimate FIN or RST may lie beyond the stored window: what the
 * receiver's edge may have moved on without a store (KCT_RESAMPLE_BYTES),
 * twice for good measure. The kernel's own check allows none. */
#define CLOSE_SEQ_SLACK (2 * KCT_RESAMPLE_BYTES)

/*
 * A FIN or RST goes to the kernel, whose state machine must see it. On a
 * liberal entry, though, the kernel no longer checks its sequence number
 * (tcp_in_window() accepts what it would have judged INVALID), so a forged
 * one, blind from the world or spoofed by a neighbour, would close or age
 * out a flow the endpoints still use. So for the flows the fast path made
 * liberal, this checks what the kernel would have: the sequence number must
 * lie in the receiver's window (from its last ACK on), by the samples of
 * kct_sample_window() and kct_resample(). PARSE_OK: pass it on; CNT_DROP_OUT_OF_WINDOW: drop
 * it, as the kernel path drops an INVALID one (or as its endpoint ignores
 * it). Every FIN or RST also empties the flow caches (close_gen).
 */
static __always_inline int kct_guard_close(void *ctx, int is_skb,
					   struct packet *p)
{
	struct bpf_ct_opts___xe opts = {};
	const struct kct_config *cfg;
	struct tcphdr *th = p->l4;
	struct promote_val *v;
	struct nf_conn___xe *ct;
	struct nf_conn *c;
	struct kct_key k;
	__u32 zero = 0, r, seq, lo, span;
	__u64 *g = bpf_map_lookup_elem(&close_gen, &zero);
	int rc = PARSE_OK;

	if (g)
		__sync_fetch_and_add(g, 1);
	cfg = bpf_map_lookup_elem(&kct_config, &zero);
	if (!cfg || (cfg->tcp_be_liberal && flows_off))
		return PARSE_OK;
	c = kct_lookup(ctx, is_skb, p, &opts);
	if (!c)
		return PARSE_OK;
	ct = (void *)c;
	kct_orig_key(ct, p, &k);
	/* With nf_conntrack_tcp_be_liberal on, the kernel path checks no
	 * window either: nothing to add. */
	if (cfg->tcp_be_liberal)
		goto out;
	/* In every state: a liberal entry checks no window in any. */
	if (!kct_liberal(ct)) {
		/* A flow the kernel tracks strictly is closing: its promotion
		 * count ends here, so that the next connection on the same
		 * tuple (short connections reuse ports, and the kernel reuses
		 * the entry's memory) starts from zero. A forged FIN only
		 * delays a promotion; the kernel judges the FIN itself. */
		bpf_map_delete_elem(&promote, &k);
		goto out;
	}
	v = bpf_map_lookup_elem(&promote, &k);
	/* The receiver is the other side: its last ACK starts the window. */
	r = !(opts.dir & 1);
	if (!v || !(v->sampled & (1 << r)))
		goto out;
	seq = bpf_ntohl(th->seq);
	lo = v->ack[r];
	span = v->win[r] + CLOSE_SEQ_SLACK;
	if ((__s32)(seq - lo) < 0 || seq - lo > span)
		rc = CNT_DROP_OUT_OF_WINDOW;
out:
	if (rc == PARSE_OK && !flows_off)
		flows_end(&k, th->rst ? FLOW_END_RST : FLOW_END_FIN, p->ifindex);
	bpf_ct_release(c);
	return rc;
}

#endif
