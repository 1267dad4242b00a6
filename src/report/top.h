/* SPDX-License-Identifier: GPL-2.0 */
/* `xdp-egress top`: the live view of this namespace's attachments. */
#ifndef XE_TOP_H
#define XE_TOP_H

/* Redraw every interval seconds until q, Ctrl-C or SIGTERM. */
int cmd_top(double interval);

#endif
