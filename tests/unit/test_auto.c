// SPDX-License-Identifier: GPL-2.0
/*
 * auto mode's tuner decision (src/core/auto.c: auto_window_wants()), one
 * window at a time, without a kernel: small packets ask for native XDP,
 * bulk frames and kernel-path traffic ask for the tc program alone, too
 * little traffic has no opinion.
 */
#include <stdio.h>
#include <string.h>

#include "auto.h"
#include "unit.h"

struct wcase {
	const char *name;
	struct auto_window w;
	int native, blocked, want;
	const char *why; /* a word the reason must hold */
};

static const struct wcase cases[] = {
	/* on tc */
	{ "tc_small_to_native", { 50000, 64, 0, 0, 0 }, 0, 0, 1, "small packets" },
	{ "tc_quiet_no_opinion", { 1000, 64, 0, 0, 0 }, 0, 0, -1, NULL },
	{ "tc_bulk_stays", { 50000, 1500, 0, 0, 0 }, 0, 0, 0, NULL },
	{ "tc_gso_stays", { 50000, 400, 0.2, 0, 0 }, 0, 0, 0, NULL },
	{ "tc_blocked_stays", { 50000, 64, 0, 0, 0 }, 0, 1, 0, NULL },
	/* small packets carried, but the kernel path takes more */
	{ "tc_kernel_heavy_stays", { 5000, 64, 0, 20000, 0.8 }, 0, 0, 0, NULL },
	{ "tc_kernel_light_to_native", { 50000, 64, 0, 3000, 0.06 }, 0, 0, 1, NULL },
	/* on native */
	{ "native_small_stays", { 50000, 64, 0, 0, 0 }, 1, 0, 1, NULL },
	{ "native_bulk_to_tc", { 50000, 1448, 0, 0, 0 }, 1, 0, 0, "bulk" },
	{ "native_quiet_no_opinion", { 100, 1448, 0, 100, 0.5 }, 1, 0, -1, NULL },
	/* short connections, ICMP, new flows: native XDP only passes them */
	{ "native_kernel_path_to_tc", { 0, 0, 0, 30000, 1.0 }, 1, 0, 0, "kernel path" },
	{ "native_kernel_half_to_tc", { 20000, 64, 0, 20000, 0.5 }, 1, 0, 0, "kernel path" },
	{ "native_kernel_minor_stays", { 50000, 64, 0, 10000, 0.17 }, 1, 0, 1, NULL },
	/* a share over half, but of too few frames to matter */
	{ "native_kernel_quiet_stays", { 1500, 64, 0, 1800, 0.55 }, 1, 0, -1, NULL },
};

int main(void)
{
	char why[200], name[96];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct wcase *c = &cases[i];
		int got;

		why[0] = 0;
		got = auto_window_wants(&c->w, c->native, c->blocked, why, sizeof(why));
		snprintf(name, sizeof(name), "auto_window_%s", c->name);
		CHECK(got == c->want && (!c->why || strstr(why, c->why)), name,
		      "got %d (want %d), why '%s' (want '%s')", got, c->want, why,
		      c->why ? c->why : "");
	}
	UNIT_EXIT();
}
