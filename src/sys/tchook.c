// SPDX-License-Identifier: GPL-2.0
/* tc program attachment: tcx link or clsact filter (tchook.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "nl.h"
#include "pins.h"
#include "tchook.h"

#ifndef TC_H_CLSACT
#define TC_H_CLSACT TC_H_INGRESS
#endif
#ifndef TC_H_MIN_INGRESS
#define TC_H_MIN_INGRESS 0xFFF2U
#define TC_H_MIN_EGRESS 0xFFF3U
#endif

static int attach_tcx(int ifindex, const char *ifname, int prog_fd,
		      struct tc_hook_state *st)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);

	/* First in line: other tcx programs (a CNI's) see what this one
	 * leaves to the kernel (TCX_NEXT). */
	lopts.flags = BPF_F_BEFORE;
	st->link_fd = bpf_link_create(prog_fd, ifindex,
				      (enum bpf_attach_type)XE_BPF_TCX_INGRESS, &lopts);
	if (st->link_fd < 0) {
		pr_err("attaching the tc program to %s through tcx failed: %s; "
		       "try --tc-hook clsact", ifname, strerror(errno));
		return -1;
	}
	return 0;
}

static int attach_clsact(int ifindex, const char *ifname, int prog_fd,
			 struct tc_hook_state *st)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = XE_TC_HANDLE,
		    .priority = XE_TC_PRIORITY);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST) {
		pr_err("cannot add a clsact qdisc to %s: %s", ifname, strerror(-err));
		return -1;
	}
	st->clsact_created = !err;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_err("cannot add the tc filter to %s (clsact ingress, priority "
		       "%d): %s%s", ifname, XE_TC_PRIORITY, strerror(-err),
		       err == -EEXIST ? "; another filter holds that place: "
					"remove it (tc filter show dev IF ingress)" : "");
		if (st->clsact_created)
			bpf_tc_hook_destroy(&hook);
		st->clsact_created = 0;
		return -1;
	}
	return 0;
}

int tc_hook_attach(int ifindex, const char *ifname, int prog_fd, int clsact,
		   struct tc_hook_state *st)
{
	memset(st, 0, sizeof(*st));
	st->link_fd = -1;
	st->clsact = clsact;
	return clsact ? attach_clsact(ifindex, ifname, prog_fd, st)
		      : attach_tcx(ifindex, ifname, prog_fd, st);
}

void tc_hook_detach_clsact(int ifindex, int created)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XE_TC_HANDLE,
		    .priority = XE_TC_PRIORITY);
	struct mnl_socket *nl;
	int in, out;

	bpf_tc_detach(&hook, &opts);
	if (!created)
		return;
	nl = nl_open_in(-1);
	in = nl ? nl_tc_filter_count(nl, ifindex,
				     TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)) : -1;
	out = nl ? nl_tc_filter_count(nl, ifindex,
				      TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)) : -1;
	nl_close(nl);
	if (in == 0 && out == 0) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

__u32 tc_hook_clsact_prog(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XE_TC_HANDLE,
		    .priority = XE_TC_PRIORITY);

	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}
