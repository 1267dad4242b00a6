/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The return path (bpf/uplink.bpf.c): one program per uplink (XDP, or tc
 * through a tcx link), shared by every attachment of the host namespace
 * that uses that uplink, pinned in ns_dir/up<IFINDEX>/.
 */
#ifndef XE_UPLINK_H
#define XE_UPLINK_H

#include "nl.h"

/* --uplink-mode: how the return path runs. UPLINK_AUTO is asked for only;
 * an uplink runs one of the others. */
enum uplink_mode {
	UPLINK_AUTO = 0,        /* tc on a veth uplink (generic without tcx),
				 * else native */
	UPLINK_NATIVE,
	UPLINK_GENERIC,
	UPLINK_TC,
};

/* "native", "generic", "tc" (the records' word for it). */
const char *uplink_mode_name(enum uplink_mode m);

/* The uplink program's load-time settings (uplink_ensure and upgrade). */
struct uplink_bpf;
struct bpf_program;
void uplink_rodata_set(struct uplink_bpf *skel, const unsigned char *mac);
/* Of its two programs, load only the one an uplink running runs needs. */
void uplink_autoload_set(struct uplink_bpf *skel, enum uplink_mode runs);
struct bpf_program *uplink_prog(struct uplink_bpf *skel, enum uplink_mode runs);

/* Load (or reuse) the uplink program on up in mode (native falls back to
 * generic where the driver refuses it); tcx: the kernel has tc links.
 * *created: this call attached it; *runs: the mode it runs in. Prints
 * errors. */
int uplink_ensure(const char *ns_dir, const struct link_info *up,
		  enum uplink_mode mode, int tcx, int *created,
		  enum uplink_mode *runs);
/* The mode the uplink program pinned in dir runs in (its record). */
enum uplink_mode uplink_recorded_mode(const char *dir);
/* Detach the uplink program of ifindex and remove its pins. */
int uplink_remove(const char *ns_dir, int ifindex);

#endif
