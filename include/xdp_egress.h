/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything shared between the BPF programs and user space: counter ids,
 * their names, and map key/value layouts. One header so the two sides cannot
 * drift apart.
 */
#ifndef XDP_EGRESS_H
#define XDP_EGRESS_H

/*
 * Layout of what is pinned (src/sys/pins.h): the maps' key and value structs
 * below, which maps exist and where, and the fields of the attachment
 * records. Every namespace folder carries it in its "layout" map, every
 * record in its "layout" field; pins without one are layout 1. Bump it with
 * any change a binary of the previous layout would misread, and add the
 * step that migrates the previous one to src/core/layout.c.
 */
#define XE_LAYOUT_VERSION 3

/*
 * One counter per outcome of a packet, for the egress programs (host veth)
 * and the uplink program (return path) alike. Every pass to the kernel has
 * its own reason so `stats` can say why the fast path was not taken.
 */
enum egress_counter {
	CNT_REDIRECTED = 0,     /* carried by the fast path */
	CNT_GSO,                /* tc: GSO super-packets among the redirected */
	CNT_PASS_NON_IP,        /* ARP, LLDP, ...: the kernel handles them */
	CNT_PASS_VLAN,          /* 802.1Q tagged: routed by the vlan device */
	CNT_PASS_NOT_ROUTED,    /* not addressed to the host's router MAC: bridged */
	CNT_PASS_LOCAL,         /* destined to the host itself (or mcast/bcast) */
	CNT_PASS_FRAGMENT,      /* IPv4 fragment or IPv6 fragment header */
	CNT_PASS_IP_OPTIONS,    /* IPv4 options / IPv6 extension headers */
	CNT_PASS_TTL,           /* TTL / hop limit <= 1: kernel sends time exceeded */
	CNT_PASS_TOO_BIG,       /* larger than egress MTU: kernel fragments or ICMPs */
	CNT_PASS_FIB_FAIL,      /* unreachable, blackhole, prohibit, fwd disabled... */
	CNT_PASS_NOT_UPLINK,    /* routed to a device that is no uplink of ours */
	CNT_PASS_NO_NEIGH,      /* next hop not resolved yet; the kernel resolves */
	CNT_PASS_ICMP,          /* ICMP/ICMPv6: conntrack lookups cover TCP/UDP */
	CNT_PASS_L4_OTHER,      /* IP protocol other than TCP/UDP/ICMP(v6) */
	CNT_PASS_SPOOFED,       /* source MAC or address not the container's own */
	CNT_PASS_NEW_FLOW,      /* no confirmed kernel conntrack entry: netfilter decides */
	CNT_PASS_NOT_ESTABLISHED, /* TCP not ESTABLISHED; a UDP reply before the kernel saw one */
	CNT_PASS_TCP_CONTROL,   /* SYN, FIN, RST or no ACK: the kernel's state machine */
	CNT_PASS_NOT_PROMOTED,  /* established TCP not yet on liberal tracking */
	CNT_PASS_KERNEL_ONLY,   /* helper, seq adjust, flowtable, or flushed flow */
	CNT_PASS_NOT_CONTAINER, /* return path: not to an attached container */
	CNT_DROP_MALFORMED,     /* truncated or inconsistent headers (egress only) */
	CNT_DROP_OUT_OF_WINDOW, /* FIN/RST of a promoted flow outside the window */
	CNT_REDIRECT_ERR,       /* redirect failed after the program returned */
	CNT_PROMOTE_REQUESTS,   /* TCP flows handed to the agent (not a packet outcome) */
	CNT_MAX,
};

/* Names as shown by `stats` and in its JSON; same order as the enum. */
#define EGRESS_COUNTER_NAMES                                                   \
	{                                                                      \
		"redirected", "redirected_gso", "pass_non_ip", "pass_vlan",    \
		"pass_not_routed", "pass_local", "pass_fragment",              \
		"pass_ip_options", "pass_ttl", "pass_too_big",                 \
		"pass_fib_fail", "pass_not_uplink", "pass_no_neigh",           \
		"pass_icmp", "pass_l4_other", "pass_spoofed",                  \
		"pass_new_flow", "pass_not_established", "pass_tcp_control",   \
		"pass_not_promoted", "pass_kernel_only", "pass_not_container", \
		"drop_malformed", "drop_out_of_window", "redirect_err",        \
		"promote_requests",                                            \
	}

/* Is this counter a reason for passing a packet to the kernel? */
static inline int counter_is_pass(int id)
{
	return id >= CNT_PASS_NON_IP && id <= CNT_PASS_NOT_CONTAINER;
}

struct counter_val {
	__u64 packets;
	__u64 bytes;
};

/*
 * A flow as the kernel's conntrack names it: the tuple of one direction.
 * Addresses are 16 bytes; IPv4 uses the first 4. Key of the promotion and
 * kernel-only maps (always the entry's original direction).
 */
struct kct_key {
	__u8 family;            /* AF_INET / AF_INET6 */
	__u8 proto;             /* IPPROTO_TCP / UDP */
	__be16 sport;
	__be16 dport;
	__u16 pad;
	__be32 saddr[4];
	__be32 daddr[4];
};

/* Promotion of an established TCP flow to the fast path: its packets are
 * counted on the kernel path; at promote_after the flow is handed to the
 * agent (ring buffer), which sets liberal window tracking on the kernel's
 * entry as the kernel's own flowtable does. Once it is liberal, the kernel
 * no longer checks a FIN's or RST's sequence number, so the fast path
 * keeps what it needs to: each side's latest ACK and window, sampled at
 * least once per jiffy while it carries the flow. */
struct promote_val {
	__u32 packets;          /* kernel-path packets since established */
	__u32 sampled;          /* bit d: ack[d], win[d] hold a sample */
	__u64 requested_ns;     /* when it was handed to the agent; 0: not yet */
	__u32 ack[2];           /* latest ACK sent by the original (0) and
				 * reply (1) side, host order */
	__u32 win[2];           /* and its window, scaled */
};

/*
 * Settings of one host namespace, shared by every program there (an array
 * of one, pinned). Written by attach and refreshed by the agent from the
 * namespace's own sysctls, so that the fast path keeps a kernel entry alive
 * exactly as the kernel would.
 */
struct kct_config {
	__u32 tcp_established_ms;   /* net.netfilter.nf_conntrack_tcp_timeout_established */
	__u32 udp_ms;               /* nf_conntrack_udp_timeout (unreplied / no stream) */
	__u32 udp_stream_ms;        /* nf_conntrack_udp_timeout_stream */
	__u32 tcp_be_liberal;       /* nf_conntrack_tcp_be_liberal: every flow liberal */
	__u32 promote_after;        /* kernel-path packets of an established TCP flow */
	__u32 kernel_only_active;   /* the kernel-only map holds flows (flush) */
	__u32 agent_pid;            /* the agent that promotes (0: none) */
	__u32 nft_table_ours;       /* what attach made of the nft table inet
				     * xdp_egress (KCT_NFT_MADE_*, src/core/kct.h):
				     * the last detach removes that much */
};

#define KCT_DEFAULT_PROMOTE_AFTER 8

/*
 * What the fast path carried of one flow (bpf/flows.h), by the kernel
 * entry's original tuple: the map `flows`, shared by the namespace's
 * programs. The kernel path's share is conntrack's own (acct) counters.
 */
enum flow_end_reason {
	FLOW_LIVE = 0,
	FLOW_END_FIN,           /* a FIN passed the fast path's window check */
	FLOW_END_RST,           /* an RST did */
	FLOW_END_TIMEOUT,       /* the kernel's entry went (user space: ctnetlink) */
};

struct flow_val {
	__u64 packets[2];       /* carried: original (0) and reply (1) direction */
	__u64 bytes[2];         /* their IP bytes (as conntrack's acct counts) */
	__u64 first_ns;         /* bpf_ktime_get_ns() of the first carried packet */
	__u64 last_ns;          /* of the latest count added */
	__u32 ifindex;          /* the device that carried the first packet */
	__u32 ended;            /* FLOW_END_*, FLOW_LIVE while it lives */
};

/* The translated side of a flow: its original direction as it leaves the
 * host, after SNAT/DNAT (the inverse of the entry's reply tuple). */
struct flow_tuple {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
	__u32 pad;
};

enum flow_event_type {
	FLOW_EV_START = 1,      /* its first fast-path packet */
	FLOW_EV_END,            /* its FIN or RST (reason) */
};

/* One record of the ring buffer `flow_events`: never per packet. */
struct flow_event {
	__u8 type;              /* FLOW_EV_* */
	__u8 reason;            /* FLOW_END_* */
	__u8 dir;               /* start: the direction of that first packet */
	__u8 pad;
	__u32 ifindex;          /* the device that carried (start) or saw it */
	__u64 ts_ns;            /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	struct kct_key key;     /* the original tuple, before NAT */
	struct flow_tuple nat;  /* start: after NAT */
	__u64 packets;          /* end: carried so far, both directions */
	__u64 bytes;
};

/* Key of a container's own source addresses (LPM trie). */
struct source_key {
	__u32 prefixlen;        /* 8 (family) + address bits */
	__u8 family;
	__u8 addr[16];
};

/*
 * Attached containers of a host namespace by address: where the fast path
 * delivers a packet whose (translated) destination is one of them.
 */
struct container_key {
	__u32 family;
	__be32 addr[4];
};

struct container_val {
	__u32 ifindex;          /* host side of its veth (or its tap) */
	__u32 l3_ifindex;       /* the device the kernel routes it by: that
				 * veth, or the bridge it is a port of */
	__u8 mac[6];            /* the container's MAC */
	__u8 router_mac[6];     /* the l3 device's MAC: the frame's source */
};

/* Maximum number of uplinks one attachment may redirect to. */
#define MAX_UPLINKS 64

#endif
