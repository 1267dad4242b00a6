// SPDX-License-Identifier: GPL-2.0
/*
 * Layout versions and migrations (layout.h).
 *
 * Why a version map in the namespace folder and a field in each record,
 * rather than the version in the pins' names (ns<ID>.v2/, promote.v2): a
 * binary must *see* pins of another layout to migrate or refuse them. With
 * versioned names a new binary would find nothing, attach a second program
 * beside the old one's and leave the old state to nobody; detach would
 * miss it. A version that travels with the pins also survives a rename of
 * the folder itself (a migration step may rename ns<INODE> to
 * ns<COOKIE>).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>

#include "agent.h"
#include "jsonval.h"
#include "layout.h"
#include "log.h"
#include "netns.h"
#include "pins.h"
#include "xdp_egress.h"

/* ---- layout 1 -> 2: stable identity ---- */

static void foreach_folder(const char *ns_dir,
			   int (*fn)(const char *dir, cJSON *m, void *arg),
			   void *arg);

/* Layout 1 identified a namespace by its inode number, which the kernel
 * reuses: the cookie of the namespace that has it now (0: none has). */
static unsigned long long cookie_of_inode(const cJSON *ino)
{
	unsigned long long c;
	int fd;

	if (!json_int(ino, 0, 1LL << 53, 0))
		return 0;
	fd = netns_find_by_inode((unsigned long)json_int(ino, 0, 1LL << 53, 0));
	if (fd < 0)
		return 0; /* gone: what was changed there is reported gone */
	c = netns_cookie(fd);
	close(fd);
	return c;
}

static void add_cookie(cJSON *o)
{
	if (o && !cJSON_GetObjectItem(o, "netns_cookie"))
		cJSON_AddNumberToObject(o, "netns_cookie", (double)cookie_of_inode(
						cJSON_GetObjectItem(o, "netns_ino")));
}

/* A record: finished ("phase"), its fixes with their role (layout 1 said
 * it only in their text) and cookies. */
static int record_1_to_2(const char *dir, cJSON *m, void *arg)
{
	cJSON *f;

	if (!cJSON_GetObjectItem(m, "phase"))
		cJSON_AddStringToObject(m, "phase", "attached");
	add_cookie(cJSON_GetObjectItem(m, "container"));
	cJSON_ArrayForEach(f, cJSON_GetObjectItem(m, "fixes")) {
		const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(f, "why"));
		char up[IF_NAMESIZE];

		add_cookie(f);
		if (cJSON_GetObjectItem(f, "role"))
			continue;
		if (why && sscanf(why, "peer of veth uplink %15[^:]", up) == 1) {
			cJSON_AddStringToObject(f, "role", "uplink_peer");
			cJSON_AddStringToObject(f, "uplink", up);
		} else {
			cJSON_AddStringToObject(f, "role", why && !strncmp(why, "auto mode:", 10)
							   ? "auto" : "container");
		}
	}
	return 1;
}

/* The records, then the folder's name: ns<INODE> becomes ns<COOKIE>. */
static int migrate_1_to_2(const char *root, char *ns_dir)
{
	char to[PATH_MAX];

	foreach_folder(ns_dir, record_1_to_2, NULL);
	if (pins_ns_dir_self(to, sizeof(to), root))
		return -1;
	if (!strcmp(to, ns_dir))
		return 0;
	/* Its agent serves the folder by its old name. */
	agent_stop(ns_dir);
	if (rename(ns_dir, to)) {
		pr_err("cannot rename %s to %s: %s", ns_dir, to, strerror(errno));
		return -1;
	}
	snprintf(ns_dir, PATH_MAX, "%s", to);
	if (pins_ns_in_use(ns_dir))
		agent_ensure(ns_dir);
	return 0;
}

/*
 * The migration steps, one function per step, step N taking layout N to
 * N + 1. Layout 1 is what every binary before layout versions pinned.
 * A step that changes maps the running programs use says needs_programs:
 * only `upgrade` runs it, and swaps the programs right after.
 */
/* Layout 3 adds the shared maps flows and flow_events, which the older
 * programs never use: the next attach or upgrade pins them
 * (pins_pin_shared), nothing else changes. */
static int migrate_2_to_3(const char *root, char *ns_dir)
{
	return 0;
}

static const struct layout_step steps[] = {
	{ 1, "records with fixes by role and netns cookie, and the folder "
	     "named by the namespace's cookie", 0, migrate_1_to_2 },
	{ 2, "the shared maps flows and flow_events (pinned by the next attach "
	     "or upgrade; older programs do not use them)", 0, migrate_2_to_3 },
};
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

int layout_plan(const struct layout_step *table, size_t n_table,
		unsigned int from, unsigned int to,
		const struct layout_step **out, size_t max, unsigned int *missing)
{
	unsigned int v;
	size_t i, n = 0;

	for (v = from; v < to; v++) {
		for (i = 0; i < n_table; i++)
			if (table[i].run && table[i].from == v)
				break;
		if (i == n_table || n == max) {
			*missing = v;
			return -1;
		}
		out[n++] = &table[i];
	}
	return (int)n;
}

static int layout_pin_read(const char *ns_dir, unsigned int *v)
{
	__u32 zero = 0, val;
	int fd = pins_open(ns_dir, "layout"), ret;

	if (fd < 0)
		return -1;
	ret = bpf_map_lookup_elem(fd, &zero, &val);
	close(fd);
	if (ret)
		return -1;
	*v = val;
	return 0;
}

unsigned int layout_of_ns(const char *ns_dir)
{
	unsigned int v;

	return layout_pin_read(ns_dir, &v) ? 1 : v;
}

unsigned int layout_of_record(const cJSON *record)
{
	const cJSON *l = cJSON_GetObjectItem(record, "layout");

	return cJSON_IsNumber(l) ? (unsigned int)l->valuedouble : 1;
}

static int layout_set_ns(const char *ns_dir, __u32 v)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, ret;

	fd = pins_open(ns_dir, "layout");
	if (fd < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xe_layout", 4, 4, 1, NULL);
		snprintf(path, sizeof(path), "%s/layout", ns_dir);
		if (fd < 0 || bpf_obj_pin(fd, path)) {
			pr_err("cannot pin the layout version at %s: %s", path,
			       strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	ret = bpf_map_update_elem(fd, &zero, &v, 0);
	close(fd);
	return ret;
}

int layout_stamp_ns(const char *ns_dir)
{
	return layout_set_ns(ns_dir, XE_LAYOUT_VERSION);
}

void layout_stamp_record(cJSON *record)
{
	cJSON_DeleteItemFromObject(record, "layout");
	cJSON_DeleteItemFromObject(record, "build");
	cJSON_AddNumberToObject(record, "layout", XE_LAYOUT_VERSION);
	cJSON_AddStringToObject(record, "build", xe_build_id());
}

/* ---- what a namespace folder holds ---- */

struct ns_scan {
	unsigned int lo, hi;
	char lo_where[PATH_MAX], hi_where[PATH_MAX];
	int unstamped;            /* pins or records without a version */
};

static void scan_note(struct ns_scan *sc, unsigned int v, const char *where)
{
	if (v < sc->lo) {
		sc->lo = v;
		snprintf(sc->lo_where, sizeof(sc->lo_where), "%s", where);
	}
	if (v > sc->hi) {
		sc->hi = v;
		snprintf(sc->hi_where, sizeof(sc->hi_where), "%s", where);
	}
}

/* The attachment (if*) and uplink (up*) folders of ns_dir, with their
 * records; fn may rewrite the record (return 1 to have it written back). */
static void foreach_folder(const char *ns_dir,
			   int (*fn)(const char *dir, cJSON *m, void *arg),
			   void *arg)
{
	DIR *d = opendir(ns_dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char dir[PATH_MAX], buf[META_SIZE];
		cJSON *m;

		if (strncmp(de->d_name, "if", 2) && strncmp(de->d_name, "up", 2))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", ns_dir, de->d_name);
		if (meta_read(dir, buf, sizeof(buf)) || !(m = cJSON_Parse(buf)))
			continue;
		if (fn(dir, m, arg) == 1) {
			char *js = cJSON_PrintUnformatted(m);

			if (!js || meta_write(dir, js))
				pr_warn("cannot rewrite the record %s/meta: %s", dir,
					strerror(errno));
			free(js);
		}
		cJSON_Delete(m);
	}
	if (d)
		closedir(d);
}

static int scan_record(const char *dir, cJSON *m, void *arg)
{
	struct ns_scan *sc = arg;

	if (!cJSON_GetObjectItem(m, "layout"))
		sc->unstamped = 1;
	scan_note(sc, layout_of_record(m), dir);
	return 0;
}

/* Records without a version, or of the layout a step just left: now of
 * layout *arg ("build" stays: their programs have not changed). */
static int set_record_layout(const char *dir, cJSON *m, void *arg)
{
	unsigned int v = *(unsigned int *)arg;

	if (layout_of_record(m) == v && cJSON_GetObjectItem(m, "layout"))
		return 0;
	cJSON_DeleteItemFromObject(m, "layout");
	cJSON_AddNumberToObject(m, "layout", v);
	return 1;
}

/* The whole folder is of layout v now: a step that fails after earlier
 * ones leaves a consistent, later layout behind. */
static int layout_set_all(const char *ns_dir, unsigned int v)
{
	foreach_folder(ns_dir, set_record_layout, &v);
	return layout_set_ns(ns_dir, v);
}

/*
 * This namespace's folder. When a layout renames it (layout 2: ns<INODE>
 * becomes ns<NETNS_COOKIE>), look here for it under the older name too
 * when the new one does not exist, so that the step that renames it runs.
 */
int layout_ns_dir(const char *root, char *out, size_t len)
{
	char old[PATH_MAX];
	struct stat st;
	int self;

	if (pins_ns_dir_self(out, len, root))
		return -1;
	if (!stat(out, &st))
		return 0;
	self = netns_open_self();
	if (self < 0)
		return 0;
	snprintf(old, sizeof(old), "%s/ns%lu", root, netns_inode(self));
	close(self);
	if (!stat(old, &st) && S_ISDIR(st.st_mode))
		snprintf(out, len, "%s", old);
	return 0;
}

int layout_check(const char *root, enum layout_use use)
{
	return layout_check_steps(root, use, steps, N_STEPS, XE_LAYOUT_VERSION);
}

int layout_check_steps(const char *root, enum layout_use use,
		       const struct layout_step *table, size_t n_table,
		       unsigned int target)
{
	const struct layout_step *plan[16];
	struct ns_scan sc = { .lo = target, .hi = target };
	char ns_dir[PATH_MAX];
	unsigned int v, missing;
	struct stat st;
	int n, i;

	if (layout_ns_dir(root, ns_dir, sizeof(ns_dir)))
		return -1;
	if (stat(ns_dir, &st))
		return 0; /* nothing pinned in this namespace */
	if (layout_pin_read(ns_dir, &v)) {
		int fd = pins_open(ns_dir, "kct_config");

		v = 1;
		/* An empty folder (an attach in progress) has no pins yet. */
		sc.unstamped = pins_ns_in_use(ns_dir) || fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	scan_note(&sc, v, ns_dir);
	foreach_folder(ns_dir, scan_record, &sc);
	if (sc.hi > target) {
		pr_err("%s holds pins of layout %u, newer than this xdp-egress "
		       "(build %s) knows: it writes layout %d and cannot read them. "
		       "Run the xdp-egress that made them (or a newer one): "
		       "`xdp-egress upgrade --all` with it, or `xdp-egress detach "
		       "--all` with it and attach again with this one",
		       sc.hi_where, sc.hi, xe_build_id(), target);
		return -1;
	}
	if (sc.lo < target) {
		n = layout_plan(table, n_table, sc.lo, target, plan,
				sizeof(plan) / sizeof(plan[0]), &missing);
		if (n < 0) {
			pr_err("%s holds pins of layout %u; this xdp-egress writes "
			       "layout %d and has no migration from layout %u. Detach "
			       "everything in this namespace with the xdp-egress that "
			       "attached it (`xdp-egress detach --all`), then attach "
			       "again with this one", sc.lo_where, sc.lo,
			       target, missing);
			return -1;
		}
		if (use == LAYOUT_READ) {
			pr_warn("%s holds pins of layout %u; this xdp-egress writes "
				"layout %d: `xdp-egress upgrade --all` migrates them",
				sc.lo_where, sc.lo, target);
			return 0;
		}
		for (i = 0; use == LAYOUT_CHANGE && i < n; i++) {
			if (!plan[i]->needs_programs)
				continue;
			pr_err("%s holds pins of layout %u; migrating them to layout "
			       "%d (%s) changes maps the running programs use: run "
			       "`xdp-egress upgrade --all` first, which migrates them "
			       "and swaps the programs without loss", sc.lo_where,
			       sc.lo, target, plan[i]->what);
			return -1;
		}
		for (i = 0; i < n; i++) {
			pr_info("migrating %s from layout %u to %u: %s", ns_dir,
				plan[i]->from, plan[i]->from + 1, plan[i]->what);
			if (plan[i]->run(root, ns_dir)) {
				pr_err("migrating %s from layout %u to %u failed (see "
				       "above); it stays at layout %u", ns_dir,
				       plan[i]->from, plan[i]->from + 1, plan[i]->from);
				return -1;
			}
			if (layout_set_all(ns_dir, plan[i]->from + 1))
				return -1;
		}
	}
	if (sc.unstamped && use != LAYOUT_READ)
		return layout_set_all(ns_dir, target);
	return 0;
}
