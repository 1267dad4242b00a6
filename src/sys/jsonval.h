/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Numbers from JSON that is not ours (records, engine answers, configs):
 * cJSON keeps a double, and converting one outside the target type's range
 * (1e300, -1, NaN) to an integer is undefined behaviour in C.
 */
#ifndef XE_JSONVAL_H
#define XE_JSONVAL_H

#include <cjson/cJSON.h>

/* v's value as an integer in [min, max]; dflt when v is not a number, is
 * fractional, or lies outside. min and max lie within +-2^53 (a double's
 * exact integers). */
long long json_int(const cJSON *v, long long min, long long max,
		   long long dflt);

#endif
