/* SPDX-License-Identifier: GPL-2.0 */
/* attach / detach: load, fix the kernel traps, attach, pin; and undo it all. */
#ifndef XE_ATTACH_H
#define XE_ATTACH_H

#include "target.h"
#include "xdp_egress.h"
#include "snat.h"

/* MODE_TC is not XDP at all: the same stages as a tcx ingress program on
 * the skb, which keeps the container's TSO and checksum offload. */
enum xdp_mode_req { MODE_AUTO = 0, MODE_NATIVE, MODE_GENERIC, MODE_TC };

struct attach_opts {
	struct target_spec spec;
	enum xdp_mode_req mode;
	const char *uplinks[MAX_UPLINKS];
	int n_uplinks;
	struct snat_opts snat;
};

int cmd_attach(const struct attach_opts *o);
/* all: detach every attachment of this host namespace. */
int cmd_detach(const struct target_spec *spec, int all);

/* Largest container MTU native XDP on a veth accepts for a non-frags
 * program (veth_xdp_set() in drivers/net/veth.c, kernel >= 5.x). */
unsigned int veth_native_max_mtu(void);

#endif
