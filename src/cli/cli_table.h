/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the command line's files share (cli.h is its outside): the option
 * and command tables (cli_table.c), each option's value parser
 * (cli_values.c) and the help printed from the tables (cli_help.c).
 * cli.c's cli_parse() runs getopt over a command's table and calls the
 * parser of each option it meets.
 */
#ifndef XE_CLI_TABLE_H
#define XE_CLI_TABLE_H

#include <stdio.h>

#include "cli.h"

enum opt_id {
	O_IFNAME = 256, O_NETNS, O_PID, O_CONTAINER_IF, O_MODE, O_UPLINK,
	O_JSON, O_WATCH, O_COUNT, O_ALL, O_VERBOSE, O_HELP,
	O_SOURCE, O_SOURCE_MAC, O_UPLINK_MODE, O_TC_HOOK,
	O_DOCKER, O_PODMAN, O_ENGINE, O_CONFIG, O_RUN_DIR,
	O_TAP, O_INTERVAL, O_LISTEN, O_METRICS, O_WATCH_FLAG,
};

/* What an option's parser returns besides 0 (taken) and CLI_BAD (the
 * error printed): the command's --help is asked for. */
#define CLI_BAD 2
#define CLI_HELP 1

/* Takes option id's value arg (NULL for a flag) into cli. */
typedef int (*opt_parse_fn)(struct cli *cli, int id, const char *arg);

struct opt_doc {
	int id;
	const char *name;
	const char *arg;   /* NULL: a flag */
	const char *help;
};

struct command {
	const char *name;
	const char *usage;
	const char *about;
	const struct opt_doc *opts;
	const char *note;            /* more for --help and man, or NULL */
	int (*check)(struct cli *);  /* after the options: 0 or CLI_BAD */
};

/* cli_table.c */
extern const struct command cli_commands[];
extern const char cli_program_about[];

/* cli_help.c */
void cli_command_help(const struct command *c);
void cli_main_help(FILE *f);

/* cli_values.c: the parser of option id (every id has one). */
opt_parse_fn cli_opt_parser(int id);
/* After the options, per command: 0 or CLI_BAD. */
int cli_check_detach(struct cli *cli);
int cli_check_upgrade(struct cli *cli);

#endif
