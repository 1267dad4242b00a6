// SPDX-License-Identifier: GPL-2.0
/*
 * detach: undo what the attachment's record lists, in the order that
 * keeps traffic safe (the program's links first, then the container map
 * entries and the uplink programs nobody else uses, then the offload
 * changes, handing an uplink peer's fix to an attachment that still needs
 * it), and remove the pins, the record last. Every step can run again, so
 * a detach killed half-way is finished by the next detach or attach. The
 * namespace's shared state (agent, maps, tracepoints, conntrack rule) goes
 * with its last attachment.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>

#include "agent.h"
#include "attach_int.h"
#include "jsonval.h"
#include "kct.h"
#include "log.h"
#include "pins.h"
#include "tchook.h"
#include "uplink.h"

/*
 * The namespace's last attachment is gone: its shared state goes too (the
 * agent, the shared maps, the tracepoints, and the conntrack rule when an
 * attach made it: nft_created here, or recorded in kct_config).
 */
void ns_release_if_unused(const char *ns_dir, int nft_created)
{
	struct kct_config c;
	char dir[PATH_MAX];
	__u32 zero = 0;
	int fd;

	if (pins_ns_in_use(ns_dir))
		return;
	agent_stop(ns_dir);
	fd = pins_open(ns_dir, "kct_config");
	if (fd >= 0 && !bpf_map_lookup_elem(fd, &zero, &c) && c.nft_table_ours)
		nft_created = c.nft_table_ours;
	if (fd >= 0)
		close(fd);
	/* The rule before the pins: kct_config records who made it, so a
	 * kill in between leaves that record for the next release. */
	kct_conntrack_release(nft_created);
	snprintf(dir, sizeof(dir), "%s/errors", ns_dir);
	pins_remove_dir(dir);
	pins_remove_shared(ns_dir);
}

/* Detach the bpf_link pinned at dir/name (if any) and unpin it. */
void link_detach_pin(const char *dir, const char *name)
{
	char lp[PATH_MAX];
	int lfd;

	snprintf(lp, sizeof(lp), "%s/%s", dir, name);
	lfd = bpf_obj_get(lp);
	if (lfd >= 0) {
		bpf_link_detach(lfd);
		close(lfd);
		unlink(lp);
	}
}

/* The return-path programs on the uplinks only this attachment used. */
static void release_uplinks(const char *ns_dir, const char *self_dir, cJSON *m)
{
	cJSON *u;

	cJSON_ArrayForEach(u, cJSON_GetObjectItem(m, "uplinks")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(u, "ifname"));
		int up = (int)json_int(cJSON_GetObjectItem(u, "ifindex"), 0,
				       INT_MAX, 0);

		if (name && !uplink_users(ns_dir, self_dir, name)) {
			uplink_remove(ns_dir, up);
			pr_info("  removed the return-path program from uplink %s",
				name);
		}
	}
}

/* The record in dir, marked "detaching" (NULL when there is none). */
static cJSON *mark_detaching(const char *dir, int verbose)
{
	char buf[META_SIZE], *js;
	cJSON *m = NULL;

	if (!meta_read(dir, buf, sizeof(buf)))
		m = cJSON_Parse(buf);
	if (!m) {
		if (verbose)
			pr_warn("%s has no readable record; removing its pins only", dir);
		return NULL;
	}
	cJSON_ReplaceItemInObject(m, "phase", cJSON_CreateString("detaching"));
	js = cJSON_PrintUnformatted(m);
	if (!js || meta_write(dir, js))
		pr_warn("cannot mark %s as detaching: %s", dir, strerror(errno));
	free(js);
	return m;
}

/*
 * The kernel frees an unpinned link from a workqueue (bpf_link_put()
 * defers), so the program may linger a moment on ifindex. 1 when it is
 * still there after 1 s (printed).
 */
static int wait_prog_gone(cJSON *m, const char *ifname, int ifindex)
{
	__u32 prog_id = (__u32)json_int(cJSON_GetObjectItem(m, "prog_id"), 0,
					UINT32_MAX, 0);
	struct mnl_socket *nl;
	struct link_info li;
	int i;

	if (!prog_id)
		return 0; /* killed before its program was loaded */
	nl = nl_open_in(-1);
	for (i = 0; nl && i < 50; i++) {
		if (nl_link_by_index(nl, ifindex, &li) || strcmp(li.name, ifname) ||
		    li.xdp_prog_id != prog_id)
			break;
		usleep(20000);
	}
	nl_close(nl);
	if (nl && i == 50) {
		pr_err("the program is still attached to %s after 1 s: another "
		       "process holds its link open (bpftool link show)", ifname);
		return 1;
	}
	return 0;
}

/* Undo the record's offload changes, last first; an uplink peer's fix
 * (its role says so) goes to another attachment that uses the uplink. */
static int undo_fixes(const char *ns_dir, const char *dir, cJSON *m, int verbose)
{
	struct fix *fixes = NULL;
	int i, n = fixes_from_json(m, &fixes), ret = n < 0;

	for (i = n - 1; i >= 0; i--) {
		if (fixes[i].role == FIX_UPLINK_PEER &&
		    hand_over_fix(ns_dir, dir, &fixes[i]))
			continue;
		if (fix_undo(&fixes[i], verbose) < 0)
			ret = 1;
	}
	free(fixes);
	return ret;
}

/*
 * Undo what the record in dir lists and remove its pins. Every step can
 * run again: a detach killed half-way leaves the record (state
 * "detaching"), removed last, and the next detach or attach repeats it.
 * *nft_created: the conntrack rule an interrupted attach made, for
 * ns_release_if_unused() (a finished one recorded it in kct_config).
 */
int detach_dir(const char *dir, const char *ns_dir, int verbose,
	       int *nft_created)
{
	char ifname[IF_NAMESIZE] = "?";
	cJSON *m = mark_detaching(dir, verbose);
	int ifindex = 0, ret = 0;

	if (m) {
		snprintf(ifname, sizeof(ifname), "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname")) ?: "?");
		ifindex = (int)json_int(cJSON_GetObjectItem(m, "ifindex"), 0,
					INT_MAX, 0);
		*nft_created = (int)json_int(cJSON_GetObjectItem(m, "nft_created"),
					     0, KCT_NFT_MADE_CHAIN, 0);
	}
	if (verbose)
		pr_info("detaching xdp-egress from %s", ifname);
	/* Detach the links themselves first (auto mode's native XDP link, then
	 * the main one), so that no packet meets restored offloads while the
	 * program still runs: unpinning alone lets the kernel free them later
	 * from a workqueue (bpf_link_put() defers). The flows it carried go on
	 * through the kernel, whose conntrack entries they always were. */
	link_detach_pin(dir, "xdp_link");
	link_detach_pin(dir, "link");
	if (m && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m, "tc_hook")) ?: "",
			 "clsact"))
		tc_hook_detach_clsact(ifindex, cJSON_IsTrue(cJSON_GetObjectItem(
						       m, "clsact_created")));
	if (m) {
		/* No more replies into this veth. */
		del_containers(ns_dir, ifindex, cJSON_GetObjectItem(m, "sources"));
		release_uplinks(ns_dir, dir, m);
		if (ifindex && wait_prog_gone(m, ifname, ifindex))
			ret = 1;
		if (undo_fixes(ns_dir, dir, m, verbose))
			ret = 1;
	}
	/* The record goes last (pins_remove_dir removes meta last). */
	if (pins_remove_dir(dir)) {
		pr_err("cannot remove the pins under %s: %s", dir, strerror(errno));
		ret = 1;
	}
	cJSON_Delete(m);
	return ret;
}

/* Detach dir, then release the namespace's shared state if it was the
 * last attachment. */
static int detach_release(const char *dir, const char *ns_dir, const char *root)
{
	int nft = 0, ret = detach_dir(dir, ns_dir, 1, &nft);

	ns_release_if_unused(ns_dir, nft);
	pins_prune(ns_dir, root);
	return ret;
}

/* detach --all: every attachment of this host namespace. */
static int detach_all(const char *ns_dir, const char *root)
{
	char dir[PATH_MAX];
	DIR *d = opendir(ns_dir);
	struct dirent *de;
	int ret = 0, nft = 0, count = 0, one;

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "if", 2))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", ns_dir, de->d_name);
		one = 0;
		ret |= detach_dir(dir, ns_dir, 1, &one);
		nft = nft ?: one;
		count++;
	}
	if (d)
		closedir(d);
	if (!count)
		pr_info("nothing attached in this network namespace");
	ns_release_if_unused(ns_dir, nft);
	pins_prune(ns_dir, root);
	return ret;
}

static int detach_locked(const struct target_spec *spec, int all)
{
	char root[PATH_MAX], ns_dir[PATH_MAX], dir[PATH_MAX];
	struct target t;
	struct stat st;

	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(ns_dir, sizeof(ns_dir), root))
		return 1;
	if (all)
		return detach_all(ns_dir, root);
	/* A device that is gone (container removed) is found by its record,
	 * without calling its absence an error. */
	if (spec->ifname && !find_dir_by_ifname(ns_dir, spec->ifname, dir, sizeof(dir))) {
		struct mnl_socket *nl = nl_open_in(-1);
		struct link_info li;
		int gone = nl && nl_link_by_name(nl, spec->ifname, &li) && errno == ENODEV;

		nl_close(nl);
		if (gone) {
			pr_info("(%s is gone; removing what was left of its attachment)",
				spec->ifname);
			return detach_release(dir, ns_dir, root);
		}
	}
	if (target_resolve(spec, &t)) {
		/* The device may be gone (container removed): find it by name. */
		if (spec->ifname &&
		    !find_dir_by_ifname(ns_dir, spec->ifname, dir, sizeof(dir))) {
			pr_info("(%s is gone; removing what was left of its attachment)",
				spec->ifname);
			return detach_release(dir, ns_dir, root);
		}
		ns_release_if_unused(ns_dir, 0);
		pins_prune(ns_dir, root);
		return 1;
	}
	pins_attach_dir(dir, sizeof(dir), ns_dir, t.host.ifindex);
	if (stat(dir, &st) && spec->ifname &&
	    !find_dir_by_ifname(ns_dir, spec->ifname, dir, sizeof(dir))) {
		/* The name was reused (podman's veth0, veth1...): the record is
		 * of a device that is gone, and this one is a newcomer. */
		pr_info("(%s is a new device; removing what was left of the "
			"attachment of the previous %s)", spec->ifname, spec->ifname);
		target_release(&t);
		return detach_release(dir, ns_dir, root);
	}
	if (stat(dir, &st)) {
		pr_err("%s is not attached (no pins in %s); `xdp-egress status` "
		       "lists what is", t.host.name, dir);
		target_release(&t);
		ns_release_if_unused(ns_dir, 0);
		pins_prune(ns_dir, root);
		return 1;
	}
	target_release(&t);
	return detach_release(dir, ns_dir, root);
}

static int detach_fn(const void *arg, int all)
{
	return detach_locked(arg, all);
}

int cmd_detach(const struct target_spec *spec, int all)
{
	return with_lock(detach_fn, spec, all);
}
