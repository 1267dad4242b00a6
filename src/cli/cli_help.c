// SPDX-License-Identifier: GPL-2.0
/*
 * --help, printed from the command line's tables (cli_table.c): the
 * program's list of commands, and each command's usage, note and options,
 * wrapped to 78 columns.
 */
#include <stdio.h>
#include <string.h>

#include "cli_table.h"

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

void cli_command_help(const struct command *c)
{
	const struct opt_doc *o;

	printf("usage: xdp-egress %s\n\n%s\n\n", c->usage, c->about);
	if (c->note) {
		print_wrapped(c->note, 0);
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

void cli_main_help(FILE *f)
{
	const struct command *c;

	fprintf(f, "usage: xdp-egress COMMAND [options]\n\n%s\n\ncommands:\n",
		cli_program_about);
	for (c = cli_commands; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->about);
	fprintf(f, "\n`xdp-egress COMMAND --help` documents each command's options; "
		"`xdp-egress --version` prints the version; man xdp-egress.\n");
}
