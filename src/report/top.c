// SPDX-License-Identifier: GPL-2.0
/*
 * `xdp-egress top`: a live view of this namespace's attachments, redrawn in
 * place with plain ANSI escapes (the terminal's alternate screen, cursor
 * home, erase) and read key by key through termios: no curses needed for
 * one table. Rates are the counters' (stats) differences over the refresh
 * interval.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "log.h"
#include "report.h"
#include "top.h"

static struct termios saved_tty;
static int tty_raw;
static volatile sig_atomic_t top_stop;

static void on_stop(int sig)
{
	top_stop = 1;
}

static void tty_restore(void)
{
	if (tty_raw) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
		tty_raw = 0;
	}
	/* Cursor back, the screen the shell had. */
	printf("\033[?25h\033[?1049l");
	fflush(stdout);
}

/* Keys one at a time, unechoed; signals (Ctrl-C) still work. */
static void tty_setup(void)
{
	struct termios t;

	if (isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &saved_tty)) {
		t = saved_tty;
		t.c_lflag &= ~(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		if (!tcsetattr(STDIN_FILENO, TCSAFLUSH, &t))
			tty_raw = 1;
	}
	printf("\033[?1049h\033[?25l");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rate_str(char *out, size_t len, double v, const char *unit)
{
	const char *p = " kMGT";

	while (v >= 1000 && p[1]) {
		v /= 1000;
		p++;
	}
	if (*p == ' ')
		snprintf(out, len, "%.0f%s", v, unit);
	else
		snprintf(out, len, "%.1f%c%s", v, *p, unit);
}

/* "auto (native in front)" / "tc" ... */
static void mode_str(char *out, size_t len, cJSON *m)
{
	cJSON *a = cJSON_GetObjectItem(m, "auto");

	if (a)
		snprintf(out, len, "%s/%s", report_str(m, "mode"),
			 report_str(a, "state"));
	else
		snprintf(out, len, "%s", report_str(m, "mode"));
}

struct reason_rate {
	int id;
	double pps;
};

static int by_rate(const void *a, const void *b)
{
	const struct reason_rate *x = a, *y = b;

	return x->pps < y->pps ? 1 : x->pps > y->pps ? -1 : x->id - y->id;
}

static void draw(struct attachment *cur, int n, struct attachment *prev,
		 int nprev, double dt, double interval)
{
	char when[16], pps[16], bps[16], fast[16], who[64], mode[32];
	time_t t = time(NULL);
	struct tm tm;
	int i, j, k;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("\033[H\033[2J");
	printf("xdp-egress top - %s - %d attachment%s - every %gs - q quits\r\n\r\n",
	       when, n, n == 1 ? "" : "s", interval);
	printf("%-30s %-12s %10s %12s %6s  %s\r\n", "CONTAINER (host if, source)",
	       "MODE", "PKT/S", "BIT/S", "FAST", "PASS REASONS (packets/s)");
	for (i = 0; i < n; i++) {
		struct counter_val *c = cur[i].cnt, *p = NULL;
		struct reason_rate rr[CNT_MAX];
		double tp = 0, tb = 0, fp;
		cJSON *src = cJSON_GetArrayItem(cJSON_GetObjectItem(cur[i].meta, "sources"), 0);
		int nr = 0;

		for (j = 0; j < nprev; j++)
			if (!strcmp(prev[j].dir, cur[i].dir))
				p = prev[j].cnt;
		snprintf(who, sizeof(who), "%s %s", report_str(cur[i].meta, "ifname"),
			 cJSON_GetStringValue(src) ?: "");
		mode_str(mode, sizeof(mode), cur[i].meta);
		if (!p || dt <= 0) {
			printf("%-30s %-12s %10s %12s %6s  %s\r\n", who, mode, "-",
			       "-", "-", "(measuring)");
			continue;
		}
		/* Every packet the egress program saw once: redirected, passed
		 * or dropped (redirected_gso and promote_requests are subsets
		 * or no packets; redirect_err is counted after the fact). */
		for (k = 0; k < CNT_MAX; k++) {
			double dp = (double)(c[k].packets - p[k].packets) / dt;

			if (k == CNT_GSO || k == CNT_PROMOTE_REQUESTS ||
			    k == CNT_REDIRECT_ERR)
				continue;
			tp += dp;
			tb += (double)(c[k].bytes - p[k].bytes) * 8 / dt;
			if (k != CNT_REDIRECTED && dp > 0)
				rr[nr++] = (struct reason_rate){ k, dp };
		}
		fp = (double)(c[CNT_REDIRECTED].packets - p[CNT_REDIRECTED].packets) / dt;
		rate_str(pps, sizeof(pps), tp, "");
		rate_str(bps, sizeof(bps), tb, "");
		if (tp > 0)
			snprintf(fast, sizeof(fast), "%.0f%%", 100 * fp / tp);
		else
			snprintf(fast, sizeof(fast), "-");
		printf("%-30s %-12s %10s %12s %6s  ", who, mode, pps, bps, fast);
		qsort(rr, nr, sizeof(rr[0]), by_rate);
		for (k = 0; k < nr && k < 3; k++)
			printf("%s%s %.0f", k ? ", " : "", counter_name(rr[k].id),
			       rr[k].pps);
		printf("%s\r\n", nr ? "" : "-");
	}
	if (!n)
		printf("nothing attached in this network namespace\r\n");
	fflush(stdout);
}

int cmd_top(double interval)
{
	struct attachment *prev = NULL, *cur;
	int nprev = 0, n, ret = 0;
	double tprev = 0, t;

	if (!isatty(STDOUT_FILENO))
		pr_warn("top: stdout is not a terminal; it redraws in place with "
			"ANSI escapes (use `stats --watch` for a log)");
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGHUP, on_stop);
	tty_setup();
	while (!top_stop) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		double until;

		n = list_attachments(&cur, NULL);
		if (n < 0) {
			ret = 1;
			break;
		}
		t = now_s();
		draw(cur, n, prev, nprev, t - tprev, interval);
		if (prev)
			free_attachments(prev, nprev);
		prev = cur;
		nprev = n;
		tprev = t;
		/* Wait out the interval, reading keys as they come. */
		until = t + interval;
		while (!top_stop && (t = now_s()) < until) {
			char key;

			if (poll(&pfd, 1, (int)((until - t) * 1000) + 1) > 0) {
				if (read(STDIN_FILENO, &key, 1) == 1) {
					if (key == 'q' || key == 'Q')
						top_stop = 1;
				} else {
					/* stdin closed: keys are over, not the view. */
					pfd.fd = -1;
				}
			}
		}
	}
	if (prev)
		free_attachments(prev, nprev);
	tty_restore();
	return ret;
}
