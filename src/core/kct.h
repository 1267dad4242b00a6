/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-space side of "the kernel decides, the fast path carries"
 * (bpf/kct.h): the namespace's conntrack settings for the fast path, making
 * sure conntrack runs at all, promoting TCP flows to liberal window
 * tracking through ctnetlink (libnetfilter_conntrack), and `flush`.
 */
#ifndef XE_KCT_H
#define XE_KCT_H

#include <linux/types.h>
#include "xdp_egress.h"

/* The current namespace's conntrack sysctls into c (agent_pid and
 * kernel_only_active are left as they are). 0, or -1 when conntrack's
 * sysctls are missing (no nf_conntrack: printed). */
int kct_config_read(struct kct_config *c);
/* Write the pinned kct_config of ns_dir from this namespace's sysctls,
 * keeping agent_pid and kernel_only_active. */
int kct_config_refresh(const char *ns_dir);

/*
 * Conntrack hooks register per namespace only when a rule needs them; a
 * host without any (no NAT, no stateful rule) would track nothing, and
 * nothing could be fast-pathed. kct_conntrack_ensure() adds the chain
 * `conntrack` to the table `inet xdp_egress` (made too if missing), holding
 * one rule that uses conntrack; a regular chain: no packet ever traverses
 * it. *created says what it made (KCT_NFT_MADE_*, 0: it was there);
 * kct_conntrack_release() removes that much and no more.
 */
#define KCT_NFT_TABLE "xdp_egress"
#define KCT_NFT_MADE_TABLE 1
#define KCT_NFT_MADE_CHAIN 2
int kct_conntrack_ensure(int *created);
/* What kct_conntrack_ensure() would make now (recorded before it does). */
int kct_conntrack_needed(void);
void kct_conntrack_release(int created);

struct nfct_handle;
struct nfct_handle *kct_open(void);
void kct_close(struct nfct_handle *h);
/* Set liberal window tracking on both directions of the entry whose
 * original tuple is k. 0, or -1 with errno (ENOENT: gone meanwhile). */
int kct_set_liberal(struct nfct_handle *h, const struct kct_key *k);
/* Does the kernel still have an entry with original tuple k? */
int kct_exists(struct nfct_handle *h, const struct kct_key *k);

/*
 * `flush`: every TCP/UDP entry of the kernel that has an attached
 * container's address on either side goes into the kernel-only map, so the
 * fast path leaves those flows to the kernel (and the rules as they are now)
 * until they end. Returns the number of flows, or -1 (printed).
 */
int kct_flush(const char *ns_dir);
/* `xdp-egress flush`, in the current namespace. */
int cmd_flush(void);
/* Drop kernel-only entries whose flow has ended; clear kernel_only_active
 * when none is left. Returns the number left. */
long kct_kernel_only_gc(struct nfct_handle *h, const char *ns_dir);

#endif
