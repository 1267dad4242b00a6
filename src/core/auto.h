/* SPDX-License-Identifier: GPL-2.0 */
/* auto mode's tuner: watch the traffic of `--mode auto` attachments and put
 * native XDP in front of their tc program while small packets dominate. */
#ifndef XE_AUTO_H
#define XE_AUTO_H

struct auto_tuner;

/* interval_ms: the length of one measuring window. */
struct auto_tuner *auto_tuner_new(int interval_ms);
void auto_tuner_free(struct auto_tuner *t);
/* One window: read the counters of this namespace's auto attachments and
 * switch those whose traffic asked for it AUTO_VOTES windows in a row. */
void auto_tuner_tick(struct auto_tuner *t);

/* `xdp-egress tune`: tick every interval_ms until a signal (or count ticks
 * when count > 0). */
int cmd_tune(int interval_ms, int count);

#endif
