/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the running kernel can do for the data path, found by asking it (a
 * query, a BTF lookup), never by its version number: distributions
 * backport, and configs differ. attach picks the best path from this and
 * says why; what is missing but required is an error that says since which
 * kernel it exists and what to do.
 */
#ifndef XE_PROBE_H
#define XE_PROBE_H

struct kernel_caps {
	char release[65];
	int tcx;               /* tcx links for tc programs (6.6) */
	int ct_kfuncs;         /* bpf_xdp_ct_lookup & co (6.0; nf_conntrack
				* loaded, its BTF present) */
	int ct_kfuncs_module;  /* they live in nf_conntrack.ko, not vmlinux */
};

/* Fill c. Call after conntrack runs in the namespace (kct.h): on a kernel
 * with nf_conntrack as a module, its kfuncs appear once it is loaded. */
void kernel_caps_probe(struct kernel_caps *c);
/* The conntrack kfuncs are required: 0, or -1 with an error printed. */
int kernel_caps_require(const struct kernel_caps *c);

#endif
