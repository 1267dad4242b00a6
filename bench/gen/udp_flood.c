// SPDX-License-Identifier: GPL-2.0
/*
 * udp_flood: the application path. Ordinary UDP sockets, one per container,
 * each created inside its container's network namespace, sending small
 * datagrams with sendmmsg() round robin until the duration ends.
 *
 *   udp_flood --targets FILE --dst IP [--port 9] [--payload 18]
 *             [--duration SEC] [--rate PPS] [--batch 64]
 *
 * An 18-byte payload makes a 60-byte Ethernet frame (64 on a wire with FCS).
 * Prints one JSON line: {"sent":N,"errors":N,"elapsed_ns":N,"targets":N}.
 */
#include "targets.h"
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define MAX_BATCH 256

static volatile sig_atomic_t stop;
static void on_term(int sig) { stop = 1; }

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "targets", required_argument, NULL, 't' },
		{ "dst", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "payload", required_argument, NULL, 'l' },
		{ "duration", required_argument, NULL, 'D' },
		{ "rate", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ 0 },
	};
	static struct target tg[MAX_TARGETS];
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	static char payload[1500];
	const char *targets = NULL, *dst = NULL;
	int port = 9, plen = 18, batch = 64, n, i, c;
	double duration = 5;
	uint64_t sent = 0, errors = 0, end, t0;
	struct pacer pc = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int socks[MAX_TARGETS];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': targets = optarg; break;
		case 'd': dst = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'l': plen = atoi(optarg); break;
		case 'D': duration = atof(optarg); break;
		case 'r': pc.rate = strtoull(optarg, NULL, 10); break;
		case 'b': batch = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (!targets || !dst || !inet_aton(dst, &sa.sin_addr) || plen < 1 ||
	    plen > (int)sizeof(payload) || batch < 1 || batch > MAX_BATCH)
		goto usage;
	sa.sin_port = htons(port);
	n = read_targets(targets, tg, MAX_TARGETS);
	if (n < 0)
		return 1;
	for (i = 0; i < n; i++) {
		struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr = tg[i].src };

		if (enter_netns(&tg[i]))
			return 1;
		socks[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (socks[i] < 0 || bind(socks[i], (void *)&src, sizeof(src)) ||
		    connect(socks[i], (void *)&sa, sizeof(sa))) {
			fprintf(stderr, "udp_flood: socket to %s from %s in %s: %s\n", dst,
				inet_ntoa(tg[i].src), tg[i].netns, strerror(errno));
			return 1;
		}
	}
	memset(payload, 0x5a, plen);
	for (i = 0; i < batch; i++) {
		iov[i].iov_base = payload;
		iov[i].iov_len = plen;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	t0 = pc.start = now_ns();
	end = t0 + (uint64_t)(duration * 1e9);
	for (i = 0; !stop && now_ns() < end; i = (i + 1) % n) {
		int k = (int)pacer_allow(&pc, batch);
		int r = sendmmsg(socks[i], msgs, k, MSG_DONTWAIT);

		if (r > 0) {
			sent += r;
			pc.sent += r;
		} else {
			errors++;
			pc.sent += k; /* a dropped batch still used its slot */
		}
	}
	printf("{\"sent\":%llu,\"errors\":%llu,\"elapsed_ns\":%llu,\"targets\":%d}\n",
	       (unsigned long long)sent, (unsigned long long)errors,
	       (unsigned long long)(now_ns() - t0), n);
	return 0;
usage:
	fprintf(stderr, "usage: udp_flood --targets FILE --dst IP [--port N] [--payload BYTES]\n"
			"                 [--duration SEC] [--rate PPS] [--batch N<=%d]\n", MAX_BATCH);
	return 2;
}
