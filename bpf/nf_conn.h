/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's conntrack as the programs see it (kct.h): the fields of
 * struct nf_conn they read, with CO-RE (layouts differ between kernels),
 * the conntrack kfuncs (net/netfilter/nf_conntrack_bpf.c, 6.1 and later)
 * and the uapi constants they test.
 */
#ifndef XDP_EGRESS_NF_CONN_H
#define XDP_EGRESS_NF_CONN_H

#include <bpf/bpf_core_read.h>

/* ---- the parts of struct nf_conn read here (CO-RE relocates them) ---- */

union nf_inet_addr___xe {
	__u32 all[4];
	__be32 ip;
	__be32 ip6[4];
};

union nf_conntrack_man_proto___xe {
	__be16 all;
};

struct nf_conntrack_man___xe {
	union nf_inet_addr___xe u3;
	union nf_conntrack_man_proto___xe u;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple___xe {
	struct nf_conntrack_man___xe src;
	struct {
		union nf_inet_addr___xe u3;
		union nf_conntrack_man_proto___xe u;
	} dst;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple_hash___xe {
	struct nf_conntrack_tuple___xe tuple;
} __attribute__((preserve_access_index));

struct ip_ct_tcp_state___xe {
	__u8 td_scale;
	__u8 flags;
} __attribute__((preserve_access_index));

struct ip_ct_tcp___xe {
	struct ip_ct_tcp_state___xe seen[2];
	__u8 state;
} __attribute__((preserve_access_index));

struct nf_ct_udp___xe {
	unsigned long stream_ts;
} __attribute__((preserve_access_index));

union nf_conntrack_proto___xe {
	struct ip_ct_tcp___xe tcp;
	struct nf_ct_udp___xe udp;
} __attribute__((preserve_access_index));

struct nf_ct_ext___xe {
	__u8 offset[1];
} __attribute__((preserve_access_index));

struct nf_conn___xe {
	__u32 timeout;
	struct nf_conntrack_tuple_hash___xe tuplehash[2];
	unsigned long status;
	struct nf_ct_ext___xe *ext;
	union nf_conntrack_proto___xe proto;
} __attribute__((preserve_access_index));

/* The kfuncs' own types: an opaque nf_conn (libbpf matches it by name) and
 * the 6.1 layout of bpf_ct_opts (12 bytes; 6.11 grew it to 16 for zones
 * and still accepts 12). dir is an output: the direction of the tuple the
 * lookup matched. */
struct nf_conn {
	int unused;
};
struct bpf_ct_opts___xe {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};
#define BPF_CT_OPTS_SZ 12

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx,
					 struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz,
					 struct bpf_ct_opts___xe *opts,
					 __u32 opts__sz) __ksym;
extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb_ctx,
					 struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz,
					 struct bpf_ct_opts___xe *opts,
					 __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;
extern int bpf_ct_change_timeout(struct nf_conn *nfct, __u32 timeout) __ksym;
extern int bpf_ct_change_status(struct nf_conn *nfct, __u32 status) __ksym;
extern unsigned int CONFIG_HZ __kconfig;

/* include/uapi/linux/netfilter/nf_conntrack_common.h, tcp.h */
#define IPS_SEEN_REPLY_  (1UL << 1)
#define IPS_ASSURED_     (1UL << 2)
#define IPS_CONFIRMED_   (1UL << 3)
#define IPS_SEQ_ADJUST_  (1UL << 6)
#define IPS_DYING_       (1UL << 9)
#define IPS_NAT_CLASH_   (1UL << 12) /* the old IPS_UNTRACKED bit */
#define IPS_HELPER_      (1UL << 13)
#define IPS_OFFLOAD_     (1UL << 14)
#define IPS_HW_OFFLOAD_  (1UL << 15)
/* Entries the kernel must keep seeing every packet of: NAT helpers adjust
 * sequence numbers, helpers read payloads, the kernel's flowtable already
 * carries offloaded ones, and a NAT clash entry lives only seconds. */
#define IPS_KERNEL_ONLY_ (IPS_SEQ_ADJUST_ | IPS_HELPER_ | IPS_OFFLOAD_ | \
			  IPS_HW_OFFLOAD_ | IPS_NAT_CLASH_)
#define TCP_CONNTRACK_ESTABLISHED_ 3
#define IP_CT_TCP_FLAG_BE_LIBERAL_ 0x08
#define NF_CT_EXT_HELPER_ 0
#define BPF_F_CURRENT_NETNS_ (-1)

#endif
