// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "log.h"

int log_verbose;
int log_quiet;

static void vpr(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, f);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fflush(f);
}

void pr_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpr(stderr, "xdp-egress: ", fmt, ap);
	va_end(ap);
}

void pr_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpr(stderr, "xdp-egress: warning: ", fmt, ap);
	va_end(ap);
}

void pr_info(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	vpr(stdout, "", fmt, ap);
	va_end(ap);
}

void pr_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vpr(stderr, "debug: ", fmt, ap);
	va_end(ap);
}

#define LIBBPF_KEEP 4
static char libbpf_lines[LIBBPF_KEEP][200];
static int libbpf_next;

void log_libbpf_keep(const char *fmt, va_list ap)
{
	char buf[512], *p = buf, *nl;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (!strncmp(p, "libbpf: ", 8))
		p += 8;
	nl = strchr(p, '\n');
	if (nl)
		*nl = 0;
	if (!*p)
		return;
	snprintf(libbpf_lines[libbpf_next], sizeof(libbpf_lines[0]), "%s", p);
	libbpf_next = (libbpf_next + 1) % LIBBPF_KEEP;
}

const char *log_libbpf_last(void)
{
	static char out[LIBBPF_KEEP * 202];
	int i;

	out[0] = 0;
	for (i = 0; i < LIBBPF_KEEP; i++) {
		const char *l = libbpf_lines[(libbpf_next + i) % LIBBPF_KEEP];

		if (!*l)
			continue;
		if (out[0])
			strcat(out, "; ");
		strcat(out, l);
	}
	return out;
}
