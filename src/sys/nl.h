/* SPDX-License-Identifier: GPL-2.0 */
/* rtnetlink queries through libmnl: links, peers, namespace ids, routes. */
#ifndef XE_NL_H
#define XE_NL_H

#include <net/if.h>
#include <linux/types.h>

struct mnl_socket;

struct link_info {
	int ifindex;
	char name[IF_NAMESIZE];
	char kind[32];          /* IFLA_INFO_KIND: "veth", "tun", "bridge"... */
	int link;               /* IFLA_LINK: a veth's peer ifindex, or 0 */
	int link_netnsid;       /* IFLA_LINK_NETNSID, or -1 when same netns */
	int master;             /* bridge/bond ifindex, or 0 */
	unsigned int flags;     /* IFF_* */
	unsigned int mtu;
	unsigned int num_rx_queues;
	unsigned int num_tx_queues;
	__u32 xdp_prog_id;      /* 0 when no XDP program is attached */
	__u8 xdp_attached;      /* XDP_ATTACHED_* */
	unsigned char mac[6];
};

/* Open a rtnetlink socket bound to netns_fd (-1: the current namespace). */
struct mnl_socket *nl_open_in(int netns_fd);
void nl_close(struct mnl_socket *nl);

/* 0 on success, -1 with errno (ENODEV when there is no such link). */
int nl_link_by_index(struct mnl_socket *nl, int ifindex, struct link_info *li);
int nl_link_by_name(struct mnl_socket *nl, const char *name, struct link_info *li);
/* Calls cb for each link; stops early if cb returns non-zero. */
int nl_link_dump(struct mnl_socket *nl,
		 int (*cb)(const struct link_info *li, void *arg), void *arg);
/* nsid that nl's namespace gives to target_netns_fd, or -1 if none. */
int nl_nsid_of(struct mnl_socket *nl, int target_netns_fd);
/* Ifindex of the device of the main-table default route, or 0. */
int nl_default_route_dev(struct mnl_socket *nl, int family);

/* Every address of one family (AF_UNSPEC: all), on every device. */
struct addr_info {
	int family;
	int ifindex;
	unsigned char scope;     /* RT_SCOPE_* */
	unsigned char prefixlen;
	unsigned char addr[16];
};
int nl_addr_dump(struct mnl_socket *nl, int family,
		 int (*cb)(const struct addr_info *a, void *arg), void *arg);
/* Number of tc filters on ifindex under parent (e.g. clsact ingress), or
 * -1 with errno. */
int nl_tc_filter_count(struct mnl_socket *nl, int ifindex, __u32 parent);

#endif
