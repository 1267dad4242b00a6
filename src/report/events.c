// SPDX-License-Identifier: GPL-2.0
/*
 * `xdp-egress events` (flows.h): the flows' start and end as the fast path
 * saw them, from the ring buffer flow_events (bpf/flows.h), and the end of
 * carried flows by timeout, from the kernel's conntrack destroy events
 * (ctnetlink): a flow that ends by timeout shows the fast path nothing.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "flows.h"
#include "flow_read.h"
#include "log.h"
#include "pins.h"
#include "xdp_egress.h"

static volatile sig_atomic_t events_stop;

static void on_stop(int sig)
{
	events_stop = 1;
}

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

static void addr_str(char *out, size_t len, int family, const void *a,
		     __u16 port_be)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family, a, ip, sizeof(ip));
	if (family == AF_INET6)
		snprintf(out, len, "[%s]:%u", ip, ntohs(port_be));
	else
		snprintf(out, len, "%s:%u", ip, ntohs(port_be));
}

/* The host device of the container whose flow e is. */
static __u32 event_ifindex(struct events_ctx *x, const struct flow_event *e)
{
	int fam = e->key.family;
	__u32 ifindex = flow_container_of(x->m->containers, fam, e->key.saddr);

	/* A connection to the container (DNAT): it is the translated
	 * destination. */
	if (!ifindex && e->type == FLOW_EV_START)
		ifindex = flow_container_of(x->m->containers, fam, e->nat.daddr);
	return ifindex ? ifindex : e->ifindex;
}

/* --json: one object per event, on one line. */
static void event_json(const struct flow_event *e, __u64 real, const char *dev)
{
	int fam = e->key.family;
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "event", e->type == FLOW_EV_START ? "start" : "end");
	cJSON_AddNumberToObject(o, "time", (double)real / 1e9);
	cJSON_AddStringToObject(o, "proto", flow_proto_name(e->key.proto));
	cJSON_AddNumberToObject(o, "family", fam == AF_INET6 ? 6 : 4);
	cJSON_AddStringToObject(o, "container_if", dev);
	cJSON_AddItemToObject(o, "original",
			      flow_tuple_json(fam, e->key.saddr, e->key.sport,
					      e->key.daddr, e->key.dport));
	if (e->type == FLOW_EV_START) {
		cJSON_AddItemToObject(o, "nat",
				      flow_tuple_json(fam, e->nat.saddr, e->nat.sport,
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
}

/* For people: HH:MM:SS.mmm start|end, the tuples, what happened. */
static void event_text(const struct flow_event *e, __u64 real, const char *dev)
{
	int fam = e->key.family;
	char o1[64], o2[64], n1[64], n2[64], when[40];
	time_t sec = (time_t)(real / 1000000000ULL);
	struct tm tm;

	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	addr_str(o1, sizeof(o1), fam, e->key.saddr, e->key.sport);
	addr_str(o2, sizeof(o2), fam, e->key.daddr, e->key.dport);
	if (e->type == FLOW_EV_START) {
		addr_str(n1, sizeof(n1), fam, e->nat.saddr, e->nat.sport);
		addr_str(n2, sizeof(n2), fam, e->nat.daddr, e->nat.dport);
		printf("%s.%03llu start %s %s %s > %s nat %s > %s (first carried "
		       "packet: %s)\n", when,
		       (unsigned long long)(real / 1000000 % 1000),
		       flow_proto_name(e->key.proto), dev, o1, o2, n1, n2,
		       e->dir ? "a reply" : "the original direction");
	} else {
		printf("%s.%03llu end   %s %s %s > %s %s, fast path carried %llu "
		       "packets, %llu bytes\n", when,
		       (unsigned long long)(real / 1000000 % 1000),
		       flow_proto_name(e->key.proto), dev, o1, o2,
		       e->reason == FLOW_END_FIN ? "FIN" :
		       e->reason == FLOW_END_RST ? "RST" :
		       "gone from conntrack (timeout, or deleted)",
		       (unsigned long long)e->packets,
		       (unsigned long long)e->bytes);
	}
}

static void event_print(struct events_ctx *x, const struct flow_event *e)
{
	__u64 real = e->ts_ns + x->mono_to_real;
	char dev[IF_NAMESIZE];

	flow_dev_name(event_ifindex(x, e), dev);
	if (x->json)
		event_json(e, real, dev);
	else
		event_text(e, real, dev);
	fflush(stdout);
	x->seen++;
	if (x->count && x->seen >= x->count)
		events_stop = 1;
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
	e.ts_ns = flow_mono_ns();
	e.ifindex = fv.ifindex;
	e.packets = fv.packets[0] + fv.packets[1];
	e.bytes = fv.bytes[0] + fv.bytes[1];
	event_print(x, &e);
	return events_stop ? NFCT_CB_STOP : NFCT_CB_CONTINUE;
}

/* The kernel's destroy events, non-blocking; NULL (warned) without them. */
static struct nfct_handle *destroy_events_open(struct events_ctx *x)
{
	struct nfct_handle *h = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_DESTROY);

	if (!h) {
		pr_warn("events: cannot follow the kernel's conntrack destroy "
			"events (%s): flows that end by timeout will not be "
			"shown", strerror(errno));
		return NULL;
	}
	nfct_callback_register(h, NFCT_T_DESTROY, destroy_cb, x);
	fcntl(nfct_fd(h), F_SETFL, fcntl(nfct_fd(h), F_GETFL) | O_NONBLOCK);
	return h;
}

/* Until Ctrl-C (or count events): the ring buffer and the destroy events. */
static int events_loop(struct ring_buffer *rb, struct nfct_handle *h)
{
	struct pollfd pfd[2];

	pfd[0] = (struct pollfd){ .fd = ring_buffer__epoll_fd(rb), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = h ? nfct_fd(h) : -1, .events = POLLIN };
	while (!events_stop) {
		int n = poll(pfd, 2, 200);

		if (n < 0 && errno != EINTR) {
			pr_err("events: poll: %s", strerror(errno));
			return 1;
		}
		ring_buffer__consume(rb);
		if (h && n > 0 && (pfd[1].revents & POLLIN))
			nfct_catch(h); /* returns at EAGAIN: drained */
	}
	return 0;
}

int cmd_events(int json, int count)
{
	struct events_ctx x = { .json = json, .count = count };
	struct ring_buffer *rb = NULL;
	struct nfct_handle *h = NULL;
	struct flows_maps m;
	struct timespec r, mo;
	int fd, ret = 1;

	if (flow_maps_open(&m, "events"))
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
	h = destroy_events_open(&x);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	/* With --json on stderr: stdout holds JSON only. */
	fprintf(json ? stderr : stdout, "events: flow starts and ends on this "
		"namespace's fast path (Ctrl-C stops)\n");
	fflush(json ? stderr : stdout);
	ret = events_loop(rb, h);
out:
	ring_buffer__free(rb);
	if (h)
		nfct_close(h);
	flow_maps_close(&m);
	return ret;
}
