// SPDX-License-Identifier: GPL-2.0
/*
 * Table-driven unit test of SNAT: the egress program's translation and
 * connection tracking (bpf/nat.h, bpf/conntrack.h, bpf/egress.bpf.c) and the
 * uplink program's return path and ICMP error translation
 * (bpf/uplink.bpf.c), the two sharing one `ct` map as `attach --snat` sets
 * them up.
 *
 * A scenario is a table of steps run in order against one loaded pair of
 * programs. A step is a frame the container sends (run through xdp_egress
 * with ingress_ifindex h0/h1), a frame the world sends back (through
 * xdp_uplink with ingress_ifindex up0), or a wait / conntrack-table check for
 * the expiry scenarios. Every packet step checks the XDP action, the counter
 * deltas, and the whole output frame against one built here from scratch;
 * every checksum of a rewritten frame is verified again by a full
 * recomputation (IPv4 header, TCP/UDP with pseudo header, ICMP, ICMPv6 with
 * pseudo header, and for ICMP errors the quoted IPv4 header and, when the
 * quote is complete, the quoted L4 checksum). Steps that create a flow check
 * both conntrack entries field by field. Adding a case is adding a row.
 *
 * Scenarios, each with freshly loaded programs and its own ct map:
 *   nat      every rewrite both ways (TCP/UDP/ICMP echo, v4/v6), what is
 *            passed and why, port keeping and collisions, ICMP errors,
 *            TCP state (close, reuse of a tuple)
 *   nat_tc   the same table with the tc program (tc_egress, --mode tc) as
 *            the egress side: its SNAT rewrite goes through the kernel's
 *            checksum helpers (bpf/skb_nat.h), which update a test_run skb
 *            (CHECKSUM_NONE) as a full checksum, so every translated frame
 *            is again compared byte for byte and every checksum recomputed;
 *            the uplink's xdp_uplink answers the flows tc_egress created
 *            (one ct map). Verdicts TC_ACT_REDIRECT / TC_ACT_OK.
 *   full     a 5-entry ct map: new flows pass as pass_ct_full, untouched,
 *            with nothing left behind; existing flows keep translating
 *   full_tc  the same with tc_egress
 *   expiry   all timeouts 1 s: idle flows go, refreshed ones re-arm, the
 *            table is empty after 3 s
 *   closing  tcp_est 30 s, tcp_close 1 s: a closed connection goes after
 *            tcp_close even when its timer was armed for tcp_est
 *   route    the route cache in the orig entry: filled by a flow's second
 *            packet; a neighbour (MAC), MTU or route change reaches the
 *            flow within RT_CACHE_TICKS jiffies (steps wait 100 ms); a FIN
 *            right after cached packets still closes the flow; the
 *            namespace is put back as it was at the end
 *
 * No frame is sent anywhere: bpf_prog_test_run_opts() only returns
 * XDP_REDIRECT. bpf_fib_lookup() needs real routes and neighbours, so the
 * test moves into a private network namespace first (unshare) and builds a
 * small host there with `ip`; it all vanishes with the process.
 *
 *   c0 (container 0: 10.0.0.2 fd00::c0) ==veth== h0 [xdp_egress] 10.0.0.1/24 fd00::1/64
 *   c1 (container 1: 10.0.1.2 fd00:1::c1) ==veth== h1 [xdp_egress] 10.0.1.1/24 fd00:1::1/64
 *   up0 [xdp_uplink] 192.0.2.1/24 fd01::1/64 ==veth== up0p
 *        default via 192.0.2.2 / fd01::2, both PERMANENT neighbours
 *   SNAT address: 192.0.2.1 / fd01::1 (what `--snat auto` picks), ports
 *   16384-32767.
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_egress.h"
#include "egress.skel.h"
#include "uplink.skel.h"
#include "unit.h"
#include "pkt_util.h"

#define MAX_FRAME 2048
#define PORT_MIN 16384
#define PORT_MAX 32767

#define MAC_H0  "02:00:00:00:00:01"
#define MAC_C0  "02:00:00:00:00:02"
#define MAC_H1  "02:00:00:00:00:11"
#define MAC_C1  "02:00:00:00:00:12"
#define MAC_UP0 "02:00:00:00:01:01"
#define MAC_GW  "02:00:00:00:0a:02"

static const __u8 mac_host[2][6] = { { 2, 0, 0, 0, 0, 0x01 }, { 2, 0, 0, 0, 0, 0x11 } };
static const __u8 mac_cont[2][6] = { { 2, 0, 0, 0, 0, 0x02 }, { 2, 0, 0, 0, 0, 0x12 } };
static const __u8 mac_up0[6] = { 2, 0, 0, 0, 0x01, 0x01 };
static const __u8 mac_gw[6] = { 2, 0, 0, 0, 0x0a, 0x02 };
#define MAC_GW2 "02:00:00:00:0a:03"
static const __u8 mac_gw2[6] = { 2, 0, 0, 0, 0x0a, 0x03 };

static const char *const cont_addr4[2] = { "10.0.0.2", "10.0.1.2" };
/* Neither container address may be checksum-neutral against the SNAT
 * address (fd00::2 would be: fd00 + 2 == fd01 + 1), or a missing
 * pseudo-header update would go unseen. */
static const char *const cont_addr6[2] = { "fd00::c0", "fd00:1::c1" };
#define SNAT4 "192.0.2.1"
#define SNAT6 "fd01::1"
#define WORLD4 "8.8.8.8"
#define WORLD6 "2001:4860:4860::8888"
#define WORLD4B "8.8.4.4"
#define WORLD6B "2001:4860:4860::8844"
#define ROUTER4 "198.18.0.1"            /* sends the ICMP errors */
#define ROUTER6 "2001:db8:ffff::1"

static const char *const setup_cmds[] = {
	"ip link set lo up",
	"ip link add h0 address " MAC_H0 " type veth peer name c0 address " MAC_C0,
	"ip link add h1 address " MAC_H1 " type veth peer name c1 address " MAC_C1,
	"ip link add up0 address " MAC_UP0 " type veth peer name up0p",
	"ip link set h0 up", "ip link set c0 up",
	"ip link set h1 up", "ip link set c1 up",
	"ip link set up0 up", "ip link set up0p up",
	/* c0/c1 stay unaddressed: in this one namespace an address there
	 * would make the containers' sources local addresses of the host. */
	"ip addr add 10.0.0.1/24 dev h0",
	"ip -6 addr add fd00::1/64 dev h0 nodad",
	"ip addr add 10.0.1.1/24 dev h1",
	"ip -6 addr add fd00:1::1/64 dev h1 nodad",
	"ip addr add " SNAT4 "/24 dev up0",
	"ip -6 addr add " SNAT6 "/64 dev up0 nodad",
	"ip route add default via 192.0.2.2 dev up0",
	"ip -6 route add ::/0 via fd01::2 dev up0",
	"ip neigh replace 192.0.2.2 lladdr " MAC_GW " dev up0 nud permanent",
	"ip -6 neigh replace fd01::2 lladdr " MAC_GW " dev up0 nud permanent",
};

/* ---- packets ----------------------------------------------------------- */

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

enum kind { K_TCP = 1, K_UDP, K_ECHO, K_ECHO_REPLY, K_ERROR };

/* One IP packet as a few fields; build_ip() makes it bytes, every length
 * and checksum computed in full. */
struct pkt {
	int fam;                /* 4 or 6 */
	__u8 src[16], dst[16];  /* IPv4: first 4 bytes */
	__u8 ttl;
	enum kind kind;
	__u16 sport, dport;     /* TCP/UDP */
	__u8 tcp_flags;
	bool udp_zero;          /* IPv4 UDP sent without checksum */
	__u16 id, seq;          /* ICMP echo */
	__u8 type, code;        /* K_ERROR */
	__u32 rest;             /* K_ERROR: the 4 bytes after the checksum */
	const __u8 *quote;      /* K_ERROR: the quoted packet */
	size_t quote_len;
	bool adj;               /* first payload word is adj_word, not the pattern */
	__u16 adj_word;
};

static size_t alen(int fam)
{
	return fam == 4 ? 4 : 16;
}

static __u8 proto_of(int fam, enum kind k)
{
	if (k == K_TCP)
		return IPPROTO_TCP;
	if (k == K_UDP)
		return IPPROTO_UDP;
	return fam == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}

/* Sum of the pseudo header of an IP packet (ip points at its header). */
static __u32 pseudo_sum(const __u8 *ip, __u8 proto, size_t l4_len)
{
	__u32 sum;

	if (ip[0] >> 4 == 4)
		sum = csum_add(0, ip + 12, 8);
	else
		sum = csum_add(0, ip + 8, 32);
	return sum + proto + (__u32)l4_len;
}

static size_t payload_len(enum kind k, __u8 tcp_flags)
{
	switch (k) {
	case K_TCP: return (tcp_flags & TH_SYN) ? 0 : 24;
	case K_UDP: return 33;          /* odd: the checksum's last byte alone */
	case K_ECHO:
	case K_ECHO_REPLY: return 56;
	default: return 0;
	}
}

/* Writes the IP packet; returns its length. */
static size_t build_ip(const struct pkt *p, __u8 *ip)
{
	size_t hlen = p->fam == 4 ? 20 : 40, pl = payload_len(p->kind, p->tcp_flags);
	__u8 proto = proto_of(p->fam, p->kind);
	__u8 *l4 = ip + hlen;
	size_t l4_len, i, csum_off;
	__u16 sum;

	memset(ip, 0, hlen + 60 + pl + p->quote_len);
	switch (p->kind) {
	case K_TCP:
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put32(l4 + 4, 0x01020304);
		put32(l4 + 8, (p->tcp_flags & TH_ACK) ? 0x0a0b0c0d : 0);
		l4[12] = 5 << 4;
		l4[13] = p->tcp_flags;
		put16(l4 + 14, 64240);
		l4_len = 20;
		csum_off = 16;
		break;
	case K_UDP:
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put16(l4 + 4, 8 + pl);
		l4_len = 8;
		csum_off = 6;
		break;
	case K_ECHO:
	case K_ECHO_REPLY:
		if (p->fam == 4)
			l4[0] = p->kind == K_ECHO ? 8 : 0;
		else
			l4[0] = p->kind == K_ECHO ? 128 : 129;
		put16(l4 + 4, p->id);
		put16(l4 + 6, p->seq);
		l4_len = 8;
		csum_off = 2;
		break;
	default: /* K_ERROR */
		l4[0] = p->type;
		l4[1] = p->code;
		put32(l4 + 4, p->rest);
		memcpy(l4 + 8, p->quote, p->quote_len);
		l4_len = 8 + p->quote_len;
		csum_off = 2;
		break;
	}
	for (i = 0; i < pl; i++)
		l4[l4_len + i] = (__u8)(i * 7 + 3);
	if (p->adj && pl >= 2)
		put16(l4 + l4_len, p->adj_word);
	l4_len += pl;

	if (p->fam == 4) {
		ip[0] = 0x45;
		put16(ip + 2, hlen + l4_len);
		put16(ip + 4, 0x4242);
		put16(ip + 6, 0x4000);          /* DF */
		ip[8] = p->ttl;
		ip[9] = proto;
		memcpy(ip + 12, p->src, 4);
		memcpy(ip + 16, p->dst, 4);
		put16(ip + 10, ~csum_fold(csum_add(0, ip, 20)) & 0xffff);
	} else {
		put32(ip, 0x60000000 | 0x12345);
		put16(ip + 4, l4_len);
		ip[6] = proto;
		ip[7] = p->ttl;
		memcpy(ip + 8, p->src, 16);
		memcpy(ip + 24, p->dst, 16);
	}

	if (proto == IPPROTO_ICMP)
		sum = ~csum_fold(csum_add(0, l4, l4_len));
	else
		sum = ~csum_fold(csum_add(pseudo_sum(ip, proto, l4_len), l4, l4_len));
	if (proto == IPPROTO_UDP) {
		if (p->udp_zero)
			sum = 0;
		else if (sum == 0)
			sum = 0xffff;           /* RFC 768 */
	}
	put16(l4 + csum_off, sum);
	return hlen + l4_len;
}

static size_t build_frame(const __u8 dmac[6], const __u8 smac[6],
			  const struct pkt *p, __u8 *f)
{
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, p->fam == 4 ? 0x0800 : 0x86dd);
	return 14 + build_ip(p, f + 14);
}

/*
 * Independent verification of every checksum in an IP packet of avail
 * bytes: 1 valid, 0 invalid, -1 not applicable / cannot be recomputed (a
 * truncated quote). ICMP errors are checked inside too.
 */
struct verdict {
	int ip, l4, inner_ip, inner_l4;
};

static void verify_ip(const __u8 *ip, size_t avail, struct verdict *v)
{
	int fam = ip[0] >> 4;
	size_t hlen, tot, l4_len;
	const __u8 *l4;
	__u8 proto;
	bool error = false;

	v->ip = v->l4 = v->inner_ip = v->inner_l4 = -1;
	if (fam == 4) {
		hlen = (ip[0] & 0x0f) * 4;
		if (avail < hlen)
			return;
		tot = get16(ip + 2);
		proto = ip[9];
		v->ip = csum_fold(csum_add(0, ip, hlen)) == 0xffff;
	} else {
		hlen = 40;
		if (avail < hlen)
			return;
		tot = 40 + get16(ip + 4);
		proto = ip[6];
	}
	if (tot > avail || tot < hlen + 8)
		return;
	l4 = ip + hlen;
	l4_len = tot - hlen;
	switch (proto) {
	case IPPROTO_TCP:
		v->l4 = csum_fold(csum_add(pseudo_sum(ip, proto, l4_len), l4, l4_len)) == 0xffff;
		break;
	case IPPROTO_UDP:
		if (!get16(l4 + 6))
			v->l4 = fam == 4;       /* none over IPv4; never over IPv6 */
		else
			v->l4 = csum_fold(csum_add(pseudo_sum(ip, proto, l4_len), l4, l4_len)) == 0xffff;
		break;
	case IPPROTO_ICMP:
		v->l4 = csum_fold(csum_add(0, l4, l4_len)) == 0xffff;
		error = l4[0] == 3 || l4[0] == 11 || l4[0] == 12;
		break;
	case IPPROTO_ICMPV6:
		v->l4 = csum_fold(csum_add(pseudo_sum(ip, proto, l4_len), l4, l4_len)) == 0xffff;
		error = l4[0] >= 1 && l4[0] <= 4;
		break;
	}
	if (error) {
		struct verdict in;

		verify_ip(l4 + 8, l4_len - 8, &in);
		v->inner_ip = in.ip;
		v->inner_l4 = in.l4;
	}
}

/* ---- flows and conntrack keys -------------------------------------------- */

/* A flow as the container sees it (c*), the remote (r*) and as translated
 * (n*). ICMP echo: cport/nport are the identifiers, rport is 0. */
struct flow {
	int fam;
	enum kind kind;         /* K_TCP, K_UDP, K_ECHO */
	int cont;
	__u8 caddr[16], raddr[16], naddr[16];
	__u16 cport, rport, nport;
	__u8 tcp_flags;         /* of the packet that opened it */
	bool udp_zero;
	bool adj;               /* payload word tuned, see ffff_word() */
	__u16 adj_word;
};

/* The packet of flow f: orig direction (container -> world) or reply, with
 * the container's or the translated address/port on our side. */
static void flow_pkt(const struct flow *f, bool reply, bool translated,
		     __u8 tcp_flags, __u16 seq, __u8 ttl, struct pkt *p)
{
	const __u8 *our = translated ? f->naddr : f->caddr;
	__u16 our_port = translated ? f->nport : f->cport;

	memset(p, 0, sizeof(*p));
	p->fam = f->fam;
	p->ttl = ttl;
	p->kind = f->kind;
	p->tcp_flags = tcp_flags;
	p->udp_zero = f->udp_zero;
	p->adj = f->adj;
	p->adj_word = f->adj_word;
	p->seq = seq;
	if (!reply) {
		memcpy(p->src, our, 16);
		memcpy(p->dst, f->raddr, 16);
		p->sport = our_port;
		p->dport = f->rport;
	} else {
		memcpy(p->src, f->raddr, 16);
		memcpy(p->dst, our, 16);
		p->sport = f->rport;
		p->dport = our_port;
		if (f->kind == K_ECHO)
			p->kind = K_ECHO_REPLY;
	}
	if (f->kind == K_ECHO)
		p->id = our_port;
}

/*
 * The first payload word that makes the UDP checksum of p come out as a
 * computed 0, sent as 0xffff (RFC 768): the one value an incremental update
 * gets wrong unless it maps 0 back to 0xffff. With word 0 the stored
 * checksum c is ~S; word c makes the sum S + ~S = 0xffff.
 */
static __u16 ffff_word(struct pkt p)
{
	static __u8 buf[MAX_FRAME];
	__u16 c;

	p.adj = true;
	p.adj_word = 0;
	build_ip(&p, buf);
	c = get16(buf + (p.fam == 4 ? 20 : 40) + 6);
	return c == 0xffff ? 0 : c;
}

static void ct_key_make(struct ct_key *k, int fam, __u8 proto, const __u8 *saddr,
			const __u8 *daddr, __u16 sport, __u16 dport)
{
	memset(k, 0, sizeof(*k));
	k->family = fam == 4 ? AF_INET : AF_INET6;
	k->proto = proto;
	memcpy(k->saddr, saddr, alen(fam));
	memcpy(k->daddr, daddr, alen(fam));
	k->sport = htons(sport);
	k->dport = htons(dport);
}

/* What the container sends, keyed as the egress program must key it. */
static void key_orig(const struct flow *f, struct ct_key *k)
{
	ct_key_make(k, f->fam, proto_of(f->fam, f->kind), f->caddr, f->raddr,
		    f->cport, f->kind == K_ECHO ? 0 : f->rport);
}

/* What the world sends back. */
static void key_reply(const struct flow *f, struct ct_key *k)
{
	ct_key_make(k, f->fam, proto_of(f->fam, f->kind), f->raddr, f->naddr,
		    f->kind == K_ECHO ? 0 : f->rport, f->nport);
}

static int addr_of(int fam, const char *s, __u8 out[16])
{
	memset(out, 0, 16);
	return inet_pton(fam == 4 ? AF_INET : AF_INET6, s, out) == 1 ? 0 : -1;
}

/* ---- steps ------------------------------------------------------------- */

enum where { W_EGRESS = 1, W_UPLINK, W_WAIT, W_COUNT, W_PRESENT, W_CMD, W_CACHED };
enum port_rule { PORT_ANY = 0, PORT_KEEP, PORT_MAPPED, PORT_SAME };
enum pre { PRE_NONE = 0, PRE_RESERVE, PRE_FILL };
/* UDP checksum 0xffff on the container's side of the step (egress input,
 * uplink output) or on the world's (egress output: needs PORT_KEEP, uplink
 * input). */
enum ffff { FFFF_NONE = 0, FFFF_CONTAINER, FFFF_WORLD };

struct step {
	const char *name;
	enum where where;
	/* The packet. Egress: the container's; with .flow, another packet of
	 * that step's flow. Uplink: with .flow, the world's answer to that
	 * step's flow; without, a packet to the SNAT address from remote
	 * port .sport to .dport that nobody translated. */
	int fam;
	enum kind kind;
	int cont;
	__u16 sport, dport;     /* TCP/UDP ports; ICMP echo: .sport is the id */
	const char *dst;        /* the remote; NULL: WORLD4 / WORLD6 */
	__u8 tcp_flags;         /* with .flow: 0 repeats the flow's first */
	bool udp_zero;
	enum ffff ffff;
	__u16 seq;              /* echo sequence, 0: 1 */
	const char *flow;
	__u16 rport_delta;      /* uplink: answer from another remote port */
	/* Uplink ICMP error about .flow (err_type != 0); egress: an ICMP
	 * error the container sends (kind K_ERROR). */
	__u8 err_type, err_code;
	__u32 err_rest;
	__u16 quote_l4;         /* quote only this many L4 bytes; 0: all */
	__u8 quote_ttl;         /* TTL in the quoted header; 0: as forwarded */
	enum pre pre;           /* egress: a conntrack entry put in first */
	/* What must happen. */
	int action;
	int counter;            /* egress_counter or ingress_counter */
	bool new_flow;
	enum port_rule port;
	const char *differ;     /* the translated port must differ from this step's */
	int state;              /* orig entry's state afterwards, + 1; 0: unchecked */
	const __u8 *gw_mac;     /* egress: the next hop's MAC; NULL: MAC_GW */
	/* W_WAIT / W_COUNT / W_PRESENT / W_CMD / W_CACHED */
	int wait_ms;
	int count;
	bool present;
	const char *cmd;        /* W_CMD: run in the test's namespace */
};

#define EG .where = W_EGRESS
#define UP .where = W_UPLINK
#define V4 .fam = 4
#define V6 .fam = 6
#define C1 .cont = 1
#define TCP(sp, dp, fl) .kind = K_TCP, .sport = (sp), .dport = (dp), .tcp_flags = (fl)
#define UDP(sp, dp) .kind = K_UDP, .sport = (sp), .dport = (dp)
#define ECHO(id) .kind = K_ECHO, .sport = (id)
#define NEW(rule) .action = XDP_REDIRECT, .counter = CNT_REDIRECTED, .new_flow = true, \
		  .port = (rule), .state = CT_NEW + 1
#define AGAIN(f) .flow = (f), .action = XDP_REDIRECT, .counter = CNT_REDIRECTED, .port = PORT_SAME
#define EPASS(c) .action = XDP_PASS, .counter = (c)
#define REPLY(f) .flow = (f), .action = XDP_REDIRECT, .counter = IN_REDIRECTED
#define ICMP_ERR(f, t, c) .flow = (f), .err_type = (t), .err_code = (c), \
			  .action = XDP_REDIRECT, .counter = IN_ICMP_ERROR
#define UPASS .action = XDP_PASS, .counter = IN_PASS_NO_CT
#define STATE(s) .state = (s) + 1
#define WAIT(ms) .where = W_WAIT, .wait_ms = (ms)
#define COUNT(n) .where = W_COUNT, .count = (n)
#define PRESENT(f, yes) .where = W_PRESENT, .flow = (f), .present = (yes)
#define CMD(c) .where = W_CMD, .cmd = (c)
/* The orig entry of f caches a route via up0 to gw (NULL: none cached). */
#define CACHED(f, gw) .where = W_CACHED, .flow = (f), .gw_mac = (gw)
#define SYNACK (TH_SYN | TH_ACK)

/* The main scenario: default timeouts, a large table, both programs. */
static const struct step nat_steps[] = {
	/* ---- egress, IPv4 ---- */
	{ "v4_tcp_syn_port_kept", EG, V4, TCP(20001, 80, TH_SYN), NEW(PORT_KEEP) },
	{ "v4_tcp_syn_port_mapped", EG, V4, TCP(40000, 80, TH_SYN), NEW(PORT_MAPPED) },
	{ "v4_tcp_syn_retransmit_same_port", EG, AGAIN("v4_tcp_syn_port_mapped"), STATE(CT_NEW) },
	{ "v4_tcp_ack_same_port", EG, AGAIN("v4_tcp_syn_port_mapped"), .tcp_flags = TH_ACK | TH_PSH },
	{ "v4_udp_port_kept", EG, V4, UDP(20002, 53), NEW(PORT_KEEP) },
	{ "v4_udp_port_mapped", EG, V4, UDP(40000, 53), NEW(PORT_MAPPED) },
	{ "v4_udp_second_packet_same_port", EG, AGAIN("v4_udp_port_mapped"), .seq = 2, STATE(CT_NEW) },
	{ "v4_udp_zero_csum_stays_zero", EG, V4, UDP(40001, 123), .udp_zero = true, NEW(PORT_MAPPED) },
	{ "v4_udp_zero_csum_port_kept", EG, V4, UDP(20003, 123), .udp_zero = true, NEW(PORT_KEEP) },
	{ "v4_udp_container_csum_ffff", EG, V4, UDP(40003, 53), .ffff = FFFF_CONTAINER, NEW(PORT_MAPPED) },
	{ "v4_udp_translated_csum_ffff", EG, V4, UDP(20012, 53), .ffff = FFFF_WORLD, NEW(PORT_KEEP) },
	{ "v4_icmp_echo_id_kept", EG, V4, ECHO(20004), NEW(PORT_KEEP) },
	{ "v4_icmp_echo_id_mapped", EG, V4, ECHO(40000), NEW(PORT_MAPPED) },
	{ "v4_icmp_echo_second_same_id", EG, AGAIN("v4_icmp_echo_id_mapped"), .seq = 2 },
	{ "v4_tcp_ack_no_entry_pass_kernel_flow", EG, V4, TCP(20005, 443, TH_ACK), EPASS(CNT_PASS_KERNEL_FLOW) },
	{ "v4_tcp_synack_no_entry_pass_kernel_flow", EG, V4, TCP(20006, 443, SYNACK), EPASS(CNT_PASS_KERNEL_FLOW) },
	{ "v4_tcp_rst_no_entry_pass_kernel_flow", EG, V4, TCP(20007, 443, TH_RST), EPASS(CNT_PASS_KERNEL_FLOW) },
	{ "v4_tcp_fin_no_entry_pass_kernel_flow", EG, V4, TCP(40002, 443, TH_FIN | TH_ACK), EPASS(CNT_PASS_KERNEL_FLOW) },
	{ "v4_icmp_port_unreach_pass_icmp_other", EG, V4, .kind = K_ERROR, .err_type = 3, .err_code = 3,
	  EPASS(CNT_PASS_ICMP_OTHER) },
	{ "v4_icmp_frag_needed_pass_icmp_other", EG, V4, .kind = K_ERROR, .err_type = 3, .err_code = 4,
	  .err_rest = 1400, EPASS(CNT_PASS_ICMP_OTHER) },
	{ "v4_icmp_echo_reply_pass_icmp_other", EG, V4, .kind = K_ECHO_REPLY, .sport = 20008,
	  EPASS(CNT_PASS_ICMP_OTHER) },

	/* Port collisions: the reply key (remote, SNAT address, port) must be
	 * unique; the same port towards another remote is no collision. */
	{ "v4_udp_c0_port_20000_kept", EG, V4, UDP(20000, 53), NEW(PORT_KEEP) },
	{ "v4_udp_c1_same_port_same_dst_remapped", EG, V4, C1, UDP(20000, 53), NEW(PORT_MAPPED),
	  .differ = "v4_udp_c0_port_20000_kept" },
	{ "v4_udp_c1_same_port_other_dst_kept", EG, V4, C1, UDP(20000, 53), .dst = WORLD4B, NEW(PORT_KEEP) },
	{ "v4_udp_c1_remapped_second_packet", EG, AGAIN("v4_udp_c1_same_port_same_dst_remapped"), .seq = 3 },
	{ "v4_tcp_c0_port_20009_kept", EG, V4, TCP(20009, 443, TH_SYN), NEW(PORT_KEEP) },
	{ "v4_tcp_c1_same_port_same_dst_remapped", EG, V4, C1, TCP(20009, 443, TH_SYN), NEW(PORT_MAPPED),
	  .differ = "v4_tcp_c0_port_20009_kept" },
	{ "v4_icmp_echo_c0_id_20010_kept", EG, V4, ECHO(20010), NEW(PORT_KEEP) },
	{ "v4_icmp_echo_c1_same_id_remapped", EG, V4, C1, ECHO(20010), NEW(PORT_MAPPED),
	  .differ = "v4_icmp_echo_c0_id_20010_kept" },
	{ "v4_udp_reserved_reply_key_forces_other_port", EG, V4, UDP(21000, 53), .dst = WORLD4B,
	  .pre = PRE_RESERVE, NEW(PORT_MAPPED) },
	{ "v6_udp_reserved_reply_key_forces_other_port", EG, V6, UDP(21000, 53), .dst = WORLD6B,
	  .pre = PRE_RESERVE, NEW(PORT_MAPPED) },

	/* ---- egress, IPv6 ---- */
	{ "v6_tcp_syn_port_kept", EG, V6, TCP(20001, 80, TH_SYN), NEW(PORT_KEEP) },
	{ "v6_tcp_syn_port_mapped", EG, V6, TCP(40000, 80, TH_SYN), NEW(PORT_MAPPED) },
	{ "v6_tcp_syn_retransmit_same_port", EG, AGAIN("v6_tcp_syn_port_mapped") },
	{ "v6_tcp_ack_same_port", EG, AGAIN("v6_tcp_syn_port_mapped"), .tcp_flags = TH_ACK | TH_PSH },
	{ "v6_udp_port_kept", EG, V6, UDP(20002, 53), NEW(PORT_KEEP) },
	{ "v6_udp_port_mapped", EG, V6, UDP(40000, 53), NEW(PORT_MAPPED) },
	{ "v6_udp_second_packet_same_port", EG, AGAIN("v6_udp_port_mapped"), .seq = 2 },
	{ "v6_udp_container_csum_ffff", EG, V6, UDP(40003, 53), .ffff = FFFF_CONTAINER, NEW(PORT_MAPPED) },
	{ "v6_udp_translated_csum_ffff", EG, V6, UDP(20012, 53), .ffff = FFFF_WORLD, NEW(PORT_KEEP) },
	{ "v6_icmpv6_echo_id_kept", EG, V6, ECHO(20004), NEW(PORT_KEEP) },
	{ "v6_icmpv6_echo_id_mapped", EG, V6, ECHO(40000), NEW(PORT_MAPPED) },
	{ "v6_icmpv6_echo_second_same_id", EG, AGAIN("v6_icmpv6_echo_id_mapped"), .seq = 2 },
	{ "v6_tcp_ack_no_entry_pass_kernel_flow", EG, V6, TCP(20005, 443, TH_ACK), EPASS(CNT_PASS_KERNEL_FLOW) },
	{ "v6_tcp_synack_no_entry_pass_kernel_flow", EG, V6, TCP(20006, 443, SYNACK), EPASS(CNT_PASS_KERNEL_FLOW) },
	{ "v6_icmpv6_dest_unreach_pass_icmp_other", EG, V6, .kind = K_ERROR, .err_type = 1, .err_code = 4,
	  EPASS(CNT_PASS_ICMP_OTHER) },
	{ "v6_icmpv6_packet_too_big_pass_icmp_other", EG, V6, .kind = K_ERROR, .err_type = 2,
	  .err_rest = 1280, EPASS(CNT_PASS_ICMP_OTHER) },
	{ "v6_icmpv6_echo_reply_pass_icmp_other", EG, V6, .kind = K_ECHO_REPLY, .sport = 20008,
	  EPASS(CNT_PASS_ICMP_OTHER) },
	{ "v6_udp_c0_port_20000_kept", EG, V6, UDP(20000, 53), NEW(PORT_KEEP) },
	{ "v6_udp_c1_same_port_same_dst_remapped", EG, V6, C1, UDP(20000, 53), NEW(PORT_MAPPED),
	  .differ = "v6_udp_c0_port_20000_kept" },
	{ "v6_udp_c1_same_port_other_dst_kept", EG, V6, C1, UDP(20000, 53), .dst = WORLD6B, NEW(PORT_KEEP) },
	{ "v6_tcp_c0_port_20009_kept", EG, V6, TCP(20009, 443, TH_SYN), NEW(PORT_KEEP) },
	{ "v6_tcp_c1_same_port_same_dst_remapped", EG, V6, C1, TCP(20009, 443, TH_SYN), NEW(PORT_MAPPED),
	  .differ = "v6_tcp_c0_port_20009_kept" },

	/* ---- uplink: the return path ---- */
	{ "up_v4_tcp_synack_port_kept", UP, REPLY("v4_tcp_syn_port_kept"), .tcp_flags = SYNACK, STATE(CT_ESTABLISHED) },
	{ "up_v4_tcp_synack_port_mapped", UP, REPLY("v4_tcp_syn_port_mapped"), .tcp_flags = SYNACK, STATE(CT_ESTABLISHED) },
	{ "up_v4_tcp_ack_data_port_mapped", UP, REPLY("v4_tcp_syn_port_mapped"), .tcp_flags = TH_ACK | TH_PSH,
	  STATE(CT_ESTABLISHED) },
	{ "up_v4_udp_reply_port_kept", UP, REPLY("v4_udp_port_kept"), STATE(CT_ESTABLISHED) },
	{ "up_v4_udp_reply_port_mapped", UP, REPLY("v4_udp_port_mapped"), STATE(CT_ESTABLISHED) },
	{ "up_v4_udp_reply_zero_csum_stays_zero", UP, REPLY("v4_udp_zero_csum_stays_zero"), STATE(CT_ESTABLISHED) },
	{ "up_v4_udp_reply_translated_csum_ffff", UP, REPLY("v4_udp_port_mapped"), .ffff = FFFF_CONTAINER },
	{ "up_v4_udp_reply_sent_csum_ffff", UP, REPLY("v4_udp_port_mapped"), .ffff = FFFF_WORLD },
	{ "up_v4_icmp_echo_reply_id_kept", UP, REPLY("v4_icmp_echo_id_kept"), STATE(CT_ESTABLISHED) },
	{ "up_v4_icmp_echo_reply_id_mapped", UP, REPLY("v4_icmp_echo_id_mapped"), .seq = 2, STATE(CT_ESTABLISHED) },
	{ "up_v4_udp_reply_to_c0_port_20000", UP, REPLY("v4_udp_c0_port_20000_kept"), STATE(CT_ESTABLISHED) },
	{ "up_v4_udp_reply_to_c1_remapped", UP, REPLY("v4_udp_c1_same_port_same_dst_remapped"), STATE(CT_ESTABLISHED) },
	{ "up_v4_udp_reply_to_c1_other_dst", UP, REPLY("v4_udp_c1_same_port_other_dst_kept"), STATE(CT_ESTABLISHED) },
	{ "up_v4_tcp_synack_to_c1_remapped", UP, REPLY("v4_tcp_c1_same_port_same_dst_remapped"), .tcp_flags = SYNACK,
	  STATE(CT_ESTABLISHED) },
	{ "up_v4_icmp_echo_reply_to_c1", UP, REPLY("v4_icmp_echo_c1_same_id_remapped"), STATE(CT_ESTABLISHED) },
	{ "up_v4_host_own_tcp_pass_not_translated", UP, V4, TCP(443, 45000, SYNACK), UPASS },
	{ "up_v4_host_own_udp_pass_not_translated", UP, V4, UDP(53, 45001), UPASS },
	{ "up_v4_icmp_echo_reply_unknown_id_pass_not_translated", UP, V4, ECHO(45002), UPASS },
	{ "up_v4_udp_other_remote_port_pass_not_translated", UP, .flow = "v4_udp_port_mapped", .rport_delta = 1, UPASS },
	{ "up_v4_udp_to_kept_port_wrong_remote_pass_not_translated", UP, .flow = "v4_udp_port_kept", .rport_delta = 100,
	  UPASS },
	{ "up_v6_tcp_synack_port_kept", UP, REPLY("v6_tcp_syn_port_kept"), .tcp_flags = SYNACK, STATE(CT_ESTABLISHED) },
	{ "up_v6_tcp_synack_port_mapped", UP, REPLY("v6_tcp_syn_port_mapped"), .tcp_flags = SYNACK, STATE(CT_ESTABLISHED) },
	{ "up_v6_udp_reply_port_kept", UP, REPLY("v6_udp_port_kept"), STATE(CT_ESTABLISHED) },
	{ "up_v6_udp_reply_port_mapped", UP, REPLY("v6_udp_port_mapped"), STATE(CT_ESTABLISHED) },
	{ "up_v6_udp_reply_translated_csum_ffff", UP, REPLY("v6_udp_port_mapped"), .ffff = FFFF_CONTAINER },
	{ "up_v6_udp_reply_sent_csum_ffff", UP, REPLY("v6_udp_port_mapped"), .ffff = FFFF_WORLD },
	{ "up_v6_icmpv6_echo_reply_id_kept", UP, REPLY("v6_icmpv6_echo_id_kept"), STATE(CT_ESTABLISHED) },
	{ "up_v6_icmpv6_echo_reply_id_mapped", UP, REPLY("v6_icmpv6_echo_id_mapped"), STATE(CT_ESTABLISHED) },
	{ "up_v6_udp_reply_to_c0_port_20000", UP, REPLY("v6_udp_c0_port_20000_kept"), STATE(CT_ESTABLISHED) },
	{ "up_v6_udp_reply_to_c1_remapped", UP, REPLY("v6_udp_c1_same_port_same_dst_remapped"), STATE(CT_ESTABLISHED) },
	{ "up_v6_tcp_synack_to_c1_remapped", UP, REPLY("v6_tcp_c1_same_port_same_dst_remapped"), .tcp_flags = SYNACK,
	  STATE(CT_ESTABLISHED) },
	{ "up_v6_host_own_tcp_pass_not_translated", UP, V6, TCP(443, 45000, SYNACK), UPASS },
	{ "up_v6_host_own_udp_pass_not_translated", UP, V6, UDP(53, 45001), UPASS },
	{ "up_v6_icmpv6_echo_reply_unknown_id_pass_not_translated", UP, V6, ECHO(45002), UPASS },
	{ "up_v6_udp_other_remote_port_pass_not_translated", UP, .flow = "v6_udp_port_mapped", .rport_delta = 1, UPASS },

	/* ---- uplink: ICMP errors about translated flows ---- */
	{ "err_v4_frag_needed_quoting_udp", UP, ICMP_ERR("v4_udp_port_mapped", 3, 4), .err_rest = 1400 },
	{ "err_v4_frag_needed_quoting_tcp", UP, ICMP_ERR("v4_tcp_syn_port_mapped", 3, 4), .err_rest = 1400 },
	{ "err_v4_frag_needed_quoting_tcp_port_kept", UP, ICMP_ERR("v4_tcp_syn_port_kept", 3, 4), .err_rest = 1280 },
	{ "err_v4_time_exceeded_quoting_udp", UP, ICMP_ERR("v4_udp_port_kept", 11, 0), .quote_ttl = 1 },
	{ "err_v4_time_exceeded_quoting_tcp", UP, ICMP_ERR("v4_tcp_syn_port_mapped", 11, 0), .quote_ttl = 1 },
	{ "err_v4_time_exceeded_quoting_tcp_8_bytes", UP, ICMP_ERR("v4_tcp_syn_port_kept", 11, 0), .quote_ttl = 1,
	  .quote_l4 = 8 },
	{ "err_v4_time_exceeded_quoting_icmp_echo", UP, ICMP_ERR("v4_icmp_echo_id_mapped", 11, 0), .quote_ttl = 1 },
	{ "err_v4_port_unreach_quoting_udp_zero_csum", UP, ICMP_ERR("v4_udp_zero_csum_stays_zero", 3, 3) },
	{ "err_v4_host_unreach_quoting_udp_to_c1", UP, ICMP_ERR("v4_udp_c1_same_port_same_dst_remapped", 3, 1) },
	/* The container's UDP checksum was 0xffff: so must the quoted one be. */
	{ "err_v4_frag_needed_quoting_udp_csum_ffff", UP, ICMP_ERR("v4_udp_container_csum_ffff", 3, 4),
	  .err_rest = 1400 },
	{ "err_v4_no_entry_pass_not_translated", UP, V4, UDP(53, 45001), .err_type = 11, UPASS },
	{ "err_v6_packet_too_big_quoting_udp", UP, ICMP_ERR("v6_udp_port_mapped", 2, 0), .err_rest = 1280 },
	{ "err_v6_packet_too_big_quoting_tcp", UP, ICMP_ERR("v6_tcp_syn_port_mapped", 2, 0), .err_rest = 1400 },
	{ "err_v6_time_exceeded_quoting_udp", UP, ICMP_ERR("v6_udp_port_kept", 3, 0), .quote_ttl = 1 },
	{ "err_v6_time_exceeded_quoting_tcp", UP, ICMP_ERR("v6_tcp_syn_port_kept", 3, 0), .quote_ttl = 1 },
	{ "err_v6_dest_unreach_quoting_tcp", UP, ICMP_ERR("v6_tcp_syn_port_mapped", 1, 3) },
	{ "err_v6_dest_unreach_quoting_icmpv6_echo", UP, ICMP_ERR("v6_icmpv6_echo_id_mapped", 1, 3) },
	{ "err_v6_port_unreach_quoting_udp_to_c1", UP, ICMP_ERR("v6_udp_c1_same_port_same_dst_remapped", 1, 4) },
	{ "err_v6_packet_too_big_quoting_udp_csum_ffff", UP, ICMP_ERR("v6_udp_container_csum_ffff", 2, 0),
	  .err_rest = 1280 },
	{ "err_v6_no_entry_pass_not_translated", UP, V6, UDP(53, 45001), .err_type = 2, .err_rest = 1280, UPASS },

	/* ---- TCP state: close, and a new connection on the same tuple ---- */
	{ "v4_tcp_rst_from_world_closes", UP, REPLY("v4_tcp_syn_port_kept"), .tcp_flags = TH_RST | TH_ACK,
	  STATE(CT_CLOSING) },
	{ "v4_tcp_reopen_syn", EG, V4, TCP(20050, 443, TH_SYN), NEW(PORT_KEEP) },
	{ "v4_tcp_reopen_synack", UP, REPLY("v4_tcp_reopen_syn"), .tcp_flags = SYNACK, STATE(CT_ESTABLISHED) },
	{ "v4_tcp_reopen_fin", EG, AGAIN("v4_tcp_reopen_syn"), .tcp_flags = TH_FIN | TH_ACK, STATE(CT_CLOSING) },
	{ "v4_tcp_reopen_fin_reply", UP, REPLY("v4_tcp_reopen_syn"), .tcp_flags = TH_FIN | TH_ACK, STATE(CT_CLOSING) },
	/* The container opens a new connection on the same 4-tuple (TIME_WAIT
	 * reuse): the entry must start over, as the kernel's conntrack does,
	 * or the new connection lives under the close timeout. */
	{ "v4_tcp_reopen_new_syn_same_tuple", EG, AGAIN("v4_tcp_reopen_syn"), .tcp_flags = TH_SYN, STATE(CT_NEW) },
	{ "v4_tcp_reopen_new_synack", UP, REPLY("v4_tcp_reopen_syn"), .tcp_flags = SYNACK, STATE(CT_ESTABLISHED) },
};

/* Table full: ct holds 5 entries, so two flows (2 entries each) and then
 * only a lone reply entry fit. */
static const struct step full_steps[] = {
	{ "v4_udp_flow1", EG, V4, UDP(20000, 53), NEW(PORT_KEEP) },
	{ "v4_udp_flow2", EG, V4, UDP(20001, 53), NEW(PORT_KEEP) },
	{ "ct_holds_two_flows", COUNT(4) },
	/* The reply entry still fits, the orig entry does not: rolled back. */
	{ "v4_udp_flow3_pass_ct_full", EG, V4, UDP(20002, 53), EPASS(CNT_PASS_CT_FULL) },
	{ "ct_reply_entry_rolled_back", COUNT(4) },
	{ "v4_tcp_syn_mapped_pass_ct_full", EG, V4, TCP(40000, 80, TH_SYN), EPASS(CNT_PASS_CT_FULL) },
	{ "v4_icmp_echo_pass_ct_full", EG, V4, ECHO(20003), EPASS(CNT_PASS_CT_FULL) },
	{ "v6_udp_pass_ct_full", EG, V6, UDP(20004, 53), EPASS(CNT_PASS_CT_FULL) },
	{ "v6_icmpv6_echo_mapped_pass_ct_full", EG, V6, ECHO(40000), EPASS(CNT_PASS_CT_FULL) },
	{ "v4_udp_flow1_still_translated", EG, AGAIN("v4_udp_flow1"), .seq = 2 },
	{ "v4_udp_flow2_still_translated", EG, AGAIN("v4_udp_flow2"), .seq = 2 },
	{ "ct_still_two_flows", COUNT(4) },
	/* Now not even the reply entry fits (a foreign entry takes the 5th). */
	{ "v4_udp_at_max_pass_ct_full", EG, V4, UDP(20005, 53), .pre = PRE_FILL, EPASS(CNT_PASS_CT_FULL) },
	{ "v4_udp_mapped_at_max_pass_ct_full", EG, V4, UDP(40001, 53), EPASS(CNT_PASS_CT_FULL) },
	{ "ct_at_max", COUNT(5) },
	{ "v4_udp_flow1_translated_at_max", EG, AGAIN("v4_udp_flow1"), .seq = 3 },
};

/* Expiry: every timeout 2 s; the sweeper runs every second, so a flow goes
 * between its timeout and one second later. Flows created at t=0;
 * refresh_a is refreshed at 1.2 s, so it outlives the others. */
static const struct step expiry_steps[] = {
	{ "v4_udp", EG, V4, UDP(20000, 53), NEW(PORT_KEEP) },
	{ "v6_tcp_syn", EG, V6, TCP(40000, 80, TH_SYN), NEW(PORT_MAPPED) },
	{ "v4_icmp_echo", EG, V4, ECHO(20001), NEW(PORT_KEEP) },
	{ "v6_udp_replied", EG, V6, UDP(20002, 53), NEW(PORT_KEEP) },
	{ "v6_udp_replied_reply", UP, REPLY("v6_udp_replied"), STATE(CT_ESTABLISHED) },
	{ "v4_udp_refresh_a", EG, V4, UDP(20003, 53), NEW(PORT_KEEP) },
	{ "v4_udp_idle_b", EG, V4, UDP(20004, 53), NEW(PORT_KEEP) },
	{ "all_entries_present", COUNT(12) },
	{ "wait_1.2s", WAIT(1200) },
	{ "v4_udp_refresh_a_again", EG, AGAIN("v4_udp_refresh_a"), .seq = 2 },
	{ "wait_to_3.5s", WAIT(2300) },
	{ "refreshed_flow_survives", PRESENT("v4_udp_refresh_a", true) },
	{ "idle_flow_expired_after_timeout", PRESENT("v4_udp_idle_b", false) },
	{ "only_refreshed_flow_left_at_3.5s", COUNT(2) },
	{ "wait_to_5.5s", WAIT(2000) },
	{ "table_empty_after_5.5s", COUNT(0) },
};

/* Closing: tcp_est 30 s, tcp_close 1 s (others 1 s). An established
 * connection that is then closed must go after tcp_close, not tcp_est. */
static const struct step closing_steps[] = {
	{ "v4_tcp_syn", EG, V4, TCP(20000, 443, TH_SYN), NEW(PORT_KEEP) },
	{ "v4_tcp_synack", UP, REPLY("v4_tcp_syn"), .tcp_flags = SYNACK, STATE(CT_ESTABLISHED) },
	{ "wait_1.5s", WAIT(1500) },
	{ "established_flow_outlives_tcp_syn_timeout", PRESENT("v4_tcp_syn", true) },
	{ "v4_tcp_fin", EG, AGAIN("v4_tcp_syn"), .tcp_flags = TH_FIN | TH_ACK, STATE(CT_CLOSING) },
	{ "v4_tcp_fin_reply", UP, REPLY("v4_tcp_syn"), .tcp_flags = TH_FIN | TH_ACK, STATE(CT_CLOSING) },
	{ "wait_2.5s", WAIT(2500) },
	{ "closed_flow_gone_after_tcp_close_timeout", COUNT(0) },
};

/* Route cache: RT_CACHE_TICKS jiffies are at most 20 ms (HZ 100); each
 * change is given 100 ms. The flow's first packet creates it (no cache), its
 * second looks the FIB up and caches the result. */
static const struct step route_steps[] = {
	{ "v4_udp", EG, V4, UDP(20000, 53), NEW(PORT_KEEP) },
	{ "not_cached_by_first_packet", CACHED("v4_udp", NULL) },
	{ "v4_udp_2", EG, AGAIN("v4_udp") },
	{ "cached_by_second_packet", CACHED("v4_udp", mac_gw) },
	{ "v4_udp_3", EG, AGAIN("v4_udp") },
	{ "v6_tcp_syn", EG, V6, TCP(20001, 443, TH_SYN), NEW(PORT_KEEP) },
	{ "v6_tcp_2", EG, AGAIN("v6_tcp_syn"), .tcp_flags = TH_ACK },
	{ "v6_cached", CACHED("v6_tcp_syn", mac_gw) },
	/* Right after packets the per-CPU flow cache serves (same jiffy, as
	 * a rule), a FIN still reaches the ct entry. */
	{ "v4_tcp_syn", EG, V4, TCP(20003, 443, TH_SYN), NEW(PORT_KEEP) },
	{ "v4_tcp_2", EG, AGAIN("v4_tcp_syn"), .tcp_flags = TH_ACK },
	{ "v4_tcp_3", EG, AGAIN("v4_tcp_syn"), .tcp_flags = TH_ACK },
	{ "v4_tcp_fin", EG, AGAIN("v4_tcp_syn"), .tcp_flags = TH_FIN | TH_ACK, STATE(CT_CLOSING) },
	/* The gateway's MAC changes. */
	{ "neigh_changed", CMD("ip neigh replace 192.0.2.2 lladdr " MAC_GW2 " dev up0 nud permanent && "
			       "ip -6 neigh replace fd01::2 lladdr " MAC_GW2 " dev up0 nud permanent") },
	{ "wait_neigh", WAIT(100) },
	{ "v4_udp_new_mac", EG, AGAIN("v4_udp"), .gw_mac = mac_gw2 },
	{ "v4_cached_new_mac", CACHED("v4_udp", mac_gw2) },
	{ "v4_udp_new_mac_cached", EG, AGAIN("v4_udp"), .gw_mac = mac_gw2 },
	{ "v6_tcp_new_mac", EG, AGAIN("v6_tcp_syn"), .tcp_flags = TH_ACK, .gw_mac = mac_gw2 },
	/* The path MTU drops below the flow's packets (84-byte echo
	 * requests; 68 is IPv4's least MTU; forwarding heeds a route's MTU
	 * when it is locked). */
	{ "v4_echo", EG, V4, ECHO(20002), NEW(PORT_KEEP), .gw_mac = mac_gw2 },
	{ "v4_echo_2", EG, AGAIN("v4_echo"), .seq = 2, .gw_mac = mac_gw2 },
	{ "v4_echo_cached", CACHED("v4_echo", mac_gw2) },
	{ "mtu_lowered", CMD("ip route replace default via 192.0.2.2 dev up0 mtu lock 68") },
	{ "wait_mtu", WAIT(100) },
	{ "v4_echo_too_big", EG, .flow = "v4_echo", .seq = 3, EPASS(CNT_PASS_TOO_BIG) },
	{ "v4_udp_fits", EG, AGAIN("v4_udp"), .gw_mac = mac_gw2 },
	{ "mtu_restored", CMD("ip route replace default via 192.0.2.2 dev up0") },
	{ "wait_mtu_restored", WAIT(100) },
	{ "v4_echo_fits_again", EG, AGAIN("v4_echo"), .seq = 4, .gw_mac = mac_gw2 },
	/* The route turns unreachable: the flow's packets go to the kernel. */
	{ "route_unreachable", CMD("ip route replace unreachable default") },
	{ "wait_route", WAIT(100) },
	{ "v4_udp_unreachable", EG, .flow = "v4_udp", EPASS(CNT_PASS_FIB_FAIL) },
	/* Back as build_namespace() left it. */
	{ "restored", CMD("ip route replace default via 192.0.2.2 dev up0 && "
			  "ip neigh replace 192.0.2.2 lladdr " MAC_GW " dev up0 nud permanent && "
			  "ip -6 neigh replace fd01::2 lladdr " MAC_GW " dev up0 nud permanent") },
	{ "wait_restored", WAIT(100) },
	{ "v4_udp_restored", EG, AGAIN("v4_udp") },
};

struct scenario {
	const char *tag;
	const struct step *steps;
	size_t n;
	__u32 timeouts[CT_TO_MAX];
	__u32 ct_max;           /* 0: as compiled */
	bool uplink;
	bool tc;                /* egress steps through tc_egress, not xdp_egress */
};

#define STEPS(a) (a), sizeof(a) / sizeof((a)[0])

static const struct scenario scenarios[] = {
	{ "nat", STEPS(nat_steps), CT_TIMEOUT_DEFAULTS, 0, true, false },
	{ "nat_tc", STEPS(nat_steps), CT_TIMEOUT_DEFAULTS, 0, true, true },
	{ "full", STEPS(full_steps), CT_TIMEOUT_DEFAULTS, 5, false, false },
	{ "full_tc", STEPS(full_steps), CT_TIMEOUT_DEFAULTS, 5, false, true },
	{ "expiry", STEPS(expiry_steps), { 2, 2, 2, 2, 2, 2 }, 0, true, false },
	{ "closing", STEPS(closing_steps), { 1, 30, 1, 1, 1, 1 }, 0, true, false },
	{ "route", STEPS(route_steps), CT_TIMEOUT_DEFAULTS, 0, true, false },
};

/* ---- environment ------------------------------------------------------- */

struct env {
	int ncpus;
	int host_if[2];         /* h0, h1 */
	int up0;
};

struct result {
	bool ok;                /* the step did what it must (flow usable) */
	struct flow f;
};

struct inst {
	const struct scenario *sc;
	struct egress_bpf *eg;
	struct uplink_bpf *up;
	int eg_fd, up_fd, eg_stats, up_stats, ct_fd;
	struct result *res;
};

static struct env env;

/* Nothing here may run before unshare() succeeded. */
static int build_namespace(char *why, size_t why_len)
{
	size_t i;

	if (unshare(CLONE_NEWNET)) {
		snprintf(why, why_len, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(setup_cmds) / sizeof(setup_cmds[0]); i++)
		if (run_cmd(setup_cmds[i], why, why_len))
			return -1;
	if (write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", why, why_len) ||
	    write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1", why, why_len))
		return -1;
	env.host_if[0] = if_nametoindex("h0");
	env.host_if[1] = if_nametoindex("h1");
	env.up0 = if_nametoindex("up0");
	if (!env.host_if[0] || !env.host_if[1] || !env.up0) {
		snprintf(why, why_len, "if_nametoindex h0/h1/up0: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void destroy_inst(struct inst *in)
{
	uplink_bpf__destroy(in->up);
	egress_bpf__destroy(in->eg);
	free(in->res);
	memset(in, 0, sizeof(*in));
}

/* Both programs as `attach --snat` loads them: the uplink program reuses the
 * egress program's ct map; up0 in tx_ports, h0/h1 in container_ports. */
static int load_inst(struct inst *in, const struct scenario *sc, char *why, size_t why_len)
{
	struct bpf_devmap_val dv = {};
	__u32 key;
	int i, err;

	memset(in, 0, sizeof(*in));
	in->sc = sc;
	in->res = calloc(sc->n, sizeof(*in->res));
	in->eg = egress_bpf__open();
	if (!in->res || !in->eg) {
		snprintf(why, why_len, "egress_bpf__open: %s", strerror(errno));
		return -1;
	}
	in->eg->rodata->snat_v4_on = 1;
	in->eg->rodata->snat_v6_on = 1;
	inet_pton(AF_INET, SNAT4, &in->eg->rodata->snat_v4_addr);
	inet_pton(AF_INET6, SNAT6, in->eg->rodata->snat_v6_addr);
	in->eg->rodata->snat_port_min = PORT_MIN;
	in->eg->rodata->snat_port_max = PORT_MAX;
	for (i = 0; i < CT_TO_MAX; i++)
		in->eg->rodata->ct_timeouts[i] = sc->timeouts[i];
	if (sc->ct_max)
		bpf_map__set_max_entries(in->eg->maps.ct, sc->ct_max);
	err = egress_bpf__load(in->eg);
	if (err) {
		snprintf(why, why_len, "loading xdp_egress/tc_egress with SNAT: %s (verifier "
			 "log on stderr above)", strerror(-err));
		return -1;
	}
	in->eg_fd = bpf_program__fd(sc->tc ? in->eg->progs.tc_egress : in->eg->progs.xdp_egress);
	in->eg_stats = bpf_map__fd(in->eg->maps.egress_stats);
	in->ct_fd = bpf_map__fd(in->eg->maps.ct);
	key = env.up0;
	dv.ifindex = env.up0;
	err = bpf_map_update_elem(bpf_map__fd(in->eg->maps.tx_ports), &key, &dv, BPF_ANY);
	if (err) {
		snprintf(why, why_len, "tx_ports: adding up0: %s", strerror(-err));
		return -1;
	}
	if (!sc->uplink)
		return 0;

	in->up = uplink_bpf__open();
	if (!in->up) {
		snprintf(why, why_len, "uplink_bpf__open: %s", strerror(errno));
		return -1;
	}
	err = bpf_map__reuse_fd(in->up->maps.ct, in->ct_fd);
	if (!err)
		err = uplink_bpf__load(in->up);
	if (err) {
		snprintf(why, why_len, "loading xdp_uplink on the shared ct map: %s "
			 "(verifier log on stderr above)", strerror(-err));
		return -1;
	}
	in->up_fd = bpf_program__fd(in->up->progs.xdp_uplink);
	in->up_stats = bpf_map__fd(in->up->maps.ingress_stats);
	for (i = 0; i < 2; i++) {
		key = env.host_if[i];
		dv.ifindex = env.host_if[i];
		err = bpf_map_update_elem(bpf_map__fd(in->up->maps.container_ports), &key, &dv,
					  BPF_ANY);
		if (err) {
			snprintf(why, why_len, "container_ports: adding h%d: %s", i, strerror(-err));
			return -1;
		}
	}
	return 0;
}

/* ---- checks ------------------------------------------------------------ */

#define MAX_COUNTERS 32

static int read_counters(int fd, int n, struct counter_val *sum)
{
	struct counter_val per_cpu[env.ncpus];
	__u32 id;
	int cpu;

	for (id = 0; id < (__u32)n; id++) {
		if (bpf_map_lookup_elem(fd, &id, per_cpu))
			return -1;
		sum[id].packets = sum[id].bytes = 0;
		for (cpu = 0; cpu < env.ncpus; cpu++) {
			sum[id].packets += per_cpu[cpu].packets;
			sum[id].bytes += per_cpu[cpu].bytes;
		}
	}
	return 0;
}

/* Exactly want_id (+1 packet, +bytes) moved, plus CNT_SNAT_NEW (+1, +0) for
 * a new flow; nothing else. */
static void check_counters(const char *name, const char *const *names, int n,
			   const struct counter_val *before, const struct counter_val *after,
			   int want_id, __u64 bytes, int new_id)
{
	char why[512] = "";
	size_t len = 0;
	int id;

	for (id = 0; id < n; id++) {
		__u64 dp = after[id].packets - before[id].packets;
		__u64 db = after[id].bytes - before[id].bytes;
		__u64 wp = id == want_id || id == new_id;
		__u64 wb = id == want_id ? bytes : 0;

		if ((dp != wp || db != wb) && len < sizeof(why))
			len += snprintf(why + len, sizeof(why) - len,
					"%s%s +%llu pkts +%llu bytes (want +%llu/+%llu)",
					len ? ", " : "", names[id], (unsigned long long)dp,
					(unsigned long long)db, (unsigned long long)wp,
					(unsigned long long)wb);
	}
	CHECK(!why[0], name, "%s", why);
}

static int ct_count(int fd)
{
	struct ct_key k, next;
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (++n > 1 << 20)
			break;
	}
	return n;
}

static const char *state_name(int s)
{
	switch (s) {
	case CT_NEW: return "CT_NEW";
	case CT_ESTABLISHED: return "CT_ESTABLISHED";
	case CT_CLOSING: return "CT_CLOSING";
	default: return "?";
	}
}

static void fmt_key(const struct ct_key *k, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int af = k->family == AF_INET ? AF_INET : AF_INET6;

	inet_ntop(af, k->saddr, s, sizeof(s));
	inet_ntop(af, k->daddr, d, sizeof(d));
	snprintf(buf, len, "{%s proto %u %s:%u -> %s:%u}", af == AF_INET ? "v4" : "v6",
		 k->proto, s, ntohs(k->sport), d, ntohs(k->dport));
}

#define WHY(...) (n += snprintf(why + n, n < sizeof(why) ? sizeof(why) - n : 0, __VA_ARGS__))

/* Both entries of a new flow, field by field. */
static void check_ct_entries(const struct inst *in, const struct flow *f, const char *pfx)
{
	struct ct_key ok, rk;
	struct ct_entry o, r;
	char name[200], why[1024], kb[160];
	size_t n;
	int i;

	key_orig(f, &ok);
	key_reply(f, &rk);

	n = 0;
	why[0] = 0;
	if (bpf_map_lookup_elem(in->ct_fd, &ok, &o)) {
		fmt_key(&ok, kb, sizeof(kb));
		WHY("no orig entry under %s", kb);
	} else {
		if (o.dir != CT_DIR_ORIG)
			WHY("dir %u, want CT_DIR_ORIG; ", o.dir);
		if (o.state != CT_NEW)
			WHY("state %s, want CT_NEW; ", state_name(o.state));
		if (o.ifindex != (__u32)env.host_if[f->cont])
			WHY("ifindex %u, want h%d %d; ", o.ifindex, f->cont, env.host_if[f->cont]);
		if (memcmp(o.nat_addr, f->naddr, 16))
			WHY("nat_addr is not the SNAT address; ");
		if (o.nat_port != htons(f->nport))
			WHY("nat_port %u, want the translated %u; ", ntohs(o.nat_port), f->nport);
		for (i = 0; i < CT_TO_MAX; i++)
			if (o.timeout_s[i] != in->sc->timeouts[i])
				WHY("timeout_s[%d] %u, want %u; ", i, o.timeout_s[i],
				    in->sc->timeouts[i]);
		if (memcmp(&o.other, &rk, sizeof(rk))) {
			fmt_key(&o.other, kb, sizeof(kb));
			WHY("other %s is not the reply key; ", kb);
		}
		if (!o.last_seen_ns)
			WHY("last_seen_ns 0; ");
	}
	snprintf(name, sizeof(name), "%s/ct_orig_entry", pfx);
	CHECK(!why[0], name, "%s", why);

	n = 0;
	why[0] = 0;
	if (bpf_map_lookup_elem(in->ct_fd, &rk, &r)) {
		fmt_key(&rk, kb, sizeof(kb));
		WHY("no reply entry under %s", kb);
	} else {
		if (r.dir != CT_DIR_REPLY)
			WHY("dir %u, want CT_DIR_REPLY; ", r.dir);
		if (r.ifindex != (__u32)env.host_if[f->cont])
			WHY("ifindex %u, want h%d %d; ", r.ifindex, f->cont, env.host_if[f->cont]);
		if (memcmp(r.nat_addr, f->caddr, 16))
			WHY("nat_addr is not the container's address; ");
		if (r.nat_port != htons(f->cport))
			WHY("nat_port %u, want the container's %u; ", ntohs(r.nat_port), f->cport);
		if (memcmp(r.container_mac, mac_cont[f->cont], 6))
			WHY("container_mac is not c%d's; ", f->cont);
		if (memcmp(r.host_mac, mac_host[f->cont], 6))
			WHY("host_mac is not h%d's; ", f->cont);
		if (memcmp(&r.other, &ok, sizeof(ok))) {
			fmt_key(&r.other, kb, sizeof(kb));
			WHY("other %s is not the orig key; ", kb);
		}
	}
	snprintf(name, sizeof(name), "%s/ct_reply_entry", pfx);
	CHECK(!why[0], name, "%s", why);
}

static void check_state(const struct inst *in, const struct step *s, const struct flow *f,
			const char *pfx)
{
	struct ct_key ok;
	struct ct_entry o;
	char name[200];

	if (!s->state)
		return;
	key_orig(f, &ok);
	snprintf(name, sizeof(name), "%s/ct_state", pfx);
	if (bpf_map_lookup_elem(in->ct_fd, &ok, &o)) {
		CHECK(0, name, "orig entry gone");
		return;
	}
	CHECK(o.state == s->state - 1, name, "orig entry state %s, want %s",
	      state_name(o.state), state_name(s->state - 1));
}

static int find_step(const struct inst *in, const char *name)
{
	size_t i;

	for (i = 0; i < in->sc->n; i++)
		if (!strcmp(in->sc->steps[i].name, name))
			return (int)i;
	return -1;
}

/* The flow a step refers to; false (and a FAIL) if that step did not work. */
static bool ref_flow(const struct inst *in, const char *ref, struct flow *f, const char *pfx)
{
	char name[200];
	int j = find_step(in, ref);

	if (j >= 0 && in->res[j].ok) {
		*f = in->res[j].f;
		return true;
	}
	snprintf(name, sizeof(name), "%s/depends", pfx);
	CHECK(0, name, "step %s %s", ref, j < 0 ? "does not exist" : "failed");
	return false;
}

/* Runs one frame through an XDP program, or with tc through a tc program
 * (its __sk_buff on ifindex, arrived there, as on a tcx ingress); fills
 * out/out_len; returns the action or -1. */
static int test_run(int prog_fd, bool tc, int ifindex, const __u8 *frame, size_t len,
		    __u8 *out, __u32 *out_len)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };
	struct __sk_buff skb = { .ifindex = ifindex, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = frame, .data_size_in = len,
		.data_out = out, .data_size_out = MAX_FRAME,
		.ctx_in = tc ? (void *)&skb : (void *)&ctx,
		.ctx_size_in = tc ? sizeof(skb) : sizeof(ctx),
		.repeat = 1);
	int err;

	memset(out, 0xee, MAX_FRAME);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -1;
	*out_len = opts.data_size_out;
	return (int)opts.retval;
}

/* Output == want byte for byte, and every checksum verifies by a full
 * recomputation; for an ICMP error also the quoted IPv4 header's and, when
 * the quote is the whole packet, the quoted L4 checksum. */
static void check_rewrite(const char *pfx, const __u8 *out, __u32 out_len,
			  const __u8 *want, size_t len, bool icmp_error, bool inner_complete)
{
	struct verdict v;
	char name[200];
	int diff;

	diff = out_len == len ? first_diff(out, want, len) : 0;
	snprintf(name, sizeof(name), "%s/output", pfx);
	CHECK(out_len == len && diff < 0, name,
	      "output %u bytes (want %zu), first difference at byte %d (got 0x%02x, want 0x%02x)",
	      out_len, len, diff, diff >= 0 ? out[diff] : 0, diff >= 0 ? want[diff] : 0);

	verify_ip(out + 14, out_len > 14 ? out_len - 14 : 0, &v);
	if (out[14] >> 4 == 4) {
		snprintf(name, sizeof(name), "%s/ip_csum", pfx);
		CHECK(v.ip == 1, name, "IPv4 header checksum 0x%04x does not verify",
		      get16(out + 14 + 10));
	}
	snprintf(name, sizeof(name), "%s/l4_csum", pfx);
	CHECK(v.l4 == 1, name, "L4 checksum does not verify (full recomputation with%s pseudo header)",
	      out[14 + 9] == IPPROTO_ICMP && out[14] >> 4 == 4 ? "out" : "");
	if (icmp_error && out[14] >> 4 == 4) {
		snprintf(name, sizeof(name), "%s/inner_ip_csum", pfx);
		CHECK(v.inner_ip == 1, name, "quoted IPv4 header checksum does not verify");
	}
	if (icmp_error && inner_complete) {
		snprintf(name, sizeof(name), "%s/inner_l4_csum", pfx);
		CHECK(v.inner_l4 == 1, name, "quoted L4 checksum does not verify");
	}
}

/* ---- egress steps ------------------------------------------------------ */

static void run_egress(struct inst *in, size_t idx)
{
	static __u8 frame[MAX_FRAME], out[MAX_FRAME], want[MAX_FRAME], quote[MAX_FRAME];
	static const char *const names[] = EGRESS_COUNTER_NAMES;
	const struct step *s = &in->sc->steps[idx];
	struct counter_val before[CNT_MAX], after[CNT_MAX];
	struct result *r = &in->res[idx];
	struct ct_key reserved_key;
	struct ct_entry reserved = {}, back;
	struct flow f = {};
	struct pkt p;
	char pfx[160], name[200];
	size_t len, wlen;
	__u32 out_len = 0;
	__u8 flags;
	__u16 port = 0, seq = s->seq ? s->seq : 1;
	int action, ct_before, ct_after, l4;
	/* The steps name XDP actions; tc_egress answers with TC_ACT_*. */
	bool tc = in->sc->tc;
	int want_action = !tc ? s->action : s->action == XDP_REDIRECT ? TC_ACT_REDIRECT :
			  s->action == XDP_PASS ? TC_ACT_OK : -2;
	const char *(*verdict_name)(int) = tc ? tc_action_name : action_name;

	snprintf(pfx, sizeof(pfx), "%s/%s", in->sc->tag, s->name);
#define NAME(what) (snprintf(name, sizeof(name), "%s/%s", pfx, what), name)
	if (s->flow) {
		if (!ref_flow(in, s->flow, &f, pfx))
			return;
	} else {
		f.fam = s->fam;
		f.kind = s->kind;
		f.cont = s->cont;
		addr_of(f.fam, f.fam == 4 ? cont_addr4[f.cont] : cont_addr6[f.cont], f.caddr);
		addr_of(f.fam, s->dst ? s->dst : f.fam == 4 ? WORLD4 : WORLD6, f.raddr);
		addr_of(f.fam, f.fam == 4 ? SNAT4 : SNAT6, f.naddr);
		f.cport = s->sport;
		f.rport = s->kind == K_ECHO ? 0 : s->dport;
		f.tcp_flags = s->tcp_flags;
		f.udp_zero = s->udp_zero;
	}
	flags = s->tcp_flags ? s->tcp_flags : f.tcp_flags;
	if (s->ffff) {
		/* Tune the payload so the container's packet, or its
		 * translation keeping the port, has UDP checksum 0xffff. */
		f.nport = f.cport;
		f.adj = true;
		flow_pkt(&f, false, s->ffff == FFFF_WORLD, flags, seq, 64, &p);
		f.adj_word = ffff_word(p);
	}

	/* What the container sends. */
	if (f.kind == K_ERROR) {
		struct pkt q;
		size_t qlen;

		/* Its answer to a UDP datagram from the world. */
		memset(&q, 0, sizeof(q));
		q.fam = f.fam;
		q.ttl = 60;
		q.kind = K_UDP;
		memcpy(q.src, f.raddr, 16);
		memcpy(q.dst, f.caddr, 16);
		q.sport = 53;
		q.dport = 20011;
		qlen = build_ip(&q, quote);
		memset(&p, 0, sizeof(p));
		p.fam = f.fam;
		p.ttl = 64;
		p.kind = K_ERROR;
		memcpy(p.src, f.caddr, 16);
		memcpy(p.dst, f.raddr, 16);
		p.type = s->err_type;
		p.code = s->err_code;
		p.rest = s->err_rest;
		p.quote = quote;
		p.quote_len = qlen;
	} else if (f.kind == K_ECHO_REPLY) {
		memset(&p, 0, sizeof(p));
		p.fam = f.fam;
		p.ttl = 64;
		p.kind = K_ECHO_REPLY;
		memcpy(p.src, f.caddr, 16);
		memcpy(p.dst, f.raddr, 16);
		p.id = f.cport;
		p.seq = seq;
	} else {
		flow_pkt(&f, false, false, flags, seq, 64, &p);
	}
	len = build_frame(mac_host[f.cont], mac_cont[f.cont], &p, frame);
	if (s->ffff == FFFF_CONTAINER && get16(frame + 14 + (f.fam == 4 ? 20 : 40) + 6) != 0xffff)
		CHECK(0, NAME("fixture"), "the container's UDP checksum is not 0xffff");

	/* A reply key for the port the container asks for, owned by someone
	 * else: the program must leave it alone and pick another port. */
	if (s->pre == PRE_RESERVE) {
		struct flow g = f;

		g.nport = f.cport;
		key_reply(&g, &reserved_key);
		reserved.dir = CT_DIR_REPLY;
		reserved.nat_port = htons(0x1111);
		reserved.ifindex = 424242;
		if (bpf_map_update_elem(in->ct_fd, &reserved_key, &reserved, BPF_NOEXIST)) {
			CHECK(0, NAME("pre"), "inserting the reserved reply key: %s", strerror(errno));
			return;
		}
	} else if (s->pre == PRE_FILL) {
		struct ct_key k = { .family = 99, .sport = htons(7) };
		struct ct_entry e = { .dir = CT_DIR_REPLY };

		if (bpf_map_update_elem(in->ct_fd, &k, &e, BPF_NOEXIST)) {
			CHECK(0, NAME("pre"), "filling the table: %s", strerror(errno));
			return;
		}
	}

	ct_before = ct_count(in->ct_fd);
	if (read_counters(in->eg_stats, CNT_MAX, before)) {
		CHECK(0, NAME("counter"), "reading egress_stats: %s", strerror(errno));
		return;
	}
	action = test_run(in->eg_fd, tc, env.host_if[f.cont], frame, len, out, &out_len);
	if (action < 0) {
		CHECK(0, NAME("test_run"), "bpf_prog_test_run_opts: %s", strerror(errno));
		return;
	}
	read_counters(in->eg_stats, CNT_MAX, after);
	ct_after = ct_count(in->ct_fd);

	CHECK(action == want_action, NAME("action"), "got %s, want %s", verdict_name(action),
	      verdict_name(want_action));
	check_counters(NAME("counter"), names, CNT_MAX, before, after, s->counter, len,
		       s->new_flow ? CNT_SNAT_NEW : -1);

	if (s->pre == PRE_RESERVE) {
		int rc = bpf_map_lookup_elem(in->ct_fd, &reserved_key, &back);

		CHECK(!rc && back.dir == CT_DIR_REPLY && back.nat_port == htons(0x1111) &&
		      back.ifindex == 424242, NAME("reserved_entry_untouched"),
		      "the pre-existing reply entry was %s", rc ? "deleted" : "overwritten");
		bpf_map_delete_elem(in->ct_fd, &reserved_key);
	}

	if (s->action != XDP_REDIRECT) {
		struct ct_key ok;
		struct ct_entry o;
		int diff = out_len == len ? first_diff(out, frame, len) : 0;

		CHECK(out_len == len && diff < 0, NAME("output_unchanged"),
		      "output %u bytes (input %zu), first difference at byte %d", out_len, len, diff);
		ASSERT_EQ(ct_after - ct_before, 0, NAME("ct_no_new_entries"));
		/* (A packet of a known flow that the kernel must route keeps
		 * the flow.) */
		if (!s->flow && (f.kind == K_TCP || f.kind == K_UDP || f.kind == K_ECHO)) {
			key_orig(&f, &ok);
			CHECK(bpf_map_lookup_elem(in->ct_fd, &ok, &o), NAME("ct_no_orig_entry"),
			      "an orig entry exists for a flow that was not translated");
		}
		return;
	}

	/* Translated: which port did it get? */
	l4 = 14 + (f.fam == 4 ? 20 : 40);
	if (out_len >= (__u32)l4 + 8)
		port = f.kind == K_ECHO ? get16(out + l4 + 4) : get16(out + l4);
	switch (s->port) {
	case PORT_KEEP:
		CHECK(port == f.cport, NAME("port_kept"), "translated to %u, want the original %u "
		      "(inside %u-%u and free)", port, f.cport, PORT_MIN, PORT_MAX);
		break;
	case PORT_MAPPED:
		CHECK(port >= PORT_MIN && port <= PORT_MAX && port != f.cport, NAME("port_mapped"),
		      "translated to %u, want a port in %u-%u other than the original %u",
		      port, PORT_MIN, PORT_MAX, f.cport);
		break;
	case PORT_SAME:
		CHECK(port == f.nport, NAME("same_translation"), "translated to %u, the flow's "
		      "first packet got %u", port, f.nport);
		break;
	default:
		break;
	}
	if (s->differ) {
		int j = find_step(in, s->differ);

		CHECK(j >= 0 && in->res[j].ok && in->res[j].f.nport != port, NAME("port_distinct"),
		      "translated to %u, the same as %s", port, s->differ);
	}
	if (s->port != PORT_SAME)
		f.nport = port;

	/* The frame the gateway must see, built from scratch. */
	flow_pkt(&f, false, true, flags, seq, 63, &p);
	wlen = build_frame(s->gw_mac ? s->gw_mac : mac_gw, mac_up0, &p, want);
	check_rewrite(pfx, out, out_len, want, wlen, false, false);
	CHECK(!memcmp(out + 14 + (f.fam == 4 ? 12 : 8), f.naddr, alen(f.fam)), NAME("snat_source"),
	      "source address is not the SNAT address");
	if (f.kind == K_UDP && f.udp_zero)
		CHECK(get16(out + l4 + 6) == 0, NAME("udp_csum_stays_zero"),
		      "UDP checksum 0x%04x, the container sent none", get16(out + l4 + 6));
	if (s->ffff == FFFF_WORLD)
		CHECK(get16(out + l4 + 6) == 0xffff, NAME("udp_csum_ffff"),
		      "UDP checksum 0x%04x, want a computed 0 sent as 0xffff", get16(out + l4 + 6));

	if (s->new_flow) {
		ASSERT_EQ(ct_after - ct_before, 2, NAME("ct_two_new_entries"));
		check_ct_entries(in, &f, pfx);
	} else {
		struct ct_key ok;
		struct ct_entry o;

		ASSERT_EQ(ct_after - ct_before, 0, NAME("ct_no_new_entries"));
		key_orig(&f, &ok);
		CHECK(!bpf_map_lookup_elem(in->ct_fd, &ok, &o) && o.nat_port == htons(f.nport),
		      NAME("ct_orig_entry_same_port"), "orig entry missing or its port changed");
	}
	check_state(in, s, &f, pfx);
	r->f = f;
	r->ok = action == want_action && (s->port != PORT_SAME || port == f.nport) &&
		port >= PORT_MIN && port <= PORT_MAX;
#undef NAME
}

/* ---- uplink steps ------------------------------------------------------ */

/* The packet of f as quoted in an ICMP error: IP header + quote_l4 bytes
 * of L4 (all when 0); returns the quoted length. */
static size_t quoted(const struct step *s, const struct flow *f, bool translated, __u8 *buf)
{
	struct pkt q;
	size_t len;

	flow_pkt(f, false, translated, f->tcp_flags, 1, s->quote_ttl ? s->quote_ttl : 63, &q);
	len = build_ip(&q, buf);
	if (s->quote_l4) {
		size_t cut = (f->fam == 4 ? 20 : 40) + s->quote_l4;

		if (cut < len)
			len = cut;
	}
	return len;
}

static void run_uplink(struct inst *in, size_t idx)
{
	static __u8 frame[MAX_FRAME], out[MAX_FRAME], want[MAX_FRAME];
	static __u8 quote_in[MAX_FRAME], quote_want[MAX_FRAME];
	static const char *const names[] = INGRESS_COUNTER_NAMES;
	const struct step *s = &in->sc->steps[idx];
	struct counter_val before[IN_MAX], after[IN_MAX];
	struct flow f = {};
	struct pkt p;
	char pfx[160], name[200];
	size_t len, wlen;
	__u32 out_len = 0;
	__u16 seq = s->seq ? s->seq : 1;
	bool inner_complete = false;
	int action, ct_before, ct_after;

	snprintf(pfx, sizeof(pfx), "%s/%s", in->sc->tag, s->name);
#define NAME(what) (snprintf(name, sizeof(name), "%s/%s", pfx, what), name)
	if (s->flow) {
		if (!ref_flow(in, s->flow, &f, pfx))
			return;
	} else {
		/* Nobody's flow: the host's own, or a stray. */
		f.fam = s->fam;
		f.kind = s->kind;
		addr_of(f.fam, f.fam == 4 ? cont_addr4[0] : cont_addr6[0], f.caddr);
		addr_of(f.fam, s->dst ? s->dst : f.fam == 4 ? WORLD4 : WORLD6, f.raddr);
		addr_of(f.fam, f.fam == 4 ? SNAT4 : SNAT6, f.naddr);
		f.rport = s->kind == K_ECHO ? 0 : s->sport;
		f.nport = s->kind == K_ECHO ? s->sport : s->dport;
		f.cport = f.nport;
		f.tcp_flags = s->tcp_flags;
	}
	f.rport += s->rport_delta;

	if (!s->err_type) {
		if (s->ffff) {
			/* The reply as sent or as delivered has UDP
			 * checksum 0xffff. */
			f.adj = true;
			flow_pkt(&f, true, s->ffff == FFFF_WORLD, s->tcp_flags, seq, 64, &p);
			f.adj_word = ffff_word(p);
		}
		/* The world's answer to the translated flow, and what c0/c1
		 * must get: the same answer to its own address and port. */
		flow_pkt(&f, true, true, s->tcp_flags, seq, 64, &p);
		len = build_frame(mac_up0, mac_gw, &p, frame);
		flow_pkt(&f, true, false, s->tcp_flags, seq, 63, &p);
		wlen = build_frame(mac_cont[f.cont], mac_host[f.cont], &p, want);
	} else {
		const char *router = f.fam == 4 ? ROUTER4 : ROUTER6;

		memset(&p, 0, sizeof(p));
		p.fam = f.fam;
		p.ttl = 64;
		p.kind = K_ERROR;
		p.type = s->err_type;
		p.code = s->err_code;
		p.rest = s->err_rest;
		addr_of(f.fam, router, p.src);
		memcpy(p.dst, f.naddr, 16);
		p.quote = quote_in;
		p.quote_len = quoted(s, &f, true, quote_in);
		len = build_frame(mac_up0, mac_gw, &p, frame);
		/* The container must see its own packet quoted. */
		p.ttl = 63;
		memcpy(p.dst, f.caddr, 16);
		p.quote = quote_want;
		p.quote_len = quoted(s, &f, false, quote_want);
		wlen = build_frame(mac_cont[f.cont], mac_host[f.cont], &p, want);
		inner_complete = !s->quote_l4;
	}

	ct_before = ct_count(in->ct_fd);
	if (read_counters(in->up_stats, IN_MAX, before)) {
		CHECK(0, NAME("counter"), "reading ingress_stats: %s", strerror(errno));
		return;
	}
	action = test_run(in->up_fd, false, env.up0, frame, len, out, &out_len);
	if (action < 0) {
		CHECK(0, NAME("test_run"), "bpf_prog_test_run_opts: %s", strerror(errno));
		return;
	}
	read_counters(in->up_stats, IN_MAX, after);
	ct_after = ct_count(in->ct_fd);

	CHECK(action == s->action, NAME("action"), "got %s, want %s", action_name(action),
	      action_name(s->action));
	check_counters(NAME("counter"), names, IN_MAX, before, after, s->counter, len, -1);
	ASSERT_EQ(ct_after - ct_before, 0, NAME("ct_no_new_entries"));

	if (s->action != XDP_REDIRECT) {
		int diff = out_len == len ? first_diff(out, frame, len) : 0;

		CHECK(out_len == len && diff < 0, NAME("output_unchanged"),
		      "output %u bytes (input %zu), first difference at byte %d", out_len, len, diff);
		return;
	}
	check_rewrite(pfx, out, out_len, want, wlen, s->err_type != 0, inner_complete);
	if (s->ffff == FFFF_CONTAINER) {
		size_t l4 = 14 + (f.fam == 4 ? 20 : 40);

		CHECK(get16(out + l4 + 6) == 0xffff, NAME("udp_csum_ffff"),
		      "UDP checksum 0x%04x, want a computed 0 sent as 0xffff", get16(out + l4 + 6));
	}
	CHECK(!memcmp(out + 14 + (f.fam == 4 ? 16 : 24), f.caddr, alen(f.fam)),
	      NAME("dst_is_container"), "outer destination is not c%d's address", f.cont);
	CHECK(!memcmp(out, mac_cont[f.cont], 6) && !memcmp(out + 6, mac_host[f.cont], 6),
	      NAME("macs"), "dst %02x:%02x:%02x:%02x:%02x:%02x src %02x:%02x:%02x:%02x:%02x:%02x, "
	      "want c%d's and h%d's", out[0], out[1], out[2], out[3], out[4], out[5],
	      out[6], out[7], out[8], out[9], out[10], out[11], f.cont, f.cont);
	ASSERT_EQ(out[14 + (f.fam == 4 ? 8 : 7)], 63, NAME(f.fam == 4 ? "ttl" : "hop_limit"));
	check_state(in, s, &f, pfx);
	in->res[idx].f = f;
	in->res[idx].ok = action == XDP_REDIRECT;
#undef NAME
}

/* ---- timed steps ------------------------------------------------------- */

static void run_timed(struct inst *in, size_t idx)
{
	const struct step *s = &in->sc->steps[idx];
	char name[200];

	snprintf(name, sizeof(name), "%s/%s", in->sc->tag, s->name);
	if (s->where == W_WAIT) {
		struct timespec ts = { s->wait_ms / 1000, (s->wait_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	} else if (s->where == W_COUNT) {
		int n = ct_count(in->ct_fd);

		CHECK(n == s->count, name, "ct map holds %d entries, want %d", n, s->count);
	} else if (s->where == W_CMD) {
		char why[512] = "";

		CHECK(!run_cmd(s->cmd, why, sizeof(why)), name, "%s", why);
	} else if (s->where == W_CACHED) {
		struct ct_key ok;
		struct ct_entry e;
		struct flow f;

		if (!ref_flow(in, s->flow, &f, name))
			return;
		key_orig(&f, &ok);
		if (bpf_map_lookup_elem(in->ct_fd, &ok, &e)) {
			CHECK(0, name, "no orig entry");
		} else if (!s->gw_mac) {
			CHECK(e.rt_ifindex == 0, name, "a route via ifindex %u is cached", e.rt_ifindex);
		} else {
			CHECK(e.rt_ifindex == (__u32)env.up0 && !memcmp(e.rt_dmac, s->gw_mac, 6) &&
			      !memcmp(e.rt_smac, mac_up0, 6) && !(e.rt_seq & 1), name,
			      "cached ifindex %u (want up0 %d), dmac %02x:..:%02x, smac %02x:..:%02x, "
			      "seq %u", e.rt_ifindex, env.up0, e.rt_dmac[0], e.rt_dmac[5],
			      e.rt_smac[0], e.rt_smac[5], e.rt_seq);
		}
	} else {
		struct ct_key ok, rk;
		struct ct_entry e;
		struct flow f;
		int o, r;

		if (!ref_flow(in, s->flow, &f, name))
			return;
		key_orig(&f, &ok);
		key_reply(&f, &rk);
		o = !bpf_map_lookup_elem(in->ct_fd, &ok, &e);
		r = !bpf_map_lookup_elem(in->ct_fd, &rk, &e);
		CHECK(o == s->present && r == s->present, name,
		      "orig entry %s, reply entry %s; want both %s", o ? "present" : "gone",
		      r ? "present" : "gone", s->present ? "present" : "gone");
	}
}

static void run_scenario(const struct scenario *sc)
{
	struct inst in;
	char why[512] = "";
	size_t i;

	if (load_inst(&in, sc, why, sizeof(why))) {
		printf("FAIL %s/setup: %s\n", sc->tag, why);
		unit_failures++;
		destroy_inst(&in);
		return;
	}
	for (i = 0; i < sc->n; i++) {
		switch (sc->steps[i].where) {
		case W_EGRESS:
			run_egress(&in, i);
			break;
		case W_UPLINK:
			run_uplink(&in, i);
			break;
		default:
			run_timed(&in, i);
			break;
		}
	}
	destroy_inst(&in);
}

int main(void)
{
	char why[512] = "";
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("FAIL nat/setup: must run as root (unshare(CLONE_NEWNET), ip link and "
		       "BPF loading need CAP_SYS_ADMIN/CAP_NET_ADMIN/CAP_BPF)\n");
		return 1;
	}
	if (build_namespace(why, sizeof(why)))
		goto setup_failed;
	env.ncpus = libbpf_num_possible_cpus();
	if (env.ncpus <= 0) {
		snprintf(why, sizeof(why), "libbpf_num_possible_cpus: %s", strerror(-env.ncpus));
		goto setup_failed;
	}
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
	UNIT_EXIT();

setup_failed:
	printf("FAIL nat/setup: %s\n", why);
	unit_failures++;
	UNIT_EXIT();
}
