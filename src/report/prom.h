/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Prometheus text exposition format (version 0.0.4), as the exporter
 * writes it: HELP and TYPE lines, and samples with their label values
 * escaped (backslash, double quote and line feed; HELP text: backslash
 * and line feed).
 */
#ifndef XE_PROM_H
#define XE_PROM_H

#include <stdio.h>

struct prom_label {
	const char *name;          /* a label name: [a-zA-Z_][a-zA-Z0-9_]* */
	const char *value;         /* any text; escaped on output */
};

/* # HELP name help \n # TYPE name type */
void prom_help_type(FILE *out, const char *name, const char *type,
		    const char *help);
/* A label value, escaped, without its quotes. */
void prom_label_value(FILE *out, const char *s);
/* name{l0="..",l1=".."} v: the n labels (none: name v); v with 17
 * significant digits, NaN, +Inf or -Inf. */
void prom_sample(FILE *out, const char *name, const struct prom_label *l,
		 int n, double v);
/* The same with an integer value, exact to the last digit. */
void prom_sample_u64(FILE *out, const char *name, const struct prom_label *l,
		     int n, unsigned long long v);

#endif
