/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside attach and detach: the state one attach builds up, and the steps
 * the files that make up the control plane share. Not for other callers:
 * they use attach.h.
 *
 *   mode.c           which data path (native, generic, tc, auto) and tc hook
 *   route_devices.c  the uplinks and the device the kernel routes as
 *   sources.c        the container's own MAC and addresses; its entries in
 *                    the namespace's container maps (the return path)
 *   fixes.c          offload changes: make, record, undo, hand over
 *   record.c         the attachment's record (meta map) and look-ups in it
 *   load.c           load the programs, attach, pin
 *   attach.c         attach as a whole, its rollback; the attach lock
 *   detach.c         detach as a whole; the namespace's shared state
 *   auto_switch.c    auto mode: native XDP in front of tc, on demand
 */
#ifndef XE_ATTACH_INT_H
#define XE_ATTACH_INT_H

#include <limits.h>
#include <net/if.h>
#include <cjson/cJSON.h>

#include "attach.h"
#include "ethtool.h"
#include "nl.h"
#include "probe.h"
#include "target.h"
#include "uplink.h"

/*
 * One change attach made to a device's offloads, recorded (in the
 * attachment's record, see journal()) before it is made. Its role says who
 * needs it: detach hands an uplink peer's fix to another attachment still
 * using that uplink, and auto mode owns its own.
 */
enum fix_role { FIX_CONTAINER, FIX_UPLINK_PEER, FIX_AUTO, FIX_ROLE_MAX };
extern const char *const fix_role_names[FIX_ROLE_MAX];

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

struct source_addr {
	int family;
	unsigned char addr[16];
	int prefixlen;
};

#define MAX_SOURCES 32

struct egress_bpf;

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
	struct fix *fixes;             /* grown by fix_apply(); free() it */
	int n_fixes, max_fixes;
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
	int uplink_run[MAX_UPLINKS];   /* how each uplink's return path runs
					* (enum uplink_mode) */
	int nft_created;               /* this attach made conntrack run */
	struct kernel_caps caps;
	int clsact;                    /* the tc program as a clsact filter */
	int clsact_created;            /* and the clsact qdisc is ours */
	/* The record, written before each change (journal()). */
	const char *phase;             /* "attaching", then "attached" */
	cJSON *record;                 /* auto switching: the record to update */
};

/* mode.c */
int choose_mode(struct attach_state *s, enum xdp_mode_req req);
int choose_tc_hook(struct attach_state *s, enum tc_hook_req req);
const char *mode_name(const struct attach_state *s);

/* route_devices.c */
int resolve_uplinks(struct attach_state *s, const struct attach_opts *o);
int find_l3_device(struct attach_state *s);

/* sources.c */
int learn_sources(struct attach_state *s, const struct attach_opts *o);
const char *source_str(const struct source_addr *a, char *buf, size_t len);
int fill_own_sources(struct attach_state *s);
cJSON *sources_json(const struct attach_state *s);
int add_containers(struct attach_state *s);
/* Remove what add_containers() recorded for ifindex (its record's
 * "sources"). */
void del_containers(const char *ns_dir, __u32 ifindex, cJSON *sources);

/* fixes.c */
/* The namespace a fix names, verified by its cookie; -1 when gone. */
int netns_fd_for(unsigned long ino, unsigned long long cookie);
/* Set offload o of ifname (in netns_fd) to want, recorded first (journal).
 * Nothing is recorded when it is so already. -1 on error (printed). */
int fix_apply(struct attach_state *s, int netns_fd, const char *ifname,
	      enum offload o, int want, enum fix_role role,
	      const char *uplink, const char *why);
/* Undo one recorded change. 0, 1 when the device is gone, -1 on error. */
int fix_undo(const struct fix *f, int verbose);
/* Every fix the chosen data path needs, on the container and the uplinks'
 * peers. */
int apply_fixes(struct attach_state *s);
/* Give an uplink peer's fix to another attachment in ns_dir using that
 * uplink; 1 when one took it. */
int hand_over_fix(const char *ns_dir, const char *self_dir, const struct fix *f);

/* record.c */
/* Write s's record as it stands: before every change it lists. */
int journal(struct attach_state *s);
/* Replace the record's "fixes" with s's. */
void fixes_to_json(cJSON *m, const struct attach_state *s);
cJSON *fix_json(const struct fix *f);
/* The "fixes" of record m into *out (malloc'ed, every one of them);
 * their count, or -1 (printed). */
int fixes_from_json(cJSON *m, struct fix **out);
int find_dir_by_ifname(const char *ns_dir, const char *ifname, char *out,
		       size_t len);
int uplinks_contain(cJSON *m, const char *ifname);
/* How many attachments other than skip_dir use uplink ifname. */
int uplink_users(const char *ns_dir, const char *skip_dir, const char *ifname);

/* load.c */
int pin_fd(int fd, const char *dir, const char *name);
int load_egress(struct attach_state *s);
int ensure_uplinks(struct attach_state *s);
int load_and_attach(struct attach_state *s);

/* detach.c */
/* Undo what the record in dir lists and remove its pins (repeatable). */
int detach_dir(const char *dir, const char *ns_dir, int verbose,
	       int *nft_created);
/* The namespace's last attachment is gone: remove its shared state. */
void ns_release_if_unused(const char *ns_dir, int nft_created);
/* Detach the bpf_link pinned at dir/name (if any) and unpin it. */
void link_detach_pin(const char *dir, const char *name);

/* attach.c */
/* Run fn(arg, all) under the attach lock, with the pins' layout checked. */
int with_lock(int (*fn)(const void *, int), const void *arg, int all);

#endif
