// SPDX-License-Identifier: GPL-2.0
/*
 * Table-driven unit test of the egress programs (bpf/egress.bpf.c): the XDP
 * program xdp_egress and the tc program tc_egress (--mode tc), each run over
 * the same table.
 *
 * Each row of `fixtures` is one frame the container could send, the XDP action
 * the program must return, the counter it must bump, and what the output
 * frame must look like: byte-identical to the input for XDP_PASS / XDP_DROP,
 * or rewritten for the next hop (gateway MAC, uplink MAC, TTL - 1, valid IPv4
 * header checksum, L4 untouched) for XDP_REDIRECT. Adding a case is adding a
 * row. The tc pass ("egress_tc/...") wants the matching tc verdicts:
 * TC_ACT_REDIRECT, TC_ACT_OK, TC_ACT_SHOT, with the same counters and bytes;
 * its own rows (tc_only) are skbs XDP never sees: GSO super-packets, larger
 * than the MTU, which must be redirected whole and counted as redirected_gso.
 *
 * The programs are run with bpf_prog_test_run_opts(): no frame is sent
 * anywhere, XDP_REDIRECT / TC_ACT_REDIRECT is only returned (no
 * BPF_F_TEST_XDP_LIVE_FRAMES; for tc the context is an __sk_buff whose
 * ifindex and ingress_ifindex are h0, as on the host veth's tcx ingress).
 * bpf_fib_lookup() still needs real routes, neighbours and devices, so the
 * test first moves itself into a private network namespace (unshare) and
 * builds a small host there with `ip`. Everything it creates vanishes with the
 * process; the machine's own namespace is never touched.
 *
 *   c0 (container) ==veth== h0 [XDP egress, 10.0.0.1/24, fd00::1/64]
 *   up0  192.0.2.1/24 fd01::1/64 ==veth== up0p   (uplink, in tx_ports)
 *        default via 192.0.2.2 / ::/0 via fd01::2, both PERMANENT neighbours
 *   other0 192.0.3.1/24 fd02::1/64 ==veth== other0p   (not in tx_ports)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_egress.h"
#include "egress.skel.h"
#include "unit.h"
#include "pkt_util.h"

#define MAX_FRAME 4096

/* Who is who in the private namespace. */
#define MAC_H0       "02:00:00:00:00:01"
#define MAC_C0       "02:00:00:00:00:02"
#define MAC_UP0      "02:00:00:00:01:01"
#define MAC_GW       "02:00:00:00:0a:02"   /* 192.0.2.2, fd01::2 on up0 */
#define MAC_OTHER_GW "02:00:00:00:0b:02"   /* 192.0.3.2, fd02::2 on other0 */
#define MAC_HAIRPIN  "02:00:00:00:00:03"   /* 10.0.0.3 on h0 */

static const __u8 mac_h0[6] = { 0x02, 0, 0, 0, 0x00, 0x01 };
static const __u8 mac_c0[6] = { 0x02, 0, 0, 0, 0x00, 0x02 };
static const __u8 mac_gw[6] = { 0x02, 0, 0, 0, 0x0a, 0x02 };

#define V4_SRC "10.0.0.2"
#define V6_SRC "fd00::2"
#define V4_WORLD "8.8.8.8"
#define V6_WORLD "2001:4860:4860::8888"

static const char *const setup_cmds[] = {
	"ip link set lo up",
	"ip link add h0 address " MAC_H0 " type veth peer name c0 address " MAC_C0,
	"ip link add up0 address " MAC_UP0 " type veth peer name up0p",
	"ip link add other0 type veth peer name other0p",
	"ip link set h0 up", "ip link set c0 up",
	"ip link set up0 up", "ip link set up0p up",
	"ip link set other0 up", "ip link set other0p up",
	/* c0 stays unaddressed: in this single namespace an address on it
	 * would make the container's source a local address of the "host". */
	"ip addr add 10.0.0.1/24 dev h0",
	"ip -6 addr add fd00::1/64 dev h0 nodad",
	"ip addr add 192.0.2.1/24 dev up0",
	"ip -6 addr add fd01::1/64 dev up0 nodad",
	"ip addr add 192.0.3.1/24 dev other0",
	"ip -6 addr add fd02::1/64 dev other0 nodad",
	/* The world: default routes through the uplink's gateway. */
	"ip route add default via 192.0.2.2 dev up0",
	"ip -6 route add ::/0 via fd01::2 dev up0",
	"ip neigh replace 192.0.2.2 lladdr " MAC_GW " dev up0 nud permanent",
	"ip -6 neigh replace fd01::2 lladdr " MAC_GW " dev up0 nud permanent",
	/* no_neigh: a gateway nobody has resolved yet. */
	"ip route add 198.51.100.0/24 via 192.0.2.3 dev up0",
	"ip -6 route add 2001:db8:51::/48 via fd01::3 dev up0",
	/* fib_fail */
	"ip route add unreachable 203.0.113.0/24",
	"ip -6 route add unreachable 2001:db8:dead::/48",
	/* not_uplink: a resolved route out of a device that is not in tx_ports,
	 * and a hairpin back out of h0 itself. */
	"ip route add 10.99.0.0/16 via 192.0.3.2 dev other0",
	"ip neigh replace 192.0.3.2 lladdr " MAC_OTHER_GW " dev other0 nud permanent",
	"ip -6 route add 2001:db8:99::/48 via fd02::2 dev other0",
	"ip -6 neigh replace fd02::2 lladdr " MAC_OTHER_GW " dev other0 nud permanent",
	"ip neigh replace 10.0.0.3 lladdr " MAC_HAIRPIN " dev h0 nud permanent",
	/* A resolved link-local neighbour on the uplink (a router's fe80::
	 * address): link-local traffic must still never be forwarded to it. */
	"ip -6 neigh replace fe80::99 lladdr " MAC_GW " dev up0 nud permanent",
	/* too_big. bpf_fib_lookup() applies a route MTU only when it is locked,
	 * as the forwarding path does: ip_mtu_from_fib_result() (unless
	 * ip_forward_use_pmtu is set) and ip6_mtu_from_fib6() otherwise use the
	 * device MTU. Hence `mtu lock`. */
	"ip route add 100.64.0.0/16 via 192.0.2.2 dev up0 mtu lock 1280",
	"ip -6 route add 2001:db8:64::/48 via fd01::2 dev up0 mtu lock 1280",
};

/* ---- frame building ---------------------------------------------------- */

enum l3_kind { L3_IPV4, L3_IPV6, L3_ARP };

/* IPv6 extension header in front of L4 (IPPROTO_HOPOPTS is 0, so not a proto). */
enum v6_ext { EXT_NONE, EXT_FRAGMENT, EXT_HOP_BY_HOP, EXT_DSTOPTS };

/*
 * A frame as a few fields; build_frame() turns it into bytes with every
 * length and checksum right, then `mangle` and `cut` break it on purpose.
 */
struct pkt_spec {
	enum l3_kind l3;
	bool vlan;              /* one 802.1Q tag (VID 100) after the MACs */
	__u8 proto;             /* IPPROTO_* of the L4 header */
	const char *src;        /* NULL: the container's own address */
	const char *dst;        /* NULL: a world address via the default route */
	__u8 ttl;               /* 0: 64 */
	__u16 frag_off;         /* IPv4 flags + fragment offset, host order */
	__u8 ihl;               /* 0: 5; more adds NOP options */
	enum v6_ext v6_ext;     /* one 8-byte extension header before L4 */
	__u16 payload;          /* bytes after the L4 header */
	__u16 min_len;          /* Ethernet padding up to this frame length */
	__u16 l4_cut;           /* L4 header only this long; IP lengths agree */
	__u16 cut;              /* chop the frame here, nothing fixed up */
	bool empty;             /* zero-length input */
	void (*mangle)(__u8 *f, size_t *len);
};

/* Where the parts landed, for the checks on the output. */
struct layout {
	size_t len;
	size_t l3;              /* offset of the IP header */
	size_t l4;              /* offset of the L4 header */
	size_t l4_len;          /* L4 length by the IP header (no padding) */
	enum l3_kind l3_kind;
	__u8 proto;
};

/* Pseudo-header + segment; the result is 0xffff for a correct checksum. */
static __u16 l4_sum(const __u8 *f, const struct layout *lo)
{
	__u32 sum = 0;

	if (lo->l3_kind == L3_IPV4) {
		sum = csum_add(sum, f + lo->l3 + 12, 8); /* saddr, daddr */
		sum += lo->proto;
	} else {
		sum = csum_add(sum, f + lo->l3 + 8, 32);
		sum += lo->proto;
	}
	sum += lo->l4_len;
	return csum_fold(csum_add(sum, f + lo->l4, lo->l4_len));
}

static void ipv4_fill_csum(__u8 *ip)
{
	size_t hlen = (ip[0] & 0x0f) * 4;

	put16(ip + 10, 0);
	put16(ip + 10, ~csum_fold(csum_add(0, ip, hlen)) & 0xffff);
}

static bool ipv4_csum_ok(const __u8 *ip)
{
	return csum_fold(csum_add(0, ip, (ip[0] & 0x0f) * 4)) == 0xffff;
}

static int l4_csum_offset(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP: return 16;
	case IPPROTO_UDP: return 6;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: return 2;
	default: return -1;
	}
}

/* Writes an L4 header + payload at p; returns its length. */
static size_t build_l4(__u8 *p, __u8 proto, __u16 payload)
{
	size_t hlen, i;

	switch (proto) {
	case IPPROTO_TCP:
		put16(p, 40000);
		put16(p + 2, 80);
		put32(p + 4, 0x01020304);       /* seq */
		put32(p + 8, 0);                /* ack */
		p[12] = 5 << 4;                 /* doff 5 */
		p[13] = 0x02;                   /* SYN */
		put16(p + 14, 64240);
		put16(p + 16, 0);
		put16(p + 18, 0);
		hlen = 20;
		break;
	case IPPROTO_UDP:
		put16(p, 40000);
		put16(p + 2, 53);
		put16(p + 4, 8 + payload);
		put16(p + 6, 0);
		hlen = 8;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		p[0] = proto == IPPROTO_ICMP ? 8 : 128;   /* echo request */
		p[1] = 0;
		put16(p + 2, 0);
		put16(p + 4, 0x1234);
		put16(p + 6, 1);
		hlen = 8;
		break;
	default:                                /* GRE, SCTP, ...: opaque */
		hlen = 8;
		memset(p, 0x47, hlen);
		break;
	}
	for (i = 0; i < payload; i++)
		p[hlen + i] = (__u8)(i * 7 + 3);
	return hlen + payload;
}

static int build_frame(const struct pkt_spec *s, __u8 *f, struct layout *lo)
{
	size_t off = 12, l4_len;
	__u8 ttl = s->ttl ? s->ttl : 64;

	memset(lo, 0, sizeof(*lo));
	memset(f, 0, MAX_FRAME);
	lo->l3_kind = s->l3;
	lo->proto = s->proto;
	if (s->empty)
		return 0;
	memcpy(f, mac_h0, 6);
	memcpy(f + 6, mac_c0, 6);
	if (s->vlan) {
		put16(f + off, 0x8100);
		put16(f + off + 2, 100);
		off += 4;
	}
	put16(f + off, s->l3 == L3_IPV4 ? 0x0800 : s->l3 == L3_IPV6 ? 0x86dd : 0x0806);
	off += 2;
	lo->l3 = off;

	if (s->l3 == L3_ARP) {
		static const __u8 arp[8] = { 0, 1, 0x08, 0, 6, 4, 0, 1 };

		memcpy(f + off, arp, 8);                /* request */
		memcpy(f + off + 8, mac_c0, 6);
		inet_pton(AF_INET, V4_SRC, f + off + 14);
		inet_pton(AF_INET, "10.0.0.1", f + off + 24);
		lo->len = off + 28;
	} else if (s->l3 == L3_IPV4) {
		__u8 *ip = f + off;
		size_t hlen = (s->ihl ? s->ihl : 5) * 4;

		ip[0] = 0x40 | (hlen / 4);
		put16(ip + 4, 0x4242);                  /* id */
		put16(ip + 6, s->frag_off);
		ip[8] = ttl;
		ip[9] = s->proto;
		if (inet_pton(AF_INET, s->src ? s->src : V4_SRC, ip + 12) != 1 ||
		    inet_pton(AF_INET, s->dst ? s->dst : V4_WORLD, ip + 16) != 1)
			return -1;
		memset(ip + 20, 0x01, hlen - 20);       /* NOP options */
		lo->l4 = off + hlen;
		l4_len = build_l4(f + lo->l4, s->proto, s->payload);
		if (s->l4_cut)
			l4_len = s->l4_cut;
		lo->l4_len = l4_len;
		put16(ip + 2, hlen + l4_len);
		ipv4_fill_csum(ip);
		lo->len = lo->l4 + l4_len;
	} else {
		__u8 *ip = f + off;
		static const __u8 ext_proto[] = {
			[EXT_FRAGMENT] = IPPROTO_FRAGMENT,
			[EXT_HOP_BY_HOP] = IPPROTO_HOPOPTS,
			[EXT_DSTOPTS] = IPPROTO_DSTOPTS,
		};
		size_t ext = s->v6_ext != EXT_NONE ? 8 : 0;

		put32(ip, 0x60000000 | 0x12345);        /* version, flow label */
		ip[6] = ext ? ext_proto[s->v6_ext] : s->proto;
		ip[7] = ttl;
		if (inet_pton(AF_INET6, s->src ? s->src : V6_SRC, ip + 8) != 1 ||
		    inet_pton(AF_INET6, s->dst ? s->dst : V6_WORLD, ip + 24) != 1)
			return -1;
		if (s->v6_ext == EXT_FRAGMENT) {
			ip[40] = s->proto;
			put16(ip + 42, 0x0001);         /* offset 0, M set */
			put32(ip + 44, 0xabcd);
		} else if (s->v6_ext) {
			ip[40] = s->proto;              /* hdr ext len 0 */
			ip[42] = 1;                     /* PadN, 4 bytes */
			ip[43] = 4;
		}
		lo->l4 = off + 40 + ext;
		l4_len = build_l4(f + lo->l4, s->proto, s->payload);
		if (s->l4_cut)
			l4_len = s->l4_cut;
		lo->l4_len = l4_len;
		put16(ip + 4, ext + l4_len);
		lo->len = lo->l4 + l4_len;
	}

	if (s->l3 != L3_ARP && !s->l4_cut) {
		int c = l4_csum_offset(s->proto);

		if (c >= 0)
			put16(f + lo->l4 + c, ~l4_sum(f, lo) & 0xffff);
	}
	if (lo->len < s->min_len)
		lo->len = s->min_len;           /* zeroes: Ethernet padding */
	if (s->mangle)
		s->mangle(f, &lo->len);
	if (s->cut)
		lo->len = s->cut;
	return 0;
}

/* Ways to break an untagged frame (IP header at offset 14). */
#define L3 14
static void ipv4_ihl_4(__u8 *f, size_t *len)
{
	f[L3] = 0x44;
	ipv4_fill_csum(f + L3);
}

static void ipv4_version_6(__u8 *f, size_t *len)
{
	f[L3] = 0x65;
	ipv4_fill_csum(f + L3);
}

static void ipv4_tot_len_over_frame(__u8 *f, size_t *len)
{
	put16(f + L3 + 2, *len - L3 + 1);
	ipv4_fill_csum(f + L3);
}

static void ipv4_tot_len_under_ihl(__u8 *f, size_t *len)
{
	put16(f + L3 + 2, 19);
	ipv4_fill_csum(f + L3);
}

static void tcp_doff_4(__u8 *f, size_t *len)
{
	f[L3 + 20 + 12] = 4 << 4;
}

static void tcp_doff_past_frame(__u8 *f, size_t *len)
{
	f[L3 + 20 + 12] = 15 << 4;      /* 60 bytes of header, 20 present */
}

static void ipv6_payload_len_over_frame(__u8 *f, size_t *len)
{
	put16(f + L3 + 4, get16(f + L3 + 4) + 1);
}

/*
 * An IPv4 header whose checksum is 0xfeff: TTL - 1 then makes the
 * incremental update (RFC 1624, ip_decrease_ttl()) carry around.
 */
static void ipv4_csum_feff(__u8 *f, size_t *len)
{
	__u8 *ip = f + L3;
	__u32 sum;

	put16(ip + 4, 0);
	put16(ip + 10, 0);
	sum = csum_fold(csum_add(0, ip, 20));
	/* want sum + id == ~0xfeff (one's complement) */
	put16(ip + 4, csum_fold(0x0100 + (~sum & 0xffff)));
	ipv4_fill_csum(ip);
}
#undef L3

/* ---- fixtures ---------------------------------------------------------- */

struct fixture {
	const char *name;
	struct pkt_spec pkt;
	int action;                     /* XDP_*; the tc pass maps it (tc_verdict) */
	enum egress_counter counter;
	bool rejected;                  /* test_run itself must refuse the input */
	bool tc_only;                   /* an skb only the tc program can get */
	bool tc_rejected;               /* test_run refuses it as an skb */
	__u16 gso_size;                 /* tc: the skb is a GSO super-packet */
};

#define REDIRECT .action = XDP_REDIRECT, .counter = CNT_REDIRECTED
#define PASS(c)  .action = XDP_PASS, .counter = (c)
#define MALFORMED .action = XDP_DROP, .counter = CNT_DROP_MALFORMED
#define V4(...)  .pkt = { .l3 = L3_IPV4, __VA_ARGS__ }
#define V6(...)  .pkt = { .l3 = L3_IPV6, __VA_ARGS__ }

static const struct fixture fixtures[] = {
	/* The fast path. */
	{ "ipv4_tcp_redirect", V4(.proto = IPPROTO_TCP, .payload = 100), REDIRECT },
	{ "ipv4_tcp_df_redirect", V4(.proto = IPPROTO_TCP, .frag_off = 0x4000, .payload = 1000), REDIRECT },
	{ "ipv4_udp_redirect", V4(.proto = IPPROTO_UDP, .payload = 64), REDIRECT },
	{ "ipv4_icmp_echo_redirect", V4(.proto = IPPROTO_ICMP, .payload = 56), REDIRECT },
	{ "ipv4_icmp_padded_60_redirect", V4(.proto = IPPROTO_ICMP, .min_len = 60), REDIRECT },
	{ "ipv4_udp_padded_60_redirect", V4(.proto = IPPROTO_UDP, .payload = 2, .min_len = 60), REDIRECT },
	{ "ipv4_udp_csum_carry_redirect", V4(.proto = IPPROTO_UDP, .payload = 10, .mangle = ipv4_csum_feff), REDIRECT },
	{ "ipv4_udp_ttl2_redirect", V4(.proto = IPPROTO_UDP, .ttl = 2), REDIRECT },
	{ "ipv4_tcp_mtu_route_fits_redirect", V4(.proto = IPPROTO_TCP, .dst = "100.64.1.1", .payload = 1240), REDIRECT },
	{ "ipv6_tcp_redirect", V6(.proto = IPPROTO_TCP, .payload = 100), REDIRECT },
	{ "ipv6_udp_redirect", V6(.proto = IPPROTO_UDP, .payload = 64), REDIRECT },
	{ "ipv6_icmpv6_echo_redirect", V6(.proto = IPPROTO_ICMPV6, .payload = 56), REDIRECT },
	{ "ipv6_udp_padded_redirect", V6(.proto = IPPROTO_UDP, .payload = 1, .min_len = 80), REDIRECT },
	{ "ipv6_tcp_mtu_route_fits_redirect", V6(.proto = IPPROTO_TCP, .dst = "2001:db8:64::1", .payload = 1220), REDIRECT },

	/* Everything the program hands to the kernel, one reason each. */
	{ "arp_pass_non_ip", .pkt = { .l3 = L3_ARP, .min_len = 60 }, PASS(CNT_PASS_NON_IP) },
	{ "vlan_ipv4_pass_vlan", V4(.vlan = true, .proto = IPPROTO_UDP, .payload = 20), PASS(CNT_PASS_VLAN) },
	{ "vlan_ipv6_pass_vlan", V6(.vlan = true, .proto = IPPROTO_TCP), PASS(CNT_PASS_VLAN) },
	{ "vlan_arp_pass_vlan", .pkt = { .l3 = L3_ARP, .vlan = true, .min_len = 64 }, PASS(CNT_PASS_VLAN) },
	{ "ipv4_pass_no_neigh", V4(.proto = IPPROTO_UDP, .dst = "198.51.100.7"), PASS(CNT_PASS_NO_NEIGH) },
	{ "ipv6_pass_no_neigh", V6(.proto = IPPROTO_UDP, .dst = "2001:db8:51::7"), PASS(CNT_PASS_NO_NEIGH) },
	{ "ipv4_host_addr_pass_local", V4(.proto = IPPROTO_TCP, .dst = "10.0.0.1"), PASS(CNT_PASS_LOCAL) },
	{ "ipv4_uplink_addr_pass_local", V4(.proto = IPPROTO_ICMP, .dst = "192.0.2.1"), PASS(CNT_PASS_LOCAL) },
	{ "ipv4_subnet_bcast_pass_local", V4(.proto = IPPROTO_UDP, .dst = "10.0.0.255"), PASS(CNT_PASS_LOCAL) },
	{ "ipv4_loopback_dst_pass_local", V4(.proto = IPPROTO_UDP, .dst = "127.0.0.1"), PASS(CNT_PASS_LOCAL) },
	/* 255.255.255.255, 224.0.0.0/4 and 0.0.0.0/8 all match the default
	 * route in the FIB; the kernel delivers or drops them, never forwards
	 * them by unicast to the gateway (ip_route_input_slow()). */
	{ "ipv4_limited_bcast_pass_local", V4(.proto = IPPROTO_UDP, .dst = "255.255.255.255"), PASS(CNT_PASS_LOCAL) },
	{ "ipv4_dhcp_discover_pass_local", V4(.proto = IPPROTO_UDP, .src = "0.0.0.0", .dst = "255.255.255.255", .payload = 240), PASS(CNT_PASS_LOCAL) },
	{ "ipv4_mdns_mcast_pass_local", V4(.proto = IPPROTO_UDP, .dst = "224.0.0.251", .ttl = 255), PASS(CNT_PASS_LOCAL) },
	{ "ipv4_global_mcast_pass_local", V4(.proto = IPPROTO_UDP, .dst = "239.1.2.3"), PASS(CNT_PASS_LOCAL) },
	{ "ipv4_zeronet_dst_pass_local", V4(.proto = IPPROTO_UDP, .dst = "0.0.0.0"), PASS(CNT_PASS_LOCAL) },
	/* IPv6 gets these right inside bpf_ipv6_fib_lookup() (rt6_need_strict()
	 * on src and dst, RTN_MULTICAST): keep it that way. */
	{ "ipv6_host_addr_pass_local", V6(.proto = IPPROTO_TCP, .dst = "fd00::1"), PASS(CNT_PASS_LOCAL) },
	{ "ipv6_mcast_pass_local", V6(.proto = IPPROTO_ICMPV6, .dst = "ff02::1"), PASS(CNT_PASS_LOCAL) },
	{ "ipv6_global_mcast_pass_local", V6(.proto = IPPROTO_UDP, .dst = "ff0e::1"), PASS(CNT_PASS_LOCAL) },
	{ "ipv6_loopback_dst_pass_local", V6(.proto = IPPROTO_UDP, .dst = "::1"), PASS(CNT_PASS_LOCAL) },
	{ "ipv6_link_local_dst_pass_local", V6(.proto = IPPROTO_UDP, .dst = "fe80::99"), PASS(CNT_PASS_LOCAL) },
	{ "ipv6_link_local_src_pass_local", V6(.proto = IPPROTO_UDP, .src = "fe80::2"), PASS(CNT_PASS_LOCAL) },
	{ "ipv4_mf_pass_fragment", V4(.proto = IPPROTO_UDP, .frag_off = 0x2000, .payload = 32), PASS(CNT_PASS_FRAGMENT) },
	{ "ipv4_offset_pass_fragment", V4(.proto = IPPROTO_UDP, .frag_off = 0x00b9, .payload = 32), PASS(CNT_PASS_FRAGMENT) },
	{ "ipv4_df_offset_pass_fragment", V4(.proto = IPPROTO_UDP, .frag_off = 0x4001, .payload = 32), PASS(CNT_PASS_FRAGMENT) },
	{ "ipv6_frag_hdr_pass_fragment", V6(.proto = IPPROTO_UDP, .v6_ext = EXT_FRAGMENT, .payload = 32), PASS(CNT_PASS_FRAGMENT) },
	{ "ipv4_ihl6_pass_ip_options", V4(.proto = IPPROTO_TCP, .ihl = 6), PASS(CNT_PASS_IP_OPTIONS) },
	{ "ipv6_hop_by_hop_pass_ip_options", V6(.proto = IPPROTO_UDP, .v6_ext = EXT_HOP_BY_HOP), PASS(CNT_PASS_IP_OPTIONS) },
	{ "ipv6_dstopts_pass_ip_options", V6(.proto = IPPROTO_UDP, .v6_ext = EXT_DSTOPTS), PASS(CNT_PASS_IP_OPTIONS) },
	{ "ipv4_ttl1_pass_ttl", V4(.proto = IPPROTO_UDP, .ttl = 1), PASS(CNT_PASS_TTL) },
	{ "ipv6_hop_limit1_pass_ttl", V6(.proto = IPPROTO_UDP, .ttl = 1), PASS(CNT_PASS_TTL) },
	{ "ipv4_route_mtu_pass_too_big", V4(.proto = IPPROTO_TCP, .dst = "100.64.1.1", .payload = 1260), PASS(CNT_PASS_TOO_BIG) },
	{ "ipv4_dev_mtu_pass_too_big", V4(.proto = IPPROTO_UDP, .payload = 1500 - 28 + 1), PASS(CNT_PASS_TOO_BIG) },
	{ "ipv6_dev_mtu_pass_too_big", V6(.proto = IPPROTO_UDP, .payload = 1500 - 48 + 1), PASS(CNT_PASS_TOO_BIG) },
	{ "ipv6_route_mtu_pass_too_big", V6(.proto = IPPROTO_TCP, .dst = "2001:db8:64::1", .payload = 1221), PASS(CNT_PASS_TOO_BIG) },
	{ "ipv4_unreachable_pass_fib_fail", V4(.proto = IPPROTO_TCP, .dst = "203.0.113.9"), PASS(CNT_PASS_FIB_FAIL) },
	{ "ipv6_unreachable_pass_fib_fail", V6(.proto = IPPROTO_TCP, .dst = "2001:db8:dead::9"), PASS(CNT_PASS_FIB_FAIL) },
	{ "ipv4_other_dev_pass_not_uplink", V4(.proto = IPPROTO_UDP, .dst = "10.99.0.5"), PASS(CNT_PASS_NOT_UPLINK) },
	{ "ipv6_other_dev_pass_not_uplink", V6(.proto = IPPROTO_UDP, .dst = "2001:db8:99::5"), PASS(CNT_PASS_NOT_UPLINK) },
	{ "ipv4_hairpin_pass_not_uplink", V4(.proto = IPPROTO_UDP, .dst = "10.0.0.3"), PASS(CNT_PASS_NOT_UPLINK) },
	{ "ipv4_gre_pass_l4_other", V4(.proto = 47, .payload = 20), PASS(CNT_PASS_L4_OTHER) },
	{ "ipv6_sctp_pass_l4_other", V6(.proto = 132, .payload = 20), PASS(CNT_PASS_L4_OTHER) },

	/* Malformed: dropped and counted, never passed on. */
	/* test_run refuses skbs shorter than Ethernet + the IP header its
	 * ethertype names (6.18), so in the tc pass the runts are "rejected";
	 * tests/e2e/test_pass_reasons.sh sends them through a real veth. */
	{ "runt_eth_only_drop_malformed", V4(.proto = IPPROTO_UDP, .cut = 14), MALFORMED, .tc_rejected = true },
	{ "runt_20_bytes_drop_malformed", V4(.proto = IPPROTO_UDP, .cut = 20), MALFORMED, .tc_rejected = true },
	{ "ipv4_ihl4_drop_malformed", V4(.proto = IPPROTO_UDP, .mangle = ipv4_ihl_4), MALFORMED },
	{ "ipv4_version6_drop_malformed", V4(.proto = IPPROTO_UDP, .mangle = ipv4_version_6), MALFORMED },
	{ "ipv4_tot_len_over_frame_drop_malformed", V4(.proto = IPPROTO_UDP, .payload = 8, .mangle = ipv4_tot_len_over_frame), MALFORMED },
	{ "ipv4_tot_len_under_ihl_drop_malformed", V4(.proto = IPPROTO_UDP, .mangle = ipv4_tot_len_under_ihl), MALFORMED },
	{ "ipv4_tcp_truncated_drop_malformed", V4(.proto = IPPROTO_TCP, .l4_cut = 10), MALFORMED },
	{ "ipv4_tcp_doff4_drop_malformed", V4(.proto = IPPROTO_TCP, .payload = 8, .mangle = tcp_doff_4), MALFORMED },
	{ "ipv4_tcp_doff_past_frame_drop_malformed", V4(.proto = IPPROTO_TCP, .mangle = tcp_doff_past_frame), MALFORMED },
	{ "ipv4_udp_truncated_drop_malformed", V4(.proto = IPPROTO_UDP, .l4_cut = 4), MALFORMED },
	{ "ipv4_icmp_truncated_drop_malformed", V4(.proto = IPPROTO_ICMP, .l4_cut = 4), MALFORMED },
	{ "ipv6_hdr_truncated_drop_malformed", V6(.proto = IPPROTO_UDP, .cut = 14 + 30), MALFORMED, .tc_rejected = true },
	{ "ipv6_payload_len_over_frame_drop_malformed", V6(.proto = IPPROTO_UDP, .payload = 8, .mangle = ipv6_payload_len_over_frame), MALFORMED },
	{ "ipv6_tcp_truncated_drop_malformed", V6(.proto = IPPROTO_TCP, .l4_cut = 12), MALFORMED },
	{ "ipv6_udp_truncated_drop_malformed", V6(.proto = IPPROTO_UDP, .l4_cut = 6), MALFORMED },
	{ "vlan_tag_truncated_drop_malformed", V4(.vlan = true, .proto = IPPROTO_UDP, .cut = 16), MALFORMED },
	{ "vlan_ipv4_hdr_truncated_drop_malformed", V4(.vlan = true, .proto = IPPROTO_UDP, .cut = 18 + 10), MALFORMED },
	{ "vlan_ipv6_hdr_truncated_drop_malformed", V6(.vlan = true, .proto = IPPROTO_UDP, .cut = 18 + 39), MALFORMED },

	/* bpf_test_init() refuses anything shorter than ETH_HLEN. */
	{ "empty_input_rejected", V4(.empty = true), .rejected = true },
	{ "13_byte_input_rejected", V4(.proto = IPPROTO_UDP, .cut = 13), .rejected = true },

	/* tc only: GSO super-packets of a container with TSO, up to 64 KB in
	 * life (here what fits in test_run's one page), larger than the
	 * uplink MTU: redirected whole (the uplink segments them), counted as
	 * redirected and redirected_gso. The same frames without GSO are too
	 * big (pass_too_big), so the GSO rows prove the size check knows GSO. */
	{ "ipv4_tcp_gso_redirect", V4(.proto = IPPROTO_TCP, .payload = 2896), REDIRECT,
	  .tc_only = true, .gso_size = 1448 },
	{ "ipv6_tcp_gso_redirect", V6(.proto = IPPROTO_TCP, .payload = 2856), REDIRECT,
	  .tc_only = true, .gso_size = 1428 },
	{ "ipv4_udp_gso_redirect", V4(.proto = IPPROTO_UDP, .payload = 2400), REDIRECT,
	  .tc_only = true, .gso_size = 1200 },
	{ "ipv4_tcp_no_gso_pass_too_big", V4(.proto = IPPROTO_TCP, .payload = 2896), PASS(CNT_PASS_TOO_BIG),
	  .tc_only = true },
	{ "ipv6_tcp_no_gso_pass_too_big", V6(.proto = IPPROTO_TCP, .payload = 2856), PASS(CNT_PASS_TOO_BIG),
	  .tc_only = true },
	/* The MTU applies to each segment, as ip_forward() checks a GSO skb
	 * (skb_gso_validate_network_len()): one byte over the uplink's 1500
	 * or the locked 1280-byte route is too big, exactly fitting is not. */
	{ "ipv4_tcp_gso_seg_1501_pass_too_big", V4(.proto = IPPROTO_TCP, .payload = 2922), PASS(CNT_PASS_TOO_BIG),
	  .tc_only = true, .gso_size = 1461 },
	{ "ipv6_tcp_gso_seg_1501_pass_too_big", V6(.proto = IPPROTO_TCP, .payload = 2882), PASS(CNT_PASS_TOO_BIG),
	  .tc_only = true, .gso_size = 1441 },
	{ "ipv4_tcp_gso_seg_1500_redirect", V4(.proto = IPPROTO_TCP, .payload = 2920), REDIRECT,
	  .tc_only = true, .gso_size = 1460 },
	{ "ipv4_tcp_gso_route_mtu_pass_too_big", V4(.proto = IPPROTO_TCP, .dst = "100.64.1.1", .payload = 2896),
	  PASS(CNT_PASS_TOO_BIG), .tc_only = true, .gso_size = 1448 },
	{ "ipv4_tcp_gso_route_mtu_fits_redirect", V4(.proto = IPPROTO_TCP, .dst = "100.64.1.1", .payload = 2480),
	  REDIRECT, .tc_only = true, .gso_size = 1240 },
	{ "ipv6_tcp_gso_route_mtu_pass_too_big", V6(.proto = IPPROTO_TCP, .dst = "2001:db8:64::1", .payload = 2856),
	  PASS(CNT_PASS_TOO_BIG), .tc_only = true, .gso_size = 1428 },
	{ "ipv6_tcp_gso_route_mtu_fits_redirect", V6(.proto = IPPROTO_TCP, .dst = "2001:db8:64::1", .payload = 2440),
	  REDIRECT, .tc_only = true, .gso_size = 1220 },
	/* A GSO skb still takes every pass reason ahead of the redirect. */
	{ "ipv4_tcp_gso_ttl1_pass_ttl", V4(.proto = IPPROTO_TCP, .payload = 2896, .ttl = 1), PASS(CNT_PASS_TTL),
	  .tc_only = true, .gso_size = 1448 },
	{ "ipv4_tcp_gso_unreachable_pass_fib_fail", V4(.proto = IPPROTO_TCP, .dst = "203.0.113.9", .payload = 2896),
	  PASS(CNT_PASS_FIB_FAIL), .tc_only = true, .gso_size = 1448 },
};

/* ---- running ----------------------------------------------------------- */

struct env {
	struct egress_bpf *skel;
	int prog_fd;            /* xdp_egress */
	int tc_fd;              /* tc_egress */
	int stats_fd;
	int ncpus;
	int h0;
	int up0;
	__u8 up0_mac[6];
};

static int read_mac(const char *ifname, __u8 mac[6], char *why, size_t why_len)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0) {
		snprintf(why, why_len, "socket: %s", strerror(errno));
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (rc) {
		snprintf(why, why_len, "SIOCGIFHWADDR %s: %s", ifname, strerror(errno));
		return -1;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* Private namespace, topology, forwarding on. Nothing here may run before
 * unshare() succeeded: every `ip` command must land in the new namespace. */
static int build_namespace(struct env *e, char *why, size_t why_len)
{
	size_t i;

	if (unshare(CLONE_NEWNET)) {
		snprintf(why, why_len, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(setup_cmds) / sizeof(setup_cmds[0]); i++)
		if (run_cmd(setup_cmds[i], why, why_len))
			return -1;
	/* /proc/sys/net follows the namespace of whoever opens the file. */
	if (write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", why, why_len) ||
	    write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1", why, why_len))
		return -1;
	e->h0 = if_nametoindex("h0");
	e->up0 = if_nametoindex("up0");
	if (!e->h0 || !e->up0) {
		snprintf(why, why_len, "if_nametoindex h0/up0: %s", strerror(errno));
		return -1;
	}
	return read_mac("up0", e->up0_mac, why, why_len);
}

static int load_program(struct env *e, char *why, size_t why_len)
{
	struct bpf_devmap_val uplink = { .ifindex = e->up0 };
	__u32 key = e->up0;
	int err;

	e->skel = egress_bpf__open_and_load();
	if (!e->skel) {
		int err_load = errno;

		if (err_load == EACCES || err_load == EINVAL)
			snprintf(why, why_len, "the verifier rejected xdp_egress or tc_egress (%s); "
				 "its log is on stderr above", strerror(err_load));
		else
			snprintf(why, why_len, "loading the egress program: %s "
				 "(BPF unavailable here? needs CAP_BPF, CAP_NET_ADMIN and "
				 "a kernel with XDP)", strerror(err_load));
		return -1;
	}
	e->prog_fd = bpf_program__fd(e->skel->progs.xdp_egress);
	e->tc_fd = bpf_program__fd(e->skel->progs.tc_egress);
	e->stats_fd = bpf_map__fd(e->skel->maps.egress_stats);
	/* devmap ifindexes resolve in the writer's namespace: ours. */
	err = bpf_map_update_elem(bpf_map__fd(e->skel->maps.tx_ports), &key,
				  &uplink, BPF_ANY);
	if (err) {
		snprintf(why, why_len, "tx_ports: adding up0 (ifindex %d): %s",
			 e->up0, strerror(-err));
		return -1;
	}
	return 0;
}

static int read_counters(const struct env *e, struct counter_val sum[CNT_MAX])
{
	struct counter_val per_cpu[e->ncpus];
	__u32 id;
	int cpu;

	for (id = 0; id < CNT_MAX; id++) {
		if (bpf_map_lookup_elem(e->stats_fd, &id, per_cpu))
			return -1;
		sum[id].packets = sum[id].bytes = 0;
		for (cpu = 0; cpu < e->ncpus; cpu++) {
			sum[id].packets += per_cpu[cpu].packets;
			sum[id].bytes += per_cpu[cpu].bytes;
		}
	}
	return 0;
}

/* Exactly want_id (and also_id, unless -1) moved, by 1 packet and
 * want_bytes each; nothing else. */
static void check_counters(const char *name, const struct counter_val before[CNT_MAX],
			   const struct counter_val after[CNT_MAX], int want_id,
			   int also_id, __u64 want_bytes)
{
	static const char *const names[] = EGRESS_COUNTER_NAMES;
	char why[512] = "";
	size_t n = 0;
	int id;

	for (id = 0; id < CNT_MAX; id++) {
		bool want = id == want_id || id == also_id;
		__u64 dp = after[id].packets - before[id].packets;
		__u64 db = after[id].bytes - before[id].bytes;
		__u64 wp = want ? 1 : 0;
		__u64 wb = want ? want_bytes : 0;

		if ((dp != wp || db != wb) && n < sizeof(why))
			n += snprintf(why + n, sizeof(why) - n,
				      "%s%s +%llu pkts +%llu bytes (want +%llu/+%llu)",
				      n ? ", " : "", names[id], (unsigned long long)dp,
				      (unsigned long long)db, (unsigned long long)wp,
				      (unsigned long long)wb);
	}
	CHECK(!why[0], name, "%s", why);
}

/* The frame the next hop must see: rebuilt here, not derived from the
 * program's output. */
static void expected_redirect(const struct env *e, const __u8 *in,
			      const struct layout *lo, __u8 *want)
{
	memcpy(want, in, lo->len);
	memcpy(want, mac_gw, 6);
	memcpy(want + 6, e->up0_mac, 6);
	if (lo->l3_kind == L3_IPV4) {
		want[lo->l3 + 8]--;
		ipv4_fill_csum(want + lo->l3);
	} else {
		want[lo->l3 + 7]--;
	}
}

/* The tc program's verdict for the XDP action a fixture names. */
static int tc_verdict(int xdp_action)
{
	switch (xdp_action) {
	case XDP_REDIRECT: return TC_ACT_REDIRECT;
	case XDP_PASS: return TC_ACT_OK;
	case XDP_DROP: return TC_ACT_SHOT;
	default: return -1;
	}
}

/* Runs one fixture through xdp_egress (tc false) or tc_egress (tc true). */
static int run_fixture(const struct env *e, const struct fixture *fx, bool tc)
{
	static __u8 in[MAX_FRAME], out[MAX_FRAME], want[MAX_FRAME];
	struct counter_val before[CNT_MAX], after[CNT_MAX];
	const char *(*verdict_name)(int) = tc ? tc_action_name : action_name;
	bool redirect = fx->action == XDP_REDIRECT;
	int want_action = tc ? tc_verdict(fx->action) : fx->action;
	struct layout lo;
	struct xdp_md ctx = {};
	struct __sk_buff skb = {};
	char name[160];
	int err, diff;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

#define NAME(what) (snprintf(name, sizeof(name), "%s/%s/%s", tc ? "egress_tc" : "egress", \
			     fx->name, what), name)

	if (build_frame(&fx->pkt, in, &lo)) {
		CHECK(0, NAME("build"), "bad address in fixture");
		return 0;
	}
	if (read_counters(e, before)) {
		CHECK(0, NAME("counter"), "reading egress_stats: %s", strerror(errno));
		return -1;
	}

	opts.data_in = in;
	opts.data_size_in = lo.len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.repeat = 1;
	if (tc) {
		/* As on the host veth's tcx ingress: the skb's device and the
		 * device it arrived on are both h0. */
		skb.ifindex = e->h0;
		skb.ingress_ifindex = e->h0;
		skb.gso_size = fx->gso_size;
		if (fx->gso_size)
			skb.gso_segs = (lo.len + fx->gso_size - 1) / fx->gso_size;
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	} else {
		ctx.data = 0;
		ctx.data_end = lo.len;
		ctx.ingress_ifindex = e->h0;
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	memset(out, 0xee, sizeof(out));
	err = bpf_prog_test_run_opts(tc ? e->tc_fd : e->prog_fd, &opts);

	if (read_counters(e, after)) {
		CHECK(0, NAME("counter"), "reading egress_stats: %s", strerror(errno));
		return -1;
	}
	if (fx->rejected || (tc && fx->tc_rejected)) {
		CHECK(err < 0, NAME("rejected"), "test_run accepted a %zu-byte frame (retval %s)",
		      lo.len, verdict_name(opts.retval));
		check_counters(NAME("counter"), before, after, -1, -1, 0);
		return 0;
	}
	if (err) {
		CHECK(0, NAME("test_run"), "bpf_prog_test_run_opts: %s", strerror(-err));
		return 0;
	}

	CHECK(opts.retval == (__u32)want_action, NAME("action"), "got %s, want %s",
	      verdict_name(opts.retval), verdict_name(want_action));
	/* tc counts a redirected GSO skb twice: redirected and redirected_gso. */
	check_counters(NAME("counter"), before, after, fx->counter,
		       tc && redirect && fx->gso_size ? CNT_GSO : -1, lo.len);

	if (!redirect) {
		diff = opts.data_size_out == lo.len ? first_diff(out, in, lo.len) : 0;
		CHECK(opts.data_size_out == lo.len && diff < 0, NAME("output_unchanged"),
		      "output %u bytes (input %zu), first difference at byte %d",
		      opts.data_size_out, lo.len, diff);
		return 0;
	}

	expected_redirect(e, in, &lo, want);
	diff = opts.data_size_out == lo.len ? first_diff(out, want, lo.len) : 0;
	CHECK(opts.data_size_out == lo.len && diff < 0, NAME("output"),
	      "output %u bytes (want %zu), first difference at byte %d",
	      opts.data_size_out, lo.len, diff);
	CHECK(!memcmp(out, mac_gw, 6) && !memcmp(out + 6, e->up0_mac, 6), NAME("macs"),
	      "dst %02x:%02x:%02x:%02x:%02x:%02x src %02x:%02x:%02x:%02x:%02x:%02x, "
	      "want gateway " MAC_GW " and up0 " MAC_UP0,
	      out[0], out[1], out[2], out[3], out[4], out[5],
	      out[6], out[7], out[8], out[9], out[10], out[11]);
	if (lo.l3_kind == L3_IPV4) {
		ASSERT_EQ(out[lo.l3 + 8], in[lo.l3 + 8] - 1, NAME("ttl"));
		CHECK(ipv4_csum_ok(out + lo.l3), NAME("ip_csum"),
		      "header checksum 0x%04x does not verify, full recomputation gives 0x%04x",
		      get16(out + lo.l3 + 10), get16(want + lo.l3 + 10));
	} else {
		ASSERT_EQ(out[lo.l3 + 7], in[lo.l3 + 7] - 1, NAME("hop_limit"));
	}
	diff = first_diff(out + lo.l4, in + lo.l4, lo.len - lo.l4);
	CHECK(diff < 0, NAME("l4_unchanged"), "L4 differs at byte %d of the L4 header", diff);
	CHECK(l4_sum(out, &lo) == 0xffff, NAME("l4_csum"),
	      "L4 checksum no longer verifies after the rewrite");
	return 0;
#undef NAME
}

int main(void)
{
	struct env e = {};
	char why[512] = "";
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("FAIL egress/setup: must run as root (unshare(CLONE_NEWNET), "
		       "ip link and BPF loading need CAP_SYS_ADMIN/CAP_NET_ADMIN/CAP_BPF)\n");
		return 1;
	}
	if (build_namespace(&e, why, sizeof(why)))
		goto setup_failed;
	e.ncpus = libbpf_num_possible_cpus();
	if (e.ncpus <= 0) {
		snprintf(why, sizeof(why), "libbpf_num_possible_cpus: %s",
			 strerror(-e.ncpus));
		goto setup_failed;
	}
	if (load_program(&e, why, sizeof(why)))
		goto setup_failed;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		if (!fixtures[i].tc_only && run_fixture(&e, &fixtures[i], false))
			goto cleanup;
	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		if (run_fixture(&e, &fixtures[i], true))
			break;
	goto cleanup;

setup_failed:
	printf("FAIL egress/setup: %s\n", why);
	unit_failures++;
cleanup:
	egress_bpf__destroy(e.skel);
	/* The namespace and its links die with the process. */
	UNIT_EXIT();
}
