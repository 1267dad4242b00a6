/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Prometheus exporter: metrics_write() (metrics.h) served on GET
 * /metrics by `xdp-egress exporter` and by the daemon (--metrics, or
 * "metrics" in its config).
 */
#ifndef XE_EXPORTER_H
#define XE_EXPORTER_H

#include <stdio.h>

/* The default port (Prometheus' list of exporter ports has it free). */
#define EXPORTER_DEFAULT_PORT 9473

struct exporter;
/*
 * Listen on listen ("ADDR:PORT", "[ADDR6]:PORT" or ":PORT") and serve
 * /metrics from a thread of its own (one connection at a time is never
 * what blocks it: libmicrohttpd polls them all, each with a timeout).
 * NULL with the error printed (prefixed with who, naming the option opt
 * that gave listen).
 */
struct exporter *exporter_start(const char *who, const char *opt,
				const char *listen, const char *run_dir);
void exporter_stop(struct exporter *e);

/* xdp-egress exporter --listen ADDR:PORT [--run-dir DIR]: until SIGINT or
 * SIGTERM. */
int cmd_exporter(const char *listen, const char *run_dir);

#endif
