// SPDX-License-Identifier: GPL-2.0
/*
 * Fixes: the offload changes the data path needs (DESIGN.md's kernel
 * traps: partial checksums, TSO, NAPI on a veth), on the container's side
 * and on the peers of veth uplinks. Each is a structured record (device,
 * namespace inode and cookie, offload, old and new value, role) written to
 * the attachment's record before the change is made, so that detach, or
 * the rollback of a failed attach, undoes exactly what was changed. A
 * fix on an uplink's peer serves every attachment using that uplink:
 * detach hands it over (by its role and uplink, never by its text) to one
 * that remains.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "attach_int.h"
#include "log.h"
#include "netns.h"
#include "pins.h"

const char *const fix_role_names[FIX_ROLE_MAX] = {
	[FIX_CONTAINER] = "container",
	[FIX_UPLINK_PEER] = "uplink_peer",
	[FIX_AUTO] = "auto",
};

int netns_fd_for(unsigned long ino, unsigned long long cookie)
{
	if (cookie && cookie == netns_cookie(-1))
		return netns_open_self();
	return netns_find_by_id(ino, cookie);
}

/* Room for one more fix (as many as the record can hold: journal()). */
static int fixes_grow(struct attach_state *s)
{
	int max = s->max_fixes ? 2 * s->max_fixes : 8;
	struct fix *f;

	if (s->n_fixes < s->max_fixes)
		return 0;
	f = realloc(s->fixes, max * sizeof(*f));
	if (!f) {
		pr_err("out of memory recording offload change %d", s->n_fixes + 1);
		return -1;
	}
	s->fixes = f;
	s->max_fixes = max;
	return 0;
}

int fix_apply(struct attach_state *s, int netns_fd, const char *ifname,
	      enum offload o, int want, enum fix_role role,
	      const char *uplink, const char *why)
{
	struct fix *f;
	int cur = offload_get(netns_fd, ifname, o);

	if (cur < 0) {
		pr_err("cannot read %s of '%s': %s", offload_names[o], ifname,
		       strerror(errno));
		return -1;
	}
	if (cur == want)
		return 0;
	if (fixes_grow(s))
		return -1;
	f = &s->fixes[s->n_fixes++];
	memset(f, 0, sizeof(*f));
	f->netns_ino = netns_inode(netns_fd);
	f->netns_cookie = netns_cookie(netns_fd);
	snprintf(f->ifname, sizeof(f->ifname), "%s", ifname);
	f->offload = o;
	f->was = cur;
	f->now = want;
	f->role = role;
	snprintf(f->uplink, sizeof(f->uplink), "%s", uplink ?: "");
	snprintf(f->why, sizeof(f->why), "%s", why);
	if (journal(s)) {
		s->n_fixes--;
		return -1;
	}
	if (offload_set(netns_fd, ifname, o, want) ||
	    offload_get(netns_fd, ifname, o) != want) {
		pr_err("cannot turn %s %s on '%s' (%s): %s", offload_names[o],
		       want ? "on" : "off", ifname, why,
		       errno ? strerror(errno) : "the driver kept it");
		return -1; /* recorded: the rollback restores it */
	}
	return 0;
}

/* The fixed device, named so that the container's eth0 and the uplink's
 * peer eth0 (each in a namespace of its own) read apart. */
static const char *fix_where(const struct fix *f, char *buf, size_t len)
{
	if (f->role == FIX_UPLINK_PEER && f->uplink[0])
		snprintf(buf, len, "%s (the peer of uplink %s)", f->ifname, f->uplink);
	else if (f->role == FIX_UPLINK_PEER)
		snprintf(buf, len, "%s (an uplink's peer)", f->ifname);
	else
		snprintf(buf, len, "%s (the container's side)", f->ifname);
	return buf;
}

/* Undo one recorded change. Returns 0, or 1 when the device is gone. */
int fix_undo(const struct fix *f, int verbose)
{
	int fd = netns_fd_for(f->netns_ino, f->netns_cookie);
	int ret = 0;
	char where[IF_NAMESIZE * 2 + 40];

	if (fd < 0 || offload_get(fd, f->ifname, f->offload) < 0) {
		if (verbose)
			pr_info("  %s of %s: not restored, the interface or its "
				"namespace is gone%s", offload_names[f->offload],
				fix_where(f, where, sizeof(where)), fd < 0 && errno == ESTALE ?
				" (its inode number now names another namespace)" : "");
		ret = 1;
	} else if (offload_set(fd, f->ifname, f->offload, f->was)) {
		pr_warn("could not restore %s of %s to %s: %s",
			offload_names[f->offload], fix_where(f, where, sizeof(where)),
			f->was ? "on" : "off", strerror(errno));
		ret = -1;
	} else if (verbose) {
		pr_info("  restored %s of %s to %s", offload_names[f->offload],
			fix_where(f, where, sizeof(where)), f->was ? "on" : "off");
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Fixes on the peer of a veth uplink (the other end of the "wire"):
 * - gro: veth_xdp_xmit() (drivers/net/veth.c) drops frames redirected into
 *   the uplink unless the peer's receive side runs NAPI: an XDP program on it
 *   or, since 5.13, GRO.
 * - csum: native XDP on the uplink (the return path) loses the partial
 *   checksums of the skbs the peer sends, as on the container side.
 * - tso: generic XDP on the uplink (--uplink-mode generic) would redirect
 *   the peer's GSO super-packets into a container veth whose MTU they
 *   exceed, where they are dropped.
 * Each has the role FIX_UPLINK_PEER and names its uplink: detach hands it
 * to another attachment still using that uplink.
 */
static const struct {
	enum offload offload;
	int want;
	const char *why;
} peer_fixes[3] = {
	{ OFFLOAD_GRO, 1, "receiving XDP_REDIRECT frames needs NAPI there" },
	{ OFFLOAD_TX_CSUM, 0, "native XDP there loses the partial checksums of "
			      "what the peer sends" },
	{ OFFLOAD_TSO, 0, "generic XDP there cannot redirect the GSO "
			  "super-packets the peer sends" },
};

static int fix_uplink_peer(struct attach_state *s, const struct link_info *up,
			   int gro, int csum, int tso)
{
	struct mnl_socket *nl = nl_open_in(-1);
	struct mnl_socket *pnl = NULL;
	struct link_info peer;
	char why[200];
	int fd = -1, ret = 0, i, need[3];

	if (strcmp(up->kind, "veth"))
		goto out;
	fd = up->link_netnsid < 0 ? netns_open_self()
				  : netns_find_by_nsid(nl, up->link_netnsid);
	if (fd < 0) {
		pr_warn("uplink %s is a veth whose peer's namespace cannot be "
			"opened; if GRO is off there, redirected frames will be "
			"dropped (ethtool -K PEER gro on), and its tx-checksumming "
			"must be off for the return path", up->name);
		goto out;
	}
	pnl = nl_open_in(fd);
	if (!pnl || nl_link_by_index(pnl, up->link, &peer)) {
		pr_warn("cannot read the peer of uplink %s", up->name);
		goto out;
	}
	need[0] = gro && !peer.xdp_prog_id;
	need[1] = csum;
	need[2] = tso;
	for (i = 0; i < 3 && !ret; i++) {
		if (!need[i])
			continue;
		snprintf(why, sizeof(why), "peer of veth uplink %s: %s", up->name,
			 peer_fixes[i].why);
		ret = fix_apply(s, fd, peer.name, peer_fixes[i].offload,
				peer_fixes[i].want, FIX_UPLINK_PEER, up->name, why);
	}
out:
	if (fd >= 0)
		close(fd);
	nl_close(pnl);
	nl_close(nl);
	return ret;
}

int apply_fixes(struct attach_state *s)
{
	struct target *t = &s->t;
	int i, uplink_csum = 1;

	for (i = 0; i < s->n_uplinks; i++)
		if (fix_uplink_peer(s, &s->uplinks[i],
				    s->native || (s->adaptive && !s->native_blocked[0]),
				    s->uplink_run[i] == UPLINK_NATIVE,
				    s->uplink_run[i] == UPLINK_GENERIC))
			return -1;
	if (!t->has_container)
		return 0;
	/* The return path (native XDP on the uplink) and native egress of
	 * other containers redirect frames into this veth: veth_xdp_xmit()
	 * drops them unless the container side runs NAPI. */
	if (fix_apply(s, t->container_netns_fd, t->container.name, OFFLOAD_GRO, 1,
		      FIX_CONTAINER, NULL, "frames redirected into this veth (the return path, or "
		      "another container's native XDP) need NAPI on the "
		      "container side"))
		return -1;
	/* The tc program keeps the skb: GSO and partial checksums survive,
	 * and its rewrite updates partial checksums correctly. */
	if (s->tc)
		return 0;
	if (s->native) {
		/* Native XDP consumes the skb: CHECKSUM_PARTIAL is lost and
		 * the L4 checksum on the wire would be wrong. */
		return fix_apply(s, t->container_netns_fd, t->container.name,
				 OFFLOAD_TX_CSUM, 0, FIX_CONTAINER, NULL,
				 "native XDP loses partial checksums; the "
				 "container's stack now completes them");
	}
	/* Generic XDP keeps the skb: partial checksums survive a redirect if
	 * the uplink can finish them (generic_xdp_tx() skips
	 * validate_xmit_skb(), so no software fallback), but the translation
	 * (rewrite.h) needs complete ones. */
	for (i = 0; i < s->n_uplinks; i++)
		if (offload_get(-1, s->uplinks[i].name, OFFLOAD_TX_CSUM) == 0)
			uplink_csum = 0;
	if (fix_apply(s, t->container_netns_fd, t->container.name,
		      OFFLOAD_TX_CSUM, 0, FIX_CONTAINER, NULL,
		      uplink_csum ? "generic XDP translates with complete "
				    "checksums only; the container's stack now "
				    "completes them"
				  : "an uplink cannot complete partial checksums"))
		return -1;
	/* A GSO super-packet is larger than the uplink MTU; generic redirect
	 * would drop it. With TSO off the container sends MTU-sized frames. */
	return fix_apply(s, t->container_netns_fd, t->container.name,
			 OFFLOAD_TSO, 0, FIX_CONTAINER, NULL,
			 "generic XDP cannot redirect GSO super-packets; "
			 "the container now segments before its veth");
}

/*
 * The NAPI fix on a shared uplink's peer serves every native attachment that
 * redirects to that uplink. Hand it over to one that remains instead of
 * undoing it. Returns 1 when handed over (or when it has it already).
 */
struct hand_over {
	const char *self_dir;
	const struct fix *f;
};

/* Handed over already, by a detach that was killed after it? */
static int has_fix(cJSON *m, const struct fix *f)
{
	struct fix *have = NULL;
	int i, n = fixes_from_json(m, &have), found = 0;

	for (i = 0; i < n && !found; i++)
		found = have[i].offload == f->offload &&
			have[i].netns_cookie == f->netns_cookie &&
			!strcmp(have[i].ifname, f->ifname);
	free(have);
	return found;
}

static int take_over_fix(const char *dir, cJSON *m, void *arg)
{
	struct hand_over *h = arg;
	const struct fix *f = h->f;
	const char *other = cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname")) ?: "?";
	cJSON *arr, *item;
	int taken;
	char *js;

	if (!strcmp(dir, h->self_dir) || !uplinks_contain(m, f->uplink))
		return 0;
	if (has_fix(m, f))
		return 1;
	/* A record without a "fixes" array (not one attach wrote) gets one,
	 * so that "kept" is never said of a fix it does not list. */
	arr = cJSON_GetObjectItem(m, "fixes");
	if (!arr)
		arr = cJSON_AddArrayToObject(m, "fixes");
	item = fix_json(f);
	if (!cJSON_IsArray(arr) || !cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		return 0;
	}
	js = cJSON_PrintUnformatted(m);
	taken = js && !meta_write(dir, js);
	if (taken)
		pr_info("  kept %s %s on %s: %s still needs it (uplink %s)",
			offload_names[f->offload], f->now ? "on" : "off", f->ifname,
			other, f->uplink);
	else
		pr_warn("cannot hand %s %s on %s over to %s, which still uses "
			"uplink %s: %s%s; it is restored, so re-attach %s to have "
			"it set again", offload_names[f->offload],
			f->now ? "on" : "off", f->ifname, other, f->uplink,
			strerror(errno), errno == E2BIG ? " (its record is full)" : "",
			other);
	free(js);
	return taken;
}

int hand_over_fix(const char *ns_dir, const char *self_dir, const struct fix *f)
{
	struct hand_over h = { self_dir, f };

	return pins_foreach_record(ns_dir, take_over_fix, &h);
}
