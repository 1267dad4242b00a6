// SPDX-License-Identifier: GPL-2.0
/*
 * The fast path's counters (report.h): the per-CPU arrays the programs
 * count into, summed over every CPU, their names and their JSON, as status,
 * stats, top and the exporter show them.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "report.h"
#include "xdp_egress.h"

static const char *counter_names[CNT_MAX] = EGRESS_COUNTER_NAMES;

const char *counter_name(int id)
{
	return id >= 0 && id < CNT_MAX ? counter_names[id] : "?";
}

/* The namespace's tracepoint programs count per ifindex (attach.c). */
static void redirect_errors_read(const char *dir, struct counter_val *out)
{
	char path[PATH_MAX], ns_dir[PATH_MAX], *slash;
	int ncpu = libbpf_num_possible_cpus(), fd, c;
	__u32 ifindex;
	__u64 *vals;

	snprintf(ns_dir, sizeof(ns_dir), "%s", dir);
	slash = strrchr(ns_dir, '/');
	if (!slash || sscanf(slash + 1, "if%u", &ifindex) != 1 || ncpu <= 0)
		return;
	*slash = 0;
	snprintf(path, sizeof(path), "%s/errors/redirect_errs", ns_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	vals = calloc(ncpu, sizeof(*vals));
	if (vals && !bpf_map_lookup_elem(fd, &ifindex, vals))
		for (c = 0; c < ncpu; c++)
			out->packets += vals[c];
	free(vals);
	close(fd);
}

int percpu_counters_read(const char *path, struct counter_val *out, __u32 n)
{
	int ncpu = libbpf_num_possible_cpus(), fd, c;
	struct counter_val *vals;
	__u32 id;

	memset(out, 0, sizeof(*out) * n);
	fd = bpf_obj_get(path);
	if (fd < 0 || ncpu <= 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	vals = calloc(ncpu, sizeof(*vals));
	for (id = 0; vals && id < n; id++) {
		if (bpf_map_lookup_elem(fd, &id, vals))
			continue;
		for (c = 0; c < ncpu; c++) {
			out[id].packets += vals[c].packets;
			out[id].bytes += vals[c].bytes;
		}
	}
	free(vals);
	close(fd);
	return 0;
}

int counters_read(const char *dir, struct counter_val *out)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/egress_stats", dir);
	if (percpu_counters_read(path, out, CNT_MAX))
		return -1;
	redirect_errors_read(dir, &out[CNT_REDIRECT_ERR]);
	return 0;
}

void counters_add(struct counter_val *sum, const struct counter_val *c)
{
	int id;

	for (id = 0; id < CNT_MAX; id++) {
		sum[id].packets += c[id].packets;
		sum[id].bytes += c[id].bytes;
	}
}

cJSON *counters_json(const struct counter_val *c)
{
	cJSON *o = cJSON_CreateObject();
	int id;

	for (id = 0; id < CNT_MAX; id++) {
		cJSON *v = cJSON_AddObjectToObject(o, counter_names[id]);

		cJSON_AddNumberToObject(v, "packets", (double)c[id].packets);
		cJSON_AddNumberToObject(v, "bytes", (double)c[id].bytes);
	}
	return o;
}
