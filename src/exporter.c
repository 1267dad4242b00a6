// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus metrics (exporter.h). The numbers come from report_json(), the
 * same reading of the pins as `status --json` and `stats --json`, so the
 * exporter and the CLI cannot disagree. HTTP is libmicrohttpd's: it polls
 * every connection from one thread, each with a timeout and a memory cap,
 * so a client that never finishes its request or sends a huge header holds
 * one slot until its timeout and delays no scrape.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "exporter.h"
#include "daemon.h"
#include "jsonval.h"
#include "log.h"
#include "pins.h"
#include "report.h"
#include "xdp_egress.h"

/* Per connection: a request must be complete within this many seconds. */
#define EXPORTER_TIMEOUT_S 5
#define EXPORTER_MAX_CONNECTIONS 32
/* Request line and headers beyond this get 431 (libmicrohttpd). */
#define EXPORTER_MEMORY_LIMIT (16 * 1024)

/* --- metrics --- */

/* A label value: backslash, double quote and newline escaped. */
static void label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void help_type(FILE *out, const char *name, const char *type,
		      const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *str(cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k)) ?: "";
}

static double counter_of(cJSON *counters, const char *name, const char *field)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(counters, name), field));
}

/* The reasons of xdp_egress_packets_total: each packet has one outcome
 * (GSO, redirect errors and promote requests are counted apart). */
static int is_outcome(int id)
{
	return id == CNT_REDIRECTED || counter_is_pass(id) ||
	       id == CNT_DROP_MALFORMED || id == CNT_DROP_OUT_OF_WINDOW;
}

struct names {
	cJSON *containers[4]; /* the daemons' containers.json "containers" */
	int n;
};

static void names_load(struct names *nm, const char *const *run_dirs)
{
	char path[PATH_MAX], *text = NULL;
	size_t cap = 0;
	FILE *f;
	cJSON *root;

	memset(nm, 0, sizeof(*nm));
	for (; run_dirs && *run_dirs && nm->n < 4; run_dirs++) {
		snprintf(path, sizeof(path), "%s/containers.json", *run_dirs);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (getdelim(&text, &cap, 0, f) < 0 && text)
			text[0] = 0;
		fclose(f);
		root = text ? cJSON_Parse(text) : NULL;
		if (root)
			nm->containers[nm->n++] = root;
	}
	free(text);
}

static void names_free(struct names *nm)
{
	int i;

	for (i = 0; i < nm->n; i++)
		cJSON_Delete(nm->containers[i]);
}

/* The name of the `ip netns` namespace with inode ino, into out. */
static int netns_name(unsigned long long ino, char *out, size_t len)
{
	DIR *d = opendir("/run/netns");
	struct dirent *de;
	char path[PATH_MAX];
	struct stat st;
	int found = 0;

	while (d && !found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (!stat(path, &st) && st.st_ino == ino) {
			snprintf(out, len, "%s", de->d_name);
			found = 1;
		}
	}
	if (d)
		closedir(d);
	return found ? 0 : -1;
}

/*
 * The container label of record m: the engine's name where a daemon
 * attached it, else the container's netns (`ip netns` name, or its inode)
 * and its interface, e.g. "web1/eth0"; a VM's tap: its own name.
 */
static void container_label(const struct names *nm, cJSON *m, char *out,
			    size_t len)
{
	cJSON *c = cJSON_GetObjectItem(m, "container"), *o;
	long long ifindex = json_int(cJSON_GetObjectItem(m, "ifindex"), 0,
				     INT_MAX, -1);
	unsigned long long ino;
	char ns[NAME_MAX + 1];
	int i;

	for (i = 0; i < nm->n; i++)
		cJSON_ArrayForEach(o, cJSON_GetObjectItem(nm->containers[i],
							  "containers")) {
			if (!strcmp(str(o, "ifname"), str(m, "ifname")) &&
			    json_int(cJSON_GetObjectItem(o, "ifindex"), 0, INT_MAX,
				     -2) == ifindex && *str(o, "name")) {
				snprintf(out, len, "%s", str(o, "name"));
				return;
			}
		}
	if (!c) {
		snprintf(out, len, "%s", str(m, "ifname"));
		return;
	}
	ino = (unsigned long long)json_int(cJSON_GetObjectItem(c, "netns_ino"),
					   0, 1LL << 53, 0);
	if (netns_name(ino, ns, sizeof(ns)))
		snprintf(ns, sizeof(ns), "netns:%llu", ino);
	snprintf(out, len, "%s/%s", ns, str(c, "ifname"));
}

/* One line per attachment: NAME{ifname="..",container=".."EXTRA} value. */
struct series {
	const char *ifname, *container;
};

static void labels(FILE *out, const struct series *s)
{
	fputs("{ifname=\"", out);
	label_value(out, s->ifname);
	fputs("\",container=\"", out);
	label_value(out, s->container);
	fputc('"', out);
}

static void sample(FILE *out, const char *name, const struct series *s,
		   const char *key, const char *val, double v)
{
	fputs(name, out);
	labels(out, s);
	if (key) {
		fprintf(out, ",%s=\"", key);
		label_value(out, val);
		fputc('"', out);
	}
	if (isnan(v))
		fputs("} NaN\n", out);
	else
		fprintf(out, "} %.17g\n", v);
}

/* A state gauge: one sample per choice, 1 for the current one. */
static void one_of(FILE *out, const char *name, const struct series *s,
		   const char *key, const char *const *choices, int n,
		   const char *current)
{
	int k;

	for (k = 0; k < n; k++)
		sample(out, name, s, key, choices[k], !strcmp(current, choices[k]));
}

/* Counters of the egress programs and of the return path, by reason. */
static void write_counters(FILE *out, cJSON *atts, const struct series *ser,
			   int n, cJSON *uplinks)
{
	static const char *const fields[] = { "packets", "bytes" };
	char name[96];
	cJSON *a, *u;
	int f, id, i;

	for (f = 0; f < 2; f++) {
		snprintf(name, sizeof(name), "xdp_egress_%s_total", fields[f]);
		help_type(out, name, "counter", f ? "Bytes of the packets that the "
			  "egress program on a container's host veth (ifname) saw, by "
			  "outcome (reason): redirected (carried by the fast path), "
			  "pass_* (left to the kernel path, and why), drop_*." :
			  "Packets that the egress program on a container's host veth "
			  "(ifname) saw, by outcome (reason): redirected (carried by the "
			  "fast path), pass_* (left to the kernel path, and why), drop_*. "
			  "Fast path share over time: sum by (ifname) (rate(xdp_egress_"
			  "packets_total{reason=\"redirected\"}[5m])) / sum by (ifname) "
			  "(rate(xdp_egress_packets_total[5m])).");
		i = 0;
		cJSON_ArrayForEach(a, atts) {
			cJSON *c = cJSON_GetObjectItem(a, "counters");

			for (id = 0; id < CNT_MAX; id++)
				if (is_outcome(id))
					sample(out, name, &ser[i], "reason", counter_name(id),
					       counter_of(c, counter_name(id), fields[f]));
			i++;
		}
	}
	for (f = 0; f < 2; f++) {
		snprintf(name, sizeof(name), "xdp_egress_redirected_gso_%s_total",
			 fields[f]);
		help_type(out, name, "counter", f ? "Bytes of the GSO "
			  "super-packets among the redirected (tc program)." :
			  "GSO super-packets among the redirected packets (tc "
			  "program: one carries up to 64 KB).");
		for (i = 0; i < n; i++)
			sample(out, name, &ser[i], NULL, NULL, counter_of(
				cJSON_GetObjectItem(cJSON_GetArrayItem(atts, i), "counters"),
				counter_name(CNT_GSO), fields[f]));
	}
	help_type(out, "xdp_egress_promote_requests_total", "counter",
		  "Established TCP flows handed to the agent to be tracked "
		  "liberally, the condition for the fast path to carry them.");
	for (i = 0; i < n; i++)
		sample(out, "xdp_egress_promote_requests_total", &ser[i], NULL, NULL,
		       counter_of(cJSON_GetObjectItem(cJSON_GetArrayItem(atts, i),
						      "counters"),
				  counter_name(CNT_PROMOTE_REQUESTS), "packets"));
	help_type(out, "xdp_egress_fast_path_ratio", "gauge",
		  "Share of the packets since attach that the fast path carried "
		  "(redirected / every reason of xdp_egress_packets_total); NaN "
		  "before the first packet. For a recent share compute it from "
		  "the rates of xdp_egress_packets_total (see its HELP).");
	for (i = 0; i < n; i++) {
		cJSON *c = cJSON_GetObjectItem(cJSON_GetArrayItem(atts, i), "counters");
		double all = 0;

		for (id = 0; id < CNT_MAX; id++)
			if (is_outcome(id))
				all += counter_of(c, counter_name(id), "packets");
		sample(out, "xdp_egress_fast_path_ratio", &ser[i], NULL, NULL,
		       all ? counter_of(c, "redirected", "packets") / all : NAN);
	}
	for (f = 0; f < 2; f++) {
		snprintf(name, sizeof(name), "xdp_egress_return_%s_total", fields[f]);
		help_type(out, name, "counter", f ? "Bytes that the return-path "
			  "program on an uplink (ifname) saw, by outcome (reason)." :
			  "Packets that the return-path program on an uplink (ifname) "
			  "saw, by outcome (reason): redirected straight into an "
			  "attached container, or pass_* to the kernel path.");
		cJSON_ArrayForEach(u, uplinks) {
			cJSON *c = cJSON_GetObjectItem(u, "counters");

			for (id = 0; id < CNT_MAX; id++) {
				if (!is_outcome(id))
					continue;
				fprintf(out, "%s{ifname=\"", name);
				label_value(out, str(u, "ifname"));
				fprintf(out, "\",reason=\"%s\"} %.17g\n", counter_name(id),
					counter_of(c, counter_name(id), fields[f]));
			}
		}
	}
}

/* Modes, auto mode's state and switches, the link's state. */
static void write_modes(FILE *out, cJSON *atts, const struct series *ser, int n)
{
	static const char *const modes[] = { "auto", "native", "generic", "tc" };
	static const char *const states[] = { "tc", "native" };
	cJSON *a, *au;
	int i;

	help_type(out, "xdp_egress_mode", "gauge", "1 for the mode an "
		  "attachment was made with (--mode: auto, native, generic, tc), "
		  "0 for the others.");
	for (i = 0; i < n; i++) {
		a = cJSON_GetArrayItem(atts, i);
		one_of(out, "xdp_egress_mode", &ser[i], "mode", modes, 4,
		       str(a, "mode"));
	}
	help_type(out, "xdp_egress_auto_state", "gauge", "auto mode: 1 for "
		  "what runs now (state=\"tc\": the tc program alone; "
		  "state=\"native\": native XDP in front of it), 0 for the other.");
	for (i = 0; i < n; i++) {
		au = cJSON_GetObjectItem(cJSON_GetArrayItem(atts, i), "auto");
		if (au)
			one_of(out, "xdp_egress_auto_state", &ser[i], "state",
			       states, 2, str(au, "state"));
	}
	help_type(out, "xdp_egress_auto_switches_total", "counter", "auto mode: "
		  "switches between the tc program alone and native XDP in front "
		  "of it since attach.");
	for (i = 0; i < n; i++) {
		au = cJSON_GetObjectItem(cJSON_GetArrayItem(atts, i), "auto");
		if (au)
			sample(out, "xdp_egress_auto_switches_total", &ser[i], NULL,
			       NULL, (double)json_int(cJSON_GetObjectItem(au, "switches"),
						      0, 1LL << 53, 0));
	}
	help_type(out, "xdp_egress_attached", "gauge", "1 while the recorded "
		  "program runs on the interface; 0 when it is gone, replaced, or "
		  "an attach or detach was interrupted (`xdp-egress status` says "
		  "which).");
	for (i = 0; i < n; i++)
		sample(out, "xdp_egress_attached", &ser[i], NULL, NULL,
		       !strcmp(str(cJSON_GetArrayItem(atts, i), "state"), "attached"));
}

/* The tracepoints' per-device count of frames lost after a redirect: a
 * series for each attachment and uplink (0 until one is lost), and for any
 * other device of this namespace the map holds. */
static void write_redirect_errors(FILE *out, cJSON *atts, cJSON *uplinks)
{
	char root[PATH_MAX], ns_dir[PATH_MAX], ifname[IF_NAMESIZE];
	int ncpu = libbpf_num_possible_cpus(), fd = -1, c, i, n = 0;
	__u32 key, next, *prev = NULL, known[2 * MAX_UPLINKS + 256];
	__u64 *vals = NULL, sum;
	cJSON *o;

	help_type(out, "xdp_egress_redirect_errors_total", "counter",
		  "Frames lost after the program redirected them (tracepoints "
		  "xdp_redirect_err and xdp_devmap_xmit), by the device that "
		  "redirected (a container's host veth or an uplink).");
	if (!pins_root(root, sizeof(root)) &&
	    !pins_ns_dir_self(ns_dir, sizeof(ns_dir), root) && ncpu > 0) {
		fd = pins_open(ns_dir, "errors/redirect_errs");
		vals = calloc(ncpu, sizeof(*vals));
	}
	cJSON_ArrayForEach(o, atts)
		if (n < (int)(sizeof(known) / sizeof(known[0])))
			known[n++] = (__u32)json_int(cJSON_GetObjectItem(o, "ifindex"),
						     0, INT_MAX, 0);
	cJSON_ArrayForEach(o, uplinks)
		if (n < (int)(sizeof(known) / sizeof(known[0])))
			known[n++] = if_nametoindex(str(o, "ifname"));
	/* The known devices first, then the map's others. */
	for (i = 0; ; i++) {
		if (i < n) {
			key = known[i];
			if (!key)
				continue;
		} else {
			int seen = 0, k;

			if (fd < 0 || !vals || bpf_map_get_next_key(fd, prev, &next))
				break;
			key = next;
			prev = &key;
			for (k = 0; k < n; k++)
				seen |= known[k] == key;
			if (seen)
				continue;
		}
		sum = 0;
		if (fd >= 0 && vals && !bpf_map_lookup_elem(fd, &key, vals))
			for (c = 0; c < ncpu; c++)
				sum += vals[c];
		if (!if_indextoname(key, ifname))
			snprintf(ifname, sizeof(ifname), "if%u", key);
		fputs("xdp_egress_redirect_errors_total{ifname=\"", out);
		label_value(out, ifname);
		fprintf(out, "\"} %llu\n", (unsigned long long)sum);
	}
	free(vals);
	if (fd >= 0)
		close(fd);
}

/* A number from /proc/sys, or -1. */
static double proc_number(const char *path)
{
	FILE *f = fopen(path, "re");
	double v = -1;

	if (f) {
		if (fscanf(f, "%lf", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void write_conntrack(FILE *out, cJSON *ns)
{
	double count = proc_number("/proc/sys/net/netfilter/nf_conntrack_count");
	double max = proc_number("/proc/sys/net/netfilter/nf_conntrack_max");

	if (count >= 0) {
		help_type(out, "xdp_egress_conntrack_entries", "gauge", "Entries in "
			  "the kernel's conntrack table of this network namespace "
			  "(nf_conntrack_count): the flows the fast path may carry.");
		fprintf(out, "xdp_egress_conntrack_entries %.17g\n", count);
	}
	if (max >= 0) {
		help_type(out, "xdp_egress_conntrack_entries_max", "gauge", "The "
			  "conntrack table's limit (nf_conntrack_max); new flows "
			  "are dropped by the kernel beyond it.");
		fprintf(out, "xdp_egress_conntrack_entries_max %.17g\n", max);
	}
	if (!ns)
		return;
	help_type(out, "xdp_egress_promote_tracked_flows", "gauge", "TCP flows "
		  "the fast path is counting towards promotion (BPF map promote).");
	fprintf(out, "xdp_egress_promote_tracked_flows %.17g\n",
		cJSON_GetNumberValue(cJSON_GetObjectItem(ns, "promote_tracked")));
	help_type(out, "xdp_egress_kernel_only_flows", "gauge", "Flows that "
		  "`xdp-egress flush` left to the kernel path until they end (BPF "
		  "map kernel_only).");
	fprintf(out, "xdp_egress_kernel_only_flows %.17g\n",
		cJSON_GetNumberValue(cJSON_GetObjectItem(ns, "kernel_only_flows")));
	help_type(out, "xdp_egress_agent_up", "gauge", "1 while the "
		  "namespace's agent runs (it promotes established TCP flows; "
		  "without it they stay on the kernel path).");
	fprintf(out, "xdp_egress_agent_up %d\n",
		json_int(cJSON_GetObjectItem(ns, "agent_pid"), 0, INT_MAX, 0) > 0);
}

int metrics_write(FILE *out, const char *const *run_dirs)
{
	const char *env = getenv("XDP_EGRESS_BPFFS");
	const char *root = env && *env ? env : "/sys/fs/bpf/xdp-egress";
	cJSON *doc, *atts, *ns, *a;
	struct series *ser;
	struct names nm;
	char (*cname)[256];
	struct stat st;
	int n, i = 0, root_existed;

	/* Reading creates the pin root (pins_root()): a scrape before any
	 * attach removes it again, as list_attachments() does for stats. */
	root_existed = !stat(root, &st);
	doc = report_json();
	if (!doc)
		return -1;
	atts = cJSON_GetObjectItem(doc, "attachments");
	ns = cJSON_GetObjectItem(doc, "namespace");
	n = cJSON_GetArraySize(atts);
	ser = calloc(n + 1, sizeof(*ser));
	cname = calloc(n + 1, sizeof(*cname));
	if (!ser || !cname) {
		free(ser);
		free(cname);
		cJSON_Delete(doc);
		return -1;
	}
	names_load(&nm, run_dirs);
	cJSON_ArrayForEach(a, atts) {
		container_label(&nm, a, cname[i], sizeof(cname[i]));
		ser[i].ifname = str(a, "ifname");
		ser[i].container = cname[i];
		i++;
	}
	names_free(&nm);
	help_type(out, "xdp_egress_attachments", "gauge",
		  "Attachments in this network namespace.");
	fprintf(out, "xdp_egress_attachments %d\n", n);
	write_counters(out, atts, ser, n,
		       cJSON_GetObjectItem(ns, "uplinks"));
	write_modes(out, atts, ser, n);
	write_redirect_errors(out, atts, cJSON_GetObjectItem(ns, "uplinks"));
	write_conntrack(out, ns);
	free(ser);
	free(cname);
	cJSON_Delete(doc);
	if (!root_existed && strcmp(root, "/sys/fs/bpf"))
		rmdir(root);
	return 0;
}

/* --- HTTP --- */

struct exporter {
	struct MHD_Daemon *mhd;
	const char *run_dirs[3];
	char run_dir[PATH_MAX];
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     const char *type, char *body, size_t len,
			     int must_free)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

#define TEXT_PLAIN "text/plain; charset=utf-8"

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static char not_found[] = "404 not found: metrics are at /metrics\n";
	static char not_allowed[] = "405 method not allowed: use GET /metrics\n";
	static char failed[] = "500 cannot read the pins of this namespace "
			       "(see the exporter's log)\n";
	struct exporter *e = cls;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	/* Answered at the first call, before any body: a body is never read. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT_PLAIN,
			     not_allowed, sizeof(not_allowed) - 1, 0);
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, TEXT_PLAIN, not_found,
			     sizeof(not_found) - 1, 0);
	f = open_memstream(&body, &len);
	if (!f || metrics_write(f, e->run_dirs)) {
		if (f)
			fclose(f);
		free(body);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, TEXT_PLAIN,
			     failed, sizeof(failed) - 1, 0);
	}
	fclose(f);
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		     body, len, 1);
}

/* ADDR:PORT into a bound, listening socket; -1 with the error printed. */
static int listen_on(const char *who, const char *opt, const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					      AI_PASSIVE };
	char host[INET6_ADDRSTRLEN + 2] = "";
	const char *colon = strrchr(spec, ':'), *h = spec;
	struct addrinfo *ai = NULL;
	size_t hlen;
	char *end;
	long port;
	int fd = -1, one = 1, rc;

	if (colon) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
	}
	if (!colon || errno || *end || end == colon + 1 || port < 1 || port > 65535)
		goto bad;
	hlen = (size_t)(colon - spec);
	if (hlen && spec[0] == '[') {
		if (spec[hlen - 1] != ']')
			goto bad;
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	rc = getaddrinfo(hlen ? host : NULL, colon + 1, &hints, &ai);
	if (rc) {
		pr_err("%s: %s '%s': '%s' is not an IP address (%s); give "
		       "ADDR:PORT, e.g. 127.0.0.1:%d or [::1]:%d", who, opt, spec, host,
		       gai_strerror(rc), EXPORTER_DEFAULT_PORT, EXPORTER_DEFAULT_PORT);
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		pr_err("%s: cannot listen on %s: %s; choose another address or "
		       "port", who, spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
bad:
	pr_err("%s: %s '%s' is not ADDR:PORT; give e.g. 127.0.0.1:%d, "
	       "[::1]:%d or :%d (every address)", who, opt, spec,
	       EXPORTER_DEFAULT_PORT, EXPORTER_DEFAULT_PORT, EXPORTER_DEFAULT_PORT);
	return -1;
}

struct exporter *exporter_start(const char *who, const char *opt,
				const char *listen, const char *run_dir)
{
	struct exporter *e = calloc(1, sizeof(*e));
	int fd;

	if (!e)
		return NULL;
	if (run_dir) {
		snprintf(e->run_dir, sizeof(e->run_dir), "%s", run_dir);
		e->run_dirs[0] = e->run_dir;
	} else {
		e->run_dirs[0] = DAEMON_RUN_DIR "/docker";
		e->run_dirs[1] = DAEMON_RUN_DIR "/podman";
	}
	fd = listen_on(who, opt, listen);
	if (fd < 0) {
		free(e);
		return NULL;
	}
	e->mhd = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | (log_verbose ? MHD_USE_ERROR_LOG : 0),
		0, NULL, NULL, on_request, e,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)EXPORTER_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)EXPORTER_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)EXPORTER_MEMORY_LIMIT,
		MHD_OPTION_END);
	if (!e->mhd) {
		pr_err("%s: cannot start the HTTP server on %s (libmicrohttpd "
		       "refused; run with --verbose)", who, listen);
		close(fd);
		free(e);
		return NULL;
	}
	pr_info("%s: serving Prometheus metrics on http://%s/metrics", who, listen);
	return e;
}

void exporter_stop(struct exporter *e)
{
	if (!e)
		return;
	/* Closes the listening socket too (libmicrohttpd owns it). */
	MHD_stop_daemon(e->mhd);
	free(e);
}

int cmd_exporter(const char *listen, const char *run_dir)
{
	struct exporter *e;
	sigset_t mask;
	int sig;

	if (!listen) {
		pr_err("exporter: give --listen ADDR:PORT, e.g. --listen "
		       "127.0.0.1:%d", EXPORTER_DEFAULT_PORT);
		return 2;
	}
	/* Blocked before the server's thread starts, so that it inherits the
	 * mask and the signals reach sigwait() here. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	e = exporter_start("exporter", "--listen", listen, run_dir);
	if (!e)
		return 1;
	sigwait(&mask, &sig);
	pr_info("exporter: got %s; stopping", strsignal(sig));
	exporter_stop(e);
	return 0;
}
