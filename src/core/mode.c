// SPDX-License-Identifier: GPL-2.0
/*
 * Mode choice: which data path an attachment runs (native or generic XDP,
 * the tc program, or auto: tc with native XDP in front on demand), why, and
 * where the tc program hooks in (tcx or a clsact filter). Native XDP on a
 * veth has limits of its own (MTU, queue counts): native_blockers() says
 * which one stands in the way, and what to do about it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "log.h"

/* Sizes from drivers/net/veth.c (VETH_XDP_HEADROOM) and skbuff.h
 * (SKB_WITH_OVERHEAD: struct skb_shared_info is 320 bytes on 64-bit). */
#define VETH_XDP_HEADROOM 256
#define SKB_SHINFO_SIZE 320
#define ETH_HLEN_ 14

unsigned int veth_native_max_mtu(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return (unsigned int)(page - VETH_XDP_HEADROOM - SKB_SHINFO_SIZE - ETH_HLEN_);
}

/* Empty string when native XDP can attach; otherwise why not. */
static void native_blockers(const struct target *t, char *why, size_t len)
{
	struct channels hch, cch;
	unsigned int max_mtu = veth_native_max_mtu();
	unsigned int rx, tx;

	why[0] = 0;
	if (!t->has_container)
		return;
	if (t->container.mtu > max_mtu) {
		snprintf(why, len,
			 "container interface %s has MTU %u but native XDP on a "
			 "veth caps it at %u (one page per frame); lower the MTU "
			 "(ip link set dev %s mtu 1500 in the container) or use "
			 "--mode generic", t->container.name, t->container.mtu,
			 max_mtu, t->container.name);
		return;
	}
	rx = t->host.num_rx_queues;
	tx = t->container.num_tx_queues;
	if (!channels_get(-1, t->host.name, &hch))
		rx = hch.rx + hch.combined;
	if (!channels_get(t->container_netns_fd, t->container.name, &cch))
		tx = cch.tx + cch.combined;
	if (rx < tx)
		snprintf(why, len,
			 "native XDP on a veth needs at least as many rx queues "
			 "on %s (%u) as tx queues on its peer %s (%u); recreate "
			 "the pair with `numrxqueues %u`, reduce the peer's tx "
			 "queues (ethtool -L %s tx %u) or use --mode generic",
			 t->host.name, rx, t->container.name, tx, tx,
			 t->container.name, rx);
}

int choose_mode(struct attach_state *s, enum xdp_mode_req req)
{
	char why[400];

	native_blockers(&s->t, why, sizeof(why));
	switch (req) {
	case MODE_NATIVE:
		if (why[0]) {
			pr_err("cannot attach in native mode: %s", why);
			return -1;
		}
		s->native = 1;
		snprintf(s->mode_reason, sizeof(s->mode_reason),
			 "requested with --mode native");
		break;
	case MODE_GENERIC:
		s->native = 0;
		snprintf(s->mode_reason, sizeof(s->mode_reason),
			 "requested with --mode generic");
		break;
	case MODE_AUTO:
	case MODE_DEFAULT:
		s->native = 0;
		s->tc = 1;
		s->adaptive = 1;
		if (!why[0] && !s->t.has_container)
			snprintf(why, sizeof(why),
				 "%s has no container side attach can reach (a VM's tap): "
				 "the guest's checksum offload cannot be turned off from "
				 "here, and native XDP would send its partial checksums "
				 "unfinished (start the guest with csum=off and use --mode "
				 "native)", s->t.host.name);
		snprintf(s->native_blocked, sizeof(s->native_blocked), "%s", why);
		snprintf(s->mode_reason, sizeof(s->mode_reason),
			 "%s: the tc path (the container keeps TSO), with native "
			 "XDP in front while small packets dominate (`xdp-egress "
			 "tune` or the daemon decides)%s",
			 req == MODE_AUTO ? "requested with --mode auto" : "default (auto)",
			 why[0] ? "; native XDP is not possible here (see status)" : "");
		break;
	case MODE_TC:
		s->native = 0;
		s->tc = 1;
		snprintf(s->mode_reason, sizeof(s->mode_reason),
			 "requested with --mode tc: the container keeps TSO and "
			 "checksum offload");
		break;
	}
	return 0;
}

/*
 * Where the tc program attaches (tc and auto modes): tcx where the kernel
 * has it (6.6), else a clsact filter, the same program and verdicts.
 */
int choose_tc_hook(struct attach_state *s, enum tc_hook_req req)
{
	size_t n = strlen(s->mode_reason);

	if (!s->tc)
		return 0;
	if (req == TC_HOOK_TCX && !s->caps.tcx) {
		pr_err("--tc-hook tcx: kernel %s has no tcx (tc links arrived in "
		       "6.6); leave --tc-hook out (a clsact filter is used) or "
		       "give --tc-hook clsact", s->caps.release);
		return -1;
	}
	s->clsact = req == TC_HOOK_CLSACT || !s->caps.tcx;
	snprintf(s->mode_reason + n, sizeof(s->mode_reason) - n, "; the tc program %s",
		 req == TC_HOOK_CLSACT ? "as a clsact filter (--tc-hook clsact)" :
		 s->clsact ? "as a clsact filter (this kernel has no tcx, 6.6)"
			   : "through tcx");
	return 0;
}

/* The mode's name in records and messages. */
const char *mode_name(const struct attach_state *s)
{
	return s->adaptive ? "auto" : s->tc ? "tc" : s->native ? "native" : "generic";
}
