// SPDX-License-Identifier: GPL-2.0
/*
 * The return path's program on each uplink (uplink.h): loaded by the first
 * attachment that uses the uplink, shared by the others, removed when the
 * last one detaches. It shares the namespace's maps (pins.h). Choosing the
 * mode (uplink_mode_pick(), uplink_mode_why()), loading, attaching and
 * pinning with its record are separate steps of uplink_ensure().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "uplink.h"
#include "layout.h"
#include "log.h"
#include "flows.h"
#include "pins.h"
#include "probe.h"
#include "tchook.h"
#include "uplink.skel.h"

static const char *foreign_prog_name(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(buf, len, "?");
	if (fd >= 0) {
		if (!bpf_obj_get_info_by_fd(fd, &info, &info_len))
			snprintf(buf, len, "%s", info.name);
		close(fd);
	}
	return buf;
}

void uplink_rodata_set(struct uplink_bpf *skel, const unsigned char *mac)
{
	int i;

	for (i = 0; i < 6; i++)
		skel->rodata->uplink_mac[i] = mac[i];
	skel->rodata->check_uplink_mac = 1;
	skel->rodata->flows_off = flows_off_by_env();
}

const char *uplink_mode_name(enum uplink_mode m)
{
	return m == UPLINK_TC ? "tc" : m == UPLINK_GENERIC ? "generic" : "native";
}

/*
 * The mode asked for, or auto's choice. On a veth uplink, native XDP puts
 * its receive side in NAPI mode: every frame its peer sends is copied into
 * an XDP buffer (the skb is cloned or lacks headroom), and what is
 * redirected reaches the container through one more NAPI pass (measured
 * with 4 TCP streams from a container, the return path carrying the ACKs:
 * 0.6-0.7x the kernel path). Generic XDP copies every cloned skb (all of
 * TCP) and cannot redirect a GSO super-packet. A tc program takes the skb
 * as it came. A NIC's driver builds its XDP buffers natively instead.
 */
static enum uplink_mode uplink_mode_pick(const struct link_info *up,
					 enum uplink_mode mode, int tcx)
{
	if (mode != UPLINK_AUTO)
		return mode;
	if (strcmp(up->kind, "veth"))
		return UPLINK_NATIVE;
	return tcx ? UPLINK_TC : UPLINK_GENERIC;
}

/* Why the return path runs in the mode it does (runs: after any fallback). */
static const char *uplink_mode_why(const struct link_info *up,
				   enum uplink_mode mode, enum uplink_mode runs)
{
	if (runs == UPLINK_GENERIC && mode != UPLINK_GENERIC &&
	    strcmp(up->kind, "veth"))
		return "the driver refused native XDP";
	if (mode != UPLINK_AUTO)
		return "--uplink-mode";
	if (runs == UPLINK_TC)
		return "a veth uplink: XDP there would copy the frames its peer "
		       "sends, a tc program takes them as they come "
		       "(--uplink-mode native or generic to have XDP anyway)";
	if (runs == UPLINK_GENERIC)
		return "a veth uplink on a kernel without tcx (6.6): native XDP "
		       "there would copy every frame its peer sends "
		       "(--uplink-mode native to have it anyway)";
	return "the driver's own XDP: the return path never builds an skb";
}

enum uplink_mode uplink_recorded_mode(const char *dir)
{
	char buf[META_SIZE];
	const char *mode;
	enum uplink_mode ret = UPLINK_NATIVE;
	cJSON *m = NULL;

	if (!meta_read(dir, buf, sizeof(buf)))
		m = cJSON_Parse(buf);
	mode = cJSON_GetStringValue(cJSON_GetObjectItem(m, "mode")) ?: "";
	if (!strcmp(mode, "generic"))
		ret = UPLINK_GENERIC;
	else if (!strcmp(mode, "tc"))
		ret = UPLINK_TC;
	cJSON_Delete(m);
	return ret;
}

void uplink_autoload_set(struct uplink_bpf *skel, enum uplink_mode runs)
{
	bpf_program__set_autoload(skel->progs.xdp_uplink, runs != UPLINK_TC);
	bpf_program__set_autoload(skel->progs.tc_uplink, runs == UPLINK_TC);
}

struct bpf_program *uplink_prog(struct uplink_bpf *skel, enum uplink_mode runs)
{
	return runs == UPLINK_TC ? skel->progs.tc_uplink : skel->progs.xdp_uplink;
}

/* Open and load the uplink program for runs (only that one of the two:
 * XDP or tc), sharing the namespace's maps (or pinning the ones it
 * created). NULL on error (printed). */
static struct uplink_bpf *uplink_load(const char *ns_dir, const struct link_info *up,
				      enum uplink_mode runs)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .kconfig = kernel_kconfig_extra());
	struct uplink_bpf *skel = uplink_bpf__open_opts(&oopts);

	if (!skel)
		goto load_fail;
	uplink_rodata_set(skel, up->mac);
	uplink_autoload_set(skel, runs);
	if (pins_reuse_shared(skel->obj, ns_dir))
		goto out;
	if (uplink_bpf__load(skel))
		goto load_fail;
	if (pins_pin_shared(skel->obj, ns_dir))
		goto out;
	return skel;
load_fail:
	pr_err("cannot load the uplink (return path) BPF program: %s%s%s "
	       "(-v shows libbpf's log and the verifier's)", strerror(errno),
	       *log_libbpf_last() ? "; libbpf: " : "", log_libbpf_last());
out:
	uplink_bpf__destroy(skel);
	return NULL;
}

/* Attach it to up: a tcx link first in line (other tc programs see what it
 * leaves to the kernel), or XDP: native first (the return path then never
 * builds an skb), generic where the driver refuses it or *runs asks for
 * it. The link's fd, or -1 (printed). */
static int uplink_link(struct uplink_bpf *skel, const struct link_info *up,
		       enum uplink_mode *runs)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	int fd = bpf_program__fd(uplink_prog(skel, *runs)), link_fd;
	struct tc_hook_state st = {};

	if (*runs == UPLINK_TC)
		return tc_hook_attach(up->ifindex, up->name, fd, 0, &st) ? -1
									 : st.link_fd;
	lopts.flags = *runs == UPLINK_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	link_fd = bpf_link_create(fd, up->ifindex, BPF_XDP, &lopts);
	if (link_fd < 0 && *runs == UPLINK_NATIVE) {
		pr_info("  uplink %s: native XDP refused (%s), using generic",
			up->name, strerror(errno));
		*runs = UPLINK_GENERIC;
		lopts.flags = XDP_FLAGS_SKB_MODE;
		link_fd = bpf_link_create(fd, up->ifindex, BPF_XDP, &lopts);
	}
	if (link_fd < 0)
		pr_err("cannot attach the return-path program to uplink %s: %s",
		       up->name, strerror(errno));
	return link_fd;
}

/* Its link, its counters and its record in dir. -1 (printed, dir removed)
 * on error. */
static int uplink_pin(const char *dir, int link_fd, struct uplink_bpf *skel,
		      const struct link_info *up, enum uplink_mode runs)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	char path[PATH_MAX], *js;
	cJSON *m;

	if (mkdir(dir, 0700) && errno != EEXIST)
		goto pin_fail;
	snprintf(path, sizeof(path), "%s/link", dir);
	if (bpf_obj_pin(link_fd, path))
		goto pin_fail;
	snprintf(path, sizeof(path), "%s/ingress_stats", dir);
	if (bpf_obj_pin(bpf_map__fd(skel->maps.ingress_stats), path))
		goto pin_fail;
	bpf_obj_get_info_by_fd(bpf_program__fd(uplink_prog(skel, runs)), &info,
			       &info_len);
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "ifname", up->name);
	cJSON_AddNumberToObject(m, "ifindex", up->ifindex);
	cJSON_AddStringToObject(m, "mode", uplink_mode_name(runs));
	cJSON_AddNumberToObject(m, "prog_id", info.id);
	layout_stamp_record(m);
	js = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	if (js && !meta_write(dir, js)) {
		free(js);
		return 0;
	}
	free(js);
pin_fail:
	pr_err("cannot pin the uplink program under %s: %s", dir, strerror(errno));
	pins_remove_dir(dir);
	return -1;
}

int uplink_ensure(const char *ns_dir, const struct link_info *up,
		  enum uplink_mode mode, int tcx, int *created,
		  enum uplink_mode *runs)
{
	struct uplink_bpf *skel;
	char dir[PATH_MAX], name[32];
	int link_fd, ret = -1;
	struct stat st;

	*created = 0;
	snprintf(dir, sizeof(dir), "%s/up%d", ns_dir, up->ifindex);
	if (!stat(dir, &st)) {
		*runs = uplink_recorded_mode(dir);
		return 0; /* one uplink program serves every container */
	}
	*runs = uplink_mode_pick(up, mode, tcx);
	if (*runs == UPLINK_TC && !tcx) {
		pr_err("--uplink-mode tc needs tc links (tcx, kernel 6.6); this "
		       "kernel has none: use --uplink-mode generic or native");
		return -1;
	}
	if (*runs != UPLINK_TC && up->xdp_prog_id) {
		pr_err("uplink %s already runs an XDP program (id %u, '%s') that "
		       "xdp-egress did not attach; the return path needs its own "
		       "program there. Remove it (ip link set dev %s xdp off) or "
		       "choose another --uplink", up->name,
		       up->xdp_prog_id, foreign_prog_name(up->xdp_prog_id, name,
							  sizeof(name)), up->name);
		return -1;
	}
	skel = uplink_load(ns_dir, up, *runs);
	if (!skel)
		return -1;
	link_fd = uplink_link(skel, up, runs);
	if (link_fd >= 0 && !uplink_pin(dir, link_fd, skel, up, *runs)) {
		pr_info("  return path: %s on uplink %s (%s)",
			*runs == UPLINK_TC ? "tc (tcx)"
			: *runs == UPLINK_GENERIC ? "generic XDP" : "native XDP",
			up->name, uplink_mode_why(up, mode, *runs));
		*created = 1;
		ret = 0;
	}
	if (link_fd >= 0)
		close(link_fd);
	uplink_bpf__destroy(skel);
	return ret;
}

int uplink_remove(const char *ns_dir, int ifindex)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/up%d", ns_dir, ifindex);
	return pins_remove_dir(dir);
}
