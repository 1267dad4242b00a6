/* SPDX-License-Identifier: GPL-2.0 */
/* auto mode's tuner: watch the traffic of `--mode auto` attachments and put
 * native XDP in front of their tc program while small packets dominate. */
#ifndef XE_AUTO_H
#define XE_AUTO_H

#include <stddef.h>

struct auto_tuner;

/* What one window of an attachment's traffic looked like. */
struct auto_window {
	double pps, mean, gso_share; /* carried by the fast path */
	double kpps, kshare;         /* left to the kernel path, and its share */
};

/* The state one window asks for: 1 native XDP in front, 0 the tc program
 * alone, -1 no opinion (too little traffic to matter). why gets the
 * reason. native: the state now; blocked: native XDP cannot be used. */
int auto_window_wants(const struct auto_window *w, int native, int blocked,
		      char *why, size_t len);

/* interval_ms: the length of one measuring window. */
struct auto_tuner *auto_tuner_new(int interval_ms);
void auto_tuner_free(struct auto_tuner *t);
/* One window: read the counters of this namespace's auto attachments and
 * switch those whose traffic asked for it AUTO_VOTES windows in a row. */
void auto_tuner_tick(struct auto_tuner *t);

/* `xdp-egress tune`: tick every interval_ms until a signal (or count ticks
 * when count > 0). */
int cmd_tune(int interval_ms, int count);

#endif
