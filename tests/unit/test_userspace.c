// SPDX-License-Identifier: GPL-2.0
/*
 * User-space unit tests of the CLI's modules: netns, nl, ethtool, target,
 * pins, attach.h's veth MTU cap and report.h's counter names. The BPF
 * program is covered by test_egress_prog.c and full CLI runs by tests/e2e.
 *
 * Isolation: before anything else the test unshares a network and a mount
 * namespace, makes every mount private, mounts a fresh bpffs on a folder it
 * creates under /tmp and points XDP_EGRESS_BPFFS below it. The "container"
 * is a child process that unshares its own network namespace and waits; its
 * namespace is reached through /proc/CHILD/ns/net. Nothing here touches the
 * machine's network namespace, /run/netns or /sys/fs/bpf; the veths vanish
 * with the two namespaces, the child is killed by its PID and the /tmp
 * folder is unmounted and removed on every exit path.
 *
 *   private "host" netns                  child "container" netns
 *     h1 ==================veth============ c1
 *     h2 ==================veth============ c2   (added for the ambiguity checks)
 *     q0 ==veth== q0p      (numrxqueues / numtxqueues, channels_get)
 *     up0 ==veth== up0p    (default route for nl_default_route_dev)
 *     xa0 =================veth============ xa1  (native XDP MTU cap)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>

#include <cjson/cJSON.h>

#include "xdp_egress.h"
#include "attach.h"
#include "ethtool.h"
#include "lock.h"
#include "layout.h"
#include "netns.h"
#include "nl.h"
#include "pins.h"
#include "report.h"
#include "target.h"
#include "unit.h"

/* ---- environment and cleanup ------------------------------------------ */

static char base_dir[PATH_MAX];   /* mkdtemp under /tmp, on the host's fs */
static char bpffs_dir[PATH_MAX];  /* base_dir/bpf: private bpffs mount */
static char pins_env[PATH_MAX];   /* bpffs_dir/xdp-egress */
static int bpffs_mounted;
static volatile pid_t child_pid;  /* the "container" */
static volatile sig_atomic_t cleaned;

/* Only async-signal-safe calls: also run from the signal handler. */
static void cleanup(void)
{
	pid_t pid = child_pid;

	if (cleaned)
		return;
	cleaned = 1;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		child_pid = 0;
	}
	if (bpffs_mounted)
		umount2(bpffs_dir, MNT_DETACH);
	if (bpffs_dir[0])
		rmdir(bpffs_dir);
	if (base_dir[0])
		rmdir(base_dir);
}

static void on_signal(int sig)
{
	cleanup();
	_exit(128 + sig);
}

static int run_cmd(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Run a shell command in the current (private) namespace; 0 on success. */
static int run_cmd(const char *fmt, ...)
{
	char cmd[512], line[600];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s >/dev/null 2>&1", cmd);
	rc = system(line);
	if (rc != 0)
		fprintf(stderr, "# `%s` failed (rc %d)\n", cmd, rc);
	return rc == 0 ? 0 : -1;
}

/* Run a shell command inside the container namespace (via netns_run_in). */
static int system_cb(void *arg)
{
	char line[600];

	snprintf(line, sizeof(line), "%s >/dev/null 2>&1", (const char *)arg);
	return system(line) == 0 ? 0 : -1;
}

static int run_in(int netns_fd, const char *cmd)
{
	int rc = netns_run_in(netns_fd, system_cb, (void *)cmd);

	if (rc)
		fprintf(stderr, "# `%s` in the container failed\n", cmd);
	return rc;
}

static unsigned long self_ino(void)
{
	int fd = netns_open_self();
	unsigned long ino = fd >= 0 ? netns_inode(fd) : 0;

	if (fd >= 0)
		close(fd);
	return ino;
}

static int is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static int is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/*
 * Private network + mount namespace, private bpffs. Must succeed before any
 * other step: nothing may run in the machine's namespaces.
 */
static int isolate(char *why, size_t len)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS)) {
		snprintf(why, len, "unshare(CLONE_NEWNET|CLONE_NEWNS): %s",
			 strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		snprintf(why, len, "making / private: %s", strerror(errno));
		return -1;
	}
	snprintf(base_dir, sizeof(base_dir), "/tmp/xe-unit-userspace.XXXXXX");
	if (!mkdtemp(base_dir)) {
		snprintf(why, len, "mkdtemp: %s", strerror(errno));
		base_dir[0] = 0;
		return -1;
	}
	snprintf(bpffs_dir, sizeof(bpffs_dir), "%s/bpf", base_dir);
	if (mkdir(bpffs_dir, 0700)) {
		snprintf(why, len, "mkdir %s: %s", bpffs_dir, strerror(errno));
		bpffs_dir[0] = 0;
		return -1;
	}
	if (mount("bpf", bpffs_dir, "bpf", 0, "mode=0700")) {
		snprintf(why, len, "mount -t bpf %s: %s", bpffs_dir, strerror(errno));
		return -1;
	}
	bpffs_mounted = 1;
	snprintf(pins_env, sizeof(pins_env), "%s/xdp-egress", bpffs_dir);
	setenv("XDP_EGRESS_BPFFS", pins_env, 1);
	if (run_cmd("ip link set lo up")) {
		snprintf(why, len, "ip link set lo up failed");
		return -1;
	}
	return 0;
}

/* The container: a child in its own network namespace, waiting to be
 * killed. Returns its pid once its namespace exists. */
static pid_t spawn_container(char *why, size_t len)
{
	int p[2];
	pid_t pid;
	char c = 0;

	if (pipe(p)) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		c = 1;
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1 || c != 1) {
		close(p[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		snprintf(why, len, "the container child could not unshare its netns");
		return -1;
	}
	close(p[0]);
	return pid;
}

/* A pid that is not running now. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return 999999999;
	waitpid(pid, NULL, 0);
	if (kill(pid, 0) == 0 || errno != ESRCH)
		return 999999999;
	return pid;
}

static int ifindex_in(int netns_fd, const char *name)
{
	struct mnl_socket *nl = nl_open_in(netns_fd);
	struct link_info li;
	int ret = -1;

	if (nl && !nl_link_by_name(nl, name, &li))
		ret = li.ifindex;
	nl_close(nl);
	return ret;
}

/* ---- netns ------------------------------------------------------------- */

static int ns_cb(void *arg)
{
	*(unsigned long *)arg = self_ino();
	return 42;
}

static void test_netns(int cfd, pid_t cpid)
{
	char missing[64], path[64];
	unsigned long before, after, inside = 0, cino;
	int fd, err, rc;

	snprintf(missing, sizeof(missing), "xe-unit-missing-%d", (int)getpid());
	snprintf(path, sizeof(path), "/run/netns/%s", missing);
	if (!exists(path)) {
		errno = 0;
		fd = netns_open(missing);
		err = errno;
		CHECK(fd < 0 && err == ENOENT, "netns/open_missing_name_enoent",
		      "netns_open(%s) = %d, errno %s", missing, fd, strerror(err));
		if (fd >= 0)
			close(fd);
	} else {
		CHECK(0, "netns/open_missing_name_enoent", "%s exists", path);
	}

	before = self_ino();
	cino = netns_inode(cfd);
	CHECK(before && cino && before != cino, "netns/inode_differs",
	      "host %lu, container %lu", before, cino);

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)cpid);
	fd = netns_open(path);
	CHECK(fd >= 0 && netns_inode(fd) == cino, "netns/open_path_same_inode",
	      "netns_open(%s) = %d, inode %lu, want %lu", path, fd,
	      fd >= 0 ? netns_inode(fd) : 0, cino);
	if (fd >= 0)
		close(fd);

	rc = netns_run_in(cfd, ns_cb, &inside);
	after = self_ino();
	ASSERT_EQ(rc, 42, "netns/run_in_returns_fn_result");
	CHECK(inside == cino, "netns/run_in_runs_inside",
	      "inode inside %lu, container %lu", inside, cino);
	CHECK(after == before, "netns/run_in_returns_to_original",
	      "inode before %lu, after %lu", before, after);

	fd = netns_find_by_inode(cino);
	CHECK(fd >= 0 && netns_inode(fd) == cino, "netns/find_by_inode_finds_container",
	      "fd %d, inode %lu, want %lu", fd, fd >= 0 ? netns_inode(fd) : 0, cino);
	if (fd >= 0)
		close(fd);
	fd = netns_find_by_inode(1);
	CHECK(fd < 0, "netns/find_by_inode_unknown_fails", "fd %d", fd);
	if (fd >= 0)
		close(fd);
}

/* ---- nl ---------------------------------------------------------------- */

struct dump_seen {
	int count;
	int h1_veth, lo;
	char names[64][IF_NAMESIZE];
};

static int dump_cb(const struct link_info *li, void *arg)
{
	struct dump_seen *d = arg;

	if (d->count < 64)
		snprintf(d->names[d->count], IF_NAMESIZE, "%s", li->name);
	d->count++;
	if (!strcmp(li->name, "h1") && !strcmp(li->kind, "veth"))
		d->h1_veth = 1;
	if (!strcmp(li->name, "lo"))
		d->lo = 1;
	return 0;
}

static int dump_stop_cb(const struct link_info *li, void *arg)
{
	(*(int *)arg)++;
	return 1;
}

static void test_nl(int cfd)
{
	struct mnl_socket *hnl = nl_open_in(-1), *cnl = nl_open_in(cfd);
	struct link_info h1, h1i, c1, li;
	struct if_nameindex *ifs, *i;
	struct dump_seen d = {};
	int h1_idx = if_nametoindex("h1"), c1_idx, nsid, cnsid, selffd, rc, err;
	int up0 = if_nametoindex("up0"), all_found = 1, n_if = 0, stops = 0;

	CHECK(hnl && cnl, "nl/open_in", "host %p, container %p", (void *)hnl,
	      (void *)cnl);
	if (!hnl || !cnl)
		goto out;
	c1_idx = ifindex_in(cfd, "c1");

	nsid = nl_nsid_of(hnl, cfd);
	CHECK(nsid >= 0, "nl/nsid_of_container", "nsid %d", nsid);

	rc = nl_link_by_name(hnl, "h1", &h1);
	CHECK(rc == 0 && h1.ifindex == h1_idx && !strcmp(h1.name, "h1") &&
	      !strcmp(h1.kind, "veth"), "nl/link_by_name_veth",
	      "rc %d, ifindex %d (want %d), name '%s', kind '%s'", rc, h1.ifindex,
	      h1_idx, h1.name, h1.kind);
	CHECK(rc == 0 && c1_idx > 0 && h1.link == c1_idx, "nl/link_by_name_peer_ifindex",
	      "IFLA_LINK %d, c1 is %d in the container", h1.link, c1_idx);
	CHECK(rc == 0 && nsid >= 0 && h1.link_netnsid == nsid,
	      "nl/link_by_name_link_netnsid", "link_netnsid %d, nsid of container %d",
	      h1.link_netnsid, nsid);

	rc = nl_link_by_index(hnl, h1_idx, &h1i);
	CHECK(rc == 0 && !strcmp(h1i.name, "h1") && !strcmp(h1i.kind, "veth") &&
	      h1i.link == c1_idx && h1i.link_netnsid == nsid,
	      "nl/link_by_index_veth", "rc %d, name '%s', kind '%s', link %d, "
	      "netnsid %d", rc, h1i.name, h1i.kind, h1i.link, h1i.link_netnsid);

	/* And from the container's side, back to the host. */
	selffd = netns_open_self();
	cnsid = nl_nsid_of(cnl, selffd);
	close(selffd);
	rc = nl_link_by_name(cnl, "c1", &c1);
	CHECK(rc == 0 && !strcmp(c1.kind, "veth") && c1.link == h1_idx &&
	      cnsid >= 0 && c1.link_netnsid == cnsid, "nl/container_side_peer",
	      "rc %d, kind '%s', link %d (want %d), netnsid %d (want %d)", rc,
	      c1.kind, c1.link, h1_idx, c1.link_netnsid, cnsid);

	rc = nl_link_by_name(hnl, "q0", &li);
	CHECK(rc == 0 && li.link_netnsid == -1 && li.link == (int)if_nametoindex("q0p"),
	      "nl/same_netns_peer_has_no_netnsid", "rc %d, netnsid %d, link %d", rc,
	      li.link_netnsid, li.link);
	rc = nl_link_by_name(hnl, "lo", &li);
	CHECK(rc == 0 && li.kind[0] == 0 && li.ifindex == 1 && li.mtu == 65536,
	      "nl/link_by_name_lo", "rc %d, kind '%s', ifindex %d, mtu %u", rc,
	      li.kind, li.ifindex, li.mtu);

	rc = nl_link_dump(hnl, dump_cb, &d);
	ifs = if_nameindex();
	for (i = ifs; i && i->if_index; i++) {
		int k, found = 0;

		n_if++;
		for (k = 0; k < d.count && k < 64; k++)
			if (!strcmp(d.names[k], i->if_name))
				found = 1;
		if (!found) {
			all_found = 0;
			fprintf(stderr, "# nl_link_dump did not list %s\n", i->if_name);
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	CHECK(rc == 0 && d.count == n_if && all_found && d.lo && d.h1_veth,
	      "nl/link_dump_lists_every_link",
	      "rc %d, dumped %d, if_nameindex %d, all found %d, lo %d, h1 veth %d",
	      rc, d.count, n_if, all_found, d.lo, d.h1_veth);
	rc = nl_link_dump(hnl, dump_stop_cb, &stops);
	CHECK(rc == 0 && stops == 1, "nl/link_dump_stops_early",
	      "rc %d, callbacks %d", rc, stops);

	errno = 0;
	rc = nl_link_by_name(hnl, "xenosuch0", &li);
	err = errno;
	CHECK(rc == -1 && err == ENODEV, "nl/missing_link_by_name_enodev",
	      "rc %d, errno %s", rc, strerror(err));
	errno = 0;
	rc = nl_link_by_index(hnl, 999999, &li);
	err = errno;
	CHECK(rc == -1 && err == ENODEV, "nl/missing_link_by_index_enodev",
	      "rc %d, errno %s", rc, strerror(err));
	errno = 0;
	rc = nl_link_by_name(hnl, "a-name-longer-than-ifnamsiz", &li);
	err = errno;
	CHECK(rc == -1 && err == ENODEV, "nl/too_long_name_enodev",
	      "rc %d, errno %s", rc, strerror(err));

	/* Default routes: none yet, then one per family on up0. */
	ASSERT_EQ(nl_default_route_dev(hnl, AF_INET), 0, "nl/default_route_none_v4");
	ASSERT_EQ(nl_default_route_dev(hnl, AF_INET6), 0, "nl/default_route_none_v6");
	if (run_cmd("ip addr add 192.0.2.1/24 dev up0") ||
	    run_cmd("ip -6 addr add fd01::1/64 dev up0 nodad") ||
	    run_cmd("ip link set up0 up") || run_cmd("ip link set up0p up") ||
	    run_cmd("ip route add default via 192.0.2.2 dev up0") ||
	    run_cmd("ip -6 route add default via fd01::2 dev up0")) {
		CHECK(0, "nl/default_route_setup", "ip route commands failed");
		goto out;
	}
	ASSERT_EQ(nl_default_route_dev(hnl, AF_INET), up0, "nl/default_route_dev_v4");
	ASSERT_EQ(nl_default_route_dev(hnl, AF_INET6), up0, "nl/default_route_dev_v6");
	/* A default route in another table is not the main table's. */
	if (!run_cmd("ip route del default via 192.0.2.2 dev up0") &&
	    !run_cmd("ip route add default via 192.0.2.2 dev up0 table 100"))
		ASSERT_EQ(nl_default_route_dev(hnl, AF_INET), 0,
			  "nl/default_route_other_table_ignored");
	run_cmd("ip route del default table 100");
	run_cmd("ip -6 route del default via fd01::2 dev up0");
	ASSERT_EQ(nl_default_route_dev(hnl, AF_INET6), 0,
		  "nl/default_route_none_after_delete");
out:
	nl_close(hnl);
	nl_close(cnl);
}

/* ---- ethtool ----------------------------------------------------------- */

static void offload_round_trip(int netns_fd, const char *ifname, const char *where)
{
	int o;

	for (o = 0; o < OFFLOAD_MAX; o++) {
		char name[96];
		int was, flipped, back, rs1, rs2;

		snprintf(name, sizeof(name), "ethtool/%s_%s_round_trip", where,
			 offload_names[o]);
		was = offload_get(netns_fd, ifname, o);
		rs1 = offload_set(netns_fd, ifname, o, !was);
		flipped = offload_get(netns_fd, ifname, o);
		rs2 = offload_set(netns_fd, ifname, o, was);
		back = offload_get(netns_fd, ifname, o);
		CHECK(was >= 0 && rs1 == 0 && flipped == !was && rs2 == 0 && back == was,
		      name, "get %d, set(%d) %d, get %d, set(%d) %d, get %d (%s)",
		      was, !was, rs1, flipped, was, rs2, back, strerror(errno));
	}
}

static void test_ethtool(int cfd)
{
	struct channels ch = { 99, 99, 99 };
	int rc, err, tso;

	offload_round_trip(-1, "h1", "host");
	offload_round_trip(cfd, "c1", "container");

	/* The container's device is not visible from here, and vice versa. */
	errno = 0;
	rc = offload_get(-1, "c1", OFFLOAD_GRO);
	err = errno;
	CHECK(rc == -1 && err == ENODEV, "ethtool/container_dev_not_in_host",
	      "rc %d, errno %s", rc, strerror(err));
	rc = offload_get(cfd, "h1", OFFLOAD_GRO);
	CHECK(rc == -1, "ethtool/host_dev_not_in_container", "rc %d", rc);
	/* The container-side change really lands on c1, not on h1. */
	tso = offload_get(-1, "h1", OFFLOAD_TSO);
	if (!offload_set(cfd, "c1", OFFLOAD_TSO, 0)) {
		CHECK(offload_get(cfd, "c1", OFFLOAD_TSO) == 0 &&
		      offload_get(-1, "h1", OFFLOAD_TSO) == tso,
		      "ethtool/set_through_fd_targets_container", "c1 %d, h1 %d (was %d)",
		      offload_get(cfd, "c1", OFFLOAD_TSO),
		      offload_get(-1, "h1", OFFLOAD_TSO), tso);
		offload_set(cfd, "c1", OFFLOAD_TSO, 1);
	} else {
		CHECK(0, "ethtool/set_through_fd_targets_container", "set: %s",
		      strerror(errno));
	}

	rc = channels_get(-1, "q0", &ch);
	CHECK(rc == 0 && ch.rx == 3 && ch.tx == 5 && ch.combined == 0,
	      "ethtool/channels_numrxqueues_numtxqueues",
	      "rc %d, rx %u (want 3), tx %u (want 5), combined %u", rc, ch.rx,
	      ch.tx, ch.combined);
	rc = channels_get(-1, "q0p", &ch);
	CHECK(rc == 0 && ch.rx == 4 && ch.tx == 2, "ethtool/channels_peer",
	      "rc %d, rx %u (want 4), tx %u (want 2)", rc, ch.rx, ch.tx);
	rc = channels_get(cfd, "c1", &ch);
	CHECK(rc == 0 && ch.rx == 1 && ch.tx == 1, "ethtool/channels_in_container",
	      "rc %d, rx %u, tx %u (want 1/1)", rc, ch.rx, ch.tx);
	rc = channels_get(-1, "xenosuch0", &ch);
	CHECK(rc == -1, "ethtool/channels_missing_dev", "rc %d", rc);
}

/* ---- target ------------------------------------------------------------ */

static void check_target(const char *name, const struct target_spec *spec,
			 int h_idx, int c_idx, unsigned long cino)
{
	struct target t;
	int rc = target_resolve(spec, &t);

	CHECK(rc == 0 && t.host.ifindex == h_idx && t.has_container &&
	      t.container.ifindex == c_idx && t.container_netns_fd >= 0 &&
	      t.container_netns_ino == cino && t.host_netns_ino == self_ino(),
	      name, "rc %d, host %d (want %d), container %d (want %d), has %d, "
	      "fd %d, ino %lu (want %lu)", rc, t.host.ifindex, h_idx,
	      t.container.ifindex, c_idx, t.has_container, t.container_netns_fd,
	      t.container_netns_ino, cino);
	if (rc == 0)
		target_release(&t);
}

static void check_target_fails(const char *name, const struct target_spec *spec)
{
	struct target t;
	int rc;

	fprintf(stderr, "# %s: an error message is expected:\n", name);
	rc = target_resolve(spec, &t);
	CHECK(rc == -1 && t.container_netns_fd == -1, name,
	      "target_resolve = %d (want -1), container fd %d", rc,
	      t.container_netns_fd);
	if (rc == 0)
		target_release(&t);
}

static void test_target(int cfd, pid_t cpid)
{
	char path[64], missing[64];
	unsigned long cino = netns_inode(cfd);
	int h1 = if_nametoindex("h1"), c1 = ifindex_in(cfd, "c1"), h2, c2;
	struct target_spec s;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)cpid);
	snprintf(missing, sizeof(missing), "xe-unit-missing-%d", (int)getpid());

	s = (struct target_spec){ .ifname = "h1" };
	check_target("target/ifname", &s, h1, c1, cino);
	s = (struct target_spec){ .netns = path };
	check_target("target/netns_path", &s, h1, c1, cino);
	s = (struct target_spec){ .pid = cpid };
	check_target("target/pid", &s, h1, c1, cino);
	s = (struct target_spec){ .pid = cpid, .container_if = "c1" };
	check_target("target/pid_with_container_if", &s, h1, c1, cino);

	s = (struct target_spec){ .ifname = "xenosuch0" };
	check_target_fails("target/err_no_such_ifname", &s);
	s = (struct target_spec){ .ifname = "lo" };
	check_target_fails("target/err_ifname_not_veth", &s);
	s = (struct target_spec){ .netns = missing };
	check_target_fails("target/err_netns_name_missing", &s);
	s = (struct target_spec){ .netns = "/proc/self/ns/xenosuch" };
	check_target_fails("target/err_netns_path_missing", &s);
	s = (struct target_spec){ .pid = dead_pid() };
	check_target_fails("target/err_pid_not_running", &s);
	s = (struct target_spec){ .pid = -5 };
	check_target_fails("target/err_pid_negative", &s);
	s = (struct target_spec){ .pid = getpid() };
	check_target_fails("target/err_pid_is_this_namespace", &s);
	s = (struct target_spec){ 0 };
	check_target_fails("target/err_no_target", &s);
	s = (struct target_spec){ .ifname = "h1", .pid = cpid };
	check_target_fails("target/err_two_targets_ifname_pid", &s);
	s = (struct target_spec){ .netns = path, .pid = cpid };
	check_target_fails("target/err_two_targets_netns_pid", &s);
	s = (struct target_spec){ .ifname = "h1", .container_if = "c1" };
	check_target_fails("target/err_container_if_with_ifname", &s);
	s = (struct target_spec){ .pid = cpid, .container_if = "lo" };
	check_target_fails("target/err_container_if_not_veth", &s);
	s = (struct target_spec){ .pid = cpid, .container_if = "xenosuch0" };
	check_target_fails("target/err_container_if_missing", &s);

	/* A second veth into the container makes --netns/--pid ambiguous. */
	if (run_cmd("ip link add h2 type veth peer name c2 netns %d", (int)cpid)) {
		CHECK(0, "target/setup_second_veth", "ip link add h2 failed");
		return;
	}
	h2 = if_nametoindex("h2");
	c2 = ifindex_in(cfd, "c2");
	s = (struct target_spec){ .netns = path };
	check_target_fails("target/err_several_veths_without_container_if", &s);
	s = (struct target_spec){ .pid = cpid };
	check_target_fails("target/err_several_veths_pid_without_container_if", &s);
	s = (struct target_spec){ .netns = path, .container_if = "c1" };
	check_target("target/several_veths_container_if_c1", &s, h1, c1, cino);
	s = (struct target_spec){ .pid = cpid, .container_if = "c2" };
	check_target("target/several_veths_container_if_c2", &s, h2, c2, cino);
	s = (struct target_spec){ .ifname = "h2" };
	check_target("target/ifname_second_veth", &s, h2, c2, cino);

	/* A veth pair entirely inside the container: its peer is not ours. */
	if (!run_in(cfd, "ip link add cx0 type veth peer name cx1")) {
		s = (struct target_spec){ .pid = cpid, .container_if = "cx0" };
		check_target_fails("target/err_container_if_peer_not_on_host", &s);
		run_in(cfd, "ip link del cx0");
	}
	run_cmd("ip link del h2");
}

/* ---- pins -------------------------------------------------------------- */

static int pin_dummy_map(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xe_unit", 4, 8, 1, NULL);
	int rc;

	if (fd < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = bpf_obj_pin(fd, path);
	close(fd);
	return rc;
}

static void test_pins(void)
{
	char root[PATH_MAX], ns_dir[PATH_MAX], dir[PATH_MAX], dir2[PATH_MAX];
	char plain[PATH_MAX], buf[META_SIZE], *big;
	const char *json = "{\"version\":1,\"ifname\":\"h1\",\"ifindex\":7,"
			   "\"fixes\":[{\"offload\":\"tx-checksumming\",\"was\":true}]}";
	int rc, err;

	rc = pins_root(root, sizeof(root));
	CHECK(rc == 0 && !strcmp(root, pins_env) && is_dir(pins_env) &&
	      is_bpffs(pins_env), "pins/root_created_on_private_bpffs",
	      "rc %d, root '%s' (want %s), dir %d, bpffs %d", rc, root, pins_env,
	      is_dir(pins_env), is_bpffs(pins_env));
	rc = pins_root(root, sizeof(root));
	ASSERT_EQ(rc, 0, "pins/root_exists_ok");

	/* A folder that is not on a bpffs (our /tmp folder, outside the mount). */
	snprintf(plain, sizeof(plain), "%s/plain/x", base_dir);
	setenv("XDP_EGRESS_BPFFS", plain, 1);
	fprintf(stderr, "# pins/root_not_bpffs_fails: an error message is expected:\n");
	rc = pins_root(root, sizeof(root));
	CHECK(rc == -1 && !exists(plain), "pins/root_not_bpffs_fails",
	      "rc %d, %s exists %d", rc, plain, exists(plain));
	setenv("XDP_EGRESS_BPFFS", pins_env, 1);
	if (pins_root(root, sizeof(root))) {
		CHECK(0, "pins/root_restore", "pins_root failed");
		return;
	}

	pins_ns_dir(ns_dir, sizeof(ns_dir), root, 4026531840UL);
	pins_attach_dir(dir, sizeof(dir), ns_dir, 7);
	pins_attach_dir(dir2, sizeof(dir2), ns_dir, 8);
	{
		char want[PATH_MAX];

		snprintf(want, sizeof(want), "%s/ns4026531840/if7", pins_env);
		CHECK(!strcmp(dir, want), "pins/layout", "'%s', want '%s'", dir, want);
	}
	if (mkdir(ns_dir, 0700) || mkdir(dir, 0700) || mkdir(dir2, 0700)) {
		CHECK(0, "pins/mkdir", "%s", strerror(errno));
		return;
	}

	rc = meta_read(dir, buf, sizeof(buf));
	ASSERT_EQ(rc, -1, "pins/meta_read_absent_fails");
	rc = meta_write(dir, json);
	memset(buf, 0, sizeof(buf));
	CHECK(rc == 0 && !meta_read(dir, buf, sizeof(buf)) && !strcmp(buf, json),
	      "pins/meta_round_trip", "write %d, read '%s'", rc, buf);
	rc = meta_write(dir, "{\"v\":2}");
	memset(buf, 0, sizeof(buf));
	CHECK(rc == 0 && !meta_read(dir, buf, sizeof(buf)) && !strcmp(buf, "{\"v\":2}"),
	      "pins/meta_overwrite_shorter", "write %d, read '%s'", rc, buf);

	big = malloc(META_SIZE + 1);
	if (big) {
		memset(big, 'x', META_SIZE);
		big[META_SIZE] = 0;
		errno = 0;
		rc = meta_write(dir, big);
		err = errno;
		CHECK(rc == -1 && err == E2BIG, "pins/meta_write_too_big_e2big",
		      "rc %d, errno %s", rc, strerror(err));
		big[META_SIZE - 1] = 0; /* exactly META_SIZE-1: the largest that fits */
		rc = meta_write(dir2, big);
		memset(buf, 0, sizeof(buf));
		CHECK(rc == 0 && !meta_read(dir2, buf, sizeof(buf)) &&
		      strlen(buf) == META_SIZE - 1, "pins/meta_largest_fits",
		      "rc %d, read %zu chars", rc, strlen(buf));
		free(big);
	}
	memset(buf, 0, sizeof(buf));
	rc = meta_read(dir, buf, sizeof(buf));
	CHECK(rc == 0 && !strcmp(buf, "{\"v\":2}"), "pins/meta_unchanged_after_e2big",
	      "rc %d, read '%s'", rc, buf);
	/* A small buffer gets a truncated, terminated string. */
	{
		char small[4] = "zzz";

		rc = meta_read(dir, small, sizeof(small));
		CHECK(rc == 0 && !strcmp(small, "{\"v"), "pins/meta_read_truncates",
		      "rc %d, '%s'", rc, small);
	}

	if (pin_dummy_map(dir, "egress_stats") || pin_dummy_map(dir, "tx_ports")) {
		CHECK(0, "pins/pin_maps", "%s", strerror(errno));
		return;
	}
	/* Prune with attachments left: nothing goes. */
	pins_prune(ns_dir, root);
	CHECK(is_dir(ns_dir) && is_dir(root), "pins/prune_keeps_non_empty",
	      "ns dir %d, root %d", is_dir(ns_dir), is_dir(root));

	rc = pins_remove_dir(dir);
	CHECK(rc == 0 && !exists(dir) && is_dir(dir2) && is_dir(ns_dir),
	      "pins/remove_dir_removes_pins_and_folder",
	      "rc %d, dir exists %d, sibling %d, ns dir %d", rc, exists(dir),
	      is_dir(dir2), is_dir(ns_dir));
	rc = pins_remove_dir(dir);
	ASSERT_EQ(rc, 0, "pins/remove_dir_missing_ok");

	pins_prune(ns_dir, root);
	CHECK(is_dir(ns_dir) && is_dir(dir2), "pins/prune_keeps_ns_with_attachment",
	      "ns dir %d, if8 %d", is_dir(ns_dir), is_dir(dir2));
	rc = pins_remove_dir(dir2);
	ASSERT_EQ(rc, 0, "pins/remove_dir_second");

	/* Another namespace's folder keeps the root alive. */
	{
		char other[PATH_MAX];

		pins_ns_dir(other, sizeof(other), root, 12345);
		mkdir(other, 0700);
		pins_prune(ns_dir, root);
		CHECK(!exists(ns_dir) && is_dir(root) && is_dir(other),
		      "pins/prune_removes_empty_ns_keeps_root_in_use",
		      "ns dir %d, root %d, other %d", exists(ns_dir), is_dir(root),
		      is_dir(other));
		pins_prune(other, root);
		CHECK(!exists(other) && !exists(root), "pins/prune_removes_empty_root",
		      "other %d, root %d", exists(other), exists(root));
	}
	CHECK(is_bpffs(bpffs_dir), "pins/bpffs_mount_intact", "%s", bpffs_dir);
}

/* ---- lock.h: the one lock on the pin root -------------------------------- */

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* In a child: try to flock path without waiting. 0 locked, 1 held by
 * someone else, 2 cannot open. */
static int try_flock_in_child(const char *path)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open(path, O_RDONLY | O_DIRECTORY);

		if (fd < 0)
			_exit(2);
		_exit(flock(fd, LOCK_EX | LOCK_NB) ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Does process pid have path open (an fd whose link reads path)? */
static int has_open(pid_t pid, const char *path)
{
	char dir[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int found = 0;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	while (d && !found && (de = readdir(d))) {
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			found = !strcmp(target, path);
		}
	}
	if (d)
		closedir(d);
	return found;
}

static void test_lock(void)
{
	char root[PATH_MAX], real[PATH_MAX], link[PATH_MAX], under[PATH_MAX];
	struct stat st;
	pid_t pid;
	int rc, err, status, i;
	double t0;

	setenv("XDP_EGRESS_BPFFS", pins_env, 1);
	rc = lock_take(5);
	CHECK(rc == 0 && is_dir(pins_env) && !stat(pins_env, &st) &&
	      (st.st_mode & 07777) == 0700 && st.st_uid == 0,
	      "lock/take_creates_root_0700", "rc %d, mode %04o uid %u", rc,
	      (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
	ASSERT_EQ(try_flock_in_child(pins_env), 1, "lock/others_excluded");
	/* Re-entrant: the CNI plugin holds it while cmd_attach() takes it. */
	rc = lock_take(0);
	ASSERT_EQ(rc, 0, "lock/reentrant_take");
	lock_release();
	ASSERT_EQ(try_flock_in_child(pins_env), 1, "lock/held_until_last_release");
	lock_release();
	ASSERT_EQ(try_flock_in_child(pins_env), 0, "lock/free_after_last_release");

	/* Held by another process: lock_take waits, then gives up with
	 * ETIMEDOUT (the CNI plugin's "try again", code 11). */
	pid = fork();
	if (pid == 0) {
		int fd = open(pins_env, O_RDONLY | O_DIRECTORY);

		if (fd < 0 || flock(fd, LOCK_EX))
			_exit(1);
		pause();
		_exit(0);
	}
	for (i = 0; i < 200 && try_flock_in_child(pins_env) != 1; i++)
		usleep(10000);
	fprintf(stderr, "# lock/times_out_when_held: an error message is expected:\n");
	t0 = mono_now();
	errno = 0;
	rc = lock_take(1);
	err = errno;
	CHECK(rc == -1 && err == ETIMEDOUT && mono_now() - t0 >= 0.9,
	      "lock/times_out_when_held", "rc %d, errno %s after %.2f s", rc,
	      strerror(err), mono_now() - t0);
	/* The test hook: no lock at all, whoever holds it. */
	setenv(LOCK_TEST_OFF_ENV, "1", 1);
	fprintf(stderr, "# lock/test_hook_skips_lock: a warning is expected:\n");
	rc = lock_take(0);
	ASSERT_EQ(rc, 0, "lock/test_hook_skips_lock");
	lock_release();
	unsetenv(LOCK_TEST_OFF_ENV);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/*
	 * The holder prunes the (empty) root while we wait: after the flock
	 * the waiter must notice that the path names another folder (or
	 * none) and lock that instead, or two processes would each hold a
	 * "lock". The child reports what it holds: 0 = the lock on the folder
	 * root names now, 3 = root is gone (it locked a removed folder),
	 * 1 = root is there but not locked by it.
	 */
	snprintf(root, sizeof(root), "%s/pruned", bpffs_dir);
	rc = lock_dir(root, 5);
	pid = fork();
	if (pid == 0) {
		int fd;

		if (lock_dir(root, 10))
			_exit(2);
		fd = open(root, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			_exit(3);
		_exit(flock(fd, LOCK_EX | LOCK_NB) ? 0 : 1);
	}
	for (i = 0; i < 300 && !has_open(pid, root); i++)
		usleep(10000);
	/* Let it reach its polling flock, then prune and release. */
	usleep(150000);
	err = rmdir(root) ? errno : 0;
	lock_release();
	status = -1;
	waitpid(pid, &status, 0);
	CHECK(rc == 0 && !err && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "lock/root_pruned_while_waiting_relocked",
	      "lock %d, rmdir %s, waiter exit %d (3: it locked the removed "
	      "folder, 1: not the new one)", rc, strerror(err),
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	rmdir(root);

	/* A symbolic link as the root, or above it: refused, by every
	 * command (pins_root) and by the lock. */
	snprintf(real, sizeof(real), "%s/real", bpffs_dir);
	snprintf(link, sizeof(link), "%s/link", bpffs_dir);
	snprintf(under, sizeof(under), "%s/link/x", bpffs_dir);
	mkdir(real, 0700);
	if (symlink(real, link)) {
		CHECK(0, "lock/symlink_setup", "symlink %s: %s", link, strerror(errno));
	} else {
		setenv("XDP_EGRESS_BPFFS", link, 1);
		fprintf(stderr, "# lock/symlink_root_refused: error messages are expected:\n");
		rc = pins_root(root, sizeof(root));
		CHECK(rc == -1 && lock_take(0) == -1 &&
		      try_flock_in_child(real) == 0,
		      "lock/symlink_root_refused", "pins_root %d", rc);
		setenv("XDP_EGRESS_BPFFS", under, 1);
		rc = lock_dir(under, 0);
		CHECK(rc == -1 && try_flock_in_child(real) == 0,
		      "lock/symlink_above_root_refused", "lock_dir %d", rc);
		unlink(link);
	}
	rmdir(under);
	rmdir(real);

	/* Not root's, or writable by others: refused. */
	snprintf(root, sizeof(root), "%s/owned", bpffs_dir);
	mkdir(root, 0700);
	fprintf(stderr, "# lock/root_not_roots_refused: an error message is expected:\n");
	rc = chown(root, 65534, 65534) ? -2 : lock_dir(root, 0);
	ASSERT_EQ(rc, -1, "lock/root_not_roots_refused");
	fprintf(stderr, "# lock/root_group_writable_refused: an error message is expected:\n");
	rc = chown(root, 0, 0) || chmod(root, 0770) ? -2 : lock_dir(root, 0);
	ASSERT_EQ(rc, -1, "lock/root_group_writable_refused");
	fprintf(stderr, "# lock/root_world_writable_refused: an error message is expected:\n");
	rc = chmod(root, 0757) ? -2 : lock_dir(root, 0);
	ASSERT_EQ(rc, -1, "lock/root_world_writable_refused");
	rc = chmod(root, 0755) ? -2 : lock_dir(root, 0);
	ASSERT_EQ(rc, 0, "lock/root_0755_accepted");
	lock_release();
	rmdir(root);
	setenv("XDP_EGRESS_BPFFS", pins_env, 1);
	rmdir(pins_env);
}

/* ---- attach.h: the native XDP MTU cap of a veth --------------------------- */

static int load_xdp_pass(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "xe_unit_pass", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
}

static int set_container_mtu(int cfd, const char *ifname, unsigned int mtu)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ip link set dev %s mtu %u", ifname, mtu);
	return run_in(cfd, cmd);
}

/* ---- layout versions and migrations (src/core/layout.c) ---- */

static int layout_trace[8], layout_n_trace;

static int step_one(const char *root, char *ns_dir)
{
	layout_trace[layout_n_trace++] = 1;
	return 0;
}

static int step_two(const char *root, char *ns_dir)
{
	layout_trace[layout_n_trace++] = 2;
	return 0;
}

static int step_fails(const char *root, char *ns_dir)
{
	return -1;
}

static unsigned int record_layout(const char *dir)
{
	char buf[META_SIZE];
	cJSON *m;
	unsigned int v = 0;

	if (!meta_read(dir, buf, sizeof(buf)) && (m = cJSON_Parse(buf))) {
		v = layout_of_record(m);
		cJSON_Delete(m);
	}
	return v;
}

static void test_layout(void)
{
	static const struct layout_step table[] = {
		{ 1, "one", 0, step_one },
		{ 2, "two, with new programs", 1, step_two },
	};
	static const struct layout_step failing[] = {
		{ 3, "fails", 0, step_fails },
	};
	const struct layout_step *plan[4];
	char root[PATH_MAX], ns_dir[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
	unsigned int missing = 0;
	int n, rc;

	n = layout_plan(table, 2, 1, 3, plan, 4, &missing);
	CHECK(n == 2 && plan[0]->from == 1 && plan[1]->from == 2,
	      "layout/plan_in_order", "n %d", n);
	n = layout_plan(table, 2, 1, 4, plan, 4, &missing);
	CHECK(n == -1 && missing == 3, "layout/plan_missing_step",
	      "n %d, missing %u", n, missing);
	ASSERT_EQ(layout_plan(table, 2, 3, 3, plan, 4, &missing), 0,
		  "layout/plan_nothing_to_do");

	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(ns_dir, sizeof(ns_dir), root)) {
		CHECK(0, "layout/setup", "no pin root or netns cookie");
		return;
	}
	pins_attach_dir(dir, sizeof(dir), ns_dir, 7);
	/* Pins of layout 1 as a binary before versions left them: no
	 * "layout" in the record, no layout map. */
	rc = mkdir(ns_dir, 0700) || mkdir(dir, 0700) ||
	     meta_write(dir, "{\"version\":2,\"ifname\":\"h1\",\"ifindex\":7}");
	ASSERT_EQ(rc, 0, "layout/setup_pins");
	ASSERT_EQ(layout_of_ns(ns_dir), 1, "layout/unversioned_ns_is_1");
	ASSERT_EQ(record_layout(dir), 1, "layout/unversioned_record_is_1");

	fprintf(stderr, "# layout/*: warnings and errors are expected:\n");
	rc = layout_check_steps(root, LAYOUT_READ, table, 2, 3);
	snprintf(path, sizeof(path), "%s/layout", ns_dir);
	CHECK(rc == 0 && !layout_n_trace && !exists(path), "layout/read_changes_nothing",
	      "rc %d, steps run %d, layout pin %d", rc, layout_n_trace, exists(path));
	rc = layout_check_steps(root, LAYOUT_CHANGE, table, 2, 3);
	CHECK(rc == -1 && !layout_n_trace && layout_of_ns(ns_dir) == 1,
	      "layout/change_refuses_step_needing_programs",
	      "rc %d, steps run %d, layout %u", rc, layout_n_trace, layout_of_ns(ns_dir));
	rc = layout_check_steps(root, LAYOUT_UPGRADE, table, 2, 3);
	CHECK(rc == 0 && layout_n_trace == 2 && layout_trace[0] == 1 &&
	      layout_trace[1] == 2 && layout_of_ns(ns_dir) == 3 && record_layout(dir) == 3,
	      "layout/upgrade_migrates_in_order",
	      "rc %d, steps run %d, layout %u, record %u", rc, layout_n_trace,
	      layout_of_ns(ns_dir), record_layout(dir));
	rc = layout_check_steps(root, LAYOUT_CHANGE, table, 2, 3);
	CHECK(rc == 0 && layout_n_trace == 2, "layout/current_nothing_to_do",
	      "rc %d, steps run %d", rc, layout_n_trace);
	rc = layout_check_steps(root, LAYOUT_READ, table, 2, 2);
	ASSERT_EQ(rc, -1, "layout/newer_refused");
	rc = layout_check_steps(root, LAYOUT_UPGRADE, table, 2, 4);
	CHECK(rc == -1 && layout_of_ns(ns_dir) == 3, "layout/no_migration_refused",
	      "rc %d, layout %u", rc, layout_of_ns(ns_dir));
	rc = layout_check_steps(root, LAYOUT_CHANGE, failing, 1, 4);
	CHECK(rc == -1 && layout_of_ns(ns_dir) == 3 && record_layout(dir) == 3,
	      "layout/failed_step_keeps_layout", "rc %d, layout %u, record %u", rc,
	      layout_of_ns(ns_dir), record_layout(dir));

	pins_remove_dir(dir);
	unlink(path);
	rmdir(ns_dir);
}

static void test_native_mtu(int cfd, pid_t cpid)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned int max = veth_native_max_mtu();
	struct mnl_socket *hnl = NULL;
	struct link_info li;
	int prog = -1, xa0, rc;

	if (page == 4096)
		ASSERT_EQ(max, 3506, "attach/veth_native_max_mtu_4k_page");
	ASSERT_EQ(max, page - 256 - 320 - 14, "attach/veth_native_max_mtu_formula");

	if (run_cmd("ip link add xa0 type veth peer name xa1 netns %d", (int)cpid) ||
	    run_cmd("ip link set xa0 up") || run_in(cfd, "ip link set xa1 up")) {
		CHECK(0, "attach/native_mtu_setup", "creating xa0/xa1 failed");
		return;
	}
	xa0 = if_nametoindex("xa0");
	prog = load_xdp_pass();
	if (prog < 0) {
		CHECK(0, "attach/native_mtu_setup", "loading an XDP_PASS program: %s",
		      strerror(errno));
		goto out;
	}

	/* One byte above the cap: the kernel refuses native XDP (-ERANGE). */
	if (set_container_mtu(cfd, "xa1", max + 1)) {
		CHECK(0, "attach/native_mtu_setup", "mtu %u on xa1", max + 1);
		goto out;
	}
	rc = bpf_xdp_attach(xa0, prog, XDP_FLAGS_DRV_MODE, NULL);
	CHECK(rc == -ERANGE, "attach/kernel_refuses_native_above_max_mtu",
	      "bpf_xdp_attach with peer MTU %u = %d (%s), want -ERANGE", max + 1,
	      rc, strerror(-rc));
	if (rc == 0)
		bpf_xdp_detach(xa0, XDP_FLAGS_DRV_MODE, NULL);

	/* cmd_attach checks the same bound before touching the kernel. */
	{
		struct attach_opts o = { .spec = { .ifname = "xa0" },
					 .mode = MODE_NATIVE };

		fprintf(stderr, "# attach/cmd_attach_native_refuses_above_max_mtu: "
			"an error message is expected:\n");
		rc = cmd_attach(&o);
		hnl = nl_open_in(-1);
		CHECK(rc != 0 && hnl && !nl_link_by_index(hnl, xa0, &li) &&
		      li.xdp_prog_id == 0 && !exists(pins_env),
		      "attach/cmd_attach_native_refuses_above_max_mtu",
		      "rc %d, prog id %u, pins root left %d", rc,
		      hnl ? li.xdp_prog_id : 0, exists(pins_env));
	}

	/* Exactly at the cap: native XDP attaches. */
	if (set_container_mtu(cfd, "xa1", max)) {
		CHECK(0, "attach/native_mtu_setup", "mtu %u on xa1", max);
		goto out;
	}
	rc = bpf_xdp_attach(xa0, prog, XDP_FLAGS_DRV_MODE, NULL);
	CHECK(rc == 0, "attach/kernel_accepts_native_at_max_mtu",
	      "bpf_xdp_attach with peer MTU %u = %d (%s)", max, rc, strerror(-rc));
	if (rc == 0) {
		CHECK(hnl && !nl_link_by_index(hnl, xa0, &li) && li.xdp_prog_id &&
		      li.xdp_attached == XDP_ATTACHED_DRV,
		      "attach/native_attached_in_driver_mode",
		      "prog id %u, attached %u", li.xdp_prog_id, li.xdp_attached);
		rc = bpf_xdp_detach(xa0, XDP_FLAGS_DRV_MODE, NULL);
		ASSERT_EQ(rc, 0, "attach/native_detach");
	}
out:
	nl_close(hnl);
	if (prog >= 0)
		close(prog);
	run_cmd("ip link del xa0");
}

/* ---- report.h ---------------------------------------------------------- */

static void test_report(void)
{
	int i, j, ok = 1;

	for (i = 0; i < CNT_MAX; i++) {
		const char *n = counter_name(i);

		if (!n || !*n || !strcmp(n, "?")) {
			fprintf(stderr, "# counter %d has name '%s'\n", i, n ? n : "(null)");
			ok = 0;
			continue;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(n, counter_name(j))) {
				fprintf(stderr, "# counters %d and %d share '%s'\n", j, i, n);
				ok = 0;
			}
	}
	CHECK(ok, "report/counter_names_distinct_and_named", "see stderr");
	CHECK(!strcmp(counter_name(CNT_REDIRECTED), "redirected") &&
	      !strcmp(counter_name(CNT_REDIRECT_ERR), "redirect_err"),
	      "report/counter_names_follow_enum", "first '%s', last '%s'",
	      counter_name(CNT_REDIRECTED), counter_name(CNT_REDIRECT_ERR));
	CHECK(!strcmp(counter_name(CNT_MAX), "?") && !strcmp(counter_name(-1), "?"),
	      "report/counter_name_out_of_range", "CNT_MAX '%s', -1 '%s'",
	      counter_name(CNT_MAX), counter_name(-1));
}

/* ---- main -------------------------------------------------------------- */

int main(void)
{
	unsigned long host_ino_before, host_ino;
	char why[512] = "";
	pid_t cpid;
	int cfd = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("FAIL userspace/setup: must run as root (unshare, ip link, "
		       "mount -t bpf and BPF need CAP_SYS_ADMIN/CAP_NET_ADMIN/CAP_BPF)\n");
		return 1;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	host_ino_before = self_ino();
	if (isolate(why, sizeof(why)))
		goto setup_failed;
	host_ino = self_ino();
	if (!host_ino || host_ino == host_ino_before) {
		snprintf(why, sizeof(why), "still in the machine's network namespace");
		goto setup_failed;
	}
	cpid = spawn_container(why, sizeof(why));
	if (cpid < 0)
		goto setup_failed;
	child_pid = cpid;
	cfd = netns_open_pid(cpid);
	if (cfd < 0) {
		snprintf(why, sizeof(why), "open /proc/%d/ns/net: %s", (int)cpid,
			 strerror(errno));
		goto setup_failed;
	}
	if (run_cmd("ip link add h1 type veth peer name c1 netns %d", (int)cpid) ||
	    run_cmd("ip link set h1 up") || run_in(cfd, "ip link set lo up") ||
	    run_in(cfd, "ip link set c1 up") ||
	    run_cmd("ip link add q0 numrxqueues 3 numtxqueues 5 type veth peer "
		    "name q0p numrxqueues 4 numtxqueues 2") ||
	    run_cmd("ip link add up0 type veth peer name up0p")) {
		snprintf(why, sizeof(why), "building the veth topology failed");
		goto setup_failed;
	}

	test_netns(cfd, cpid);
	test_nl(cfd);
	test_ethtool(cfd);
	test_target(cfd, cpid);
	test_pins();
	test_lock();
	test_layout();
	test_native_mtu(cfd, cpid);
	test_report();
	ASSERT_EQ(self_ino(), host_ino, "userspace/still_in_private_netns");
	goto done;

setup_failed:
	printf("FAIL userspace/setup: %s\n", why);
	unit_failures++;
done:
	if (cfd >= 0)
		close(cfd);
	cleanup();
	UNIT_EXIT();
}
