// SPDX-License-Identifier: GPL-2.0
/*
 * --validate FILE (validate.h): a conflist or one config, no host access.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "conf.h"
#include "output.h"
#include "validate.h"

static int validate_one(cJSON *conf, const char *where)
{
	struct cni_conf c;
	struct conf_error ce = {};

	if (conf_parse(conf, &c, &ce))
		return cni_error(ce.code, NULL, "%s: %s", where, ce.msg);
	/* Still capturing (more entries may follow): the real stdout. */
	dprintf(real_stdout_fd(), "ok %s: %s, mode %s\n", where, c.name,
		c.ao.mode == MODE_NATIVE ? "native" :
		c.ao.mode == MODE_GENERIC ? "generic" :
		c.ao.mode == MODE_TC ? "tc" : "auto");
	return 0;
}

/* The file (or stdin for "-") parsed, or NULL with the CNI error printed
 * and its exit status in *rc. */
static cJSON *read_json_file(const char *path, int *rc)
{
	cJSON *doc;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;

	if (!f) {
		*rc = cni_error(CNI_ERR_IO, NULL, "cannot open %s: %s", path,
				strerror(errno));
		return NULL;
	}
	buf = malloc(CNI_MAX_CONFIG + 1);
	if (buf)
		len = fread(buf, 1, CNI_MAX_CONFIG, f);
	if (f != stdin)
		fclose(f);
	if (!buf) {
		*rc = cni_error(CNI_ERR_IO, NULL, "out of memory");
		return NULL;
	}
	buf[len] = 0;
	doc = cJSON_Parse(buf);
	free(buf);
	if (!doc)
		*rc = cni_error(CNI_ERR_DECODE, NULL, "%s is not valid JSON", path);
	return doc;
}

/* Each of the conflist's entries of type xdp-egress-cni, as the runtime
 * merges them (its cniVersion and name into each). */
static int validate_list(cJSON *doc, const char *path)
{
	cJSON *plugins = cJSON_GetObjectItem(doc, "plugins"), *p;
	char where[300];
	int i = 0, found = 0;

	if (!cJSON_IsArray(plugins) || !cJSON_IsString(cJSON_GetObjectItem(doc, "name")) ||
	    !cJSON_IsString(cJSON_GetObjectItem(doc, "cniVersion")))
		return cni_error(CNI_ERR_CONFIG, NULL, "%s: a conflist needs "
				 "\"cniVersion\", \"name\" and a \"plugins\" array",
				 path);
	cJSON_ArrayForEach(p, plugins) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(p, "type"));

		i++;
		if (!type || strcmp(type, PLUGIN_TYPE))
			continue;
		found = 1;
		snprintf(where, sizeof(where), "%s plugins[%d]", path, i - 1);
		if (i == 1)
			return cni_error(CNI_ERR_CONFIG, NULL, "%s: xdp-egress-cni is "
					 "the first plugin; it is a chained plugin and "
					 "must follow the one that creates the pod's "
					 "veth (bridge, ptp)", where);
		conf_merge_list(doc, p);
		if (validate_one(p, where))
			return 1;
	}
	if (!found)
		return cni_error(CNI_ERR_CONFIG, NULL, "%s has no plugin of type %s",
				 path, PLUGIN_TYPE);
	return 0;
}

int validate_file(const char *path)
{
	int ret = 1;
	cJSON *doc = read_json_file(path, &ret);

	if (!doc)
		return ret;
	if (cJSON_GetObjectItem(doc, "plugins"))
		ret = validate_list(doc, path);
	else
		ret = validate_one(doc, path);
	cJSON_Delete(doc);
	release_output();
	return ret;
}
