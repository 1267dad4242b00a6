// SPDX-License-Identifier: GPL-2.0
/*
 * `xdp-egress flows` and `xdp-egress events` (flows.h).
 *
 * The kernel's conntrack entry holds both tuples of a flow: the original
 * one (as the container sent it, before NAT) and the reply one, whose
 * inverse is the original direction after SNAT/DNAT. Its counters
 * (nf_conntrack_acct) and start time (nf_conntrack_timestamp), when the
 * namespace has them on, count the kernel path only; the fast path's share
 * comes from the map `flows` (bpf/flows.h). Which path carries a flow: the
 * fast path once `flows` has it live; otherwise the kernel, and why (the
 * promotion count of bpf/kct.h, flushed, closed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>

#include "flows.h"
#include "kct.h"
#include "log.h"
#include "pins.h"
#include "report.h"

/* include/uapi/linux/netfilter/nf_conntrack_tcp.h */
#define IP_CT_TCP_FLAG_BE_LIBERAL_ 0x08

static volatile sig_atomic_t flows_stop;

static void on_stop(int sig)
{
	flows_stop = 1;
}

/* The pinned maps of this namespace the two commands read. */
struct flows_maps {
	char ns_dir[PATH_MAX];
	int containers, flows, promote, kernel_only, config;
};

static void maps_close(struct flows_maps *m)
{
	int *fds[] = { &m->containers, &m->flows, &m->promote,
		       &m->kernel_only, &m->config };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static int maps_open(struct flows_maps *m, const char *cmd)
{
	char root[PATH_MAX];

	m->containers = m->flows = m->promote = m->kernel_only = m->config = -1;
	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(m->ns_dir, sizeof(m->ns_dir), root))
		return -1;
	m->containers = pins_open(m->ns_dir, "containers");
	if (m->containers < 0) {
		pr_err("%s: nothing is attached in this network namespace (no "
		       "pins under %s); run it where `xdp-egress status` lists "
		       "attachments", cmd, m->ns_dir);
		return -1;
	}
	m->flows = pins_open(m->ns_dir, "flows");
	if (m->flows < 0) {
		pr_err("%s: the attachments under %s were made by an "
		       "xdp-egress without per-flow counts (no pinned map "
		       "flows); detach them (`xdp-egress detach --all`) and "
		       "attach them again with this one", cmd, m->ns_dir);
		maps_close(m);
		return -1;
	}
	m->promote = pins_open(m->ns_dir, "promote");
	m->kernel_only = pins_open(m->ns_dir, "kernel_only");
	m->config = pins_open(m->ns_dir, "kct_config");
	return 0;
}

/* The host device of the attached container that owns addr, or 0. */
static __u32 container_of(int fd, int family, const void *addr)
{
	struct container_key ck = { .family = family };
	struct container_val v;

	memcpy(ck.addr, addr, family == AF_INET ? 4 : 16);
	return bpf_map_lookup_elem(fd, &ck, &v) ? 0 : v.ifindex;
}

static void addr_str(char *out, size_t len, int family, const void *a, __u16 port_be)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family, a, ip, sizeof(ip));
	if (family == AF_INET6)
		snprintf(out, len, "[%s]:%u", ip, ntohs(port_be));
	else
		snprintf(out, len, "%s:%u", ip, ntohs(port_be));
}

static const char *proto_name(int p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "?";
}

static const char *dev_name(__u32 ifindex, char *buf)
{
	if (!ifindex || !if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%u", ifindex);
	return buf;
}

static void human(char *out, size_t len, double v)
{
	const char *u = " kMGTP";

	while (v >= 10000 && u[1]) {
		v /= 1000;
		u++;
	}
	if (*u == ' ')
		snprintf(out, len, "%.0f", v);
	else
		snprintf(out, len, "%.1f%c", v, *u);
}

static void age_str(char *out, size_t len, long s)
{
	if (s < 0)
		snprintf(out, len, "-");
	else if (s < 120)
		snprintf(out, len, "%lds", s);
	else if (s < 7200)
		snprintf(out, len, "%ldm", s / 60);
	else
		snprintf(out, len, "%ldh", s / 3600);
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int flows_off_by_env(void)
{
	const char *v = getenv("XDP_EGRESS_FLOWS");

	return v && !strcmp(v, "off");
}

/* ---------------------------------------------------------------- flows -- */

struct flows_dump {
	struct flows_maps *m;
	__u32 only_ifindex;        /* TARGET's host device, 0: every one */
	int acct;                  /* nf_conntrack_acct is on */
	int promote_after;
	cJSON *rows;               /* one object per flow */
};

static cJSON *tuple_json(int family, const void *src, __u16 sport,
			 const void *dst, __u16 dport)
{
	cJSON *o = cJSON_CreateObject();
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family, src, ip, sizeof(ip));
	cJSON_AddStringToObject(o, "src", ip);
	cJSON_AddNumberToObject(o, "sport", ntohs(sport));
	inet_ntop(family, dst, ip, sizeof(ip));
	cJSON_AddStringToObject(o, "dst", ip);
	cJSON_AddNumberToObject(o, "dport", ntohs(dport));
	return o;
}

/* Which path carries the flow k, and why not the fast one. */
static const char *path_of(struct flows_dump *d, const struct kct_key *k,
			   const struct flow_val *fv, int have_fv,
			   int liberal, char *why, size_t len)
{
	struct promote_val pv;
	__u8 one;

	*why = 0;
	if (d->m->kernel_only >= 0 &&
	    !bpf_map_lookup_elem(d->m->kernel_only, k, &one)) {
		snprintf(why, len, "flushed: the kernel's until it ends");
		return "kernel";
	}
	if (have_fv && fv->ended == FLOW_LIVE)
		return "fast";
	if (have_fv) {
		snprintf(why, len, "closing: %s seen",
			 fv->ended == FLOW_END_RST ? "RST" : "FIN");
		return "kernel";
	}
	if (k->proto == IPPROTO_TCP) {
		if (liberal) {
			snprintf(why, len, "promoted, nothing carried yet");
			return "kernel";
		}
		if (d->m->promote >= 0 &&
		    !bpf_map_lookup_elem(d->m->promote, k, &pv)) {
			snprintf(why, len, "not promoted yet: %u of %d packets",
				 pv.packets, d->promote_after);
			return "kernel";
		}
		snprintf(why, len, "not established, or not promoted yet");
		return "kernel";
	}
	snprintf(why, len, "not carried yet (a UDP flow's first packets, "
		 "or its replies before the kernel saw one)");
	return "kernel";
}

static int flows_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct,
		    void *arg)
{
	struct flows_dump *d = arg;
	int fam = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO), v4 = fam == AF_INET;
	const void *os, *od, *rs, *rd;
	__u16 osp, odp, rsp, rdp;
	struct kct_key k = {};
	struct flow_val fv = {};
	__u32 ifindex;
	int have_fv, liberal = 0, acct = 0;
	__u64 kp = 0, kb = 0, fp, fb;
	long age = -1;
	char name[IF_NAMESIZE], why[128];
	const char *path;
	cJSON *o, *c;

	k.proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	if (k.proto != IPPROTO_TCP && k.proto != IPPROTO_UDP)
		return NFCT_CB_CONTINUE;
	os = nfct_get_attr(ct, v4 ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV6_SRC);
	od = nfct_get_attr(ct, v4 ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV6_DST);
	rs = nfct_get_attr(ct, v4 ? ATTR_REPL_IPV4_SRC : ATTR_REPL_IPV6_SRC);
	rd = nfct_get_attr(ct, v4 ? ATTR_REPL_IPV4_DST : ATTR_REPL_IPV6_DST);
	if (!os || !od || !rs || !rd)
		return NFCT_CB_CONTINUE;
	/* The container's own flows (it sent the first packet), or flows to
	 * it (DNAT: the reply comes from it). */
	ifindex = container_of(d->m->containers, fam, os);
	if (!ifindex)
		ifindex = container_of(d->m->containers, fam, rs);
	if (!ifindex || (d->only_ifindex && ifindex != d->only_ifindex))
		return NFCT_CB_CONTINUE;
	osp = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC);
	odp = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST);
	rsp = nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC);
	rdp = nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST);
	k.family = fam;
	memcpy(k.saddr, os, v4 ? 4 : 16);
	memcpy(k.daddr, od, v4 ? 4 : 16);
	k.sport = osp;
	k.dport = odp;
	have_fv = !bpf_map_lookup_elem(d->m->flows, &k, &fv);
	if (k.proto == IPPROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_FLAGS_ORIG))
		liberal = nfct_get_attr_u8(ct, ATTR_TCP_FLAGS_ORIG) &
			  nfct_get_attr_u8(ct, ATTR_TCP_FLAGS_REPL) &
			  IP_CT_TCP_FLAG_BE_LIBERAL_;
	if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_PACKETS)) {
		kp = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS) +
		     nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS);
		kb = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES) +
		     nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
		/* An entry made before acct was turned on has none. */
		d->acct = acct = 1;
	}
	fp = have_fv ? fv.packets[0] + fv.packets[1] : 0;
	fb = have_fv ? fv.bytes[0] + fv.bytes[1] : 0;
	if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_START)) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		age = (long)(now.tv_sec -
			     nfct_get_attr_u64(ct, ATTR_TIMESTAMP_START) / 1000000000ULL);
	} else if (have_fv) {
		/* Without conntrack's timestamps: since its first carried
		 * packet. */
		age = (long)((mono_ns() - fv.first_ns) / 1000000000ULL);
	}
	path = path_of(d, &k, &fv, have_fv, liberal, why, sizeof(why));

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "proto", proto_name(k.proto));
	cJSON_AddNumberToObject(o, "family", v4 ? 4 : 6);
	cJSON_AddStringToObject(o, "container_if", dev_name(ifindex, name));
	if (k.proto == IPPROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_STATE)) {
		static const char *const st[] = { "NONE", "SYN_SENT", "SYN_RECV",
			"ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK",
			"TIME_WAIT", "CLOSE", "SYN_SENT2" };
		__u8 s = nfct_get_attr_u8(ct, ATTR_TCP_STATE);

		cJSON_AddStringToObject(o, "state", s < 10 ? st[s] : "?");
	}
	cJSON_AddItemToObject(o, "original", tuple_json(fam, os, osp, od, odp));
	/* After NAT: the original direction as it leaves, the reply tuple's
	 * inverse. */
	cJSON_AddItemToObject(o, "nat", tuple_json(fam, rd, rdp, rs, rsp));
	cJSON_AddBoolToObject(o, "snat", memcmp(os, rd, v4 ? 4 : 16) || osp != rdp);
	cJSON_AddBoolToObject(o, "dnat", memcmp(od, rs, v4 ? 4 : 16) || odp != rsp);
	c = cJSON_AddObjectToObject(o, "packets");
	cJSON_AddNumberToObject(c, "total", (double)(fp + kp));
	cJSON_AddNumberToObject(c, "fast", (double)fp);
	if (acct)
		cJSON_AddNumberToObject(c, "kernel", (double)kp);
	else
		cJSON_AddNullToObject(c, "kernel");
	c = cJSON_AddObjectToObject(o, "bytes");
	cJSON_AddNumberToObject(c, "total", (double)(fb + kb));
	cJSON_AddNumberToObject(c, "fast", (double)fb);
	if (acct)
		cJSON_AddNumberToObject(c, "kernel", (double)kb);
	else
		cJSON_AddNullToObject(c, "kernel");
	if (age >= 0)
		cJSON_AddNumberToObject(o, "age_s", age);
	else
		cJSON_AddNullToObject(o, "age_s");
	cJSON_AddNumberToObject(o, "timeout_s", nfct_get_attr_u32(ct, ATTR_TIMEOUT));
	cJSON_AddStringToObject(o, "path", path);
	if (*why)
		cJSON_AddStringToObject(o, "why", why);
	cJSON_AddItemToArray(d->rows, o);
	return NFCT_CB_CONTINUE;
}

static const char *jstr(cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));

	return s ? s : "?";
}

static double jnum(cJSON *o, const char *k)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(o, k));
}

static void tuple_line(char *out, size_t len, cJSON *t, int v6)
{
	char a[64], b[64];

	if (v6) {
		snprintf(a, sizeof(a), "[%s]:%.0f", jstr(t, "src"), jnum(t, "sport"));
		snprintf(b, sizeof(b), "[%s]:%.0f", jstr(t, "dst"), jnum(t, "dport"));
	} else {
		snprintf(a, sizeof(a), "%s:%.0f", jstr(t, "src"), jnum(t, "sport"));
		snprintf(b, sizeof(b), "%s:%.0f", jstr(t, "dst"), jnum(t, "dport"));
	}
	snprintf(out, len, "%s > %s", a, b);
}

static void flows_print(cJSON *rows, int acct)
{
	char orig[160], nat[160], pk[16], by[16], age[16];
	cJSON *o;

	printf("%-4s %-10s %-44s %-44s %8s %8s %5s %s\n", "PROT", "CONTAINER",
	       "ORIGINAL (before NAT)", "AFTER NAT", "PACKETS", "BYTES", "AGE",
	       "PATH");
	cJSON_ArrayForEach(o, rows) {
		int v6 = jnum(o, "family") == 6;
		cJSON *age_o = cJSON_GetObjectItem(o, "age_s");

		tuple_line(orig, sizeof(orig), cJSON_GetObjectItem(o, "original"), v6);
		tuple_line(nat, sizeof(nat), cJSON_GetObjectItem(o, "nat"), v6);
		if (!cJSON_IsTrue(cJSON_GetObjectItem(o, "snat")) &&
		    !cJSON_IsTrue(cJSON_GetObjectItem(o, "dnat")))
			snprintf(nat, sizeof(nat), "(no NAT)");
		human(pk, sizeof(pk), jnum(cJSON_GetObjectItem(o, "packets"), "total"));
		human(by, sizeof(by), jnum(cJSON_GetObjectItem(o, "bytes"), "total"));
		age_str(age, sizeof(age), cJSON_IsNumber(age_o) ? (long)age_o->valuedouble : -1);
		printf("%-4s %-10s %-44s %-44s %8s %8s %5s %s%s%s%s\n",
		       jstr(o, "proto"), jstr(o, "container_if"), orig, nat, pk, by,
		       age, jstr(o, "path"),
		       cJSON_GetObjectItem(o, "why") ? " (" : "",
		       cJSON_GetObjectItem(o, "why") ? jstr(o, "why") : "",
		       cJSON_GetObjectItem(o, "why") ? ")" : "");
	}
	if (!cJSON_GetArraySize(rows))
		printf("(no live TCP or UDP flow of an attached container)\n");
	if (!acct && cJSON_GetArraySize(rows))
		printf("packets and bytes: the fast path's only; the kernel "
		       "path's need net.netfilter.nf_conntrack_acct=1 in this "
		       "namespace\n");
}

static int flows_once(struct flows_maps *m, __u32 only, int json)
{
	struct flows_dump d = { .m = m, .only_ifindex = only,
				.promote_after = KCT_DEFAULT_PROMOTE_AFTER };
	int fams[2] = { AF_INET, AF_INET6 }, i, ret = -1;
	struct nfct_handle *h = kct_open();
	struct kct_config cfg;
	__u32 zero = 0;

	if (!h)
		return -1;
	if (m->config >= 0 && !bpf_map_lookup_elem(m->config, &zero, &cfg) &&
	    cfg.promote_after)
		d.promote_after = cfg.promote_after;
	d.rows = cJSON_CreateArray();
	nfct_callback_register(h, NFCT_T_ALL, flows_cb, &d);
	for (i = 0; i < 2; i++)
		if (nfct_query(h, NFCT_Q_DUMP, &fams[i])) {
			pr_err("flows: cannot read the kernel's conntrack table "
			       "(ctnetlink dump): %s", strerror(errno));
			goto out;
		}
	if (json) {
		char *s = cJSON_PrintUnformatted(d.rows);

		printf("%s\n", s);
		free(s);
	} else {
		flows_print(d.rows, d.acct);
	}
	fflush(stdout);
	ret = 0;
out:
	cJSON_Delete(d.rows);
	kct_close(h);
	return ret;
}

int cmd_flows(const struct target_spec *spec, int json, int watch, int count)
{
	struct flows_maps m;
	__u32 only = 0;
	int n = 0, ret = 0, i;

	if (spec->ifname || spec->netns || spec->pid || spec->container) {
		char dir[PATH_MAX];
		const char *base;

		if (target_dir(spec, dir, sizeof(dir)))
			return 1;
		base = strrchr(dir, '/');
		only = (__u32)strtoul(base ? base + 3 : "0", NULL, 10);
	}
	if (maps_open(&m, "flows"))
		return 1;
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	do {
		if (watch && !json)
			printf("\033[H\033[2J");
		if (flows_once(&m, only, json)) {
			ret = 1;
			break;
		}
		if (!watch || (count && ++n >= count))
			break;
		for (i = 0; i < 10 && !flows_stop; i++)
			usleep(100000);
	} while (!flows_stop);
	maps_close(&m);
	return ret;
}

/* --------------------------------------------------------------- events -- */

struct events_ctx {
	struct flows_maps *m;
	int json, count, seen;
	__u64 mono_to_real;        /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
};

static const char *reason_name(int r)
{
	switch (r) {
	case FLOW_END_FIN: return "fin";
	case FLOW_END_RST: return "rst";
	case FLOW_END_TIMEOUT: return "gone";
	}
	return "";
}

static void event_print(struct events_ctx *x, const struct flow_event *e)
{
	int fam = e->key.family, v6 = fam == AF_INET6;
	char o1[64], o2[64], n1[64], n2[64], when[40], dev[IF_NAMESIZE];
	__u64 real = e->ts_ns + x->mono_to_real;
	time_t sec = (time_t)(real / 1000000000ULL);
	__u32 ifindex = container_of(x->m->containers, fam, e->key.saddr);
	struct tm tm;

	/* A connection to the container (DNAT): it is the translated
	 * destination. */
	if (!ifindex && e->type == FLOW_EV_START)
		ifindex = container_of(x->m->containers, fam, e->nat.daddr);
	if (!ifindex)
		ifindex = e->ifindex;
	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	addr_str(o1, sizeof(o1), fam, e->key.saddr, e->key.sport);
	addr_str(o2, sizeof(o2), fam, e->key.daddr, e->key.dport);
	dev_name(ifindex, dev);
	if (x->json) {
		cJSON *o = cJSON_CreateObject();
		char *s;

		cJSON_AddStringToObject(o, "event", e->type == FLOW_EV_START ? "start" : "end");
		cJSON_AddNumberToObject(o, "time", (double)real / 1e9);
		cJSON_AddStringToObject(o, "proto", proto_name(e->key.proto));
		cJSON_AddNumberToObject(o, "family", v6 ? 6 : 4);
		cJSON_AddStringToObject(o, "container_if", dev);
		cJSON_AddItemToObject(o, "original",
				      tuple_json(fam, e->key.saddr, e->key.sport,
						 e->key.daddr, e->key.dport));
		if (e->type == FLOW_EV_START) {
			cJSON_AddItemToObject(o, "nat",
					      tuple_json(fam, e->nat.saddr, e->nat.sport,
							 e->nat.daddr, e->nat.dport));
			cJSON_AddStringToObject(o, "first_packet",
						e->dir ? "reply" : "original");
		} else {
			cJSON_AddStringToObject(o, "reason", reason_name(e->reason));
			cJSON_AddNumberToObject(o, "fast_packets", (double)e->packets);
			cJSON_AddNumberToObject(o, "fast_bytes", (double)e->bytes);
		}
		s = cJSON_PrintUnformatted(o);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
	} else if (e->type == FLOW_EV_START) {
		addr_str(n1, sizeof(n1), fam, e->nat.saddr, e->nat.sport);
		addr_str(n2, sizeof(n2), fam, e->nat.daddr, e->nat.dport);
		printf("%s.%03llu start %s %s %s > %s nat %s > %s (first carried "
		       "packet: %s)\n", when,
		       (unsigned long long)(real / 1000000 % 1000),
		       proto_name(e->key.proto), dev, o1, o2, n1, n2,
		       e->dir ? "a reply" : "the original direction");
	} else {
		printf("%s.%03llu end   %s %s %s > %s %s, fast path carried %llu "
		       "packets, %llu bytes\n", when,
		       (unsigned long long)(real / 1000000 % 1000),
		       proto_name(e->key.proto), dev, o1, o2,
		       e->reason == FLOW_END_FIN ? "FIN" :
		       e->reason == FLOW_END_RST ? "RST" :
		       "gone from conntrack (timeout, or deleted)",
		       (unsigned long long)e->packets,
		       (unsigned long long)e->bytes);
	}
	fflush(stdout);
	x->seen++;
	if (x->count && x->seen >= x->count)
		flows_stop = 1;
}

static int ring_cb(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(struct flow_event))
		event_print(ctx, data);
	return 0;
}

/*
 * A flow that ends by timeout shows the fast path nothing: the kernel's
 * destroy event tells. Only flows the fast path carried and saw no FIN or
 * RST of are reported; every carried flow's entry goes with its kernel
 * entry.
 */
static int destroy_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct,
		      void *arg)
{
	struct events_ctx *x = arg;
	int fam = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO), v4 = fam == AF_INET;
	struct flow_event e = { .type = FLOW_EV_END, .reason = FLOW_END_TIMEOUT };
	const void *os, *od;
	struct flow_val fv;

	e.key.proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	os = nfct_get_attr(ct, v4 ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV6_SRC);
	od = nfct_get_attr(ct, v4 ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV6_DST);
	if ((e.key.proto != IPPROTO_TCP && e.key.proto != IPPROTO_UDP) || !os || !od)
		return NFCT_CB_CONTINUE;
	e.key.family = fam;
	memcpy(e.key.saddr, os, v4 ? 4 : 16);
	memcpy(e.key.daddr, od, v4 ? 4 : 16);
	e.key.sport = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC);
	e.key.dport = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST);
	if (bpf_map_lookup_elem(x->m->flows, &e.key, &fv))
		return NFCT_CB_CONTINUE;
	bpf_map_delete_elem(x->m->flows, &e.key);
	if (fv.ended != FLOW_LIVE)
		return NFCT_CB_CONTINUE;
	e.ts_ns = mono_ns();
	e.ifindex = fv.ifindex;
	e.packets = fv.packets[0] + fv.packets[1];
	e.bytes = fv.bytes[0] + fv.bytes[1];
	event_print(x, &e);
	return flows_stop ? NFCT_CB_STOP : NFCT_CB_CONTINUE;
}

int cmd_events(int json, int count)
{
	struct events_ctx x = { .json = json, .count = count };
	struct ring_buffer *rb = NULL;
	struct nfct_handle *h = NULL;
	struct flows_maps m;
	struct timespec r, mo;
	struct pollfd pfd[2];
	int fd, ret = 1;

	if (maps_open(&m, "events"))
		return 1;
	x.m = &m;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &mo);
	x.mono_to_real = ((__u64)r.tv_sec * 1000000000ULL + r.tv_nsec) -
			 ((__u64)mo.tv_sec * 1000000000ULL + mo.tv_nsec);
	fd = pins_open(m.ns_dir, "flow_events");
	if (fd < 0) {
		pr_err("events: no ring buffer flow_events under %s; detach and "
		       "attach again with this version", m.ns_dir);
		goto out;
	}
	rb = ring_buffer__new(fd, ring_cb, &x, NULL);
	close(fd);
	if (!rb) {
		pr_err("events: cannot read the ring buffer flow_events: %s",
		       strerror(errno));
		goto out;
	}
	h = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_DESTROY);
	if (!h) {
		pr_warn("events: cannot follow the kernel's conntrack destroy "
			"events (%s): flows that end by timeout will not be "
			"shown", strerror(errno));
	} else {
		nfct_callback_register(h, NFCT_T_DESTROY, destroy_cb, &x);
		fcntl(nfct_fd(h), F_SETFL, fcntl(nfct_fd(h), F_GETFL) | O_NONBLOCK);
	}
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	/* With --json on stderr: stdout holds JSON only. */
	fprintf(json ? stderr : stdout, "events: flow starts and ends on this "
		"namespace's fast path (Ctrl-C stops)\n");
	fflush(json ? stderr : stdout);
	pfd[0] = (struct pollfd){ .fd = ring_buffer__epoll_fd(rb), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = h ? nfct_fd(h) : -1, .events = POLLIN };
	while (!flows_stop) {
		int n = poll(pfd, 2, 200);

		if (n < 0 && errno != EINTR) {
			pr_err("events: poll: %s", strerror(errno));
			goto out;
		}
		ring_buffer__consume(rb);
		if (h && n > 0 && (pfd[1].revents & POLLIN))
			nfct_catch(h); /* returns at EAGAIN: drained */
	}
	ret = 0;
out:
	ring_buffer__free(rb);
	if (h)
		nfct_close(h);
	maps_close(&m);
	return ret;
}
