// SPDX-License-Identifier: GPL-2.0
/*
 * xdp-egress-cni: a CNI 1.0.0 chained plugin. Listed after an interface
 * plugin that makes a veth pair (bridge, ptp), it attaches xdp-egress to the
 * pod's host-side veth on ADD and detaches it on DEL, with the options of its
 * own entry in the conflist:
 *
 *   {"type": "xdp-egress-cni", "mode": "native|generic|tc|auto",
 *    "uplink": "eth0" | ["eth0", "eth1"], "uplinkMode": "native|generic"}
 *
 * The host's netfilter (the bridge plugin's ipMasq rules, kube-proxy's
 * Services) stays the authority: the fast path carries what it accepted.
 *
 * This file is the entry: the command line, the runtime's environment and
 * the config on stdin, checked before anything runs. The rest, one job a
 * file: conf.c (the config's schema), prev_result.c (prevResult and ADD's
 * result), output.c (the captured output; results and errors on stdout),
 * attachment.c (the pod's host-side veth and its attachment), commands.c
 * (ADD, DEL, CHECK, VERSION), validate.c (`--validate FILE`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "attachment.h"
#include "commands.h"
#include "conf.h"
#include "output.h"
#include "validate.h"

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	return 0;
}

static const char *env_str(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static char *read_stdin(size_t *len_out)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);
	ssize_t n;

	while (buf && (n = read(STDIN_FILENO, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap) {
			char *nb;

			if (cap >= CNI_MAX_CONFIG) {
				free(buf);
				return NULL;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf)
		buf[len] = 0;
	*len_out = len;
	return buf;
}

/* CNI_COMMAND: -1 when it is ADD, DEL or CHECK; else the exit status of
 * VERSION or of the error printed. */
static int command_check(const char *command)
{
	if (!command)
		return cni_error(CNI_ERR_ENV, NULL, "CNI_COMMAND is not set: "
				 "xdp-egress-cni is run by a container runtime with "
				 "CNI_COMMAND=ADD|DEL|CHECK|VERSION");
	if (!strcmp(command, "VERSION"))
		return cni_version();
	if (strcmp(command, "ADD") && strcmp(command, "DEL") &&
	    strcmp(command, "CHECK"))
		return cni_error(CNI_ERR_ENV, NULL, "CNI_COMMAND '%s' is not ADD, "
				 "DEL, CHECK or VERSION", command);
	return -1;
}

/* The network config on stdin, parsed; NULL with the error printed. */
static cJSON *config_from_stdin(void)
{
	cJSON *root;
	size_t len;
	char *in = read_stdin(&len);

	if (!in) {
		cni_error(CNI_ERR_IO, NULL, "cannot read the network config "
			  "from stdin (at most %d bytes)", CNI_MAX_CONFIG);
		return NULL;
	}
	root = cJSON_Parse(in);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();

		cni_error(CNI_ERR_DECODE, NULL, "the network config on stdin "
			  "is not valid JSON (near byte %ld of %zu)",
			  at ? (long)(at - in) : 0L, len);
	}
	free(in);
	return root;
}

/* The spec's required variables per command, and root privileges: 0, or
 * the exit status of the error printed. */
static int env_check(struct cni_env *env)
{
	char missing[128] = "";
	int del = !strcmp(env->command, "DEL");

	env->containerid = env_str("CNI_CONTAINERID");
	env->netns = env_str("CNI_NETNS");
	env->ifname = env_str("CNI_IFNAME");
	if (!env->containerid)
		strcat(missing, " CNI_CONTAINERID");
	if (!env->netns && !del)
		strcat(missing, " CNI_NETNS");
	if (!env->ifname)
		strcat(missing, " CNI_IFNAME");
	if (missing[0])
		return cni_error(CNI_ERR_ENV, NULL, "missing environment "
				 "variables:%s (required for %s)", missing,
				 env->command);
	if (strlen(env->ifname) >= IF_NAMESIZE)
		return cni_error(CNI_ERR_ENV, NULL, "CNI_IFNAME '%s' is longer "
				 "than an interface name can be", env->ifname);
	if (!del && path_inode(env->netns) == 0)
		return cni_error(CNI_ERR_ENV, NULL, "CNI_NETNS '%s' does not "
				 "exist: %s", env->netns, strerror(errno));
	if (geteuid() != 0)
		return cni_error(CNI_ERR_ENV, NULL, "xdp-egress-cni needs root "
				 "(CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)");
	return 0;
}

/* ADD, DEL or CHECK with the config root. */
static int run_command(cJSON *root, struct cni_env *env)
{
	struct conf_error ce = {};
	struct cni_conf c;
	int ret;

	if (conf_parse(root, &c, &ce)) {
		if (c.cni_version)
			cni_set_version_out(c.cni_version);
		return cni_error(ce.code, NULL, "%s", ce.msg);
	}
	cni_set_version_out(c.cni_version);
	ret = env_check(env);
	if (ret)
		return ret;
	if (!strcmp(env->command, "ADD"))
		return cni_add(&c, env, root);
	if (!strcmp(env->command, "DEL"))
		return cni_del(&c, env);
	return cni_check(&c, env);
}

int main(int argc, char **argv)
{
	struct cni_env env = {};
	cJSON *root;
	int ret;

	libbpf_set_print(libbpf_quiet);
	if (argc == 3 && !strcmp(argv[1], "--validate")) {
		capture_output();
		return validate_file(argv[2]);
	}
	if (argc > 1) {
		fputs(cni_usage, !strcmp(argv[1], "--help") ? stdout : stderr);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	capture_output();
	env.command = env_str("CNI_COMMAND");
	ret = command_check(env.command);
	if (ret >= 0)
		return ret;
	root = config_from_stdin();
	if (!root)
		return 1;
	ret = run_command(root, &env);
	cJSON_Delete(root);
	return ret;
}
