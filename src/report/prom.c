// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus text exposition format (prom.h): escaping per
 * https://prometheus.io/docs/instrumenting/exposition_formats/ ("label_value
 * can be any sequence of UTF-8 characters, but the backslash, the
 * double-quote and the line feed must be escaped as \\, \" and \n"; in
 * HELP, backslash and line feed). A byte that is not part of valid UTF-8
 * (an interface or container name can hold any byte but '/' and NUL) is
 * written as U+FFFD: one bad name must not make the whole scrape
 * unparseable.
 */
#include <math.h>
#include <stdio.h>

#include "prom.h"

/* The length of the valid UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), 0 if there is none. */
static int utf8_len(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	int n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;      /* overlong */
	else if (c == 0xed)
		hi = 0x9f;      /* surrogates */
	else if (c == 0xf0)
		lo = 0x90;      /* overlong */
	else if (c == 0xf4)
		hi = 0x8f;      /* above U+10FFFF */
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80, hi = 0xbf;
	}
	return n;
}

/* s with the characters of quote (and backslash, line feed) escaped, and
 * every byte outside valid UTF-8 as U+FFFD. */
static void escaped(FILE *out, const char *str, int quote)
{
	const unsigned char *s = (const unsigned char *)str;
	int n;

	while (*s) {
		n = utf8_len(s);
		if (!n) {
			fputs("\xef\xbf\xbd", out); /* U+FFFD */
			s++;
			continue;
		}
		if (*s == '\\' || (quote && *s == '"'))
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fwrite(s, 1, n, out);
		s += n;
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
