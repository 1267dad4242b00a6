/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the BPF program tests share: big-endian byte access, the RFC 1071
 * checksum they recompute independently of the programs, running `ip` in
 * the test's private namespace, and describing a result.
 */
#ifndef XDP_EGRESS_PKT_UTIL_H
#define XDP_EGRESS_PKT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/types.h>

static inline void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static inline __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* One's complement sum of big-endian 16-bit words (RFC 1071), unfolded. */
static inline __u32 csum_add(__u32 sum, const __u8 *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static inline __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

static inline int run_cmd(const char *cmd, char *why, size_t why_len)
{
	char line[512];
	int rc;

	snprintf(line, sizeof(line), "%s >/dev/null 2>&1", cmd);
	rc = system(line);
	if (rc == 0)
		return 0;
	snprintf(why, why_len, "`%s` failed (%s %d)", cmd,
		 WIFEXITED(rc) ? "exit" : "status",
		 WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
	return -1;
}

static inline int write_sysctl(const char *path, const char *val, char *why, size_t why_len)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0) {
		snprintf(why, why_len, "open %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, val, strlen(val));
	close(fd);
	if (n != (ssize_t)strlen(val)) {
		snprintf(why, why_len, "write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static inline const char *action_name(int a)
{
	switch (a) {
	case XDP_ABORTED: return "XDP_ABORTED";
	case XDP_DROP: return "XDP_DROP";
	case XDP_PASS: return "XDP_PASS";
	case XDP_TX: return "XDP_TX";
	case XDP_REDIRECT: return "XDP_REDIRECT";
	default: return "?";
	}
}

/* linux/pkt_cls.h's TC_ACT_* (a test that includes it can name them). */
static inline const char *tc_action_name(int a)
{
	switch (a) {
	case -1: return "TC_ACT_UNSPEC";
	case 0: return "TC_ACT_OK";
	case 2: return "TC_ACT_SHOT";
	case 7: return "TC_ACT_REDIRECT";
	default: return "?";
	}
}

static inline int first_diff(const __u8 *a, const __u8 *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (a[i] != b[i])
			return (int)i;
	return -1;
}

#endif
