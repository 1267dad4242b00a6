// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's record of the containers it attached, with their host veths,
 * in memory (d->tracked) and in RUN_DIR/containers.json: a dead container's
 * veth is gone and only its name finds the attachment (`detach --ifname`
 * looks it up in the pinned records), also after a restart of the daemon.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "jsonval.h"

struct tracked *daemon_tracked_find(struct daemon *d, const char *id)
{
	struct tracked *t;

	for (t = d->tracked; t; t = t->next)
		if (!strcmp(t->id, id))
			return t;
	return NULL;
}

void daemon_tracked_drop(struct daemon *d, struct tracked *gone)
{
	struct tracked **pp;

	for (pp = &d->tracked; *pp; pp = &(*pp)->next)
		if (*pp == gone) {
			*pp = gone->next;
			free(gone);
			return;
		}
}

static cJSON *record_json(const struct daemon *d)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	struct tracked *t;

	arr = cJSON_AddArrayToObject(root, "containers");
	for (t = d->tracked; t; t = t->next) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "id", t->id);
		cJSON_AddStringToObject(o, "name", t->name);
		cJSON_AddStringToObject(o, "ifname", t->ifname);
		cJSON_AddNumberToObject(o, "ifindex", t->ifindex);
		cJSON_AddItemToArray(arr, o);
	}
	return root;
}

/* Written to a temporary file and renamed: a crash leaves the old or the
 * new record, never half of one. */
void daemon_state_save(struct daemon *d)
{
	char tmp[PATH_MAX + 8], *js;
	cJSON *root = record_json(d);
	FILE *f;

	js = cJSON_Print(root);
	cJSON_Delete(root);
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->state_path);
	f = js ? fopen(tmp, "we") : NULL;
	if (!f || fputs(js, f) < 0 || fputc('\n', f) < 0 || fclose(f) ||
	    rename(tmp, d->state_path))
		dlog("cannot write %s: %s; a restarted daemon will not know "
		     "which veths these containers had", d->state_path,
		     strerror(errno));
	free(js);
}

/* One entry of the record; skipped when incomplete or known already. */
static void record_entry_load(struct daemon *d, cJSON *o)
{
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "id"));
	const char *ifname = cJSON_GetStringValue(cJSON_GetObjectItem(o, "ifname"));
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "name"));
	struct tracked *t;

	if (!id || !ifname || daemon_tracked_find(d, id) ||
	    !(t = calloc(1, sizeof(*t))))
		return;
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->name, sizeof(t->name), "%s", name ? name : id);
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
	t->ifindex = (int)json_int(cJSON_GetObjectItem(o, "ifindex"), 0,
				   INT_MAX, 0);
	t->next = d->tracked;
	d->tracked = t;
}

void daemon_state_load(struct daemon *d, const char *path)
{
	char *text = NULL;
	size_t cap = 0;
	cJSON *root, *o;
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	if (getdelim(&text, &cap, 0, f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	root = cJSON_Parse(text ? text : "");
	free(text);
	if (!root) {
		dlog("%s is not JSON; starting without a record", path);
		return;
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(root, "containers"))
		record_entry_load(d, o);
	cJSON_Delete(root);
}
