// SPDX-License-Identifier: GPL-2.0
/*
 * ct_fill: puts N synthetic established UDP flows into the kernel's
 * conntrack table of the current network namespace (or takes them out
 * again), to measure every contender with a full table (bench/run.sh,
 * workload "ct"): the kernel path looks each packet up there, and so does
 * xdp-egress, once per flow per jiffy.
 *
 *   ct_fill --count N [--first K] [--nat-addr 198.18.0.1] [--delete]
 *
 * Flow i (K <= i < K+N) is container 10.254.(i>>8 & 255).(i & 255 | 1)
 * port 20000 -> remote 100.64.0.0 + (i >> 6) port 1024 + (i & 63), UDP,
 * replied (SEEN_REPLY, ASSURED), masqueraded to NAT-ADDR port
 * 32768 + (i & 16383): every remote address/port pair is distinct, so no
 * reply tuple collides with another or with the bench's real flows (remote
 * 198.18.0.2). Timeout 3600 s: none expires during a run. Written through
 * ctnetlink (libnetfilter_conntrack), as conntrackd would. Prints one JSON
 * line: {"count":N,"entries":N,"elapsed_ns":N} (entries: created, or found
 * and deleted).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/types.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Flow i as a conntrack object: the original tuple, its inverse, NAT. */
static void flow(struct nf_conntrack *ct, __u32 i, __be32 nat, int del)
{
	__be32 src = htonl(0x0afe0000 | ((i >> 8) & 255) << 8 | ((i & 255) | 1));
	__be32 dst = htonl(0x64400000 + (i >> 6));
	__be16 sport = htons(20000), dport = htons(1024 + (i & 63));

	nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, AF_INET);
	nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, src);
	nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, dst);
	nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, IPPROTO_UDP);
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, sport);
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, dport);
	if (del)
		return;
	nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
	nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, dst);
	nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, src);
	nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_UDP);
	nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, dport);
	nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, sport);
	nfct_set_attr_u32(ct, ATTR_SNAT_IPV4, nat);
	nfct_set_attr_u16(ct, ATTR_SNAT_PORT, htons(32768 + (i & 16383)));
	nfct_set_attr_u32(ct, ATTR_STATUS, IPS_SEEN_REPLY | IPS_ASSURED);
	nfct_set_attr_u32(ct, ATTR_TIMEOUT, 3600);
}

int main(int argc, char **argv)
{
	__u32 count = 0, first = 0, i, entries = 0;
	struct in_addr nat = { htonl(0xc6120001) };
	struct nfct_handle *h;
	int del = 0, opt;
	__u64 t0;
	static const struct option lo[] = {
		{ "count", 1, 0, 'n' }, { "first", 1, 0, 'f' },
		{ "nat-addr", 1, 0, 'a' }, { "delete", 0, 0, 'd' }, { 0 },
	};

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'n': count = strtoul(optarg, NULL, 0); break;
		case 'f': first = strtoul(optarg, NULL, 0); break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &nat) != 1) {
				fprintf(stderr, "ct_fill: --nat-addr '%s' is not an IPv4 "
					"address\n", optarg);
				return 2;
			}
			break;
		case 'd': del = 1; break;
		default:
			fprintf(stderr, "usage: ct_fill --count N [--first K] "
				"[--nat-addr IP] [--delete]\n");
			return 2;
		}
	}
	if (!count || first + count > (1u << 22)) {
		fprintf(stderr, "ct_fill: --count N needed (first + count <= 4M)\n");
		return 2;
	}
	h = nfct_open(CONNTRACK, 0);
	if (!h) {
		fprintf(stderr, "ct_fill: cannot open ctnetlink: %s\n", strerror(errno));
		return 1;
	}
	t0 = mono_ns();
	for (i = first; i < first + count; i++) {
		struct nf_conntrack *ct = nfct_new();
		int err;

		if (!ct)
			break;
		flow(ct, i, nat.s_addr, del);
		err = nfct_query(h, del ? NFCT_Q_DESTROY : NFCT_Q_CREATE, ct);
		nfct_destroy(ct);
		if (!err) {
			entries++;
		} else if (!del) {
			fprintf(stderr, "ct_fill: creating flow %u: %s (is the table "
				"full? nf_conntrack_max)\n", i, strerror(errno));
			nfct_close(h);
			return 1;
		}
	}
	nfct_close(h);
	printf("{\"count\":%u,\"entries\":%u,\"elapsed_ns\":%llu}\n", count, entries,
	       (unsigned long long)(mono_ns() - t0));
	return 0;
}
