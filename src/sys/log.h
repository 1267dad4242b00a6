/* SPDX-License-Identifier: GPL-2.0 */
/* One logging module: every message the tool prints goes through here. */
#ifndef XE_LOG_H
#define XE_LOG_H

extern int log_verbose;
extern int log_quiet; /* --json: keep stdout for the JSON document */

/* Errors: "xdp-egress: <what was wrong>, <with what>; <what to do>". */
void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What the tool did (attach/detach fixes): always printed, on stdout. */
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#include <stdarg.h>
/* libbpf's warnings when they are not printed (no -v): the first line of
 * the last few is kept, so that a load error can say what libbpf saw
 * ("failed to open system Kconfig") instead of a bare errno. */
void log_libbpf_keep(const char *fmt, va_list ap);
/* The kept lines, "; "-joined ("" when none). */
const char *log_libbpf_last(void);

#endif
