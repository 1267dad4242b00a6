/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a tc program attaches on a device's ingress: a tcx link (kernel
 * 6.6), first in line, or on older kernels a cls_bpf filter under a clsact
 * qdisc (libbpf's bpf_tc_* API), priority 1, in direct-action mode. Both
 * run the same program with the same verdicts (egress.bpf.c's TC_PASS).
 */
#ifndef XE_TCHOOK_H
#define XE_TCHOOK_H

#include <linux/types.h>

/* Our filter's place under clsact: handle "xe", the first priority. */
#define XE_TC_HANDLE 0x7865
#define XE_TC_PRIORITY 1

struct tc_hook_state {
	int clsact;             /* a clsact filter, not a tcx link */
	int clsact_created;     /* the clsact qdisc is ours (detach may remove it) */
	int link_fd;            /* tcx: the link (the caller pins it) */
};

/* Attach prog_fd to ifindex's ingress. Errors printed; -1. */
int tc_hook_attach(int ifindex, const char *ifname, int prog_fd, int clsact,
		   struct tc_hook_state *st);
/* Remove our clsact filter from ifindex, and the clsact qdisc too when
 * created says attach made it and no filter is left on it (ingress or
 * egress): another program's filters are never taken with it. */
void tc_hook_detach_clsact(int ifindex, int created);
/* The program id of our clsact filter on ifindex, 0 when none. */
__u32 tc_hook_clsact_prog(int ifindex);

#endif
