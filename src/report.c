// SPDX-License-Identifier: GPL-2.0
/*
 * status and stats: read the pinned records and per-CPU counters of every
 * attachment in this host namespace and print them for people or as JSON.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "report.h"
#include "jsonval.h"
#include "agent.h"
#include "log.h"
#include "netns.h"
#include "nl.h"
#include "pins.h"
#include "probe.h"
#include "layout.h"
#include "target.h"
#include "tchook.h"
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

/* Sum a pinned per-CPU array of struct counter_val over every CPU. */
static int percpu_counters_read(const char *path, struct counter_val *out,
				__u32 n)
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

#define MAX_ATTACH 1024

/* Every attachment of this namespace (or only the one in only_dir). */
int list_attachments(struct attachment **out, const char *only_dir)
{
	char root[PATH_MAX], ns_dir[PATH_MAX], buf[META_SIZE];
	const char *env = getenv("XDP_EGRESS_BPFFS");
	struct attachment *a;
	struct dirent *de;
	int n = 0, root_existed;
	struct stat st;
	DIR *d;

	*out = NULL;
	/* pins_root() creates the root: note whether it was there. */
	root_existed = !stat(env && *env ? env : "/sys/fs/bpf/xdp-egress", &st);
	if (pins_root(root, sizeof(root)) ||
	    layout_ns_dir(root, ns_dir, sizeof(ns_dir)))
		return -1;
	/* Pins of a layout this binary cannot read are not reported on. */
	if (layout_check(root, LAYOUT_READ))
		return -1;
	a = calloc(MAX_ATTACH, sizeof(*a));
	if (!a)
		return -1;
	d = opendir(ns_dir);
	while (d && n < MAX_ATTACH && (de = readdir(d))) {
		if (strncmp(de->d_name, "if", 2))
			continue;
		snprintf(a[n].dir, sizeof(a[n].dir), "%s/%s", ns_dir, de->d_name);
		if (only_dir && strcmp(only_dir, a[n].dir))
			continue;
		if (!meta_read(a[n].dir, buf, sizeof(buf)))
			a[n].meta = cJSON_Parse(buf);
		if (!a[n].meta)
			a[n].meta = cJSON_CreateObject();
		counters_read(a[n].dir, a[n].cnt);
		n++;
	}
	if (d)
		closedir(d);
	/* Remove only the root this call created: an empty ns folder or root
	 * may be an attach in progress (mkdir, then pins), which an rmdir
	 * here would make fail with ENOENT. */
	if (!root_existed && strcmp(root, "/sys/fs/bpf"))
		rmdir(root);
	*out = a;
	return n;
}

void free_attachments(struct attachment *a, int n)
{
	int i;

	for (i = 0; i < n; i++)
		cJSON_Delete(a[i].meta);
	free(a);
}

static const char *mstr(cJSON *m, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(m, k)) ?: "?";
}

/* Is the recorded program still the one on the device? */
/* Is program id prog among the tcx ingress programs of ifindex? */
static int tcx_has_prog(int ifindex, __u32 prog)
{
	__u32 ids[64], cnt = 64, i;

	if (bpf_prog_query(ifindex, (enum bpf_attach_type)XE_BPF_TCX_INGRESS,
			   0, NULL, ids, &cnt))
		return 0;
	for (i = 0; i < cnt && i < 64; i++)
		if (ids[i] == prog)
			return 1;
	return 0;
}

static const char *link_state(cJSON *m)
{
	struct mnl_socket *nl = nl_open_in(-1);
	struct link_info li;
	const char *st = "attached";
	int ifindex = (int)json_int(cJSON_GetObjectItem(m, "ifindex"), 0, INT_MAX, 0);
	__u32 prog = (__u32)json_int(cJSON_GetObjectItem(m, "prog_id"), 0,
				     UINT32_MAX, 0);
	const char *phase = mstr(m, "phase");

	if (!strcmp(phase, "attaching") || !strcmp(phase, "detaching")) {
		nl_close(nl);
		return !strcmp(phase, "attaching")
			       ? "interrupted attach (killed before it finished): "
				 "detach, or attach again, restores what it changed"
			       : "interrupted detach (killed before it finished): "
				 "detach again to finish it";
	}
	if (!nl)
		return "unknown";
	if (nl_link_by_index(nl, ifindex, &li) || strcmp(li.name, mstr(m, "ifname")))
		st = "interface gone (run detach to clean up)";
	else if (!strcmp(mstr(m, "mode"), "tc") || !strcmp(mstr(m, "mode"), "auto")
			 ? !strcmp(mstr(m, "tc_hook"), "clsact")
				   ? tc_hook_clsact_prog(ifindex) != prog
				   : !tcx_has_prog(ifindex, prog)
			 : li.xdp_prog_id != prog)
		st = "program replaced or removed by someone else";
	nl_close(nl);
	return st;
}

/* --- what the attachments of a namespace share: the agent, the
 * conntrack settings, the return-path programs --- */

static int this_ns_dir(char *out, size_t len)
{
	char root[PATH_MAX];

	if (pins_root(root, sizeof(root)))
		return -1;
	return layout_ns_dir(root, out, len);
}

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

static cJSON *counters_json(const struct counter_val *c);

/* JSON of the namespace's shared state, or NULL when nothing is attached. */
static cJSON *ns_json(void)
{
	char ns_dir[PATH_MAX], buf[META_SIZE], path[PATH_MAX];
	struct counter_val in[CNT_MAX];
	struct kct_config c;
	cJSON *doc, *arr, *o;
	struct dirent *de;
	__u32 zero = 0;
	int fd;
	DIR *d;

	if (this_ns_dir(ns_dir, sizeof(ns_dir)))
		return NULL;
	fd = pins_open(ns_dir, "kct_config");
	if (fd < 0)
		return NULL;
	doc = cJSON_CreateObject();
	if (!bpf_map_lookup_elem(fd, &zero, &c)) {
		cJSON_AddNumberToObject(doc, "agent_pid", agent_pid(ns_dir));
		cJSON_AddBoolToObject(doc, "tcp_be_liberal", c.tcp_be_liberal);
		cJSON_AddNumberToObject(doc, "promote_after", c.promote_after);
		o = cJSON_AddObjectToObject(doc, "keepalive_ms");
		cJSON_AddNumberToObject(o, "tcp_established", c.tcp_established_ms);
		cJSON_AddNumberToObject(o, "udp", c.udp_ms);
		cJSON_AddNumberToObject(o, "udp_stream", c.udp_stream_ms);
	}
	close(fd);
	cJSON_AddNumberToObject(doc, "kernel_only_flows",
				(double)map_count(ns_dir, "kernel_only",
						  sizeof(struct kct_key)));
	cJSON_AddNumberToObject(doc, "promote_tracked",
				(double)map_count(ns_dir, "promote",
						  sizeof(struct kct_key)));
	arr = cJSON_AddArrayToObject(doc, "uplinks");
	d = opendir(ns_dir);
	while (d && (de = readdir(d))) {
		char dir[PATH_MAX];

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
	return doc;
}

static void print_ns(void)
{
	cJSON *doc = ns_json(), *o, *c;
	int id, pid;

	if (!doc)
		return;
	pid = (int)json_int(cJSON_GetObjectItem(doc, "agent_pid"), 0, INT_MAX, 0);
	if (pid)
		printf("agent: pid %d, promotes established TCP flows after %.0f "
		       "kernel-path packets%s\n", pid,
		       cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "promote_after")),
		       cJSON_IsTrue(cJSON_GetObjectItem(doc, "tcp_be_liberal"))
			       ? " (not needed: nf_conntrack_tcp_be_liberal is on)" : "");
	else
		printf("agent: not running: established TCP flows stay on the "
		       "kernel path (`xdp-egress agent`, or attach again, starts "
		       "it)\n");
	if (cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "kernel_only_flows")) > 0)
		printf("flushed flows left to the kernel until they end: %.0f\n",
		       cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "kernel_only_flows")));
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "uplinks")) {
		printf("return path on uplink %s (%s mode)\n", mstr(o, "ifname"),
		       mstr(o, "mode"));
		c = cJSON_GetObjectItem(o, "counters");
		for (id = 0; id < CNT_MAX; id++) {
			cJSON *v = cJSON_GetObjectItem(c, counter_names[id]);
			double pk = cJSON_GetNumberValue(cJSON_GetObjectItem(v, "packets"));

			if (pk || id == CNT_REDIRECTED)
				printf("  %-22s %12.0f %16.0f\n", counter_names[id],
				       pk, cJSON_GetNumberValue(
					       cJSON_GetObjectItem(v, "bytes")));
		}
	}
	cJSON_Delete(doc);
}

/* --- the TARGET filter --- */

int target_dir(const struct target_spec *spec, char *out, size_t len)
{
	char root[PATH_MAX], ns_dir[PATH_MAX];
	struct target t;

	if (target_resolve(spec, &t))
		return -1;
	if (pins_root(root, sizeof(root))) {
		target_release(&t);
		return -1;
	}
	pins_ns_dir(ns_dir, sizeof(ns_dir), root, t.host_netns_cookie);
	pins_attach_dir(out, len, ns_dir, t.host.ifindex);
	if (access(out, F_OK)) {
		pr_err("%s is not attached; `xdp-egress status` lists what is",
		       t.host.name);
		target_release(&t);
		return -1;
	}
	target_release(&t);
	return 0;
}

/* --- status --- */

void report_print_record(cJSON *m, const char *dir, const char *state)
{
	cJSON *o;

	printf("%s (ifindex %lld, %s): %s mode, %s\n", mstr(m, "ifname"),
	       json_int(cJSON_GetObjectItem(m, "ifindex"), 0, INT_MAX, 0),
	       mstr(m, "kind"), mstr(m, "mode"), state);
	printf("  why this mode: %s\n", mstr(m, "mode_reason"));
	o = cJSON_GetObjectItem(m, "container");
	if (o)
		printf("  container side: %s (netns inode %.0f)\n",
		       mstr(o, "ifname"),
		       cJSON_GetNumberValue(cJSON_GetObjectItem(o, "netns_ino")));
	o = cJSON_GetObjectItem(m, "auto");
	if (o) {
		time_t since = (time_t)json_int(cJSON_GetObjectItem(o, "since"),
						0, 1LL << 53, 0);

		printf("  auto: now %s (%s), for %lds\n",
		       !strcmp(mstr(o, "state"), "native")
			       ? "native XDP in front of the tc program"
			       : "the tc program alone",
		       mstr(o, "why"), (long)(time(NULL) - since));
		if (cJSON_GetObjectItem(o, "native_blocked"))
			printf("  auto: stays on tc: %s\n",
			       mstr(o, "native_blocked"));
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(m, "uplinks"))
		printf("  uplink: %s\n", mstr(o, "ifname"));
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(m, "sources"))
		printf("  source: %s\n", cJSON_GetStringValue(o) ?: "?");
	if (cJSON_GetObjectItem(m, "source_mac"))
		printf("  source MAC: %s\n", mstr(m, "source_mac"));
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(m, "fixes"))
		printf("  fix: %s %s on %s (%s)\n", mstr(o, "offload"),
		       cJSON_IsTrue(cJSON_GetObjectItem(o, "now")) ? "on" : "off",
		       mstr(o, "ifname"), mstr(o, "why"));
	printf("  return path: %s XDP on the uplinks\n",
	       mstr(m, "return_path"));
	printf("  redirect errors: %s\n", mstr(m, "redirect_errors"));
	kernel_caps_print(cJSON_GetObjectItem(m, "kernel"), "  ");
	printf("  program id %.0f, pins %s\n",
	       cJSON_GetNumberValue(cJSON_GetObjectItem(m, "prog_id")),
	       dir);
}

int cmd_status(int json)
{
	struct attachment *a;
	cJSON *doc, *arr;
	int n, i;

	n = list_attachments(&a, NULL);
	if (n < 0)
		return 1;
	if (json) {
		doc = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(doc, "attachments");
		for (i = 0; i < n; i++) {
			cJSON *m = cJSON_Duplicate(a[i].meta, 1);

			cJSON_AddStringToObject(m, "state", link_state(a[i].meta));
			cJSON_AddStringToObject(m, "pins", a[i].dir);
			cJSON_AddItemToArray(arr, m);
		}
		cJSON *sh = ns_json();
		if (sh)
			cJSON_AddItemToObject(doc, "namespace", sh);
		char *s = cJSON_Print(doc);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(doc);
		free_attachments(a, n);
		return 0;
	}
	if (!n)
		printf("nothing attached in this network namespace\n");
	print_ns();
	for (i = 0; i < n; i++)
		report_print_record(a[i].meta, a[i].dir, link_state(a[i].meta));
	free_attachments(a, n);
	return 0;
}

/* What `status --json` and `stats --json` print, in one document for the
 * exporter: each record with its link state and summed counters, and the
 * namespace's shared state. NULL when the pins cannot be read. */
cJSON *report_json(void)
{
	struct attachment *a;
	cJSON *doc, *arr, *sh;
	int n, i;

	n = list_attachments(&a, NULL);
	if (n < 0)
		return NULL;
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "attachments");
	for (i = 0; i < n; i++) {
		cJSON *m = cJSON_Duplicate(a[i].meta, 1);

		cJSON_AddStringToObject(m, "state", link_state(a[i].meta));
		cJSON_AddItemToObject(m, "counters", counters_json(a[i].cnt));
		cJSON_AddItemToArray(arr, m);
	}
	sh = ns_json();
	if (sh)
		cJSON_AddItemToObject(doc, "namespace", sh);
	free_attachments(a, n);
	return doc;
}

/* --- stats --- */

static cJSON *counters_json(const struct counter_val *c)
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

static void print_counters(const char *title, const struct counter_val *c)
{
	__u64 passed = 0;
	int id;

	for (id = 0; id < CNT_MAX; id++)
		if (counter_is_pass(id))
			passed += c[id].packets;
	printf("%s\n", title);
	printf("  %-22s %14s %16s\n", "counter", "packets", "bytes");
	for (id = 0; id < CNT_MAX; id++) {
		/* Always show the headline counters; other reasons when seen. */
		if (!c[id].packets && id != CNT_REDIRECTED &&
		    id != CNT_DROP_MALFORMED && id != CNT_REDIRECT_ERR)
			continue;
		printf("  %-22s %14llu %16llu\n", counter_names[id],
		       (unsigned long long)c[id].packets,
		       (unsigned long long)c[id].bytes);
	}
	printf("  %-22s %14llu\n", "passed (all)", (unsigned long long)passed);
}

static void add_counters(struct counter_val *sum, const struct counter_val *c)
{
	int id;

	for (id = 0; id < CNT_MAX; id++) {
		sum[id].packets += c[id].packets;
		sum[id].bytes += c[id].bytes;
	}
}

static volatile sig_atomic_t stop_watch;

static void on_signal(int sig)
{
	stop_watch = 1;
}

static int stats_once(const char *only, int json)
{
	struct counter_val total[CNT_MAX] = {};
	struct attachment *a;
	int n, i;

	n = list_attachments(&a, only);
	if (n < 0)
		return 1;
	for (i = 0; i < n; i++)
		add_counters(total, a[i].cnt);
	if (json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON *arr = cJSON_AddArrayToObject(doc, "interfaces");
		char *s;

		for (i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "ifname", mstr(a[i].meta, "ifname"));
			cJSON_AddNumberToObject(o, "ifindex", cJSON_GetNumberValue(
				cJSON_GetObjectItem(a[i].meta, "ifindex")));
			cJSON_AddStringToObject(o, "mode", mstr(a[i].meta, "mode"));
			cJSON_AddItemToObject(o, "counters", counters_json(a[i].cnt));
			cJSON_AddItemToArray(arr, o);
		}
		cJSON_AddItemToObject(doc, "total", counters_json(total));
		if (!only) {
			cJSON *sh = ns_json();

			if (sh) {
				cJSON_AddItemToObject(doc, "uplinks", cJSON_DetachItemFromObject(sh, "uplinks"));
				cJSON_AddItemToObject(doc, "namespace", sh);
			}
		}
		s = cJSON_Print(doc);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(doc);
	} else {
		if (!n)
			printf("nothing attached in this network namespace\n");
		for (i = 0; i < n; i++) {
			char title[128];

			snprintf(title, sizeof(title), "%s (%s mode)",
				 mstr(a[i].meta, "ifname"), mstr(a[i].meta, "mode"));
			print_counters(title, a[i].cnt);
		}
		if (n > 1)
			print_counters("total", total);
		if (!only)
			print_ns();
	}
	free_attachments(a, n);
	return 0;
}

/* Rates per interval: redirected / passed / dropped packets per second. */
static int stats_watch(const char *only, int interval, int count, int json)
{
	struct attachment *prev = NULL, *cur;
	int nprev = 0, n, i, j, k, iter = 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop_watch && (count <= 0 || iter <= count)) {
		n = list_attachments(&cur, only);
		if (n < 0)
			return 1;
		if (prev) {
			time_t now = time(NULL);

			if (!json)
				printf("%-16s %12s %12s %12s %12s\n", "interface",
				       "redir pps", "redir Mbit/s", "pass pps",
				       "drop pps");
			for (i = 0; i < n; i++) {
				struct counter_val *c = cur[i].cnt, *p = NULL;
				double rp, rb, pp = 0, dp;

				for (j = 0; j < nprev; j++)
					if (!strcmp(prev[j].dir, cur[i].dir))
						p = prev[j].cnt;
				if (!p)
					continue;
				rp = (double)(c[CNT_REDIRECTED].packets - p[CNT_REDIRECTED].packets) / interval;
				rb = (double)(c[CNT_REDIRECTED].bytes - p[CNT_REDIRECTED].bytes) * 8 / 1e6 / interval;
				for (k = 0; k < CNT_MAX; k++)
					if (counter_is_pass(k))
						pp += (double)(c[k].packets - p[k].packets) / interval;
				dp = (double)(c[CNT_DROP_MALFORMED].packets -
					      p[CNT_DROP_MALFORMED].packets) / interval;
				if (json)
					printf("{\"time\":%ld,\"ifname\":\"%s\",\"redirected_pps\":%.1f,"
					       "\"redirected_mbps\":%.2f,\"passed_pps\":%.1f,"
					       "\"dropped_pps\":%.1f}\n", (long)now,
					       mstr(cur[i].meta, "ifname"), rp, rb, pp, dp);
				else
					printf("%-16s %12.0f %12.1f %12.0f %12.0f\n",
					       mstr(cur[i].meta, "ifname"), rp, rb, pp, dp);
			}
			fflush(stdout);
			free_attachments(prev, nprev);
		}
		prev = cur;
		nprev = n;
		iter++;
		if (count > 0 && iter > count)
			break;
		for (i = 0; i < interval * 10 && !stop_watch; i++)
			usleep(100000);
	}
	if (prev)
		free_attachments(prev, nprev);
	return 0;
}

int cmd_stats(const struct target_spec *spec, int json, int watch, int count)
{
	char dir[PATH_MAX];
	const char *only = NULL;

	if (spec->ifname || spec->netns || spec->pid || spec->container) {
		if (target_dir(spec, dir, sizeof(dir)))
			return 1;
		only = dir;
	}
	if (watch > 0)
		return stats_watch(only, watch, count, json);
	return stats_once(only, json);
}
