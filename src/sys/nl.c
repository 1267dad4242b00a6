// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>

#include "nl.h"
#include "netns.h"

static int open_cb(void *arg)
{
	struct mnl_socket **out = arg;
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);

	if (!nl)
		return -1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return -1;
	}
	*out = nl;
	return 0;
}

struct mnl_socket *nl_open_in(int netns_fd)
{
	struct mnl_socket *nl = NULL;

	if (netns_fd < 0) {
		open_cb(&nl);
		return nl;
	}
	if (netns_run_in(netns_fd, open_cb, &nl))
		return NULL;
	return nl;
}

void nl_close(struct mnl_socket *nl)
{
	if (nl)
		mnl_socket_close(nl);
}

/* Send req and feed every reply to cb until NLMSG_DONE / the ack. */
static int nl_talk(struct mnl_socket *nl, struct nlmsghdr *req,
		   mnl_cb_t cb, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid = mnl_socket_get_portid(nl);
	unsigned int seq = req->nlmsg_seq = (unsigned int)time(NULL) ^ rand();
	int ret;

	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -1;
	while ((ret = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		ret = mnl_cb_run(buf, ret, seq, portid, cb, arg);
		if (ret <= MNL_CB_STOP)
			break;
	}
	return ret < 0 ? -1 : 0;
}

static int parse_linkinfo(const struct nlattr *nest, struct link_info *li)
{
	struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
			snprintf(li->kind, sizeof(li->kind), "%s",
				 mnl_attr_get_str(a));
	}
	return 0;
}

static void parse_xdp(const struct nlattr *nest, struct link_info *li)
{
	struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_XDP_ATTACHED:
			li->xdp_attached = mnl_attr_get_u8(a);
			break;
		case IFLA_XDP_PROG_ID:
			li->xdp_prog_id = mnl_attr_get_u32(a);
			break;
		}
	}
}

static void parse_link(const struct nlmsghdr *nlh, struct link_info *li)
{
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a;

	memset(li, 0, sizeof(*li));
	li->ifindex = ifm->ifi_index;
	li->flags = ifm->ifi_flags;
	li->link_netnsid = -1;
	mnl_attr_for_each(a, nlh, sizeof(*ifm)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			snprintf(li->name, sizeof(li->name), "%s",
				 mnl_attr_get_str(a));
			break;
		case IFLA_LINK:
			li->link = mnl_attr_get_u32(a);
			break;
		case IFLA_LINK_NETNSID:
			li->link_netnsid = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_MASTER:
			li->master = mnl_attr_get_u32(a);
			break;
		case IFLA_MTU:
			li->mtu = mnl_attr_get_u32(a);
			break;
		case IFLA_NUM_RX_QUEUES:
			li->num_rx_queues = mnl_attr_get_u32(a);
			break;
		case IFLA_NUM_TX_QUEUES:
			li->num_tx_queues = mnl_attr_get_u32(a);
			break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(a) == 6)
				memcpy(li->mac, mnl_attr_get_payload(a), 6);
			break;
		case IFLA_LINKINFO:
			parse_linkinfo(a, li);
			break;
		case IFLA_XDP:
			parse_xdp(a, li);
			break;
		}
	}
}

static int link_one_cb(const struct nlmsghdr *nlh, void *arg)
{
	parse_link(nlh, arg);
	return MNL_CB_OK;
}

static int link_get(struct mnl_socket *nl, int ifindex, const char *name,
		    struct link_info *li)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK; /* the ack ends the reply */
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_index = ifindex;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	memset(li, 0, sizeof(*li));
	li->ifindex = -1;
	if (nl_talk(nl, nlh, link_one_cb, li))
		return -1;
	if (li->ifindex <= 0) {
		errno = ENODEV;
		return -1;
	}
	return 0;
}

int nl_link_by_index(struct mnl_socket *nl, int ifindex, struct link_info *li)
{
	return link_get(nl, ifindex, NULL, li);
}

int nl_link_by_name(struct mnl_socket *nl, const char *name, struct link_info *li)
{
	if (!name || !*name || strlen(name) >= IF_NAMESIZE) {
		errno = ENODEV;
		return -1;
	}
	return link_get(nl, 0, name, li);
}

struct dump_ctx {
	int (*cb)(const struct link_info *li, void *arg);
	void *arg;
	int stopped;
};

static int link_dump_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump_ctx *d = arg;
	struct link_info li;

	if (d->stopped)
		return MNL_CB_OK;
	parse_link(nlh, &li);
	if (d->cb(&li, d->arg))
		d->stopped = 1;
	return MNL_CB_OK;
}

int nl_link_dump(struct mnl_socket *nl,
		 int (*cb)(const struct link_info *li, void *arg), void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct dump_ctx d = { cb, arg, 0 };
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nl_talk(nl, nlh, link_dump_cb, &d);
}

static int nsid_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg)) {
		if (mnl_attr_get_type(a) == NETNSA_NSID)
			*(int *)arg = (int)mnl_attr_get_u32(a);
	}
	return MNL_CB_OK;
}

int nl_nsid_of(struct mnl_socket *nl, int target_netns_fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;
	int nsid = -1;

	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK; /* the ack ends the reply */
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, target_netns_fd);
	if (nl_talk(nl, nlh, nsid_cb, &nsid))
		return -1;
	return nsid;
}

struct route_ctx {
	int ifindex;
};

static int route_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_ctx *r = arg;
	struct nlattr *a;
	int oif = 0, table = rtm->rtm_table;

	if (rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(a) == RTA_OIF)
			oif = mnl_attr_get_u32(a);
		if (mnl_attr_get_type(a) == RTA_TABLE)
			table = mnl_attr_get_u32(a);
		/* Multipath default route: take the first next hop's device. */
		if (mnl_attr_get_type(a) == RTA_MULTIPATH && !oif &&
		    mnl_attr_get_payload_len(a) >= sizeof(struct rtnexthop))
			oif = ((struct rtnexthop *)mnl_attr_get_payload(a))->rtnh_ifindex;
	}
	if (table == RT_TABLE_MAIN && oif && !r->ifindex)
		r->ifindex = oif;
	return MNL_CB_OK;
}

int nl_default_route_dev(struct mnl_socket *nl, int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct route_ctx r = { 0 };
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family;
	if (nl_talk(nl, nlh, route_cb, &r))
		return 0;
	return r.ifindex;
}

struct addr_ctx {
	int (*cb)(const struct addr_info *a, void *arg);
	void *arg;
	int stopped;
};

static int addr_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_ctx *c = arg;
	struct addr_info a = {};
	struct nlattr *at;
	int have = 0;

	if (c->stopped)
		return MNL_CB_OK;
	a.family = ifa->ifa_family;
	a.ifindex = ifa->ifa_index;
	a.scope = ifa->ifa_scope;
	a.prefixlen = ifa->ifa_prefixlen;
	mnl_attr_for_each(at, nlh, sizeof(*ifa)) {
		int t = mnl_attr_get_type(at);
		unsigned len = mnl_attr_get_payload_len(at);

		/* IFA_LOCAL is the address itself on point-to-point links. */
		if ((t == IFA_LOCAL || (t == IFA_ADDRESS && !have)) &&
		    len <= sizeof(a.addr)) {
			memcpy(a.addr, mnl_attr_get_payload(at), len);
			have = 1;
		}
	}
	if (have && c->cb(&a, c->arg))
		c->stopped = 1;
	return MNL_CB_OK;
}

int nl_addr_dump(struct mnl_socket *nl, int family,
		 int (*cb)(const struct addr_info *a, void *arg), void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct addr_ctx c = { cb, arg, 0 };
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	return nl_talk(nl, nlh, addr_cb, &c);
}

static int count_cb(const struct nlmsghdr *nlh, void *arg)
{
	if (nlh->nlmsg_type == RTM_NEWTFILTER)
		(*(int *)arg)++;
	return MNL_CB_OK;
}

int nl_tc_filter_count(struct mnl_socket *nl, int ifindex, __u32 parent)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;
	int n = 0;

	nlh->nlmsg_type = RTM_GETTFILTER;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	if (nl_talk(nl, nlh, count_cb, &n))
		return -1;
	return n;
}
