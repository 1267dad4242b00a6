// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of what status, stats and the exporter print, with no pins
 * and no network: the Prometheus text format's escaping (prom.c), the JSON
 * line of `stats --watch --json` (stats.c) and the counters' JSON
 * (counters.c). Each output is written to a memory stream and compared
 * byte for byte, or parsed back.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "prom.h"
#include "report.h"
#include "unit.h"

/* What f wrote to its memory stream, as a string to free. */
#define CAPTURE(buf, code)                                                     \
	do {                                                                   \
		size_t len_ = 0;                                               \
		FILE *out = open_memstream(&(buf), &len_);                     \
		code;                                                          \
		fclose(out);                                                   \
	} while (0)

#define CHECK_STR(got, want, name)                                             \
	CHECK(!strcmp((got), (want)), name, "got '%s', want '%s'", (got), (want))

static void test_prom(void)
{
	struct prom_label l[2] = { { "ifname", "ve\"th\\0\nx" },
				   { "reason", "redirected" } };
	char *buf = NULL;

	CAPTURE(buf, prom_label_value(out, "a\\b\"c\nd"));
	CHECK_STR(buf, "a\\\\b\\\"c\\nd", "prom/label_value_escaped");
	free(buf);
	CAPTURE(buf, prom_sample(out, "m_total", l, 2, 5));
	CHECK_STR(buf, "m_total{ifname=\"ve\\\"th\\\\0\\nx\",reason=\"redirected\"} 5\n",
		  "prom/sample_labels_escaped");
	free(buf);
	CAPTURE(buf, prom_sample(out, "m", NULL, 0, 0.1));
	CHECK_STR(buf, "m 0.10000000000000001\n", "prom/sample_no_labels_17_digits");
	free(buf);
	CAPTURE(buf, prom_sample(out, "m", l + 1, 1, NAN);
		prom_sample(out, "m", l + 1, 1, INFINITY);
		prom_sample(out, "m", l + 1, 1, -INFINITY));
	CHECK_STR(buf, "m{reason=\"redirected\"} NaN\nm{reason=\"redirected\"} +Inf\n"
		  "m{reason=\"redirected\"} -Inf\n", "prom/sample_nan_inf");
	free(buf);
	CAPTURE(buf, prom_sample_u64(out, "m", l + 1, 1, 18446744073709551615ULL));
	CHECK_STR(buf, "m{reason=\"redirected\"} 18446744073709551615\n",
		  "prom/sample_u64_exact");
	free(buf);
	/* HELP: backslash and line feed escaped, quotes as they are. */
	/* Valid UTF-8 passes whole (2, 3, 4 bytes); a stray continuation
	 * byte, a truncated sequence, an overlong '/', a surrogate and a
	 * byte above U+10FFFF become U+FFFD, one per byte. */
	CAPTURE(buf, prom_label_value(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb3"));
	CHECK_STR(buf, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb3", "prom/label_utf8_kept");
	free(buf);
	CAPTURE(buf, prom_label_value(out, "a\x80" "b\xe2\x82"));
	CHECK_STR(buf, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd", "prom/label_bad_bytes_replaced");
	free(buf);
	CAPTURE(buf, prom_label_value(out, "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xff"));
	CHECK_STR(buf, "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd",
		  "prom/label_overlong_surrogate_too_high");
	free(buf);

	CAPTURE(buf, prom_help_type(out, "m", "gauge", "a \"q\" \\ b\nc"));
	CHECK_STR(buf, "# HELP m a \"q\" \\\\ b\\nc\n# TYPE m gauge\n",
		  "prom/help_escaped");
	free(buf);
}

static void test_stats_watch_json(void)
{
	struct stats_rates r = { 12, 0.126, 3.04, 0 };
	cJSON *o = stats_rates_json(1700000000, "veth\"1\\", &r), *back;
	char *s = cJSON_PrintUnformatted(o);

	/* The line the hand-written printf gave, but the name escaped. */
	CHECK_STR(s, "{\"time\":1700000000,\"ifname\":\"veth\\\"1\\\\\","
		  "\"redirected_pps\":12.0,\"redirected_mbps\":0.13,"
		  "\"passed_pps\":3.0,\"dropped_pps\":0.0}",
		  "stats/watch_json_line");
	back = cJSON_Parse(s);
	CHECK(back && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(back, "ifname")),
			      "veth\"1\\") &&
	      cJSON_GetNumberValue(cJSON_GetObjectItem(back, "redirected_pps")) == 12.0,
	      "stats/watch_json_parses_back", "%s", s);
	cJSON_Delete(back);
	free(s);
	cJSON_Delete(o);
	r.passed_pps = NAN;
	o = stats_rates_json(1, "x", &r);
	s = cJSON_PrintUnformatted(o);
	CHECK(strstr(s, "\"passed_pps\":null") && (back = cJSON_Parse(s)),
	      "stats/watch_json_not_finite_is_null", "%s", s);
	cJSON_Delete(back);
	free(s);
	cJSON_Delete(o);
}

static void test_counters_json(void)
{
	struct counter_val c[CNT_MAX] = {}, sum[CNT_MAX] = {};
	cJSON *o, *v;

	c[CNT_REDIRECTED] = (struct counter_val){ .packets = 3, .bytes = 180 };
	counters_add(sum, c);
	counters_add(sum, c);
	o = counters_json(sum);
	v = cJSON_GetObjectItem(o, "redirected");
	CHECK(cJSON_GetArraySize(o) == CNT_MAX &&
	      cJSON_GetNumberValue(cJSON_GetObjectItem(v, "packets")) == 6 &&
	      cJSON_GetNumberValue(cJSON_GetObjectItem(v, "bytes")) == 360,
	      "counters/json_sums", "%d keys", cJSON_GetArraySize(o));
	cJSON_Delete(o);
}

int main(void)
{
	test_prom();
	test_stats_watch_json();
	test_counters_json();
	UNIT_EXIT();
}
