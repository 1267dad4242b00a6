// SPDX-License-Identifier: GPL-2.0
/* xdp-egress: command-line entry. cli.c parses, this runs the command. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "attach.h"
#include "auto.h"
#include "cli.h"
#include "kct.h"
#include "daemon.h"
#include "flows.h"
#include "exporter.h"
#include "log.h"
#include "report.h"
#include "top.h"
#include "upgrade.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && log_verbose < 2)
		return 0;
	if (!log_verbose) {
		if (level == LIBBPF_WARN)
			log_libbpf_keep(fmt, ap);
		return 0;
	}
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	struct cli cli;
	const char *c;
	int ret;

	ret = cli_parse(argc, argv, &cli);
	if (ret >= 0)
		return ret;
	c = cli.command;
	log_verbose += cli.verbose;
	if (cli.json)
		log_quiet = 1;
	libbpf_set_print(libbpf_print);
	if (geteuid() != 0) {
		pr_err("%s needs root (CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN "
		       "to enter namespaces); run it with sudo", c);
		return 1;
	}
	if (!strcmp(c, "attach"))
		return cmd_attach(&cli.ao);
	if (!strcmp(c, "flush"))
		return cmd_flush();
	if (!strcmp(c, "agent"))
		return cmd_agent();
	if (!strcmp(c, "detach"))
		return cmd_detach(&cli.ao.spec, cli.all);
	if (!strcmp(c, "upgrade"))
		return cmd_upgrade(&cli.ao.spec, cli.all);
	if (!strcmp(c, "status"))
		return cmd_status(cli.json);
	if (!strcmp(c, "daemon"))
		return cmd_daemon(&cli.dop);
	if (!strcmp(c, "flows"))
		return cmd_flows(&cli.ao.spec, cli.json, (int)cli.watch, (int)cli.count);
	if (!strcmp(c, "events"))
		return cmd_events(cli.json, (int)cli.count);
	if (!strcmp(c, "top"))
		return cmd_top(cli.interval);
	if (!strcmp(c, "exporter"))
		return cmd_exporter(cli.listen, cli.dop.run_dir);
	if (!strcmp(c, "tune"))
		return cmd_tune((int)(cli.interval * 1000 + 0.5), (int)cli.count);
	return cmd_stats(&cli.ao.spec, cli.json, (int)cli.watch, (int)cli.count);
}
