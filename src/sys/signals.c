// SPDX-License-Identifier: GPL-2.0
/* The stop signals of the long-running commands (daemon, exporter): taken
 * synchronously, never by a handler that could interrupt them mid-change. */
#include <stddef.h>

#include "signals.h"

void signals_block_stop(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	sigprocmask(SIG_BLOCK, mask, NULL);
	signal(SIGPIPE, SIG_IGN);
}
