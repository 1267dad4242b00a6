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
	CNT_MAX,
};

/* Names as shown by `stats` and in its JSON; same order as the enum. */
#define EGRESS_COUNTER_NAMES                                                   \
	{                                                                      \
		"redirected", "pass_non_ip", "pass_vlan", "pass_no_neigh",     \
		"pass_local", "pass_fragment", "pass_ip_options", "pass_ttl",  \
		"pass_too_big", "pass_fib_fail", "pass_not_uplink",            \
		"pass_l4_other", "drop_malformed", "redirect_err",             \
	}

struct counter_val {
	__u64 packets;
	__u64 bytes;
};

/* Maximum number of uplinks one attachment may redirect to. */
#define MAX_UPLINKS 64

#endif
