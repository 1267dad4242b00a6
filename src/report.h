/* SPDX-License-Identifier: GPL-2.0 */
/* status / stats output. */
#ifndef XE_REPORT_H
#define XE_REPORT_H

#include <limits.h>
#include "target.h"
#include "xdp_egress.h"

const char *counter_name(int id);
/* Sum the per-CPU counters pinned in dir into out[CNT_MAX]. */
int counters_read(const char *dir, struct counter_val *out);
int cmd_status(int json);
/* status's lines for one attachment record m (pinned in dir, its link in
 * state), from the record alone. */
struct cJSON;
void report_print_record(struct cJSON *m, const char *dir, const char *state);
/* status --json's records, each with "state" and "counters" as in stats
 * --json, and "namespace"; NULL on error. For the exporter. */
struct cJSON *report_json(void);
/* watch: seconds between samples (0: once); count: samples (0: forever). */
int cmd_stats(const struct target_spec *spec, int json, int watch, int count);

/* An attachment of this namespace, as stats and top read it. */
struct attachment {
	char dir[PATH_MAX];        /* its pins */
	struct cJSON *meta;        /* its record */
	struct counter_val cnt[CNT_MAX];
};
/* Every attachment of this namespace (only_dir: just that one); their
 * number, or -1 (printed). Free with free_attachments(). */
int list_attachments(struct attachment **out, const char *only_dir);
void free_attachments(struct attachment *a, int n);
/* The pin folder of TARGET's attachment; -1 (printed) when not attached. */
int target_dir(const struct target_spec *spec, char *out, size_t len);

#endif
