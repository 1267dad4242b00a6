// SPDX-License-Identifier: GPL-2.0
/*
 * The command line's option values: one parser per option, found by the
 * option's id (cli_opt_parser), each checking its value and saying what
 * was wrong and what to give instead; and the checks a command makes of
 * its options as a whole (detach, upgrade).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli_table.h"
#include "docker.h"
#include "log.h"
#include "uplink.h"

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

/* --ifname and --tap */
static int opt_target_if(struct cli *cli, int id, const char *arg)
{
	if (cli->ao.spec.ifname) {
		pr_err("several targets given: name one of --ifname or --tap");
		return CLI_BAD;
	}
	cli->ao.spec.ifname = arg;
	cli->ao.spec.tap = id == O_TAP;
	return 0;
}

static int opt_netns(struct cli *cli, int id, const char *arg)
{
	cli->ao.spec.netns = arg;
	return 0;
}

static int opt_pid(struct cli *cli, int id, const char *arg)
{
	long v;

	if (parse_int(arg, "--pid", 1, INT_MAX, &v))
		return CLI_BAD;
	cli->ao.spec.pid = (pid_t)v;
	return 0;
}

static int opt_container_if(struct cli *cli, int id, const char *arg)
{
	cli->ao.spec.container_if = arg;
	return 0;
}

/* --docker and --podman */
static int opt_container(struct cli *cli, int id, const char *arg)
{
	if (cli->ao.spec.container) {
		pr_err("give one --docker or --podman container");
		return CLI_BAD;
	}
	cli->ao.spec.container = arg;
	cli->ao.spec.engine = id == O_DOCKER ? ENGINE_DOCKER : ENGINE_PODMAN;
	return 0;
}

static int opt_engine(struct cli *cli, int id, const char *arg)
{
	if (strcmp(arg, "docker") && strcmp(arg, "podman")) {
		pr_err("--engine '%s': use docker or podman", arg);
		return CLI_BAD;
	}
	cli->dop.engine = !strcmp(arg, "podman") ? ENGINE_PODMAN : ENGINE_DOCKER;
	return 0;
}

/* --config, --run-dir, --listen, --metrics, --source-mac: taken as given
 * (the command checks them when it uses them). */
static int opt_string(struct cli *cli, int id, const char *arg)
{
	switch (id) {
	case O_CONFIG: cli->dop.config = arg; break;
	case O_RUN_DIR: cli->dop.run_dir = arg; break;
	case O_LISTEN: cli->listen = arg; break;
	case O_METRICS: cli->dop.metrics = arg; break;
	case O_SOURCE_MAC: cli->ao.source_mac = arg; break;
	}
	return 0;
}

static int opt_mode(struct cli *cli, int id, const char *arg)
{
	if (!strcmp(arg, "native"))
		cli->ao.mode = MODE_NATIVE;
	else if (!strcmp(arg, "generic"))
		cli->ao.mode = MODE_GENERIC;
	else if (!strcmp(arg, "tc"))
		cli->ao.mode = MODE_TC;
	else if (!strcmp(arg, "auto"))
		cli->ao.mode = MODE_AUTO;
	else {
		pr_err("--mode '%s' is not a mode: use native, generic, tc or "
		       "auto", arg);
		return CLI_BAD;
	}
	return 0;
}

static int opt_uplink(struct cli *cli, int id, const char *arg)
{
	if (cli->ao.n_uplinks == MAX_UPLINKS) {
		pr_err("at most %d --uplink", MAX_UPLINKS);
		return CLI_BAD;
	}
	cli->ao.uplinks[cli->ao.n_uplinks++] = arg;
	return 0;
}

static int opt_source(struct cli *cli, int id, const char *arg)
{
	if (cli->ao.n_sources == MAX_SOURCE_OPTS) {
		pr_err("at most %d --source", MAX_SOURCE_OPTS);
		return CLI_BAD;
	}
	cli->ao.sources[cli->ao.n_sources++] = arg;
	return 0;
}

static int opt_tc_hook(struct cli *cli, int id, const char *arg)
{
	if (strcmp(arg, "tcx") && strcmp(arg, "clsact")) {
		pr_err("--tc-hook '%s': use tcx or clsact", arg);
		return CLI_BAD;
	}
	cli->ao.tc_hook = !strcmp(arg, "tcx") ? TC_HOOK_TCX : TC_HOOK_CLSACT;
	return 0;
}

static int opt_uplink_mode(struct cli *cli, int id, const char *arg)
{
	if (strcmp(arg, "auto") && strcmp(arg, "native") &&
	    strcmp(arg, "generic")) {
		pr_err("--uplink-mode '%s': use auto, native or generic", arg);
		return CLI_BAD;
	}
	cli->ao.uplink_mode = !strcmp(arg, "native") ? UPLINK_NATIVE :
			      !strcmp(arg, "generic") ? UPLINK_GENERIC :
			      UPLINK_AUTO;
	return 0;
}

/* --json, --watch (flows' flag), --all, --verbose (also -v) */
static int opt_flag(struct cli *cli, int id, const char *arg)
{
	switch (id) {
	case O_JSON: cli->json = 1; break;
	case O_WATCH_FLAG: cli->watch = 1; break;
	case O_ALL: cli->all = 1; break;
	case O_VERBOSE: cli->verbose++; break;
	}
	return 0;
}

/* --watch SECONDS and --count N */
static int opt_number(struct cli *cli, int id, const char *arg)
{
	if (id == O_WATCH)
		return parse_int(arg, "--watch", 1, 3600, &cli->watch) ? CLI_BAD : 0;
	return parse_int(arg, "--count", 1, 1000000, &cli->count) ? CLI_BAD : 0;
}

static int opt_interval(struct cli *cli, int id, const char *arg)
{
	char *end;

	errno = 0;
	cli->interval = strtod(arg, &end);
	if (errno || end == arg || *end || cli->interval < 0.05 ||
	    cli->interval > 60) {
		pr_err("--interval '%s': give seconds between 0.05 and 60 (e.g. "
		       "0.5)", arg);
		return CLI_BAD;
	}
	return 0;
}

static int opt_help(struct cli *cli, int id, const char *arg)
{
	return CLI_HELP;
}

static const struct {
	int id;
	opt_parse_fn parse;
} parsers[] = {
	{ O_IFNAME, opt_target_if }, { O_TAP, opt_target_if },
	{ O_NETNS, opt_netns }, { O_PID, opt_pid },
	{ O_CONTAINER_IF, opt_container_if },
	{ O_DOCKER, opt_container }, { O_PODMAN, opt_container },
	{ O_ENGINE, opt_engine }, { O_CONFIG, opt_string },
	{ O_RUN_DIR, opt_string }, { O_LISTEN, opt_string },
	{ O_METRICS, opt_string }, { O_SOURCE_MAC, opt_string },
	{ O_MODE, opt_mode }, { O_UPLINK, opt_uplink },
	{ O_SOURCE, opt_source }, { O_TC_HOOK, opt_tc_hook },
	{ O_UPLINK_MODE, opt_uplink_mode }, { O_JSON, opt_flag },
	{ O_WATCH_FLAG, opt_flag }, { O_ALL, opt_flag },
	{ O_VERBOSE, opt_flag }, { O_WATCH, opt_number },
	{ O_COUNT, opt_number }, { O_INTERVAL, opt_interval },
	{ O_HELP, opt_help },
};

opt_parse_fn cli_opt_parser(int id)
{
	size_t i;

	for (i = 0; i < sizeof(parsers) / sizeof(parsers[0]); i++)
		if (parsers[i].id == id)
			return parsers[i].parse;
	return NULL;
}

static int has_target(const struct cli *cli)
{
	return cli->ao.spec.ifname || cli->ao.spec.netns || cli->ao.spec.pid ||
	       cli->ao.spec.container;
}

int cli_check_detach(struct cli *cli)
{
	if (cli->all && has_target(cli)) {
		pr_err("--all detaches everything: give it no TARGET");
		return CLI_BAD;
	}
	return 0;
}

int cli_check_upgrade(struct cli *cli)
{
	int target = has_target(cli);

	if (cli->all && target) {
		pr_err("--all upgrades everything: give it no TARGET");
		return CLI_BAD;
	}
	cli->all = !target; /* no TARGET: all of them */
	return 0;
}
