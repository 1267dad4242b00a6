/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading this namespace's pins for people, scripts and the exporter:
 * status (report.c), stats (stats.c), the attachments (attachments.c),
 * their counters (counters.c) and what they share (ns_report.c).
 */
#ifndef XE_REPORT_H
#define XE_REPORT_H

#include <limits.h>
#include <time.h>
#include "target.h"
#include "xdp_egress.h"

struct cJSON;

/* --- counters.c --- */
const char *counter_name(int id);
/* Sum the per-CPU counters pinned in dir into out[CNT_MAX]. */
int counters_read(const char *dir, struct counter_val *out);
/* Sum the pinned per-CPU array path of n struct counter_val over every
 * CPU into out[n]; -1 when it cannot be opened (out zeroed). */
int percpu_counters_read(const char *path, struct counter_val *out, __u32 n);
/* sum[id] += c[id] for every counter. */
void counters_add(struct counter_val *sum, const struct counter_val *c);
/* {"<counter name>": {"packets": N, "bytes": N}, ...} */
struct cJSON *counters_json(const struct counter_val *c);

/* --- attachments.c --- */
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
/* Record m's state: "attached", or what is wrong (interrupted, interface
 * gone, program replaced), in words. */
const char *attachment_state(struct cJSON *m);
/* The string k of record m, or "?". */
const char *report_str(struct cJSON *m, const char *k);
/* The pin folder of TARGET's attachment; -1 (printed) when not attached. */
int target_dir(const struct target_spec *spec, char *out, size_t len);

/* --- ns_report.c --- */
/* The namespace's shared state (agent, conntrack settings, uplinks with
 * their counters), or NULL when nothing is attached. */
struct cJSON *ns_report_json(void);
/* The same for people (nothing when nothing is attached). */
void ns_report_print(void);

/* --- report.c: status --- */
int cmd_status(int json);
/* status's lines for one attachment record m (pinned in dir, its link in
 * state), from the record alone. */
void report_print_record(struct cJSON *m, const char *dir, const char *state);
/* status --json's records, each with "state" and "counters" as in stats
 * --json, and "namespace"; NULL on error. For the exporter. */
struct cJSON *report_json(void);

/* --- stats.c --- */
/* watch: seconds between samples (0: once); count: samples (0: forever). */
int cmd_stats(const struct target_spec *spec, int json, int watch, int count);
/* One attachment's rates over a --watch interval. */
struct stats_rates {
	double redirected_pps, redirected_mbps, passed_pps, dropped_pps;
};
/* stats --watch --json's object for them: {"time":T,"ifname":"..",
 * "redirected_pps":1.0,"redirected_mbps":0.01,"passed_pps":..,
 * "dropped_pps":..} (rates with 1 or 2 decimals). */
struct cJSON *stats_rates_json(time_t now, const char *ifname,
			       const struct stats_rates *r);

#endif
