// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "target.h"
#include "docker.h"
#include "netns.h"
#include "log.h"

const char *target_spec_str(const struct target_spec *spec)
{
	static char buf[300];

	if (spec->ifname)
		snprintf(buf, sizeof(buf), "--%s %s", spec->tap ? "tap" : "ifname",
			 spec->ifname);
	else if (spec->netns)
		snprintf(buf, sizeof(buf), "--netns %s", spec->netns);
	else if (spec->container)
		snprintf(buf, sizeof(buf), "--%s %s", spec->engine == ENGINE_PODMAN ?
			 "podman" : "docker", spec->container);
	else
		snprintf(buf, sizeof(buf), "--pid %d", (int)spec->pid);
	return buf;
}

struct nsid_match {
	struct mnl_socket *nl;
	int nsid;
};

static int match_nsid(int fd, void *arg)
{
	struct nsid_match *m = arg;

	return nl_nsid_of(m->nl, fd) == m->nsid;
}

int netns_find_by_nsid(struct mnl_socket *nl, int nsid)
{
	struct nsid_match m = { nl, nsid };

	return netns_find(match_nsid, &m);
}

static int is_attachable_kind(const struct link_info *li)
{
	return !strcmp(li->kind, "veth") || !strcmp(li->kind, "tun");
}

/* A tun device in layer-3 mode (IFF_TUN) carries bare IP packets, which
 * the program would parse as Ethernet: only a tap (ARPHRD_ETHER) will do. */
static int check_tap_mode(const char *ifname)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	err = fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr);
	if (fd >= 0)
		close(fd);
	if (err) {
		pr_err("cannot read the link type of '%s': %s", ifname,
		       strerror(errno));
		return -1;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		pr_err("'%s' is a tun device in layer-3 mode (IP packets without "
		       "an Ethernet header): xdp-egress needs a tap (qemu's "
		       "-netdev tap, or ip tuntap add dev NAME mode tap)", ifname);
		return -1;
	}
	return 0;
}

/* --tap: a VM's tap device, here. */
static int resolve_tap(const char *ifname, struct mnl_socket *hnl,
		       struct target *t)
{
	if (nl_link_by_name(hnl, ifname, &t->host)) {
		pr_err("no tap device '%s' in this network namespace (inode %lu): "
		       "is the VM running? (qemu -netdev tap,ifname=%s makes it; "
		       "ip tuntap add dev %s mode tap makes a persistent one), or "
		       "run xdp-egress in the namespace that holds it (nsenter "
		       "--net=/run/netns/NAME)", ifname, t->host_netns_ino, ifname,
		       ifname);
		return -1;
	}
	if (strcmp(t->host.kind, "tun")) {
		pr_err("'%s' is a %s device, not a tap: --tap names a VM's tap "
		       "device; for a container use --ifname HOSTVETH, --netns "
		       "or --pid", ifname,
		       t->host.kind[0] ? t->host.kind : "physical/loopback");
		return -1;
	}
	return check_tap_mode(ifname);
}

/* --ifname: the device is here; find its peer's namespace. */
static int resolve_host_ifname(const char *ifname, struct mnl_socket *hnl,
			       struct target *t)
{
	struct mnl_socket *cnl;

	if (nl_link_by_name(hnl, ifname, &t->host)) {
		pr_err("no interface '%s' in this network namespace (inode %lu): "
		       "check `ip link`, or run xdp-egress inside the namespace "
		       "that holds the host side (nsenter --net=/run/netns/NAME)",
		       ifname, t->host_netns_ino);
		return -1;
	}
	if (!is_attachable_kind(&t->host)) {
		pr_err("'%s' is a %s device, not a veth or tap: xdp-egress "
		       "attaches to the host side of a container's veth pair or "
		       "to a VM's tap device", ifname,
		       t->host.kind[0] ? t->host.kind : "physical/loopback");
		return -1;
	}
	if (!strcmp(t->host.kind, "tun"))
		return check_tap_mode(ifname);
	if (t->host.link_netnsid < 0) {
		pr_err("the peer of '%s' is in this same namespace, so '%s' is not "
		       "the host side of a container: name the veth whose peer is "
		       "inside the container", ifname, ifname);
		return -1;
	}
	{
		t->container_netns_fd = netns_find_by_nsid(hnl, t->host.link_netnsid);
		if (t->container_netns_fd < 0) {
			pr_err("cannot open the network namespace of the peer of "
			       "'%s' (nsid %d): it is neither named under /run/netns "
			       "nor used by a running process; name it with "
			       "--netns PATH instead", ifname, t->host.link_netnsid);
			return -1;
		}
	}
	t->container_netns_ino = netns_inode(t->container_netns_fd);
	t->container_netns_cookie = netns_cookie(t->container_netns_fd);
	cnl = nl_open_in(t->container_netns_fd);
	if (!cnl || nl_link_by_index(cnl, t->host.link, &t->container)) {
		pr_err("cannot read the peer of '%s' (ifindex %d in its "
		       "namespace): %s", ifname, t->host.link, strerror(errno));
		nl_close(cnl);
		return -1;
	}
	nl_close(cnl);
	t->has_container = 1;
	return 0;
}

struct veth_list {
	char names[256];
	int count;
	struct link_info first;
};

static int collect_veth(const struct link_info *li, void *arg)
{
	struct veth_list *v = arg;
	size_t n = strlen(v->names);

	if (strcmp(li->kind, "veth"))
		return 0;
	if (!v->count++)
		v->first = *li;
	snprintf(v->names + n, sizeof(v->names) - n, "%s%s", n ? ", " : "",
		 li->name);
	return 0;
}

/* --netns / --pid: the container's side is in fd; find the host side here. */
static int resolve_container_ns(const struct target_spec *spec, int fd,
				struct mnl_socket *hnl, struct target *t)
{
	const char *what = target_spec_str(spec);
	struct mnl_socket *cnl = nl_open_in(fd);
	int self = -1, my_nsid, ret = -1;

	t->container_netns_fd = fd;
	t->container_netns_ino = netns_inode(fd);
	t->container_netns_cookie = netns_cookie(fd);
	if (t->container_netns_ino == t->host_netns_ino) {
		pr_err("%s is this very namespace: name the container's "
		       "namespace, and run xdp-egress in the host's", what);
		goto out;
	}
	if (!cnl) {
		pr_err("cannot open a netlink socket in %s: %s", what,
		       strerror(errno));
		goto out;
	}
	if (spec->container_if) {
		if (nl_link_by_name(cnl, spec->container_if, &t->container)) {
			pr_err("no interface '%s' in %s: check `ip -n NAME link` "
			       "and --container-if", spec->container_if, what);
			goto out;
		}
		if (strcmp(t->container.kind, "veth")) {
			pr_err("'%s' in %s is not a veth (kind '%s'): --container-if "
			       "must name the container's end of a veth pair",
			       spec->container_if, what, t->container.kind);
			goto out;
		}
	} else {
		struct veth_list v = {};

		nl_link_dump(cnl, collect_veth, &v);
		if (v.count == 0) {
			pr_err("no veth interface in %s: xdp-egress needs the "
			       "container's end of a veth pair (for a VM's tap "
			       "use --ifname TAP)", what);
			goto out;
		}
		if (v.count > 1) {
			pr_err("%s has %d veth interfaces (%s): choose one with "
			       "--container-if", what, v.count, v.names);
			goto out;
		}
		t->container = v.first;
	}
	if (t->container.link_netnsid < 0) {
		pr_err("the peer of '%s' in %s is in that same namespace, not on "
		       "the host: nothing to attach to", t->container.name, what);
		goto out;
	}
	self = netns_open_self();
	my_nsid = nl_nsid_of(cnl, self);
	if (my_nsid < 0 || my_nsid != t->container.link_netnsid) {
		pr_err("the peer of '%s' in %s lives in another network namespace "
		       "than this one; run xdp-egress in the namespace that holds "
		       "the host side (nsenter --net=/run/netns/HOST xdp-egress ...)",
		       t->container.name, what);
		goto out;
	}
	if (nl_link_by_index(hnl, t->container.link, &t->host) ||
	    strcmp(t->host.kind, "veth") || t->host.link != t->container.ifindex) {
		pr_err("cannot find the host side of '%s' (ifindex %d here)",
		       t->container.name, t->container.link);
		goto out;
	}
	t->has_container = 1;
	ret = 0;
out:
	if (self >= 0)
		close(self);
	nl_close(cnl);
	return ret;
}

int target_resolve(const struct target_spec *spec, struct target *t)
{
	struct mnl_socket *hnl;
	int self, fd, n = !!spec->ifname + !!spec->netns + !!spec->pid +
			  !!spec->container;
	int ret = -1;
	pid_t pid = spec->pid;

	memset(t, 0, sizeof(*t));
	t->container_netns_fd = -1;
	if (n != 1) {
		pr_err("%s: name the container with exactly one of --ifname "
		       "HOSTVETH, --netns NAME|PATH, --pid PID, --docker NAME "
		       "or --podman NAME",
		       n ? "several targets given" : "no target given");
		return -1;
	}
	if (spec->container_if && spec->ifname) {
		pr_err("--container-if goes with --netns, --pid or --docker, not with "
		       "--ifname (which already names the host side)");
		return -1;
	}
	self = netns_open_self();
	t->host_netns_ino = netns_inode(self);
	close(self);
	t->host_netns_cookie = netns_cookie(-1);
	if (!t->host_netns_cookie) {
		pr_err("cannot read this network namespace's cookie "
		       "(SO_NETNS_COOKIE, kernel 5.14): %s", strerror(errno));
		return -1;
	}
	hnl = nl_open_in(-1);
	if (!hnl) {
		pr_err("cannot open a netlink socket: %s", strerror(errno));
		return -1;
	}
	if (spec->ifname) {
		ret = spec->tap ? resolve_tap(spec->ifname, hnl, t)
				: resolve_host_ifname(spec->ifname, hnl, t);
		goto out;
	}
	if (spec->netns) {
		fd = netns_open(spec->netns);
		if (fd < 0) {
			pr_err("cannot open network namespace '%s': %s; give a "
			       "name listed by `ip netns list` or a path such as "
			       "/proc/PID/ns/net", spec->netns, strerror(errno));
			goto out;
		}
	} else {
		/* A container of an engine is the --pid of its init process. */
		if (spec->container &&
		    engine_container_pid(spec->engine, spec->container, &pid))
			goto out;
		if (pid <= 0) {
			pr_err("--pid needs a positive process id");
			goto out;
		}
		fd = netns_open_pid(pid);
		if (fd < 0) {
			pr_err("cannot open the network namespace of process %d: "
			       "%s; is the process running?", (int)pid,
			       strerror(errno));
			goto out;
		}
	}
	ret = resolve_container_ns(spec, fd, hnl, t);
out:
	nl_close(hnl);
	if (ret)
		target_release(t);
	return ret;
}

void target_release(struct target *t)
{
	if (t->container_netns_fd >= 0)
		close(t->container_netns_fd);
	t->container_netns_fd = -1;
}
