// SPDX-License-Identifier: GPL-2.0
/*
 * The container label of the exporter's series (container_names.h): a
 * daemon names what it attached in RUN_DIR/containers.json; anything else
 * is named by its network namespace (`ip netns` name or inode) and its
 * interface there.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>

#include "container_names.h"
#include "jsonval.h"

static const char *str(cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k)) ?: "";
}

void container_names_load(struct container_names *nm,
			  const char *const *run_dirs)
{
	char path[PATH_MAX], *text = NULL;
	size_t cap = 0;
	FILE *f;
	cJSON *root;

	memset(nm, 0, sizeof(*nm));
	for (; run_dirs && *run_dirs && nm->n < 4; run_dirs++) {
		snprintf(path, sizeof(path), "%s/containers.json", *run_dirs);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (getdelim(&text, &cap, 0, f) < 0 && text)
			text[0] = 0;
		fclose(f);
		root = text ? cJSON_Parse(text) : NULL;
		if (root)
			nm->containers[nm->n++] = root;
	}
	free(text);
}

void container_names_free(struct container_names *nm)
{
	int i;

	for (i = 0; i < nm->n; i++)
		cJSON_Delete(nm->containers[i]);
}

/* The name of the `ip netns` namespace with inode ino, into out. */
static int netns_name(unsigned long long ino, char *out, size_t len)
{
	DIR *d = opendir("/run/netns");
	struct dirent *de;
	char path[PATH_MAX];
	struct stat st;
	int found = 0;

	while (d && !found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (!stat(path, &st) && st.st_ino == ino) {
			snprintf(out, len, "%s", de->d_name);
			found = 1;
		}
	}
	if (d)
		closedir(d);
	return found ? 0 : -1;
}

/* The engine's name of record m's interface, or NULL. */
static const char *engine_name_of(const struct container_names *nm, cJSON *m)
{
	long long ifindex = json_int(cJSON_GetObjectItem(m, "ifindex"), 0,
				     INT_MAX, -1);
	cJSON *o;
	int i;

	for (i = 0; i < nm->n; i++)
		cJSON_ArrayForEach(o, cJSON_GetObjectItem(nm->containers[i],
							  "containers")) {
			if (!strcmp(str(o, "ifname"), str(m, "ifname")) &&
			    json_int(cJSON_GetObjectItem(o, "ifindex"), 0, INT_MAX,
				     -2) == ifindex && *str(o, "name"))
				return str(o, "name");
		}
	return NULL;
}

void container_label(const struct container_names *nm, cJSON *m, char *out,
		     size_t len)
{
	cJSON *c = cJSON_GetObjectItem(m, "container");
	const char *name = engine_name_of(nm, m);
	unsigned long long ino;
	char ns[NAME_MAX + 1];

	if (name) {
		snprintf(out, len, "%s", name);
		return;
	}
	if (!c) {
		snprintf(out, len, "%s", str(m, "ifname"));
		return;
	}
	ino = (unsigned long long)json_int(cJSON_GetObjectItem(c, "netns_ino"),
					   0, 1LL << 53, 0);
	if (netns_name(ino, ns, sizeof(ns)))
		snprintf(ns, sizeof(ns), "netns:%llu", ino);
	snprintf(out, len, "%s/%s", ns, str(c, "ifname"));
}
