// SPDX-License-Identifier: GPL-2.0
/*
 * Handing translated flows to the kernel at detach. Once the XDP programs
 * are gone, a container's packets take the kernel path, where netfilter
 * would pick a new mapping for a flow it never saw open, and the far end
 * would not recognise it. So before detaching, every flow of the container
 * is written into the kernel's conntrack table with the very mapping
 * xdp-egress gave it (ctnetlink IPCTNL_MSG_CT_NEW with CTA_NAT_SRC, as
 * conntrackd does), and the kernel's NAT carries it on. That needs NAT
 * hooks in the host namespace (an iptables/nftables nat rule, as Docker
 * and CNI hosts have); without them the kernel cannot translate and the
 * flows end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <bpf/bpf.h>

#include "handover.h"
#include "log.h"

#define TCP_CONNTRACK_ESTABLISHED_ 3

static void put_tuple(struct nlmsghdr *nlh, int type, const struct ct_key *k,
		      int icmp_type)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, type);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	struct nlattr *pr;

	if (k->family == AF_INET) {
		mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, k->saddr[0]);
		mnl_attr_put_u32(nlh, CTA_IP_V4_DST, k->daddr[0]);
	} else {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, k->saddr);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, k->daddr);
	}
	mnl_attr_nest_end(nlh, ip);
	pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, k->proto);
	if (k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6) {
		int v6 = k->proto == IPPROTO_ICMPV6;

		/* The id sits in sport (request) or dport (reply) of our key. */
		mnl_attr_put_u16(nlh, v6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID,
				 k->sport ? k->sport : k->dport);
		mnl_attr_put_u8(nlh, v6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE,
				icmp_type);
		mnl_attr_put_u8(nlh, v6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE, 0);
	} else {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, k->sport);
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, k->dport);
	}
	mnl_attr_nest_end(nlh, pr);
	mnl_attr_nest_end(nlh, t);
}

static int ct_new(struct mnl_socket *nl, const struct ct_key *okey,
		  const struct ct_entry *orig, unsigned int timeout_s)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	struct nlattr *nat, *pnat;
	struct ct_key rkey;
	unsigned int seq = time(NULL) ^ rand();
	int v6 = okey->family == AF_INET6;
	int ret;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = okey->family;
	nfg->version = NFNETLINK_V0;
	/* The reply tuple goes in untranslated (the inverse of the orig one):
	 * nf_nat_setup_info() only marks the entry for SNAT, and computes the
	 * translated reply tuple, when the mapping changes something. */
	rkey = *okey;
	memcpy(rkey.saddr, okey->daddr, 16);
	memcpy(rkey.daddr, okey->saddr, 16);
	rkey.sport = okey->dport;
	rkey.dport = okey->sport;
	put_tuple(nlh, CTA_TUPLE_ORIG, okey, v6 ? 128 : 8);
	put_tuple(nlh, CTA_TUPLE_REPLY, &rkey, v6 ? 129 : 0);
	nat = mnl_attr_nest_start(nlh, CTA_NAT_SRC);
	if (v6) {
		mnl_attr_put(nlh, CTA_NAT_V6_MINIP, 16, orig->nat_addr);
		mnl_attr_put(nlh, CTA_NAT_V6_MAXIP, 16, orig->nat_addr);
	} else {
		mnl_attr_put_u32(nlh, CTA_NAT_V4_MINIP, orig->nat_addr[0]);
		mnl_attr_put_u32(nlh, CTA_NAT_V4_MAXIP, orig->nat_addr[0]);
	}
	pnat = mnl_attr_nest_start(nlh, CTA_NAT_PROTO);
	mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MIN, orig->nat_port);
	mnl_attr_put_u16(nlh, CTA_PROTONAT_PORT_MAX, orig->nat_port);
	mnl_attr_nest_end(nlh, pnat);
	mnl_attr_nest_end(nlh, nat);
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(timeout_s));
	if (okey->proto == IPPROTO_TCP) {
		/* Liberal window tracking: the kernel never saw the handshake. */
		struct nf_ct_tcp_flags f = { .flags = IP_CT_TCP_FLAG_BE_LIBERAL,
					     .mask = IP_CT_TCP_FLAG_BE_LIBERAL };
		struct nlattr *pi = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
		struct nlattr *tcp = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);

		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE,
				orig->state == CT_NEW ? 1 /* SYN_SENT */
						      : TCP_CONNTRACK_ESTABLISHED_);
		mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, sizeof(f), &f);
		mnl_attr_put(nlh, CTA_PROTOINFO_TCP_FLAGS_REPLY, sizeof(f), &f);
		mnl_attr_nest_end(nlh, tcp);
		mnl_attr_nest_end(nlh, pi);
	}
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (ret < 0)
		return -1;
	ret = mnl_cb_run(buf, ret, seq, mnl_socket_get_portid(nl), NULL, NULL);
	return ret < 0 ? -1 : 0;
}

/* ---- is there NAT in this namespace for the kernel to carry flows on? ---- */

struct nat_chains {
	int v4, v6;
};

static int chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct nat_chains *nc = arg;
	const struct nlattr *a, *h;
	int is_nat = 0, postrouting = 0;

	mnl_attr_for_each(a, nlh, sizeof(*nfg)) {
		if (mnl_attr_get_type(a) == NFTA_CHAIN_TYPE &&
		    !strcmp(mnl_attr_get_str(a), "nat"))
			is_nat = 1;
		if (mnl_attr_get_type(a) == NFTA_CHAIN_HOOK) {
			mnl_attr_for_each_nested(h, a)
				if (mnl_attr_get_type(h) == NFTA_HOOK_HOOKNUM &&
				    ntohl(mnl_attr_get_u32(h)) == NF_INET_POST_ROUTING)
					postrouting = 1;
		}
	}
	if (is_nat && postrouting) {
		if (nfg->nfgen_family == NFPROTO_IPV4 || nfg->nfgen_family == NFPROTO_INET)
			nc->v4 = 1;
		if (nfg->nfgen_family == NFPROTO_IPV6 || nfg->nfgen_family == NFPROTO_INET)
			nc->v6 = 1;
	}
	return MNL_CB_OK;
}

/* A source-NAT chain (nftables, which iptables-nft also writes) or the
 * legacy iptables nat table: without one the kernel cannot translate. */
int kernel_nat_present(int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nat_chains nc = { 0, 0 };
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	unsigned int seq = time(NULL);
	int ret;
	FILE *f;

	if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0) {
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = seq;
		nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
		nfg->nfgen_family = NFPROTO_UNSPEC;
		nfg->version = NFNETLINK_V0;
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
			while ((ret = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
				ret = mnl_cb_run(buf, ret, seq,
						 mnl_socket_get_portid(nl), chain_cb, &nc);
				if (ret <= MNL_CB_STOP)
					break;
			}
		}
	}
	if (nl)
		mnl_socket_close(nl);
	f = fopen(family == AF_INET ? "/proc/net/ip_tables_names"
				    : "/proc/net/ip6_tables_names", "r");
	if (f) {
		char name[64];

		while (fscanf(f, "%63s", name) == 1)
			if (!strcmp(name, "nat"))
				*(family == AF_INET ? &nc.v4 : &nc.v6) = 1;
		fclose(f);
	}
	return family == AF_INET ? nc.v4 : nc.v6;
}

int handover_flows(int ct_fd, __u32 ifindex, struct handover_result *res)
{
	int nat4 = kernel_nat_present(AF_INET), nat6 = kernel_nat_present(AF_INET6);

	struct ct_key key, next, *prev = NULL;
	struct mnl_socket *nl;
	struct ct_entry e;

	memset(res, 0, sizeof(*res));
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		res->first_errno = errno;
		if (nl)
			mnl_socket_close(nl);
		return -1;
	}
	while (!bpf_map_get_next_key(ct_fd, prev, &next)) {
		unsigned int idx, to;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(ct_fd, &key, &e) || e.ifindex != ifindex ||
		    e.dir != CT_DIR_ORIG)
			continue;
		if (e.state == CT_CLOSING)
			continue; /* ending anyway */
		res->flows++;
		/* Without NAT the kernel cannot carry the flow on, and an entry
		 * would only keep the 5-tuple from xdp-egress after a new attach. */
		if (!(key.family == AF_INET ? nat4 : nat6)) {
			res->no_nat++;
			continue;
		}
		idx = key.proto == IPPROTO_TCP ?
			(e.state == CT_ESTABLISHED ? CT_TO_TCP_EST : CT_TO_TCP_SYN) :
		      key.proto == IPPROTO_UDP ?
			(e.state == CT_ESTABLISHED ? CT_TO_UDP_STREAM : CT_TO_UDP) :
			CT_TO_ICMP;
		to = e.timeout_s[idx] ? e.timeout_s[idx] : 30;
		if (ct_new(nl, &key, &e, to)) {
			if (!res->first_errno)
				res->first_errno = errno;
			res->failed++;
		} else {
			res->handed++;
		}
	}
	mnl_socket_close(nl);
	return 0;
}
