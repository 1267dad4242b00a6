// SPDX-License-Identifier: GPL-2.0
/*
 * What the attachments of a host namespace share (report.h): the agent,
 * the conntrack settings the programs run with, the flows left to the
 * kernel or counted towards promotion, and the return-path programs on the
 * uplinks with their counters. For status, stats and the exporter.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>

#include "report.h"
#include "agent.h"
#include "jsonval.h"
#include "layout.h"
#include "pins.h"
#include "xdp_egress.h"

static int this_ns_dir(char *out, size_t len)
{
	char root[PATH_MAX];

	if (pins_root(root, sizeof(root)))
		return -1;
	return layout_ns_dir(root, out, len);
}

/* The keys in the pinned map name, or -1 when it is not there. */
static long map_count(const char *ns_dir, const char *name, __u32 key_size)
{
	int fd = pins_open(ns_dir, name);
	char key[64], next[64];
	void *prev = NULL;
	long n = 0;

	if (fd < 0 || key_size > sizeof(key))
		return fd < 0 ? -1 : 0;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	close(fd);
	return n;
}

/* The agent and the settings of map kct_config (fd) into doc. */
static void config_json(cJSON *doc, int fd, const char *ns_dir)
{
	struct kct_config c;
	__u32 zero = 0;
	cJSON *o;

	if (bpf_map_lookup_elem(fd, &zero, &c))
		return;
	cJSON_AddNumberToObject(doc, "agent_pid", agent_pid(ns_dir));
	cJSON_AddBoolToObject(doc, "tcp_be_liberal", c.tcp_be_liberal);
	cJSON_AddNumberToObject(doc, "promote_after", c.promote_after);
	o = cJSON_AddObjectToObject(doc, "keepalive_ms");
	cJSON_AddNumberToObject(o, "tcp_established", c.tcp_established_ms);
	cJSON_AddNumberToObject(o, "udp", c.udp_ms);
	cJSON_AddNumberToObject(o, "udp_stream", c.udp_stream_ms);
}

/* Each uplink's record (up<IFINDEX>/meta) with its counters. */
static void uplinks_json(cJSON *arr, const char *ns_dir)
{
	char dir[PATH_MAX], path[PATH_MAX], buf[META_SIZE];
	struct counter_val in[CNT_MAX];
	struct dirent *de;
	DIR *d = opendir(ns_dir);
	cJSON *o;

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "up", 2))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", ns_dir, de->d_name);
		o = meta_read(dir, buf, sizeof(buf)) ? NULL : cJSON_Parse(buf);
		if (!o)
			o = cJSON_CreateObject();
		snprintf(path, sizeof(path), "%s/ingress_stats", dir);
		percpu_counters_read(path, in, CNT_MAX);
		cJSON_AddItemToObject(o, "counters", counters_json(in));
		cJSON_AddItemToArray(arr, o);
	}
	if (d)
		closedir(d);
}

cJSON *ns_report_json(void)
{
	char ns_dir[PATH_MAX];
	cJSON *doc;
	int fd;

	if (this_ns_dir(ns_dir, sizeof(ns_dir)))
		return NULL;
	fd = pins_open(ns_dir, "kct_config");
	if (fd < 0)
		return NULL;
	doc = cJSON_CreateObject();
	config_json(doc, fd, ns_dir);
	close(fd);
	cJSON_AddNumberToObject(doc, "kernel_only_flows",
				(double)map_count(ns_dir, "kernel_only",
						  sizeof(struct kct_key)));
	cJSON_AddNumberToObject(doc, "promote_tracked",
				(double)map_count(ns_dir, "promote",
						  sizeof(struct kct_key)));
	uplinks_json(cJSON_AddArrayToObject(doc, "uplinks"), ns_dir);
	return doc;
}

static double num(cJSON *o, const char *k)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(o, k));
}

/* The return-path program on one uplink: its counters seen. */
static void uplink_print(cJSON *o)
{
	cJSON *c = cJSON_GetObjectItem(o, "counters"), *v;
	int id;

	printf("return path on uplink %s (%s mode)\n", report_str(o, "ifname"),
	       report_str(o, "mode"));
	for (id = 0; id < CNT_MAX; id++) {
		v = cJSON_GetObjectItem(c, counter_name(id));
		if (num(v, "packets") || id == CNT_REDIRECTED)
			printf("  %-22s %12.0f %16.0f\n", counter_name(id),
			       num(v, "packets"), num(v, "bytes"));
	}
}

void ns_report_print(void)
{
	cJSON *doc = ns_report_json(), *o;
	int pid;

	if (!doc)
		return;
	pid = (int)json_int(cJSON_GetObjectItem(doc, "agent_pid"), 0, INT_MAX, 0);
	if (pid)
		printf("agent: pid %d, promotes established TCP flows after %.0f "
		       "kernel-path packets%s\n", pid, num(doc, "promote_after"),
		       cJSON_IsTrue(cJSON_GetObjectItem(doc, "tcp_be_liberal"))
			       ? " (not needed: nf_conntrack_tcp_be_liberal is on)" : "");
	else
		printf("agent: not running: established TCP flows stay on the "
		       "kernel path (`xdp-egress agent`, or attach again, starts "
		       "it)\n");
	if (num(doc, "kernel_only_flows") > 0)
		printf("flushed flows left to the kernel until they end: %.0f\n",
		       num(doc, "kernel_only_flows"));
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "uplinks"))
		uplink_print(o);
	cJSON_Delete(doc);
}
