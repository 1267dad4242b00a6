// SPDX-License-Identifier: GPL-2.0
/*
 * The return path's program on each uplink (uplink.h): loaded by the first
 * attachment that uses the uplink, shared by the others, removed when the
 * last one detaches. It shares the namespace's maps (pins.h). Loading,
 * attaching (native where the driver can, see uplink_mode_why()) and
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

/*
 * Why the return path runs in the mode it does. On a veth uplink, native XDP
 * puts its receive side in NAPI mode: every frame its peer sends is copied
 * into an XDP buffer (the skb is cloned or lacks headroom), and what is
 * redirected reaches the container through one more NAPI pass. Measured
 * with 4 TCP streams from a container (the return path carrying the
 * ACKs): 0.6-0.7x the kernel path with native XDP there, 1.0x with
 * generic. A NIC's driver builds its XDP buffers natively instead.
 */
static const char *uplink_mode_why(const struct link_info *up,
				   enum uplink_mode mode, int generic)
{
	if (generic && mode != UPLINK_GENERIC && strcmp(up->kind, "veth"))
		return "the driver refused native XDP";
	if (mode != UPLINK_AUTO)
		return "--uplink-mode";
	if (generic)
		return "a veth uplink: native XDP there would copy every frame "
		       "its peer sends (--uplink-mode native to have it anyway)";
	return "the driver's own XDP: the return path never builds an skb";
}

/* The uplink program is there already: in which mode does it run? */
static void uplink_existing_mode(const char *dir, int *native_out)
{
	char buf[META_SIZE];
	cJSON *m = NULL;

	*native_out = 1;
	if (!meta_read(dir, buf, sizeof(buf)))
		m = cJSON_Parse(buf);
	if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m, "mode")) ?: "",
		    "generic"))
		*native_out = 0;
	cJSON_Delete(m);
}

/* Open and load the uplink program, sharing the namespace's maps (or
 * pinning the ones it created). NULL on error (printed). */
static struct uplink_bpf *uplink_load(const char *ns_dir, const struct link_info *up)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .kconfig = kernel_kconfig_extra());
	struct uplink_bpf *skel = uplink_bpf__open_opts(&oopts);

	if (!skel)
		goto load_fail;
	uplink_rodata_set(skel, up->mac);
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

/* Attach it to up: native first (the return path then never builds an
 * skb), generic where the driver refuses it or *generic asks for it. The
 * link's fd, or -1 (printed). */
static int uplink_link(struct uplink_bpf *skel, const struct link_info *up,
		       int *generic)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	int link_fd;

	lopts.flags = *generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	link_fd = bpf_link_create(bpf_program__fd(skel->progs.xdp_uplink),
				  up->ifindex, BPF_XDP, &lopts);
	if (link_fd < 0 && !*generic) {
		pr_info("  uplink %s: native XDP refused (%s), using generic",
			up->name, strerror(errno));
		*generic = 1;
		lopts.flags = XDP_FLAGS_SKB_MODE;
		link_fd = bpf_link_create(bpf_program__fd(skel->progs.xdp_uplink),
					  up->ifindex, BPF_XDP, &lopts);
	}
	if (link_fd < 0)
		pr_err("cannot attach the return-path program to uplink %s: %s",
		       up->name, strerror(errno));
	return link_fd;
}

/* Its link, its counters and its record in dir. -1 (printed, dir removed)
 * on error. */
static int uplink_pin(const char *dir, int link_fd, struct uplink_bpf *skel,
		      const struct link_info *up, int generic)
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
	bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.xdp_uplink), &info,
			       &info_len);
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "ifname", up->name);
	cJSON_AddNumberToObject(m, "ifindex", up->ifindex);
	cJSON_AddStringToObject(m, "mode", generic ? "generic" : "native");
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
		  enum uplink_mode mode, int *created, int *native_out)
{
	int generic = mode == UPLINK_GENERIC ||
		      (mode == UPLINK_AUTO && !strcmp(up->kind, "veth"));
	struct uplink_bpf *skel;
	char dir[PATH_MAX], name[32];
	int link_fd, ret = -1;
	struct stat st;

	*created = 0;
	snprintf(dir, sizeof(dir), "%s/up%d", ns_dir, up->ifindex);
	if (!stat(dir, &st)) {
		uplink_existing_mode(dir, native_out);
		return 0; /* one uplink program serves every container */
	}
	if (up->xdp_prog_id) {
		pr_err("uplink %s already runs an XDP program (id %u, '%s') that "
		       "xdp-egress did not attach; the return path needs its own "
		       "program there. Remove it (ip link set dev %s xdp off) or "
		       "choose another --uplink", up->name,
		       up->xdp_prog_id, foreign_prog_name(up->xdp_prog_id, name,
							  sizeof(name)), up->name);
		return -1;
	}
	skel = uplink_load(ns_dir, up);
	if (!skel)
		return -1;
	link_fd = uplink_link(skel, up, &generic);
	if (link_fd >= 0 && !uplink_pin(dir, link_fd, skel, up, generic)) {
		pr_info("  return path: XDP on uplink %s (%s mode: %s)", up->name,
			generic ? "generic" : "native",
			uplink_mode_why(up, mode, generic));
		*created = 1;
		*native_out = !generic;
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
