/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layout versions of what is pinned (XE_LAYOUT_VERSION, include/xdp_egress.h)
 * and the migration from older ones. Every namespace folder holds a "layout"
 * map (an array of one __u32); every record (if<IFINDEX>/meta,
 * up<IFINDEX>/meta) has a "layout" field. Pins without either are layout 1.
 *
 * attach, detach, the tuner's switches, the daemon's children and the CNI
 * plugin (through cmd_attach/cmd_detach), upgrade and status all call
 * layout_check() first, with the lock held except for status.
 */
#ifndef XE_LAYOUT_H
#define XE_LAYOUT_H

#include <stddef.h>

struct cJSON;
struct layout_step;

enum layout_use {
	LAYOUT_READ,    /* status: report, change nothing */
	LAYOUT_CHANGE,  /* attach, detach, switch: migrate what needs no new programs */
	LAYOUT_UPGRADE, /* upgrade: migrate everything it can (programs follow) */
};

/*
 * Check the layout of this host namespace's pins under root against this
 * binary's. Newer, or older with no migration: print what was found, what
 * this binary writes and what to do, and return -1. Older with a migration:
 * migrate (not for LAYOUT_READ, which only notes it). Unversioned pins of
 * this binary's layout are stamped (not for LAYOUT_READ).
 */
int layout_check(const char *root, enum layout_use use);

/* This namespace's folder, also where an older layout named it otherwise
 * (layout 1: ns<INODE>) and the migration has not run yet. -1 (printed)
 * when this namespace's cookie cannot be read. */
int layout_ns_dir(const char *root, char *out, size_t len);
/* The layout of a namespace folder (its "layout" map; 1 when absent). */
unsigned int layout_of_ns(const char *ns_dir);
/* The layout of a record (its "layout" field; 1 when absent). */
unsigned int layout_of_record(const struct cJSON *record);
/* Create or update ns_dir/layout with XE_LAYOUT_VERSION. -1 on error. */
int layout_stamp_ns(const char *ns_dir);
/* Put this binary's "layout" and "build" into a record. */
void layout_stamp_record(struct cJSON *record);

/* Identity of this binary's BPF programs: a hash of the objects it embeds,
 * 16 hex digits. Records carry it as "build": upgrade skips a record that
 * already runs these programs. */
const char *xe_build_id(void);

/*
 * One migration step: from layout `from` to from + 1. run() rewrites the
 * pins and records of one namespace folder (ns_dir may be renamed: it is
 * updated in place, PATH_MAX bytes). needs_programs: the step changes a map
 * the running programs use, so only `upgrade` (which swaps the programs
 * right after) may run it.
 */
struct layout_step {
	unsigned int from;
	const char *what;
	int needs_programs;
	int (*run)(const char *root, char *ns_dir);
};

/* layout_check() with another table of steps and target layout (the unit
 * tests exercise migrations with it). */
int layout_check_steps(const char *root, enum layout_use use,
		       const struct layout_step *table, size_t n_table,
		       unsigned int target);

/* The steps of table that lead from layout `from` to `to`, in order, into
 * out (max entries): their number, or -1 with *missing set to the layout no
 * step leaves. Exposed for the unit tests. */
int layout_plan(const struct layout_step *table, size_t n_table,
		unsigned int from, unsigned int to,
		const struct layout_step **out, size_t max, unsigned int *missing);

#endif
