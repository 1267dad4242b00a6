// SPDX-License-Identifier: GPL-2.0
/*
 * xeb_sink --ifname DEV [--port N] [--mode native|generic] [--host-netns PATH]
 *          [--src-net ADDR/PREFIX]
 *
 * Runs in the world namespace. Attaches the counting XDP sink to DEV and the
 * softirq meter, prints "ready" and then, on every SIGUSR1, one line:
 *   t_ns rx_packets rx_bytes other_packets net_sirq_ns sink_poll_ns foreign_poll_ns
 *   wrong_src_packets
 * summed over CPUs (t_ns is CLOCK_MONOTONIC). SIGTERM/SIGINT detach and exit.
 * Rates come from differences of two lines, so nothing needs resetting.
 */
#include <errno.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include "xeb_sink.skel.h"

struct sink_cpu {
	__u64 rx_packets, rx_bytes, other_packets, net_sirq_ns, sink_poll_ns, foreign_poll_ns;
	__u64 wrong_src_packets;
	__u64 sirq_start, last_mark;
};

static volatile sig_atomic_t want_dump, want_exit;

static void on_usr1(int sig) { want_dump = 1; }
static void on_term(int sig) { want_exit = 1; }

static int dump(int map_fd, int ncpu)
{
	struct sink_cpu *v = calloc(ncpu, sizeof(*v)), sum = {};
	struct timespec ts;
	__u32 zero = 0;
	int i;

	if (!v || bpf_map_lookup_elem(map_fd, &zero, v)) {
		fprintf(stderr, "xeb_sink: reading counters: %s\n", strerror(errno));
		free(v);
		return -1;
	}
	for (i = 0; i < ncpu; i++) {
		sum.rx_packets += v[i].rx_packets;
		sum.rx_bytes += v[i].rx_bytes;
		sum.other_packets += v[i].other_packets;
		sum.net_sirq_ns += v[i].net_sirq_ns;
		sum.sink_poll_ns += v[i].sink_poll_ns;
		sum.foreign_poll_ns += v[i].foreign_poll_ns;
		sum.wrong_src_packets += v[i].wrong_src_packets;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("%llu %llu %llu %llu %llu %llu %llu %llu\n",
	       (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec,
	       (unsigned long long)sum.rx_packets, (unsigned long long)sum.rx_bytes,
	       (unsigned long long)sum.other_packets,
	       (unsigned long long)sum.net_sirq_ns,
	       (unsigned long long)sum.sink_poll_ns,
	       (unsigned long long)sum.foreign_poll_ns,
	       (unsigned long long)sum.wrong_src_packets);
	fflush(stdout);
	free(v);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ifname", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "host-netns", required_argument, NULL, 'H' },
		{ "src-net", required_argument, NULL, 's' },
		{ 0 },
	};
	__u32 xdp_flags = XDP_FLAGS_DRV_MODE;
	const char *ifname = NULL, *host_ns = NULL, *src = NULL;
	__u32 src_net = 0, src_mask = 0;
	struct xeb_sink_bpf *skel;
	int port = 9, ifindex, ncpu, c, err = 1;
	struct stat st, hst = {};

	while ((c = getopt_long(argc, argv, "i:p:m:H:s:", opts, NULL)) != -1) {
		switch (c) {
		case 'H': host_ns = optarg; break;
		case 's': src = optarg; break;
		case 'i': ifname = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'm':
			xdp_flags = !strcmp(optarg, "generic") ? XDP_FLAGS_SKB_MODE
							       : XDP_FLAGS_DRV_MODE;
			break;
		default:
			fprintf(stderr, "usage: xeb_sink --ifname DEV [--port N] [--mode native|generic]\n"
					"                [--host-netns PATH] [--src-net ADDR/PREFIX]\n");
			return 2;
		}
	}
	if (!ifname || !(ifindex = if_nametoindex(ifname))) {
		fprintf(stderr, "xeb_sink: no such interface '%s' in this namespace\n",
			ifname ? ifname : "");
		return 2;
	}
	if (src) {
		char buf[32], *slash;
		struct in_addr a;
		int plen = 32;

		snprintf(buf, sizeof(buf), "%s", src);
		slash = strchr(buf, '/');
		if (slash) {
			*slash = 0;
			plen = atoi(slash + 1);
		}
		if (!inet_aton(buf, &a) || plen < 0 || plen > 32) {
			fprintf(stderr, "xeb_sink: --src-net wants ADDR/PREFIX, not '%s'\n", src);
			return 2;
		}
		src_mask = plen ? htonl(~0U << (32 - plen)) : 0;
		src_net = a.s_addr & src_mask;
	}
	if (stat("/proc/self/ns/net", &st)) {
		perror("xeb_sink: stat /proc/self/ns/net");
		return 1;
	}
	if (host_ns && stat(host_ns, &hst)) {
		fprintf(stderr, "xeb_sink: --host-netns %s: %s\n", host_ns, strerror(errno));
		return 2;
	}
	ncpu = libbpf_num_possible_cpus();
	skel = xeb_sink_bpf__open();
	if (!skel) {
		fprintf(stderr, "xeb_sink: opening BPF object failed\n");
		return 1;
	}
	skel->rodata->sink_port = port;
	skel->rodata->sink_ifindex = ifindex;
	skel->rodata->sink_netns_ino = st.st_ino;
	skel->rodata->host_netns_ino = hst.st_ino;
	skel->rodata->src_net = src_net;
	skel->rodata->src_mask = src_mask;
	if (xeb_sink_bpf__load(skel) || xeb_sink_bpf__attach(skel)) {
		fprintf(stderr, "xeb_sink: loading/attaching the meter failed\n");
		goto out;
	}
	if (bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.xeb_sink_xdp),
			   xdp_flags, NULL)) {
		fprintf(stderr, "xeb_sink: attaching XDP to %s failed: %s\n", ifname,
			strerror(errno));
		goto out;
	}
	/* Signals stay blocked except inside sigsuspend(): none is lost. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGUSR1, on_usr1);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	printf("ready\n");
	fflush(stdout);
	while (!want_exit) {
		sigsuspend(&old);
		if (want_dump) {
			want_dump = 0;
			dump(bpf_map__fd(skel->maps.sink_stats), ncpu);
		}
	}
	err = 0;
	bpf_xdp_detach(ifindex, xdp_flags, NULL);
out:
	xeb_sink_bpf__destroy(skel);
	return err;
}
