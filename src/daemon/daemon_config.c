// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's --config: read, checked key by key (every error names the
 * file, the key and what it must be), and kept in struct daemon. Also the
 * table of attach options that the config's "options" and the labels it
 * allows may set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "log.h"

/* Attach options the config's "options" may carry, and a label
 * xdp-egress.OPTION where the config's "labels" allows it; the repeatable
 * ones take comma-separated lists in a label. */
static const struct {
	const char *name;
	int repeatable;
} label_opts[] = {
	{ "mode", 0 }, { "uplink", 1 }, { "uplink-mode", 0 },
	{ "container-if", 0 },
};
#define N_LABEL_OPTS (int)(sizeof(label_opts) / sizeof(label_opts[0]))

int daemon_label_opt_index(const char *name)
{
	int i;

	for (i = 0; i < N_LABEL_OPTS; i++)
		if (!strcmp(label_opts[i].name, name))
			return i;
	return -1;
}

int daemon_n_label_opts(void)
{
	return N_LABEL_OPTS;
}

const char *daemon_label_opt_name(int i)
{
	return label_opts[i].name;
}

int daemon_label_opt_repeatable(int i)
{
	return label_opts[i].repeatable;
}

/* The file as a JSON object, or NULL with the error printed. */
static cJSON *config_read(const char *path)
{
	char *text = NULL;
	size_t cap = 0;
	cJSON *root;
	FILE *f = fopen(path, "re");

	if (!f) {
		pr_err("cannot open --config %s: %s", path, strerror(errno));
		return NULL;
	}
	if (getdelim(&text, &cap, 0, f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	root = cJSON_Parse(text ? text : "");
	if (!cJSON_IsObject(root)) {
		/* cJSON_GetErrorPtr() points into text: say it before the
		 * free (found by tests/fuzz/fuzz_record). */
		pr_err("--config %s is not a JSON object (near '%.20s'); see "
		       "`xdp-egress daemon --help`", path,
		       !root && cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
		cJSON_Delete(root);
		root = NULL;
	}
	free(text);
	return root;
}

static int check_known_keys(cJSON *root, const char *path)
{
	cJSON *o;

	cJSON_ArrayForEach(o, root) {
		if (strcmp(o->string, "networks") && strcmp(o->string, "options") &&
		    strcmp(o->string, "labels") && strcmp(o->string, "metrics")) {
			pr_err("--config %s: unknown key \"%s\" (known: networks, "
			       "options, labels, metrics)", path, o->string);
			return -1;
		}
	}
	return 0;
}

/* 0 when key v is absent or is(v); else the error, saying what it must be. */
static int check_type(const cJSON *v, cJSON_bool (*is)(const cJSON *),
		      const char *path, const char *key, const char *what)
{
	if (!v || is(v))
		return 0;
	pr_err("--config %s: \"%s\" must be %s", path, key, what);
	return -1;
}

/* "labels" may name only attach options. */
static int check_label_names(const struct daemon *d, const char *path)
{
	cJSON *o;

	cJSON_ArrayForEach(o, d->labels) {
		if (!cJSON_IsString(o) || daemon_label_opt_index(o->valuestring) < 0) {
			pr_err("--config %s: \"labels\" may name only attach options "
			       "(mode, uplink, uplink-mode, container-if), not %s",
			       path, cJSON_IsString(o) ? o->valuestring : "a non-string");
			return -1;
		}
	}
	return 0;
}

/* "networks" holds names, "options" attach options with string values
 * (a list of strings where the option repeats). */
static int check_networks_and_options(const struct daemon *d, const char *path)
{
	cJSON *o;

	cJSON_ArrayForEach(o, d->networks) {
		if (!cJSON_IsString(o)) {
			pr_err("--config %s: \"networks\" must hold strings", path);
			return -1;
		}
	}
	if (check_type(d->options, cJSON_IsObject, path, "options",
		       "an object of attach options"))
		return -1;
	cJSON_ArrayForEach(o, d->options) {
		int i = daemon_label_opt_index(o->string);

		if (i < 0 || (!cJSON_IsString(o) &&
			      !(cJSON_IsArray(o) && label_opts[i].repeatable))) {
			pr_err("--config %s: option \"%s\" is not %s", path,
			       o->string, i < 0 ? "an attach option (mode, uplink, "
			       "uplink-mode, container-if)" : "a string (or, for uplink, an "
			       "array of strings)");
			return -1;
		}
	}
	return 0;
}

/* metrics, labels, networks, options: the first error is the one said. */
static int check_config(const struct daemon *d, const char *path)
{
	return check_type(d->metrics, cJSON_IsString, path, "metrics",
			  "a string ADDR:PORT where the daemon serves Prometheus "
			  "metrics, e.g. \"127.0.0.1:9473\"") ||
	       check_type(d->labels, cJSON_IsArray, path, "labels",
			  "an array of the attach options labels may set (mode, "
			  "uplink, uplink-mode, container-if), e.g. [\"mode\"]") ||
	       check_label_names(d, path) ||
	       check_type(d->networks, cJSON_IsArray, path, "networks",
			  "an array of network names") ||
	       check_networks_and_options(d, path) ? -1 : 0;
}

int daemon_load_config(struct daemon *d, const char *path)
{
	cJSON *root = config_read(path);
	int ret = -1;

	if (!root)
		return -1;
	if (check_known_keys(root, path))
		goto out;
	d->networks = cJSON_DetachItemFromObject(root, "networks");
	d->options = cJSON_DetachItemFromObject(root, "options");
	d->labels = cJSON_DetachItemFromObject(root, "labels");
	d->metrics = cJSON_DetachItemFromObject(root, "metrics");
	if (check_config(d, path))
		goto out;
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}
