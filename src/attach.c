// SPDX-License-Identifier: GPL-2.0
/*
 * attach: resolve the target, choose the XDP mode, fix the kernel traps of
 * DESIGN.md (checksum offload, TSO, NAPI on a veth uplink), attach through a
 * pinned bpf_link and record every change in the attachment's meta map, so
 * that detach can undo exactly what attach did. Any failure rolls back every
 * step already taken: an interface is never left half-attached.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "attach.h"
#include "ethtool.h"
#include "log.h"
#include "netns.h"
#include "pins.h"
#include "snat.h"
#include "handover.h"
#include "egress.skel.h"
#include "redirect_errors.skel.h"

/* Sizes from drivers/net/veth.c (VETH_XDP_HEADROOM) and skbuff.h
 * (SKB_WITH_OVERHEAD: struct skb_shared_info is 320 bytes on 64-bit). */
#define VETH_XDP_HEADROOM 256
#define SKB_SHINFO_SIZE 320
#define ETH_HLEN_ 14

unsigned int veth_native_max_mtu(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return (unsigned int)(page - VETH_XDP_HEADROOM - SKB_SHINFO_SIZE - ETH_HLEN_);
}

struct fix {
	unsigned long netns_ino;
	char ifname[IF_NAMESIZE];
	enum offload offload;
	int was, now;
	char why[200];
};

#define MAX_FIXES 8

struct attach_state {
	struct target t;
	int native;                    /* native XDP (else generic, or tc) */
	int tc;                        /* the tcx program instead of XDP */
	int adaptive;                  /* --mode auto: tc, native XDP on demand */
	char native_blocked[400];      /* auto: why native XDP cannot attach */
	char mode_reason[256];
	struct link_info uplinks[MAX_UPLINKS];
	int n_uplinks;
	struct fix fixes[MAX_FIXES];
	int n_fixes;
	char root[PATH_MAX], ns_dir[PATH_MAX], dir[PATH_MAX];
	struct egress_bpf *skel;
	struct redirect_errors_bpf *err_skel;
	int link_fd;
	__u32 prog_id;
	char err_counting[200];
	/* SNAT */
	const struct snat_opts *snat;
	struct snat_plan plan;
	int ct_fd;                     /* shared conntrack map */
	int ct_created;                /* this attach pinned it */
	int uplink_created[MAX_UPLINKS];
	int uplink_native;             /* the return path redirects natively */
	int port_added;                /* in container_ports */
	char l3_name[IF_NAMESIZE];     /* device the kernel routes as: the
					* host veth, or its bridge */
};

/* ---- fixes: change an offload, remember it, undo it ---- */

static int netns_fd_for(unsigned long ino, unsigned long self_ino)
{
	if (ino == self_ino)
		return netns_open_self();
	return netns_find_by_inode(ino);
}

static int fix_apply(struct attach_state *s, int netns_fd, const char *ifname,
		     enum offload o, int want, const char *why)
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
	if (s->n_fixes == MAX_FIXES) {
		pr_err("internal: too many fixes");
		return -1;
	}
	if (offload_set(netns_fd, ifname, o, want) ||
	    offload_get(netns_fd, ifname, o) != want) {
		pr_err("cannot turn %s %s on '%s' (%s): %s", offload_names[o],
		       want ? "on" : "off", ifname, why,
		       errno ? strerror(errno) : "the driver kept it");
		return -1;
	}
	f = &s->fixes[s->n_fixes++];
	f->netns_ino = netns_inode(netns_fd);
	snprintf(f->ifname, sizeof(f->ifname), "%s", ifname);
	f->offload = o;
	f->was = cur;
	f->now = want;
	snprintf(f->why, sizeof(f->why), "%s", why);
	return 0;
}

/* Undo one recorded change. Returns 0, or 1 when the device is gone. */
static int fix_undo(const struct fix *f, unsigned long self_ino, int verbose)
{
	int fd = netns_fd_for(f->netns_ino, self_ino);
	int ret = 0;

	if (fd < 0 || offload_get(fd, f->ifname, f->offload) < 0) {
		if (verbose)
			pr_info("  %s of %s: not restored, the interface or its "
				"namespace is gone", offload_names[f->offload],
				f->ifname);
		ret = 1;
	} else if (offload_set(fd, f->ifname, f->offload, f->was)) {
		pr_warn("could not restore %s of %s to %s: %s",
			offload_names[f->offload], f->ifname,
			f->was ? "on" : "off", strerror(errno));
		ret = -1;
	} else if (verbose) {
		pr_info("  restored %s of %s to %s", offload_names[f->offload],
			f->ifname, f->was ? "on" : "off");
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- mode choice ---- */

/* Empty string when native XDP can attach; otherwise why not. */
static void native_blockers(const struct target *t, char *why, size_t len)
{
	struct channels hch, cch;
	unsigned int max_mtu = veth_native_max_mtu();
	unsigned int rx, tx;

	why[0] = 0;
	if (!t->has_container)
		return;
	if (t->container.mtu > max_mtu) {
		snprintf(why, len,
			 "container interface %s has MTU %u but native XDP on a "
			 "veth caps it at %u (one page per frame); lower the MTU "
			 "(ip link set dev %s mtu 1500 in the container) or use "
			 "--mode generic", t->container.name, t->container.mtu,
			 max_mtu, t->container.name);
		return;
	}
	rx = t->host.num_rx_queues;
	tx = t->container.num_tx_queues;
	if (!channels_get(-1, t->host.name, &hch))
		rx = hch.rx + hch.combined;
	if (!channels_get(t->container_netns_fd, t->container.name, &cch))
		tx = cch.tx + cch.combined;
	if (rx < tx)
		snprintf(why, len,
			 "native XDP on a veth needs at least as many rx queues "
			 "on %s (%u) as tx queues on its peer %s (%u); recreate "
			 "the pair with `numrxqueues %u`, reduce the peer's tx "
			 "queues (ethtool -L %s tx %u) or use --mode generic",
			 t->host.name, rx, t->container.name, tx, tx,
			 t->container.name, rx);
}

static int choose_mode(struct attach_state *s, enum xdp_mode_req req)
{
	char why[400];

	native_blockers(&s->t, why, sizeof(why));
	switch (req) {
	case MODE_NATIVE:
		if (why[0]) {
			pr_err("cannot attach in native mode: %s", why);
			return -1;
		}
		s->native = 1;
		snprintf(s->mode_reason, sizeof(s->mode_reason),
			 "requested with --mode native");
		break;
	case MODE_GENERIC:
		s->native = 0;
		snprintf(s->mode_reason, sizeof(s->mode_reason),
			 "requested with --mode generic");
		break;
	case MODE_AUTO:
	case MODE_DEFAULT:
		s->native = 0;
		s->tc = 1;
		s->adaptive = 1;
		if (!why[0] && !s->t.has_container)
			snprintf(why, sizeof(why),
				 "%s has no container side attach can reach (a VM's tap): "
				 "the guest's checksum offload cannot be turned off from "
				 "here, and native XDP would send its partial checksums "
				 "unfinished (start the guest with csum=off and use --mode "
				 "native)", s->t.host.name);
		snprintf(s->native_blocked, sizeof(s->native_blocked), "%s", why);
		snprintf(s->mode_reason, sizeof(s->mode_reason),
			 "%s: the tc path (the container keeps TSO), with native "
			 "XDP in front while small packets dominate (`xdp-egress "
			 "tune` or the daemon decides)%s",
			 req == MODE_AUTO ? "requested with --mode auto" : "default (auto)",
			 why[0] ? "; native XDP is not possible here (see status)" : "");
		break;
	case MODE_TC:
		s->native = 0;
		s->tc = 1;
		snprintf(s->mode_reason, sizeof(s->mode_reason),
			 "requested with --mode tc: the container keeps TSO and "
			 "checksum offload");
		break;
	}
	return 0;
}

/* ---- uplinks ---- */

static int add_uplink(struct attach_state *s, struct mnl_socket *nl,
		      const char *name, int ifindex, const char *how)
{
	struct link_info li;
	int i, rc;

	rc = name ? nl_link_by_name(nl, name, &li) : nl_link_by_index(nl, ifindex, &li);
	if (rc) {
		pr_err("uplink '%s' does not exist in this network namespace: "
		       "check `ip link` and --uplink", name ? name : "?");
		return -1;
	}
	if (li.ifindex == s->t.host.ifindex) {
		pr_err("uplink '%s' is the target interface itself: name the "
		       "device that leads out of the host with --uplink", li.name);
		return -1;
	}
	if (!(li.flags & IFF_UP)) {
		pr_err("uplink '%s' is down: bring it up (ip link set dev %s up) "
		       "or choose another with --uplink", li.name, li.name);
		return -1;
	}
	for (i = 0; i < s->n_uplinks; i++)
		if (s->uplinks[i].ifindex == li.ifindex)
			return 0;
	if (s->n_uplinks == MAX_UPLINKS) {
		pr_err("at most %d uplinks", MAX_UPLINKS);
		return -1;
	}
	s->uplinks[s->n_uplinks++] = li;
	pr_debug("uplink %s (%s)", li.name, how);
	return 0;
}

static int resolve_uplinks(struct attach_state *s, const struct attach_opts *o)
{
	struct mnl_socket *nl = nl_open_in(-1);
	int i, ret = -1, dev4, dev6;

	if (!nl) {
		pr_err("cannot open a netlink socket: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < o->n_uplinks; i++)
		if (add_uplink(s, nl, o->uplinks[i], 0, "--uplink"))
			goto out;
	if (!o->n_uplinks) {
		dev4 = nl_default_route_dev(nl, AF_INET);
		dev6 = nl_default_route_dev(nl, AF_INET6);
		if (!dev4 && !dev6) {
			pr_err("this network namespace has no default route, so "
			       "there is no uplink to guess: name it with "
			       "--uplink IFNAME");
			goto out;
		}
		if (dev4 && add_uplink(s, nl, NULL, dev4, "IPv4 default route"))
			goto out;
		if (dev6 && add_uplink(s, nl, NULL, dev6, "IPv6 default route"))
			goto out;
	}
	ret = 0;
out:
	nl_close(nl);
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
 * The "why" of both starts with "peer of veth uplink NAME:", which detach
 * uses to hand the fix to another attachment still using that uplink.
 */
static int fix_uplink_peer(struct attach_state *s, const struct link_info *up,
			   int gro, int csum, int tso)
{
	struct mnl_socket *nl = nl_open_in(-1);
	struct mnl_socket *pnl = NULL;
	struct link_info peer;
	char why[200];
	int fd = -1, ret = 0;

	if (strcmp(up->kind, "veth"))
		goto out;
	fd = up->link_netnsid < 0 ? netns_open_self()
				  : netns_find_by_nsid(nl, up->link_netnsid);
	if (fd < 0) {
		pr_warn("uplink %s is a veth whose peer's namespace cannot be "
			"opened; if GRO is off there, redirected frames will be "
			"dropped (ethtool -K PEER gro on), and with SNAT its "
			"tx-checksumming must be off", up->name);
		goto out;
	}
	pnl = nl_open_in(fd);
	if (!pnl || nl_link_by_index(pnl, up->link, &peer)) {
		pr_warn("cannot read the peer of uplink %s", up->name);
		goto out;
	}
	if (gro && !peer.xdp_prog_id) {
		snprintf(why, sizeof(why),
			 "peer of veth uplink %s: receiving XDP_REDIRECT frames "
			 "needs NAPI there", up->name);
		ret = fix_apply(s, fd, peer.name, OFFLOAD_GRO, 1, why);
	}
	if (!ret && csum) {
		snprintf(why, sizeof(why),
			 "peer of veth uplink %s: native XDP there loses the "
			 "partial checksums of what the peer sends", up->name);
		ret = fix_apply(s, fd, peer.name, OFFLOAD_TX_CSUM, 0, why);
	}
	if (!ret && tso) {
		snprintf(why, sizeof(why),
			 "peer of veth uplink %s: generic XDP there cannot "
			 "redirect the GSO super-packets the peer sends", up->name);
		ret = fix_apply(s, fd, peer.name, OFFLOAD_TSO, 0, why);
	}
out:
	if (fd >= 0)
		close(fd);
	nl_close(pnl);
	nl_close(nl);
	return ret;
}

static int apply_fixes(struct attach_state *s)
{
	struct target *t = &s->t;
	int i, uplink_csum = 1;

	for (i = 0; i < s->n_uplinks; i++)
		if (fix_uplink_peer(s, &s->uplinks[i],
				    s->native || (s->adaptive && !s->native_blocked[0]),
				    s->snat && s->uplink_native,
				    s->snat && !s->uplink_native))
			return -1;
	/* With SNAT the egress program translates the packet it passes for
	 * neighbour resolution; the kernel forwards a packet whose source is
	 * one of its own addresses only with accept_local on the ingress
	 * device (fib_validate_source()). */
	if (s->snat && s->plan.v4_on) {
		int self = netns_open_self(), rc;
		char why[200];

		/* On a bridge port the kernel routes the frame as the bridge's
		 * (br_pass_frame_up()), so the bridge is where it matters; the
		 * bridge is shared, so its fix is handed over at detach. */
		if (strcmp(s->l3_name, t->host.name))
			snprintf(why, sizeof(why), "SNAT on bridge %s: the first "
				 "packet to an unresolved next hop leaves "
				 "translated through the kernel", s->l3_name);
		else
			snprintf(why, sizeof(why), "SNAT: the first packet to an "
				 "unresolved next hop leaves translated through "
				 "the kernel");
		rc = fix_apply(s, self, s->l3_name, OFFLOAD_ACCEPT_LOCAL, 1, why);
		close(self);
		if (rc)
			return -1;
	}
	if (!t->has_container)
		return 0;
	if (s->snat && s->uplink_native &&
	    fix_apply(s, t->container_netns_fd, t->container.name, OFFLOAD_GRO, 1,
		      "return path: XDP_REDIRECT into this veth needs NAPI on "
		      "the container side"))
		return -1;
	/* The tc program keeps the skb: GSO and partial checksums survive,
	 * and its SNAT rewrite updates partial checksums correctly. */
	if (s->tc)
		return 0;
	if (s->native || s->snat) {
		/* Native XDP consumes the skb: CHECKSUM_PARTIAL is lost and
		 * the L4 checksum on the wire would be wrong. */
		if (fix_apply(s, t->container_netns_fd, t->container.name,
			      OFFLOAD_TX_CSUM, 0,
			      s->native ? "native XDP loses partial checksums; "
					  "the container's stack now completes them"
					: "SNAT rewrites need full checksums (XDP "
					  "cannot tell a partial one); the container's "
					  "stack now completes them"))
			return -1;
		if (s->native)
			return 0;
		uplink_csum = 1; /* already off: nothing more to check */
	}
	/* Generic XDP keeps the skb: partial checksums survive a redirect
	 * if the uplink can finish them (generic_xdp_tx() skips
	 * validate_xmit_skb(), so no software fallback). */
	for (i = 0; i < s->n_uplinks && !s->snat; i++)
		if (offload_get(-1, s->uplinks[i].name, OFFLOAD_TX_CSUM) == 0)
			uplink_csum = 0;
	if (!uplink_csum &&
	    fix_apply(s, t->container_netns_fd, t->container.name,
		      OFFLOAD_TX_CSUM, 0,
		      "an uplink cannot complete partial checksums"))
		return -1;
	/* A GSO super-packet is larger than the uplink MTU; generic redirect
	 * would drop it. With TSO off the container sends MTU-sized frames. */
	return fix_apply(s, t->container_netns_fd, t->container.name,
			 OFFLOAD_TSO, 0,
			 "generic XDP cannot redirect GSO super-packets; "
			 "the container now segments before its veth");
}

/* ---- meta record ---- */

static const char *mode_name(const struct attach_state *s)
{
	return s->adaptive ? "auto" : s->tc ? "tc" : s->native ? "native" : "generic";
}

static cJSON *fix_json(const struct fix *f)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "ifname", f->ifname);
	cJSON_AddNumberToObject(o, "netns_ino", (double)f->netns_ino);
	cJSON_AddStringToObject(o, "offload", offload_names[f->offload]);
	cJSON_AddBoolToObject(o, "was", f->was);
	cJSON_AddBoolToObject(o, "now", f->now);
	cJSON_AddStringToObject(o, "why", f->why);
	return o;
}

static char *meta_json(const struct attach_state *s)
{
	cJSON *m = cJSON_CreateObject(), *arr, *o;
	char *out;
	int i;

	cJSON_AddNumberToObject(m, "version", 1);
	cJSON_AddStringToObject(m, "ifname", s->t.host.name);
	cJSON_AddNumberToObject(m, "ifindex", s->t.host.ifindex);
	cJSON_AddStringToObject(m, "kind", s->t.host.kind);
	cJSON_AddStringToObject(m, "l3_ifname", s->l3_name);
	cJSON_AddStringToObject(m, "mode", mode_name(s));
	cJSON_AddStringToObject(m, "mode_reason", s->mode_reason);
	if (s->adaptive) {
		o = cJSON_AddObjectToObject(m, "auto");
		cJSON_AddStringToObject(o, "state", "tc");
		cJSON_AddNumberToObject(o, "since", (double)time(NULL));
		cJSON_AddStringToObject(o, "why", "attached");
		if (s->native_blocked[0])
			cJSON_AddStringToObject(o, "native_blocked", s->native_blocked);
	}
	cJSON_AddNumberToObject(m, "prog_id", s->prog_id);
	cJSON_AddNumberToObject(m, "attached_at", (double)time(NULL));
	cJSON_AddStringToObject(m, "redirect_errors", s->err_counting);
	arr = cJSON_AddArrayToObject(m, "uplinks");
	for (i = 0; i < s->n_uplinks; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "ifname", s->uplinks[i].name);
		cJSON_AddNumberToObject(o, "ifindex", s->uplinks[i].ifindex);
		cJSON_AddItemToArray(arr, o);
	}
	if (s->t.has_container) {
		o = cJSON_AddObjectToObject(m, "container");
		cJSON_AddStringToObject(o, "ifname", s->t.container.name);
		cJSON_AddNumberToObject(o, "ifindex", s->t.container.ifindex);
		cJSON_AddNumberToObject(o, "netns_ino",
					(double)s->t.container_netns_ino);
	}
	if (s->snat) {
		o = cJSON_AddObjectToObject(m, "snat");
		if (s->plan.v4_on)
			cJSON_AddStringToObject(o, "ipv4", s->plan.v4_str);
		if (s->plan.v6_on)
			cJSON_AddStringToObject(o, "ipv6", s->plan.v6_str);
		cJSON_AddNumberToObject(o, "port_min", s->plan.port_min);
		cJSON_AddNumberToObject(o, "port_max", s->plan.port_max);
		cJSON_AddStringToObject(o, "return_path",
					s->uplink_native ? "native" : "generic");
	}
	arr = cJSON_AddArrayToObject(m, "fixes");
	for (i = 0; i < s->n_fixes; i++) {
		const struct fix *f = &s->fixes[i];

		cJSON_AddItemToArray(arr, fix_json(f));
	}
	out = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	return out;
}

static int offload_by_name(const char *name)
{
	int i;

	for (i = 0; i < OFFLOAD_MAX; i++)
		if (name && !strcmp(name, offload_names[i]))
			return i;
	return -1;
}

/* Parse the "fixes" array of a meta record. */
static int fixes_from_json(cJSON *m, struct fix *fixes, int max)
{
	cJSON *arr = cJSON_GetObjectItem(m, "fixes"), *o;
	int n = 0;

	cJSON_ArrayForEach(o, arr) {
		cJSON *ifn = cJSON_GetObjectItem(o, "ifname");
		int off = offload_by_name(cJSON_GetStringValue(
			cJSON_GetObjectItem(o, "offload")));

		if (n == max || off < 0 || !cJSON_IsString(ifn))
			continue;
		memset(&fixes[n], 0, sizeof(fixes[n]));
		snprintf(fixes[n].ifname, IF_NAMESIZE, "%s", ifn->valuestring);
		fixes[n].netns_ino = (unsigned long)cJSON_GetNumberValue(
			cJSON_GetObjectItem(o, "netns_ino"));
		fixes[n].offload = off;
		fixes[n].was = cJSON_IsTrue(cJSON_GetObjectItem(o, "was"));
		fixes[n].now = cJSON_IsTrue(cJSON_GetObjectItem(o, "now"));
		snprintf(fixes[n].why, sizeof(fixes[n].why), "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(o, "why")) ?: "");
		n++;
	}
	return n;
}

/* ---- load, attach, pin ---- */

static int pin_fd(int fd, const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_pin(fd, path);
}

/* Redirect errors: one pair of tracepoint programs per host namespace,
 * pinned in ns_dir/errors, loaded by the first attachment. */
static void start_error_counting(struct attach_state *s)
{
	struct redirect_errors_bpf *e;
	struct bpf_link *l1 = NULL, *l2 = NULL;
	char dir[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX], pm[PATH_MAX];
	struct stat st;
	int err;

	snprintf(dir, sizeof(dir), "%s/errors", s->ns_dir);
	snprintf(s->err_counting, sizeof(s->err_counting),
		 "counted by tracepoints xdp_redirect_err and xdp_devmap_xmit");
	if (!stat(dir, &st))
		return;
	e = redirect_errors_bpf__open();
	if (!e)
		goto fail;
	e->rodata->watched_netns_ino = (__u32)s->t.host_netns_ino;
	err = redirect_errors_bpf__load(e);
	if (!err) {
		l1 = bpf_program__attach(e->progs.count_redirect_err);
		l2 = bpf_program__attach(e->progs.count_devmap_drops);
	}
	snprintf(p1, sizeof(p1), "%s/link_redirect_err", dir);
	snprintf(p2, sizeof(p2), "%s/link_devmap_xmit", dir);
	snprintf(pm, sizeof(pm), "%s/redirect_errs", dir);
	if (err || !l1 || !l2 || (mkdir(dir, 0700) && errno != EEXIST) ||
	    bpf_link__pin(l1, p1) || bpf_link__pin(l2, p2) ||
	    bpf_map__pin(e->maps.redirect_errs, pm)) {
		pins_remove_dir(dir);
		bpf_link__destroy(l1);
		bpf_link__destroy(l2);
		redirect_errors_bpf__destroy(e);
		goto fail;
	}
	bpf_link__destroy(l1); /* pinned links outlive their fds */
	bpf_link__destroy(l2);
	redirect_errors_bpf__destroy(e);
	return;
fail:
	snprintf(s->err_counting, sizeof(s->err_counting),
		 "unavailable: tp_btf xdp_redirect_err/xdp_devmap_xmit could "
		 "not be attached");
	pr_warn("redirect errors will not be counted: the xdp tracepoints "
		"could not be attached");
}

/* With no attachment left in the namespace, its shared pins go too. */
static void ns_cleanup_if_unused(const char *ns_dir)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(ns_dir);
	int used = 0;

	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "if", 2))
			used = 1;
	if (d)
		closedir(d);
	if (used)
		return;
	snprintf(dir, sizeof(dir), "%s/errors", ns_dir);
	pins_remove_dir(dir);
}

/* Open and load the egress program with this attachment's SNAT settings;
 * with SNAT, share (or create and pin) the namespace's conntrack map. */
static int load_egress(struct attach_state *s)
{
	const struct snat_plan *pl = &s->plan;
	char path[PATH_MAX];
	int i;

	s->skel = egress_bpf__open();
	if (!s->skel)
		goto fail;
	if (s->t.host.master) {
		struct mnl_socket *nl = nl_open_in(-1);
		struct link_info br;

		if (nl && !nl_link_by_index(nl, s->t.host.master, &br) &&
		    !strcmp(br.kind, "bridge")) {
			s->skel->rodata->l3_ifindex = br.ifindex;
			snprintf(s->l3_name, sizeof(s->l3_name), "%s", br.name);
			pr_info("  %s is a port of bridge %s: routes are looked up "
				"as the bridge's, as the kernel does", s->t.host.name,
				br.name);
		}
		nl_close(nl);
	}
	s->skel->rodata->xdp_marks_passed = s->adaptive;
	if (s->snat) {
		s->skel->rodata->snat_v4_on = pl->v4_on;
		s->skel->rodata->snat_v6_on = pl->v6_on;
		s->skel->rodata->snat_v4_addr = pl->v4;
		for (i = 0; i < 4; i++)
			s->skel->rodata->snat_v6_addr[i] = pl->v6[i];
		s->skel->rodata->snat_port_min = pl->port_min;
		s->skel->rodata->snat_port_max = pl->port_max;
		for (i = 0; i < CT_TO_MAX; i++)
			s->skel->rodata->ct_timeouts[i] = s->snat->timeouts[i];
		s->ct_fd = ct_map_open(s->ns_dir);
		if (s->ct_fd >= 0) {
			int sw = sweeper_map_open(s->ns_dir);

			bpf_map__reuse_fd(s->skel->maps.ct, s->ct_fd);
			/* One sweeper for the one table. */
			if (sw >= 0) {
				bpf_map__reuse_fd(s->skel->maps.ct_sweeper, sw);
				close(sw);
			}
		} else {
			bpf_map__set_max_entries(s->skel->maps.ct, s->snat->ct_size);
		}
	} else {
		/* Unused without SNAT: keep it tiny. */
		bpf_map__set_max_entries(s->skel->maps.ct, 1);
	}
	if (egress_bpf__load(s->skel))
		goto fail;
	if (s->snat && s->ct_fd < 0) {
		s->ct_fd = dup(bpf_map__fd(s->skel->maps.ct));
		snprintf(path, sizeof(path), "%s/ct", s->ns_dir);
		if (bpf_obj_pin(s->ct_fd, path)) {
			pr_err("cannot pin the conntrack map at %s: %s", path,
			       strerror(errno));
			return -1;
		}
		s->ct_created = 1;
		snprintf(path, sizeof(path), "%s/ct_sweeper", s->ns_dir);
		if (bpf_obj_pin(bpf_map__fd(s->skel->maps.ct_sweeper), path)) {
			pr_err("cannot pin the conntrack sweeper at %s: %s", path,
			       strerror(errno));
			return -1;
		}
	}
	return 0;
fail:
	pr_err("cannot load the egress BPF program: %s (run as root, kernel "
	       "with BPF, BTF and nf_conntrack; -v shows the verifier log)",
	       strerror(errno));
	return -1;
}

/* The return path: one uplink program per uplink, shared by containers. */
static int ensure_uplinks(struct attach_state *s)
{
	int i, native;

	s->uplink_native = 0;
	for (i = 0; i < s->n_uplinks; i++) {
		if (uplink_ensure(s->ns_dir, &s->uplinks[i], s->ct_fd,
				  s->snat->uplink_generic, &s->uplink_created[i],
				  &native))
			return -1;
		s->uplink_native |= native;
	}
	return 0;
}

static int add_container_port(struct attach_state *s)
{
	struct bpf_devmap_val v = { .ifindex = s->t.host.ifindex };
	__u32 key = s->t.host.ifindex;
	int fd = ports_map_open(s->ns_dir), err;

	if (fd < 0) {
		pr_err("the return path's devmap is missing under %s", s->ns_dir);
		return -1;
	}
	err = bpf_map_update_elem(fd, &key, &v, 0);
	close(fd);
	if (err) {
		pr_err("cannot add %s to the return path's devmap: %s",
		       s->t.host.name, strerror(errno));
		return -1;
	}
	s->port_added = 1;
	return 0;
}

static void del_container_port(const char *ns_dir, __u32 ifindex)
{
	int fd = ports_map_open(ns_dir);

	if (fd >= 0) {
		bpf_map_delete_elem(fd, &ifindex);
		close(fd);
	}
}

static int load_and_attach(struct attach_state *s)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	struct bpf_program *prog;
	int i, map_fd;

	map_fd = bpf_map__fd(s->skel->maps.tx_ports);
	for (i = 0; i < s->n_uplinks; i++) {
		struct bpf_devmap_val v = { .ifindex = s->uplinks[i].ifindex };
		__u32 key = s->uplinks[i].ifindex;

		if (bpf_map_update_elem(map_fd, &key, &v, 0)) {
			pr_err("uplink %s cannot be a redirect target (%s): its "
			       "driver may not support XDP transmit; choose another "
			       "--uplink", s->uplinks[i].name, strerror(errno));
			return -1;
		}
	}
	prog = s->tc ? s->skel->progs.tc_egress : s->skel->progs.xdp_egress;
	if (s->tc) {
		/* tcx: first in line, ahead of other tc programs (Cilium's
		 * included), which see only what this one passes. */
		lopts.flags = BPF_F_BEFORE;
		s->link_fd = bpf_link_create(bpf_program__fd(prog),
					     s->t.host.ifindex, (enum bpf_attach_type)XE_BPF_TCX_INGRESS,
					     &lopts);
	} else {
		lopts.flags = s->native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
		s->link_fd = bpf_link_create(bpf_program__fd(prog),
					     s->t.host.ifindex, BPF_XDP, &lopts);
	}
	if (s->link_fd < 0) {
		int err = errno;

		if (s->tc)
			pr_err("attaching the tc program to %s failed: %s "
			       "(tcx needs kernel 6.6 or later; use --mode "
			       "native or generic on older kernels)",
			       s->t.host.name, strerror(err));
		else if (err == EBUSY || err == EEXIST)
			pr_err("%s already has an XDP program in this mode; "
			       "remove it first (ip link set dev %s xdp off)",
			       s->t.host.name, s->t.host.name);
		else
			pr_err("attaching XDP in %s mode to %s failed: %s%s",
			       mode_name(s), s->t.host.name,
			       strerror(err),
			       s->native ? "; try --mode generic" : "");
		return -1;
	}
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &info_len) == 0)
		s->prog_id = info.id;
	if (mkdir(s->dir, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %s", s->dir, strerror(errno));
		return -1;
	}
	if ((s->adaptive && pin_fd(bpf_program__fd(s->skel->progs.xdp_egress),
				   s->dir, "xdp_prog")) ||
	    pin_fd(s->link_fd, s->dir, "link") ||
	    pin_fd(bpf_map__fd(s->skel->maps.egress_stats), s->dir, "egress_stats") ||
	    pin_fd(map_fd, s->dir, "tx_ports")) {
		pr_err("cannot pin the program's link and maps under %s: %s",
		       s->dir, strerror(errno));
		return -1;
	}
	if (s->tc && !s->adaptive)
		snprintf(s->err_counting, sizeof(s->err_counting),
			 "not counted in tc mode: a failed bpf_redirect() drops "
			 "the skb in the stack (ip -s link show the uplink)");
	else
		start_error_counting(s);
	return 0;
}

static void rollback(struct attach_state *s)
{
	unsigned long self_ino = s->t.host_netns_ino;
	int i;

	if (s->dir[0])
		pins_remove_dir(s->dir);
	if (s->link_fd >= 0)
		close(s->link_fd); /* unpinned: closing detaches the program */
	s->link_fd = -1;
	for (i = s->n_fixes - 1; i >= 0; i--)
		fix_undo(&s->fixes[i], self_ino, 0);
	if (s->port_added)
		del_container_port(s->ns_dir, s->t.host.ifindex);
	for (i = 0; i < s->n_uplinks; i++)
		if (s->uplink_created[i])
			uplink_remove(s->ns_dir, s->uplinks[i].ifindex);
	if (s->ct_created) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/ct", s->ns_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/ct_sweeper", s->ns_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/container_ports", s->ns_dir);
		unlink(path);
	}
	if (s->ns_dir[0]) {
		ns_cleanup_if_unused(s->ns_dir);
		pins_prune(s->ns_dir, s->root);
	}
}

static int attach_locked(const struct attach_opts *o)
{
	struct attach_state *s = calloc(1, sizeof(*s));
	struct stat st;
	char *json = NULL;
	int i, ret = 1;

	if (!s)
		return 1;
	s->link_fd = -1;
	s->ct_fd = -1;
	if (target_resolve(&o->spec, &s->t))
		goto out_free;
	snprintf(s->l3_name, sizeof(s->l3_name), "%s", s->t.host.name);
	if (pins_root(s->root, sizeof(s->root)))
		goto out;
	pins_ns_dir(s->ns_dir, sizeof(s->ns_dir), s->root, s->t.host_netns_ino);
	pins_attach_dir(s->dir, sizeof(s->dir), s->ns_dir, s->t.host.ifindex);
	if (!stat(s->dir, &st)) {
		pr_err("%s is already attached (pins in %s); see `xdp-egress "
		       "status`, or detach first with `xdp-egress detach "
		       "--ifname %s`", s->t.host.name, s->dir, s->t.host.name);
		s->dir[0] = 0; /* not ours to remove */
		goto out;
	}
	if (s->t.host.xdp_prog_id && o->mode != MODE_TC) {
		pr_err("%s already has an XDP program (id %u) that xdp-egress did "
		       "not attach; remove it (ip link set dev %s xdp off) or "
		       "choose another interface", s->t.host.name,
		       s->t.host.xdp_prog_id, s->t.host.name);
		s->dir[0] = 0;
		goto out;
	}
	if (choose_mode(s, o->mode) || resolve_uplinks(s, o))
		goto out_nodir;
	if (o->snat.enabled) {
		s->snat = &o->snat;
		if (snat_plan_make(&o->snat, s->uplinks, s->n_uplinks, &s->plan))
			goto out_nodir;
	}
	if (mkdir(s->ns_dir, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %s", s->ns_dir, strerror(errno));
		goto out_nodir;
	}
	if (load_egress(s))
		goto fail;
	if (s->snat && ensure_uplinks(s))
		goto fail;
	if (apply_fixes(s))
		goto fail;
	if (load_and_attach(s))
		goto fail;
	if (s->snat && add_container_port(s))
		goto fail;
	json = meta_json(s);
	if (!json || meta_write(s->dir, json)) {
		pr_err("cannot record the attachment under %s: %s", s->dir,
		       strerror(errno));
		goto fail;
	}
	pr_info("attached xdp-egress to %s (ifindex %d) in %s mode: %s",
		s->t.host.name, s->t.host.ifindex, mode_name(s),
		s->mode_reason);
	if (s->t.has_container)
		pr_info("  container side: %s (netns inode %lu)",
			s->t.container.name, s->t.container_netns_ino);
	for (i = 0; i < s->n_uplinks; i++)
		pr_info("  uplink: %s (ifindex %d)", s->uplinks[i].name,
			s->uplinks[i].ifindex);
	for (i = 0; i < s->n_fixes; i++)
		pr_info("  changed: %s of %s %s (%s); detach restores it",
			offload_names[s->fixes[i].offload], s->fixes[i].ifname,
			s->fixes[i].now ? "on" : "off", s->fixes[i].why);
	if (s->snat)
		pr_info("  SNAT: IPv4 %s, IPv6 %s, ports %u-%u",
			s->plan.v4_on ? s->plan.v4_str : "off",
			s->plan.v6_on ? s->plan.v6_str : "off",
			s->plan.port_min, s->plan.port_max);
	pr_info("  pins: %s", s->dir);
	ret = 0;
	goto out;
fail:
	rollback(s);
	goto out;
out_nodir:
	s->dir[0] = 0;
	pins_prune(s->ns_dir, s->root);
out:
	free(json);
	if (s->link_fd >= 0)
		close(s->link_fd);
	if (s->ct_fd >= 0)
		close(s->ct_fd);
	egress_bpf__destroy(s->skel);
	target_release(&s->t);
out_free:
	free(s);
	return ret;
}

/* ---- detach ---- */

/* Find the attachment folder whose record names ifname (device gone). */
struct name_match {
	const char *ifname;
	char *out;
	size_t len;
};

static int record_named(const char *dir, cJSON *m, void *arg)
{
	struct name_match *nm = arg;

	if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname")) ?: "",
		   nm->ifname))
		return 0;
	snprintf(nm->out, nm->len, "%s", dir);
	return 1;
}

static int find_dir_by_ifname(const char *ns_dir, const char *ifname,
			      char *out, size_t len)
{
	struct name_match nm = { ifname, out, len };

	return pins_foreach_record(ns_dir, record_named, &nm) ? 0 : -1;
}

static int uplinks_contain(cJSON *m, const char *ifname)
{
	cJSON *u;

	cJSON_ArrayForEach(u, cJSON_GetObjectItem(m, "uplinks")) {
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(u, "ifname")) ?: "",
			    ifname))
			return 1;
	}
	return 0;
}

/*
 * The NAPI fix on a shared uplink's peer serves every native attachment that
 * redirects to that uplink. Hand it over to one that remains instead of
 * undoing it. Returns 1 when handed over.
 */
struct hand_over {
	const char *self_dir;
	const struct fix *f;
	const char *dev;   /* the uplink, or the bridge */
	int bridge;
};

static int take_over_fix(const char *dir, cJSON *m, void *arg)
{
	struct hand_over *h = arg;
	const struct fix *f = h->f;
	int needs;
	char *js;

	if (!strcmp(dir, h->self_dir))
		return 0;
	needs = h->bridge ? cJSON_GetObjectItem(m, "snat") &&
			    !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(
				    m, "l3_ifname")) ?: "", h->dev)
			  : uplinks_contain(m, h->dev);
	if (!needs)
		return 0;
	cJSON_AddItemToArray(cJSON_GetObjectItem(m, "fixes"), fix_json(f));
	js = cJSON_PrintUnformatted(m);
	needs = js && !meta_write(dir, js);
	if (needs)
		pr_info("  kept %s %s on %s: %s still needs it (%s)",
			offload_names[f->offload], f->now ? "on" : "off", f->ifname,
			cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname")),
			h->dev);
	free(js);
	return needs;
}

static int hand_over_fix(const char *ns_dir, const char *self_dir,
			 const struct fix *f, const char *dev, int bridge)
{
	struct hand_over h = { self_dir, f, dev, bridge };

	return pins_foreach_record(ns_dir, take_over_fix, &h);
}

/* Before the programs go: the kernel's NAT takes over the live flows. */
static void handover_report(const char *ns_dir, int ifindex)
{
	struct handover_result r;
	int fd = ct_map_open(ns_dir);

	if (fd < 0)
		return;
	if (handover_flows(fd, ifindex, &r)) {
		pr_warn("cannot open ctnetlink (%s): live flows are not handed to "
			"the kernel and end now", strerror(r.first_errno));
	} else if (r.flows) {
		pr_info("  SNAT: handed %d of %d live flows to the kernel's "
			"conntrack with their mappings", r.handed, r.flows);
		if (r.no_nat)
			pr_info("  SNAT: %d flows end now: this namespace has no "
				"NAT rule for the kernel to carry them on (e.g. "
				"iptables -t nat -A POSTROUTING -j MASQUERADE)",
				r.no_nat);
		if (r.failed)
			pr_info("  SNAT: %d flows could not be handed over (%s); "
				"they end now. The kernel carries flows on only with "
				"NAT set up in this namespace (e.g. iptables -t nat "
				"-A POSTROUTING -j MASQUERADE)", r.failed,
				strerror(r.first_errno));
	}
	close(fd);
}

/* Does any remaining attachment use SNAT (through uplink, if given)? */
struct snat_count {
	const char *uplink;
	int users;
};

static int count_snat_user(const char *dir, cJSON *m, void *arg)
{
	struct snat_count *c = arg;

	if (cJSON_GetObjectItem(m, "snat") &&
	    (!c->uplink || uplinks_contain(m, c->uplink)))
		c->users++;
	return 0;
}

static int snat_users(const char *ns_dir, const char *uplink)
{
	struct snat_count c = { uplink, 0 };

	pins_foreach_record(ns_dir, count_snat_user, &c);
	return c.users;
}

/*
 * SNAT's part of detach (the attachment's own pins are gone already): stop
 * the return path to this container, forget its flows, and remove the
 * shared objects nobody uses any more.
 */
static void snat_release(const char *ns_dir, cJSON *m, int ifindex)
{
	char path[PATH_MAX];
	int ct_fd = ct_map_open(ns_dir), purged = 0;
	cJSON *u;

	del_container_port(ns_dir, ifindex);
	if (ct_fd >= 0) {
		purged = ct_purge_ifindex(ct_fd, ifindex);
		close(ct_fd);
	}
	pr_info("  SNAT: removed %d conntrack entries (%d flows); those flows "
		"now meet the kernel path", purged, purged / 2);
	cJSON_ArrayForEach(u, cJSON_GetObjectItem(m, "uplinks")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(u, "ifname"));
		int up = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(u, "ifindex"));

		if (name && !snat_users(ns_dir, name)) {
			uplink_remove(ns_dir, up);
			pr_info("  removed the return-path program from uplink %s",
				name);
		}
	}
	if (!snat_users(ns_dir, NULL)) {
		snprintf(path, sizeof(path), "%s/ct", ns_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/ct_sweeper", ns_dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/container_ports", ns_dir);
		unlink(path);
	}
}

/* Detach the bpf_link pinned at dir/name (if any) and unpin it. */
static void link_detach_pin(const char *dir, const char *name)
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

static int detach_dir(const char *dir, const char *ns_dir, unsigned long self_ino)
{
	struct fix fixes[MAX_FIXES];
	char buf[META_SIZE], ifname[IF_NAMESIZE] = "?";
	struct mnl_socket *nl;
	struct link_info li;
	int n = 0, i, ifindex = 0, ret = 0;
	cJSON *m = NULL;

	if (!meta_read(dir, buf, sizeof(buf)))
		m = cJSON_Parse(buf);
	if (m) {
		snprintf(ifname, sizeof(ifname), "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname")) ?: "?");
		ifindex = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "ifindex"));
		n = fixes_from_json(m, fixes, MAX_FIXES);
	} else {
		pr_warn("%s has no readable record; removing its pins only", dir);
	}
	pr_info("detaching xdp-egress from %s", ifname);
	/* Detach first, so that no packet meets restored offloads while the
	 * program still runs. Unpinning drops the link's last reference. */
	if (m && cJSON_GetObjectItem(m, "snat"))
		handover_report(ns_dir, ifindex);
	/* Detach the links themselves first (auto mode's native XDP link, then
	 * the main one): unpinning alone lets the kernel free them later from
	 * a workqueue (bpf_link_put() defers). */
	link_detach_pin(dir, "xdp_link");
	link_detach_pin(dir, "link");
	if (pins_remove_dir(dir)) {
		pr_err("cannot remove the pins under %s: %s", dir, strerror(errno));
		ret = 1;
	}
	/* The kernel frees an unpinned link from a workqueue
	 * (bpf_link_put() defers), so the program may linger a moment. */
	nl = nl_open_in(-1);
	for (i = 0; nl && ifindex && m && i < 50; i++) {
		if (nl_link_by_index(nl, ifindex, &li) || strcmp(li.name, ifname) ||
		    li.xdp_prog_id != (__u32)cJSON_GetNumberValue(
			    cJSON_GetObjectItem(m, "prog_id")))
			break;
		usleep(20000);
	}
	if (nl && ifindex && m && i == 50) {
		pr_err("the program is still attached to %s after 1 s: another "
		       "process holds its link open (bpftool link show)", ifname);
		ret = 1;
	}
	nl_close(nl);
	if (m && cJSON_GetObjectItem(m, "snat"))
		snat_release(ns_dir, m, ifindex);
	for (i = n - 1; i >= 0; i--) {
		const char *up = NULL;
		int bridge = 0;

		if (m) {
			/* "peer of veth uplink NAME: ..." */
			static char name[IF_NAMESIZE];

			if (sscanf(fixes[i].why, "peer of veth uplink %15[^:]", name) == 1)
				up = name;
			else if (sscanf(fixes[i].why, "SNAT on bridge %15[^:]", name) == 1)
				up = name, bridge = 1;
		}
		if (up && hand_over_fix(ns_dir, dir, &fixes[i], up, bridge))
			continue;
		if (fix_undo(&fixes[i], self_ino, 1) < 0)
			ret = 1;
	}
	cJSON_Delete(m);
	return ret;
}

static int detach_locked(const struct target_spec *spec, int all)
{
	char root[PATH_MAX], ns_dir[PATH_MAX], dir[PATH_MAX];
	unsigned long self_ino;
	struct target t;
	struct stat st;
	int self, ret = 0;

	self = netns_open_self();
	self_ino = netns_inode(self);
	close(self);
	if (pins_root(root, sizeof(root)))
		return 1;
	pins_ns_dir(ns_dir, sizeof(ns_dir), root, self_ino);
	if (all) {
		DIR *d = opendir(ns_dir);
		struct dirent *de;
		int count = 0;

		while (d && (de = readdir(d))) {
			if (strncmp(de->d_name, "if", 2))
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", ns_dir, de->d_name);
			ret |= detach_dir(dir, ns_dir, self_ino);
			count++;
		}
		if (d)
			closedir(d);
		if (!count)
			pr_info("nothing attached in this network namespace");
		ns_cleanup_if_unused(ns_dir);
		pins_prune(ns_dir, root);
		return ret;
	}
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
			ret = detach_dir(dir, ns_dir, self_ino);
			ns_cleanup_if_unused(ns_dir);
			pins_prune(ns_dir, root);
			return ret;
		}
	}
	if (target_resolve(spec, &t)) {
		/* The device may be gone (container removed): find it by name. */
		if (spec->ifname &&
		    !find_dir_by_ifname(ns_dir, spec->ifname, dir, sizeof(dir))) {
			pr_info("(%s is gone; removing what was left of its attachment)",
				spec->ifname);
			ret = detach_dir(dir, ns_dir, self_ino);
			ns_cleanup_if_unused(ns_dir);
			pins_prune(ns_dir, root);
			return ret;
		}
		ns_cleanup_if_unused(ns_dir);
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
		ret = detach_dir(dir, ns_dir, self_ino);
		target_release(&t);
		ns_cleanup_if_unused(ns_dir);
		pins_prune(ns_dir, root);
		return ret;
	}
	if (stat(dir, &st)) {
		pr_err("%s is not attached (no pins in %s); `xdp-egress status` "
		       "lists what is", t.host.name, dir);
		target_release(&t);
		ns_cleanup_if_unused(ns_dir);
		pins_prune(ns_dir, root);
		return 1;
	}
	ret = detach_dir(dir, ns_dir, self_ino);
	target_release(&t);
	ns_cleanup_if_unused(ns_dir);
	pins_prune(ns_dir, root);
	return ret;
}

/* attach and detach run one at a time per pin root: they share the
 * conntrack map, the uplink programs and the records of other attachments. */
static int with_lock(int (*fn)(const void *, int), const void *arg, int all)
{
	char root[PATH_MAX];
	int fd, ret;

	if (pins_root(root, sizeof(root)))
		return 1;
	fd = pins_lock(root);
	if (fd < 0)
		return 1;
	ret = fn(arg, all);
	close(fd);
	return ret;
}

static int attach_fn(const void *arg, int unused)
{
	return attach_locked(arg);
}

static int detach_fn(const void *arg, int all)
{
	return detach_locked(arg, all);
}

int cmd_attach(const struct attach_opts *o)
{
	return with_lock(attach_fn, o, 0);
}

int cmd_detach(const struct target_spec *spec, int all)
{
	return with_lock(detach_fn, spec, all);
}

/* ---- auto mode: native XDP in front of the tc program, on demand ---- */

#define AUTO_FIX_WHY "auto mode: native XDP in front loses partial checksums; " \
		     "the container's stack completes them while it is there"

struct switch_args {
	const char *dir;
	int native;
	const char *why;
};

/* Replace the record's "fixes" with s's. */
static void fixes_to_json(cJSON *m, const struct attach_state *s)
{
	cJSON *arr = cJSON_CreateArray();
	int i;

	for (i = 0; i < s->n_fixes; i++)
		cJSON_AddItemToArray(arr, fix_json(&s->fixes[i]));
	cJSON_ReplaceItemInObject(m, "fixes", arr);
}

static int auto_switch_locked(const void *arg, int unused)
{
	const struct switch_args *a = arg;
	struct attach_state *s = calloc(1, sizeof(*s));
	char buf[META_SIZE], path[PATH_MAX];
	cJSON *m = NULL, *au, *c;
	const char *state, *cname;
	unsigned long self_ino, c_ino;
	int ret = -1, ifindex, i, fd = -1, lfd = -1, cfd = -1;

	if (!s)
		return -1;
	if (meta_read(a->dir, buf, sizeof(buf)) || !(m = cJSON_Parse(buf))) {
		ret = 1; /* detached meanwhile */
		goto out;
	}
	au = cJSON_GetObjectItem(m, "auto");
	state = cJSON_GetStringValue(cJSON_GetObjectItem(au, "state"));
	if (!au || !state || !strcmp(state, a->native ? "native" : "tc") ||
	    (a->native && cJSON_GetObjectItem(au, "native_blocked"))) {
		ret = 1;
		goto out;
	}
	ifindex = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "ifindex"));
	c = cJSON_GetObjectItem(m, "container");
	cname = cJSON_GetStringValue(cJSON_GetObjectItem(c, "ifname"));
	c_ino = (unsigned long)cJSON_GetNumberValue(cJSON_GetObjectItem(c, "netns_ino"));
	s->n_fixes = fixes_from_json(m, s->fixes, MAX_FIXES);
	cfd = netns_open_self();
	self_ino = cfd >= 0 ? netns_inode(cfd) : 0;
	if (cfd >= 0)
		close(cfd);
	cfd = -1;

	if (a->native) {
		LIBBPF_OPTS(bpf_link_create_opts, lopts);

		/* Checksums first: a partial one must never meet native XDP. */
		if (cname) {
			cfd = netns_fd_for(c_ino, self_ino);
			if (cfd < 0 || fix_apply(s, cfd, cname, OFFLOAD_TX_CSUM, 0,
						 AUTO_FIX_WHY))
				goto out;
		}
		snprintf(path, sizeof(path), "%s/xdp_prog", a->dir);
		fd = bpf_obj_get(path);
		lopts.flags = XDP_FLAGS_DRV_MODE;
		if (fd >= 0)
			lfd = bpf_link_create(fd, ifindex, BPF_XDP, &lopts);
		if (lfd < 0 || pin_fd(lfd, a->dir, "xdp_link")) {
			pr_err("auto: cannot put native XDP on ifindex %d: %s", ifindex,
			       strerror(errno));
			for (i = 0; i < s->n_fixes; i++)
				if (!strcmp(s->fixes[i].why, AUTO_FIX_WHY))
					fix_undo(&s->fixes[i], self_ino, 0);
			goto out;
		}
	} else {
		link_detach_pin(a->dir, "xdp_link");
		/* Then give the container its checksum offload (and so TSO)
		 * back. */
		for (i = 0; i < s->n_fixes; i++) {
			if (strcmp(s->fixes[i].why, AUTO_FIX_WHY))
				continue;
			fix_undo(&s->fixes[i], self_ino, 0);
			memmove(&s->fixes[i], &s->fixes[i + 1],
				(s->n_fixes - i - 1) * sizeof(s->fixes[0]));
			s->n_fixes--;
			i--;
		}
	}
	fixes_to_json(m, s);
	cJSON_ReplaceItemInObject(au, "state", cJSON_CreateString(a->native ? "native" : "tc"));
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		cJSON_ReplaceItemInObject(au, "since",
					  cJSON_CreateNumber(ts.tv_sec + ts.tv_nsec / 1e9));
	}
	cJSON_ReplaceItemInObject(au, "why", cJSON_CreateString(a->why));
	{
		char *json = cJSON_PrintUnformatted(m);

		ret = json && !meta_write(a->dir, json) ? 0 : -1;
		if (ret)
			pr_err("auto: cannot update the record under %s", a->dir);
		free(json);
	}
out:
	if (fd >= 0)
		close(fd);
	if (lfd >= 0)
		close(lfd);
	if (cfd >= 0)
		close(cfd);
	cJSON_Delete(m);
	free(s);
	return ret;
}

int auto_switch(const char *dir, int native, const char *why)
{
	struct switch_args a = { .dir = dir, .native = native, .why = why };

	return with_lock(auto_switch_locked, &a, 0);
}
