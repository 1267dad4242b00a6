// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_live_gen: the fast generator. Injects 60-byte UDP frames into the host
 * side of each container's veth pair with BPF_F_TEST_XDP_LIVE_FRAMES, so the
 * host path, not a socket sender, is what runs out of CPU first.
 *
 *   xdp_live_gen --targets FILE --dst IP [--port 9] [--duration SEC]
 *                [--rate PPS] [--chunk N] [--batch 64] [--flows N]
 *                [--burst 16] [--no-rewrite]
 *
 * One container: the program returns XDP_TX. Several: it spreads frames
 * over them, --burst frames each in turn, through a devmap (see the .bpf.c).
 *
 * The receiving host veth must have NAPI: native XDP attached, or GRO on
 * (kernel >= 5.13); otherwise the veth drops the frames (veth_xdp_xmit).
 * Prints one JSON line: {"sent":N,"calls":N,"elapsed_ns":N,"targets":N}.
 * "sent" counts frames the program returned XDP_TX for (its own counter, so
 * a call cut short by SIGTERM counts too); frames the veth
 * ring refused are lost after that point and show as loss at the sink.
 */
#include "targets.h"
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "xdp_live_gen.skel.h"

#define FRAME_LEN 60

static volatile sig_atomic_t stop;
static void on_term(int sig) { stop = 1; }

static uint16_t ip_checksum(const void *hdr, int len)
{
	const uint16_t *p = hdr;
	uint32_t sum = 0;

	while (len > 1) {
		sum += *p++;
		len -= 2;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Frame as the container would send it: its MAC to its gateway's MAC. */
static int build_frame(uint8_t *f, const struct target *t, struct in_addr dst,
		       int port)
{
	struct ethhdr *eth = (void *)f;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *udp = (void *)(iph + 1);
	struct ifreq ifr = {};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr)) {
		fprintf(stderr, "xdp_live_gen: MAC of %s in %s: %s\n", t->ifname,
			t->netns, strerror(errno));
		return -1;
	}
	close(s);
	memset(f, 0x5a, FRAME_LEN);
	memcpy(eth->h_dest, t->gw_mac, 6);
	memcpy(eth->h_source, ifr.ifr_hwaddr.sa_data, 6);
	eth->h_proto = htons(ETH_P_IP);
	memset(iph, 0, sizeof(*iph));
	iph->version = 4;
	iph->ihl = 5;
	iph->tot_len = htons(FRAME_LEN - sizeof(*eth));
	iph->frag_off = htons(0x4000); /* DF */
	iph->ttl = 64;
	iph->protocol = IPPROTO_UDP;
	iph->saddr = t->src.s_addr;
	iph->daddr = dst.s_addr;
	iph->check = ip_checksum(iph, sizeof(*iph));
	udp->source = htons(10000);
	udp->dest = htons(port);
	udp->len = htons(FRAME_LEN - sizeof(*eth) - sizeof(*iph));
	udp->check = 0;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "targets", required_argument, NULL, 't' },
		{ "dst", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'D' },
		{ "rate", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },
		{ "burst", required_argument, NULL, 'B' },
		{ "flows", required_argument, NULL, 'f' },
		{ "no-rewrite", no_argument, NULL, 'n' },
		{ 0 },
	};
	static struct target tg[MAX_TARGETS];
	static uint8_t frame[MAX_TARGETS][FRAME_LEN];
	struct xdp_live_gen_bpf *skel;
	const char *targets = NULL, *dst_s = NULL;
	int port = 9, chunk = 0, batch = 64, burst = 16, flows = 1, no_rewrite = 0;
	int n, i, c, ifindex0 = 0, err = 1;
	uint64_t rate = 0, calls = 0, k, t0 = now_ns(), end;
	struct in_addr dst;
	double duration = 5;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': targets = optarg; break;
		case 'd': dst_s = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'D': duration = atof(optarg); break;
		case 'r': rate = strtoull(optarg, NULL, 10); break;
		case 'c': chunk = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'B': burst = atoi(optarg); break;
		case 'f': flows = atoi(optarg); break;
		case 'n': no_rewrite = 1; break;
		default: goto usage;
		}
	}
	if (!targets || !dst_s || !inet_aton(dst_s, &dst) || chunk < 0 ||
	    batch < 1 || batch > 256 || flows < 1 || burst < 1)
		goto usage;
	n = read_targets(targets, tg, MAX_TARGETS);
	if (n < 0)
		return 1;
	skel = xdp_live_gen_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "xdp_live_gen: loading the generator program failed\n");
		return 1;
	}
	for (i = n - 1; i >= 0; i--) { /* ends in target 0's namespace */
		__u32 key = i, ifindex;

		if (enter_netns(&tg[i]))
			goto out;
		ifindex = if_nametoindex(tg[i].ifname);
		if (!ifindex) {
			fprintf(stderr, "xdp_live_gen: no %s in %s\n", tg[i].ifname,
				tg[i].netns);
			goto out;
		}
		if (build_frame(frame[i], &tg[i], dst, port))
			goto out;
		if (n > 1 &&
		    (bpf_map_update_elem(bpf_map__fd(skel->maps.tx_ports), &key, &ifindex, 0) ||
		     bpf_map_update_elem(bpf_map__fd(skel->maps.frame_tmpls), &key, frame[i], 0))) {
			fprintf(stderr, "xdp_live_gen: devmap entry for %s in %s: %s\n",
				tg[i].ifname, tg[i].netns, strerror(errno));
			goto out;
		}
		ifindex0 = ifindex;
	}
	memcpy(skel->bss->frame_tmpl, frame[0], FRAME_LEN);
	skel->bss->ntargets = n;
	skel->data->burst = burst;
	skel->bss->nflows = flows;
	skel->bss->no_rewrite = no_rewrite;
	skel->bss->pace_ns = rate ? 1000000000ULL / rate : 0;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	/*
	 * Every test_run call pays ~20 ms here, mostly asleep, and calls are
	 * serialised even across threads (net/bpf/test_run.c sets up and tears
	 * down a page pool per call; on 6.18 page_pool_destroy() waits for an
	 * RCU grace period). So calls are long: without --chunk, each lasts
	 * about 200 ms at the rate the previous call reached (paced: half a
	 * second of frames), and several containers share one call.
	 */
	k = chunk ? (uint64_t)chunk : rate ? rate / 2 + 64 : 65536;
	t0 = now_ns();
	end = t0 + (uint64_t)(duration * 1e9);
	while (!stop && now_ns() < end) {
		struct xdp_md ctx = { .data_end = FRAME_LEN, .ingress_ifindex = ifindex0 };
		uint64_t c0 = now_ns();
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			.data_in = frame[0],
			.data_size_in = FRAME_LEN,
			.ctx_in = &ctx,
			.ctx_size_in = sizeof(ctx),
			.repeat = (__u32)k,
			.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			.batch_size = batch,
		);

		if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xdp_live_gen), &opts)) {
			if (errno == EINTR)
				break;
			fprintf(stderr, "xdp_live_gen: test_run on %s in %s: %s\n",
				tg[0].ifname, tg[0].netns, strerror(errno));
			goto out;
		}
		calls++;
		if (!chunk && !rate) {
			uint64_t took = now_ns() - c0 + 1, now = now_ns();
			uint64_t next = k * 200000000ULL / took;
			uint64_t left = end > now ? end - now : 0;

			/* do not overshoot the end by much */
			if (next * took / k > left + 50000000ULL)
				next = k * (left + 50000000ULL) / took;
			k = next < 4096 ? 4096 : next > (1u << 24) ? (1u << 24) : next;
		}
	}
	err = 0;
out:
	/* The program's own count also covers a call cut short by a signal. */
	printf("{\"sent\":%llu,\"calls\":%llu,\"elapsed_ns\":%llu,\"targets\":%d}\n",
	       (unsigned long long)skel->bss->frames_out, (unsigned long long)calls,
	       (unsigned long long)(now_ns() - t0), n);
	xdp_live_gen_bpf__destroy(skel);
	return err;
usage:
	fprintf(stderr, "usage: xdp_live_gen --targets FILE --dst IP [--port N] [--duration SEC]\n"
			"         [--rate PPS] [--chunk N] [--batch N<=256] [--burst N] [--flows N]\n"
			"         [--no-rewrite]\n");
	return 2;
}
