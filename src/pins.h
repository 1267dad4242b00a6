/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpffs layout, the single source of truth of what is attached:
 *
 *   $XDP_EGRESS_BPFFS (default /sys/fs/bpf/xdp-egress)
 *     ns<INODE>/            one folder per host network namespace
 *       if<IFINDEX>/        one folder per attachment
 *         link              the XDP bpf_link (keeps the program attached)
 *         egress_stats      per-CPU counters
 *         tx_ports          devmap of uplinks
 *         meta              array map holding the attachment's JSON record
 *         err_link_*        tracepoint links counting redirect errors
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

/* Root folder, created and bpffs-mounted if needed. -1 on error (printed). */
int pins_root(char *out, size_t len);
/* Folder of this host namespace's attachments (not created). */
void pins_ns_dir(char *out, size_t len, const char *root, unsigned long ns_ino);
void pins_attach_dir(char *out, size_t len, const char *ns_dir, int ifindex);

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
/* Serialize attach/detach on root (the CLI, the daemon's children and the
 * CNI plugin alike): returns a held lock fd, or -1 (printed). */
int pins_lock(const char *root);
/* Remove dir (and root) if they hold nothing. */
void pins_prune(const char *ns_dir, const char *root);

#endif
