// SPDX-License-Identifier: GPL-2.0
/*
 * The attachments of this host namespace as status, stats, top, flows and
 * the exporter read them (report.h): every pinned record with its summed
 * counters, whether its program still runs on its device, and the pin
 * folder of a TARGET.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>

#include "report.h"
#include "jsonval.h"
#include "log.h"
#include "layout.h"
#include "nl.h"
#include "pins.h"
#include "probe.h"
#include "target.h"
#include "tchook.h"
#include "xdp_egress.h"

#define MAX_ATTACH 1024

const char *report_str(cJSON *m, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(m, k)) ?: "?";
}

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

/* Is the recorded program (prog) still the one on the device li
 * (ifindex)? */
static int prog_still_there(cJSON *m, const struct link_info *li,
			    int ifindex, __u32 prog)
{
	const char *mode = report_str(m, "mode");

	if (strcmp(mode, "tc") && strcmp(mode, "auto"))
		return li->xdp_prog_id == prog;
	if (!strcmp(report_str(m, "tc_hook"), "clsact"))
		return tc_hook_clsact_prog(ifindex) == prog;
	return tcx_has_prog(ifindex, prog);
}

const char *attachment_state(cJSON *m)
{
	struct mnl_socket *nl;
	struct link_info li;
	const char *st = "attached";
	int ifindex = (int)json_int(cJSON_GetObjectItem(m, "ifindex"), 0, INT_MAX, 0);
	__u32 prog = (__u32)json_int(cJSON_GetObjectItem(m, "prog_id"), 0,
				     UINT32_MAX, 0);
	const char *phase = report_str(m, "phase");

	if (!strcmp(phase, "attaching"))
		return "interrupted attach (killed before it finished): "
		       "detach, or attach again, restores what it changed";
	if (!strcmp(phase, "detaching"))
		return "interrupted detach (killed before it finished): "
		       "detach again to finish it";
	nl = nl_open_in(-1);
	if (!nl)
		return "unknown";
	if (nl_link_by_index(nl, ifindex, &li) ||
	    strcmp(li.name, report_str(m, "ifname")))
		st = "interface gone (run detach to clean up)";
	else if (!prog_still_there(m, &li, ifindex, prog))
		st = "program replaced or removed by someone else";
	nl_close(nl);
	return st;
}

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
