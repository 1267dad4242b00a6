// SPDX-License-Identifier: GPL-2.0
/*
 * attach: resolve the target, learn the container's own addresses, choose
 * the data path, fix the kernel traps of DESIGN.md (checksum offload, TSO,
 * NAPI on a veth), load the egress program with the namespace's shared maps
 * (and the return-path program on each uplink), attach through a pinned
 * bpf_link and record every change in the attachment's meta map, so that
 * detach can undo exactly what attach did. Any failure rolls back every
 * step already taken: an interface is never left half-attached. This file
 * runs those steps in order (attach_int.h lists the files that make them)
 * and holds the lock every change to the pins runs under.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cjson/cJSON.h>

#include "agent.h"
#include "attach_int.h"
#include "kct.h"
#include "layout.h"
#include "lock.h"
#include "log.h"
#include "pins.h"
#include "egress.skel.h"

/* A failed attach: undo what its record lists, as detach would. */
static void rollback(struct attach_state *s)
{
	int nft = s->nft_created;

	if (s->link_fd >= 0)
		close(s->link_fd); /* unpinned: closing detaches the program */
	s->link_fd = -1;
	if (s->dir[0])
		detach_dir(s->dir, s->ns_dir, 0, &nft);
	if (s->ns_dir[0]) {
		ns_release_if_unused(s->ns_dir, nft);
		pins_prune(s->ns_dir, s->root);
	}
}

/*
 * s->dir exists. A record in state "attaching" or "detaching" (or none)
 * is what a killed attach or detach left: undo it now and return 0, so
 * this attach can go on. 1 when the device is attached (an error).
 */
static int finish_interrupted(struct attach_state *s)
{
	char buf[META_SIZE];
	const char *state = NULL;
	cJSON *m = NULL;
	int nft = 0;

	if (!meta_read(s->dir, buf, sizeof(buf)))
		m = cJSON_Parse(buf);
	if (m)
		state = cJSON_GetStringValue(cJSON_GetObjectItem(m, "phase"));
	if (m && (!state || !strcmp(state, "attached"))) {
		cJSON_Delete(m);
		return 1;
	}
	pr_info("%s: an earlier %s was interrupted; restoring what it changed "
		"first", s->t.host.name,
		state && !strcmp(state, "detaching") ? "detach" : "attach");
	cJSON_Delete(m);
	detach_dir(s->dir, s->ns_dir, 1, &nft);
	ns_release_if_unused(s->ns_dir, nft);
	return 0;
}

/*
 * Where the attachment's pins go, and whether the device is free: an
 * interrupted attach or detach there is finished first. 0 to go on; -1
 * when refused (printed); -2 when the device is gone (s->t released).
 */
static int attach_place(struct attach_state *s, const struct attach_opts *o)
{
	struct stat st;

	if (pins_root(s->root, sizeof(s->root)))
		return -1;
	pins_ns_dir(s->ns_dir, sizeof(s->ns_dir), s->root, s->t.host_netns_cookie);
	pins_attach_dir(s->dir, sizeof(s->dir), s->ns_dir, s->t.host.ifindex);
	if (!stat(s->dir, &st) && !finish_interrupted(s)) {
		/* What it left is gone: read the device again. */
		target_release(&s->t);
		if (target_resolve(&o->spec, &s->t))
			return -2;
	}
	if (!stat(s->dir, &st)) {
		pr_err("%s is already attached (pins in %s); see `xdp-egress "
		       "status`, or detach first with `xdp-egress detach "
		       "--ifname %s`", s->t.host.name, s->dir, s->t.host.name);
		s->dir[0] = 0; /* not ours to remove */
		return -1;
	}
	if (s->t.host.xdp_prog_id && o->mode != MODE_TC) {
		pr_err("%s already has an XDP program (id %u) that xdp-egress did "
		       "not attach; remove it (ip link set dev %s xdp off) or "
		       "choose another interface", s->t.host.name,
		       s->t.host.xdp_prog_id, s->t.host.name);
		s->dir[0] = 0;
		return -1;
	}
	return 0;
}

/* Everything decided before the first change, then the attachment's
 * folder. On error nothing has changed; the folder is not ours. */
static int attach_plan(struct attach_state *s, const struct attach_opts *o)
{
	if (choose_mode(s, o->mode) || resolve_uplinks(s, o) ||
	    learn_sources(s, o) || find_l3_device(s))
		return -1;
	if (mkdir(s->ns_dir, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %s", s->ns_dir, strerror(errno));
		return -1;
	}
	/* The record comes first, and grows before each change it lists. */
	if (mkdir(s->dir, 0700)) {
		pr_err("cannot create %s: %s", s->dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The changes, each recorded before it is made. On error the record lists
 * what rollback() undoes. */
static int attach_changes(struct attach_state *s, const struct attach_opts *o)
{
	s->phase = "attaching";
	s->nft_created = kct_conntrack_needed();
	if (journal(s))
		return -1;
	if (kct_conntrack_ensure(&s->nft_created) || journal(s))
		return -1;
	kernel_caps_probe(&s->caps);
	if (kernel_caps_require(&s->caps) || choose_tc_hook(s, o->tc_hook))
		return -1;
	if (load_egress(s) || ensure_uplinks(s) || apply_fixes(s) ||
	    add_containers(s) || load_and_attach(s))
		return -1;
	s->phase = "attached";
	return journal(s);
}

/* What attach did, for the operator. */
static void report_attached(const struct attach_state *s)
{
	char buf[INET6_ADDRSTRLEN + 8];
	int i;

	pr_info("attached xdp-egress to %s (ifindex %d) in %s mode: %s",
		s->t.host.name, s->t.host.ifindex, mode_name(s),
		s->mode_reason);
	if (s->t.has_container)
		pr_info("  container side: %s (netns inode %lu)",
			s->t.container.name, s->t.container_netns_ino);
	for (i = 0; i < s->n_sources; i++)
		pr_info("  source: %s (its packets take the fast path once the "
			"kernel has accepted their flow)",
			source_str(&s->sources[i], buf, sizeof(buf)));
	for (i = 0; i < s->n_uplinks; i++)
		pr_info("  uplink: %s (ifindex %d)", s->uplinks[i].name,
			s->uplinks[i].ifindex);
	for (i = 0; i < s->n_fixes; i++)
		pr_info("  changed: %s of %s %s (%s); detach restores it",
			offload_names[s->fixes[i].offload], s->fixes[i].ifname,
			s->fixes[i].now ? "on" : "off", s->fixes[i].why);
	if (s->nft_created)
		pr_info("  changed: connection tracking now runs in this namespace "
			"(nftables chain inet %s conntrack); the last detach removes it",
			KCT_NFT_TABLE);
	pr_info("  pins: %s", s->dir);
}

static int attach_locked(const struct attach_opts *o)
{
	struct attach_state *s = calloc(1, sizeof(*s));
	int ret = 1, rc;

	if (!s)
		return 1;
	s->link_fd = -1;
	s->uplink_mode = o->uplink_mode;
	if (target_resolve(&o->spec, &s->t)) {
		free(s);
		return 1;
	}
	rc = attach_place(s, o);
	if (rc == -2) {
		free(s);
		return 1;
	}
	if (!rc && attach_plan(s, o)) {
		s->dir[0] = 0;
		pins_prune(s->ns_dir, s->root);
	} else if (!rc && attach_changes(s, o)) {
		rollback(s);
	} else if (!rc) {
		report_attached(s);
		agent_ensure(s->ns_dir);
		ret = 0;
	}
	if (s->link_fd >= 0)
		close(s->link_fd);
	egress_bpf__destroy(s->skel);
	target_release(&s->t);
	free(s->fixes);
	free(s);
	return ret;
}

/* attach, detach and the tuner's switches run one at a time per pin root:
 * they share the namespace's maps, the uplink programs and the records of
 * other attachments (lock.h; re-entrant, so the CNI plugin holds it across
 * its whole command). */
int with_lock(int (*fn)(const void *, int), const void *arg, int all)
{
	char root[PATH_MAX];
	sigset_t old;
	int ret = 1;

	if (lock_take_for_changes(LOCK_WAIT_S, &old))
		return 1;
	/* Pins of another layout: migrated, or refused with what to do. */
	if (!pins_root(root, sizeof(root)) && !layout_check(root, LAYOUT_CHANGE))
		ret = fn(arg, all);
	lock_release_changes(&old);
	return ret;
}

static int attach_fn(const void *arg, int unused)
{
	return attach_locked(arg);
}

int cmd_attach(const struct attach_opts *o)
{
	return with_lock(attach_fn, o, 0);
}
