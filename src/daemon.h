/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xdp-egress daemon: follows a container engine's events and attaches to
 * the containers that ask for it (label xdp-egress.enable=true, or a
 * network named in --config) when they start, and detaches when they die.
 * Attach and detach are the CLI's own commands, run as child processes, so
 * the daemon holds no BPF object: attachments live in their pins, survive a
 * restart of the daemon, and are never removed because the daemon exits.
 */
#ifndef XE_DAEMON_H
#define XE_DAEMON_H

#define DAEMON_LABEL_PREFIX "xdp-egress."
#define DAEMON_ENABLE_LABEL DAEMON_LABEL_PREFIX "enable"
#define DAEMON_RUN_DIR "/run/xdp-egress"

struct daemon_opts {
	int engine;          /* enum engine_kind */
	const char *config;  /* JSON file, or NULL */
	const char *run_dir; /* NULL: /run/xdp-egress/ENGINE */
};

int cmd_daemon(const struct daemon_opts *o);

#endif
