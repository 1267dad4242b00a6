/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-CPU counters every program keeps: one slot per reason
 * (CNT_*, include/xdp_egress.h), packets and bytes. Each program declares
 * its own map with COUNTER_MAP() (pinned under its own name) and counts
 * into it with count_to().
 */
#ifndef XDP_EGRESS_COUNTERS_H
#define XDP_EGRESS_COUNTERS_H

#include "parse.h"

#define COUNTER_MAP(name)                                       \
	struct {                                                \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);        \
		__uint(max_entries, CNT_MAX);                   \
		__type(key, __u32);                             \
		__type(value, struct counter_val);              \
	} name SEC(".maps")

static __always_inline void count_to(void *map, __u32 id, __u64 bytes)
{
	struct counter_val *v = bpf_map_lookup_elem(map, &id);

	if (v) {
		v->packets++;
		v->bytes += bytes;
	}
}

#endif
