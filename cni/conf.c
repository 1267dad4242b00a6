// SPDX-License-Identifier: GPL-2.0
/*
 * The CNI plugin's network config (conf.h): one plugin entry checked key
 * by key into struct cni_conf, a conflist's entry merged as the runtime
 * does, the supported versions and the --help text. prevResult's look-ups
 * are in prev_result.c.
 */
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

/* Any key but the known ones is refused (a typo would change nothing). */
static int check_known_keys(cJSON *root, struct conf_error *ce)
{
	cJSON *it;
	int i;

	cJSON_ArrayForEach(it, root) {
		char *val;

		for (i = 0; known_keys[i]; i++)
			if (!strcmp(known_keys[i], it->string))
				break;
		if (known_keys[i])
			continue;
		val = cJSON_PrintUnformatted(it);
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
	return 0;
}

/* The keys every plugin config has: cniVersion, name, type. */
static int parse_common_keys(cJSON *root, struct cni_conf *c,
			     struct conf_error *ce)
{
	cJSON *v = cJSON_GetObjectItem(root, "cniVersion");

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
	return 0;
}

static int parse_mode(cJSON *v, struct cni_conf *c, struct conf_error *ce)
{
	const char *s = cJSON_GetStringValue(v);

	if (!v)
		return 0;
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
				 "\"native\", \"generic\", \"tc\" or \"auto\"");
	return 0;
}

static int parse_uplinks(cJSON *v, struct cni_conf *c, struct conf_error *ce)
{
	int i;

	if (!v)
		return 0;
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
	return 0;
}

static int parse_uplink_mode(cJSON *v, struct cni_conf *c,
			     struct conf_error *ce)
{
	const char *s = cJSON_GetStringValue(v);

	if (!v)
		return 0;
	if (!s || (strcmp(s, "auto") && strcmp(s, "native") && strcmp(s, "generic") &&
		   strcmp(s, "tc")))
		return conf_fail(ce, CNI_ERR_CONFIG, "\"uplinkMode\" must "
				 "be \"auto\", \"native\", \"generic\" or \"tc\"");
	c->ao.uplink_mode = !strcmp(s, "native") ? UPLINK_NATIVE :
			    !strcmp(s, "generic") ? UPLINK_GENERIC :
			    !strcmp(s, "tc") ? UPLINK_TC : UPLINK_AUTO;
	return 0;
}

/* Nothing here looks at the host: the same check runs on a conflist in
 * deploy/. */
int conf_parse(cJSON *root, struct cni_conf *c, struct conf_error *ce)
{
	cJSON *v;

	memset(c, 0, sizeof(*c));
	if (!cJSON_IsObject(root))
		return conf_fail(ce, CNI_ERR_CONFIG, "the network config must be "
				 "a JSON object");
	if (check_known_keys(root, ce) || parse_common_keys(root, c, ce) ||
	    parse_mode(cJSON_GetObjectItem(root, "mode"), c, ce) ||
	    parse_uplinks(cJSON_GetObjectItem(root, "uplink"), c, ce) ||
	    parse_uplink_mode(cJSON_GetObjectItem(root, "uplinkMode"), c, ce))
		return -1;
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
