/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What `flows` (flows.c) and `events` (events.c) both read: the pinned maps
 * of this namespace, the attached container an address belongs to, and a
 * flow's tuple, protocol and device as they print them.
 */
#ifndef XE_FLOW_READ_H
#define XE_FLOW_READ_H

#include <limits.h>
#include <linux/types.h>

struct cJSON;

/* The pinned maps of this namespace the two commands read (-1: absent). */
struct flows_maps {
	char ns_dir[PATH_MAX];
	int containers, flows, promote, kernel_only, config;
};

/* Open them; -1 with the error printed (cmd: the command's name) when
 * nothing is attached here or the attachments count no flows. */
int flow_maps_open(struct flows_maps *m, const char *cmd);
void flow_maps_close(struct flows_maps *m);
/* The host device of the attached container that owns addr, or 0. */
__u32 flow_container_of(int containers_fd, int family, const void *addr);
/* {"src": IP, "sport": N, "dst": IP, "dport": N} (ports in network order). */
struct cJSON *flow_tuple_json(int family, const void *src, __u16 sport,
			      const void *dst, __u16 dport);
/* "tcp", "udp" or "?". */
const char *flow_proto_name(int proto);
/* ifindex's name into buf (IF_NAMESIZE), or "if<N>"; buf. */
const char *flow_dev_name(__u32 ifindex, char *buf);
/* CLOCK_MONOTONIC in ns, the clock of the fast path's timestamps. */
__u64 flow_mono_ns(void);

#endif
