// SPDX-License-Identifier: GPL-2.0
/*
 * Sources: what a container may send from (anti-spoofing) and where the
 * return path delivers to it. For a container, its interface's MAC and
 * global addresses, read in its namespace; for a VM, --source and
 * --source-mac. They go into the attachment's own_sources map, and its
 * host addresses into the namespace's containers map (the return path's
 * targets), which detach cleans up from the record's "sources".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach_int.h"
#include "log.h"
#include "pins.h"
#include "egress.skel.h"

static int add_source(struct attach_state *s, int family, const void *addr,
		      int prefixlen)
{
	struct source_addr *a;

	if (s->n_sources == MAX_SOURCES) {
		pr_err("at most %d source addresses per attachment", MAX_SOURCES);
		return -1;
	}
	a = &s->sources[s->n_sources++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->addr, addr, family == AF_INET ? 4 : 16);
	a->prefixlen = prefixlen;
	return 0;
}

/* "ADDR" or "ADDR/LEN", IPv4 or IPv6. */
static int parse_source(struct attach_state *s, const char *text)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	unsigned char addr[16];
	int family, max, len, end = 0;

	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	max = family == AF_INET ? 32 : 128;
	len = max;
	if (inet_pton(family, buf, addr) != 1 ||
	    (slash && (sscanf(slash, "%d%n", &len, &end) != 1 || slash[end] ||
		       len < 0 || len > max))) {
		pr_err("--source '%s' is not an address or prefix (e.g. 10.0.0.5, "
		       "10.0.0.0/24, fd00::5)", text);
		return -1;
	}
	return add_source(s, family, addr, len);
}

static int learn_cb(const struct addr_info *a, void *arg)
{
	struct attach_state *s = arg;

	/* Global addresses only: the kernel never forwards link-local ones. */
	if (a->ifindex != s->t.container.ifindex || a->scope != 0 /* universe */)
		return 0;
	return add_source(s, a->family, a->addr, a->family == AF_INET ? 32 : 128);
}

int mac_parse(const char *text, unsigned char *mac)
{
	unsigned int b[6];
	int i, end = 0;

	/* The whole text: "52:54:00:12:34:56:78" or "...:5g" are no MAC. */
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6 || text[end])
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = b[i];
	}
	return 0;
}

/*
 * What the container may send from: for a container, its interface's MAC
 * and global addresses, read in its namespace; for a VM (tap), what
 * --source and --source-mac say (the guest is not ours to read). --source
 * adds to a container's own (a container that routes a subnet).
 */
int learn_sources(struct attach_state *s, const struct attach_opts *o)
{
	int i;

	for (i = 0; i < o->n_sources; i++)
		if (parse_source(s, o->sources[i]))
			return -1;
	if (o->source_mac) {
		if (s->t.has_container) {
			pr_err("--source-mac is for a VM's tap: a container's MAC is "
			       "read from its interface (%s)", s->t.container.name);
			return -1;
		}
		if (mac_parse(o->source_mac, s->mac)) {
			pr_err("--source-mac '%s' is not a MAC address (e.g. "
			       "52:54:00:12:34:56)", o->source_mac);
			return -1;
		}
		s->has_mac = 1;
	}
	if (s->t.has_container) {
		struct mnl_socket *nl = nl_open_in(s->t.container_netns_fd);

		if (!nl || nl_addr_dump(nl, AF_UNSPEC, learn_cb, s) < 0) {
			pr_err("cannot read the addresses of %s in the container's "
			       "namespace: %s", s->t.container.name, strerror(errno));
			nl_close(nl);
			return -1;
		}
		nl_close(nl);
		memcpy(s->mac, s->t.container.mac, 6);
		s->has_mac = 1;
	}
	if (!s->n_sources)
		pr_warn("%s has no source address to accept%s: every packet it "
			"sends takes the kernel path (pass_spoofed)",
			s->t.host.name, s->t.has_container
				? " (the container's interface has no global address)"
				: "; give the guest's addresses with --source ADDR[/LEN]");
	return 0;
}

const char *source_str(const struct source_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(a->family, a->addr, ip, sizeof(ip));
	snprintf(buf, len, "%s/%d", ip, a->prefixlen);
	return buf;
}

/* Into the attachment's own_sources map (before the program runs). */
int fill_own_sources(struct attach_state *s)
{
	int fd = bpf_map__fd(s->skel->maps.own_sources), i;
	__u8 one = 1;

	for (i = 0; i < s->n_sources; i++) {
		struct source_key k = {};

		k.family = s->sources[i].family;
		k.prefixlen = 8 + s->sources[i].prefixlen;
		memcpy(k.addr, s->sources[i].addr, 16);
		if (bpf_map_update_elem(fd, &k, &one, 0)) {
			pr_err("cannot record the container's addresses: %s",
			       strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The namespace's attached containers (the return path's targets). */

static void container_key_of(const struct source_addr *a, struct container_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = a->family;
	memcpy(k->addr, a->addr, a->family == AF_INET ? 4 : 16);
}

static int is_host_addr(const struct source_addr *a)
{
	return a->prefixlen == (a->family == AF_INET ? 32 : 128);
}

int add_containers(struct attach_state *s)
{
	struct bpf_devmap_val dv = { .ifindex = s->t.host.ifindex };
	struct container_val v = {};
	__u32 key = s->t.host.ifindex;
	int cfd = pins_open(s->ns_dir, "containers");
	int pfd = pins_open(s->ns_dir, "container_ports");
	int i, ret = -1;

	if (cfd < 0 || pfd < 0) {
		pr_err("the namespace's container maps are missing under %s",
		       s->ns_dir);
		goto out;
	}
	if (!s->has_mac) {
		ret = 0; /* nothing to deliver to: no return path for it */
		goto out;
	}
	if (bpf_map_update_elem(pfd, &key, &dv, 0)) {
		pr_err("%s cannot be a redirect target (%s)", s->t.host.name,
		       strerror(errno));
		goto out;
	}
	v.ifindex = s->t.host.ifindex;
	v.l3_ifindex = s->l3_ifindex;
	memcpy(v.mac, s->mac, 6);
	memcpy(v.router_mac, s->router_mac, 6);
	for (i = 0; i < s->n_sources; i++) {
		struct container_key k;

		if (!is_host_addr(&s->sources[i]))
			continue;
		container_key_of(&s->sources[i], &k);
		if (bpf_map_update_elem(cfd, &k, &v, 0)) {
			pr_err("cannot record the container's address for the "
			       "return path: %s", strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	if (cfd >= 0)
		close(cfd);
	if (pfd >= 0)
		close(pfd);
	return ret;
}

/* Remove what add_containers() recorded for ifindex (its record's
 * "sources", or s's own on rollback). */
void del_containers(const char *ns_dir, __u32 ifindex, cJSON *sources)
{
	int cfd = pins_open(ns_dir, "containers");
	int pfd = pins_open(ns_dir, "container_ports");
	cJSON *src;

	cJSON_ArrayForEach(src, sources) {
		struct source_addr a = {};
		struct container_key k;
		struct container_val v;
		char buf[INET6_ADDRSTRLEN + 8], *slash;

		snprintf(buf, sizeof(buf), "%s", cJSON_GetStringValue(src) ?: "");
		slash = strchr(buf, '/');
		if (slash)
			*slash++ = 0;
		a.family = strchr(buf, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(a.family, buf, a.addr) != 1)
			continue;
		container_key_of(&a, &k);
		/* Only if it is still this attachment's (an address can move
		 * to a newer container). */
		if (cfd >= 0 && !bpf_map_lookup_elem(cfd, &k, &v) && v.ifindex == ifindex)
			bpf_map_delete_elem(cfd, &k);
	}
	if (pfd >= 0)
		bpf_map_delete_elem(pfd, &ifindex);
	if (cfd >= 0)
		close(cfd);
	if (pfd >= 0)
		close(pfd);
}

cJSON *sources_json(const struct attach_state *s)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[INET6_ADDRSTRLEN + 8];
	int i;

	for (i = 0; i < s->n_sources; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(
			source_str(&s->sources[i], buf, sizeof(buf))));
	return arr;
}
