/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the generators: the list of sending containers and a pacer.
 *
 * A targets file has one container per line:
 *   NETNS_PATH IFNAME SRC_IPV4 GATEWAY_MAC
 * e.g. "/run/netns/xeb-1-c1 eth0 10.201.1.2 02:00:00:00:00:01". One process
 * sends from all of them, round robin, so 128 containers do not need 128
 * processes competing for two cores.
 */
#ifndef XEB_TARGETS_H
#define XEB_TARGETS_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 1024

struct target {
	char netns[256];
	char ifname[32];
	struct in_addr src;
	uint8_t gw_mac[6];
	int netns_fd;
};

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

/* Returns the number of targets read, or -1 with a message. */
static int read_targets(const char *path, struct target *t, int max)
{
	char line[512], ns[256], ifn[32], ip[64], mac[64];
	FILE *f = fopen(path, "r");
	int n = 0, lineno = 0;

	if (!f) {
		fprintf(stderr, "targets: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (n == max) {
			fprintf(stderr, "targets: more than %d in %s\n", max, path);
			goto fail;
		}
		if (sscanf(line, "%255s %31s %63s %63s", ns, ifn, ip, mac) != 4 ||
		    !inet_aton(ip, &t[n].src) || parse_mac(mac, t[n].gw_mac)) {
			fprintf(stderr, "targets: %s:%d: want 'NETNS IFNAME SRC_IP GW_MAC'\n",
				path, lineno);
			goto fail;
		}
		strcpy(t[n].netns, ns);
		strcpy(t[n].ifname, ifn);
		t[n].netns_fd = open(ns, O_RDONLY | O_CLOEXEC);
		if (t[n].netns_fd < 0) {
			fprintf(stderr, "targets: cannot open netns %s: %s\n", ns,
				strerror(errno));
			goto fail;
		}
		n++;
	}
	fclose(f);
	if (!n)
		fprintf(stderr, "targets: %s lists no container\n", path);
	return n ? n : -1;
fail:
	fclose(f);
	return -1;
}

static int enter_netns(const struct target *t)
{
	if (setns(t->netns_fd, CLONE_NEWNET)) {
		fprintf(stderr, "setns %s: %s\n", t->netns, strerror(errno));
		return -1;
	}
	return 0;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Pacer: with rate 0 every call says "send a full chunk now". With a rate it
 * hands out credit per elapsed time (at most one 10 ms burst), sleeping in
 * 100 us steps, so the offered rate holds over the window whatever the
 * chunk size.
 */
struct pacer {
	uint64_t rate, start, sent;
};

static inline uint64_t pacer_allow(struct pacer *p, uint64_t chunk)
{
	uint64_t due;

	if (!p->rate)
		return chunk;
	for (;;) {
		due = (now_ns() - p->start) * p->rate / 1000000000ULL;
		if (due > p->sent + p->rate / 100)
			p->sent = due - p->rate / 100; /* drop debt beyond 10 ms */
		if (due > p->sent)
			return due - p->sent < chunk ? due - p->sent : chunk;
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
}

#endif
