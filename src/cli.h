/* SPDX-License-Identifier: GPL-2.0 */
/* The command line of xdp-egress: parsed into struct cli, run by main.c. */
#ifndef XE_CLI_H
#define XE_CLI_H

#include "attach.h"
#include "daemon.h"

struct cli {
	const char *command;       /* "attach", ... */
	struct attach_opts ao;     /* TARGET and attach's options */
	struct daemon_opts dop;
	int json, all, verbose;
	long watch, count;
	double interval;           /* tune --interval, seconds */
	const char *listen;        /* exporter --listen ADDR:PORT */
};

/*
 * Parse argv (argv[1] is the command) into cli, whose strings point into
 * argv (which getopt may reorder). Returns -1 when the command is to run;
 * otherwise the exit status: 0 after printing a help, 2 after printing what
 * was wrong. Executes nothing and may be called again (getopt starts over).
 */
int cli_parse(int argc, char **argv, struct cli *cli);

#endif
