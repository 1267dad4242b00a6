/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The return path (bpf/uplink.bpf.c): one XDP program per uplink, shared by
 * every attachment of the host namespace that uses that uplink, pinned in
 * ns_dir/up<IFINDEX>/.
 */
#ifndef XE_UPLINK_H
#define XE_UPLINK_H

#include "nl.h"

/* --uplink-mode: the XDP mode of the return path. */
enum uplink_mode {
	UPLINK_AUTO = 0,        /* generic on a veth uplink, else native */
	UPLINK_NATIVE,
	UPLINK_GENERIC,
};

/* The uplink program's load-time settings (uplink_ensure and upgrade). */
struct uplink_bpf;
void uplink_rodata_set(struct uplink_bpf *skel, const unsigned char *mac);

/* Load (or reuse) the uplink program on up in mode (native falls back to
 * generic where the driver refuses it). *created: this call attached it;
 * *native_out: it runs natively. Prints errors. */
int uplink_ensure(const char *ns_dir, const struct link_info *up,
		  enum uplink_mode mode, int *created, int *native_out);
/* Detach the uplink program of ifindex and remove its pins. */
int uplink_remove(const char *ns_dir, int ifindex);

#endif
