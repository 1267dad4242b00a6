/* SPDX-License-Identifier: GPL-2.0 */
/* The stop signals of the long-running commands (daemon, exporter). */
#ifndef XDP_EGRESS_SIGNALS_H
#define XDP_EGRESS_SIGNALS_H

#include <signal.h>

/* Blocks SIGINT, SIGTERM and SIGHUP (to be taken with signalfd() or
 * sigwait(), in *mask on return) and ignores SIGPIPE. Call it before any
 * thread starts, so that every thread inherits the mask. */
void signals_block_stop(sigset_t *mask);

#endif
