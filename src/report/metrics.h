/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus metrics: the counters and state of this namespace's
 * attachments in the text exposition format (prom.h), as the exporter
 * serves them on GET /metrics (exporter.h). Read from the pins at each
 * scrape, as `stats --json` does.
 */
#ifndef XE_METRICS_H
#define XE_METRICS_H

#include <stdio.h>

/*
 * Write every metric to out. run_dirs: NULL-terminated daemon run dirs whose
 * containers.json names the containers (the engine's names); other
 * attachments are named by their netns. Returns 0, or -1 when the pins
 * cannot be read (then nothing is written).
 */
int metrics_write(FILE *out, const char *const *run_dirs);

#endif
