/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The container label of an attachment, for the exporter's series: the
 * engine's name where a daemon attached it (its containers.json), else the
 * container's netns and interface.
 */
#ifndef XE_CONTAINER_NAMES_H
#define XE_CONTAINER_NAMES_H

#include <stddef.h>

struct cJSON;

/* The "containers" of up to four daemons' containers.json. */
struct container_names {
	struct cJSON *containers[4];
	int n;
};

/* Read RUN_DIR/containers.json of each of the NULL-terminated run_dirs
 * (those missing or unreadable are left out). */
void container_names_load(struct container_names *nm,
			  const char *const *run_dirs);
void container_names_free(struct container_names *nm);
/* The label of record m into out: the engine's name, else "NETNS/IFNAME"
 * (the `ip netns` name, or "netns:INODE"), or a VM tap's own name. */
void container_label(const struct container_names *nm, struct cJSON *m,
		     char *out, size_t len);

#endif
