// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon acting on containers: attach to one that runs and asks for it
 * (consider), detach one that died, reconcile with the engine's list after
 * each (re)connection, and turn the engine's start/die events into those.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon_internal.h"
#include "log.h"
#include "netns.h"
#include "nl.h"
#include "pins.h"
#include "target.h"

/* Is the host veth of this target attached already (by anyone)? */
static int already_attached(const struct target *t)
{
	char root[PATH_MAX], ns_dir[PATH_MAX], dir[PATH_MAX];
	struct stat st;

	if (pins_root(root, sizeof(root)))
		return 0;
	pins_ns_dir(ns_dir, sizeof(ns_dir), root, t->host_netns_cookie);
	pins_attach_dir(dir, sizeof(dir), ns_dir, t->host.ifindex);
	return !stat(dir, &st);
}

/*
 * podman names host veths veth0, veth1...: once a dead container's veth is
 * gone its name may already belong to a new container's veth. If that one
 * is attached, `detach --ifname` would detach it: 1 when so (logged), and
 * the old record is left to `status`. If not, detach --ifname finds the
 * old record by name.
 */
static int name_taken_by_attached(const struct tracked *t, const char *why)
{
	struct mnl_socket *nl = nl_open_in(-1);
	struct link_info li;
	int taken = 0;

	if (nl && !nl_link_by_name(nl, t->ifname, &li) && t->ifindex &&
	    li.ifindex != t->ifindex) {
		struct target other = { .host = li };

		other.host_netns_cookie = netns_cookie(-1);
		dlog("%s (%.12s) %s; its veth %s (ifindex %d) is gone and the "
		     "name now belongs to ifindex %d", t->name, t->id, why,
		     t->ifname, t->ifindex, li.ifindex);
		taken = already_attached(&other);
		if (taken)
			dlog("%s: ifindex %d is attached itself: not detaching by "
			     "that name; `xdp-egress status` shows the leftover "
			     "attachment of ifindex %d", t->name, li.ifindex,
			     t->ifindex);
	}
	nl_close(nl);
	return taken;
}

static int detach_tracked(struct daemon *d, struct tracked *t, const char *why)
{
	struct argv_buf a = {};
	int rc;

	if (name_taken_by_attached(t, why)) {
		daemon_tracked_drop(d, t);
		daemon_state_save(d);
		return 1;
	}
	dlog("%s (%.12s) %s: detaching from %s", t->name, t->id, why, t->ifname);
	daemon_argv_add(&a, "xdp-egress");
	daemon_argv_add(&a, "detach");
	daemon_argv_add(&a, "--ifname");
	daemon_argv_add(&a, t->ifname);
	rc = daemon_run_self(d, t->name, &a);
	daemon_argv_free(&a);
	if (rc)
		dlog("%s: detach from %s exited %d (see above); forgetting it "
		     "anyway, `xdp-egress status` shows anything left", t->name,
		     t->ifname, rc);
	daemon_tracked_drop(d, t);
	daemon_state_save(d);
	return rc;
}

/*
 * The container's interface: --container-if from its options, else, on a
 * config network among several, the interface with that network's MAC
 * (then added to its options). cif holds a name found that way.
 */
static const char *container_if_of(struct container_req *r, char *cif,
				   size_t len)
{
	const char *given = NULL;
	int i;

	for (i = 0; i + 1 < r->opts.n; i++)
		if (!strcmp(r->opts.v[i], "--container-if"))
			given = r->opts.v[i + 1];
	if (given || !r->net || cJSON_GetArraySize(r->networks) <= 1)
		return given;
	daemon_container_if_on(r->pid, r->networks, r->net, cif, len);
	if (!cif[0])
		return NULL;
	daemon_argv_add(&r->opts, "--container-if");
	daemon_argv_add(&r->opts, cif);
	return cif;
}

/* `xdp-egress attach --pid PID OPTIONS` as a child; 0 when it attached. */
static int attach_child(struct daemon *d, const struct container_req *r,
			const struct target *t)
{
	struct argv_buf cmd = {};
	char pidstr[16];
	int i, rc;

	dlog("%s (%.12s) %s: attaching to %s", r->name, r->id,
	     r->net ? "is on a configured network" : "asks for it by label",
	     t->host.name);
	daemon_argv_add(&cmd, "xdp-egress");
	daemon_argv_add(&cmd, "attach");
	if (log_verbose)
		daemon_argv_add(&cmd, "--verbose");
	daemon_argv_add(&cmd, "--pid");
	snprintf(pidstr, sizeof(pidstr), "%d", (int)r->pid);
	daemon_argv_add(&cmd, pidstr);
	for (i = 0; i < r->opts.n; i++)
		daemon_argv_add(&cmd, r->opts.v[i]);
	rc = daemon_run_self(d, r->name, &cmd);
	daemon_argv_free(&cmd);
	if (rc)
		dlog("%s: attach exited %d (see above); not attached", r->name, rc);
	return rc;
}

/* Record (or update) the container as attached on t's host veth. */
static void track(struct daemon *d, struct tracked *tr,
		  const struct container_req *r, const struct target *t)
{
	if (!tr && (tr = calloc(1, sizeof(*tr)))) {
		tr->next = d->tracked;
		d->tracked = tr;
	}
	if (!tr)
		return;
	snprintf(tr->id, sizeof(tr->id), "%s", r->id);
	snprintf(tr->name, sizeof(tr->name), "%s", r->name);
	snprintf(tr->ifname, sizeof(tr->ifname), "%s", t->host.name);
	tr->ifindex = t->host.ifindex;
	daemon_state_save(d);
}

/* Attach to the container r on t unless attached already; then track it. */
static void attach_and_track(struct daemon *d, const struct container_req *r,
			     struct target *t)
{
	struct tracked *tr = daemon_tracked_find(d, r->id);

	/* Restarted while the daemon was away: its old veth is gone. */
	if (tr && tr->ifindex != t->host.ifindex) {
		detach_tracked(d, tr, "has a new veth");
		tr = NULL;
	}
	if (already_attached(t))
		dlog("%s (%.12s): %s is attached already%s", r->name, r->id,
		     t->host.name, tr ? "" : "; following it");
	else if (attach_child(d, r, t))
		return;
	track(d, tr, r, t);
}

/*
 * A container that runs (or has just started): attach if it asks for it
 * and is not attached yet; record its veth either way when attached.
 */
static void consider(struct daemon *d, const char *id)
{
	cJSON *j = engine_inspect(&d->eng, id);
	char cif[IF_NAMESIZE] = "";
	struct target_spec spec = {};
	struct container_req r;
	struct target t;

	if (!j)
		return;
	if (!daemon_inspect_parse(d, j, id, &r))
		goto out;
	spec.container_if = container_if_of(&r, cif, sizeof(cif));
	spec.pid = r.pid;
	if (target_resolve(&spec, &t)) {
		dlog("%s: cannot find its host veth (see above); not attached",
		     r.name);
		goto out;
	}
	attach_and_track(d, &r, &t);
	target_release(&t);
out:
	daemon_argv_free(&r.opts);
	cJSON_Delete(j);
}

/* The engine's running containers (GET /containers/json), or NULL. */
static cJSON *list_running(struct daemon *d)
{
	struct http_response r;
	cJSON *list;

	if (engine_request(&d->eng, "GET", ENGINE_API_PREFIX "/containers/json", &r))
		return NULL;
	list = r.status == 200 ? cJSON_Parse(r.body) : NULL;
	if (!cJSON_IsArray(list)) {
		dlog("%s answered %d to GET /containers/json: %s",
		     engine_name(d->eng.kind), r.status, engine_error_message(&r));
		cJSON_Delete(list);
		list = NULL;
	}
	http_response_free(&r);
	return list;
}

static int listed(cJSON *list, const char *id)
{
	cJSON *c;

	cJSON_ArrayForEach(c, list)
		if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "Id")) ?: "", id))
			return 1;
	return 0;
}

int daemon_reconcile(struct daemon *d)
{
	struct tracked *t, *next;
	cJSON *list = list_running(d), *c;

	if (!list)
		return -1;
	for (t = d->tracked; t; t = next) {
		next = t->next;
		if (!listed(list, t->id))
			detach_tracked(d, t, "stopped while the daemon was away");
	}
	cJSON_ArrayForEach(c, list) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(c, "Id"));
		const char *net;
		cJSON *nets = cJSON_GetObjectItem(cJSON_GetObjectItem(c,
					"NetworkSettings"), "Networks");

		if (id && daemon_wanted(d, cJSON_GetObjectItem(c, "Labels"), nets, &net))
			consider(d, id);
	}
	cJSON_Delete(list);
	return 0;
}

int daemon_event_parse(const char *line, char *id, size_t len)
{
	cJSON *ev = cJSON_Parse(line), *actor;
	const char *type, *action, *cid;
	int ret = 0;

	if (!ev)
		return 0;
	type = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "Type"));
	action = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "Action")) ?:
		 cJSON_GetStringValue(cJSON_GetObjectItem(ev, "status"));
	actor = cJSON_GetObjectItem(ev, "Actor");
	cid = cJSON_GetStringValue(cJSON_GetObjectItem(actor, "ID")) ?:
	      cJSON_GetStringValue(cJSON_GetObjectItem(ev, "id"));
	if (!cid || !action || (type && strcmp(type, "container")))
		goto out;
	pr_debug("event %s %s", action, cid);
	if (!strcmp(action, "start"))
		ret = DAEMON_EV_START;
	else if (!strcmp(action, "die") || !strcmp(action, "died"))
		ret = DAEMON_EV_DIE; /* podman's own name for it is "died" */
	snprintf(id, len, "%s", cid);
out:
	cJSON_Delete(ev);
	return ret;
}

void daemon_on_event(struct daemon *d, const char *line)
{
	char id[256];
	struct tracked *t;

	switch (daemon_event_parse(line, id, sizeof(id))) {
	case DAEMON_EV_START:
		consider(d, id);
		break;
	case DAEMON_EV_DIE:
		t = daemon_tracked_find(d, id);
		if (t)
			detach_tracked(d, t, "died");
		break;
	}
}
