// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <fcntl.h>
#include "netns.h"
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "lock.h"
#include "pins.h"
#include "layout.h"
#include "log.h"

#define DEFAULT_ROOT "/sys/fs/bpf/xdp-egress"

static int is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -1;
	return 0;
}

/* Was this process given a mount namespace of its own, unlike its parent? */
static int private_mount_ns(void)
{
	struct stat self, parent;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)getppid());
	if (stat("/proc/self/ns/mnt", &self) || stat(path, &parent))
		return 0;
	return self.st_ino != parent.st_ino;
}

int pins_root(char *out, size_t len)
{
	const char *root = getenv("XDP_EGRESS_BPFFS");
	char parent[PATH_MAX];
	char *slash;
	int fd;

	if (!root || !*root)
		root = DEFAULT_ROOT;
	snprintf(out, len, "%s", root);
	snprintf(parent, sizeof(parent), "%s", root);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = 0;
	/* The default lives on /sys/fs/bpf: mount bpffs there if nobody has. */
	if (!strncmp(root, "/sys/fs/bpf", 11) && !is_bpffs("/sys/fs/bpf")) {
		/* `ip netns exec` runs us with a private mount namespace and a
		 * fresh /sys: a bpffs mounted there dies with this process, and
		 * the pinned link with it, detaching the program. */
		if (private_mount_ns()) {
			pr_err("/sys/fs/bpf is not mounted in this mount namespace "
			       "(as under `ip netns exec`, which gives every call a "
			       "private /sys): pins made here would vanish when "
			       "xdp-egress exits; run it with `nsenter --net=/run/netns/"
			       "NAME xdp-egress ...` or set XDP_EGRESS_BPFFS to a "
			       "folder on a shared bpffs");
			return -1;
		}
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			pr_err("/sys/fs/bpf is not a bpffs and mounting one failed: "
			       "%s; mount it (mount -t bpf bpf /sys/fs/bpf) or set "
			       "XDP_EGRESS_BPFFS to a folder on a bpffs",
			       strerror(errno));
			return -1;
		}
		pr_debug("mounted bpffs on /sys/fs/bpf");
	}
	if (!is_bpffs(parent) && !is_bpffs(root)) {
		pr_err("%s is not on a bpffs: set XDP_EGRESS_BPFFS to a folder "
		       "under a bpffs mount (e.g. /sys/fs/bpf/xdp-egress)", root);
		return -1;
	}
	if (mkdir_p(root)) {
		int err = errno;

		pr_err("cannot create %s: %s%s", root, strerror(err),
		       err == EACCES || err == EPERM ? "; the pins and the lock on "
		       "them are root's alone (run xdp-egress as root)" : "");
		return -1;
	}
	/* Every command refuses a root the lock would refuse (a symbolic
	 * link, not root's, writable by others), not only those that lock. */
	fd = lock_open_dir(root);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

void pins_ns_dir(char *out, size_t len, const char *root,
		 unsigned long long ns_cookie)
{
	snprintf(out, len, "%s/ns%llu", root, ns_cookie);
}

int pins_ns_dir_self(char *out, size_t len, const char *root)
{
	unsigned long long c = netns_cookie(-1);

	if (!c) {
		pr_err("cannot read this network namespace's cookie "
		       "(SO_NETNS_COOKIE, kernel 5.14): %s", strerror(errno));
		return -1;
	}
	pins_ns_dir(out, len, root, c);
	return 0;
}

void pins_attach_dir(char *out, size_t len, const char *ns_dir, int ifindex)
{
	snprintf(out, len, "%s/if%d", ns_dir, ifindex);
}

static const char *const shared_maps[] = SHARED_MAP_NAMES;
#define N_SHARED (sizeof(shared_maps) / sizeof(shared_maps[0]))

int pins_open(const char *ns_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", ns_dir, name);
	return bpf_obj_get(path);
}

int pins_reuse_shared(struct bpf_object *obj, const char *ns_dir)
{
	size_t i;

	for (i = 0; i < N_SHARED; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, shared_maps[i]);
		int fd;

		if (!m)
			continue;
		fd = pins_open(ns_dir, shared_maps[i]);
		if (fd < 0)
			continue;
		if (bpf_map__reuse_fd(m, fd)) {
			pr_err("the shared map %s/%s does not fit this build of "
			       "xdp-egress (%s): detach everything in this namespace "
			       "with the version that attached it, then attach again",
			       ns_dir, shared_maps[i], strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

int pins_pin_shared(struct bpf_object *obj, const char *ns_dir)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; i < N_SHARED; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, shared_maps[i]);

		snprintf(path, sizeof(path), "%s/%s", ns_dir, shared_maps[i]);
		if (!m || !stat(path, &st))
			continue;
		if (bpf_obj_pin(bpf_map__fd(m), path)) {
			pr_err("cannot pin %s: %s", path, strerror(errno));
			return -1;
		}
	}
	/* The shared maps and their layout go together. */
	snprintf(path, sizeof(path), "%s/layout", ns_dir);
	if (stat(path, &st) && layout_stamp_ns(ns_dir))
		return -1;
	return 0;
}

void pins_remove_shared(const char *ns_dir)
{
	char path[PATH_MAX];
	size_t i;

	/* kct_config (the first) last: it says whose conntrack rule it is. */
	for (i = N_SHARED; i-- > 0;) {
		snprintf(path, sizeof(path), "%s/%s", ns_dir, shared_maps[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/layout", ns_dir);
	unlink(path);
}

int pins_ns_in_use(const char *ns_dir)
{
	DIR *d = opendir(ns_dir);
	struct dirent *de;
	int used = 0;

	while (d && !used && (de = readdir(d)))
		used = !strncmp(de->d_name, "if", 2);
	if (d)
		closedir(d);
	return used;
}

int meta_write(const char *dir, const char *json)
{
	char path[PATH_MAX];
	char *val;
	__u32 key = 0;
	int fd, ret;

	if (strlen(json) >= META_SIZE) {
		errno = E2BIG;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/meta", dir);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xe_meta", 4, META_SIZE,
				    1, NULL);
		if (fd < 0)
			return -1;
		if (bpf_obj_pin(fd, path)) {
			close(fd);
			return -1;
		}
	}
	val = calloc(1, META_SIZE);
	if (!val) {
		close(fd);
		return -1;
	}
	strcpy(val, json);
	ret = bpf_map_update_elem(fd, &key, val, 0);
	free(val);
	close(fd);
	return ret;
}

int meta_read(const char *dir, char *buf, size_t len)
{
	char path[PATH_MAX];
	char val[META_SIZE];
	__u32 key = 0;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/meta", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	ret = bpf_map_lookup_elem(fd, &key, val);
	close(fd);
	if (ret)
		return -1;
	val[META_SIZE - 1] = 0;
	snprintf(buf, len, "%s", val);
	return 0;
}

int pins_foreach_record(const char *ns_dir,
			int (*fn)(const char *dir, struct cJSON *record, void *arg),
			void *arg)
{
	DIR *d = opendir(ns_dir);
	struct dirent *de;
	int ret = 0;

	while (!ret && d && (de = readdir(d))) {
		char dir[PATH_MAX], buf[META_SIZE];
		cJSON *m;

		if (strncmp(de->d_name, "if", 2))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", ns_dir, de->d_name);
		if (meta_read(dir, buf, sizeof(buf)))
			continue;
		m = cJSON_Parse(buf);
		if (m)
			ret = fn(dir, m, arg);
		cJSON_Delete(m);
	}
	if (d)
		closedir(d);
	return ret;
}

int pins_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		char path[PATH_MAX];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "meta"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && errno != ENOENT)
			ret = -1;
	}
	closedir(d);
	/* The record last: until then it says what is left to undo. */
	if (!ret) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/meta", dir);
		if (unlink(path) && errno != ENOENT)
			ret = -1;
	}
	if (rmdir(dir) && errno != ENOENT)
		ret = -1;
	return ret;
}

void pins_prune(const char *ns_dir, const char *root)
{
	/* rmdir fails on a non-empty folder, which is what we want. A process
	 * waiting for the lock on root notices (lock_dir()). */
	rmdir(ns_dir);
	if (strcmp(root, "/sys/fs/bpf"))
		rmdir(root);
}
