/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal assertion helpers for the C unit tests. Each check prints
 * "ok <name>" or "FAIL <name>: why"; tests/run.sh counts those lines.
 */
#ifndef XDP_EGRESS_UNIT_H
#define XDP_EGRESS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures;

#define CHECK(cond, name, fmt, ...)                                            \
	do {                                                                   \
		if (cond) {                                                    \
			printf("ok %s\n", name);                               \
		} else {                                                       \
			printf("FAIL %s: " fmt "\n", name, ##__VA_ARGS__);     \
			unit_failures++;                                       \
		}                                                              \
		fflush(stdout);                                                \
	} while (0)

#define ASSERT_EQ(got, want, name)                                             \
	CHECK((long long)(got) == (long long)(want), name,                     \
	      "got %lld, want %lld", (long long)(got), (long long)(want))

#define UNIT_EXIT() return unit_failures ? 1 : 0

#endif
