// SPDX-License-Identifier: GPL-2.0
/*
 * The command line's option values: a parser for each option (options of
 * one kind share one), found by the option's id (cli_opt_parser), each
 * checking the value and saying what was wrong and what to give instead;
 * and the checks a command makes of its options as a whole (detach,
 * upgrade).
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

/* An option's words and the values they stand for, ended by { 0 }. */
struct word {
	const char *word;
	int value;
};

/* *out gets the value of word arg; -1 (*out untouched) when none is. */
static int word_value(const char *arg, const struct word *w, int *out)
{
	for (; w->word; w++)
		if (!strcmp(w->word, arg)) {
			*out = w->value;
			return 0;
		}
	return -1;
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

static const struct word engines[] = {
	{ "docker", ENGINE_DOCKER }, { "podman", ENGINE_PODMAN }, { 0 }
};
static const struct word modes[] = {
	{ "native", MODE_NATIVE }, { "generic", MODE_GENERIC },
	{ "tc", MODE_TC }, { "auto", MODE_AUTO }, { 0 }
};
static const struct word tc_hooks[] = {
	{ "tcx", TC_HOOK_TCX }, { "clsact", TC_HOOK_CLSACT }, { 0 }
};
static const struct word uplink_modes[] = {
	{ "auto", UPLINK_AUTO }, { "native", UPLINK_NATIVE },
	{ "generic", UPLINK_GENERIC }, { "tc", UPLINK_TC }, { 0 }
};

/* The options that take one of a few words, and what a wrong one gets
 * told (%s: the value given). */
static const struct word_opt {
	int id;
	const struct word *words;
	const char *error;
} word_opts[] = {
	{ O_ENGINE, engines, "--engine '%s': use docker or podman" },
	{ O_MODE, modes, "--mode '%s' is not a mode: use native, generic, tc "
	  "or auto" },
	{ O_TC_HOOK, tc_hooks, "--tc-hook '%s': use tcx or clsact" },
	{ O_UPLINK_MODE, uplink_modes, "--uplink-mode '%s': use auto, native, "
	  "generic or tc" },
};

/* --engine, --mode, --tc-hook, --uplink-mode */
static int opt_word(struct cli *cli, int id, const char *arg)
{
	const struct word_opt *wo = word_opts;
	int v;

	while (wo->id != id)
		wo++;
	if (word_value(arg, wo->words, &v)) {
		pr_err(wo->error, arg);
		return CLI_BAD;
	}
	switch (id) {
	case O_ENGINE: cli->dop.engine = v; break;
	case O_MODE: cli->ao.mode = v; break;
	case O_TC_HOOK: cli->ao.tc_hook = v; break;
	case O_UPLINK_MODE: cli->ao.uplink_mode = v; break;
	}
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

/* --uplink and --source, each repeatable up to its maximum */
static int opt_list(struct cli *cli, int id, const char *arg)
{
	int up = id == O_UPLINK;
	int *n = up ? &cli->ao.n_uplinks : &cli->ao.n_sources;
	int max = up ? MAX_UPLINKS : MAX_SOURCE_OPTS;

	if (*n == max) {
		pr_err("at most %d --%s", max, up ? "uplink" : "source");
		return CLI_BAD;
	}
	(up ? cli->ao.uplinks : cli->ao.sources)[(*n)++] = arg;
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
	{ O_ENGINE, opt_word }, { O_CONFIG, opt_string },
	{ O_RUN_DIR, opt_string }, { O_LISTEN, opt_string },
	{ O_METRICS, opt_string }, { O_SOURCE_MAC, opt_string },
	{ O_MODE, opt_word }, { O_UPLINK, opt_list },
	{ O_SOURCE, opt_list }, { O_TC_HOOK, opt_word },
	{ O_UPLINK_MODE, opt_word }, { O_JSON, opt_flag },
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
