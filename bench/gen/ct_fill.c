// SPDX-License-Identifier: GPL-2.0
/*
 * ct_fill: puts N synthetic established UDP flows into xdp-egress's pinned
 * conntrack map (or takes them out again), to measure the fast path with a
 * full table (bench/run.sh, workload "ct").
 *
 *   ct_fill --map PATH --count N [--first K] [--nat-addr 198.18.0.1]
 *           [--delete]
 *
 * Flow i (K <= i < K+N) is container 10.254.(i>>8 & 255).(i & 255 | 1)
 * port 20000 -> remote 100.64.0.0 + (i >> 6) port 1024 + (i & 63), UDP,
 * translated to NAT-ADDR port 32768 + (i & 16383): every remote
 * address/port pair is distinct, so no reply key collides with another or
 * with the bench's real flows (remote 198.18.0.2). Two entries per flow, as
 * bpf/nat.h makes them: the orig entry (state CT_ESTABLISHED, last_seen_ns
 * = now on CLOCK_MONOTONIC, every timeout 7440 s so the sweeper walks them
 * but never expires them) and the reply entry. Inserted through
 * bpf_map_update_batch, 4096 flows at a time (BPF_ANY: a batch takes no
 * BPF_NOEXIST); --delete removes the same keys. Prints one JSON line:
 * {"count":N,"entries":N,"elapsed_ns":N} (entries: written, or found
 * and deleted: 2 x count unless some had gone).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "../../include/xdp_egress.h"

#define CHUNK 4096

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void flow(__u32 i, __be32 nat, __u64 now, struct ct_key *ok,
		 struct ct_entry *oe, struct ct_key *rk, struct ct_entry *re)
{
	__be16 nport = htons(32768 + (i & 16383));
	int t;

	memset(ok, 0, sizeof(*ok));
	memset(rk, 0, sizeof(*rk));
	memset(oe, 0, sizeof(*oe));
	memset(re, 0, sizeof(*re));
	ok->family = AF_INET;
	ok->proto = IPPROTO_UDP;
	ok->saddr[0] = htonl(0x0afe0000 | ((i >> 8) & 255) << 8 | ((i & 255) | 1));
	ok->daddr[0] = htonl(0x64400000 + (i >> 6));
	ok->sport = htons(20000);
	ok->dport = htons(1024 + (i & 63));
	rk->family = AF_INET;
	rk->proto = IPPROTO_UDP;
	rk->saddr[0] = ok->daddr[0];
	rk->daddr[0] = nat;
	rk->sport = ok->dport;
	rk->dport = nport;

	oe->last_seen_ns = now;
	for (t = 0; t < CT_TO_MAX; t++)
		oe->timeout_s[t] = 7440;
	oe->dir = CT_DIR_ORIG;
	oe->state = CT_ESTABLISHED;
	oe->nat_addr[0] = nat;
	oe->nat_port = nport;
	oe->other = *rk;

	re->dir = CT_DIR_REPLY;
	re->nat_addr[0] = ok->saddr[0];
	re->nat_port = ok->sport;
	re->other = *ok;
}

int main(int argc, char **argv)
{
	static struct ct_key keys[2 * CHUNK];
	static struct ct_entry vals[2 * CHUNK];
	const char *path = NULL;
	__u32 count = 0, first = 0, i, n, k, entries = 0;
	struct in_addr nat = { htonl(0xc6120001) };
	int del = 0, fd, opt;
	__u64 t0;
	static const struct option lo[] = {
		{ "map", 1, 0, 'm' }, { "count", 1, 0, 'n' }, { "first", 1, 0, 'f' },
		{ "nat-addr", 1, 0, 'a' }, { "delete", 0, 0, 'd' }, { 0 },
	};

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'm': path = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 0); break;
		case 'f': first = strtoul(optarg, NULL, 0); break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &nat) != 1) {
				fprintf(stderr, "ct_fill: bad --nat-addr\n");
				return 2;
			}
			break;
		case 'd': del = 1; break;
		default:
			fprintf(stderr, "usage: ct_fill --map PATH --count N [--first K] "
				"[--nat-addr IP] [--delete]\n");
			return 2;
		}
	}
	if (!path || !count || first + count > (1u << 22)) {
		fprintf(stderr, "ct_fill: --map and --count (first+count <= 4M) needed\n");
		return 2;
	}
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "ct_fill: %s: %s\n", path, strerror(errno));
		return 1;
	}
	t0 = mono_ns();
	for (i = first; i < first + count; i += n) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo); /* elem_flags: BPF_F_LOCK only */
		__u32 done;
		int err;

		n = first + count - i < CHUNK ? first + count - i : CHUNK;
		for (k = 0; k < n; k++)
			flow(i + k, nat.s_addr, t0, &keys[2 * k], &vals[2 * k],
			     &keys[2 * k + 1], &vals[2 * k + 1]);
		done = 2 * n;
		err = del ? bpf_map_delete_batch(fd, keys, &done, &bo)
			  : bpf_map_update_batch(fd, keys, vals, &done, &bo);
		if (err && del && errno == ENOENT) {
			/* Some key had gone: one by one, counting what was there. */
			for (k = 0; k < 2 * n; k++)
				entries += !bpf_map_delete_elem(fd, &keys[k]);
			continue;
		}
		if (err) {
			fprintf(stderr, "ct_fill: %s batch at flow %u: %s (%u of %u done)\n",
				del ? "delete" : "update", i, strerror(errno), done, 2 * n);
			return 1;
		}
		entries += done;
	}
	printf("{\"count\":%u,\"entries\":%u,\"elapsed_ns\":%llu}\n", count, entries,
	       (unsigned long long)(mono_ns() - t0));
	return 0;
}
