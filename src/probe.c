// SPDX-License-Identifier: GPL-2.0
/* Kernel feature probes (probe.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "pins.h"
#include "probe.h"

/* tcx answers BPF_PROG_QUERY for its attach type on any device (loopback
 * exists in every namespace); a kernel without tcx rejects the type. */
static int probe_tcx(void)
{
	__u32 attach_flags = 0, cnt = 0;

	return !bpf_prog_query(1, (enum bpf_attach_type)XE_BPF_TCX_INGRESS, 0,
			       &attach_flags, NULL, &cnt);
}

static int btf_has_func(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
}

void kernel_caps_probe(struct kernel_caps *c)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *mod = NULL;
	struct utsname u;

	memset(c, 0, sizeof(*c));
	if (!uname(&u))
		snprintf(c->release, sizeof(c->release), "%s", u.release);
	c->tcx = probe_tcx();
	if (btf_has_func(vmlinux, "bpf_xdp_ct_lookup")) {
		c->ct_kfuncs = 1;
	} else if (vmlinux) {
		mod = btf__load_module_btf("nf_conntrack", vmlinux);
		c->ct_kfuncs = c->ct_kfuncs_module =
			btf_has_func(mod, "bpf_xdp_ct_lookup");
	}
	btf__free(mod);
	btf__free(vmlinux);
}

int kernel_caps_require(const struct kernel_caps *c)
{
	if (c->ct_kfuncs)
		return 0;
	pr_err("kernel %s has no conntrack kfuncs (bpf_xdp_ct_lookup, in the "
	       "kernel since 6.0, needs CONFIG_NF_CONNTRACK and BTF): the fast "
	       "path carries only flows the kernel's conntrack accepted, so it "
	       "cannot run here; use a kernel with them (Debian 12's 6.1 has "
	       "them), and check that nf_conntrack is loaded (lsmod)",
	       c->release);
	return -1;
}
