/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CNI commands ADD, DEL, CHECK and VERSION (commands.c), given the
 * parsed config and the runtime's environment. Each prints its result or
 * a CNI error (output.h) and returns the plugin's exit status.
 */
#ifndef XE_CNI_COMMANDS_H
#define XE_CNI_COMMANDS_H

#include <cjson/cJSON.h>

#include "conf.h"

/* The runtime's CNI_* variables (NULL when unset or empty). */
struct cni_env {
	const char *command, *containerid, *netns, *ifname;
};

/* root: the config document, whose prevResult becomes ADD's result. */
int cni_add(struct cni_conf *c, const struct cni_env *env, cJSON *root);
int cni_del(struct cni_conf *c, const struct cni_env *env);
int cni_check(struct cni_conf *c, const struct cni_env *env);
int cni_version(void);

#endif
