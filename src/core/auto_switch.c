// SPDX-License-Identifier: GPL-2.0
/*
 * auto mode's switch (the tuner in auto.c decides when): put native XDP in
 * front of an auto attachment's tc program, or take it away, under the
 * attach lock. Native XDP loses partial checksums, so the container's
 * tx-checksumming goes off first (a fix with role FIX_AUTO, recorded as
 * attach records its own) and comes back when native XDP goes. The tc
 * program stays attached throughout and carries whatever XDP does not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "attach_int.h"
#include "jsonval.h"
#include "log.h"
#include "pins.h"

#define AUTO_FIX_WHY "auto mode: native XDP in front loses partial checksums; " \
		     "the container's stack completes them while it is there"

struct switch_args {
	const char *dir;
	int native;
	const char *why;
};

/* Give the container back what auto mode's native XDP took from it. */
static void drop_auto_fixes(struct attach_state *s)
{
	int i;

	for (i = 0; i < s->n_fixes; i++) {
		if (s->fixes[i].role != FIX_AUTO)
			continue;
		fix_undo(&s->fixes[i], 0);
		memmove(&s->fixes[i], &s->fixes[i + 1],
			(s->n_fixes - i - 1) * sizeof(s->fixes[0]));
		s->n_fixes--;
		i--;
	}
}

/*
 * The record of the auto attachment in a->dir, when a switch is to be made
 * (*au: its "auto" object); NULL when there is nothing to do: detached
 * meanwhile, not an auto attachment, already in that state, or native XDP
 * not possible there.
 */
static cJSON *switch_record(const struct switch_args *a, cJSON **au)
{
	char buf[META_SIZE];
	const char *state;
	cJSON *m;

	if (meta_read(a->dir, buf, sizeof(buf)) || !(m = cJSON_Parse(buf)))
		return NULL;
	*au = cJSON_GetObjectItem(m, "auto");
	state = cJSON_GetStringValue(cJSON_GetObjectItem(*au, "state"));
	if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m, "phase")) ?: "",
		   "attached") || !*au || !state ||
	    !strcmp(state, a->native ? "native" : "tc") ||
	    (a->native && cJSON_GetObjectItem(*au, "native_blocked"))) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

/* The container's checksum fix, then native XDP in front of the tc
 * program, its link pinned as xdp_link. */
static int put_native_in_front(struct attach_state *s, cJSON *m)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	int ifindex = (int)json_int(cJSON_GetObjectItem(m, "ifindex"), 0, INT_MAX, 0);
	cJSON *c = cJSON_GetObjectItem(m, "container");
	const char *cname = cJSON_GetStringValue(cJSON_GetObjectItem(c, "ifname"));
	int fd = -1, lfd = -1, cfd = -1, ret = -1;
	char path[PATH_MAX];

	/* Checksums first: a partial one must never meet native XDP. */
	if (cname) {
		cfd = netns_fd_for(
			(unsigned long)json_int(cJSON_GetObjectItem(
				c, "netns_ino"), 0, 1LL << 53, 0),
			(unsigned long long)json_int(cJSON_GetObjectItem(
				c, "netns_cookie"), 0, 1LL << 53, 0));
		if (cfd < 0 || fix_apply(s, cfd, cname, OFFLOAD_TX_CSUM, 0,
					 FIX_AUTO, NULL, AUTO_FIX_WHY))
			goto out;
	}
	/* A switch killed after pinning its link left one behind. */
	link_detach_pin(s->dir, "xdp_link");
	snprintf(path, sizeof(path), "%s/xdp_prog", s->dir);
	fd = bpf_obj_get(path);
	lopts.flags = XDP_FLAGS_DRV_MODE;
	if (fd >= 0)
		lfd = bpf_link_create(fd, ifindex, BPF_XDP, &lopts);
	if (lfd < 0 || pin_fd(lfd, s->dir, "xdp_link")) {
		pr_err("auto: cannot put native XDP on ifindex %d: %s", ifindex,
		       strerror(errno));
		drop_auto_fixes(s);
		journal(s);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (lfd >= 0)
		close(lfd);
	if (cfd >= 0)
		close(cfd);
	return ret;
}

/* The record after a switch: its fixes, the new state, since when and
 * why, and one more switch (xdp_egress_auto_switches_total). */
static int record_switch(struct attach_state *s, cJSON *m, cJSON *au,
			 const struct switch_args *a)
{
	struct timespec ts;
	double n;
	char *json;
	int ret;

	fixes_to_json(m, s);
	cJSON_ReplaceItemInObject(au, "state", cJSON_CreateString(a->native ? "native" : "tc"));
	clock_gettime(CLOCK_REALTIME, &ts);
	cJSON_ReplaceItemInObject(au, "since",
				  cJSON_CreateNumber(ts.tv_sec + ts.tv_nsec / 1e9));
	cJSON_ReplaceItemInObject(au, "why", cJSON_CreateString(a->why));
	/* Records written before it was counted have none: 0. */
	n = (double)(json_int(cJSON_GetObjectItem(au, "switches"), 0, 1LL << 53, 0) + 1);
	cJSON_DeleteItemFromObject(au, "switches");
	cJSON_AddNumberToObject(au, "switches", n);
	json = cJSON_PrintUnformatted(m);
	ret = json && !meta_write(a->dir, json) ? 0 : -1;
	if (ret)
		pr_err("auto: cannot update the record under %s", a->dir);
	free(json);
	return ret;
}

static int auto_switch_locked(const void *arg, int unused)
{
	const struct switch_args *a = arg;
	struct attach_state *s = calloc(1, sizeof(*s));
	cJSON *m, *au = NULL;
	int ret = -1;

	if (!s)
		return -1;
	m = switch_record(a, &au);
	if (!m) {
		free(s);
		return 1;
	}
	s->n_fixes = fixes_from_json(m, &s->fixes);
	s->max_fixes = s->n_fixes;
	snprintf(s->dir, sizeof(s->dir), "%s", a->dir);
	s->record = m; /* fix_apply() records each fix here before it acts */
	if (s->n_fixes < 0) {
		s->n_fixes = 0;
	} else if (!a->native) {
		link_detach_pin(a->dir, "xdp_link");
		/* Then give the container its checksum offload (and so TSO)
		 * back. */
		drop_auto_fixes(s);
		ret = record_switch(s, m, au, a);
	} else if (!put_native_in_front(s, m)) {
		ret = record_switch(s, m, au, a);
	}
	cJSON_Delete(m);
	free(s->fixes);
	free(s);
	return ret;
}

int auto_switch(const char *dir, int native, const char *why)
{
	struct switch_args a = { .dir = dir, .native = native, .why = why };

	return with_lock(auto_switch_locked, &a, 0);
}
