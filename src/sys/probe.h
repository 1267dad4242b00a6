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
	unsigned int hz;       /* CONFIG_HZ (kernel_hz()) */
	int hz_measured;       /* no readable kernel config: measured */
};

/* Fill c. Call after conntrack runs in the namespace (kct.h): on a kernel
 * with nf_conntrack as a module, its kfuncs appear once it is loaded. */
void kernel_caps_probe(struct kernel_caps *c);
/* The conntrack kfuncs are required: 0, or -1 with an error printed. */
int kernel_caps_require(const struct kernel_caps *c);

/*
 * The Kconfig text to give libbpf when it opens a BPF object
 * (bpf_object_open_opts.kconfig), or NULL when it can read the kernel's own.
 * The programs read CONFIG_HZ (an __kconfig extern, bpf/kct.h), which libbpf
 * takes from /boot/config-$(uname -r) or /proc/config.gz: a host without
 * either (a Debian kernel without its /boot, a container without the
 * host's /boot, a VM booted from an initramfs) made every load fail with
 * "Invalid argument". There the tick rate is measured instead (jiffies
 * counted by a BPF program over 0.2 s) and passed as "CONFIG_HZ=N".
 */
const char *kernel_kconfig_extra(void);
/* The tick rate: CONFIG_HZ from the kernel's config, or measured. */
unsigned int kernel_hz(void);

/* The caps as the attachment's record keeps them ("kernel" in status
 * --json), and one line of text for status. */
struct cJSON;
struct cJSON *kernel_caps_json(const struct kernel_caps *c);
void kernel_caps_print(struct cJSON *k, const char *indent);

#endif
