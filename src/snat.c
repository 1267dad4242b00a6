// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "snat.h"
#include "log.h"
#include "pins.h"
#include "uplink.skel.h"

static const char *timeout_names[CT_TO_MAX] = CT_TIMEOUT_NAMES;

void snat_opts_defaults(struct snat_opts *o)
{
	static const unsigned int defaults[CT_TO_MAX] = CT_TIMEOUT_DEFAULTS;

	memcpy(o->timeouts, defaults, sizeof(defaults));
	o->ct_size = CT_DEFAULT_SIZE;
}

int snat_parse_ports(const char *s, unsigned int *min, unsigned int *max)
{
	char *end;
	unsigned long a, b;

	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno || end == s || *end != '-')
		goto bad;
	s = end + 1;
	b = strtoul(s, &end, 10);
	if (errno || end == s || *end)
		goto bad;
	if (a < 1 || b > 65535 || a > b) {
		pr_err("--snat-ports %lu-%lu is empty or outside 1-65535: give "
		       "MIN-MAX with 1 <= MIN <= MAX <= 65535", a, b);
		return -1;
	}
	*min = a;
	*max = b;
	return 0;
bad:
	pr_err("--snat-ports expects MIN-MAX (for example %d-%d)",
	       SNAT_DEFAULT_PORT_MIN, SNAT_DEFAULT_PORT_MAX);
	return -1;
}

int snat_parse_timeout(const char *s, unsigned int *timeouts)
{
	const char *eq = strchr(s, '=');
	char *end;
	unsigned long v;
	int i;

	if (!eq)
		goto bad;
	errno = 0;
	v = strtoul(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end || v < 1 || v > 30 * 86400)
		goto bad;
	for (i = 0; i < CT_TO_MAX; i++) {
		if (strlen(timeout_names[i]) == (size_t)(eq - s) &&
		    !strncmp(s, timeout_names[i], eq - s)) {
			timeouts[i] = v;
			return 0;
		}
	}
bad:
	pr_err("--ct-timeout '%s': expected NAME=SECONDS (1 to 2592000) with "
	       "NAME one of tcp_syn, tcp_est, tcp_close, udp, udp_stream, icmp", s);
	return -1;
}

int host_port_range(unsigned int *lo, unsigned int *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%u %u", lo, hi);
	fclose(f);
	return n == 2 ? 0 : -1;
}

/* ---- addresses ---- */

struct local_search {
	int family;
	unsigned char addr[16];
	int found;
	int ifindex;                 /* auto: pick from this device */
	unsigned char pick[16];
	int picked;
};

static int find_local(const struct addr_info *a, void *arg)
{
	struct local_search *s = arg;
	size_t len = a->family == AF_INET ? 4 : 16;

	if (a->family != s->family)
		return 0;
	if (!memcmp(a->addr, s->addr, len))
		s->found = 1;
	if (!s->picked && a->ifindex == s->ifindex &&
	    a->scope == RT_SCOPE_UNIVERSE) {
		memcpy(s->pick, a->addr, len);
		s->picked = 1;
	}
	return 0;
}

static int unusable_v4(__be32 a)
{
	__u32 h = ntohl(a);

	return h == 0 || h == 0xffffffff || (h >> 28) == 0xe ||
	       (h >> 24) == 127 || (h >> 16) == 0xa9fe;
}

static int unusable_v6(const unsigned char *a)
{
	static const unsigned char zero[16], loop[16] = { [15] = 1 };

	return !memcmp(a, zero, 16) || !memcmp(a, loop, 16) || a[0] == 0xff ||
	       (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

static int plan_addr(struct mnl_socket *nl, const char *text,
		     struct snat_plan *plan)
{
	struct local_search s = {};

	if (inet_pton(AF_INET, text, s.addr) == 1) {
		s.family = AF_INET;
		if (unusable_v4(*(__be32 *)s.addr)) {
			pr_err("--snat %s is not a usable source address (0/8, "
			       "loopback, link-local, multicast or broadcast): give "
			       "the uplink's address or auto", text);
			return -1;
		}
	} else if (inet_pton(AF_INET6, text, s.addr) == 1) {
		s.family = AF_INET6;
		if (unusable_v6(s.addr)) {
			pr_err("--snat %s is not a usable IPv6 source address "
			       "(unspecified, loopback, link-local or multicast): "
			       "give a global address of the uplink or auto", text);
			return -1;
		}
	} else {
		pr_err("--snat '%s' is neither an IPv4 nor an IPv6 address nor "
		       "'auto'", text);
		return -1;
	}
	s.ifindex = -1;
	nl_addr_dump(nl, s.family, find_local, &s);
	if (!s.found) {
		pr_err("--snat %s is not an address of this host (no interface "
		       "here has it), so replies to it would never come back "
		       "here: use an address of the uplink, or auto", text);
		return -1;
	}
	if (s.family == AF_INET) {
		if (plan->v4_on) {
			pr_err("--snat given two IPv4 addresses; give at most one "
			       "per family");
			return -1;
		}
		plan->v4_on = 1;
		memcpy(&plan->v4, s.addr, 4);
		snprintf(plan->v4_str, sizeof(plan->v4_str), "%s", text);
	} else {
		if (plan->v6_on) {
			pr_err("--snat given two IPv6 addresses; give at most one "
			       "per family");
			return -1;
		}
		plan->v6_on = 1;
		memcpy(plan->v6, s.addr, 16);
		inet_ntop(AF_INET6, s.addr, plan->v6_str, sizeof(plan->v6_str));
	}
	return 0;
}

/* auto: the first global address of the first uplink, per family. */
static void plan_auto(struct mnl_socket *nl, const struct link_info *up,
		      struct snat_plan *plan)
{
	struct local_search s = { .ifindex = up->ifindex };

	if (!plan->v4_on) {
		s.family = AF_INET;
		nl_addr_dump(nl, AF_INET, find_local, &s);
		if (s.picked) {
			plan->v4_on = 1;
			memcpy(&plan->v4, s.pick, 4);
			inet_ntop(AF_INET, s.pick, plan->v4_str, sizeof(plan->v4_str));
		}
	}
	if (!plan->v6_on) {
		memset(&s, 0, sizeof(s));
		s.ifindex = up->ifindex;
		s.family = AF_INET6;
		nl_addr_dump(nl, AF_INET6, find_local, &s);
		if (s.picked) {
			plan->v6_on = 1;
			memcpy(plan->v6, s.pick, 16);
			inet_ntop(AF_INET6, s.pick, plan->v6_str, sizeof(plan->v6_str));
		}
	}
}

int snat_plan_make(const struct snat_opts *o, const struct link_info *uplinks,
		   int n_uplinks, struct snat_plan *plan)
{
	struct mnl_socket *nl;
	unsigned int lo, hi;
	int i, want_auto = 0, ret = -1;

	memset(plan, 0, sizeof(*plan));
	plan->port_min = SNAT_DEFAULT_PORT_MIN;
	plan->port_max = SNAT_DEFAULT_PORT_MAX;
	if (o->ports && snat_parse_ports(o->ports, &plan->port_min, &plan->port_max))
		return -1;
	if (!host_port_range(&lo, &hi) && plan->port_min <= hi &&
	    plan->port_max >= lo) {
		pr_err("SNAT ports %u-%u overlap this host's ephemeral ports %u-%u "
		       "(net.ipv4.ip_local_port_range): replies to the host's own "
		       "connections could be taken for a container's; choose a "
		       "range outside it with --snat-ports", plan->port_min,
		       plan->port_max, lo, hi);
		return -1;
	}
	nl = nl_open_in(-1);
	if (!nl) {
		pr_err("cannot open a netlink socket: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < o->n_addrs; i++) {
		if (!strcmp(o->addrs[i], "auto"))
			want_auto = 1;
		else if (plan_addr(nl, o->addrs[i], plan))
			goto out;
	}
	if (!o->n_addrs)
		want_auto = 1;
	if (want_auto && n_uplinks)
		plan_auto(nl, &uplinks[0], plan);
	if (!plan->v4_on && !plan->v6_on) {
		pr_err("--snat auto found no global address on uplink %s: give "
		       "the address with --snat ADDRESS, or add one to the uplink",
		       n_uplinks ? uplinks[0].name : "?");
		goto out;
	}
	if (!plan->v6_on)
		pr_info("  note: IPv6 egress is not translated (no IPv6 SNAT "
			"address); it is still fast-pathed as routed traffic");
	ret = 0;
out:
	nl_close(nl);
	return ret;
}

/* ---- shared objects ---- */

static int open_pin(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

int ct_map_open(const char *ns_dir)
{
	return open_pin(ns_dir, "ct");
}

int sweeper_map_open(const char *ns_dir)
{
	return open_pin(ns_dir, "ct_sweeper");
}

int ports_map_open(const char *ns_dir)
{
	return open_pin(ns_dir, "container_ports");
}

static const char *foreign_prog_name(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(buf, len, "?");
	if (fd >= 0) {
		if (!bpf_obj_get_info_by_fd(fd, &info, &info_len))
			snprintf(buf, len, "%s", info.name);
		close(fd);
	}
	return buf;
}

int uplink_ensure(const char *ns_dir, const struct link_info *up,
		  int ct_fd, int generic, int *created, int *native_out)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	struct uplink_bpf *skel = NULL;
	char dir[PATH_MAX], path[PATH_MAX], name[32], *js;
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	int ports_fd, link_fd = -1, created_ports = 0, ret = -1;
	struct stat st;
	cJSON *m;

	*created = 0;
	snprintf(dir, sizeof(dir), "%s/up%d", ns_dir, up->ifindex);
	if (!stat(dir, &st)) {
		char buf[META_SIZE];

		*native_out = 1;
		if (!meta_read(dir, buf, sizeof(buf)) && strstr(buf, "\"generic\""))
			*native_out = 0;
		return 0; /* one uplink program serves every container */
	}
	if (up->xdp_prog_id) {
		pr_err("uplink %s already runs an XDP program (id %u, '%s') that "
		       "xdp-egress did not attach; SNAT needs its own program "
		       "there for the return path. Remove it (ip link set dev %s "
		       "xdp off) or attach without --snat", up->name,
		       up->xdp_prog_id, foreign_prog_name(up->xdp_prog_id, name,
							  sizeof(name)), up->name);
		return -1;
	}
	skel = uplink_bpf__open();
	if (!skel)
		goto load_fail;
	bpf_map__reuse_fd(skel->maps.ct, ct_fd);
	ports_fd = sweeper_map_open(ns_dir);
	if (ports_fd >= 0) {
		bpf_map__reuse_fd(skel->maps.ct_sweeper, ports_fd);
		close(ports_fd);
	}
	ports_fd = ports_map_open(ns_dir);
	if (ports_fd >= 0) {
		bpf_map__reuse_fd(skel->maps.container_ports, ports_fd);
		close(ports_fd);
	} else {
		created_ports = 1;
	}
	if (uplink_bpf__load(skel))
		goto load_fail;
	if (created_ports) {
		snprintf(path, sizeof(path), "%s/container_ports", ns_dir);
		if (bpf_obj_pin(bpf_map__fd(skel->maps.container_ports), path)) {
			pr_err("cannot pin %s: %s", path, strerror(errno));
			goto out;
		}
	}
	/* Native first: the return path then never builds an skb. */
	lopts.flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	link_fd = bpf_link_create(bpf_program__fd(skel->progs.xdp_uplink),
				  up->ifindex, BPF_XDP, &lopts);
	if (link_fd < 0 && !generic) {
		pr_info("  uplink %s: native XDP refused (%s), using generic",
			up->name, strerror(errno));
		generic = 1;
		lopts.flags = XDP_FLAGS_SKB_MODE;
		link_fd = bpf_link_create(bpf_program__fd(skel->progs.xdp_uplink),
					  up->ifindex, BPF_XDP, &lopts);
	}
	if (link_fd < 0) {
		pr_err("cannot attach the return-path program to uplink %s: %s",
		       up->name, strerror(errno));
		goto out;
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		goto pin_fail;
	snprintf(path, sizeof(path), "%s/link", dir);
	if (bpf_obj_pin(link_fd, path))
		goto pin_fail;
	snprintf(path, sizeof(path), "%s/ingress_stats", dir);
	if (bpf_obj_pin(bpf_map__fd(skel->maps.ingress_stats), path))
		goto pin_fail;
	bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.xdp_uplink), &info,
			       &info_len);
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "ifname", up->name);
	cJSON_AddNumberToObject(m, "ifindex", up->ifindex);
	cJSON_AddStringToObject(m, "mode", generic ? "generic" : "native");
	cJSON_AddNumberToObject(m, "prog_id", info.id);
	js = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	if (!js || meta_write(dir, js)) {
		free(js);
		goto pin_fail;
	}
	free(js);
	pr_info("  return path: XDP on uplink %s (%s mode)", up->name,
		generic ? "generic" : "native");
	*created = 1;
	*native_out = !generic;
	ret = 0;
	goto out;
pin_fail:
	pr_err("cannot pin the uplink program under %s: %s", dir, strerror(errno));
	pins_remove_dir(dir);
	goto out;
load_fail:
	pr_err("cannot load the uplink (return path) BPF program: %s",
	       strerror(errno));
out:
	if (ret && created_ports) {
		snprintf(path, sizeof(path), "%s/container_ports", ns_dir);
		unlink(path);
	}
	if (link_fd >= 0)
		close(link_fd);
	uplink_bpf__destroy(skel);
	return ret;
}

int uplink_remove(const char *ns_dir, int ifindex)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/up%d", ns_dir, ifindex);
	return pins_remove_dir(dir);
}

int ct_purge_ifindex(int ct_fd, __u32 ifindex)
{
	struct ct_key key, next, *prev = NULL;
	struct ct_entry val;
	int n = 0;

	/* Collect first, delete after: deleting while walking a hash map can
	 * restart the walk. Two passes are bounded by the map size. */
	struct ct_key *doomed = NULL;
	size_t cnt = 0, cap = 0, i;

	while (!bpf_map_get_next_key(ct_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(ct_fd, &key, &val) || val.ifindex != ifindex)
			continue;
		if (cnt == cap) {
			struct ct_key *d;

			cap = cap ? cap * 2 : 256;
			d = realloc(doomed, cap * sizeof(*d));
			if (!d)
				break;
			doomed = d;
		}
		doomed[cnt++] = key;
	}
	for (i = 0; i < cnt; i++)
		if (!bpf_map_delete_elem(ct_fd, &doomed[i]))
			n++;
	free(doomed);
	return n;
}

long ct_count(int ct_fd)
{
	struct ct_key key, next, *prev = NULL;
	long n = 0;

	while (!bpf_map_get_next_key(ct_fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}
