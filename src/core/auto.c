// SPDX-License-Identifier: GPL-2.0
/*
 * auto mode's tuner. An `attach --mode auto` attachment runs the tc program
 * (the container keeps TSO: bulk TCP crosses in 64 KB super-packets) and has
 * the XDP program pinned beside it. Native XDP costs the fewest cycles per
 * packet, but on a veth it takes the container's TSO away
 * (veth_fix_features()), so it only pays while the traffic is small
 * packets. Every window the tuner reads what the fast path carried:
 *
 *   on tc:     small packets (mean <= AUTO_SMALL_BYTES, almost no GSO) at
 *              >= AUTO_MIN_PPS          -> native XDP in front
 *   on native: MTU-sized frames (mean >= AUTO_BULK_BYTES: a bulk sender that
 *              lost its TSO) at >= AUTO_MIN_PPS -> back to tc alone;
 *              or the kernel path taking most frames (>= AUTO_KERNEL_SHARE of
 *              them, at >= AUTO_MIN_PPS: short connections, new flows)
 *              -> back to tc alone. Native XDP in front of frames it only
 *              passes is pure cost: each is turned into an XDP buffer and
 *              back, and the container computes its own checksums.
 *
 * A window where the kernel path takes most frames never votes for native.
 *
 * Putting native XDP in front needs AUTO_VOTES windows in a row and
 * AUTO_DWELL_WINDOWS since the last switch, so mixed traffic does not flap.
 * Taking it away needs one bulk window and no dwell: the tc program carries
 * everything, while native XDP costs a bulk sender its TSO for every window
 * it stays (a container going from small packets to an upload would send
 * it one MTU at a time for the whole dwell). At most one round trip
 * native -> tc -> native per dwell, then. Switching is hitless: the tc
 * program stays attached and carries whatever XDP does not (auto_switch()).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "attach.h"
#include "auto.h"
#include "log.h"
#include "netns.h"
#include "pins.h"
#include "report.h"
#include "xdp_egress.h"

/* Below this an interface's cycles do not matter. Per interface, but a
 * host pays the sum: 128 containers at 8k packets/s each are 1M/s (the
 * bench's scale workload), so the bar is low. */
#define AUTO_MIN_PPS 2000.0
#define AUTO_SMALL_BYTES 512.0    /* mean frame size that counts as small */
#define AUTO_BULK_BYTES 1024.0    /* mean frame size that counts as bulk */
#define AUTO_GSO_SHARE 0.01       /* more GSO than this: TSO is in use */
#define AUTO_KERNEL_SHARE 0.5     /* frames the kernel path takes: native idles */
#define AUTO_VOTES 3              /* small windows in a row: native in front */
#define AUTO_VOTES_BULK 1         /* bulk windows in a row: back to tc */
#define AUTO_DWELL_WINDOWS 5
#define AUTO_MAX 1024

struct auto_entry {
	char dir[PATH_MAX];
	__u64 pkts, bytes, gso, kern;
	double t;
	int votes;
	int seen;                 /* in the last walk */
};

struct auto_tuner {
	int interval_ms;
	int n;
	struct auto_entry e[AUTO_MAX];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct auto_tuner *auto_tuner_new(int interval_ms)
{
	struct auto_tuner *t = calloc(1, sizeof(*t));

	if (t)
		t->interval_ms = interval_ms;
	return t;
}

void auto_tuner_free(struct auto_tuner *t)
{
	free(t);
}

/* The attachment's egress counters (percpu_counters_read(), as stats
 * reads them): what the fast path carried (packets, bytes, GSO
 * super-packets) and what it left to the kernel (every pass reason). */
static int read_fast_path(const char *dir, __u64 *pkts, __u64 *bytes, __u64 *gso,
			  __u64 *kern)
{
	struct counter_val c[CNT_MAX];
	char path[PATH_MAX];
	int id;

	snprintf(path, sizeof(path), "%s/egress_stats", dir);
	if (percpu_counters_read(path, c, CNT_MAX))
		return -1;
	*pkts = c[CNT_REDIRECTED].packets;
	*bytes = c[CNT_REDIRECTED].bytes;
	*gso = c[CNT_GSO].packets;
	*kern = 0;
	for (id = 0; id < CNT_MAX; id++)
		if (counter_is_pass(id))
			*kern += c[id].packets;
	return 0;
}

static struct auto_entry *entry_for(struct auto_tuner *t, const char *dir)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].dir, dir))
			return &t->e[i];
	if (t->n == AUTO_MAX)
		return NULL;
	memset(&t->e[t->n], 0, sizeof(t->e[0]));
	snprintf(t->e[t->n].dir, PATH_MAX, "%s", dir);
	return &t->e[t->n++];
}

/* Measure the window since the entry's last reading (-1: none yet). */
static int window_take(struct auto_entry *e, __u64 p, __u64 b, __u64 g, __u64 k,
		       double now, struct auto_window *w)
{
	double dt = now - e->t;
	int fresh = !e->t || p < e->pkts || k < e->kern;
	__u64 dp = p - e->pkts, dk = k - e->kern;

	if (!fresh && dt <= 0)
		return -1;
	if (!fresh) {
		w->pps = dp / dt;
		w->kpps = dk / dt;
		w->mean = dp ? (double)(b - e->bytes) / dp : 0;
		w->gso_share = dp ? (double)(g - e->gso) / dp : 0;
		w->kshare = dp + dk ? (double)dk / (dp + dk) : 0;
	}
	e->pkts = p, e->bytes = b, e->gso = g, e->kern = k, e->t = now;
	return fresh ? -1 : 0;
}

int auto_window_wants(const struct auto_window *w, int native, int blocked,
		      char *why, size_t len)
{
	int kernel_heavy = w->kpps >= AUTO_MIN_PPS && w->kshare >= AUTO_KERNEL_SHARE;

	if (native && kernel_heavy) {
		snprintf(why, len, "the kernel path took %.0f%% of the frames "
			 "(%.0f pps), native XDP only passed them", w->kshare * 100,
			 w->kpps);
		return 0;
	}
	if (w->pps < AUTO_MIN_PPS)
		return -1;
	snprintf(why, len, "%s: %.0f pps, mean %.0f B, %.1f%% GSO",
		 native ? "bulk, MTU-sized frames" : "small packets", w->pps,
		 w->mean, w->gso_share * 100);
	if (native)
		return w->mean < AUTO_BULK_BYTES;
	return w->mean <= AUTO_SMALL_BYTES && w->gso_share < AUTO_GSO_SHARE &&
	       !blocked && !kernel_heavy;
}

static int tick_one(const char *dir, cJSON *m, void *arg)
{
	struct auto_tuner *t = arg;
	cJSON *au = cJSON_GetObjectItem(m, "auto");
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(au, "state"));
	const char *ifname = cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname"));
	double since = cJSON_GetNumberValue(cJSON_GetObjectItem(au, "since"));
	double now = now_s();
	struct auto_window w;
	struct auto_entry *e;
	__u64 p, b, g, k;
	int native, want, rc;
	char why[200], what[160];

	if (!au || !state)
		return 0;
	e = entry_for(t, dir);
	if (!e || read_fast_path(dir, &p, &b, &g, &k))
		return 0;
	e->seen = 1;
	if (window_take(e, p, b, g, k, now, &w))
		return 0;
	native = !strcmp(state, "native");
	want = auto_window_wants(&w, native, !!cJSON_GetObjectItem(au, "native_blocked"),
			    what, sizeof(what));
	if (want < 0 || want == native) {
		e->votes = 0;
		return 0;
	}
	if (++e->votes < (want ? AUTO_VOTES : AUTO_VOTES_BULK) ||
	    (want && now - since < AUTO_DWELL_WINDOWS * t->interval_ms / 1000.0))
		return 0;
	snprintf(why, sizeof(why), "%s, over the last %d window%s of %d ms", what,
		 e->votes, e->votes == 1 ? "" : "s", t->interval_ms);
	e->votes = 0;
	rc = auto_switch(dir, want, why);
	if (!rc)
		pr_info("%s: %s (%s)", ifname ? ifname : dir,
			want ? "native XDP in front of the tc program"
			     : "back to the tc program alone", why);
	return 0;
}

void auto_tuner_tick(struct auto_tuner *t)
{
	char root[PATH_MAX], ns_dir[PATH_MAX];
	int i;

	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(ns_dir, sizeof(ns_dir), root))
		return;
	for (i = 0; i < t->n; i++)
		t->e[i].seen = 0;
	pins_foreach_record(ns_dir, tick_one, t);
	/* Forget attachments that are gone. */
	for (i = 0; i < t->n; i++)
		if (!t->e[i].seen)
			t->e[i--] = t->e[--t->n];
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

int cmd_tune(int interval_ms, int count)
{
	struct auto_tuner *t = auto_tuner_new(interval_ms);
	struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
	int i;

	if (!t)
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	pr_info("tuning the auto-mode attachments of this namespace every %d ms "
		"(Ctrl-C stops)", interval_ms);
	for (i = 0; !stop && (!count || i < count); i++) {
		auto_tuner_tick(t);
		nanosleep(&ts, NULL);
	}
	auto_tuner_free(t);
	return 0;
}
