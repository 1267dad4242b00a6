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

/* The Makefile's VERSION; --version prints it. */
#ifndef XDP_EGRESS_VERSION
#define XDP_EGRESS_VERSION "0.1"
#endif

/*
 * The option tables, read by doc/gen-doc.c, which writes the man pages and
 * the bash completion from them at build time (so they cannot disagree
 * with --help). Strings are static; NULL arg: a flag; NULL note: none.
 */
struct cli_doc_cmd {
	const char *name, *usage, *about, *note;
};
struct cli_doc_opt {
	const char *name, *arg, *help;
};
const char *cli_doc_about(void);
/* Command i (0...), or -1 past the last. */
int cli_doc_command(int i, struct cli_doc_cmd *d);
/* Option j (0...) of command i, or -1 past the last. */
int cli_doc_option(int i, int j, struct cli_doc_opt *d);

#endif
