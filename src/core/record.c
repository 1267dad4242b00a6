// SPDX-License-Identifier: GPL-2.0
/*
 * The attachment's record: one JSON object in the meta map of its pin
 * folder (pins.h), the single source of truth of what attach changed. It is
 * written first and grows before each change it lists (journal()), so a
 * kill at any point leaves all that detach has to undo. Also the look-ups
 * other steps make in the records of a namespace: by interface name, and
 * who else uses an uplink.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "attach_int.h"
#include "jsonval.h"
#include "layout.h"
#include "log.h"
#include "pins.h"

static char *meta_json(const struct attach_state *s);


/* Replace the record's "fixes" with s's. */
void fixes_to_json(cJSON *m, const struct attach_state *s)
{
	cJSON *arr = cJSON_CreateArray();
	int i;

	for (i = 0; i < s->n_fixes; i++)
		cJSON_AddItemToArray(arr, fix_json(&s->fixes[i]));
	if (cJSON_GetObjectItem(m, "fixes"))
		cJSON_ReplaceItemInObject(m, "fixes", arr);
	else
		cJSON_AddItemToObject(m, "fixes", arr);
}

/*
 * Write the attachment's record as it stands. Every change is recorded
 * before it is made, so after a kill at any point the record lists all
 * that detach (or the next attach) has to undo.
 */
int journal(struct attach_state *s)
{
	char *json;
	int ret;

	if (s->record) {
		fixes_to_json(s->record, s);
		json = cJSON_PrintUnformatted(s->record);
	} else {
		json = meta_json(s);
	}
	ret = json && !meta_write(s->dir, json) ? 0 : -1;
	if (ret && json && errno == E2BIG)
		pr_err("cannot record the attachment under %s: with %d offload "
		       "changes its record is %zu bytes, over the %d a record "
		       "holds; attach with fewer --uplink", s->dir, s->n_fixes,
		       strlen(json), META_SIZE - 1);
	else if (ret)
		pr_err("cannot record the attachment under %s: %s", s->dir,
		       strerror(errno));
	free(json);
	return ret;
}

cJSON *fix_json(const struct fix *f)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "ifname", f->ifname);
	cJSON_AddNumberToObject(o, "netns_ino", (double)f->netns_ino);
	cJSON_AddNumberToObject(o, "netns_cookie", (double)f->netns_cookie);
	cJSON_AddStringToObject(o, "offload", offload_names[f->offload]);
	cJSON_AddBoolToObject(o, "was", f->was);
	cJSON_AddBoolToObject(o, "now", f->now);
	cJSON_AddStringToObject(o, "role", fix_role_names[f->role]);
	if (f->role == FIX_UPLINK_PEER)
		cJSON_AddStringToObject(o, "uplink", f->uplink);
	cJSON_AddStringToObject(o, "why", f->why);
	return o;
}

static char *meta_json(const struct attach_state *s)
{
	cJSON *m = cJSON_CreateObject(), *arr, *o;
	char *out, mac[18];
	int i;

	cJSON_AddNumberToObject(m, "version", 2);
	layout_stamp_record(m);
	cJSON_AddStringToObject(m, "phase", s->phase ?: "attached");
	cJSON_AddStringToObject(m, "ifname", s->t.host.name);
	cJSON_AddNumberToObject(m, "ifindex", s->t.host.ifindex);
	cJSON_AddStringToObject(m, "kind", s->t.host.kind);
	cJSON_AddStringToObject(m, "l3_ifname", s->l3_name);
	cJSON_AddStringToObject(m, "mode", mode_name(s));
	cJSON_AddStringToObject(m, "mode_reason", s->mode_reason);
	if (s->adaptive) {
		o = cJSON_AddObjectToObject(m, "auto");
		cJSON_AddStringToObject(o, "state", "tc");
		cJSON_AddNumberToObject(o, "since", (double)time(NULL));
		cJSON_AddStringToObject(o, "why", "attached");
		if (s->native_blocked[0])
			cJSON_AddStringToObject(o, "native_blocked", s->native_blocked);
	}
	cJSON_AddNumberToObject(m, "prog_id", s->prog_id);
	cJSON_AddNumberToObject(m, "attached_at", (double)time(NULL));
	cJSON_AddStringToObject(m, "redirect_errors", s->err_counting);
	arr = cJSON_AddArrayToObject(m, "uplinks");
	for (i = 0; i < s->n_uplinks; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "ifname", s->uplinks[i].name);
		cJSON_AddNumberToObject(o, "ifindex", s->uplinks[i].ifindex);
		cJSON_AddStringToObject(o, "return_path",
					uplink_mode_name(s->uplink_run[i]));
		cJSON_AddItemToArray(arr, o);
	}
	/* The first uplink's, as records before per-uplink modes had it. */
	cJSON_AddStringToObject(m, "return_path",
				uplink_mode_name(s->n_uplinks ? s->uplink_run[0]
							      : UPLINK_GENERIC));
	if (s->tc) {
		cJSON_AddStringToObject(m, "tc_hook", s->clsact ? "clsact" : "tcx");
		if (s->clsact)
			cJSON_AddBoolToObject(m, "clsact_created", s->clsact_created);
	}
	if (s->t.has_container) {
		o = cJSON_AddObjectToObject(m, "container");
		cJSON_AddStringToObject(o, "ifname", s->t.container.name);
		cJSON_AddNumberToObject(o, "ifindex", s->t.container.ifindex);
		cJSON_AddNumberToObject(o, "netns_ino",
					(double)s->t.container_netns_ino);
		cJSON_AddNumberToObject(o, "netns_cookie",
					(double)s->t.container_netns_cookie);
	}
	if (s->nft_created)
		cJSON_AddNumberToObject(m, "nft_created", s->nft_created);
	cJSON_AddItemToObject(m, "sources", sources_json(s));
	cJSON_AddItemToObject(m, "kernel", kernel_caps_json(&s->caps));
	if (s->has_mac) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			 s->mac[0], s->mac[1], s->mac[2], s->mac[3], s->mac[4],
			 s->mac[5]);
		cJSON_AddStringToObject(m, "source_mac", mac);
	}
	fixes_to_json(m, s);
	out = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	return out;
}

static int name_index(const char *const *names, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (name && names[i] && !strcmp(name, names[i]))
			return i;
	return -1;
}

/* One entry of a record's "fixes"; -1 when it is not one. */
static int fix_from_json(cJSON *o, struct fix *f)
{
	cJSON *ifn = cJSON_GetObjectItem(o, "ifname");
	int off = name_index(offload_names, OFFLOAD_MAX,
			     cJSON_GetStringValue(cJSON_GetObjectItem(o, "offload")));
	int role = name_index(fix_role_names, FIX_ROLE_MAX,
			      cJSON_GetStringValue(cJSON_GetObjectItem(o, "role")));

	if (off < 0 || role < 0 || !cJSON_IsString(ifn))
		return -1;
	memset(f, 0, sizeof(*f));
	snprintf(f->ifname, IF_NAMESIZE, "%s", ifn->valuestring);
	f->netns_ino = (unsigned long)json_int(
		cJSON_GetObjectItem(o, "netns_ino"), 0, 1LL << 53, 0);
	f->netns_cookie = (unsigned long long)json_int(
		cJSON_GetObjectItem(o, "netns_cookie"), 0, 1LL << 53, 0);
	f->role = role;
	snprintf(f->uplink, IF_NAMESIZE, "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItem(o, "uplink")) ?: "");
	f->offload = off;
	f->was = cJSON_IsTrue(cJSON_GetObjectItem(o, "was"));
	f->now = cJSON_IsTrue(cJSON_GetObjectItem(o, "now"));
	snprintf(f->why, sizeof(f->why), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItem(o, "why")) ?: "");
	return 0;
}

int fixes_from_json(cJSON *m, struct fix **out)
{
	cJSON *arr = cJSON_GetObjectItem(m, "fixes"), *o;
	int n = 0;

	*out = calloc(cJSON_GetArraySize(arr) + 1, sizeof(**out));
	if (!*out) {
		pr_err("out of memory reading the offload changes of a record");
		return -1;
	}
	cJSON_ArrayForEach(o, arr)
		if (!fix_from_json(o, &(*out)[n]))
			n++;
	return n;
}

/* Does any attachment other than skip_dir use uplink ifname? */
struct uplink_users {
	const char *skip_dir, *ifname;
	int users;
};

static int count_uplink_user(const char *dir, cJSON *m, void *arg)
{
	struct uplink_users *u = arg;

	if ((!u->skip_dir || strcmp(dir, u->skip_dir)) &&
	    uplinks_contain(m, u->ifname))
		u->users++;
	return 0;
}

int uplink_users(const char *ns_dir, const char *skip_dir, const char *ifname)
{
	struct uplink_users u = { skip_dir, ifname, 0 };

	pins_foreach_record(ns_dir, count_uplink_user, &u);
	return u.users;
}


/* Find the attachment folder whose record names ifname (device gone). */
struct name_match {
	const char *ifname;
	char *out;
	size_t len;
};

static int record_named(const char *dir, cJSON *m, void *arg)
{
	struct name_match *nm = arg;

	if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname")) ?: "",
		   nm->ifname))
		return 0;
	snprintf(nm->out, nm->len, "%s", dir);
	return 1;
}

int find_dir_by_ifname(const char *ns_dir, const char *ifname, char *out,
		       size_t len)
{
	struct name_match nm = { ifname, out, len };

	return pins_foreach_record(ns_dir, record_named, &nm) ? 0 : -1;
}

int uplinks_contain(cJSON *m, const char *ifname)
{
	cJSON *u;

	cJSON_ArrayForEach(u, cJSON_GetObjectItem(m, "uplinks")) {
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(u, "ifname")) ?: "",
			    ifname))
			return 1;
	}
	return 0;
}
