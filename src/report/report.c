// SPDX-License-Identifier: GPL-2.0
/*
 * `xdp-egress status`: every attachment record of this host namespace with
 * its link state, and what the attachments share, for people or as JSON;
 * report_json(), the same document with each attachment's counters, for
 * the exporter. Reading the pins: attachments.c, counters.c, ns_report.c;
 * stats: stats.c.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "report.h"
#include "jsonval.h"
#include "probe.h"
#include "xdp_egress.h"

static void print_auto(cJSON *o)
{
	/* Seconds since the epoch: whole at attach, with a fraction after a
	 * switch (the tuner's dwell is shorter than a second). */
	double since = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "since"));
	double age = (double)time(NULL) - floor(since);
	char dur[48] = "";

	/* NaN (no "since") fails both. */
	if (since > 0 && age >= 0)
		snprintf(dur, sizeof(dur), ", for %.0fs", age);
	printf("  auto: now %s (%s)%s\n",
	       !strcmp(report_str(o, "state"), "native")
		       ? "native XDP in front of the tc program"
		       : "the tc program alone",
	       report_str(o, "why"), dur);
	if (cJSON_GetObjectItem(o, "native_blocked"))
		printf("  auto: stays on tc: %s\n",
		       report_str(o, "native_blocked"));
}

void report_print_record(cJSON *m, const char *dir, const char *state)
{
	cJSON *o;

	printf("%s (ifindex %lld, %s): %s mode, %s\n", report_str(m, "ifname"),
	       json_int(cJSON_GetObjectItem(m, "ifindex"), 0, INT_MAX, 0),
	       report_str(m, "kind"), report_str(m, "mode"), state);
	printf("  why this mode: %s\n", report_str(m, "mode_reason"));
	o = cJSON_GetObjectItem(m, "container");
	if (o)
		printf("  container side: %s (netns inode %.0f)\n",
		       report_str(o, "ifname"),
		       cJSON_GetNumberValue(cJSON_GetObjectItem(o, "netns_ino")));
	o = cJSON_GetObjectItem(m, "auto");
	if (o)
		print_auto(o);
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(m, "uplinks")) {
		/* Records before per-uplink modes name one for all. */
		const char *rp = cJSON_GetStringValue(cJSON_GetObjectItem(o, "return_path"))
					 ?: report_str(m, "return_path");
		int tc = !strcmp(rp, "tc");

		printf("  uplink: %s (return path: %s%s)\n", report_str(o, "ifname"),
		       tc ? "a tc program" : rp, tc ? "" : " XDP");
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(m, "sources"))
		printf("  source: %s\n", cJSON_GetStringValue(o) ?: "?");
	if (cJSON_GetObjectItem(m, "source_mac"))
		printf("  source MAC: %s\n", report_str(m, "source_mac"));
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(m, "fixes"))
		printf("  fix: %s turned %s on %s (%s)\n", report_str(o, "offload"),
		       cJSON_IsTrue(cJSON_GetObjectItem(o, "now")) ? "on" : "off",
		       report_str(o, "ifname"), report_str(o, "why"));
	printf("  redirect errors: %s\n", report_str(m, "redirect_errors"));
	kernel_caps_print(cJSON_GetObjectItem(m, "kernel"), "  ");
	printf("  program id %.0f, pins %s\n",
	       cJSON_GetNumberValue(cJSON_GetObjectItem(m, "prog_id")),
	       dir);
}

/*
 * The document of status --json (with_pins: each record's "pins") and of
 * report_json() (with_counters: each record's "counters"): the records, each
 * with its "state", and the namespace's shared state.
 */
static cJSON *records_json(struct attachment *a, int n, int with_pins,
			   int with_counters)
{
	cJSON *doc = cJSON_CreateObject(), *sh;
	cJSON *arr = cJSON_AddArrayToObject(doc, "attachments");
	int i;

	for (i = 0; i < n; i++) {
		cJSON *m = cJSON_Duplicate(a[i].meta, 1);

		cJSON_AddStringToObject(m, "state", attachment_state(a[i].meta));
		if (with_pins)
			cJSON_AddStringToObject(m, "pins", a[i].dir);
		if (with_counters)
			cJSON_AddItemToObject(m, "counters", counters_json(a[i].cnt));
		cJSON_AddItemToArray(arr, m);
	}
	sh = ns_report_json();
	if (sh)
		cJSON_AddItemToObject(doc, "namespace", sh);
	return doc;
}

int cmd_status(int json)
{
	struct attachment *a;
	cJSON *doc;
	char *s;
	int n, i;

	n = list_attachments(&a, NULL);
	if (n < 0)
		return 1;
	if (json) {
		doc = records_json(a, n, 1, 0);
		s = cJSON_Print(doc);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(doc);
		free_attachments(a, n);
		return 0;
	}
	if (!n)
		printf("nothing attached in this network namespace\n");
	ns_report_print();
	for (i = 0; i < n; i++)
		report_print_record(a[i].meta, a[i].dir, attachment_state(a[i].meta));
	free_attachments(a, n);
	return 0;
}

cJSON *report_json(void)
{
	struct attachment *a;
	cJSON *doc;
	int n;

	n = list_attachments(&a, NULL);
	if (n < 0)
		return NULL;
	doc = records_json(a, n, 0, 1);
	free_attachments(a, n);
	return doc;
}
