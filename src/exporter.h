/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus metrics: the counters and state of this namespace's
 * attachments in the text exposition format, served on GET /metrics by
 * `xdp-egress exporter` and by the daemon (--metrics, or "metrics" in its
 * config). Read from the pins at each scrape, as `stats --json` does.
 */
#ifndef XE_EXPORTER_H
#define XE_EXPORTER_H

#include <stdio.h>

/* The default port (Prometheus' list of exporter ports has it free). */
#define EXPORTER_DEFAULT_PORT 9473

/*
 * Write every metric to out. run_dirs: NULL-terminated daemon run dirs whose
 * containers.json names the containers (the engine's names); other
 * attachments are named by their netns. Returns 0, or -1 when the pins
 * cannot be read (then nothing is written).
 */
int metrics_write(FILE *out, const char *const *run_dirs);

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
