/* SPDX-License-Identifier: GPL-2.0 */
/* Detach hands a container's translated flows to the kernel's conntrack. */
#ifndef XE_HANDOVER_H
#define XE_HANDOVER_H

#include <linux/types.h>
#include <linux/bpf.h>
#include "xdp_egress.h"

struct handover_result {
	int flows;        /* live flows of the container */
	int handed;       /* written into the kernel's conntrack */
	int failed;
	int no_nat;       /* not handed: no NAT in the namespace for its family */
	int first_errno;  /* why the first one failed */
};

/* Write every live flow of ifindex (ct map ct_fd) into the kernel's
 * conntrack of the current namespace, with its NAT mapping. */
int handover_flows(int ct_fd, __u32 ifindex, struct handover_result *res);
/* Does this namespace have source NAT for family (nftables or iptables)? */
int kernel_nat_present(int family);

#endif
