// SPDX-License-Identifier: GPL-2.0
#include <math.h>

#include "jsonval.h"

long long json_int(const cJSON *v, long long min, long long max,
		   long long dflt)
{
	double d;

	if (!cJSON_IsNumber(v))
		return dflt;
	d = v->valuedouble;
	/* The comparisons are false for NaN. */
	if (!(d >= (double)min && d <= (double)max) || d != floor(d))
		return dflt;
	return (long long)d;
}
