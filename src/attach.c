// SPDX-License-Identifier: GPL-2.0
/*
 * attach: resolve the target, learn the container's own addresses, choose
 * the data path, fix the kernel traps of DESIGN.md (checksum offload, TSO,
 * NAPI on a veth), load the egress program with the namespace's shared maps
 * (and the return-path program on each uplink), attach through a pinned
 * bpf_link and record every change in the attachment's meta map, so that
 * detach can undo exactly what attach did. Any failure rolls back every
 * step already taken: an interface is never left half-attached.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "jsonval.h"
#include "agent.h"
#include "attach.h"
#include "ethtool.h"
#include "kct.h"
#include "lock.h"
#include "layout.h"
#include "log.h"
#include "netns.h"
#include "pins.h"
#include "probe.h"
#include "tchook.h"
#include "flows.h"
#include "uplink.h"
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

/*
 * One change attach made to a device's offloads, recorded (in the
 * attachment's record, see journal()) before it is made. Its role says who
 * needs it: detach hands an uplink peer's fix to another attachment still
 * using that uplink, and auto mode owns its own.
 */
enum fix_role { FIX_CONTAINER, FIX_UPLINK_PEER, FIX_AUTO, FIX_ROLE_MAX };
static const char *const fix_role_names[FIX_ROLE_MAX] = {
	[FIX_CONTAINER] = "container",
	[FIX_UPLINK_PEER] = "uplink_peer",
	[FIX_AUTO] = "auto",
};

struct fix {
	unsigned long netns_ino;          /* finds the namespace */
	unsigned long long netns_cookie;  /* proves it is still the same one */
	char ifname[IF_NAMESIZE];
	enum offload offload;
	int was, now;
	enum fix_role role;
	char uplink[IF_NAMESIZE];         /* FIX_UPLINK_PEER: whose peer */
	char why[200];
};

#define MAX_FIXES 8

struct source_addr {
	int family;
	unsigned char addr[16];
	int prefixlen;
};

#define MAX_SOURCES 32

struct attach_state {
	struct target t;
	int native;                    /* native XDP (else generic, or tc) */
	int tc;                        /* the tcx program instead of XDP */
	int adaptive;                  /* --mode auto: tc, native XDP on demand */
	char native_blocked[400];      /* auto: why native XDP cannot attach */
	char mode_reason[400];
	struct link_info uplinks[MAX_UPLINKS];
	int n_uplinks;
	int uplink_mode;               /* --uplink-mode (enum uplink_mode) */
	struct fix fixes[MAX_FIXES];
	int n_fixes;
	char root[PATH_MAX], ns_dir[PATH_MAX], dir[PATH_MAX];
	struct egress_bpf *skel;
	int link_fd;
	__u32 prog_id;
	char err_counting[200];
	/* The container's own MAC and addresses (anti-spoofing; where the
	 * return path delivers). */
	struct source_addr sources[MAX_SOURCES];
	int n_sources;
	unsigned char mac[6];
	int has_mac;
	/* The device the kernel routes the container's frames as: the host
	 * veth, or the bridge it is a port of. */
	char l3_name[IF_NAMESIZE];
	int l3_ifindex;
	unsigned char router_mac[6];
	int uplink_created[MAX_UPLINKS];
	int uplink_native;             /* the return path redirects natively */
	int nft_created;               /* this attach made conntrack run */
	struct kernel_caps caps;
	int clsact;                    /* the tc program as a clsact filter */
	int clsact_created;            /* and the clsact qdisc is ours */
	/* The record, written before each change (journal()). */
	const char *phase;             /* "attaching", then "attached" */
	cJSON *record;                 /* auto switching: the record to update */
};

static char *meta_json(const struct attach_state *s);
static cJSON *fix_json(const struct fix *f);

/* Replace the record's "fixes" with s's. */
static void fixes_to_json(cJSON *m, const struct attach_state *s)
{
	cJSON *arr = cJSON_CreateArray();
	int i;

	for (i = 0; i < s->n_fixes; i++)
		cJSON_AddItemToArray(arr, fix_json(&s->fixes[i]));
	if (cJSON_GetObjectItem(m, "fixes"))
		cJSON_ReplaceItemInObject(m, "fixes", arr);
	else
		cJSON_AddItemToObject(m, "fixes", arr);
}

/*
 * Write the attachment's record as it stands. Every change is recorded
 * before it is made, so after a kill at any point the record lists all
 * that detach (or the next attach) has to undo.
 */
static int journal(struct attach_state *s)
{
	char *json;
	int ret;

	if (s->record) {
		fixes_to_json(s->record, s);
		json = cJSON_PrintUnformatted(s->record);
	} else {
		json = meta_json(s);
	}
	ret = json && !meta_write(s->dir, json) ? 0 : -1;
	if (ret)
		pr_err("cannot record the attachment under %s: %s", s->dir,
		       strerror(errno));
	free(json);
	return ret;
}

/* ---- fixes: change an offload, remember it, undo it ---- */

static int netns_fd_for(unsigned long ino, unsigned long long cookie)
{
	if (cookie && cookie == netns_cookie(-1))
		return netns_open_self();
	return netns_find_by_id(ino, cookie);
}

static int fix_apply(struct attach_state *s, int netns_fd, const char *ifname,
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
	if (s->n_fixes == MAX_FIXES) {
		pr_err("internal: too many fixes");
		return -1;
	}
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

/* Undo one recorded change. Returns 0, or 1 when the device is gone. */
static int fix_undo(const struct fix *f, int verbose)
{
	int fd = netns_fd_for(f->netns_ino, f->netns_cookie);
	int ret = 0;

	if (fd < 0 || offload_get(fd, f->ifname, f->offload) < 0) {
		if (verbose)
			pr_info("  %s of %s: not restored, the interface or its "
				"namespace is gone%s", offload_names[f->offload],
				f->ifname, fd < 0 && errno == ESTALE ?
				" (its inode number now names another namespace)" : "");
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

/*
 * Where the tc program attaches (tc and auto modes): tcx where the kernel
 * has it (6.6), else a clsact filter, the same program and verdicts.
 */
static int choose_tc_hook(struct attach_state *s, enum tc_hook_req req)
{
	size_t n = strlen(s->mode_reason);

	if (!s->tc)
		return 0;
	if (req == TC_HOOK_TCX && !s->caps.tcx) {
		pr_err("--tc-hook tcx: kernel %s has no tcx (tc links arrived in "
		       "6.6); leave --tc-hook out (a clsact filter is used) or "
		       "give --tc-hook clsact", s->caps.release);
		return -1;
	}
	s->clsact = req == TC_HOOK_CLSACT || !s->caps.tcx;
	snprintf(s->mode_reason + n, sizeof(s->mode_reason) - n, "; the tc program %s",
		 req == TC_HOOK_CLSACT ? "as a clsact filter (--tc-hook clsact)" :
		 s->clsact ? "as a clsact filter (this kernel has no tcx, 6.6)"
			   : "through tcx");
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

/* ---- the container's own addresses ---- */

static int add_source(struct attach_state *s, int family, const void *addr,
		      int prefixlen)
{
	struct source_addr *a;

	if (s->n_sources == MAX_SOURCES) {
		pr_err("at most %d source addresses per attachment", MAX_SOURCES);
		return -1;
	}
	a = &s->sources[s->n_sources++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->addr, addr, family == AF_INET ? 4 : 16);
	a->prefixlen = prefixlen;
	return 0;
}

/* "ADDR" or "ADDR/LEN", IPv4 or IPv6. */
static int parse_source(struct attach_state *s, const char *text)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	unsigned char addr[16];
	int family, max, len, end = 0;

	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	max = family == AF_INET ? 32 : 128;
	len = max;
	if (inet_pton(family, buf, addr) != 1 ||
	    (slash && (sscanf(slash, "%d%n", &len, &end) != 1 || slash[end] ||
		       len < 0 || len > max))) {
		pr_err("--source '%s' is not an address or prefix (e.g. 10.0.0.5, "
		       "10.0.0.0/24, fd00::5)", text);
		return -1;
	}
	return add_source(s, family, addr, len);
}

static int learn_cb(const struct addr_info *a, void *arg)
{
	struct attach_state *s = arg;

	/* Global addresses only: the kernel never forwards link-local ones. */
	if (a->ifindex != s->t.container.ifindex || a->scope != 0 /* universe */)
		return 0;
	return add_source(s, a->family, a->addr, a->family == AF_INET ? 32 : 128);
}

int mac_parse(const char *text, unsigned char *mac)
{
	unsigned int b[6];
	int i, end = 0;

	/* The whole text: "52:54:00:12:34:56:78" or "...:5g" are no MAC. */
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6 || text[end])
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = b[i];
	}
	return 0;
}

/*
 * What the container may send from: for a container, its interface's MAC
 * and global addresses, read in its namespace; for a VM (tap), what
 * --source and --source-mac say (the guest is not ours to read). --source
 * adds to a container's own (a container that routes a subnet).
 */
static int learn_sources(struct attach_state *s, const struct attach_opts *o)
{
	int i;

	for (i = 0; i < o->n_sources; i++)
		if (parse_source(s, o->sources[i]))
			return -1;
	if (o->source_mac) {
		if (s->t.has_container) {
			pr_err("--source-mac is for a VM's tap: a container's MAC is "
			       "read from its interface (%s)", s->t.container.name);
			return -1;
		}
		if (mac_parse(o->source_mac, s->mac)) {
			pr_err("--source-mac '%s' is not a MAC address (e.g. "
			       "52:54:00:12:34:56)", o->source_mac);
			return -1;
		}
		s->has_mac = 1;
	}
	if (s->t.has_container) {
		struct mnl_socket *nl = nl_open_in(s->t.container_netns_fd);

		if (!nl || nl_addr_dump(nl, AF_UNSPEC, learn_cb, s) < 0) {
			pr_err("cannot read the addresses of %s in the container's "
			       "namespace: %s", s->t.container.name, strerror(errno));
			nl_close(nl);
			return -1;
		}
		nl_close(nl);
		memcpy(s->mac, s->t.container.mac, 6);
		s->has_mac = 1;
	}
	if (!s->n_sources)
		pr_warn("%s has no source address to accept%s: every packet it "
			"sends takes the kernel path (pass_spoofed)",
			s->t.host.name, s->t.has_container
				? " (the container's interface has no global address)"
				: "; give the guest's addresses with --source ADDR[/LEN]");
	return 0;
}

static const char *source_str(const struct source_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(a->family, a->addr, ip, sizeof(ip));
	snprintf(buf, len, "%s/%d", ip, a->prefixlen);
	return buf;
}

/* Into the attachment's own_sources map (before the program runs). */
static int fill_own_sources(struct attach_state *s)
{
	int fd = bpf_map__fd(s->skel->maps.own_sources), i;
	__u8 one = 1;

	for (i = 0; i < s->n_sources; i++) {
		struct source_key k = {};

		k.family = s->sources[i].family;
		k.prefixlen = 8 + s->sources[i].prefixlen;
		memcpy(k.addr, s->sources[i].addr, 16);
		if (bpf_map_update_elem(fd, &k, &one, 0)) {
			pr_err("cannot record the container's addresses: %s",
			       strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The device the kernel routes the container's frames as, and its MAC. */
static int find_l3_device(struct attach_state *s)
{
	struct mnl_socket *nl = nl_open_in(-1);
	struct link_info br;

	snprintf(s->l3_name, sizeof(s->l3_name), "%s", s->t.host.name);
	s->l3_ifindex = s->t.host.ifindex;
	memcpy(s->router_mac, s->t.host.mac, 6);
	if (s->t.host.master && nl && !nl_link_by_index(nl, s->t.host.master, &br) &&
	    !strcmp(br.kind, "bridge")) {
		snprintf(s->l3_name, sizeof(s->l3_name), "%s", br.name);
		s->l3_ifindex = br.ifindex;
		memcpy(s->router_mac, br.mac, 6);
		pr_info("  %s is a port of bridge %s: routes are looked up as the "
			"bridge's, as the kernel does", s->t.host.name, br.name);
	}
	nl_close(nl);
	return 0;
}

/* ---- the namespace's attached containers (the return path's targets) ---- */

static void container_key_of(const struct source_addr *a, struct container_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = a->family;
	memcpy(k->addr, a->addr, a->family == AF_INET ? 4 : 16);
}

static int is_host_addr(const struct source_addr *a)
{
	return a->prefixlen == (a->family == AF_INET ? 32 : 128);
}

static int add_containers(struct attach_state *s)
{
	struct bpf_devmap_val dv = { .ifindex = s->t.host.ifindex };
	struct container_val v = {};
	__u32 key = s->t.host.ifindex;
	int cfd = pins_open(s->ns_dir, "containers");
	int pfd = pins_open(s->ns_dir, "container_ports");
	int i, ret = -1;

	if (cfd < 0 || pfd < 0) {
		pr_err("the namespace's container maps are missing under %s",
		       s->ns_dir);
		goto out;
	}
	if (!s->has_mac) {
		ret = 0; /* nothing to deliver to: no return path for it */
		goto out;
	}
	if (bpf_map_update_elem(pfd, &key, &dv, 0)) {
		pr_err("%s cannot be a redirect target (%s)", s->t.host.name,
		       strerror(errno));
		goto out;
	}
	v.ifindex = s->t.host.ifindex;
	v.l3_ifindex = s->l3_ifindex;
	memcpy(v.mac, s->mac, 6);
	memcpy(v.router_mac, s->router_mac, 6);
	for (i = 0; i < s->n_sources; i++) {
		struct container_key k;

		if (!is_host_addr(&s->sources[i]))
			continue;
		container_key_of(&s->sources[i], &k);
		if (bpf_map_update_elem(cfd, &k, &v, 0)) {
			pr_err("cannot record the container's address for the "
			       "return path: %s", strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	if (cfd >= 0)
		close(cfd);
	if (pfd >= 0)
		close(pfd);
	return ret;
}

/* Remove what add_containers() recorded for ifindex (its record's
 * "sources", or s's own on rollback). */
static void del_containers(const char *ns_dir, __u32 ifindex, cJSON *sources)
{
	int cfd = pins_open(ns_dir, "containers");
	int pfd = pins_open(ns_dir, "container_ports");
	cJSON *src;

	cJSON_ArrayForEach(src, sources) {
		struct source_addr a = {};
		struct container_key k;
		struct container_val v;
		char buf[INET6_ADDRSTRLEN + 8], *slash;

		snprintf(buf, sizeof(buf), "%s", cJSON_GetStringValue(src) ?: "");
		slash = strchr(buf, '/');
		if (slash)
			*slash++ = 0;
		a.family = strchr(buf, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(a.family, buf, a.addr) != 1)
			continue;
		container_key_of(&a, &k);
		/* Only if it is still this attachment's (an address can move
		 * to a newer container). */
		if (cfd >= 0 && !bpf_map_lookup_elem(cfd, &k, &v) && v.ifindex == ifindex)
			bpf_map_delete_elem(cfd, &k);
	}
	if (pfd >= 0)
		bpf_map_delete_elem(pfd, &ifindex);
	if (cfd >= 0)
		close(cfd);
	if (pfd >= 0)
		close(pfd);
}

static cJSON *sources_json(const struct attach_state *s)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[INET6_ADDRSTRLEN + 8];
	int i;

	for (i = 0; i < s->n_sources; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(
			source_str(&s->sources[i], buf, sizeof(buf))));
	return arr;
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
 * The "why" of each starts with "peer of veth uplink NAME:", which detach
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
			"dropped (ethtool -K PEER gro on), and its tx-checksumming "
			"must be off for the return path", up->name);
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
		ret = fix_apply(s, fd, peer.name, OFFLOAD_GRO, 1,
				FIX_UPLINK_PEER, up->name, why);
	}
	if (!ret && csum) {
		snprintf(why, sizeof(why),
			 "peer of veth uplink %s: native XDP there loses the "
			 "partial checksums of what the peer sends", up->name);
		ret = fix_apply(s, fd, peer.name, OFFLOAD_TX_CSUM, 0,
				FIX_UPLINK_PEER, up->name, why);
	}
	if (!ret && tso) {
		snprintf(why, sizeof(why),
			 "peer of veth uplink %s: generic XDP there cannot "
			 "redirect the GSO super-packets the peer sends", up->name);
		ret = fix_apply(s, fd, peer.name, OFFLOAD_TSO, 0,
				FIX_UPLINK_PEER, up->name, why);
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
				    s->uplink_native, !s->uplink_native))
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
	cJSON_AddNumberToObject(o, "netns_cookie", (double)f->netns_cookie);
	cJSON_AddStringToObject(o, "offload", offload_names[f->offload]);
	cJSON_AddBoolToObject(o, "was", f->was);
	cJSON_AddBoolToObject(o, "now", f->now);
	cJSON_AddStringToObject(o, "role", fix_role_names[f->role]);
	if (f->role == FIX_UPLINK_PEER)
		cJSON_AddStringToObject(o, "uplink", f->uplink);
	cJSON_AddStringToObject(o, "why", f->why);
	return o;
}

static char *meta_json(const struct attach_state *s)
{
	cJSON *m = cJSON_CreateObject(), *arr, *o;
	char *out, mac[18];
	int i;

	cJSON_AddNumberToObject(m, "version", 2);
	layout_stamp_record(m);
	cJSON_AddStringToObject(m, "phase", s->phase ?: "attached");
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
	cJSON_AddStringToObject(m, "return_path",
				s->uplink_native ? "native" : "generic");
	if (s->tc) {
		cJSON_AddStringToObject(m, "tc_hook", s->clsact ? "clsact" : "tcx");
		if (s->clsact)
			cJSON_AddBoolToObject(m, "clsact_created", s->clsact_created);
	}
	if (s->t.has_container) {
		o = cJSON_AddObjectToObject(m, "container");
		cJSON_AddStringToObject(o, "ifname", s->t.container.name);
		cJSON_AddNumberToObject(o, "ifindex", s->t.container.ifindex);
		cJSON_AddNumberToObject(o, "netns_ino",
					(double)s->t.container_netns_ino);
		cJSON_AddNumberToObject(o, "netns_cookie",
					(double)s->t.container_netns_cookie);
	}
	if (s->nft_created)
		cJSON_AddNumberToObject(m, "nft_created", s->nft_created);
	cJSON_AddItemToObject(m, "sources", sources_json(s));
	cJSON_AddItemToObject(m, "kernel", kernel_caps_json(&s->caps));
	if (s->has_mac) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			 s->mac[0], s->mac[1], s->mac[2], s->mac[3], s->mac[4],
			 s->mac[5]);
		cJSON_AddStringToObject(m, "source_mac", mac);
	}
	fixes_to_json(m, s);
	out = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	return out;
}

static int name_index(const char *const *names, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (name && names[i] && !strcmp(name, names[i]))
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
		int off = name_index(offload_names, OFFLOAD_MAX,
				     cJSON_GetStringValue(cJSON_GetObjectItem(o, "offload")));
		int role = name_index(fix_role_names, FIX_ROLE_MAX,
				      cJSON_GetStringValue(cJSON_GetObjectItem(o, "role")));

		if (n == max || off < 0 || role < 0 || !cJSON_IsString(ifn))
			continue;
		memset(&fixes[n], 0, sizeof(fixes[n]));
		snprintf(fixes[n].ifname, IF_NAMESIZE, "%s", ifn->valuestring);
		fixes[n].netns_ino = (unsigned long)json_int(
			cJSON_GetObjectItem(o, "netns_ino"), 0, 1LL << 53, 0);
		fixes[n].netns_cookie = (unsigned long long)json_int(
			cJSON_GetObjectItem(o, "netns_cookie"), 0, 1LL << 53, 0);
		fixes[n].role = role;
		snprintf(fixes[n].uplink, IF_NAMESIZE, "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(o, "uplink")) ?: "");
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

/*
 * The namespace's last attachment is gone: its shared state goes too (the
 * agent, the shared maps, the tracepoints, and the conntrack rule when an
 * attach made it: nft_created here, or recorded in kct_config).
 */
static void ns_release_if_unused(const char *ns_dir, int nft_created)
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

void egress_rodata_set(struct egress_bpf *skel, int l3_ifindex,
		       const unsigned char *router_mac,
		       const unsigned char *source_mac, int auto_mode)
{
	int i;

	skel->rodata->l3_ifindex = l3_ifindex;
	for (i = 0; i < 6; i++) {
		skel->rodata->router_mac[i] = router_mac[i];
		skel->rodata->source_mac[i] = source_mac ? source_mac[i] : 0;
	}
	skel->rodata->check_router_mac = 1;
	skel->rodata->check_source_mac = source_mac != NULL;
	skel->rodata->xdp_marks_passed = auto_mode;
	skel->rodata->flows_off = flows_off_by_env();
}

/* Open and load the egress program for this attachment, sharing the
 * namespace's maps (or creating and pinning them). */
static int load_egress(struct attach_state *s)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .kconfig = kernel_kconfig_extra());
	struct kct_config cfg = {};
	__u32 zero = 0;
	int fd, created;

	s->skel = egress_bpf__open_opts(&oopts);
	if (!s->skel)
		goto fail;
	egress_rodata_set(s->skel, s->l3_ifindex != s->t.host.ifindex ?
				   s->l3_ifindex : 0,
			  s->router_mac, s->has_mac ? s->mac : NULL, s->adaptive);
	if (pins_reuse_shared(s->skel->obj, s->ns_dir))
		return -1;
	if (egress_bpf__load(s->skel))
		goto fail;
	fd = pins_open(s->ns_dir, "kct_config");
	created = fd < 0;
	if (fd >= 0)
		close(fd);
	if (pins_pin_shared(s->skel->obj, s->ns_dir))
		return -1;
	if (created) {
		/* The namespace's first attachment: its conntrack settings. */
		cfg.nft_table_ours = s->nft_created;
		if (kct_config_read(&cfg) ||
		    bpf_map_update_elem(bpf_map__fd(s->skel->maps.kct_config),
					&zero, &cfg, 0))
			return -1;
	} else {
		kct_config_refresh(s->ns_dir);
		/* Someone removed the table since; this attach made it again. */
		if (s->nft_created) {
			fd = bpf_map__fd(s->skel->maps.kct_config);
			if (!bpf_map_lookup_elem(fd, &zero, &cfg)) {
				cfg.nft_table_ours = s->nft_created;
				bpf_map_update_elem(fd, &zero, &cfg, 0);
			}
		}
	}
	return fill_own_sources(s);
fail:
	pr_err("cannot load the egress BPF program: %s%s%s (run as root, "
	       "kernel with BPF, BTF and nf_conntrack; -v shows libbpf's log "
	       "and the verifier's)", strerror(errno),
	       *log_libbpf_last() ? "; libbpf: " : "", log_libbpf_last());
	return -1;
}

/* The return path: one uplink program per uplink, shared by containers. */
static int ensure_uplinks(struct attach_state *s)
{
	int i, native;

	s->uplink_native = 0;
	for (i = 0; i < s->n_uplinks; i++) {
		if (uplink_ensure(s->ns_dir, &s->uplinks[i], s->uplink_mode,
				  &s->uplink_created[i], &native))
			return -1;
		s->uplink_native |= native;
	}
	return 0;
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
		struct tc_hook_state st;

		if (s->clsact) {
			/* Recorded before: a qdisc made here must not outlive
			 * a kill (detach removes it only if it is empty). */
			s->clsact_created = 1;
			if (journal(s))
				return -1;
		}
		if (tc_hook_attach(s->t.host.ifindex, s->t.host.name,
				   bpf_program__fd(prog), s->clsact, &st))
			return -1;
		s->link_fd = st.link_fd;
		s->clsact_created = st.clsact_created;
	} else {
		lopts.flags = s->native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
		s->link_fd = bpf_link_create(bpf_program__fd(prog),
					     s->t.host.ifindex, BPF_XDP, &lopts);
		if (s->link_fd < 0) {
			int err = errno;

			if (err == EBUSY || err == EEXIST)
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
	}
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &info_len) == 0)
		s->prog_id = info.id;
	if (mkdir(s->dir, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %s", s->dir, strerror(errno));
		return -1;
	}
	if ((s->adaptive && pin_fd(bpf_program__fd(s->skel->progs.xdp_egress),
				   s->dir, "xdp_prog")) ||
	    (s->link_fd >= 0 && pin_fd(s->link_fd, s->dir, "link")) ||
	    (s->clsact && pin_fd(bpf_program__fd(prog), s->dir, "tc_prog")) ||
	    pin_fd(bpf_map__fd(s->skel->maps.egress_stats), s->dir, "egress_stats") ||
	    pin_fd(bpf_map__fd(s->skel->maps.own_sources), s->dir, "own_sources") ||
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

/* Does any attachment other than skip_dir use uplink ifname? */
struct uplink_users {
	const char *skip_dir, *ifname;
	int users;
};

static int uplinks_contain(cJSON *m, const char *ifname);

static int count_uplink_user(const char *dir, cJSON *m, void *arg)
{
	struct uplink_users *u = arg;

	if ((!u->skip_dir || strcmp(dir, u->skip_dir)) &&
	    uplinks_contain(m, u->ifname))
		u->users++;
	return 0;
}

static int uplink_users(const char *ns_dir, const char *skip_dir,
			const char *ifname)
{
	struct uplink_users u = { skip_dir, ifname, 0 };

	pins_foreach_record(ns_dir, count_uplink_user, &u);
	return u.users;
}

static int detach_dir(const char *dir, const char *ns_dir, int verbose,
		      int *nft_created);

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

static int attach_locked(const struct attach_opts *o)
{
	struct attach_state *s = calloc(1, sizeof(*s));
	struct stat st;
	char *json = NULL, buf[INET6_ADDRSTRLEN + 8];
	int i, ret = 1;

	if (!s)
		return 1;
	s->link_fd = -1;
	s->uplink_mode = o->uplink_mode;
	if (target_resolve(&o->spec, &s->t))
		goto out_free;
	if (pins_root(s->root, sizeof(s->root)))
		goto out;
	pins_ns_dir(s->ns_dir, sizeof(s->ns_dir), s->root, s->t.host_netns_cookie);
	pins_attach_dir(s->dir, sizeof(s->dir), s->ns_dir, s->t.host.ifindex);
	if (!stat(s->dir, &st) && !finish_interrupted(s)) {
		/* What it left is gone: read the device again. */
		target_release(&s->t);
		if (target_resolve(&o->spec, &s->t))
			goto out_free;
	}
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
	if (choose_mode(s, o->mode) || resolve_uplinks(s, o) ||
	    learn_sources(s, o) || find_l3_device(s))
		goto out_nodir;
	if (mkdir(s->ns_dir, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %s", s->ns_dir, strerror(errno));
		goto out_nodir;
	}
	/* The record comes first, and grows before each change it lists. */
	if (mkdir(s->dir, 0700)) {
		pr_err("cannot create %s: %s", s->dir, strerror(errno));
		goto out_nodir;
	}
	s->phase = "attaching";
	s->nft_created = kct_conntrack_needed();
	if (journal(s))
		goto fail;
	if (kct_conntrack_ensure(&s->nft_created) || journal(s))
		goto fail;
	kernel_caps_probe(&s->caps);
	if (kernel_caps_require(&s->caps) || choose_tc_hook(s, o->tc_hook))
		goto fail;
	if (load_egress(s) || ensure_uplinks(s) || apply_fixes(s) ||
	    add_containers(s) || load_and_attach(s))
		goto fail;
	s->phase = "attached";
	if (journal(s))
		goto fail;
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
	agent_ensure(s->ns_dir);
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
	const char *uplink;
};

static int take_over_fix(const char *dir, cJSON *m, void *arg)
{
	struct hand_over *h = arg;
	const struct fix *f = h->f;
	int taken;
	char *js;

	struct fix have[MAX_FIXES];
	int i, n;

	if (!strcmp(dir, h->self_dir) || !uplinks_contain(m, h->uplink))
		return 0;
	/* Handed over already, by a detach that was killed after it. */
	n = fixes_from_json(m, have, MAX_FIXES);
	for (i = 0; i < n; i++)
		if (have[i].offload == f->offload && have[i].netns_cookie ==
		    f->netns_cookie && !strcmp(have[i].ifname, f->ifname))
			return 1;
	cJSON_AddItemToArray(cJSON_GetObjectItem(m, "fixes"), fix_json(f));
	js = cJSON_PrintUnformatted(m);
	taken = js && !meta_write(dir, js);
	if (taken)
		pr_info("  kept %s %s on %s: %s still needs it (uplink %s)",
			offload_names[f->offload], f->now ? "on" : "off", f->ifname,
			cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname")),
			h->uplink);
	free(js);
	return taken;
}

static int hand_over_fix(const char *ns_dir, const char *self_dir,
			 const struct fix *f, const char *uplink)
{
	struct hand_over h = { self_dir, f, uplink };

	return pins_foreach_record(ns_dir, take_over_fix, &h);
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

/*
 * Undo what the record in dir lists and remove its pins. Every step can
 * run again: a detach killed half-way leaves the record (state
 * "detaching"), removed last, and the next detach or attach repeats it.
 * *nft_created: the conntrack rule an interrupted attach made, for
 * ns_release_if_unused() (a finished one recorded it in kct_config).
 */
static int detach_dir(const char *dir, const char *ns_dir, int verbose,
		      int *nft_created)
{
	struct fix fixes[MAX_FIXES];
	char buf[META_SIZE], ifname[IF_NAMESIZE] = "?";
	struct mnl_socket *nl;
	struct link_info li;
	int n = 0, i, ifindex = 0, ret = 0;
	cJSON *m = NULL;
	char *js;

	if (!meta_read(dir, buf, sizeof(buf)))
		m = cJSON_Parse(buf);
	if (m) {
		snprintf(ifname, sizeof(ifname), "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname")) ?: "?");
		ifindex = (int)json_int(cJSON_GetObjectItem(m, "ifindex"), 0,
					INT_MAX, 0);
		n = fixes_from_json(m, fixes, MAX_FIXES);
		*nft_created = (int)json_int(cJSON_GetObjectItem(m, "nft_created"),
					     0, KCT_NFT_MADE_CHAIN, 0);
		cJSON_ReplaceItemInObject(m, "phase", cJSON_CreateString("detaching"));
		js = cJSON_PrintUnformatted(m);
		if (!js || meta_write(dir, js))
			pr_warn("cannot mark %s as detaching: %s", dir, strerror(errno));
		free(js);
	} else if (verbose) {
		pr_warn("%s has no readable record; removing its pins only", dir);
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
	}
	/* The kernel frees an unpinned link from a workqueue
	 * (bpf_link_put() defers), so the program may linger a moment. */
	nl = nl_open_in(-1);
	if (!m || !cJSON_GetNumberValue(cJSON_GetObjectItem(m, "prog_id")))
		ifindex = 0; /* killed before its program was loaded */
	for (i = 0; nl && ifindex && m && i < 50; i++) {
		if (nl_link_by_index(nl, ifindex, &li) || strcmp(li.name, ifname) ||
		    li.xdp_prog_id != (__u32)json_int(
			    cJSON_GetObjectItem(m, "prog_id"), 0, UINT32_MAX, 0))
			break;
		usleep(20000);
	}
	if (nl && ifindex && m && i == 50) {
		pr_err("the program is still attached to %s after 1 s: another "
		       "process holds its link open (bpftool link show)", ifname);
		ret = 1;
	}
	nl_close(nl);
	for (i = n - 1; i >= 0; i--) {
		/* An uplink peer's fix serves every attachment using it. */
		if (fixes[i].role == FIX_UPLINK_PEER &&
		    hand_over_fix(ns_dir, dir, &fixes[i], fixes[i].uplink))
			continue;
		if (fix_undo(&fixes[i], verbose) < 0)
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

static int detach_locked(const struct target_spec *spec, int all)
{
	char root[PATH_MAX], ns_dir[PATH_MAX], dir[PATH_MAX];
	struct target t;
	struct stat st;
	int ret = 0, nft = 0;

	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(ns_dir, sizeof(ns_dir), root))
		return 1;
	if (all) {
		DIR *d = opendir(ns_dir);
		struct dirent *de;
		int count = 0, one;

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

/* attach, detach and the tuner's switches run one at a time per pin root:
 * they share the namespace's maps, the uplink programs and the records of
 * other attachments (lock.h; re-entrant, so the CNI plugin holds it across
 * its whole command). */
static int with_lock(int (*fn)(const void *, int), const void *arg, int all)
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

/* Give the container back what auto mode's native XDP took from it. */
static void drop_auto_fixes(struct attach_state *s)
{
	int i;

	for (i = 0; i < s->n_fixes; i++) {
		if (s->fixes[i].role != FIX_AUTO)
			continue;
		fix_undo(&s->fixes[i], 0);
		memmove(&s->fixes[i], &s->fixes[i + 1],
			(s->n_fixes - i - 1) * sizeof(s->fixes[0]));
		s->n_fixes--;
		i--;
	}
}

static int auto_switch_locked(const void *arg, int unused)
{
	const struct switch_args *a = arg;
	struct attach_state *s = calloc(1, sizeof(*s));
	char buf[META_SIZE], path[PATH_MAX];
	cJSON *m = NULL, *au, *c;
	const char *state, *cname;
	int ret = -1, ifindex, fd = -1, lfd = -1, cfd = -1;

	if (!s)
		return -1;
	if (meta_read(a->dir, buf, sizeof(buf)) || !(m = cJSON_Parse(buf))) {
		ret = 1; /* detached meanwhile */
		goto out;
	}
	au = cJSON_GetObjectItem(m, "auto");
	state = cJSON_GetStringValue(cJSON_GetObjectItem(au, "state"));
	if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m, "phase")) ?: "",
		   "attached") || !au || !state || !strcmp(state, a->native ? "native" : "tc") ||
	    (a->native && cJSON_GetObjectItem(au, "native_blocked"))) {
		ret = 1;
		goto out;
	}
	ifindex = (int)json_int(cJSON_GetObjectItem(m, "ifindex"), 0, INT_MAX, 0);
	c = cJSON_GetObjectItem(m, "container");
	cname = cJSON_GetStringValue(cJSON_GetObjectItem(c, "ifname"));
	s->n_fixes = fixes_from_json(m, s->fixes, MAX_FIXES);
	snprintf(s->dir, sizeof(s->dir), "%s", a->dir);
	s->record = m; /* fix_apply() records each fix here before it acts */

	if (a->native) {
		LIBBPF_OPTS(bpf_link_create_opts, lopts);

		/* Checksums first: a partial one must never meet native XDP. */
		if (cname) {
			cfd = netns_fd_for(
				(unsigned long)json_int(cJSON_GetObjectItem(
					c, "netns_ino"), 0, 1LL << 53, 0),
				(unsigned long long)json_int(cJSON_GetObjectItem(
					c, "netns_cookie"), 0, 1LL << 53, 0));
			if (cfd < 0 || fix_apply(s, cfd, cname, OFFLOAD_TX_CSUM, 0,
						 FIX_AUTO, NULL, AUTO_FIX_WHY))
				goto out;
		}
		/* A switch killed after pinning its link left one behind. */
		link_detach_pin(a->dir, "xdp_link");
		snprintf(path, sizeof(path), "%s/xdp_prog", a->dir);
		fd = bpf_obj_get(path);
		lopts.flags = XDP_FLAGS_DRV_MODE;
		if (fd >= 0)
			lfd = bpf_link_create(fd, ifindex, BPF_XDP, &lopts);
		if (lfd < 0 || pin_fd(lfd, a->dir, "xdp_link")) {
			pr_err("auto: cannot put native XDP on ifindex %d: %s", ifindex,
			       strerror(errno));
			drop_auto_fixes(s);
			journal(s);
			goto out;
		}
	} else {
		link_detach_pin(a->dir, "xdp_link");
		/* Then give the container its checksum offload (and so TSO)
		 * back. */
		drop_auto_fixes(s);
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
	/* Counted for the exporter (xdp_egress_auto_switches_total); records
	 * written before it have none: 0. */
	{
		double n = (double)(json_int(cJSON_GetObjectItem(au, "switches"),
					     0, 1LL << 53, 0) + 1);

		cJSON_DeleteItemFromObject(au, "switches");
		cJSON_AddNumberToObject(au, "switches", n);
	}
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
