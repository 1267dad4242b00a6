/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The return path (bpf/uplink.bpf.c): one XDP program per uplink, shared by
 * every attachment of the host namespace that uses that uplink, pinned in
 * ns_dir/up<IFINDEX>/.
 */
#ifndef XE_UPLINK_H
#define XE_UPLINK_H

#include "nl.h"

/* Load (or reuse) the uplink program on up. generic: ask for generic XDP
 * (native is tried first otherwise, generic if refused). *created: this
 * call attached it; *native_out: it runs natively. Prints errors. */
int uplink_ensure(const char *ns_dir, const struct link_info *up, int generic,
		  int *created, int *native_out);
/* Detach the uplink program of ifindex and remove its pins. */
int uplink_remove(const char *ns_dir, int ifindex);

#endif
