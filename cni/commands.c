// SPDX-License-Identifier: GPL-2.0
/*
 * The CNI commands (commands.h). ADD attaches xdp-egress to the pod's
 * host-side veth and passes prevResult on; DEL detaches whatever is left;
 * CHECK checks the attachment against the config; VERSION lists the
 * versions. The plugin runs in the host's network namespace, so it calls
 * cmd_attach()/cmd_detach() directly, holding the node's lock throughout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include "attachment.h"
#include "commands.h"
#include "layout.h"
#include "lock.h"
#include "output.h"
#include "pins.h"
#include "target.h"

/* How long a command waits for the node's lock (lock.h) before it answers
 * "try again later" (code 11): the runtime's own timeout is longer. */
#define CNI_LOCK_WAIT_S 30

/*
 * The host's one lock (lock.h), shared with the CLI, the daemon and the
 * tuner, held for the whole command: ADD's look at the record and its
 * attach are one step for every other xdp-egress. Exit releases it.
 * 0, or the exit status of the CNI error printed (code 11 when another
 * process held it for CNI_LOCK_WAIT_S, so that the runtime retries).
 */
static int cni_lock(int code, const char *what)
{
	off_t from = captured_len();
	char *e;
	int rc, err;

	if (!lock_take(CNI_LOCK_WAIT_S))
		return 0;
	err = errno;
	e = captured_errors(from);
	if (err == ETIMEDOUT) {
		char root[PATH_MAX];

		if (pins_root(root, sizeof(root)))
			snprintf(root, sizeof(root), "the pin root");
		rc = cni_error(CNI_ERR_TRY_AGAIN, e, "another xdp-egress operation "
			       "held the node's lock on %s for more than %d s; try "
			       "again later (`fuser -v %s` names the holder)", root,
			       CNI_LOCK_WAIT_S, root);
	} else
		rc = cni_error(code, e, "cannot %s: %.300s", what,
			       e && *e ? e : "see details");
	free(e);
	return rc;
}

/* ADD's attach to host, unless a retried ADD finds it in place. */
static int add_attach(struct cni_conf *c, const struct cni_env *env,
		      const char *host)
{
	struct attachment_info ai;
	off_t from;
	int rc;

	if (attachment_of(host, &ai) == 0 && ai.found && ai.prog_id) {
		/* A retried ADD: what it asks for is in place. */
		fprintf(stderr, "xdp-egress-cni: %s is already attached (%s mode)\n",
			host, ai.mode);
		return 0;
	}
	/* A record whose program is gone (an earlier pod's veth of the same
	 * name): clear it, or attach would refuse. */
	if (ai.found)
		cmd_detach(&(struct target_spec){ .ifname = host }, 0);
	c->ao.spec = (struct target_spec){ .netns = env->netns,
					   .container_if = env->ifname };
	from = captured_len();
	if (cmd_attach(&c->ao)) {
		char *e = captured_errors(from);

		rc = cni_error(XE_ERR_ATTACH, e, "cannot attach xdp-egress to %s "
			       "(the host side of %s in %s): %.300s", host,
			       env->ifname, env->netns, e && *e ? e : "see details");
		free(e);
		return rc;
	}
	return 0;
}

int cni_add(struct cni_conf *c, const struct cni_env *env, cJSON *root)
{
	char host[IF_NAMESIZE], why[1024];
	cJSON *result;
	int rc;

	if (!c->prev_result)
		return cni_error(CNI_ERR_CONFIG, NULL, "no prevResult in the config: "
				 "xdp-egress-cni is a chained plugin and must follow "
				 "the plugin that creates the pod's veth (bridge, ptp) "
				 "in a conflist");
	if (find_host_if(c, env, host, sizeof(host), why, sizeof(why)))
		return cni_error(CNI_ERR_CONFIG, NULL, "%s", why);
	rc = cni_lock(XE_ERR_ATTACH, "take the node's lock to attach");
	if (rc)
		return rc;
	rc = add_attach(c, env, host);
	if (rc)
		return rc;
	/* A chained plugin passes the previous result on unchanged. */
	result = conf_add_result(root, c);
	print_json(result);
	cJSON_Delete(result);
	return 0;
}

/*
 * DEL's host side: found from the pod's namespace while it exists, else
 * among prevResult's host-side interfaces by the name our record keeps
 * (the veth may be gone with the pod). ai->found says whether anything is
 * attached; host may be set either way.
 */
static void del_find_attachment(const struct cni_conf *c,
				const struct cni_env *env, char *host,
				struct attachment_info *ai)
{
	struct target t;
	cJSON *it;

	if (env->netns && path_inode(env->netns)) {
		struct target_spec spec = { .netns = env->netns,
					    .container_if = env->ifname };

		if (!target_resolve(&spec, &t)) {
			snprintf(host, IF_NAMESIZE, "%s", t.host.name);
			target_release(&t);
			if (attachment_of(host, ai))
				ai->found = 0;
		}
	}
	if (ai->found || !c->prev_result)
		return;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(c->prev_result, "interfaces")) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(it, "name"));
		const char *sb = cJSON_GetStringValue(cJSON_GetObjectItem(it, "sandbox"));

		if (!n || (sb && *sb) || strlen(n) >= IF_NAMESIZE)
			continue;
		if (!attachment_of(n, ai) && ai->found) {
			snprintf(host, IF_NAMESIZE, "%s", n);
			return;
		}
	}
}

/*
 * DEL must succeed when there is nothing left to undo (spec: "plugins should
 * generally complete a DEL action without error even if some resources are
 * missing").
 */
int cni_del(struct cni_conf *c, const struct cni_env *env)
{
	char host[IF_NAMESIZE] = "";
	struct attachment_info ai = {};
	off_t from;
	int rc = cni_lock(XE_ERR_DETACH, "take the node's lock to detach");

	if (rc)
		return rc;
	del_find_attachment(c, env, host, &ai);
	if (!ai.found) {
		fprintf(stderr, "xdp-egress-cni: DEL %s: nothing attached%s%s\n",
			env->containerid, host[0] ? " to " : "", host);
		release_output();
		return 0;
	}
	from = captured_len();
	if (cmd_detach(&(struct target_spec){ .ifname = host }, 0)) {
		char *e = captured_errors(from);

		rc = cni_error(XE_ERR_DETACH, e, "cannot detach xdp-egress "
			       "from %s: %.300s", host,
			       e && *e ? e : "see details");
		free(e);
		return rc;
	}
	release_output();
	return 0;
}

/* ADD and DEL check the layout in cmd_attach()/cmd_detach(); CHECK here. */
static int check_layout(const char *host)
{
	off_t from = captured_len();
	char root[PATH_MAX];
	char *errs;
	int rc;

	if (!pins_root(root, sizeof(root)) && !layout_check(root, LAYOUT_READ))
		return 0;
	errs = captured_errors(from);
	rc = cni_error(XE_ERR_CHECK, errs, "this xdp-egress-cni cannot read "
		       "what is pinned for %s", host);
	free(errs);
	return rc;
}

/* The mode an attachment made from this config records (mode_name()). */
static const char *config_mode_name(enum xdp_mode_req m)
{
	switch (m) {
	case MODE_NATIVE:
		return "native";
	case MODE_GENERIC:
		return "generic";
	case MODE_TC:
		return "tc";
	default:
		return "auto";  /* MODE_AUTO, and MODE_DEFAULT: the same */
	}
}

/* The attachment on host against the config. */
static int check_attachment(const struct cni_conf *c,
			    const struct cni_env *env, const char *host)
{
	struct attachment_info ai;
	const char *want;

	if (attachment_of(host, &ai) || !ai.found)
		return cni_error(XE_ERR_CHECK, NULL, "xdp-egress is not attached "
				 "to %s (the host side of %s in %s)", host,
				 env->ifname, env->netns);
	if (!ai.prog_id)
		return cni_error(XE_ERR_CHECK, NULL, "xdp-egress's record for %s "
				 "exists but its program is no longer attached; "
				 "DEL and ADD the pod again", host);
	want = config_mode_name(c->ao.mode);
	if (strcmp(ai.mode, want))
		return cni_error(XE_ERR_CHECK, NULL, "%s runs xdp-egress in %s mode "
				 "but the config asks for %s%s; DEL and ADD the pod "
				 "again to apply the config", host, ai.mode, want,
				 c->ao.mode == MODE_DEFAULT ? " (its default)" : "");
	return 0;
}

int cni_check(struct cni_conf *c, const struct cni_env *env)
{
	char host[IF_NAMESIZE], why[1024];
	int rc;

	if (!cni_version_has_check(c->cni_version))
		return cni_error(CNI_ERR_VERSION, NULL, "CHECK needs cniVersion "
				 "0.4.0 or later; the config says %s",
				 c->cni_version);
	if (!c->prev_result)
		return cni_error(CNI_ERR_CONFIG, NULL, "CHECK needs prevResult");
	if (find_host_if(c, env, host, sizeof(host), why, sizeof(why)))
		return cni_error(CNI_ERR_CONFIG, NULL, "%s", why);
	/* Not in the middle of another process's attach, detach or switch. */
	rc = cni_lock(XE_ERR_CHECK, "take the node's lock to check");
	if (!rc)
		rc = check_layout(host);
	if (!rc)
		rc = check_attachment(c, env, host);
	if (!rc)
		release_output();
	return rc;
}

int cni_version(void)
{
	cJSON *doc = cJSON_CreateObject(), *arr;
	int i;

	cJSON_AddStringToObject(doc, "cniVersion", "1.0.0");
	arr = cJSON_AddArrayToObject(doc, "supportedVersions");
	for (i = 0; cni_supported_versions[i]; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(cni_supported_versions[i]));
	print_json(doc);
	cJSON_Delete(doc);
	return 0;
}
