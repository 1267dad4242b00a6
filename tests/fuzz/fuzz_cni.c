// SPDX-License-Identifier: GPL-2.0
/*
 * The CNI plugin's network config (cni/conf.c), as the runtime hands it
 * over on stdin or as --validate reads a conflist: JSON, one plugin's
 * entry or a list whose xdp-egress-cni entries get the list's cniVersion
 * and name. With a valid entry, its prevResult's look-ups and the ADD
 * result (prevResult passed on with our cniVersion).
 */
#include "fuzz.h"
#include "conf.h"

static const char *const pod_names[] = { "eth0", "veth0", "vethabcdef01", "" };

static unsigned long fake_inode(const char *path)
{
	/* Paths name the same namespace when they end alike: stands in for
	 * stat() without touching the file system. */
	size_t n = strlen(path);

	return n ? (unsigned char)path[n - 1] : 0;
}

static void one_entry(cJSON *entry)
{
	struct cni_conf c;
	struct conf_error ce = {};
	char names[256], tiny[8];
	cJSON *result;
	size_t i;

	if (conf_parse(entry, &c, &ce)) {
		if (!ce.code || !ce.msg[0])
			abort(); /* a refusal always says why */
		return;
	}
	if (!c.cni_version || !c.name || c.ao.n_uplinks > MAX_UPLINKS)
		abort();
	(void)cni_version_has_check(c.cni_version);
	if (!c.prev_result)
		return;
	for (i = 0; i < sizeof(pod_names) / sizeof(pod_names[0]); i++) {
		(void)prev_has_host_if(c.prev_result, pod_names[i]);
		(void)prev_has_pod_if(c.prev_result, pod_names[i],
				      "/var/run/netns/cni-1", fake_inode);
		(void)prev_has_pod_if(c.prev_result, pod_names[i],
				      "/proc/1/ns/net", NULL);
	}
	prev_host_names(c.prev_result, names, sizeof(names));
	prev_host_names(c.prev_result, tiny, sizeof(tiny));
	if (strlen(names) >= sizeof(names) || strlen(tiny) >= sizeof(tiny))
		abort();
	result = conf_add_result(entry, &c);
	if (result) {
		char *s = cJSON_PrintUnformatted(result);

		free(s);
		cJSON_Delete(result);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_str(data, size);
	cJSON *doc = cJSON_Parse(in), *plugins, *p;

	free(in);
	if (!doc)
		return 0;
	plugins = cJSON_GetObjectItem(doc, "plugins");
	if (!plugins) {
		one_entry(doc);
	} else if (cJSON_IsArray(plugins)) {
		cJSON_ArrayForEach(p, plugins) {
			const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(p, "type"));

			if (!type || strcmp(type, PLUGIN_TYPE))
				continue;
			if (!conf_merge_list(doc, p))
				one_entry(p);
		}
	}
	cJSON_Delete(doc);
	return 0;
}
