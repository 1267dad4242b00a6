// SPDX-License-Identifier: GPL-2.0
/*
 * `xdp-egress stats`: the counters of this namespace's attachments (or of
 * one TARGET), once as a table or JSON document, or with --watch as rates
 * per interval, a line (or a JSON object) per attachment and interval.
 */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "report.h"
#include "target.h"
#include "xdp_egress.h"

static void print_counters(const char *title, const struct counter_val *c)
{
	__u64 passed = 0;
	int id;

	for (id = 0; id < CNT_MAX; id++)
		if (counter_is_pass(id))
			passed += c[id].packets;
	printf("%s\n", title);
	printf("  %-22s %14s %16s\n", "counter", "packets", "bytes");
	for (id = 0; id < CNT_MAX; id++) {
		/* Always show the headline counters; other reasons when seen. */
		if (!c[id].packets && id != CNT_REDIRECTED &&
		    id != CNT_DROP_MALFORMED && id != CNT_REDIRECT_ERR)
			continue;
		printf("  %-22s %14llu %16llu\n", counter_name(id),
		       (unsigned long long)c[id].packets,
		       (unsigned long long)c[id].bytes);
	}
	printf("  %-22s %14llu\n", "passed (all)", (unsigned long long)passed);
}

static void print_json(cJSON *doc)
{
	char *s = cJSON_Print(doc);

	printf("%s\n", s);
	free(s);
}

/* stats --json: each attachment's counters, their total and (for the whole
 * namespace) the uplinks' and the namespace's shared state. */
static void stats_json(struct attachment *a, int n,
		       const struct counter_val *total, int whole_ns)
{
	cJSON *doc = cJSON_CreateObject(), *sh;
	cJSON *arr = cJSON_AddArrayToObject(doc, "interfaces");
	int i;

	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "ifname", report_str(a[i].meta, "ifname"));
		cJSON_AddNumberToObject(o, "ifindex", cJSON_GetNumberValue(
			cJSON_GetObjectItem(a[i].meta, "ifindex")));
		cJSON_AddStringToObject(o, "mode", report_str(a[i].meta, "mode"));
		cJSON_AddItemToObject(o, "counters", counters_json(a[i].cnt));
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddItemToObject(doc, "total", counters_json(total));
	sh = whole_ns ? ns_report_json() : NULL;
	if (sh) {
		cJSON_AddItemToObject(doc, "uplinks",
				      cJSON_DetachItemFromObject(sh, "uplinks"));
		cJSON_AddItemToObject(doc, "namespace", sh);
	}
	print_json(doc);
	cJSON_Delete(doc);
}

static void stats_text(struct attachment *a, int n,
		       const struct counter_val *total, int whole_ns)
{
	char title[128];
	int i;

	if (!n)
		printf("nothing attached in this network namespace\n");
	for (i = 0; i < n; i++) {
		snprintf(title, sizeof(title), "%s (%s mode)",
			 report_str(a[i].meta, "ifname"),
			 report_str(a[i].meta, "mode"));
		print_counters(title, a[i].cnt);
	}
	if (n > 1)
		print_counters("total", total);
	if (whole_ns)
		ns_report_print();
}

static int stats_once(const char *only, int json)
{
	struct counter_val total[CNT_MAX] = {};
	struct attachment *a;
	int n, i;

	n = list_attachments(&a, only);
	if (n < 0)
		return 1;
	for (i = 0; i < n; i++)
		counters_add(total, a[i].cnt);
	if (json)
		stats_json(a, n, total, !only);
	else
		stats_text(a, n, total, !only);
	free_attachments(a, n);
	return 0;
}

/* --- --watch --- */

static volatile sig_atomic_t stop_watch;

static void on_signal(int sig)
{
	stop_watch = 1;
}

static struct stats_rates rates_of(const struct counter_val *c,
			     const struct counter_val *p, int interval)
{
	struct stats_rates r = {};
	int k;

	r.redirected_pps = (double)(c[CNT_REDIRECTED].packets -
				    p[CNT_REDIRECTED].packets) / interval;
	r.redirected_mbps = (double)(c[CNT_REDIRECTED].bytes -
				     p[CNT_REDIRECTED].bytes) * 8 / 1e6 / interval;
	for (k = 0; k < CNT_MAX; k++)
		if (counter_is_pass(k))
			r.passed_pps += (double)(c[k].packets - p[k].packets) / interval;
	r.dropped_pps = (double)(c[CNT_DROP_MALFORMED].packets -
				 p[CNT_DROP_MALFORMED].packets) / interval;
	return r;
}

/* A rate with a fixed number of decimals, as the lines have always shown
 * it ("12.0", not cJSON's "12"): a number either way to a JSON reader. */
static void add_fixed(cJSON *o, const char *key, double v, int decimals)
{
	char num[64];

	if (!isfinite(v)) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	snprintf(num, sizeof(num), "%.*f", decimals, v);
	cJSON_AddRawToObject(o, key, num);
}

cJSON *stats_rates_json(time_t now, const char *ifname,
			const struct stats_rates *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "time", (double)now);
	cJSON_AddStringToObject(o, "ifname", ifname);
	add_fixed(o, "redirected_pps", r->redirected_pps, 1);
	add_fixed(o, "redirected_mbps", r->redirected_mbps, 2);
	add_fixed(o, "passed_pps", r->passed_pps, 1);
	add_fixed(o, "dropped_pps", r->dropped_pps, 1);
	return o;
}

/* --watch --json: one object per attachment and interval, on one line. */
static void rates_json_line(time_t now, const char *ifname,
			    const struct stats_rates *r)
{
	cJSON *o = stats_rates_json(now, ifname, r);
	char *s = cJSON_PrintUnformatted(o);

	printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
}

/* The rates of every attachment in cur that prev had too. */
static void print_rates(struct attachment *cur, int n, struct attachment *prev,
			int nprev, int interval, int json)
{
	time_t now = time(NULL);
	struct counter_val *p;
	struct stats_rates r;
	int i, j;

	if (!json)
		printf("%-16s %12s %12s %12s %12s\n", "interface", "redir pps",
		       "redir Mbit/s", "pass pps", "drop pps");
	for (i = 0; i < n; i++) {
		p = NULL;
		for (j = 0; j < nprev; j++)
			if (!strcmp(prev[j].dir, cur[i].dir))
				p = prev[j].cnt;
		if (!p)
			continue;
		r = rates_of(cur[i].cnt, p, interval);
		if (json)
			rates_json_line(now, report_str(cur[i].meta, "ifname"), &r);
		else
			printf("%-16s %12.0f %12.1f %12.0f %12.0f\n",
			       report_str(cur[i].meta, "ifname"), r.redirected_pps,
			       r.redirected_mbps, r.passed_pps, r.dropped_pps);
	}
	fflush(stdout);
}

/* Rates per interval: redirected / passed / dropped packets per second. */
static int stats_watch(const char *only, int interval, int count, int json)
{
	struct attachment *prev = NULL, *cur;
	int nprev = 0, n, i, iter = 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop_watch && (count <= 0 || iter <= count)) {
		n = list_attachments(&cur, only);
		if (n < 0)
			return 1;
		if (prev) {
			print_rates(cur, n, prev, nprev, interval, json);
			free_attachments(prev, nprev);
		}
		prev = cur;
		nprev = n;
		iter++;
		if (count > 0 && iter > count)
			break;
		for (i = 0; i < interval * 10 && !stop_watch; i++)
			usleep(100000);
	}
	if (prev)
		free_attachments(prev, nprev);
	return 0;
}

int cmd_stats(const struct target_spec *spec, int json, int watch, int count)
{
	char dir[PATH_MAX];
	const char *only = NULL;

	if (spec->ifname || spec->netns || spec->pid || spec->container) {
		if (target_dir(spec, dir, sizeof(dir)))
			return 1;
		only = dir;
	}
	if (watch > 0)
		return stats_watch(only, watch, count, json);
	return stats_once(only, json);
}
