// SPDX-License-Identifier: GPL-2.0
/*
 * The command line: cli_parse() picks the command, refuses the removed
 * options, runs getopt over the command's option table (cli_table.c),
 * hands each option to its parser (cli_values.c) and ends with the
 * command's own check. It only parses (main.c runs the command), so
 * tests/fuzz/fuzz_cli.c can feed it any argv.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli_table.h"
#include "docker.h"
#include "log.h"

/* 0, or 2 after saying that argv holds an option that was removed. */
static int refuse_removed(const struct command *c, int argc, char **argv)
{
	static const char *const removed[] = { "--snat", "--snat-ports",
					       "--ct-timeout", "--ct-size", NULL };
	const char *const *r;
	int i;

	for (i = 2; i < argc; i++)
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
				return CLI_BAD;
			}
	return 0;
}

/* getopt's view of the command's table (at most max - 1 options). */
static void long_options(const struct command *c, struct option *lopts,
			 int max)
{
	const struct opt_doc *o;
	int n = 0;

	for (o = c->opts; o->name && n < max - 1; o++, n++)
		lopts[n] = (struct option){ o->name, o->arg ? required_argument
							    : no_argument,
					    NULL, o->id };
	lopts[n] = (struct option){ 0 };
}

/* What getopt refused (opt '?'); returns 2. */
static int option_error(const struct command *c, char **argv)
{
	const struct opt_doc *o;

	if (optopt >= O_IFNAME) {
		for (o = c->opts; o->name && o->id != optopt; o++)
			;
		pr_err("%s: option '--%s' needs a value (%s); see "
		       "`xdp-egress %s --help`", c->name,
		       o->name ? o->name : "?", o->arg ? o->arg : "", c->name);
	} else if (optopt) {
		pr_err("%s: option '-%c' is unknown; see `xdp-egress %s --help`",
		       c->name, optopt, c->name);
	} else {
		pr_err("%s: option '%s' is unknown; see `xdp-egress %s --help`",
		       c->name, argv[optind], c->name);
	}
	return CLI_BAD;
}

/* The command's options into cli: -1 when they are all taken, else the
 * exit status (0 after its --help). */
static int parse_options(const struct command *c, int argc, char **argv,
			 struct cli *cli)
{
	struct option lopts[24];
	opt_parse_fn parse;
	int opt, rc;

	long_options(c, lopts, sizeof(lopts) / sizeof(lopts[0]));
	/* argv[1], the command, stands in for the program name: optind 0
	 * makes glibc's getopt start afresh, whatever an earlier parse left
	 * (the fuzzer parses many command lines in one process). */
	optind = 0;
	opterr = 0; /* our own messages, with the xdp-egress: prefix */
	while ((opt = getopt_long(argc - 1, argv + 1, "hv", lopts, NULL)) != -1) {
		if (opt == 'v')
			opt = O_VERBOSE;
		else if (opt == 'h')
			opt = O_HELP;
		parse = opt >= O_IFNAME ? cli_opt_parser(opt) : NULL;
		if (!parse)
			return option_error(c, argv);
		rc = parse(cli, opt, optarg);
		if (rc == CLI_HELP) {
			cli_command_help(c);
			return 0;
		}
		if (rc)
			return rc;
	}
	if (optind + 1 < argc) {
		pr_err("unexpected argument '%s' for %s; see `xdp-egress %s --help`",
		       argv[optind + 1], c->name, c->name);
		return CLI_BAD;
	}
	return -1;
}

int cli_parse(int argc, char **argv, struct cli *cli)
{
	const struct command *c;
	int rc;

	memset(cli, 0, sizeof(*cli));
	cli->dop.engine = ENGINE_DOCKER;
	cli->interval = 1;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		cli_main_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("xdp-egress %s\n", XDP_EGRESS_VERSION);
		return 0;
	}
	for (c = cli_commands; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			break;
	if (!c->name) {
		pr_err("unknown command '%s'; commands are attach, detach, "
		       "upgrade, flush, status, stats, flows, events, top, daemon, "
		       "exporter, tune, agent (see xdp-egress "
		       "--help)", argv[1]);
		return CLI_BAD;
	}
	rc = refuse_removed(c, argc, argv);
	if (!rc)
		rc = parse_options(c, argc, argv, cli);
	if (rc >= 0)
		return rc;
	if (c->check && c->check(cli))
		return CLI_BAD;
	cli->command = c->name;
	return -1;
}
