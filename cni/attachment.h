/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pod's host-side interface, and the attachment xdp-egress recorded
 * on it (read from the pins): what ADD, DEL and CHECK look at.
 */
#ifndef XE_CNI_ATTACHMENT_H
#define XE_CNI_ATTACHMENT_H

#include <stddef.h>

#include "commands.h"
#include "conf.h"

/* A path's inode, 0 when it does not exist. */
unsigned long path_inode(const char *path);

/*
 * The host side of the pod's interface: resolved from the pod's namespace
 * (the veth's peer), then required to be one prevResult reports as the
 * host side, so that we attach to what the previous plugin made. 0, or -1
 * with why set.
 */
int find_host_if(const struct cni_conf *c, const struct cni_env *env,
		 char *host, size_t len, char *why, size_t why_len);

struct attachment_info {
	int found;
	int ifindex;
	unsigned int prog_id;
	char mode[16];
};

/*
 * The attachment recorded under ifname in this host namespace, if any, found
 * by the name in its record so that it is found after the device is gone.
 * prog_id is 0 unless the device still runs the recorded program. -1 when
 * the pins cannot be looked at.
 */
int attachment_of(const char *ifname, struct attachment_info *ai);

#endif
