// SPDX-License-Identifier: GPL-2.0
/*
 * Which containers ask for xdp-egress, and with which attach options: read
 * from an engine's inspect answer (or list entry) and the daemon's config,
 * without acting on it (daemon_watch.c acts). Labels are untrusted input.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon_internal.h"
#include "jsonval.h"
#include "netns.h"
#include "nl.h"

static const char *label_of(cJSON *labels, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(labels, key));
}

static int truthy(const char *v)
{
	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") ||
		     !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

/*
 * Its enable label decides (true or false); without one, being on a
 * network named in the config does.
 */
int daemon_wanted(struct daemon *d, cJSON *labels, cJSON *networks,
		  const char **net)
{
	const char *en = label_of(labels, DAEMON_ENABLE_LABEL);
	cJSON *n;

	*net = NULL;
	if (en)
		return truthy(en);
	cJSON_ArrayForEach(n, d->networks) {
		if (cJSON_IsString(n) && cJSON_GetObjectItem(networks, n->valuestring)) {
			*net = n->valuestring;
			return 1;
		}
	}
	return 0;
}

/* Add --OPT VALUE (each comma-separated item of VALUE when repeatable). */
static void add_opt(struct argv_buf *a, int i, const char *value)
{
	char flag[64], *copy, *item, *save = NULL;

	snprintf(flag, sizeof(flag), "--%s", daemon_label_opt_name(i));
	if (!daemon_label_opt_repeatable(i)) {
		daemon_argv_add(a, flag);
		daemon_argv_add(a, value);
		return;
	}
	copy = strdup(value);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ')
			item++;
		daemon_argv_add(a, flag);
		daemon_argv_add(a, item);
	}
	free(copy);
}

/* Labels are untrusted: Docker merges an image's LABELs into its
 * containers', so whoever built the image writes them. They may set only
 * the options the operator's config lists in "labels" (default: the mode);
 * uplinks and interfaces come from the config or the CLI. */
static int label_allowed(const struct daemon *d, const char *name)
{
	cJSON *e;

	if (!d->labels)
		return !strcmp(name, "mode");
	cJSON_ArrayForEach(e, d->labels)
		if (cJSON_IsString(e) && !strcmp(e->valuestring, name))
			return 1;
	return 0;
}

/* Option i's value from the labels, where the config lets them set it. */
static const char *label_value(struct daemon *d, const char *who,
			       cJSON *labels, int i)
{
	const char *opt = daemon_label_opt_name(i);
	char key[64];
	const char *v;

	snprintf(key, sizeof(key), DAEMON_LABEL_PREFIX "%s", opt);
	v = label_of(labels, key);
	if (v && !label_allowed(d, opt)) {
		dlog("%s: ignoring label %s=%s: the daemon's config does not "
		     "let labels set --%s (labels come with the image; list "
		     "\"%s\" in the config's \"labels\" to allow it)", who,
		     key, v, opt, opt);
		v = NULL;
	}
	return v;
}

/* The attach options: the config's, each replaced by a label that names
 * the same option where the config lets labels set it. Other xdp-egress.*
 * labels are reported, not used. */
static void attach_options(struct daemon *d, const char *who, cJSON *labels,
			   struct argv_buf *a)
{
	size_t plen = strlen(DAEMON_LABEL_PREFIX);
	cJSON *l, *o, *e;
	int i;

	for (i = 0; i < daemon_n_label_opts(); i++) {
		const char *v = label_value(d, who, labels, i);

		o = cJSON_GetObjectItem(d->options, daemon_label_opt_name(i));
		if (v)
			add_opt(a, i, v);
		else if (cJSON_IsString(o))
			add_opt(a, i, o->valuestring);
		else if (cJSON_IsArray(o))
			cJSON_ArrayForEach(e, o)
				if (cJSON_IsString(e))
					add_opt(a, i, e->valuestring);
	}
	cJSON_ArrayForEach(l, labels) {
		if (strncmp(l->string, DAEMON_LABEL_PREFIX, plen) ||
		    !strcmp(l->string, DAEMON_ENABLE_LABEL) ||
		    daemon_label_opt_index(l->string + plen) >= 0)
			continue;
		dlog("%s: ignoring label %s: not an attach option (enable, mode, "
		     "uplink, uplink-mode, container-if)", who, l->string);
	}
}

int daemon_inspect_parse(struct daemon *d, cJSON *j, const char *id,
			 struct container_req *r)
{
	cJSON *labels, *state;

	memset(r, 0, sizeof(*r));
	r->name = cJSON_GetStringValue(cJSON_GetObjectItem(j, "Name")) ?: id;
	if (*r->name == '/')
		r->name++;
	labels = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Config"), "Labels");
	r->networks = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "NetworkSettings"),
					  "Networks");
	state = cJSON_GetObjectItem(j, "State");
	r->pid = (pid_t)json_int(cJSON_GetObjectItem(state, "Pid"), 0, INT_MAX, 0);
	r->id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "Id")) ?: id;
	if (!daemon_wanted(d, labels, r->networks, &r->net))
		return 0;
	if (!cJSON_IsTrue(cJSON_GetObjectItem(state, "Running")) || r->pid <= 0) {
		dlog("%s: not running any more; nothing to attach", r->name);
		return 0;
	}
	attach_options(d, r->name, labels, &r->opts);
	return 1;
}

struct mac_match {
	unsigned char mac[6];
	char name[IF_NAMESIZE];
};

static int match_mac(const struct link_info *li, void *arg)
{
	struct mac_match *m = arg;

	if (strcmp(li->kind, "veth") || memcmp(li->mac, m->mac, 6))
		return 0;
	snprintf(m->name, sizeof(m->name), "%s", li->name);
	return 1;
}

void daemon_container_if_on(pid_t pid, cJSON *networks, const char *net,
			    char *out, size_t len)
{
	const char *mac = cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(networks, net), "MacAddress"));
	struct mac_match m = {};
	struct mnl_socket *nl;
	unsigned int b[6];
	int fd, i;

	out[0] = 0;
	if (!mac || sscanf(mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3],
			   &b[4], &b[5]) != 6)
		return;
	for (i = 0; i < 6; i++)
		m.mac[i] = (unsigned char)b[i];
	fd = netns_open_pid(pid);
	if (fd < 0)
		return;
	nl = nl_open_in(fd);
	close(fd);
	if (!nl)
		return;
	nl_link_dump(nl, match_mac, &m);
	nl_close(nl);
	snprintf(out, len, "%s", m.name);
}
