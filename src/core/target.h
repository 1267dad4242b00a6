/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TARGET resolution: from --ifname / --netns / --pid / --docker / --podman
 * to the host-side device the program attaches to and the container-side
 * device whose offloads attach may have to change.
 */
#ifndef XE_TARGET_H
#define XE_TARGET_H

#include <sys/types.h>
#include "nl.h"

struct target_spec {
	const char *ifname;        /* --ifname: host-side veth or tap */
	const char *netns;         /* --netns NAME|PATH */
	pid_t pid;                 /* --pid */
	const char *container_if;  /* --container-if, with --netns/--pid */
	int tap;                   /* --tap: ifname must be a VM's tap device */
	const char *container;     /* --docker / --podman NAME|ID: its pid */
	int engine;                /* enum engine_kind (docker.h) of container */
};

struct target {
	struct link_info host;       /* the device XDP attaches to */
	int has_container;           /* 0 for a tap: the guest is not ours */
	struct link_info container;  /* the veth peer, in its own netns */
	int container_netns_fd;      /* -1 when has_container == 0 */
	unsigned long container_netns_ino;       /* finds it (reused later) */
	unsigned long long container_netns_cookie; /* identifies it */
	unsigned long host_netns_ino;
	unsigned long long host_netns_cookie;
};

/* Describe the spec for messages: "--netns c1", "--ifname vc1"... */
const char *target_spec_str(const struct target_spec *spec);
/* 0 on success; on failure prints why (and what to do) and returns -1. */
int target_resolve(const struct target_spec *spec, struct target *t);
void target_release(struct target *t);
/* Find the netns fd holding the peer of a link with link_netnsid nsid, as
 * seen from the namespace of nl. -1 when none can be opened. */
int netns_find_by_nsid(struct mnl_socket *nl, int nsid);

#endif
