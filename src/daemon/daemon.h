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
	const char *metrics; /* --metrics ADDR:PORT, or NULL */
};

int cmd_daemon(const struct daemon_opts *o);

/*
 * What the daemon reads from outside, parsed without acting on it: its
 * --config, its record RUN_DIR/containers.json, the engine's events and
 * inspect answers. cmd_daemon() acts on the results; tests/fuzz feeds them
 * directly.
 */
#include <stddef.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

struct daemon;
struct daemon *daemon_new(void);
void daemon_free(struct daemon *d);
/* -1 with the error printed. */
int daemon_load_config(struct daemon *d, const char *path);
/* The containers recorded at path (none when absent or not JSON). */
void daemon_state_load(struct daemon *d, const char *path);

enum { DAEMON_EV_START = 1, DAEMON_EV_DIE };
/* One line of GET /events: DAEMON_EV_* with the container's id in id, or 0
 * for anything else. */
int daemon_event_parse(const char *line, char *id, size_t len);

/* The attach options for one container, as the child's argv. */
struct argv_buf {
	char *v[64];
	int n;
};
struct container_req {
	const char *id, *name;   /* borrowed from the inspect answer */
	const char *net;         /* the --config network it is on, or NULL */
	cJSON *networks;         /* NetworkSettings.Networks */
	pid_t pid;
	struct argv_buf opts;    /* --OPTION VALUE..., from the config and the
				  * labels it allows; free with
				  * daemon_argv_free() */
};
/*
 * A container's inspect answer j: 1 when it asks for xdp-egress and runs
 * (r filled), else 0. Nothing is attached.
 */
int daemon_inspect_parse(struct daemon *d, cJSON *j, const char *id,
			 struct container_req *r);
void daemon_argv_free(struct argv_buf *a);

#endif
