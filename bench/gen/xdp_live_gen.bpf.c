// SPDX-License-Identifier: GPL-2.0
/*
 * Live-frame generator program, run by xdp_live_gen through
 * bpf_prog_test_run_opts(BPF_F_TEST_XDP_LIVE_FRAMES) "on" the container-side
 * veth. XDP_TX there becomes a redirect to that veth's ndo_xdp_xmit
 * (net/bpf/test_run.c, xdp_test_run_batch), which puts the frame on the host
 * veth's receive ring: to the host it looks like the container sent it.
 *
 * The program rewrites the whole frame from the template on every run. It
 * must: test_run copies the user's frame into a page only when the page pool
 * first creates that page (xdp_test_run_init_page); recycled pages are reused
 * as they came back. The kernel path rewrites frames in place (TTL decrement
 * in ip_forward, MASQUERADE's source rewrite, MAC rewrite), so without this
 * the second use of each page carries the host's own address as source and
 * is dropped as a martian: traffic "stops after the first batch".
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define FRAME_LEN 60
#define MAX_TARGETS 1024

struct frame_tmpl_val {
	__u8 bytes[FRAME_LEN];
};

/*
 * Several containers in one call: frame i goes to container
 * (i / burst) % ntargets, built from that container's template and
 * redirected to its container-side veth through this devmap. User space
 * writes each entry from inside that container's namespace, where its
 * ifindex means that device (kernel/bpf/devmap.c, dev_map_update_elem).
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct frame_tmpl_val);
} frame_tmpls SEC(".maps");

/* Written by user space (mmapped .bss) before each test_run call. */
__u8 frame_tmpl[FRAME_LEN];
__u32 nflows;           /* >1: vary the UDP source port over nflows values */
__u32 flow_seq;
__u32 no_rewrite;       /* 1: leave the page as it is (shows the stall) */
__u64 pace_ns;          /* >0: one frame per pace_ns (fixed offered rate) */
__u64 next_ns;
__u64 frames_out;       /* frames handed to XDP_TX: the offered count */
__u32 ntargets;         /* >1: spread over tx_ports/frame_tmpls */
__u32 burst = 16;       /* frames per container before the next one */

static long spin_until(__u32 i, void *ctx)
{
	return bpf_ktime_get_ns() >= *(__u64 *)ctx;
}

SEC("xdp")
int xdp_live_gen(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;

	if (data + FRAME_LEN > data_end)
		return XDP_ABORTED;
	if (pace_ns) {
		/*
		 * One test_run call injects a whole chunk (each call has ~20 ms
		 * of fixed cost here, so chunks must be large); the rate is
		 * held by spinning per frame. Frames leave in batches of 64
		 * (xdp_test_run_batch), i.e. at most 64 * pace_ns of burst.
		 * More than 1 ms of debt is forgiven, not caught up in a burst.
		 */
		__u64 now = bpf_ktime_get_ns(), due = next_ns;

		if (due + 1000000 < now)
			due = now;
		if (now < due)
			bpf_loop(1 << 20, spin_until, &due, 0);
		next_ns = due + pace_ns;
	}
	frames_out++;  /* one generator thread: no atomics needed */
	if (ntargets > 1) {
		__u32 idx = (__u32)((frames_out - 1) / (burst ? burst : 1)) % ntargets;
		struct frame_tmpl_val *t = bpf_map_lookup_elem(&frame_tmpls, &idx);

		if (!t)
			return XDP_ABORTED;
		__builtin_memcpy(data, t->bytes, FRAME_LEN);
		return bpf_redirect_map(&tx_ports, idx, 0);
	}
	if (no_rewrite)
		return XDP_TX;
	__builtin_memcpy(data, frame_tmpl, FRAME_LEN);
	if (nflows > 1) {
		/* UDP source port, bytes 34-35; UDP checksum is 0 (none). */
		__u16 port = 10000 + (flow_seq++ % nflows);

		((__u8 *)data)[34] = port >> 8;
		((__u8 *)data)[35] = port & 0xff;
	}
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
