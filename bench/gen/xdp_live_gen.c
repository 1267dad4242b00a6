// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_live_gen: the fast generator. Injects 60-byte UDP frames into the host
 * side of each container's veth pair with BPF_F_TEST_XDP_LIVE_FRAMES, so the
 * host path, not a socket sender, is what runs out of CPU first.
 *
 *   xdp_live_gen --targets FILE --dst IP [--port 9] [--duration SEC]
 *                [--rate PPS] [--chunk N] [--batch 64] [--flows N]
 *                [--no-rewrite]
 *
 * The receiving host veth must have NAPI: native XDP attached, or GRO on
 * (kernel >= 5.13); otherwise the veth drops the frames (veth_xdp_xmit).
 * Prints one JSON line: {"sent":N,"calls":N,"elapsed_ns":N,"targets":N}.
 * "sent" counts frames the program returned XDP_TX for; frames the veth
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
		{ "flows", required_argument, NULL, 'f' },
		{ "no-rewrite", no_argument, NULL, 'n' },
		{ 0 },
	};
	static struct target tg[MAX_TARGETS];
	static uint8_t frames[MAX_TARGETS][FRAME_LEN];
	int ifindex[MAX_TARGETS];
	struct xdp_live_gen_bpf *skel;
	struct in_addr dst;
	const char *targets = NULL, *dst_s = NULL;
	int port = 9, chunk = 0, batch = 64, flows = 1, no_rewrite = 0;
	int n, i, c, prog_fd, err = 1;
	double duration = 5;
	uint64_t sent = 0, calls = 0, t0, end;
	uint64_t rate = 0, k;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': targets = optarg; break;
		case 'd': dst_s = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'D': duration = atof(optarg); break;
		case 'r': rate = strtoull(optarg, NULL, 10); break;
		case 'c': chunk = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'f': flows = atoi(optarg); break;
		case 'n': no_rewrite = 1; break;
		default: goto usage;
		}
	}
	if (!targets || !dst_s || !inet_aton(dst_s, &dst) || chunk < 0 ||
	    batch < 1 || batch > 256 || flows < 1)
		goto usage;
	n = read_targets(targets, tg, MAX_TARGETS);
	if (n < 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (enter_netns(&tg[i]))
			return 1;
		ifindex[i] = if_nametoindex(tg[i].ifname);
		if (!ifindex[i]) {
			fprintf(stderr, "xdp_live_gen: no %s in %s\n", tg[i].ifname,
				tg[i].netns);
			return 1;
		}
		if (build_frame(frames[i], &tg[i], dst, port))
			return 1;
	}
	skel = xdp_live_gen_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "xdp_live_gen: loading the generator program failed\n");
		return 1;
	}
	prog_fd = bpf_program__fd(skel->progs.xdp_live_gen);
	skel->bss->nflows = flows;
	skel->bss->no_rewrite = no_rewrite;
	skel->bss->pace_ns = rate ? 1000000000ULL / rate : 0;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	/*
	 * Every test_run call costs ~20 ms of fixed, mostly sleeping, set-up
	 * and tear-down here (page pool and rxq registration in
	 * net/bpf/test_run.c), so calls must be long: without --chunk, size
	 * each to last about 200 ms at the rate the previous call reached
	 * (paced: half a second of frames).
	 */
	k = chunk ? (uint64_t)chunk : rate ? rate / 2 + 64 : 65536;
	t0 = now_ns();
	end = t0 + (uint64_t)(duration * 1e9);
	for (i = 0; !stop && now_ns() < end; i = (i + 1) % n) {
		struct xdp_md ctx = { .data_end = FRAME_LEN, .ingress_ifindex = ifindex[i] };
		uint64_t c0 = now_ns(), left;
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			.data_in = frames[i],
			.data_size_in = FRAME_LEN,
			.ctx_in = &ctx,
			.ctx_size_in = sizeof(ctx),
			.repeat = (__u32)k,
			.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			.batch_size = batch,
		);

		/* ingress_ifindex is looked up in the caller's namespace. */
		if (n > 1 && enter_netns(&tg[i]))
			goto out;
		memcpy(skel->bss->frame_tmpl, frames[i], FRAME_LEN);
		if (bpf_prog_test_run_opts(prog_fd, &opts)) {
			if (errno == EINTR)
				break;
			fprintf(stderr, "xdp_live_gen: test_run on %s in %s: %s\n",
				tg[i].ifname, tg[i].netns, strerror(errno));
			goto out;
		}
		sent += k;
		calls++;
		if (!chunk && !rate) {
			uint64_t took = now_ns() - c0 + 1;
			uint64_t next = k * 200000000ULL / took;

			left = end > now_ns() ? end - now_ns() : 0;
			/* do not overshoot the end by much */
			if (next * took / k > left + 50000000ULL)
				next = k * (left + 50000000ULL) / took;
			k = next < 4096 ? 4096 : next > (1u << 24) ? (1u << 24) : next;
		}
	}
	err = 0;
out:
	printf("{\"sent\":%llu,\"calls\":%llu,\"elapsed_ns\":%llu,\"targets\":%d}\n",
	       (unsigned long long)sent, (unsigned long long)calls,
	       (unsigned long long)(now_ns() - t0), n);
	xdp_live_gen_bpf__destroy(skel);
	return err;
usage:
	fprintf(stderr, "usage: xdp_live_gen --targets FILE --dst IP [--port N] [--duration SEC]\n"
			"         [--rate PPS] [--chunk N] [--batch N<=256] [--flows N] [--no-rewrite]\n");
	return 2;
}
