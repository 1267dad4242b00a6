/* SPDX-License-Identifier: GPL-2.0 */
/* attach / detach: load, fix the kernel traps, attach, pin; and undo it all. */
#ifndef XE_ATTACH_H
#define XE_ATTACH_H

#include "target.h"
#include "xdp_egress.h"

/*
 * MODE_DEFAULT (no --mode): the same as MODE_AUTO (mode.c says so in the
 * record's mode_reason).
 * MODE_TC is not XDP at all: the same stages as a tcx ingress program on
 * the skb, which keeps the container's TSO and checksum offload.
 * MODE_AUTO: tc, plus native XDP in front of it while the interface's
 * traffic is small packets (`xdp-egress tune` or the daemon decides; see
 * auto.c).
 */
enum xdp_mode_req { MODE_DEFAULT = 0, MODE_NATIVE, MODE_GENERIC, MODE_TC,
		    MODE_AUTO };

#define MAX_SOURCE_OPTS 32

/* --tc-hook: where the tc program attaches (tchook.h). */
enum tc_hook_req { TC_HOOK_AUTO = 0, TC_HOOK_TCX, TC_HOOK_CLSACT };

struct attach_opts {
	struct target_spec spec;
	enum xdp_mode_req mode;
	const char *uplinks[MAX_UPLINKS];
	int n_uplinks;
	/* --source ADDR[/LEN]: what the container (a VM: what the guest) may
	 * send from, beyond the addresses read from a container's interface */
	const char *sources[MAX_SOURCE_OPTS];
	int n_sources;
	const char *source_mac;    /* --source-mac: a VM's MAC */
	int uplink_mode;           /* --uplink-mode: enum uplink_mode (uplink.h) */
	enum tc_hook_req tc_hook;  /* default: tcx where the kernel has it */
};

int cmd_attach(const struct attach_opts *o);
/* all: detach every attachment of this host namespace. */
int cmd_detach(const struct target_spec *spec, int all);

/* Largest container MTU native XDP on a veth accepts for a non-frags
 * program (veth_xdp_set() in drivers/net/veth.c, kernel >= 5.x). */
unsigned int veth_native_max_mtu(void);

/* "52:54:00:12:34:56" (the whole text) into mac; -1 when it is none. */
int mac_parse(const char *text, unsigned char *mac);
/* The egress program's load-time settings, for attach and upgrade alike:
 * l3_ifindex 0 when the host veth is routed as itself; source_mac NULL
 * when the container's MAC is not checked; auto_mode: a native XDP
 * program may run in front (it marks what it passed). */
struct egress_bpf;
void egress_rodata_set(struct egress_bpf *skel, int l3_ifindex,
		       const unsigned char *router_mac,
		       const unsigned char *source_mac, int auto_mode);
/* The uplinks it may redirect to, into its tx_ports devmap (keyed by
 * ifindex) after the load (names: for the error message). -1 on error
 * (printed). */
int egress_tx_ports_fill(struct egress_bpf *skel, const int *ifindex,
			 const char *const *names, int n);

/*
 * auto mode: put native XDP in front of the tc program of the attachment
 * in dir (native = 1) or remove it (0), with the container-side checksum
 * fix native XDP needs; takes the attach lock. why goes into the record.
 * Returns 0, 1 when nothing was to do (already so, or not an auto
 * attachment), -1 on error (printed; the attachment stays as it was).
 */
int auto_switch(const char *dir, int native, const char *why);

#endif
