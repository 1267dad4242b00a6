// SPDX-License-Identifier: GPL-2.0
/*
 * The command line (src/cli/cli.c): the input, split at NUL bytes, is argv[1..]
 * of xdp-egress (at most 32 words). cli_parse only parses: nothing runs.
 * Checked besides the sanitizers: a command to run has a name and its
 * repeatable options stay within their arrays.
 */
#include "fuzz.h"
#include "cli.h"
#include "uplink.h"

#define MAX_ARGS 32

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_stdout();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_str(data, size), *p = in, *argv[MAX_ARGS + 2];
	int argc = 0, rc;
	struct cli cli;

	argv[argc++] = "xdp-egress";
	while (argc <= MAX_ARGS && p <= in + size) {
		argv[argc++] = p;
		p += strlen(p) + 1;
	}
	argv[argc] = NULL;
	rc = cli_parse(argc, argv, &cli);
	if (rc >= 0 && rc != 0 && rc != 2)
		abort();
	if (rc < 0 && (!cli.command || cli.ao.n_uplinks > MAX_UPLINKS ||
		       cli.ao.n_sources > MAX_SOURCE_OPTS ||
		       (cli.interval < 0.05 || cli.interval > 60)))
		abort();
	free(in);
	return 0;
}
