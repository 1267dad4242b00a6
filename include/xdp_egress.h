/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything shared between the BPF programs and user space: counter ids,
 * their names, and map value layouts. One header so the two sides cannot
 * drift apart.
 */
#ifndef XDP_EGRESS_H
#define XDP_EGRESS_H

/*
 * One counter per outcome of the egress program. Every XDP_PASS has its own
 * reason so `stats` can say why the fast path was not taken.
 */
enum egress_counter {
	CNT_REDIRECTED = 0,     /* XDP_REDIRECT to an uplink via the devmap */
	CNT_PASS_NON_IP,        /* ARP, LLDP, ...: the kernel handles them */
	CNT_PASS_VLAN,          /* 802.1Q tagged: routed by the vlan device */
	CNT_PASS_NO_NEIGH,      /* next hop not resolved yet; kernel resolves */
	CNT_PASS_LOCAL,         /* destined to the host itself (or mcast/bcast) */
	CNT_PASS_FRAGMENT,      /* IPv4 fragment or IPv6 fragment header */
	CNT_PASS_IP_OPTIONS,    /* IPv4 options / IPv6 extension headers */
	CNT_PASS_TTL,           /* TTL / hop limit <= 1: kernel sends time exceeded */
	CNT_PASS_TOO_BIG,       /* larger than egress MTU: kernel fragments or ICMPs */
	CNT_PASS_FIB_FAIL,      /* unreachable, blackhole, prohibit, fwd disabled... */
	CNT_PASS_NOT_UPLINK,    /* routed to a device that is not a configured uplink */
	CNT_PASS_L4_OTHER,      /* IP protocol other than TCP/UDP/ICMP(v6) */
	CNT_DROP_MALFORMED,     /* truncated or inconsistent headers */
	CNT_REDIRECT_ERR,       /* redirect failed after the program returned */
	CNT_PASS_KERNEL_FLOW,   /* SNAT: the flow belongs to the kernel path */
	CNT_PASS_CT_FULL,       /* SNAT: conntrack table full, or no free port */
	CNT_PASS_ICMP_OTHER,    /* SNAT: ICMP other than echo request */
	CNT_SNAT_NEW,           /* SNAT: new translations (not a packet outcome) */
	CNT_GSO,                /* tc mode: GSO super-packets among the redirected */
	CNT_MAX,
};

/* Names as shown by `stats` and in its JSON; same order as the enum. */
#define EGRESS_COUNTER_NAMES                                                   \
	{                                                                      \
		"redirected", "pass_non_ip", "pass_vlan", "pass_no_neigh",     \
		"pass_local", "pass_fragment", "pass_ip_options", "pass_ttl",  \
		"pass_too_big", "pass_fib_fail", "pass_not_uplink",            \
		"pass_l4_other", "drop_malformed", "redirect_err",             \
		"pass_kernel_flow", "pass_ct_full", "pass_icmp_other",         \
		"snat_new_flows", "redirected_gso",                            \
	}

/* Is this counter a reason for XDP_PASS? */
static inline int counter_is_pass(int id)
{
	return (id >= CNT_PASS_NON_IP && id <= CNT_PASS_L4_OTHER) ||
	       (id >= CNT_PASS_KERNEL_FLOW && id <= CNT_PASS_ICMP_OTHER);
}

struct counter_val {
	__u64 packets;
	__u64 bytes;
};

/*
 * Counters of the uplink (ingress) program, one set per uplink: the return
 * path of translated flows.
 */
enum ingress_counter {
	IN_REDIRECTED = 0,      /* reply translated and redirected to a container */
	IN_ICMP_ERROR,          /* ICMP error about a flow, translated + redirected */
	IN_PASS_NO_CT,          /* not ours: the host's own traffic, untouched */
	IN_PASS_NO_NEIGH,       /* container MAC unknown / device gone */
	IN_PASS_OTHER,          /* non-IP, fragments, options... */
	IN_PASS_MALFORMED,      /* passed too: the host may know better */
	IN_MAX,
};

#define INGRESS_COUNTER_NAMES                                                  \
	{                                                                      \
		"redirected", "icmp_error_translated", "pass_not_translated",  \
		"pass_no_target", "pass_other", "pass_malformed",              \
	}

/*
 * Connection tracking. Every translated flow has two entries in one hash
 * map: the original direction (container -> world, keyed by what the
 * container sent) and the reply direction (world -> us, keyed by what the
 * world sends back). Addresses are 16 bytes; IPv4 uses the first 4.
 */
struct ct_key {
	__u8 family;            /* AF_INET / AF_INET6 */
	__u8 proto;             /* IPPROTO_TCP / UDP / ICMP / ICMPV6 */
	__be16 sport;           /* ICMP echo: the identifier (orig direction) */
	__be16 dport;           /* ICMP echo: the identifier (reply direction) */
	__u16 pad;
	__be32 saddr[4];
	__be32 daddr[4];
};

enum ct_state {
	CT_NEW = 0,             /* only the first direction seen */
	CT_ESTABLISHED,         /* replies seen */
	CT_CLOSING,             /* TCP FIN or RST seen */
};

enum ct_dir { CT_DIR_ORIG = 0, CT_DIR_REPLY = 1 };

/* ct timeouts in seconds, indexed like this. */
enum ct_timeout {
	CT_TO_TCP_SYN = 0, CT_TO_TCP_EST, CT_TO_TCP_CLOSE, CT_TO_UDP,
	CT_TO_UDP_STREAM, CT_TO_ICMP, CT_TO_MAX,
};
#define CT_TIMEOUT_NAMES { "tcp_syn", "tcp_est", "tcp_close", "udp", \
			   "udp_stream", "icmp" }
#define CT_TIMEOUT_DEFAULTS { 60, 7440, 10, 30, 180, 30 }

struct ct_entry {
	__u64 last_seen_ns;       /* bpf_ktime_get_ns() of the last packet, at
				   * most one jiffy behind (see touched_j) */
	__u32 timeout_s[CT_TO_MAX];
	__u32 ifindex;            /* the container's host-side veth */
	__u8 dir;                 /* enum ct_dir */
	__u8 state;               /* enum ct_state, kept in the orig entry */
	__be16 nat_port;          /* orig: translated port; reply: original */
	__be32 nat_addr[4];       /* orig: translated source; reply: original */
	union {
		struct {          /* reply: the frame towards the container */
			__u8 container_mac[6];
			__u8 host_mac[6];
		};
		struct {          /* orig: the cached next hop (route cache) */
			__u8 rt_dmac[6];
			__u8 rt_smac[6];
		};
	};
	struct ct_key other;      /* the other direction's key */
	__u32 rt_ifindex;         /* orig: the cached route's egress device; 0: none */
	__u64 touched_j;          /* orig: jiffies when last_seen_ns was last
				   * written; one write per tick, not per packet */
	/*
	 * Orig: the egress program's route cache (bpf/route.h). The
	 * bpf_fib_lookup() result of a recent packet of this flow, used for
	 * the flow's next packets for at most RT_CACHE_TICKS jiffies. Zero in
	 * anything user space writes (no cached route).
	 */
	__u64 rt_j;               /* jiffies of that lookup */
	__be32 rt_flowinfo;       /* its TOS (IPv4) or traffic class + flow label (IPv6) */
	__u32 rt_max_len;         /* its packet length: the MTU allowed that much */
	__u32 rt_seq;             /* odd while a CPU rewrites the cache */
	__u32 rt_pad;
};

/* Maximum number of uplinks one attachment may redirect to. */
#define MAX_UPLINKS 64

#endif
