/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stage 3: the kernel's verdict. The host's netfilter (kube-proxy Services,
 * Docker's and the operator's FORWARD rules, nftables, MASQUERADE) is the
 * authority over every flow; its decisions live in the kernel's conntrack
 * table. A packet takes the fast path only when the kernel has already
 * accepted its flow: a confirmed entry, established both ways. The
 * translation applied is the entry's own (its other direction's tuple,
 * inverted: source and destination NAT alike). Anything else goes to the
 * kernel with a counted reason, so the kernel keeps deciding.
 *
 * What the kernel's own flowtable does, this does too (net/netfilter/
 * nf_flow_table_core.c): TCP control packets (SYN, FIN, RST) always take
 * the kernel path, so the entry's state machine sees every state change;
 * an established TCP flow is carried only once its entry tracks windows
 * liberally (IP_CT_TCP_FLAG_BE_LIBERAL), because the kernel no longer sees
 * the packets that would move its windows on: without it, a FIN or RST
 * sent through the kernel after a fast-pathed stretch can be judged out of
 * window (INVALID) and dropped. BPF cannot set that flag, so the flow is
 * handed to the agent in user space (ring buffer), which sets it through
 * ctnetlink; until then the flow stays on the kernel path.
 *
 * Kernel facts relied on (6.1 and later): bpf_xdp_ct_lookup() and
 * bpf_skb_ct_lookup() (net/netfilter/nf_conntrack_bpf.c) take TCP and UDP
 * tuples only, and return confirmed and unconfirmed entries alike; fields
 * of the returned nf_conn are read as plain loads, which the verifier
 * allows on the referenced entry and on pointers walked from it, with CO-RE
 * relocating their offsets (layouts differ between kernels): no
 * bpf_probe_read_kernel() call per field; bpf_ct_change_timeout() and
 * bpf_ct_change_status() (6.0).
 *
 * The kernel's types and kfuncs are nf_conn.h's; the check of a FIN or RST
 * on a liberal entry is kct_close.h's; kct_decide() at the end reads as
 * its steps: TCP control, the entry, the flow, the translation.
 */
#ifndef XDP_EGRESS_KCT_H
#define XDP_EGRESS_KCT_H

#include "parse.h"
#include "nf_conn.h"

/* ---- maps shared by every program of a host namespace (pinned) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kct_config);
} kct_config SEC(".maps");

/* Established TCP flows counted towards promotion, by original tuple. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct kct_key);
	__type(value, struct promote_val);
} promote SEC(".maps");

/* The agent reads the flows to promote from here. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 65536);
} promote_rb SEC(".maps");

/* Flows the kernel keeps to itself (`xdp-egress flush`), by original tuple. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct kct_key);
	__type(value, __u8);
} kernel_only SEC(".maps");

/*
 * Bumped whenever a FIN or RST goes to the kernel: the flow caches
 * (flow_cache.h) drop every slot filled before, so the packets that follow
 * a close (the ACK of a FIN) meet the kernel's new state, not a verdict
 * cached in the same jiffy. Shared by every program of the namespace, in
 * both directions.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} close_gen SEC(".maps");

static __always_inline __u64 kct_close_gen(void)
{
	__u32 zero = 0;
	__u64 *g = bpf_map_lookup_elem(&close_gen, &zero);

	return g ? *(volatile __u64 *)g : 0;
}

/* How long to wait for the agent before asking again. */
#define PROMOTE_RETRY_NS (1000ULL * 1000 * 1000)

/* ---- what the kernel decided for a packet ---- */

/* The packet's tuple after the kernel's translation. */
struct kct_out {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
};

static __always_inline void kct_tuple_of(const struct packet *p,
					 struct bpf_sock_tuple *t, __u32 *sz,
					 __be16 sport, __be16 dport)
{
	if (p->l3_proto == ETH_P_IP) {
		t->ipv4.saddr = p->ip4->saddr;
		t->ipv4.daddr = p->ip4->daddr;
		t->ipv4.sport = sport;
		t->ipv4.dport = dport;
		*sz = sizeof(t->ipv4);
	} else {
		__builtin_memcpy(t->ipv6.saddr, &p->ip6->saddr, 16);
		__builtin_memcpy(t->ipv6.daddr, &p->ip6->daddr, 16);
		t->ipv6.sport = sport;
		t->ipv6.dport = dport;
		*sz = sizeof(t->ipv6);
	}
}

/* The L4 ports of p (TCP or UDP). */
static __always_inline void l4_ports(const struct packet *p, __be16 *sport,
				     __be16 *dport)
{
	if (p->l4_proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		*sport = th->source;
		*dport = th->dest;
	} else {
		struct udphdr *uh = p->l4;

		*sport = uh->source;
		*dport = uh->dest;
	}
}

/* Copy a tuple's address (4 or 16 bytes) into a zero-padded 16. */
static __always_inline void kct_addr(__be32 *dst, const union nf_inet_addr___xe *a,
				     int v6)
{
	if (v6) {
		dst[0] = a->ip6[0];
		dst[1] = a->ip6[1];
		dst[2] = a->ip6[2];
		dst[3] = a->ip6[3];
	} else {
		dst[0] = a->ip;
		dst[1] = dst[2] = dst[3] = 0;
	}
}

/* The entry's original tuple as a map key. */
static __always_inline void kct_orig_key(struct nf_conn___xe *ct,
					 const struct packet *p,
					 struct kct_key *k)
{
	int v6 = p->l3_proto == ETH_P_IPV6;

	__builtin_memset(k, 0, sizeof(*k));
	k->family = v6 ? AF_INET6 : AF_INET;
	k->proto = p->l4_proto;
	kct_addr(k->saddr, &ct->tuplehash[0].tuple.src.u3, v6);
	kct_addr(k->daddr, &ct->tuplehash[0].tuple.dst.u3, v6);
	k->sport = ct->tuplehash[0].tuple.src.u.all;
	k->dport = ct->tuplehash[0].tuple.dst.u.all;
}

#include "flows.h"

/*
 * An established TCP flow the kernel still tracks strictly: count its
 * kernel-path packets and hand it to the agent at promote_after (and again
 * should the agent not have acted within a second).
 */
static __always_inline __u32 kct_promote_note(struct nf_conn___xe *ct,
					      const struct packet *p,
					      const struct kct_config *cfg)
{
	struct promote_val *v, fresh = {};
	struct kct_key k;
	__u64 now;

	kct_orig_key(ct, p, &k);
	v = bpf_map_lookup_elem(&promote, &k);
	if (!v) {
		fresh.packets = 1;
		bpf_map_update_elem(&promote, &k, &fresh, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&promote, &k);
		if (!v)
			return 0;
	} else {
		__sync_fetch_and_add(&v->packets, 1);
	}
	/* The count of an earlier connection on this tuple ended with its FIN
	 * (kct_guard_close()); its samples, from when it was promoted, are not
	 * this one's to be judged by. */
	if (v->sampled)
		v->sampled = 0;
	if (v->packets < cfg->promote_after || !cfg->agent_pid)
		return 0;
	now = bpf_ktime_get_ns();
	if (v->requested_ns && now - v->requested_ns < PROMOTE_RETRY_NS)
		return 0;
	v->requested_ns = now;
	return bpf_ringbuf_output(&promote_rb, &k, sizeof(k), 0) == 0;
}

/* Keep the kernel's entry alive as the kernel would on this packet
 * (nf_conntrack_tcp_packet(), nf_conntrack_udp_packet()): its timeout for
 * the state, written at most once a second; a UDP flow still active after
 * its first two seconds becomes a stream (longer timeout, ASSURED). */
static __always_inline void kct_keep_alive(struct nf_conn *c,
					   struct nf_conn___xe *ct,
					   const struct packet *p,
					   unsigned long status,
					   const struct kct_config *cfg)
{
	__u64 j = bpf_jiffies64();
	__u32 now = (__u32)j, ms, left;

	if (p->l4_proto == IPPROTO_TCP) {
		ms = cfg->tcp_established_ms;
	} else {
		ms = cfg->udp_ms;
		/* Replied and time_after(jiffies, stream_ts): a stream, as
		 * nf_conntrack_udp_packet() judges it. */
		if ((status & IPS_SEEN_REPLY_) &&
		    bpf_core_field_exists(ct->proto.udp.stream_ts) &&
		    (long)(j - BPF_CORE_READ(ct, proto.udp.stream_ts)) > 0) {
			ms = cfg->udp_stream_ms;
			if (!(status & IPS_ASSURED_))
				bpf_ct_change_status(c, (__u32)status | IPS_ASSURED_);
		}
	}
	left = ct->timeout - now;
	if ((int)left < 0 || (__u64)left * 1000 + 1000ULL * CONFIG_HZ <
			     (__u64)ms * CONFIG_HZ)
		bpf_ct_change_timeout(c, ms);
}

/* The kernel's entry for p's tuple (TCP or UDP), referenced, or NULL; opts
 * tells the direction p matched. */
static __always_inline struct nf_conn *kct_lookup(void *ctx, int is_skb,
						  const struct packet *p,
						  struct bpf_ct_opts___xe *opts)
{
	struct bpf_sock_tuple tup = {};
	__be16 sport, dport;
	__u32 sz;

	opts->netns_id = BPF_F_CURRENT_NETNS_;
	opts->l4proto = p->l4_proto;
	l4_ports(p, &sport, &dport);
	kct_tuple_of(p, &tup, &sz, sport, dport);
	if (is_skb)
		return bpf_skb_ct_lookup(ctx, &tup, sz, opts, BPF_CT_OPTS_SZ);
	return bpf_xdp_ct_lookup(ctx, &tup, sz, opts, BPF_CT_OPTS_SZ);
}

/*
 * What the programs read of ct->proto.tcp, copied with one
 * bpf_probe_read_kernel(). Every other field of the entry is a plain load,
 * but 6.1's verifier rejects one inside the proto union: it walks the
 * union's first member (struct nf_ct_dccp) and finds no field there
 * ("access beyond the end of member role ... in struct nf_ct_dccp").
 */
struct kct_tcp {
	__u8 state;
	__u8 flags[2];          /* seen[dir].flags */
	__u8 scale[2];          /* seen[dir].td_scale */
};

#define KCT_TCP_COPY 64         /* struct ip_ct_tcp up to state: 41 bytes in 6.1-6.18 */
#define KCT_TCP_AT(f) (bpf_core_field_offset(struct ip_ct_tcp___xe, f) & (KCT_TCP_COPY - 1))

static __always_inline void kct_tcp_read(struct nf_conn___xe *ct, struct kct_tcp *t)
{
	__u8 b[KCT_TCP_COPY] = {};
	__u32 n = bpf_core_field_offset(struct ip_ct_tcp___xe, state) + 1;

	if (n > KCT_TCP_COPY)
		n = KCT_TCP_COPY;
	bpf_core_read(b, n, &ct->proto.tcp);
	t->state = b[KCT_TCP_AT(state)];
	t->flags[0] = b[KCT_TCP_AT(seen[0].flags)];
	t->flags[1] = b[KCT_TCP_AT(seen[1].flags)];
	t->scale[0] = b[KCT_TCP_AT(seen[0].td_scale)];
	t->scale[1] = b[KCT_TCP_AT(seen[1].td_scale)];
}

static __always_inline int kct_tcp_liberal(const struct kct_tcp *t)
{
	return t->flags[0] & t->flags[1] & IP_CT_TCP_FLAG_BE_LIBERAL_;
}

static __always_inline int kct_liberal(struct nf_conn___xe *ct)
{
	struct kct_tcp t;

	kct_tcp_read(ct, &t);
	return kct_tcp_liberal(&t);
}

#include "kct_close.h"

/* TCP control packets take the kernel path (as the kernel's flowtable
 * leaves them): a FIN or RST after kct_guard_close(), a SYN or a segment
 * without ACK at once. PARSE_OK for any other packet. */
static __always_inline int kct_tcp_control(void *ctx, int is_skb,
					   struct packet *p)
{
	struct tcphdr *th = p->l4;
	int rc;

	if (p->l4_proto != IPPROTO_TCP)
		return PARSE_OK;
	if (th->fin || th->rst) {
		rc = kct_guard_close(ctx, is_skb, p);
		return rc == PARSE_OK ? CNT_PASS_TCP_CONTROL : rc;
	}
	if (th->syn || !th->ack)
		return CNT_PASS_TCP_CONTROL;
	return PARSE_OK;
}

/* What the entry itself says, whatever the packet: PARSE_OK when it is
 * confirmed, alive and no helper or offload needs every packet. */
static __always_inline int kct_entry_verdict(struct nf_conn___xe *ct,
					     unsigned long status)
{
	struct nf_ct_ext___xe *ext;

	if (!(status & IPS_CONFIRMED_))
		return CNT_PASS_NEW_FLOW;
	if (status & IPS_DYING_)
		return CNT_PASS_NOT_ESTABLISHED;
	if (status & IPS_KERNEL_ONLY_)
		return CNT_PASS_KERNEL_ONLY;
	ext = ct->ext;
	/* A helper (FTP, SIP, ...) must see every packet. */
	if (ext && ext->offset[NF_CT_EXT_HELPER_])
		return CNT_PASS_KERNEL_ONLY;
	return PARSE_OK;
}

/* A TCP packet of a confirmed entry: carried only while the entry is
 * established and tracked liberally; otherwise counted towards promotion
 * (*promoted: this packet handed the flow to the agent). dir: the tuple p
 * matched. */
static __always_inline int kct_tcp_verdict(struct nf_conn___xe *ct,
					   const struct packet *p,
					   const struct kct_config *cfg, int dir,
					   struct kct_sample *smp, int *promoted)
{
	/* Liberal because the fast path promoted it (not because the
	 * namespace is liberal anyway): its FIN/RST are checked here. */
	struct kct_tcp t;
	int promoted_flow;

	kct_tcp_read(ct, &t);
	/* p's side's window scale, for kct_sample_window() here or once
	 * carried (kct_note_carried()): one read of ct->proto.tcp a packet. */
	smp->wscale = (dir & 1) ? t.scale[1] : t.scale[0];
	promoted_flow = !cfg->tcp_be_liberal && kct_tcp_liberal(&t);
	if (t.state != TCP_CONNTRACK_ESTABLISHED_) {
		/* Closing: the kernel carries it, but the FIN/RST check still
		 * needs each side's last ACK. */
		if (promoted_flow)
			kct_sample_window(ct, p, dir & 1, smp);
		smp->dir = KCT_NO_SAMPLE;
		return CNT_PASS_NOT_ESTABLISHED;
	}
	if (!cfg->tcp_be_liberal && !promoted_flow) {
		*promoted = kct_promote_note(ct, p, cfg);
		return CNT_PASS_NOT_PROMOTED;
	}
	return PARSE_OK;
}

/* Per flow: TCP (kct_tcp_verdict), a UDP reply, a flow `xdp-egress flush`
 * left to the kernel. PARSE_OK: the fast path may carry p. */
static __always_inline int kct_flow_verdict(struct nf_conn___xe *ct,
					    const struct packet *p,
					    const struct kct_config *cfg,
					    unsigned long status, int dir,
					    struct kct_sample *smp, int *promoted)
{
	int rc;

	if (p->l4_proto == IPPROTO_TCP) {
		rc = kct_tcp_verdict(ct, p, cfg, dir, smp, promoted);
		if (rc != PARSE_OK)
			return rc;
	} else if ((dir & 1) && !(status & IPS_SEEN_REPLY_)) {
		/* UDP: the confirmed entry is the kernel's verdict on the flow,
		 * its first packet accepted, NAT set up; so the original
		 * direction is carried from its second packet on (a one-way
		 * stream included). A reply, though, is carried only after the
		 * kernel has seen one (the first reply, through the kernel,
		 * meets the rules for replies). */
		return CNT_PASS_NOT_ESTABLISHED;
	}
	if (cfg->kernel_only_active) {
		struct kct_key k;

		kct_orig_key(ct, p, &k);
		if (bpf_map_lookup_elem(&kernel_only, &k))
			return CNT_PASS_KERNEL_ONLY;
	}
	return PARSE_OK;
}

/* The packet leaves as the inverse of the other direction's tuple (dir:
 * the tuple p matched, 0 original, 1 reply). */
static __always_inline void kct_translation(struct nf_conn___xe *ct, int dir,
					    int v6, struct kct_out *out)
{
	if (dir) {
		kct_addr(out->saddr, &ct->tuplehash[0].tuple.dst.u3, v6);
		kct_addr(out->daddr, &ct->tuplehash[0].tuple.src.u3, v6);
		out->sport = ct->tuplehash[0].tuple.dst.u.all;
		out->dport = ct->tuplehash[0].tuple.src.u.all;
	} else {
		kct_addr(out->saddr, &ct->tuplehash[1].tuple.dst.u3, v6);
		kct_addr(out->daddr, &ct->tuplehash[1].tuple.src.u3, v6);
		out->sport = ct->tuplehash[1].tuple.dst.u.all;
		out->dport = ct->tuplehash[1].tuple.src.u.all;
	}
}

/* A packet the fast path carries: its window sample (a promoted TCP flow),
 * the flow and direction its counts go to (flows.h), the entry kept alive. */
static __always_inline void kct_note_carried(struct nf_conn *c,
					     struct nf_conn___xe *ct,
					     const struct packet *p,
					     const struct kct_config *cfg,
					     unsigned long status, int dir,
					     struct kct_sample *smp)
{
	if (p->l4_proto == IPPROTO_TCP && !cfg->tcp_be_liberal)
		kct_sample_window(ct, p, dir, smp);
	else if (!flows_off)
		kct_orig_key(ct, p, &smp->okey);
	if (!flows_off)
		smp->flow_dir = dir;
	kct_keep_alive(c, ct, p, status, cfg);
}

/*
 * The kernel's verdict on p (TCP or UDP, headers parsed): PARSE_OK with *out
 * holding the translated tuple, or the pass reason. ctx is an xdp_md, or an
 * __sk_buff when is_skb. *promoted is set when this packet handed its flow
 * to the agent. On PARSE_OK smp->okey and smp->flow_dir name the flow and
 * p's direction for its counts (flows.h), unless flows are off.
 */
static __always_inline int kct_decide(void *ctx, int is_skb, struct packet *p,
				      struct kct_out *out, struct kct_sample *smp,
				      int *promoted)
{
	struct bpf_ct_opts___xe opts = {};
	const struct kct_config *cfg;
	struct nf_conn___xe *ct;
	struct nf_conn *c;
	unsigned long status;
	__u32 zero = 0;
	int rc;

	*promoted = 0;
	smp->dir = KCT_NO_SAMPLE;
	smp->flow_dir = FLOW_NOTE_OFF;
	rc = kct_tcp_control(ctx, is_skb, p);
	if (rc != PARSE_OK)
		return rc;
	cfg = bpf_map_lookup_elem(&kct_config, &zero);
	if (!cfg)
		return CNT_PASS_NEW_FLOW;
	c = kct_lookup(ctx, is_skb, p, &opts);
	if (!c)
		return CNT_PASS_NEW_FLOW;
	ct = (void *)c;
	status = ct->status;
	rc = kct_entry_verdict(ct, status);
	if (rc == PARSE_OK)
		rc = kct_flow_verdict(ct, p, cfg, status, opts.dir, smp, promoted);
	if (rc == PARSE_OK) {
		kct_translation(ct, opts.dir, p->l3_proto == ETH_P_IPV6, out);
		kct_note_carried(c, ct, p, cfg, status, opts.dir, smp);
	}
	bpf_ct_release(c);
	return rc;
}

#endif
