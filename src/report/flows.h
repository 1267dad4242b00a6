/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `xdp-egress flows`: the live flows of the attached containers, from the
 * kernel's conntrack table (ctnetlink) joined with what the fast path
 * carried of each (the map `flows`, bpf/flows.h); `xdp-egress events`: the
 * flows' start and end as the fast path saw them (ring buffer
 * `flow_events`), and their end by timeout (ctnetlink destroy events).
 */
#ifndef XE_FLOWS_H
#define XE_FLOWS_H

#include "target.h"

/* XDP_EGRESS_FLOWS=off in the environment: attach loads the programs
 * without per-flow counts and flow events (bpf/flows.h, flows_off; the
 * benchmark's xdp-native-noflows). */
int flows_off_by_env(void);

/* watch: refresh every second until Ctrl-C; count: with watch, stop after
 * that many listings (0: never). */
int cmd_flows(const struct target_spec *spec, int json, int watch, int count);
/* count: stop after that many events (0: at Ctrl-C). */
int cmd_events(int json, int count);

#endif
