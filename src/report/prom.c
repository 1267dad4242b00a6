// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus text exposition format (prom.h): escaping per
 * https://prometheus.io/docs/instrumenting/exposition_formats/ ("label_value
 * can be any sequence of UTF-8 characters, but the backslash, the
 * double-quote and the line feed must be escaped as \\, \" and \n"; in
 * HELP, backslash and line feed).
 */
#include <math.h>
#include <stdio.h>

#include "prom.h"

/* s with the characters of quote (and backslash, line feed) escaped. */
static void escaped(FILE *out, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\' || (quote && *s == '"'))
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

void prom_label_value(FILE *out, const char *s)
{
	escaped(out, s, 1);
}

void prom_help_type(FILE *out, const char *name, const char *type,
		    const char *help)
{
	fprintf(out, "# HELP %s ", name);
	escaped(out, help, 0);
	fprintf(out, "\n# TYPE %s %s\n", name, type);
}

/* name{l0="..",...} up to the value's space. */
static void series(FILE *out, const char *name, const struct prom_label *l,
		   int n)
{
	int i;

	fputs(name, out);
	for (i = 0; i < n; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "{", l[i].name);
		prom_label_value(out, l[i].value);
		fputc('"', out);
	}
	fputs(n ? "} " : " ", out);
}

void prom_sample(FILE *out, const char *name, const struct prom_label *l,
		 int n, double v)
{
	series(out, name, l, n);
	if (isnan(v))
		fputs("NaN\n", out);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf\n" : "-Inf\n", out);
	else
		fprintf(out, "%.17g\n", v);
}

void prom_sample_u64(FILE *out, const char *name, const struct prom_label *l,
		     int n, unsigned long long v)
{
	series(out, name, l, n);
	fprintf(out, "%llu\n", v);
}
