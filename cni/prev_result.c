// SPDX-License-Identifier: GPL-2.0
/*
 * prevResult, the previous plugin's result in the config: the look-ups ADD,
 * DEL and CHECK make in its interfaces, and ADD's result built from it
 * (conf.h). Nothing here touches the host.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"

cJSON *conf_add_result(cJSON *root, const struct cni_conf *c)
{
	cJSON *result = cJSON_DetachItemFromObject(root, "prevResult");

	if (!result)
		return NULL;
	if (cJSON_GetObjectItem(result, "cniVersion"))
		cJSON_ReplaceItemInObject(result, "cniVersion",
					  cJSON_CreateString(c->cni_version));
	else
		cJSON_AddStringToObject(result, "cniVersion", c->cni_version);
	return result;
}

int prev_has_host_if(cJSON *prev, const char *name)
{
	cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(prev, "interfaces")) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(it, "name"));
		const char *sb = cJSON_GetStringValue(cJSON_GetObjectItem(it, "sandbox"));

		if (n && !strcmp(n, name) && (!sb || !*sb))
			return 1;
	}
	return 0;
}

int prev_has_pod_if(cJSON *prev, const char *ifname, const char *netns,
		    unsigned long (*inode_of)(const char *path))
{
	unsigned long want = inode_of ? inode_of(netns) : 0;
	cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(prev, "interfaces")) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(it, "name"));
		const char *sb = cJSON_GetStringValue(cJSON_GetObjectItem(it, "sandbox"));

		if (n && sb && !strcmp(n, ifname) &&
		    (!strcmp(sb, netns) || (want && inode_of(sb) == want)))
			return 1;
	}
	return 0;
}

void prev_host_names(cJSON *prev, char *out, size_t len)
{
	size_t n = 0;
	cJSON *it;

	out[0] = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(prev, "interfaces")) {
		const char *nm = cJSON_GetStringValue(cJSON_GetObjectItem(it, "name"));
		const char *sb = cJSON_GetStringValue(cJSON_GetObjectItem(it, "sandbox"));

		if (nm && (!sb || !*sb) && n < len)
			n += snprintf(out + n, len - n, "%s%s", n ? ", " : "", nm);
	}
	if (!out[0])
		snprintf(out, len, "none");
}
