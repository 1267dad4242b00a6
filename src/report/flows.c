// SPDX-License-Identifier: GPL-2.0
/*
 * `xdp-egress flows` (flows.h); `events` is events.c.
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
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>

#include "flows.h"
#include "flow_read.h"
#include "kct.h"
#include "log.h"
#include "report.h"
#include "xdp_egress.h"

/* include/uapi/linux/netfilter/nf_conntrack_tcp.h */
#define IP_CT_TCP_FLAG_BE_LIBERAL_ 0x08

static volatile sig_atomic_t flows_stop;

static void on_stop(int sig)
{
	flows_stop = 1;
}

int flows_off_by_env(void)
{
	const char *v = getenv("XDP_EGRESS_FLOWS");

	return v && !strcmp(v, "off");
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

struct flows_dump {
	struct flows_maps *m;
	__u32 only_ifindex;        /* TARGET's host device, 0: every one */
	int acct;                  /* nf_conntrack_acct is on */
	int promote_after;
	cJSON *rows;               /* one object per flow */
};

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

/* One conntrack entry of an attached container, as flows reads it. */
struct flow_row {
	int fam, v4;
	const void *os, *od, *rs, *rd;     /* original and reply addresses */
	__u16 osp, odp, rsp, rdp;          /* their ports, network order */
	__u32 ifindex;                     /* the container's host device */
	struct kct_key k;                  /* the original tuple */
	struct flow_val fv;                /* what the fast path carried */
	int have_fv, liberal, acct;
	__u64 kp, kb;                      /* the kernel path's, with acct */
	long age;                          /* seconds, or -1: unknown */
};

/* The tuples of ct into r; 0 when it is a TCP or UDP flow of an attached
 * container (the one d asks for). */
static int row_tuples(struct flows_dump *d, struct nf_conntrack *ct,
		      struct flow_row *r)
{
	r->fam = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
	r->v4 = r->fam == AF_INET;
	r->k.proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	if (r->k.proto != IPPROTO_TCP && r->k.proto != IPPROTO_UDP)
		return -1;
	r->os = nfct_get_attr(ct, r->v4 ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV6_SRC);
	r->od = nfct_get_attr(ct, r->v4 ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV6_DST);
	r->rs = nfct_get_attr(ct, r->v4 ? ATTR_REPL_IPV4_SRC : ATTR_REPL_IPV6_SRC);
	r->rd = nfct_get_attr(ct, r->v4 ? ATTR_REPL_IPV4_DST : ATTR_REPL_IPV6_DST);
	if (!r->os || !r->od || !r->rs || !r->rd)
		return -1;
	/* The container's own flows (it sent the first packet), or flows to
	 * it (DNAT: the reply comes from it). */
	r->ifindex = flow_container_of(d->m->containers, r->fam, r->os);
	if (!r->ifindex)
		r->ifindex = flow_container_of(d->m->containers, r->fam, r->rs);
	if (!r->ifindex || (d->only_ifindex && r->ifindex != d->only_ifindex))
		return -1;
	r->osp = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC);
	r->odp = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST);
	r->rsp = nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC);
	r->rdp = nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST);
	r->k.family = r->fam;
	memcpy(r->k.saddr, r->os, r->v4 ? 4 : 16);
	memcpy(r->k.daddr, r->od, r->v4 ? 4 : 16);
	r->k.sport = r->osp;
	r->k.dport = r->odp;
	return 0;
}

/* The fast path's counts, the kernel's (with acct), tracking, age. */
static void row_counts(struct flows_dump *d, struct nf_conntrack *ct,
		       struct flow_row *r)
{
	struct timespec now;

	r->have_fv = !bpf_map_lookup_elem(d->m->flows, &r->k, &r->fv);
	if (r->k.proto == IPPROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_FLAGS_ORIG))
		r->liberal = nfct_get_attr_u8(ct, ATTR_TCP_FLAGS_ORIG) &
			     nfct_get_attr_u8(ct, ATTR_TCP_FLAGS_REPL) &
			     IP_CT_TCP_FLAG_BE_LIBERAL_;
	if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_PACKETS)) {
		r->kp = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS) +
			nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS);
		r->kb = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES) +
			nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
		/* An entry made before acct was turned on has none. */
		d->acct = r->acct = 1;
	}
	r->age = -1;
	if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_START)) {
		clock_gettime(CLOCK_REALTIME, &now);
		r->age = (long)(now.tv_sec - nfct_get_attr_u64(ct, ATTR_TIMESTAMP_START) /
						     1000000000ULL);
	} else if (r->have_fv) {
		/* Without conntrack's timestamps: since its first carried
		 * packet. */
		r->age = (long)((flow_mono_ns() - r->fv.first_ns) / 1000000000ULL);
	}
}

/* {"total": fast + kernel, "fast": N, "kernel": N or null without acct} */
static void add_counts(cJSON *o, const char *key, __u64 fast, __u64 kernel,
		       int acct)
{
	cJSON *c = cJSON_AddObjectToObject(o, key);

	cJSON_AddNumberToObject(c, "total", (double)(fast + kernel));
	cJSON_AddNumberToObject(c, "fast", (double)fast);
	if (acct)
		cJSON_AddNumberToObject(c, "kernel", (double)kernel);
	else
		cJSON_AddNullToObject(c, "kernel");
}

static const char *tcp_state_name(struct nf_conntrack *ct)
{
	static const char *const st[] = { "NONE", "SYN_SENT", "SYN_RECV",
		"ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK",
		"TIME_WAIT", "CLOSE", "SYN_SENT2" };
	__u8 s = nfct_get_attr_u8(ct, ATTR_TCP_STATE);

	return s < 10 ? st[s] : "?";
}

/* The row's JSON object (flows --json prints the array of them). */
static cJSON *row_json(struct nf_conntrack *ct, const struct flow_row *r,
		       const char *path, const char *why)
{
	cJSON *o = cJSON_CreateObject();
	char name[IF_NAMESIZE];
	int alen = r->v4 ? 4 : 16;

	cJSON_AddStringToObject(o, "proto", flow_proto_name(r->k.proto));
	cJSON_AddNumberToObject(o, "family", r->v4 ? 4 : 6);
	cJSON_AddStringToObject(o, "container_if", flow_dev_name(r->ifindex, name));
	if (r->k.proto == IPPROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_STATE))
		cJSON_AddStringToObject(o, "state", tcp_state_name(ct));
	cJSON_AddItemToObject(o, "original", flow_tuple_json(r->fam, r->os, r->osp,
							     r->od, r->odp));
	/* After NAT: the original direction as it leaves, the reply tuple's
	 * inverse. */
	cJSON_AddItemToObject(o, "nat", flow_tuple_json(r->fam, r->rd, r->rdp,
							r->rs, r->rsp));
	cJSON_AddBoolToObject(o, "snat", memcmp(r->os, r->rd, alen) || r->osp != r->rdp);
	cJSON_AddBoolToObject(o, "dnat", memcmp(r->od, r->rs, alen) || r->odp != r->rsp);
	add_counts(o, "packets", r->have_fv ? r->fv.packets[0] + r->fv.packets[1] : 0,
		   r->kp, r->acct);
	add_counts(o, "bytes", r->have_fv ? r->fv.bytes[0] + r->fv.bytes[1] : 0,
		   r->kb, r->acct);
	if (r->age >= 0)
		cJSON_AddNumberToObject(o, "age_s", r->age);
	else
		cJSON_AddNullToObject(o, "age_s");
	cJSON_AddNumberToObject(o, "timeout_s", nfct_get_attr_u32(ct, ATTR_TIMEOUT));
	cJSON_AddStringToObject(o, "path", path);
	if (*why)
		cJSON_AddStringToObject(o, "why", why);
	return o;
}

static int flows_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct,
		    void *arg)
{
	struct flows_dump *d = arg;
	struct flow_row r = {};
	const char *path;
	char why[128];

	if (row_tuples(d, ct, &r))
		return NFCT_CB_CONTINUE;
	row_counts(d, ct, &r);
	path = path_of(d, &r.k, &r.fv, r.have_fv, r.liberal, why, sizeof(why));
	cJSON_AddItemToArray(d->rows, row_json(ct, &r, path, why));
	return NFCT_CB_CONTINUE;
}

static double jnum(cJSON *o, const char *k)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(o, k));
}

static void tuple_line(char *out, size_t len, cJSON *t, int v6)
{
	snprintf(out, len, v6 ? "[%s]:%.0f > [%s]:%.0f" : "%s:%.0f > %s:%.0f",
		 report_str(t, "src"), jnum(t, "sport"), report_str(t, "dst"),
		 jnum(t, "dport"));
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
		       report_str(o, "proto"), report_str(o, "container_if"), orig,
		       nat, pk, by, age, report_str(o, "path"),
		       cJSON_GetObjectItem(o, "why") ? " (" : "",
		       cJSON_GetObjectItem(o, "why") ? report_str(o, "why") : "",
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
	if (flow_maps_open(&m, "flows"))
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
	flow_maps_close(&m);
	return ret;
}
