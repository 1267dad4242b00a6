/* SPDX-License-Identifier: GPL-2.0 */
/* `xdp-egress upgrade [TARGET|--all]` (src/core/upgrade.c). */
#ifndef XE_UPGRADE_H
#define XE_UPGRADE_H

#include "target.h"

/* Swap the programs of the live attachments of this host namespace (one
 * TARGET, or all of them) and of their uplinks for this binary's, keeping
 * links, maps and state; restart the agent from this binary. */
int cmd_upgrade(const struct target_spec *spec, int all);

#endif
