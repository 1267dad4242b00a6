// SPDX-License-Identifier: GPL-2.0
/*
 * The pod's host-side interface (from its namespace and prevResult) and
 * the attachment recorded on it in the pins (attachment.h).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "attachment.h"
#include "jsonval.h"
#include "nl.h"
#include "output.h"
#include "pins.h"
#include "target.h"

unsigned long path_inode(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (unsigned long)st.st_ino;
}

int find_host_if(const struct cni_conf *c, const struct cni_env *env,
		 char *host, size_t len, char *why, size_t why_len)
{
	struct target_spec spec = { .netns = env->netns,
				    .container_if = env->ifname };
	char names[256];
	struct target t;
	off_t from = captured_len();

	prev_host_names(c->prev_result, names, sizeof(names));
	if (!prev_has_pod_if(c->prev_result, env->ifname, env->netns,
			     path_inode)) {
		snprintf(why, why_len, "prevResult.interfaces does not list the "
			 "pod's interface %s with sandbox %s (host-side "
			 "interfaces listed: %s); xdp-egress-cni must follow a "
			 "plugin that creates the pod's veth pair (bridge, ptp)",
			 env->ifname, env->netns, names);
		return -1;
	}
	if (target_resolve(&spec, &t)) {
		char *e = captured_errors(from);

		snprintf(why, why_len, "the host side of %s in %s cannot be found: "
			 "%s", env->ifname, env->netns, e ? e : "?");
		free(e);
		return -1;
	}
	snprintf(host, len, "%s", t.host.name);
	target_release(&t);
	if (!prev_has_host_if(c->prev_result, host)) {
		snprintf(why, why_len, "prevResult.interfaces has no host-side "
			 "interface (without \"sandbox\") paired with the pod's %s: "
			 "its peer on the host is %s, but prevResult lists %s; "
			 "xdp-egress-cni must follow the plugin that created the "
			 "pair (bridge, ptp)", env->ifname, host, names);
		return -1;
	}
	return 0;
}

struct attachment_query {
	const char *ifname;
	struct attachment_info *ai;
};

static int record_of(const char *dir, cJSON *m, void *arg)
{
	struct attachment_query *q = arg;
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname"));
	const char *mode = cJSON_GetStringValue(cJSON_GetObjectItem(m, "mode"));

	if (!name || strcmp(name, q->ifname))
		return 0;
	q->ai->found = 1;
	q->ai->ifindex = (int)json_int(cJSON_GetObjectItem(m, "ifindex"), 0,
				       INT_MAX, 0);
	/* An attach killed before it finished is no attachment. */
	q->ai->prog_id = strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(
				       m, "phase")) ?: "attached", "attached")
				 ? 0
				 : (unsigned int)json_int(cJSON_GetObjectItem(m, "prog_id"),
							  0, UINT32_MAX, 0);
	snprintf(q->ai->mode, sizeof(q->ai->mode), "%s", mode ? mode : "?");
	return 1;
}

int attachment_of(const char *ifname, struct attachment_info *ai)
{
	struct attachment_query q = { ifname, ai };
	char root[PATH_MAX], ns_dir[PATH_MAX];
	struct mnl_socket *nl;
	struct link_info li;
	int have_link;

	memset(ai, 0, sizeof(*ai));
	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(ns_dir, sizeof(ns_dir), root))
		return -1;
	nl = nl_open_in(-1);
	have_link = nl && !nl_link_by_name(nl, ifname, &li);
	nl_close(nl);
	pins_foreach_record(ns_dir, record_of, &q);
	if (ai->found && (!have_link || li.ifindex != ai->ifindex ||
			  li.xdp_prog_id != ai->prog_id))
		ai->prog_id = 0;
	return 0;
}
