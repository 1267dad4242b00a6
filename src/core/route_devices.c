// SPDX-License-Identifier: GPL-2.0
/*
 * The devices a container's egress goes through: its uplinks (named with
 * --uplink, else the devices of the namespace's default routes), and the
 * device the kernel routes its frames as (the host veth, or the bridge the
 * veth is a port of), whose MAC the container sends to.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>

#include "attach_int.h"
#include "log.h"
#include "netns.h"

static int add_uplink(struct attach_state *s, struct mnl_socket *nl,
		      const char *name, int ifindex, const char *how)
{
	struct link_info li;
	int i, rc;

	rc = name ? nl_link_by_name(nl, name, &li) : nl_link_by_index(nl, ifindex, &li);
	if (rc) {
		pr_err("uplink '%s' does not exist in this network namespace: "
		       "check `ip link` and --uplink", name ? name : "?");
		return -1;
	}
	if (li.ifindex == s->t.host.ifindex) {
		pr_err("uplink '%s' is the target interface itself: name the "
		       "device that leads out of the host with --uplink", li.name);
		return -1;
	}
	if (!(li.flags & IFF_UP)) {
		pr_err("uplink '%s' is down: bring it up (ip link set dev %s up) "
		       "or choose another with --uplink", li.name, li.name);
		return -1;
	}
	for (i = 0; i < s->n_uplinks; i++)
		if (s->uplinks[i].ifindex == li.ifindex)
			return 0;
	if (s->n_uplinks == MAX_UPLINKS) {
		pr_err("at most %d uplinks", MAX_UPLINKS);
		return -1;
	}
	s->uplinks[s->n_uplinks++] = li;
	pr_debug("uplink %s (%s)", li.name, how);
	return 0;
}

/* The uplinks: --uplink, else the default routes' devices. */
int resolve_uplinks(struct attach_state *s, const struct attach_opts *o)
{
	struct mnl_socket *nl = nl_open_in(-1);
	int i, ret = -1, dev4, dev6;

	if (!nl) {
		pr_err("cannot open a netlink socket: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < o->n_uplinks; i++)
		if (add_uplink(s, nl, o->uplinks[i], 0, "--uplink"))
			goto out;
	if (!o->n_uplinks) {
		dev4 = nl_default_route_dev(nl, AF_INET);
		dev6 = nl_default_route_dev(nl, AF_INET6);
		if (!dev4 && !dev6) {
			pr_err("this network namespace has no default route, so "
			       "there is no uplink to guess: name it with "
			       "--uplink IFNAME");
			goto out;
		}
		if (dev4 && add_uplink(s, nl, NULL, dev4, "IPv4 default route"))
			goto out;
		if (dev6 && add_uplink(s, nl, NULL, dev6, "IPv6 default route"))
			goto out;
	}
	ret = 0;
out:
	nl_close(nl);
	return ret;
}

/* The device the kernel routes the container's frames as, and its MAC. */
int find_l3_device(struct attach_state *s)
{
	struct mnl_socket *nl = nl_open_in(-1);
	struct link_info br;

	snprintf(s->l3_name, sizeof(s->l3_name), "%s", s->t.host.name);
	s->l3_ifindex = s->t.host.ifindex;
	memcpy(s->router_mac, s->t.host.mac, 6);
	if (s->t.host.master && nl && !nl_link_by_index(nl, s->t.host.master, &br) &&
	    !strcmp(br.kind, "bridge")) {
		snprintf(s->l3_name, sizeof(s->l3_name), "%s", br.name);
		s->l3_ifindex = br.ifindex;
		memcpy(s->router_mac, br.mac, 6);
		pr_info("  %s is a port of bridge %s: routes are looked up as the "
			"bridge's, as the kernel does", s->t.host.name, br.name);
	}
	nl_close(nl);
	return 0;
}
