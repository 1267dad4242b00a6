/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the daemon's files share (daemon.h is its outside): the daemon's
 * state, its log, its record of the containers it attached, the children
 * it runs, and the config's attach options. One job per file:
 *
 *   daemon.c         setup and the loop (engine events, signals, tuner)
 *   daemon_config.c  --config: load and validate; the attach option table
 *   daemon_record.c  RUN_DIR/containers.json: what the daemon attached
 *   daemon_child.c   `xdp-egress attach|detach|upgrade` as child processes
 *   daemon_select.c  which containers ask for xdp-egress, with which options
 *   daemon_watch.c   acting on containers: attach, detach, reconcile, events
 */
#ifndef XE_DAEMON_INTERNAL_H
#define XE_DAEMON_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <net/if.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#include "daemon.h"
#include "docker.h"

struct tracked {
	char id[65];
	char name[256];
	char ifname[IF_NAMESIZE];
	int ifindex;
	struct tracked *next;
};

struct daemon {
	struct engine eng;
	char run_dir[PATH_MAX];
	char state_path[PATH_MAX];
	char pid_path[PATH_MAX];
	cJSON *networks;   /* config: array of network names, or NULL */
	cJSON *options;    /* config: object of attach options, or NULL */
	cJSON *labels;     /* config: the options labels may set, or NULL */
	cJSON *metrics;    /* config: "ADDR:PORT" of the exporter, or NULL */
	struct tracked *tracked;
	int sig_fd;
	int stop;
};

/* One log line on stderr: timestamp, "xdp-egress daemon: ", the text. */
void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Frees what d holds (config, record), not d itself. */
void daemon_clear(struct daemon *d);

/* ---- daemon_config.c: the attach options the config and labels set ---- */

/* Index of attach option name in the table, or -1. */
int daemon_label_opt_index(const char *name);
int daemon_n_label_opts(void);
const char *daemon_label_opt_name(int i);
int daemon_label_opt_repeatable(int i);

/* ---- daemon_record.c ---- */

struct tracked *daemon_tracked_find(struct daemon *d, const char *id);
void daemon_tracked_drop(struct daemon *d, struct tracked *gone);
/* Writes d->tracked to d->state_path (a failure is logged). */
void daemon_state_save(struct daemon *d);

/* ---- daemon_child.c ---- */

void daemon_argv_add(struct argv_buf *a, const char *s);
/*
 * Run `xdp-egress ARGS` (this very binary) as a child, its output logged
 * line by line as who's. Returns the child's exit status, or -1.
 */
int daemon_run_self(struct daemon *d, const char *who, struct argv_buf *a);

/* ---- daemon_select.c ---- */

/*
 * Does the container ask for xdp-egress? Its labels and networks come
 * from an inspect or a list entry; *net gets the matching config network.
 */
int daemon_wanted(struct daemon *d, cJSON *labels, cJSON *networks,
		  const char **net);
/* The container's interface on network net (the engine's MAC there), in
 * out; empty when it cannot be told. */
void daemon_container_if_on(pid_t pid, cJSON *networks, const char *net,
			    char *out, size_t len);

/* ---- daemon_watch.c ---- */

/*
 * Attach to running containers that ask for it, detach those recorded
 * that no longer run. -1 when the engine cannot be asked.
 */
int daemon_reconcile(struct daemon *d);
/* One event line from GET /events. */
void daemon_on_event(struct daemon *d, const char *line);

#endif
