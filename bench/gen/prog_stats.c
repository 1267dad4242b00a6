// SPDX-License-Identifier: GPL-2.0
/*
 * prog_stats SECONDS [NAME,...]: the mean run time of BPF programs by name
 * while a workload runs, from the kernel's own per-program statistics
 * (run_cnt, run_time_ns), which count only while someone holds a
 * BPF_ENABLE_STATS file descriptor; this holds one for SECONDS, without
 * touching the kernel.bpf_stats_enabled sysctl.
 *
 * Programs come and go during a benchmark (each round builds its topology
 * afresh), so every 200 ms it notes each program's cumulative figures by
 * id; at the end it prints, per name, the runs and the mean ns per run over
 * every program of that name it saw. Default names: xdp-egress's programs.
 *
 *   bench/build/prog_stats 75 & bench/run.sh --only connrate --contenders xe-tc --rounds 6
 *
 * Turning the statistics on costs every program two clock reads per run,
 * so figures taken with it are for comparing builds, not contenders.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define MAX_PROGS 8192
#define MAX_NAMES 16

struct seen {
	__u32 id;
	char name[BPF_OBJ_NAME_LEN];
	__u64 runs, ns;
};

static struct seen progs[MAX_PROGS];
static int n_progs;

static struct seen *seen_by_id(__u32 id, const char *name)
{
	int i;

	for (i = 0; i < n_progs; i++)
		if (progs[i].id == id)
			return &progs[i];
	if (n_progs == MAX_PROGS)
		return NULL;
	progs[n_progs].id = id;
	snprintf(progs[n_progs].name, sizeof(progs[n_progs].name), "%s", name);
	return &progs[n_progs++];
}

static void sample(void)
{
	__u32 id = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		struct seen *s;
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue; /* gone meanwhile */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    (s = seen_by_id(id, info.name))) {
			s->runs = info.run_cnt;
			s->ns = info.run_time_ns;
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	char names_buf[512] = "xdp_egress,tc_egress,xdp_uplink,tc_uplink";
	char *names[MAX_NAMES], *tok, *save = NULL;
	int secs, fd, i, j, n_names = 0;

	if (argc < 2 || argc > 3 || (secs = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: prog_stats SECONDS [NAME,...] (SECONDS a whole "
				"number > 0; names default to %s)\n", names_buf);
		return 2;
	}
	if (argc == 3)
		snprintf(names_buf, sizeof(names_buf), "%s", argv[2]);
	for (tok = strtok_r(names_buf, ",", &save); tok && n_names < MAX_NAMES;
	     tok = strtok_r(NULL, ",", &save))
		names[n_names++] = tok;
	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0) {
		fprintf(stderr, "prog_stats: BPF_ENABLE_STATS failed: %s (needs root "
				"and a kernel of 5.8 or later)\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < secs * 5; i++) {
		sample();
		usleep(200000);
	}
	sample();
	close(fd);
	for (j = 0; j < n_names; j++) {
		__u64 runs = 0, ns = 0;
		int n = 0;

		for (i = 0; i < n_progs; i++) {
			if (strcmp(progs[i].name, names[j]))
				continue;
			runs += progs[i].runs;
			ns += progs[i].ns;
			n++;
		}
		if (runs)
			printf("%s: %llu runs over %d program%s, %.1f ns a run\n", names[j],
			       (unsigned long long)runs, n, n == 1 ? "" : "s",
			       (double)ns / runs);
		else
			printf("%s: no runs seen\n", names[j]);
	}
	return 0;
}
