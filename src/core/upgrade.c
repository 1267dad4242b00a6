// SPDX-License-Identifier: GPL-2.0
/*
 * upgrade (upgrade.h): the live attachments of this host namespace move to
 * this binary's programs without losing a packet or any state.
 *
 * Two phases, so that nothing changes unless everything can:
 * 1. prepare: for every attachment and uplink concerned, load this binary's
 *    program over the very maps that are pinned (bpf_map__reuse_fd), after
 *    checking that each pinned map has the shape this binary's programs
 *    expect. A map that differs, a device that is gone, a program the
 *    verifier refuses: refuse, with nothing changed.
 * 2. swap: replace each program where it is attached, atomically:
 *    bpf_link_update() on XDP and tcx links (the link, its id and its place
 *    among other programs stay), and for a clsact filter bpf_tc_attach()
 *    with BPF_TC_F_REPLACE on the same handle and priority (cls_bpf swaps
 *    the program under RCU). Every packet meets either the old program or
 *    the new one, and both use the same maps: counters, the shared
 *    conntrack settings, promotion state and the container tables stay.
 * Then each record gets its new program id, layout and build, and the
 * agent is restarted from this binary: it must not run old code.
 */
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "agent.h"
#include "attach.h"
#include "layout.h"
#include "lock.h"
#include "log.h"
#include "netns.h"
#include "nl.h"
#include "pins.h"
#include "probe.h"
#include "tchook.h"
#include "upgrade.h"
#include "uplink.h"
#include "xdp_egress.h"
#include "egress.skel.h"
#include "uplink.skel.h"

/* ---- which programs this binary carries ---- */

static void fnv1a(__u64 *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		*h ^= p[i];
		*h *= 0x100000001b3ULL;
	}
}

const char *xe_build_id(void)
{
	static char id[17];
	__u64 h = 0xcbf29ce484222325ULL;
	const void *b;
	size_t len;

	if (id[0])
		return id;
	b = egress_bpf__elf_bytes(&len);
	fnv1a(&h, b, len);
	b = uplink_bpf__elf_bytes(&len);
	fnv1a(&h, b, len);
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)h);
	return id;
}

/* ---- phase 1: load this binary's programs over the pinned maps ---- */

struct item {
	char dir[PATH_MAX];
	char what[64];            /* "vc1 (tc mode)", "uplink up0" */
	cJSON *m;
	int uplink;               /* an up<IFINDEX> folder */
	int ifindex;
	struct egress_bpf *eg;
	struct uplink_bpf *ul;
	enum uplink_mode ul_runs; /* XDP or tc: the program to load */
	__u32 old_prog, new_prog;
};

#define MAX_ITEMS 1024

static const char *rstr(const cJSON *m, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(m, key)) ?: "";
}

static const char *map_type_name(enum bpf_map_type t)
{
	return libbpf_bpf_map_type_str(t) ?: "?";
}

/*
 * obj's map `name` takes the map pinned at dir/pin, provided the pinned one
 * has the shape this binary's programs expect; libbpf would otherwise hand
 * the verifier a map of another layout (a verifier error, at best).
 */
static int reuse_checked(struct bpf_object *obj, const char *name,
			 const char *dir, const char *pin, const char *what)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), flags;
	char path[PATH_MAX];
	int fd, ret = -1;

	if (!m)
		return 0;
	/* The kernel makes devmaps read-only to programs by itself
	 * (dev_map_alloc_check(), kernel/bpf/devmap.c), as libbpf knows. */
	flags = bpf_map__map_flags(m);
	if (bpf_map__type(m) == BPF_MAP_TYPE_DEVMAP ||
	    bpf_map__type(m) == BPF_MAP_TYPE_DEVMAP_HASH)
		flags |= BPF_F_RDONLY_PROG;
	snprintf(path, sizeof(path), "%s/%s", dir, pin);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0; /* not pinned: the program gets a fresh one */
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		pr_err("cannot upgrade %s: cannot read the pinned map %s: %s",
		       what, path, strerror(errno));
		goto out;
	}
	if (info.type != bpf_map__type(m) ||
	    info.key_size != bpf_map__key_size(m) ||
	    info.value_size != bpf_map__value_size(m) ||
	    info.max_entries != bpf_map__max_entries(m) ||
	    info.map_flags != flags) {
		pr_err("cannot upgrade %s: the pinned map %s is a %s of key %u, "
		       "value %u bytes, %u entries, flags %#x, but this xdp-egress "
		       "(layout %d, build %s) uses a %s of key %u, value %u bytes, "
		       "%u entries, flags %#x, and has no migration for it. Nothing "
		       "was changed. Detach with the xdp-egress that attached it "
		       "(`xdp-egress detach --all`), then attach with this one",
		       what, path, map_type_name(info.type), info.key_size,
		       info.value_size, info.max_entries, info.map_flags,
		       XE_LAYOUT_VERSION, xe_build_id(),
		       map_type_name(bpf_map__type(m)), bpf_map__key_size(m),
		       bpf_map__value_size(m), bpf_map__max_entries(m), flags);
		goto out;
	}
	if (bpf_map__reuse_fd(m, fd)) {
		pr_err("cannot upgrade %s: cannot use the pinned map %s: %s", what,
		       path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static int reuse_shared(struct bpf_object *obj, const char *ns_dir,
			const char *what)
{
	static const char *const shared[] = SHARED_MAP_NAMES;
	size_t i;

	for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		if (reuse_checked(obj, shared[i], ns_dir, shared[i], what))
			return -1;
	return 0;
}

/* The record's device must still be the one attached to. */
static int device_of(struct mnl_socket *nl, struct item *it, const char *ifname,
		     struct link_info *li)
{
	if (nl_link_by_index(nl, it->ifindex, li) || strcmp(li->name, ifname)) {
		pr_err("cannot upgrade %s: its device (ifindex %d) is gone or "
		       "renamed; nothing was changed. Detach what is left of it "
		       "(`xdp-egress detach --ifname %s`), then upgrade",
		       it->what, it->ifindex, ifname);
		return -1;
	}
	return 0;
}

static int load_failed(const char *what)
{
	pr_err("cannot upgrade %s: this xdp-egress's program does not load: "
	       "%s%s%s; nothing was changed (-v shows the verifier's log)", what,
	       strerror(errno), *log_libbpf_last() ? "; libbpf: " : "",
	       log_libbpf_last());
	return -1;
}

/* The uplinks the record of an attachment names (the program's tx_ports). */
static int record_uplinks(const struct item *it, int *ifindex,
			  const char **names, int *n)
{
	const cJSON *u;

	*n = 0;
	cJSON_ArrayForEach(u, cJSON_GetObjectItem(it->m, "uplinks")) {
		double v = cJSON_GetNumberValue(cJSON_GetObjectItem(u, "ifindex"));

		if (*n == MAX_UPLINKS || !(v >= 1 && v <= 0x7fffffff)) {
			pr_err("cannot upgrade %s: its record's uplink #%d is %s; "
			       "nothing was changed. Detach it and attach again",
			       it->what, *n + 1, *n == MAX_UPLINKS ?
			       "one too many" : "without a valid ifindex");
			return -1;
		}
		names[*n] = cJSON_GetStringValue(cJSON_GetObjectItem(u, "ifname")) ?: "?";
		ifindex[(*n)++] = (int)v;
	}
	return 0;
}

/* The egress program of one attachment, configured as attach did
 * (load_egress() in attach.c) from what its record says. */
static int prepare_egress(struct mnl_socket *nl, const char *ns_dir,
			  struct item *it)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .kconfig = kernel_kconfig_extra());
	const char *ifname = rstr(it->m, "ifname"), *l3 = rstr(it->m, "l3_ifname");
	const char *smac = rstr(it->m, "source_mac");
	const char *up_names[MAX_UPLINKS];
	int up_ifindex[MAX_UPLINKS], n_up;
	struct link_info li, l3li;
	struct egress_bpf *s;
	unsigned char mac[6] = {};

	if (device_of(nl, it, ifname, &li))
		return -1;
	l3li = li;
	if (*l3 && strcmp(l3, ifname) && nl_link_by_name(nl, l3, &l3li)) {
		pr_err("cannot upgrade %s: the device it is routed as, %s, is "
		       "gone; nothing was changed. Detach it and attach again",
		       it->what, l3);
		return -1;
	}
	if (*smac && mac_parse(smac, mac)) {
		pr_err("cannot upgrade %s: its record's source_mac '%s' is no MAC; "
		       "nothing was changed. Detach it and attach again", it->what,
		       smac);
		return -1;
	}
	if (record_uplinks(it, up_ifindex, up_names, &n_up))
		return -1;
	s = it->eg = egress_bpf__open_opts(&oopts);
	if (!s)
		return load_failed(it->what);
	egress_rodata_set(s, l3li.ifindex != li.ifindex ? l3li.ifindex : 0,
			  l3li.mac, *smac ? mac : NULL,
			  !strcmp(rstr(it->m, "mode"), "auto"));
	/* tx_ports is the program's own, filled from the record's uplinks
	 * (swap_egress() repins it): a pinned one is never reused, so its
	 * type may change from one build to the next. */
	if (reuse_shared(s->obj, ns_dir, it->what) ||
	    reuse_checked(s->obj, "egress_stats", it->dir, "egress_stats", it->what) ||
	    reuse_checked(s->obj, "own_sources", it->dir, "own_sources", it->what))
		return -1;
	if (egress_bpf__load(s))
		return load_failed(it->what);
	if (egress_tx_ports_fill(s, up_ifindex, up_names, n_up)) {
		pr_err("cannot upgrade %s: nothing was changed. Detach it and "
		       "attach again with the uplinks it has now", it->what);
		return -1;
	}
	/* Shared maps this build added (layout 3: flows, flow_events): pinned
	 * now, so that every program prepared after this one shares them. */
	return pins_pin_shared(s->obj, ns_dir);
}

/* The return-path program of one uplink (uplink_ensure() in uplink.c). */
static int prepare_uplink(struct mnl_socket *nl, const char *ns_dir,
			  struct item *it)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .kconfig = kernel_kconfig_extra());
	struct link_info li;
	struct uplink_bpf *s;

	if (device_of(nl, it, rstr(it->m, "ifname"), &li))
		return -1;
	s = it->ul = uplink_bpf__open_opts(&oopts);
	if (!s)
		return load_failed(it->what);
	uplink_rodata_set(s, li.mac);
	it->ul_runs = uplink_recorded_mode(it->dir);
	uplink_autoload_set(s, it->ul_runs);
	if (reuse_shared(s->obj, ns_dir, it->what) ||
	    reuse_checked(s->obj, "ingress_stats", it->dir, "ingress_stats", it->what))
		return -1;
	if (uplink_bpf__load(s))
		return load_failed(it->what);
	return pins_pin_shared(s->obj, ns_dir);
}

/* ---- phase 2: swap ---- */

static __u32 prog_id_of(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* The link pinned at dir/name runs prog_fd from now on. 1: no such pin. */
static int link_swap(const char *dir, const char *name, int prog_fd,
		     const char *what)
{
	char path[PATH_MAX];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 1;
	ret = bpf_link_update(fd, prog_fd, NULL);
	if (ret)
		pr_err("upgrade %s: bpf_link_update on %s failed: %s; the old "
		       "program still runs there", what, path, strerror(errno));
	close(fd);
	return ret ? -1 : 0;
}

/* The program pinned at dir/name (for auto mode's switch, for status) is
 * prog_fd now. */
static int repin(const char *dir, const char *name, int prog_fd)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	if (bpf_obj_pin(prog_fd, path)) {
		pr_err("cannot pin %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int clsact_swap(struct item *it, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = it->ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = XE_TC_HANDLE,
		    .priority = XE_TC_PRIORITY, .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_attach(&hook, &opts);

	if (err) {
		pr_err("upgrade %s: replacing the clsact filter (handle %#x, "
		       "priority %d) failed: %s; the old program still runs there",
		       it->what, XE_TC_HANDLE, XE_TC_PRIORITY, strerror(-err));
		return -1;
	}
	return repin(it->dir, "tc_prog", prog_fd);
}

static int swap_egress(struct item *it)
{
	const char *mode = rstr(it->m, "mode");
	int tc = !strcmp(mode, "tc") || !strcmp(mode, "auto");
	int xdp_fd = bpf_program__fd(it->eg->progs.xdp_egress);
	int tc_fd = bpf_program__fd(it->eg->progs.tc_egress);
	int main_fd = tc ? tc_fd : xdp_fd, rc;

	if (tc && !strcmp(rstr(it->m, "tc_hook"), "clsact"))
		rc = clsact_swap(it, tc_fd);
	else
		rc = link_swap(it->dir, "link", main_fd, it->what);
	if (rc) {
		if (rc == 1)
			pr_err("upgrade %s: %s/link is missing; the old program "
			       "still runs", it->what, it->dir);
		return -1;
	}
	it->new_prog = prog_id_of(main_fd);
	/* The pin shows the devmap the program runs with (bpftool); the
	 * program holds it either way, so a failure here is only printed. */
	repin(it->dir, "tx_ports", bpf_map__fd(it->eg->maps.tx_ports));
	if (!strcmp(mode, "auto")) {
		/* The native XDP program the tuner puts in front, and the one
		 * in front now if it is. */
		if (repin(it->dir, "xdp_prog", xdp_fd) ||
		    link_swap(it->dir, "xdp_link", xdp_fd, it->what) < 0)
			return -1;
	}
	return 0;
}

static int swap_uplink(struct item *it)
{
	int fd = bpf_program__fd(uplink_prog(it->ul, it->ul_runs));

	if (link_swap(it->dir, "link", fd, it->what))
		return -1;
	it->new_prog = prog_id_of(fd);
	return 0;
}

static int record_update(struct item *it)
{
	char *js;
	int ret;

	cJSON_DeleteItemFromObject(it->m, "prog_id");
	cJSON_AddNumberToObject(it->m, "prog_id", it->new_prog);
	cJSON_DeleteItemFromObject(it->m, "upgraded_at");
	cJSON_AddNumberToObject(it->m, "upgraded_at", (double)time(NULL));
	layout_stamp_record(it->m);
	js = cJSON_PrintUnformatted(it->m);
	ret = js ? meta_write(it->dir, js) : -1;
	if (ret)
		pr_err("upgrade %s: cannot update the record %s/meta: %s", it->what,
		       it->dir, strerror(errno));
	free(js);
	return ret;
}

/* ---- which attachments ---- */

struct plan {
	struct item *items;
	int n;
	int only_ifindex;          /* 0: every attachment */
	int uplinks[MAX_UPLINKS];  /* only these (the target's), when only_ifindex */
	int n_uplinks;
	int current;               /* records that run this build already */
};

static int add_item(struct plan *p, const char *dir, cJSON *m, int uplink)
{
	const char *phase = rstr(m, "phase");
	struct item *it;

	/* An attach or detach that was cut short: its record says what to
	 * finish or undo, not what runs. */
	if (!uplink && *phase && strcmp(phase, "attached")) {
		pr_err("cannot upgrade %s: its %s was interrupted (the record says "
		       "'%s'); nothing was changed. Finish it first: `xdp-egress "
		       "detach --ifname %s` (or attach it again), then upgrade",
		       rstr(m, "ifname"), strstr(phase, "detach") ? "detach" : "attach",
		       phase, rstr(m, "ifname"));
		return -1;
	}

	if (layout_of_record(m) == XE_LAYOUT_VERSION &&
	    !strcmp(rstr(m, "build"), xe_build_id())) {
		p->current++;
		return 0;
	}
	if (p->n == MAX_ITEMS) {
		pr_err("upgrade: more than %d attachments and uplinks", MAX_ITEMS);
		return -1;
	}
	it = &p->items[p->n++];
	memset(it, 0, sizeof(*it));
	snprintf(it->dir, sizeof(it->dir), "%s", dir);
	it->m = cJSON_Duplicate(m, 1);
	it->uplink = uplink;
	it->ifindex = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "ifindex"));
	it->old_prog = (__u32)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "prog_id"));
	if (uplink)
		snprintf(it->what, sizeof(it->what), "uplink %s", rstr(m, "ifname"));
	else
		snprintf(it->what, sizeof(it->what), "%s (%s mode)",
			 rstr(m, "ifname"), rstr(m, "mode"));
	return 0;
}

static int collect_attachment(const char *dir, cJSON *m, void *arg)
{
	struct plan *p = arg;
	cJSON *u;

	if (p->only_ifindex &&
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "ifindex")) != p->only_ifindex)
		return 0;
	cJSON_ArrayForEach(u, cJSON_GetObjectItem(m, "uplinks"))
		if (p->n_uplinks < MAX_UPLINKS)
			p->uplinks[p->n_uplinks++] =
				(int)cJSON_GetNumberValue(cJSON_GetObjectItem(u, "ifindex"));
	return add_item(p, dir, m, 0) ? -1 : 0;
}

static int collect_uplinks(struct plan *p, const char *ns_dir)
{
	DIR *d = opendir(ns_dir);
	struct dirent *de;
	int ret = 0, i, ifindex, wanted;

	while (!ret && d && (de = readdir(d))) {
		char dir[PATH_MAX], buf[META_SIZE];
		cJSON *m;

		if (sscanf(de->d_name, "up%d", &ifindex) != 1)
			continue;
		wanted = !p->only_ifindex;
		for (i = 0; i < p->n_uplinks; i++)
			wanted |= p->uplinks[i] == ifindex;
		snprintf(dir, sizeof(dir), "%s/%s", ns_dir, de->d_name);
		if (!wanted || meta_read(dir, buf, sizeof(buf)) ||
		    !(m = cJSON_Parse(buf)))
			continue;
		ret = add_item(p, dir, m, 1);
		cJSON_Delete(m);
	}
	if (d)
		closedir(d);
	return ret;
}

static void plan_free(struct plan *p)
{
	int i;

	for (i = 0; i < p->n; i++) {
		egress_bpf__destroy(p->items[i].eg);
		uplink_bpf__destroy(p->items[i].ul);
		cJSON_Delete(p->items[i].m);
	}
	free(p->items);
}

static int upgrade_locked(const char *root, const struct target_spec *spec,
			  int all)
{
	struct plan p = {};
	struct mnl_socket *nl = NULL;
	char ns_dir[PATH_MAX];
	struct target t;
	struct stat st;
	int i, ret = 1, failed = 0;

	if (pins_ns_dir_self(ns_dir, sizeof(ns_dir), root))
		return 1;
	if (stat(ns_dir, &st)) {
		pr_info("nothing attached in this network namespace");
		return all ? 0 : 1;
	}
	if (!all) {
		if (target_resolve(spec, &t))
			return 1;
		p.only_ifindex = t.host.ifindex;
		target_release(&t);
	}
	p.items = calloc(MAX_ITEMS, sizeof(*p.items));
	nl = nl_open_in(-1);
	if (!p.items || !nl) {
		pr_err("upgrade: out of memory or no netlink socket: %s",
		       strerror(errno));
		goto out;
	}
	if (pins_foreach_record(ns_dir, collect_attachment, &p) ||
	    collect_uplinks(&p, ns_dir))
		goto out;
	if (!all && !p.n && !p.current) {
		pr_err("%s is not attached; `xdp-egress status` lists what is",
		       target_spec_str(spec));
		goto out;
	}
	/* Phase 1: everything loads, or nothing changes. */
	for (i = 0; i < p.n; i++) {
		struct item *it = &p.items[i];

		if (it->uplink ? prepare_uplink(nl, ns_dir, it)
			       : prepare_egress(nl, ns_dir, it))
			goto out;
	}
	/* Phase 2: the uplinks first, then the attachments (either order
	 * works: every program pair shares the same maps). */
	for (i = 0; i < p.n; i++) {
		struct item *it = &p.items[i];

		if (it->uplink ? swap_uplink(it) : swap_egress(it)) {
			failed++;
			continue;
		}
		if (record_update(it))
			failed++;
		pr_info("upgraded %s: program %u -> %u, its counters, shared maps and link kept",
			it->what, it->old_prog, it->new_prog);
	}
	if (p.current)
		pr_info("%d attachment(s) and uplink(s) already run this build (%s)",
			p.current, xe_build_id());
	/* The agent runs this binary's code from now on. */
	if (p.n && pins_ns_in_use(ns_dir)) {
		agent_stop(ns_dir);
		agent_ensure(ns_dir);
	}
	if (failed)
		pr_err("upgrade: %d of %d failed (see above); what was upgraded "
		       "runs this build, the rest the old one: try `xdp-egress "
		       "upgrade` again", failed, p.n);
	ret = failed ? 1 : 0;
out:
	nl_close(nl);
	plan_free(&p);
	return ret;
}

int cmd_upgrade(const struct target_spec *spec, int all)
{
	char root[PATH_MAX];
	sigset_t old;
	int ret;

	if (pins_root(root, sizeof(root)) || lock_take_for_changes(LOCK_WAIT_S, &old))
		return 1;
	/* Older pins are migrated first (programs follow right after). */
	ret = layout_check(root, LAYOUT_UPGRADE) ? 1 : upgrade_locked(root, spec, all);
	lock_release_changes(&old);
	return ret;
}
