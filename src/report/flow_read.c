// SPDX-License-Identifier: GPL-2.0
/*
 * What `flows` and `events` both read (flow_read.h): this namespace's
 * pinned maps containers, flows, promote, kernel_only and kct_config, and
 * a flow's parts as both commands print them.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>

#include "flow_read.h"
#include "log.h"
#include "pins.h"
#include "xdp_egress.h"

void flow_maps_close(struct flows_maps *m)
{
	int *fds[] = { &m->containers, &m->flows, &m->promote,
		       &m->kernel_only, &m->config };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

int flow_maps_open(struct flows_maps *m, const char *cmd)
{
	char root[PATH_MAX];

	m->containers = m->flows = m->promote = m->kernel_only = m->config = -1;
	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(m->ns_dir, sizeof(m->ns_dir), root))
		return -1;
	m->containers = pins_open(m->ns_dir, "containers");
	if (m->containers < 0) {
		pr_err("%s: nothing is attached in this network namespace (no "
		       "pins under %s); run it where `xdp-egress status` lists "
		       "attachments", cmd, m->ns_dir);
		return -1;
	}
	m->flows = pins_open(m->ns_dir, "flows");
	if (m->flows < 0) {
		pr_err("%s: the attachments under %s were made by an "
		       "xdp-egress without per-flow counts (no pinned map "
		       "flows); detach them (`xdp-egress detach --all`) and "
		       "attach them again with this one", cmd, m->ns_dir);
		flow_maps_close(m);
		return -1;
	}
	m->promote = pins_open(m->ns_dir, "promote");
	m->kernel_only = pins_open(m->ns_dir, "kernel_only");
	m->config = pins_open(m->ns_dir, "kct_config");
	return 0;
}

__u32 flow_container_of(int fd, int family, const void *addr)
{
	struct container_key ck = { .family = family };
	struct container_val v;

	memcpy(ck.addr, addr, family == AF_INET ? 4 : 16);
	return bpf_map_lookup_elem(fd, &ck, &v) ? 0 : v.ifindex;
}

cJSON *flow_tuple_json(int family, const void *src, __u16 sport,
		       const void *dst, __u16 dport)
{
	cJSON *o = cJSON_CreateObject();
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family, src, ip, sizeof(ip));
	cJSON_AddStringToObject(o, "src", ip);
	cJSON_AddNumberToObject(o, "sport", ntohs(sport));
	inet_ntop(family, dst, ip, sizeof(ip));
	cJSON_AddStringToObject(o, "dst", ip);
	cJSON_AddNumberToObject(o, "dport", ntohs(dport));
	return o;
}

const char *flow_proto_name(int p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "?";
}

const char *flow_dev_name(__u32 ifindex, char *buf)
{
	if (!ifindex || !if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%u", ifindex);
	return buf;
}

__u64 flow_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
