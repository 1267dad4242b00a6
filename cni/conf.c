// SPDX-License-Identifier: GPL-2.0
/* The CNI plugin's network config and prevResult (conf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include "conf.h"
#include "uplink.h"

const char *const cni_supported_versions[] = {
	"0.3.0", "0.3.1", "0.4.0", "1.0.0", NULL
};

/* Keys of the spec and of the runtimes that a plugin's config may carry;
 * anything else is refused as an unsupported field (a typo would otherwise
 * silently change nothing). */
static const char *const known_keys[] = {
	"cniVersion", "name", "type", "args", "runtimeConfig", "capabilities",
	"prevResult", "disableCheck", "disableGC", "dns", "ipam", "ipMasq",
	"mode", "uplink", "uplinkMode", NULL
};

const char cni_usage[] =
	"usage: xdp-egress-cni            (a CNI plugin: the runtime "
	"sets CNI_COMMAND and writes the config on stdin)\n"
	"       xdp-egress-cni --validate FILE|-   (check a conflist or "
	"plugin config against this plugin's schema)\n";

const struct cni_option_key cni_option_keys[] = {
	{ "mode", "mode", "a string" },
	{ "uplink", "uplink", "a string or an array of strings" },
	{ "uplinkMode", "uplink-mode", "a string" },
	{ 0 }
};

static int version_supported(const char *v)
{
	int i;

	for (i = 0; cni_supported_versions[i]; i++)
		if (!strcmp(cni_supported_versions[i], v))
			return 1;
	return 0;
}

int cni_version_has_check(const char *v)
{
	return strcmp(v, "0.4.0") >= 0 && strncmp(v, "0.3", 3);
}

static int conf_fail(struct conf_error *ce, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int conf_fail(struct conf_error *ce, int code, const char *fmt, ...)
{
	va_list ap;

	ce->code = code;
	va_start(ap, fmt);
	vsnprintf(ce->msg, sizeof(ce->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* A string, or an array of at most max strings: into out[]. */
static int string_list(cJSON *v, const char *key, const char **out, int max,
		       int *n, struct conf_error *ce)
{
	cJSON *it;

	*n = 0;
	if (cJSON_IsString(v)) {
		out[(*n)++] = v->valuestring;
		return 0;
	}
	if (!cJSON_IsArray(v))
		return conf_fail(ce, CNI_ERR_CONFIG, "\"%s\" must be a string or "
				 "an array of strings", key);
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it))
			return conf_fail(ce, CNI_ERR_CONFIG, "\"%s\" must hold "
					 "strings only", key);
		if (*n == max)
			return conf_fail(ce, CNI_ERR_CONFIG, "\"%s\" takes at "
					 "most %d entries", key, max);
		out[(*n)++] = it->valuestring;
	}
	if (!*n)
		return conf_fail(ce, CNI_ERR_CONFIG, "\"%s\" is an empty array",
				 key);
	return 0;
}

/* Nothing here looks at the host: the same check runs on a conflist in
 * deploy/. */
int conf_parse(cJSON *root, struct cni_conf *c, struct conf_error *ce)
{
	cJSON *v, *it;
	const char *s;
	int i;

	memset(c, 0, sizeof(*c));
	if (!cJSON_IsObject(root))
		return conf_fail(ce, CNI_ERR_CONFIG, "the network config must be "
				 "a JSON object");
	cJSON_ArrayForEach(it, root) {
		for (i = 0; known_keys[i]; i++)
			if (!strcmp(known_keys[i], it->string))
				break;
		if (!known_keys[i]) {
			char *val = cJSON_PrintUnformatted(it);

			conf_fail(ce, CNI_ERR_UNSUPPORTED_FIELD, "unsupported field "
				  "\"%s\": %.100s (xdp-egress-cni knows mode, uplink, "
				  "uplinkMode%s)", it->string, val ? val : "?",
				  !strncmp(it->string, "snat", 4) ||
				  !strncmp(it->string, "ct", 2)
					  ? "; the own NAT was removed: the host's "
					    "NAT (ipMasq, MASQUERADE) decides and the "
					    "fast path carries its translation" : "");
			free(val);
			return -1;
		}
	}
	v = cJSON_GetObjectItem(root, "cniVersion");
	if (!cJSON_IsString(v) || !*v->valuestring)
		return conf_fail(ce, CNI_ERR_CONFIG, "\"cniVersion\" is missing: "
				 "the network config must name its CNI version");
	c->cni_version = v->valuestring;
	if (!version_supported(c->cni_version))
		return conf_fail(ce, CNI_ERR_VERSION, "cniVersion \"%s\" is not "
				 "supported; xdp-egress-cni supports 0.3.0, 0.3.1, "
				 "0.4.0 and 1.0.0", c->cni_version);
	v = cJSON_GetObjectItem(root, "name");
	if (!cJSON_IsString(v) || !*v->valuestring)
		return conf_fail(ce, CNI_ERR_CONFIG, "\"name\" is missing: the "
				 "network config must name its network");
	c->name = v->valuestring;
	v = cJSON_GetObjectItem(root, "type");
	if (!cJSON_IsString(v) || !*v->valuestring)
		return conf_fail(ce, CNI_ERR_CONFIG, "\"type\" is missing");

	v = cJSON_GetObjectItem(root, "mode");
	if (v) {
		s = cJSON_GetStringValue(v);
		if (s && !strcmp(s, "native"))
			c->ao.mode = MODE_NATIVE;
		else if (s && !strcmp(s, "generic"))
			c->ao.mode = MODE_GENERIC;
		else if (s && !strcmp(s, "tc"))
			c->ao.mode = MODE_TC;
		else if (s && !strcmp(s, "auto"))
			c->ao.mode = MODE_AUTO;
		else
			return conf_fail(ce, CNI_ERR_CONFIG, "\"mode\" must be "
					 "\"native\", \"generic\", \"tc\" or "
					 "\"auto\"");
	}
	v = cJSON_GetObjectItem(root, "uplink");
	if (v) {
		if (string_list(v, "uplink", c->ao.uplinks, MAX_UPLINKS,
				&c->ao.n_uplinks, ce))
			return -1;
		for (i = 0; i < c->ao.n_uplinks; i++)
			if (!*c->ao.uplinks[i] ||
			    strlen(c->ao.uplinks[i]) >= IF_NAMESIZE ||
			    strpbrk(c->ao.uplinks[i], "/ \t"))
				return conf_fail(ce, CNI_ERR_CONFIG, "\"uplink\": "
						 "'%s' is not an interface name",
						 c->ao.uplinks[i]);
	}
	v = cJSON_GetObjectItem(root, "uplinkMode");
	if (v) {
		s = cJSON_GetStringValue(v);
		if (!s || (strcmp(s, "auto") && strcmp(s, "native") && strcmp(s, "generic")))
			return conf_fail(ce, CNI_ERR_CONFIG, "\"uplinkMode\" must "
					 "be \"auto\", \"native\" or \"generic\"");
		c->ao.uplink_mode = !strcmp(s, "native") ? UPLINK_NATIVE :
				    !strcmp(s, "generic") ? UPLINK_GENERIC : UPLINK_AUTO;
	}
	v = cJSON_GetObjectItem(root, "prevResult");
	if (v && !cJSON_IsObject(v))
		return conf_fail(ce, CNI_ERR_CONFIG, "\"prevResult\" must be an "
				 "object (the previous plugin's result)");
	c->prev_result = v;
	return 0;
}

int conf_merge_list(cJSON *list, cJSON *p)
{
	cJSON *ver = cJSON_GetObjectItem(list, "cniVersion");
	cJSON *name = cJSON_GetObjectItem(list, "name");

	if (!cJSON_IsString(ver) || !cJSON_IsString(name) || !cJSON_IsObject(p))
		return -1;
	cJSON_DeleteItemFromObject(p, "cniVersion");
	cJSON_DeleteItemFromObject(p, "name");
	cJSON_AddItemToObject(p, "cniVersion", cJSON_Duplicate(ver, 0));
	cJSON_AddItemToObject(p, "name", cJSON_Duplicate(name, 0));
	return 0;
}

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
