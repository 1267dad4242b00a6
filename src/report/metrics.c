// SPDX-License-Identifier: GPL-2.0
/*
 * The exporter's metrics (metrics.h). The numbers come from report_json(),
 * the same reading of the pins as `status --json` and `stats --json`, so
 * the exporter and the CLI cannot disagree. Each attachment's series carry
 * its host veth (ifname) and its container (container_names.h); the text
 * format and its escaping are prom.c's.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "metrics.h"
#include "container_names.h"
#include "jsonval.h"
#include "pins.h"
#include "prom.h"
#include "report.h"
#include "xdp_egress.h"

static const char *str(cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k)) ?: "";
}

static double counter_of(cJSON *counters, const char *name, const char *field)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(counters, name), field));
}

/* The reasons of xdp_egress_packets_total: each packet has one outcome
 * (GSO, redirect errors and promote requests are counted apart). */
static int is_outcome(int id)
{
	return id == CNT_REDIRECTED || counter_is_pass(id) ||
	       id == CNT_DROP_MALFORMED || id == CNT_DROP_OUT_OF_WINDOW;
}

/* One attachment: its labels, NAME{ifname="..",container=".."EXTRA}, its
 * record (status --json's) and its counters (stats --json's). */
struct series {
	const char *ifname, *container;
	cJSON *rec, *counters;
};

/* A sample of attachment s, with one more label key="val" (key NULL:
 * none). */
static void sample(FILE *out, const char *name, const struct series *s,
		   const char *key, const char *val, double v)
{
	struct prom_label l[3] = { { "ifname", s->ifname },
				   { "container", s->container },
				   { key, val } };

	prom_sample(out, name, l, key ? 3 : 2, v);
}

/* A state gauge: one sample per choice, 1 for the current one. */
static void one_of(FILE *out, const char *name, const struct series *s,
		   const char *key, const char *const *choices, int n,
		   const char *current)
{
	int k;

	for (k = 0; k < n; k++)
		sample(out, name, s, key, choices[k], !strcmp(current, choices[k]));
}

static const char *const fields[] = { "packets", "bytes" };

/* xdp_egress_{packets,bytes}_total: the egress programs' outcomes. */
static void write_outcomes(FILE *out, const struct series *ser, int n)
{
	char name[96];
	int f, id, i;

	for (f = 0; f < 2; f++) {
		snprintf(name, sizeof(name), "xdp_egress_%s_total", fields[f]);
		prom_help_type(out, name, "counter", f ? "Bytes of the packets that "
			       "the egress program on a container's host veth "
			       "(ifname) saw, by outcome (reason): redirected "
			       "(carried by the fast path), pass_* (left to the "
			       "kernel path, and why), drop_*." :
			       "Packets that the egress program on a container's "
			       "host veth (ifname) saw, by outcome (reason): "
			       "redirected (carried by the fast path), pass_* (left "
			       "to the kernel path, and why), drop_*. Fast path "
			       "share over time: sum by (ifname) (rate(xdp_egress_"
			       "packets_total{reason=\"redirected\"}[5m])) / sum by "
			       "(ifname) (rate(xdp_egress_packets_total[5m])).");
		for (i = 0; i < n; i++)
			for (id = 0; id < CNT_MAX; id++)
				if (is_outcome(id))
					sample(out, name, &ser[i], "reason",
					       counter_name(id),
					       counter_of(ser[i].counters,
							  counter_name(id), fields[f]));
	}
}

/* GSO super-packets and promote requests: counted beside the outcomes. */
static void write_gso_promote(FILE *out, const struct series *ser, int n)
{
	char name[96];
	int f, i;

	for (f = 0; f < 2; f++) {
		snprintf(name, sizeof(name), "xdp_egress_redirected_gso_%s_total",
			 fields[f]);
		prom_help_type(out, name, "counter", f ? "Bytes of the GSO "
			       "super-packets among the redirected (tc program)." :
			       "GSO super-packets among the redirected packets (tc "
			       "program: one carries up to 64 KB).");
		for (i = 0; i < n; i++)
			sample(out, name, &ser[i], NULL, NULL,
			       counter_of(ser[i].counters,
					  counter_name(CNT_GSO), fields[f]));
	}
	prom_help_type(out, "xdp_egress_promote_requests_total", "counter",
		       "Established TCP flows handed to the agent to be tracked "
		       "liberally, the condition for the fast path to carry them.");
	for (i = 0; i < n; i++)
		sample(out, "xdp_egress_promote_requests_total", &ser[i], NULL, NULL,
		       counter_of(ser[i].counters,
				  counter_name(CNT_PROMOTE_REQUESTS), "packets"));
}

static void write_fast_path_ratio(FILE *out, const struct series *ser,
				  int n)
{
	int i, id;

	prom_help_type(out, "xdp_egress_fast_path_ratio", "gauge",
		       "Share of the packets since attach that the fast path "
		       "carried (redirected / every reason of "
		       "xdp_egress_packets_total); NaN before the first packet. "
		       "For a recent share compute it from the rates of "
		       "xdp_egress_packets_total (see its HELP).");
	for (i = 0; i < n; i++) {
		cJSON *c = ser[i].counters;
		double all = 0;

		for (id = 0; id < CNT_MAX; id++)
			if (is_outcome(id))
				all += counter_of(c, counter_name(id), "packets");
		sample(out, "xdp_egress_fast_path_ratio", &ser[i], NULL, NULL,
		       all ? counter_of(c, "redirected", "packets") / all : NAN);
	}
}

/* The return-path programs on the uplinks, by outcome. */
static void write_return_counters(FILE *out, cJSON *uplinks)
{
	struct prom_label l[2] = { { "ifname", NULL }, { "reason", NULL } };
	char name[96];
	cJSON *u;
	int f, id;

	for (f = 0; f < 2; f++) {
		snprintf(name, sizeof(name), "xdp_egress_return_%s_total", fields[f]);
		prom_help_type(out, name, "counter", f ? "Bytes that the "
			       "return-path program on an uplink (ifname) saw, by "
			       "outcome (reason)." :
			       "Packets that the return-path program on an uplink "
			       "(ifname) saw, by outcome (reason): redirected "
			       "straight into an attached container, or pass_* to "
			       "the kernel path.");
		cJSON_ArrayForEach(u, uplinks) {
			l[0].value = str(u, "ifname");
			for (id = 0; id < CNT_MAX; id++) {
				if (!is_outcome(id))
					continue;
				l[1].value = counter_name(id);
				prom_sample(out, name, l, 2,
					    counter_of(cJSON_GetObjectItem(u, "counters"),
						       counter_name(id), fields[f]));
			}
		}
	}
}

/* Modes, auto mode's state and switches, the link's state. */
static void write_modes(FILE *out, const struct series *ser, int n)
{
	static const char *const modes[] = { "auto", "native", "generic", "tc" };
	static const char *const states[] = { "tc", "native" };
	cJSON *au;
	int i;

	prom_help_type(out, "xdp_egress_mode", "gauge", "1 for the mode an "
		       "attachment was made with (--mode: auto, native, generic, "
		       "tc), 0 for the others.");
	for (i = 0; i < n; i++)
		one_of(out, "xdp_egress_mode", &ser[i], "mode", modes, 4,
		       str(ser[i].rec, "mode"));
	prom_help_type(out, "xdp_egress_auto_state", "gauge", "auto mode: 1 for "
		       "what runs now (state=\"tc\": the tc program alone; "
		       "state=\"native\": native XDP in front of it), 0 for the "
		       "other.");
	for (i = 0; i < n; i++) {
		au = cJSON_GetObjectItem(ser[i].rec, "auto");
		if (au)
			one_of(out, "xdp_egress_auto_state", &ser[i], "state",
			       states, 2, str(au, "state"));
	}
	prom_help_type(out, "xdp_egress_auto_switches_total", "counter", "auto "
		       "mode: switches between the tc program alone and native "
		       "XDP in front of it since attach.");
	for (i = 0; i < n; i++) {
		au = cJSON_GetObjectItem(ser[i].rec, "auto");
		if (au)
			sample(out, "xdp_egress_auto_switches_total", &ser[i], NULL,
			       NULL, (double)json_int(cJSON_GetObjectItem(au, "switches"),
						      0, 1LL << 53, 0));
	}
	prom_help_type(out, "xdp_egress_attached", "gauge", "1 while the "
		       "recorded program runs on the interface; 0 when it is gone, "
		       "replaced, or an attach or detach was interrupted "
		       "(`xdp-egress status` says which).");
	for (i = 0; i < n; i++)
		sample(out, "xdp_egress_attached", &ser[i], NULL, NULL,
		       !strcmp(str(ser[i].rec, "state"), "attached"));
}

/* Room for the attachments' and uplinks' ifindexes (and many more). */
#define KNOWN_MAX (2 * MAX_UPLINKS + 256)

/* The ifindexes of the attachments and uplinks, into known; their number. */
static int known_devices(cJSON *atts, cJSON *uplinks, __u32 *known)
{
	cJSON *o;
	int n = 0;

	cJSON_ArrayForEach(o, atts)
		if (n < KNOWN_MAX)
			known[n++] = (__u32)json_int(cJSON_GetObjectItem(o, "ifindex"),
						     0, INT_MAX, 0);
	cJSON_ArrayForEach(o, uplinks)
		if (n < KNOWN_MAX)
			known[n++] = if_nametoindex(str(o, "ifname"));
	return n;
}

/* One device's sample: the per-CPU sum of map fd at key (0 without it). */
static void redirect_errors_sample(FILE *out, int fd, __u64 *vals, int ncpu,
				   __u32 key)
{
	char ifname[IF_NAMESIZE];
	struct prom_label l = { "ifname", ifname };
	__u64 sum = 0;
	int c;

	if (fd >= 0 && vals && !bpf_map_lookup_elem(fd, &key, vals))
		for (c = 0; c < ncpu; c++)
			sum += vals[c];
	if (!if_indextoname(key, ifname))
		snprintf(ifname, sizeof(ifname), "if%u", key);
	prom_sample_u64(out, "xdp_egress_redirect_errors_total", &l, 1, sum);
}

/* The tracepoints' per-device count of frames lost after a redirect: a
 * series for each attachment and uplink (0 until one is lost), and for any
 * other device of this namespace the map holds. */
static void write_redirect_errors(FILE *out, cJSON *atts, cJSON *uplinks)
{
	char root[PATH_MAX], ns_dir[PATH_MAX];
	int ncpu = libbpf_num_possible_cpus(), fd = -1, i, k, n, seen;
	__u32 key, next, *prev = NULL, known[KNOWN_MAX];
	__u64 *vals = NULL;

	prom_help_type(out, "xdp_egress_redirect_errors_total", "counter",
		       "Frames lost after the program redirected them (tracepoints "
		       "xdp_redirect_err and xdp_devmap_xmit), by the device that "
		       "redirected (a container's host veth or an uplink).");
	if (!pins_root(root, sizeof(root)) &&
	    !pins_ns_dir_self(ns_dir, sizeof(ns_dir), root) && ncpu > 0) {
		fd = pins_open(ns_dir, "errors/redirect_errs");
		vals = calloc(ncpu, sizeof(*vals));
	}
	n = known_devices(atts, uplinks, known);
	/* The known devices first, then the map's others. */
	for (i = 0; i < n; i++)
		if (known[i])
			redirect_errors_sample(out, fd, vals, ncpu, known[i]);
	while (fd >= 0 && vals && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		for (seen = 0, k = 0; k < n; k++)
			seen |= known[k] == key;
		if (!seen)
			redirect_errors_sample(out, fd, vals, ncpu, key);
	}
	free(vals);
	if (fd >= 0)
		close(fd);
}

/* A number from /proc/sys, or -1. */
static double proc_number(const char *path)
{
	FILE *f = fopen(path, "re");
	double v = -1;

	if (f) {
		if (fscanf(f, "%lf", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void write_conntrack(FILE *out)
{
	double count = proc_number("/proc/sys/net/netfilter/nf_conntrack_count");
	double max = proc_number("/proc/sys/net/netfilter/nf_conntrack_max");

	if (count >= 0) {
		prom_help_type(out, "xdp_egress_conntrack_entries", "gauge",
			       "Entries in the kernel's conntrack table of this "
			       "network namespace (nf_conntrack_count): the flows "
			       "the fast path may carry.");
		prom_sample(out, "xdp_egress_conntrack_entries", NULL, 0, count);
	}
	if (max >= 0) {
		prom_help_type(out, "xdp_egress_conntrack_entries_max", "gauge",
			       "The conntrack table's limit (nf_conntrack_max); new "
			       "flows are dropped by the kernel beyond it.");
		prom_sample(out, "xdp_egress_conntrack_entries_max", NULL, 0, max);
	}
}

/* What the namespace's attachments share: promotion, flush, the agent. */
static void write_namespace(FILE *out, cJSON *ns)
{
	if (!ns)
		return;
	prom_help_type(out, "xdp_egress_promote_tracked_flows", "gauge", "TCP "
		       "flows the fast path is counting towards promotion (BPF "
		       "map promote).");
	prom_sample(out, "xdp_egress_promote_tracked_flows", NULL, 0,
		    cJSON_GetNumberValue(cJSON_GetObjectItem(ns, "promote_tracked")));
	prom_help_type(out, "xdp_egress_kernel_only_flows", "gauge", "Flows that "
		       "`xdp-egress flush` left to the kernel path until they end "
		       "(BPF map kernel_only).");
	prom_sample(out, "xdp_egress_kernel_only_flows", NULL, 0,
		    cJSON_GetNumberValue(cJSON_GetObjectItem(ns, "kernel_only_flows")));
	prom_help_type(out, "xdp_egress_agent_up", "gauge", "1 while the "
		       "namespace's agent runs (it promotes established TCP flows; "
		       "without it they stay on the kernel path).");
	prom_sample(out, "xdp_egress_agent_up", NULL, 0,
		    json_int(cJSON_GetObjectItem(ns, "agent_pid"), 0, INT_MAX, 0) > 0);
}

/* The labels of each attachment of atts into ser (names in cname). */
static void series_of(cJSON *atts, const char *const *run_dirs,
		      struct series *ser, char (*cname)[256])
{
	struct container_names nm;
	cJSON *a;
	int i = 0;

	container_names_load(&nm, run_dirs);
	cJSON_ArrayForEach(a, atts) {
		container_label(&nm, a, cname[i], sizeof(cname[i]));
		ser[i].ifname = str(a, "ifname");
		ser[i].container = cname[i];
		ser[i].rec = a;
		ser[i].counters = cJSON_GetObjectItem(a, "counters");
		i++;
	}
	container_names_free(&nm);
}

static void write_all(FILE *out, cJSON *doc, const struct series *ser, int n)
{
	cJSON *atts = cJSON_GetObjectItem(doc, "attachments");
	cJSON *ns = cJSON_GetObjectItem(doc, "namespace");
	cJSON *uplinks = cJSON_GetObjectItem(ns, "uplinks");

	prom_help_type(out, "xdp_egress_attachments", "gauge",
		       "Attachments in this network namespace.");
	prom_sample(out, "xdp_egress_attachments", NULL, 0, n);
	write_outcomes(out, ser, n);
	write_gso_promote(out, ser, n);
	write_fast_path_ratio(out, ser, n);
	write_return_counters(out, uplinks);
	write_modes(out, ser, n);
	write_redirect_errors(out, atts, uplinks);
	write_conntrack(out);
	write_namespace(out, ns);
}

int metrics_write(FILE *out, const char *const *run_dirs)
{
	const char *env = getenv("XDP_EGRESS_BPFFS");
	const char *root = env && *env ? env : "/sys/fs/bpf/xdp-egress";
	struct series *ser;
	char (*cname)[256];
	struct stat st;
	int n, root_existed, ok;
	cJSON *doc;

	/* Reading creates the pin root (pins_root()): a scrape before any
	 * attach removes it again, as list_attachments() does for stats. */
	root_existed = !stat(root, &st);
	doc = report_json();
	if (!doc)
		return -1;
	n = cJSON_GetArraySize(cJSON_GetObjectItem(doc, "attachments"));
	ser = calloc(n + 1, sizeof(*ser));
	cname = calloc(n + 1, sizeof(*cname));
	ok = ser && cname;
	if (ok) {
		series_of(cJSON_GetObjectItem(doc, "attachments"), run_dirs, ser,
			  cname);
		write_all(out, doc, ser, n);
	}
	free(ser);
	free(cname);
	cJSON_Delete(doc);
	if (ok && !root_existed && strcmp(root, "/sys/fs/bpf"))
		rmdir(root);
	return ok ? 0 : -1;
}
