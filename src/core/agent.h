/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent: one small process per host network namespace with
 * attachments. It promotes established TCP flows to the fast path by
 * setting liberal window tracking on their kernel entries (what BPF cannot
 * do; the flows come from the programs' ring buffer), keeps the fast
 * path's copy of the namespace's conntrack timeouts current, and forgets
 * flushed flows that ended. Without it TCP stays on the kernel path (safe,
 * slower); UDP does not need it. It exits by itself once the namespace has
 * no attachment left.
 */
#ifndef XE_AGENT_H
#define XE_AGENT_H

/* Start the agent for ns_dir unless one runs (attach calls this). Returns 0,
 * or -1 when it could not start (printed; TCP then stays on the kernel
 * path). */
int agent_ensure(const char *ns_dir);
/* Stop this namespace's agent (the last detach): SIGTERM, wait for it.
 * A recorded pid whose agent no longer holds the namespace's lock is
 * forgotten, never signalled (it may be another process's by now). */
void agent_stop(const char *ns_dir);
/* The agent's pid, 0 when none runs. */
int agent_pid(const char *ns_dir);
/* `xdp-egress agent`: run it in the foreground (the daemon's way). */
int cmd_agent(void);

#endif
