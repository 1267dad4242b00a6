/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpffs layout, the single source of truth of what is attached:
 *
 *   $XDP_EGRESS_BPFFS (default /sys/fs/bpf/xdp-egress)
 *     ns<INODE>/            one folder per host network namespace
 *       kct_config ...      the maps every program there shares
 *                           (SHARED_MAP_NAMES below)
 *       layout              the layout version of all of it (src/core/layout.h)
 *       up<IFINDEX>/        the return-path program of one uplink
 *       errors/             the tracepoints counting redirect errors
 *       if<IFINDEX>/        one folder per attachment
 *         link              the bpf_link (keeps the program attached)
 *         egress_stats      per-CPU counters
 *         tx_ports          devmap of uplinks (by ifindex)
 *         own_sources       the container's own addresses
 *         meta              array map holding the attachment's JSON record
 *
 * Keeping the record in a map (bpffs holds no regular files) means it lives
 * and dies with the pins, so the two can never disagree.
 */
#ifndef XE_PINS_H
#define XE_PINS_H

#include <limits.h>

#define META_SIZE 4096

/* tcx (kernel 6.6) postdates the uapi headers and libbpf of Debian 12;
 * bpf_link_create() and bpf_prog_query() pass these through unchanged. */
#define XE_BPF_TCX_INGRESS 46
#ifndef BPF_F_BEFORE
#define BPF_F_BEFORE (1U << 3)
#endif

/* Root folder, created and bpffs-mounted if needed; refused as lock.h says
 * (a symbolic link, not root's, writable by others). -1 on error (printed). */
int pins_root(char *out, size_t len);
/* Folder of a host namespace's attachments (not created), named by its
 * netns cookie, which the kernel never reuses (an inode number it does). */
void pins_ns_dir(char *out, size_t len, const char *root,
		 unsigned long long ns_cookie);
/* The same for this thread's namespace; -1 (printed) when the cookie
 * cannot be read. */
int pins_ns_dir_self(char *out, size_t len, const char *root);
void pins_attach_dir(char *out, size_t len, const char *ns_dir, int ifindex);

/*
 * The maps every program of a host namespace shares, pinned by name in its
 * folder: the kernel-exact settings and promotion state (bpf/kct.h) and the
 * attached containers (bpf/route.h).
 */
#define SHARED_MAP_NAMES { "kct_config", "promote", "promote_rb", \
			   "kernel_only", "close_gen", "containers", \
			   "container_ports", "flows", "flow_events" }

struct bpf_object;
/* Before load: make obj use every shared map already pinned in ns_dir. */
int pins_reuse_shared(struct bpf_object *obj, const char *ns_dir);
/* After load: pin the shared maps obj created. -1 on error (printed). */
int pins_pin_shared(struct bpf_object *obj, const char *ns_dir);
/* Open one pinned shared map (or any pin of ns_dir); -1 when absent. */
int pins_open(const char *ns_dir, const char *name);
/* Remove the shared pins of ns_dir (the namespace's last detach). */
void pins_remove_shared(const char *ns_dir);
/* Does ns_dir hold any attachment (if* folder)? */
int pins_ns_in_use(const char *ns_dir);

/* Create the meta map (pinned at dir/meta) holding json. */
int meta_write(const char *dir, const char *json);
/* Read dir/meta into buf; -1 when absent. */
int meta_read(const char *dir, char *buf, size_t len);

/*
 * Call fn(dir, record, arg) for every attachment folder (if*) of ns_dir
 * whose record parses; stops when fn returns non-zero and returns that.
 * record is a cJSON object, freed after fn returns.
 */
struct cJSON;
int pins_foreach_record(const char *ns_dir,
			int (*fn)(const char *dir, struct cJSON *record, void *arg),
			void *arg);

/* Remove every pin in dir and the folder (pins_prune handles the parents). */
int pins_remove_dir(const char *dir);
/* Remove dir (and root) if they hold nothing. */
void pins_prune(const char *ns_dir, const char *root);

#endif
