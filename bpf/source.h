/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stage 2 of the egress path: is this frame the container's own? A
 * container is untrusted and controls every byte it sends. Kernel entries
 * are not bound to the interface that created them, so a container sending
 * with a neighbour's address could ride (or disturb) the neighbour's flows.
 * Only frames from the container's own MAC and addresses (learned at
 * attach, or given with --source for a VM) take the fast path; anything
 * else goes to the kernel, where rp_filter and the operator's rules decide.
 */
#ifndef XDP_EGRESS_SOURCE_H
#define XDP_EGRESS_SOURCE_H

#include "parse.h"

/* Set by attach: the container's MAC (checked when check_source_mac). */
const volatile __u8 source_mac[ETH_ALEN] = {};
const volatile __u8 check_source_mac = 0;

/* The container's own addresses and prefixes (LPM trie, one attachment). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct source_key);
	__type(value, __u8);
} own_sources SEC(".maps");

static __always_inline int source_mac_ok(const struct packet *p)
{
	int i;

	if (!check_source_mac)
		return 1;
	for (i = 0; i < ETH_ALEN; i++)
		if (p->eth->h_source[i] != source_mac[i])
			return 0;
	return 1;
}

/* PARSE_OK when p comes from one of the container's own addresses. */
static __always_inline int source_addr_ok(const struct packet *p)
{
	struct source_key k = {};

	if (p->l3_proto == ETH_P_IP) {
		k.prefixlen = 8 + 32;
		k.family = AF_INET;
		__builtin_memcpy(k.addr, &p->ip4->saddr, 4);
	} else {
		k.prefixlen = 8 + 128;
		k.family = AF_INET6;
		__builtin_memcpy(k.addr, &p->ip6->saddr, 16);
	}
	return bpf_map_lookup_elem(&own_sources, &k) ? PARSE_OK : CNT_PASS_SPOOFED;
}

/* PARSE_OK when p comes from the container's own MAC and address. */
static __always_inline int source_check(const struct packet *p)
{
	if (!source_mac_ok(p))
		return CNT_PASS_SPOOFED;
	return source_addr_ok(p);
}

#endif
