// SPDX-License-Identifier: GPL-2.0
/* Kernel feature probes (probe.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <zlib.h>
#include <cjson/cJSON.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "pins.h"
#include "probe.h"

/* tcx answers BPF_PROG_QUERY for its attach type on any device (loopback
 * exists in every namespace); a kernel without tcx rejects the type. */
static int probe_tcx(void)
{
	__u32 attach_flags = 0, cnt = 0;

	return !bpf_prog_query(1, (enum bpf_attach_type)XE_BPF_TCX_INGRESS, 0,
			       &attach_flags, NULL, &cnt);
}

static int btf_has_func(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
}

void kernel_caps_probe(struct kernel_caps *c)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *mod = NULL;
	struct utsname u;

	memset(c, 0, sizeof(*c));
	if (!uname(&u))
		snprintf(c->release, sizeof(c->release), "%s", u.release);
	c->tcx = probe_tcx();
	if (btf_has_func(vmlinux, "bpf_xdp_ct_lookup")) {
		c->ct_kfuncs = 1;
	} else if (vmlinux) {
		mod = btf__load_module_btf("nf_conntrack", vmlinux);
		c->ct_kfuncs = c->ct_kfuncs_module =
			btf_has_func(mod, "bpf_xdp_ct_lookup");
	}
	btf__free(mod);
	btf__free(vmlinux);
	c->hz = kernel_hz();
	c->hz_measured = kernel_kconfig_extra() != NULL;
}

int kernel_caps_require(const struct kernel_caps *c)
{
	if (c->ct_kfuncs)
		return 0;
	pr_err("kernel %s has no conntrack kfuncs (bpf_xdp_ct_lookup, in the "
	       "kernel since 6.0, needs CONFIG_NF_CONNTRACK and BTF): the fast "
	       "path carries only flows the kernel's conntrack accepted, so it "
	       "cannot run here; use a kernel with them (Debian 12's 6.1 has "
	       "them), and check that nf_conntrack is loaded (lsmod)",
	       c->release);
	return -1;
}

/* ---- the tick rate (CONFIG_HZ) ---- */

/* The kernel's own config, where libbpf looks for it (libbpf 1.1,
 * bpf_object__read_kconfig_file()): /boot/config-RELEASE, /proc/config.gz.
 * 0 when unreadable. */
static unsigned int kconfig_hz(void)
{
	char path[128], line[256];
	struct utsname u;
	unsigned int hz = 0;
	gzFile f;

	if (uname(&u))
		return 0;
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	if (access(path, R_OK))
		snprintf(path, sizeof(path), "/proc/config.gz");
	f = gzopen(path, "r");
	if (!f)
		return 0;
	while (gzgets(f, line, sizeof(line)))
		if (sscanf(line, "CONFIG_HZ=%u", &hz) == 1)
			break;
	gzclose(f);
	return hz;
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int read_jiffies(int fd, __u32 *j)
{
	unsigned char pkt[64] = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
		    .data_size_in = sizeof(pkt));

	if (bpf_prog_test_run_opts(fd, &o))
		return -1;
	*j = o.retval;
	return 0;
}

/* Waits for the next tick: its jiffies value and when it was seen. */
static int next_tick(int fd, __u32 *j, long long *t)
{
	long long end = now_ns() + 100000000LL;
	__u32 j0, j1;

	if (read_jiffies(fd, &j0))
		return -1;
	do {
		if (read_jiffies(fd, &j1))
			return -1;
	} while (j1 == j0 && now_ns() < end);
	*t = now_ns();
	*j = j1;
	return j1 == j0 ? -1 : 0;
}

/* jiffies counted over 0.2 s by a program that returns bpf_jiffies64(),
 * rounded to the nearest rate a kernel can have (100, 250, 300, 1000). */
static unsigned int measure_hz(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_jiffies64 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static const unsigned int rates[] = { 100, 250, 300, 1000 };
	struct timespec pause = { 0, 200000000L };
	unsigned int i, best = 0;
	long long t0, t1;
	double hz;
	__u32 j0, j1;
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "xe_jiffies", "GPL",
			   insns, 2, NULL);
	if (fd < 0)
		return 0;
	if (next_tick(fd, &j0, &t0) || nanosleep(&pause, NULL) ||
	    next_tick(fd, &j1, &t1) || t1 <= t0) {
		close(fd);
		return 0;
	}
	close(fd);
	hz = (double)(__u32)(j1 - j0) * 1e9 / (double)(t1 - t0);
	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (!best || abs((int)rates[i] - (int)hz) < abs((int)best - (int)hz))
			best = rates[i];
	pr_debug("CONFIG_HZ measured: %.1f jiffies/s, taken as %u", hz, best);
	return best;
}

static unsigned int hz_cached;
static int hz_from_config;

unsigned int kernel_hz(void)
{
	if (hz_cached)
		return hz_cached;
	hz_cached = kconfig_hz();
	hz_from_config = hz_cached != 0;
	if (!hz_cached)
		hz_cached = measure_hz();
	if (!hz_cached) {
		/* Too high errs on the safe side: the keep-alive refreshes
		 * an entry more often than needed, never too seldom. */
		hz_cached = 1000;
		pr_warn("the kernel's tick rate is unknown (no /boot/config-"
			"RELEASE or /proc/config.gz, and measuring it failed): "
			"taking CONFIG_HZ=1000");
	}
	return hz_cached;
}

const char *kernel_kconfig_extra(void)
{
	static char text[32];
	unsigned int hz = kernel_hz();

	if (hz_from_config)
		return NULL;
	snprintf(text, sizeof(text), "CONFIG_HZ=%u\n", hz);
	return text;
}

/* ---- what the record and status say ---- */

cJSON *kernel_caps_json(const struct kernel_caps *c)
{
	cJSON *k = cJSON_CreateObject();

	cJSON_AddStringToObject(k, "release", c->release);
	cJSON_AddBoolToObject(k, "tcx", c->tcx);
	cJSON_AddStringToObject(k, "tc_hook_default", c->tcx ? "tcx" : "clsact");
	cJSON_AddStringToObject(k, "conntrack_kfuncs",
				!c->ct_kfuncs ? "absent" :
				c->ct_kfuncs_module ? "nf_conntrack module BTF" : "vmlinux");
	cJSON_AddNumberToObject(k, "config_hz", c->hz);
	cJSON_AddStringToObject(k, "config_hz_from",
				c->hz_measured ? "measured (no readable kernel config)"
					       : "kernel config");
	return k;
}

static const char *kstr(cJSON *k, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(k, name)) ?: "?";
}

void kernel_caps_print(cJSON *k, const char *indent)
{
	if (!k)
		return;
	printf("%skernel: %s: %s, conntrack kfuncs in %s, CONFIG_HZ %.0f (%s)\n",
	       indent, kstr(k, "release"),
	       cJSON_IsTrue(cJSON_GetObjectItem(k, "tcx"))
		       ? "tcx (tc programs attach through tc links)"
		       : "no tcx (6.6): tc programs attach as clsact filters",
	       kstr(k, "conntrack_kfuncs"),
	       cJSON_GetNumberValue(cJSON_GetObjectItem(k, "config_hz")),
	       kstr(k, "config_hz_from"));
}
