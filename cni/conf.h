/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CNI plugin's network config: validation of one plugin's entry (the
 * runtime's merged form, or an entry of a conflist) in conf.c, and the
 * look-ups in its prevResult in prev_result.c. Nothing here touches the
 * host, so the plugin's main, its --validate and tests/fuzz/fuzz_cni.c
 * share it.
 */
#ifndef XE_CNI_CONF_H
#define XE_CNI_CONF_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "attach.h"

#define PLUGIN_TYPE "xdp-egress-cni"
/* The most network config the plugin reads (stdin, --validate FILE). */
#define CNI_MAX_CONFIG (4 << 20)

/* Error codes of the CNI spec (SPEC.md, "Error"), and ours (>= 100). */
enum cni_code {
	CNI_ERR_VERSION = 1,        /* incompatible CNI version */
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_ENV = 4,            /* invalid necessary environment variables */
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,         /* failed to decode content */
	CNI_ERR_CONFIG = 7,         /* invalid network config */
	CNI_ERR_TRY_AGAIN = 11,
	XE_ERR_ATTACH = 100,        /* xdp-egress could not attach */
	XE_ERR_DETACH = 101,        /* xdp-egress could not detach */
	XE_ERR_CHECK = 102,         /* CHECK: not attached as configured */
};

/* "0.3.0", ..., "1.0.0", NULL */
extern const char *const cni_supported_versions[];

struct cni_conf {
	const char *cni_version;
	const char *name;
	struct attach_opts ao;
	cJSON *prev_result;        /* borrowed from the parsed document */
};

struct conf_error {
	int code;                  /* enum cni_code */
	char msg[512];
};

/* The plugin's --help (and its man page's synopsis). */
extern const char cni_usage[];

/* The config's own keys: each stands for the attach option named, whose
 * documentation xdp-egress-cni(8) takes from xdp-egress's table. */
struct cni_option_key {
	const char *key, *option, *json_type;
};
extern const struct cni_option_key cni_option_keys[];

/* 0.3.x knows no CHECK. */
int cni_version_has_check(const char *v);

/*
 * Validate one plugin config and fill c (its strings borrowed from root).
 * 0, or -1 with ce's code and message set.
 */
int conf_parse(cJSON *root, struct cni_conf *c, struct conf_error *ce);

/*
 * A conflist's entry as the runtime hands it over: the list's cniVersion
 * and name copied into plugin p (replacing its own). -1 when the list
 * lacks them (strings).
 */
int conf_merge_list(cJSON *list, cJSON *p);

/* ---- prev_result.c ---- */

/*
 * ADD's result: a chained plugin passes the previous result on unchanged,
 * with the config's cniVersion. Detached from root (caller deletes it);
 * NULL without a prevResult.
 */
cJSON *conf_add_result(cJSON *root, const struct cni_conf *c);

/* Is name among prevResult's interfaces that are not in a sandbox? */
int prev_has_host_if(cJSON *prev, const char *name);
/* Does prevResult list ifname with sandbox netns: the same path, or (when
 * inode_of is given) a path inode_of finds the same non-zero inode for? */
int prev_has_pod_if(cJSON *prev, const char *ifname, const char *netns,
		    unsigned long (*inode_of)(const char *path));
/* Names of prevResult's host-side interfaces, ", "-joined, for messages. */
void prev_host_names(cJSON *prev, char *out, size_t len);

#endif
