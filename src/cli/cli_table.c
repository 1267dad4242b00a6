// SPDX-License-Identifier: GPL-2.0
/*
 * The command line's tables: each command's options (name, value, help),
 * the commands with their usage, text, note and check. --help (cli_help.c),
 * the parser (cli.c) and doc/gen-doc.c (man pages, bash completion) all
 * read them, so none of them can disagree.
 */
#include <stdio.h>
#include <string.h>

#include "cli_table.h"
#include "daemon.h"

#define TARGET_OPTS                                                           \
	{ O_IFNAME, "ifname", "HOSTVETH",                                     \
	  "host side of the container's veth pair (or a VM's tap)" },         \
	{ O_NETNS, "netns", "NAME|PATH",                                      \
	  "the container's network namespace: a name from `ip netns list` "   \
	  "or a path such as /proc/PID/ns/net" },                              \
	{ O_PID, "pid", "PID", "a process inside the container" },            \
	{ O_DOCKER, "docker", "NAME|ID",                                      \
	  "a running Docker container, found through the Engine API on "      \
	  "$DOCKER_HOST (unix:// only) or /var/run/docker.sock" },             \
	{ O_PODMAN, "podman", "NAME|ID",                                      \
	  "a running podman container, through podman's Docker-compatible "   \
	  "API on $CONTAINER_HOST (unix:// only) or /run/podman/podman.sock " \
	  "(`podman system service`)" },                                      \
	{ O_TAP, "tap", "IFNAME",                                             \
	  "a VM's tap device (qemu -netdev tap): the guest's egress is its "  \
	  "receive path. The guest's offloads are its own: see docs/vms.md" }, \
	{ O_CONTAINER_IF, "container-if", "IFNAME",                           \
	  "with --netns/--pid/--docker/--podman: the container's veth when "  \
	  "it has several" }

#define COMMON_OPTS                                                           \
	{ O_VERBOSE, "verbose", NULL, "print debug messages and libbpf logs" }, \
	{ O_HELP, "help", NULL, "show this help" }

static const struct opt_doc attach_opts_doc[] = {
	TARGET_OPTS,
	{ O_MODE, "mode", "native|generic|tc|auto",
	  "data path. native: XDP in the veth driver (fewest CPU cycles per "
	  "packet; turns off the container's tx-checksumming, and the kernel "
	  "drops its TSO, so bulk TCP goes one MTU at a time); generic: XDP on "
	  "the skb (turns off TSO); tc: the same stages as a tcx program on the "
	  "skb (the container keeps TSO and checksum offload: best for bulk "
	  "TCP); auto: tc, with native XDP put in front while the traffic is "
	  "small packets and taken away when bulk comes (`xdp-egress tune` or "
	  "the daemon watches and switches). Default: auto; `status` says "
	  "which path runs and why" },
	{ O_UPLINK, "uplink", "IFNAME",
	  "device packets may be redirected to (repeatable); default: the "
	  "devices of the IPv4 and IPv6 default routes" },
	{ O_SOURCE, "source", "ADDR[/LEN]",
	  "an address (or prefix) the target may send from (repeatable): "
	  "packets from any other take the kernel path. A container's own "
	  "global addresses are read from its interface; a VM's must be given "
	  "here" },
	{ O_SOURCE_MAC, "source-mac", "MAC",
	  "a VM's MAC (its tap's peer): its frames must come from it, and the "
	  "return path delivers to it. A container's MAC is read from its "
	  "interface" },
	{ O_TC_HOOK, "tc-hook", "tcx|clsact",
	  "where the tc program of tc and auto mode attaches: a tcx link (kernel "
	  "6.6), or a cls_bpf filter under a clsact qdisc (any kernel). Default: "
	  "tcx where the kernel has it, else clsact" },
	{ O_UPLINK_MODE, "uplink-mode", "auto|native|generic|tc",
	  "how the return-path program on the uplink runs, which carries "
	  "replies and connections to the containers straight into their veth: "
	  "native or generic XDP, or tc (a tcx link, kernel 6.6). Default auto: "
	  "tc on a veth uplink (XDP there copies the frames its peer sends; "
	  "generic without tcx), native elsewhere, falling back to generic "
	  "where the driver refuses it" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc detach_opts_doc[] = {
	TARGET_OPTS,
	{ O_ALL, "all", NULL, "detach every attachment in this namespace" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc upgrade_opts_doc[] = {
	TARGET_OPTS,
	{ O_ALL, "all", NULL, "every attachment in this namespace (the default "
	  "without TARGET)" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc flush_opts_doc[] = {
	{ O_ALL, "all", NULL, "every flow of every attached container (the "
	  "default: flush takes no TARGET)" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc agent_opts_doc[] = {
	COMMON_OPTS, { 0 }
};

static const struct opt_doc status_opts_doc[] = {
	{ O_JSON, "json", NULL, "print JSON" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc stats_opts_doc[] = {
	TARGET_OPTS,
	{ O_JSON, "json", NULL, "print JSON (with --watch: one object per line)" },
	{ O_WATCH, "watch", "SECONDS", "print rates every SECONDS until Ctrl-C" },
	{ O_COUNT, "count", "N", "with --watch: stop after N samples" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc daemon_opts_doc[] = {
	{ O_ENGINE, "engine", "docker|podman",
	  "whose containers to follow (default docker): Docker through "
	  "$DOCKER_HOST or /var/run/docker.sock, podman through "
	  "$CONTAINER_HOST or /run/podman/podman.sock" },
	{ O_CONFIG, "config", "FILE",
	  "JSON: {\"networks\": [NAME...], \"options\": {\"mode\": \"tc\", "
	  "...}}: also attach to containers on these networks, with these "
	  "attach options (labels override them)" },
	{ O_RUN_DIR, "run-dir", "DIR",
	  "where the lock/pid file daemon.pid and the record of attached "
	  "containers (containers.json) live; default "
	  "/run/xdp-egress/ENGINE" },
	{ O_METRICS, "metrics", "ADDR:PORT",
	  "also serve Prometheus metrics on http://ADDR:PORT/metrics, as "
	  "`xdp-egress exporter` does (or \"metrics\": \"ADDR:PORT\" in the "
	  "--config), with the containers' names" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc exporter_opts_doc[] = {
	{ O_LISTEN, "listen", "ADDR:PORT",
	  "where to serve GET /metrics: 127.0.0.1:9473, [::1]:9473, or :9473 "
	  "for every address (required)" },
	{ O_RUN_DIR, "run-dir", "DIR",
	  "the daemon's run dir, whose containers.json gives the containers' "
	  "names (default: /run/xdp-egress/docker and /run/xdp-egress/podman); "
	  "other attachments are named NETNS/IFNAME" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc tune_opts_doc[] = {
	{ O_INTERVAL, "interval", "SECONDS",
	  "length of one measuring window (default 1; decimals allowed, "
	  "0.05-60). A switch needs 3 windows in a row that ask for it and 5 "
	  "windows since the last switch" },
	{ O_COUNT, "count", "N", "stop after N windows (default: until Ctrl-C)" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc flows_opts_doc[] = {
	TARGET_OPTS,
	{ O_JSON, "json", NULL, "print a JSON array of the flows (with "
	  "--watch: one array per line)" },
	{ O_WATCH_FLAG, "watch", NULL, "list them again every second, in "
	  "place, until Ctrl-C" },
	{ O_COUNT, "count", "N", "with --watch: stop after N listings" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc events_opts_doc[] = {
	{ O_JSON, "json", NULL, "one JSON object per event and line" },
	{ O_COUNT, "count", "N", "stop after N events (default: at Ctrl-C)" },
	COMMON_OPTS, { 0 }
};

static const struct opt_doc top_opts_doc[] = {
	{ O_INTERVAL, "interval", "SECONDS",
	  "refresh every SECONDS (default 1; decimals allowed, 0.05-60)" },
	COMMON_OPTS, { 0 }
};

/* What --help and the man page say about a command besides its options. */
static const char target_note[] =
	"TARGET is one of --ifname, --tap, --netns, --pid, --docker or --podman. "
	"Run xdp-egress in the network namespace that holds the host side "
	"(e.g. nsenter --net=/run/netns/HOST xdp-egress ...). Pins live under "
	"$XDP_EGRESS_BPFFS (default /sys/fs/bpf/xdp-egress).";
static const char daemon_note[] =
	"A container asks for xdp-egress with the label "
	DAEMON_ENABLE_LABEL "=true (or by being on a --config network) and "
	"gives attach options as labels " DAEMON_LABEL_PREFIX "OPTION=VALUE: "
	"mode, uplink, uplink-mode, container-if (lists comma-separated), e.g. "
	DAEMON_LABEL_PREFIX "mode=native. The engines' own NAT and rules stay "
	"the authority: the fast path carries what they accept. The daemon runs "
	"in the foreground in the host's network namespace and logs to stderr; "
	"SIGTERM stops it and leaves every attachment in place.";

const struct command cli_commands[] = {
	{ "attach", "attach TARGET [--mode native|generic|tc|auto] [--uplink IFNAME]... "
	  "[--source ADDR[/LEN]]... [--source-mac MAC]",
	  "Attach the egress fast path to a container's host-side veth: the "
	  "kernel's netfilter decides each flow, the fast path carries it.",
	  attach_opts_doc, target_note, NULL },
	{ "detach", "detach TARGET | --all",
	  "Detach, remove the pins and undo every change attach made.",
	  detach_opts_doc, target_note, cli_check_detach },
	{ "upgrade", "upgrade [TARGET | --all]",
	  "Swap the programs of live attachments (and of their uplinks) for "
	  "this binary's, atomically, keeping links, maps, counters and "
	  "promoted flows; migrate older pin layouts; restart the agent from "
	  "this binary. Refuses, changing nothing, what it cannot carry over.",
	  upgrade_opts_doc, NULL, cli_check_upgrade },
	{ "flush", "flush [--all]",
	  "Leave every flow that exists now to the kernel until it ends, so "
	  "that rules added since apply to it; new flows take the fast path "
	  "again once the kernel accepts them.",
	  flush_opts_doc, NULL, NULL },
	{ "agent", "agent",
	  "Run this namespace's agent in the foreground (attach starts one): "
	  "it promotes established TCP flows to the fast path.",
	  agent_opts_doc, NULL, NULL },
	{ "status", "status [--json]",
	  "What is attached where, in which mode and why, with which fixes.",
	  status_opts_doc, NULL, NULL },
	{ "stats", "stats [TARGET] [--json] [--watch SECONDS [--count N]]",
	  "Per-interface and total counters: redirected, each pass reason, "
	  "dropped, redirect errors.",
	  stats_opts_doc, target_note, NULL },
	{ "daemon", "daemon [--engine docker|podman] [--config FILE] "
	  "[--run-dir DIR]",
	  "Attach to Docker/podman containers as they start, detach as they "
	  "die; tunes --mode auto attachments like `tune`.",
	  daemon_opts_doc, daemon_note, NULL },
	{ "flows", "flows [TARGET] [--json] [--watch [--count N]]",
	  "The attached containers' live TCP and UDP flows from the kernel's "
	  "conntrack table: the tuple before and after NAT, packets, bytes, "
	  "age, and which path carries each (fast or kernel, and why).",
	  flows_opts_doc, target_note, NULL },
	{ "events", "events [--json] [--count N]",
	  "Stream flow start (first fast-path packet) and end (FIN, RST, or "
	  "gone from conntrack) events of this namespace's fast path.",
	  events_opts_doc, NULL, NULL },
	{ "top", "top [--interval SECONDS]",
	  "Live view: packets and bytes per second per attachment, the share "
	  "the fast path carries, the pass reasons and the mode; q quits.",
	  top_opts_doc, NULL, NULL },
	{ "exporter", "exporter --listen ADDR:PORT [--run-dir DIR]",
	  "Serve Prometheus metrics on GET /metrics: the counters per "
	  "interface, container and reason, the fast path's share, the modes, "
	  "conntrack occupancy, redirect errors.",
	  exporter_opts_doc, NULL, NULL },
	{ "tune", "tune [--interval SECONDS] [--count N]",
	  "Watch this namespace's --mode auto attachments and put native XDP "
	  "in front of their tc program while their traffic is small packets "
	  "(fewest cycles per packet), tc alone while it is bulk (TSO kept).",
	  tune_opts_doc, NULL, NULL },
	{ 0 }
};

const char cli_program_about[] =
	"XDP fast path for the egress of containers and VMs: a container's "
	"transmit is the receive of its host-side veth, where XDP runs.";

/* The tables as they are, for doc/gen-doc.c (man pages, bash completion). */
const char *cli_doc_about(void)
{
	return cli_program_about;
}

int cli_doc_command(int i, struct cli_doc_cmd *d)
{
	const struct command *c = &cli_commands[i];

	if (i < 0 || i >= (int)(sizeof(cli_commands) / sizeof(cli_commands[0])) - 1)
		return -1;
	*d = (struct cli_doc_cmd){ c->name, c->usage, c->about, c->note };
	return 0;
}

int cli_doc_option(int i, int j, struct cli_doc_opt *d)
{
	const struct opt_doc *o;
	int k;

	if (i < 0 || i >= (int)(sizeof(cli_commands) / sizeof(cli_commands[0])) - 1 || j < 0)
		return -1;
	for (o = cli_commands[i].opts, k = 0; o->name && k < j; o++, k++)
		;
	if (!o->name)
		return -1;
	*d = (struct cli_doc_opt){ o->name, o->arg, o->help };
	return 0;
}
