// SPDX-License-Identifier: GPL-2.0
/*
 * The command line: each subcommand's options come from one table, which
 * also generates its --help, so the two cannot disagree. cli_parse() only
 * parses (main.c runs the command), so tests/fuzz/fuzz_cli.c can feed it
 * any argv.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"
#include "docker.h"
#include "log.h"
#include "uplink.h"

enum opt_id {
	O_IFNAME = 256, O_NETNS, O_PID, O_CONTAINER_IF, O_MODE, O_UPLINK,
	O_JSON, O_WATCH, O_COUNT, O_ALL, O_VERBOSE, O_HELP,
	O_SOURCE, O_SOURCE_MAC, O_UPLINK_MODE, O_TC_HOOK,
	O_DOCKER, O_PODMAN, O_ENGINE, O_CONFIG, O_RUN_DIR,
	O_TAP, O_INTERVAL, O_LISTEN, O_METRICS, O_WATCH_FLAG,
};

struct opt_doc {
	int id;
	const char *name;
	const char *arg;   /* NULL: a flag */
	const char *help;
};

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
	  "receive path. The guest's offloads are its own: see README, VMs" }, \
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
	{ O_UPLINK_MODE, "uplink-mode", "auto|native|generic",
	  "XDP mode of the return-path program on the uplink, which carries "
	  "replies and connections to the containers straight into their veth. "
	  "Default auto: generic on a veth uplink (native XDP there copies "
	  "every frame its peer sends), native elsewhere, falling back to "
	  "generic where the driver refuses it" },
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

struct command {
	const char *name;
	const char *usage;
	const char *about;
	const struct opt_doc *opts;
};

static const struct command commands[] = {
	{ "attach", "attach TARGET [--mode native|generic|tc|auto] [--uplink IFNAME]... "
	  "[--source ADDR[/LEN]]... [--source-mac MAC]",
	  "Attach the egress fast path to a container's host-side veth: the "
	  "kernel's netfilter decides each flow, the fast path carries it.",
	  attach_opts_doc },
	{ "detach", "detach TARGET | --all",
	  "Detach, remove the pins and undo every change attach made.",
	  detach_opts_doc },
	{ "upgrade", "upgrade [TARGET | --all]",
	  "Swap the programs of live attachments (and of their uplinks) for "
	  "this binary's, atomically, keeping links, maps, counters and "
	  "promoted flows; migrate older pin layouts; restart the agent from "
	  "this binary. Refuses, changing nothing, what it cannot carry over.",
	  upgrade_opts_doc },
	{ "flush", "flush [--all]",
	  "Leave every flow that exists now to the kernel until it ends, so "
	  "that rules added since apply to it; new flows take the fast path "
	  "again once the kernel accepts them.", flush_opts_doc },
	{ "agent", "agent",
	  "Run this namespace's agent in the foreground (attach starts one): "
	  "it promotes established TCP flows to the fast path.", agent_opts_doc },
	{ "status", "status [--json]",
	  "What is attached where, in which mode and why, with which fixes.",
	  status_opts_doc },
	{ "stats", "stats [TARGET] [--json] [--watch SECONDS [--count N]]",
	  "Per-interface and total counters: redirected, each pass reason, "
	  "dropped, redirect errors.", stats_opts_doc },
	{ "daemon", "daemon [--engine docker|podman] [--config FILE] "
	  "[--run-dir DIR]",
	  "Attach to Docker/podman containers as they start, detach as they "
	  "die; tunes --mode auto attachments like `tune`.", daemon_opts_doc },
	{ "flows", "flows [TARGET] [--json] [--watch [--count N]]",
	  "The attached containers' live TCP and UDP flows from the kernel's "
	  "conntrack table: the tuple before and after NAT, packets, bytes, "
	  "age, and which path carries each (fast or kernel, and why).",
	  flows_opts_doc },
	{ "events", "events [--json] [--count N]",
	  "Stream flow start (first fast-path packet) and end (FIN, RST, or "
	  "gone from conntrack) events of this namespace's fast path.",
	  events_opts_doc },
	{ "top", "top [--interval SECONDS]",
	  "Live view: packets and bytes per second per attachment, the share "
	  "the fast path carries, the pass reasons and the mode; q quits.",
	  top_opts_doc },
	{ "exporter", "exporter --listen ADDR:PORT [--run-dir DIR]",
	  "Serve Prometheus metrics on GET /metrics: the counters per "
	  "interface, container and reason, the fast path's share, the modes, "
	  "conntrack occupancy, redirect errors.", exporter_opts_doc },
	{ "tune", "tune [--interval SECONDS] [--count N]",
	  "Watch this namespace's --mode auto attachments and put native XDP "
	  "in front of their tc program while their traffic is small packets "
	  "(fewest cycles per packet), tc alone while it is bulk (TSO kept).",
	  tune_opts_doc },
	{ 0 }
};

static void print_wrapped(const char *text, int indent)
{
	int col = indent;
	const char *p = text;

	while (*p) {
		const char *sp = strchr(p, ' ');
		int len = sp ? (int)(sp - p) : (int)strlen(p);

		if (col + len > 78 && col > indent) {
			printf("\n%*s", indent, "");
			col = indent;
		}
		printf("%.*s ", len, p);
		col += len + 1;
		p += len;
		while (*p == ' ')
			p++;
	}
	printf("\n");
}

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

static const char *command_note(const struct command *c)
{
	if (c->opts == attach_opts_doc || c->opts == detach_opts_doc ||
	    c->opts == stats_opts_doc || c->opts == flows_opts_doc)
		return target_note;
	if (c->opts == daemon_opts_doc)
		return daemon_note;
	return NULL;
}

static void command_help(const struct command *c)
{
	const struct opt_doc *o;

	printf("usage: xdp-egress %s\n\n%s\n\n", c->usage, c->about);
	if (command_note(c)) {
		print_wrapped(command_note(c), 0);
		printf("\n");
	}
	printf("options:\n");
	for (o = c->opts; o->name; o++) {
		char head[64];

		snprintf(head, sizeof(head), "  --%s%s%s", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		printf("%-32s", head);
		if (strlen(head) >= 32)
			printf("\n%32s", "");
		print_wrapped(o->help, 32);
	}
}

static const char program_about[] =
	"XDP fast path for the egress of containers and VMs: a container's "
	"transmit is the receive of its host-side veth, where XDP runs.";

static void main_help(FILE *f)
{
	const struct command *c;

	fprintf(f, "usage: xdp-egress COMMAND [options]\n\n%s\n\ncommands:\n",
		program_about);
	for (c = commands; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->about);
	fprintf(f, "\n`xdp-egress COMMAND --help` documents each command's options; "
		"`xdp-egress --version` prints the version; man xdp-egress.\n");
}

static int parse_int(const char *s, const char *what, long min, long max,
		     long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		pr_err("%s '%s' is not a number from %ld to %ld", what, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_parse(int argc, char **argv, struct cli *cli)
{
	static const char *const removed[] = { "--snat", "--snat-ports",
					       "--ct-timeout", "--ct-size", NULL };
	const struct command *c;
	const struct opt_doc *o;
	struct option lopts[24];
	int n = 0, opt, i;
	long v;

	memset(cli, 0, sizeof(*cli));
	cli->dop.engine = ENGINE_DOCKER;
	cli->interval = 1;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		main_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("xdp-egress %s\n", XDP_EGRESS_VERSION);
		return 0;
	}
	for (c = commands; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			break;
	if (!c->name) {
		pr_err("unknown command '%s'; commands are attach, detach, "
		       "upgrade, flush, status, stats, flows, events, top, daemon, "
		       "exporter, tune, agent (see xdp-egress "
		       "--help)", argv[1]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		const char *const *r;

		for (r = removed; *r; r++)
			if (!strncmp(argv[i], *r, strlen(*r)) &&
			    (argv[i][strlen(*r)] == 0 || argv[i][strlen(*r)] == '=')) {
				pr_err("%s: %s was removed: xdp-egress no longer "
				       "translates by itself. The host's own NAT "
				       "decides (iptables -t nat -A POSTROUTING -s "
				       "SUBNET -j MASQUERADE, or nftables "
				       "masquerade) and the fast path carries "
				       "the kernel's translation; drop the option",
				       c->name, *r);
				return 2;
			}
	}
	for (o = c->opts; o->name; o++, n++)
		lopts[n] = (struct option){ o->name, o->arg ? required_argument
							    : no_argument,
					    NULL, o->id };
	lopts[n] = (struct option){ 0 };
	/* argv[1], the command, stands in for the program name: optind 0
	 * makes glibc's getopt start afresh, whatever an earlier parse left
	 * (the fuzzer parses many command lines in one process). */
	optind = 0;
	opterr = 0; /* our own messages, with the xdp-egress: prefix */
	while ((opt = getopt_long(argc - 1, argv + 1, "hv", lopts, NULL)) != -1) {
		switch (opt) {
		case O_IFNAME: case O_TAP:
			if (cli->ao.spec.ifname) {
				pr_err("several targets given: name one of "
				       "--ifname or --tap");
				return 2;
			}
			cli->ao.spec.ifname = optarg;
			cli->ao.spec.tap = opt == O_TAP;
			break;
		case O_NETNS: cli->ao.spec.netns = optarg; break;
		case O_PID:
			if (parse_int(optarg, "--pid", 1, INT_MAX, &v))
				return 2;
			cli->ao.spec.pid = (pid_t)v;
			break;
		case O_CONTAINER_IF: cli->ao.spec.container_if = optarg; break;
		case O_DOCKER: case O_PODMAN:
			if (cli->ao.spec.container) {
				pr_err("give one --docker or --podman container");
				return 2;
			}
			cli->ao.spec.container = optarg;
			cli->ao.spec.engine = opt == O_DOCKER ? ENGINE_DOCKER : ENGINE_PODMAN;
			break;
		case O_ENGINE:
			if (strcmp(optarg, "docker") && strcmp(optarg, "podman")) {
				pr_err("--engine '%s': use docker or podman", optarg);
				return 2;
			}
			cli->dop.engine = !strcmp(optarg, "podman") ? ENGINE_PODMAN
							       : ENGINE_DOCKER;
			break;
		case O_CONFIG: cli->dop.config = optarg; break;
		case O_RUN_DIR: cli->dop.run_dir = optarg; break;
		case O_LISTEN: cli->listen = optarg; break;
		case O_METRICS: cli->dop.metrics = optarg; break;
		case O_MODE:
			if (!strcmp(optarg, "native"))
				cli->ao.mode = MODE_NATIVE;
			else if (!strcmp(optarg, "generic"))
				cli->ao.mode = MODE_GENERIC;
			else if (!strcmp(optarg, "tc"))
				cli->ao.mode = MODE_TC;
			else if (!strcmp(optarg, "auto"))
				cli->ao.mode = MODE_AUTO;
			else {
				pr_err("--mode '%s' is not a mode: use native, "
				       "generic, tc or auto", optarg);
				return 2;
			}
			break;
		case O_UPLINK:
			if (cli->ao.n_uplinks == MAX_UPLINKS) {
				pr_err("at most %d --uplink", MAX_UPLINKS);
				return 2;
			}
			cli->ao.uplinks[cli->ao.n_uplinks++] = optarg;
			break;
		case O_SOURCE:
			if (cli->ao.n_sources == MAX_SOURCE_OPTS) {
				pr_err("at most %d --source", MAX_SOURCE_OPTS);
				return 2;
			}
			cli->ao.sources[cli->ao.n_sources++] = optarg;
			break;
		case O_SOURCE_MAC: cli->ao.source_mac = optarg; break;
		case O_TC_HOOK:
			if (strcmp(optarg, "tcx") && strcmp(optarg, "clsact")) {
				pr_err("--tc-hook '%s': use tcx or clsact", optarg);
				return 2;
			}
			cli->ao.tc_hook = !strcmp(optarg, "tcx") ? TC_HOOK_TCX
							    : TC_HOOK_CLSACT;
			break;
		case O_UPLINK_MODE:
			if (strcmp(optarg, "auto") && strcmp(optarg, "native") &&
			    strcmp(optarg, "generic")) {
				pr_err("--uplink-mode '%s': use auto, native or generic",
				       optarg);
				return 2;
			}
			cli->ao.uplink_mode = !strcmp(optarg, "native") ? UPLINK_NATIVE :
					 !strcmp(optarg, "generic") ? UPLINK_GENERIC :
					 UPLINK_AUTO;
			break;
		case O_JSON: cli->json = 1; break;
		case O_WATCH_FLAG: cli->watch = 1; break;
		case O_ALL: cli->all = 1; break;
		case O_WATCH:
			if (parse_int(optarg, "--watch", 1, 3600, &cli->watch))
				return 2;
			break;
		case O_COUNT:
			if (parse_int(optarg, "--count", 1, 1000000, &cli->count))
				return 2;
			break;
		case O_INTERVAL: {
			char *end;

			errno = 0;
			cli->interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || cli->interval < 0.05 ||
			    cli->interval > 60) {
				pr_err("--interval '%s': give seconds between 0.05 "
				       "and 60 (e.g. 0.5)", optarg);
				return 2;
			}
			break;
		}
		case 'v': case O_VERBOSE: cli->verbose++; break;
		case 'h': case O_HELP: command_help(c); return 0;
		default:
			if (optopt >= O_IFNAME) {
				for (o = c->opts; o->name && o->id != optopt; o++)
					;
				pr_err("%s: option '--%s' needs a value (%s); see "
				       "`xdp-egress %s --help`", c->name,
				       o->name ? o->name : "?",
				       o->arg ? o->arg : "", c->name);
			} else if (optopt) {
				pr_err("%s: option '-%c' is unknown; see "
				       "`xdp-egress %s --help`", c->name, optopt,
				       c->name);
			} else {
				pr_err("%s: option '%s' is unknown; see "
				       "`xdp-egress %s --help`", c->name,
				       argv[optind], c->name);
			}
			return 2;
		}
	}
	if (optind + 1 < argc) {
		pr_err("unexpected argument '%s' for %s; see `xdp-egress %s --help`",
		       argv[optind + 1], c->name, c->name);
		return 2;
	}
	if (!strcmp(c->name, "detach") && cli->all &&
	    (cli->ao.spec.ifname || cli->ao.spec.netns || cli->ao.spec.pid ||
	     cli->ao.spec.container)) {
		pr_err("--all detaches everything: give it no TARGET");
		return 2;
	}
	if (!strcmp(c->name, "upgrade")) {
		int target = cli->ao.spec.ifname || cli->ao.spec.netns ||
			     cli->ao.spec.pid || cli->ao.spec.container;

		if (cli->all && target) {
			pr_err("--all upgrades everything: give it no TARGET");
			return 2;
		}
		cli->all = !target; /* no TARGET: all of them */
	}
	cli->command = c->name;
	return -1;
}

/* The tables as they are, for doc/gen-doc.c (man pages, bash completion). */
const char *cli_doc_about(void)
{
	return program_about;
}

int cli_doc_command(int i, struct cli_doc_cmd *d)
{
	const struct command *c = &commands[i];

	if (i < 0 || i >= (int)(sizeof(commands) / sizeof(commands[0])) - 1)
		return -1;
	*d = (struct cli_doc_cmd){ c->name, c->usage, c->about, command_note(c) };
	return 0;
}

int cli_doc_option(int i, int j, struct cli_doc_opt *d)
{
	const struct opt_doc *o;
	int k;

	if (i < 0 || i >= (int)(sizeof(commands) / sizeof(commands[0])) - 1 || j < 0)
		return -1;
	for (o = commands[i].opts, k = 0; o->name && k < j; o++, k++)
		;
	if (!o->name)
		return -1;
	*d = (struct cli_doc_opt){ o->name, o->arg, o->help };
	return 0;
}
