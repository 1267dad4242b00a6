/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Incremental Internet checksum updates (RFC 1624: HC' = ~(~HC + ~m + m')),
 * the arithmetic the kernel's csum_replace4()/inet_proto_csum_replace4() do.
 * All values stay in network byte order; one's-complement sums do not care.
 */
#ifndef XDP_EGRESS_CSUM_H
#define XDP_EGRESS_CSUM_H

#include <linux/types.h>

static __always_inline __u32 csum_add32(__u32 sum, __u32 a)
{
	sum += a;
	return sum + (sum < a);
}

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Replace a 32-bit word covered by *sum. */
static __always_inline void csum_replace4(__sum16 *sum, __be32 from, __be32 to)
{
	__u32 s = (__u16)~*sum;

	s = csum_add32(s, ~from);
	s = csum_add32(s, to);
	*sum = (__sum16)~csum_fold32(s);
}

/* Replace a 16-bit word covered by *sum. */
static __always_inline void csum_replace2(__sum16 *sum, __be16 from, __be16 to)
{
	__u32 s = (__u16)~*sum;

	s = csum_add32(s, (__u16)~from);
	s = csum_add32(s, to);
	*sum = (__sum16)~csum_fold32(s);
}

/* Replace a 16-byte IPv6 address covered by *sum. */
static __always_inline void csum_replace16(__sum16 *sum, const __be32 *from,
					   const __be32 *to)
{
	__u32 s = (__u16)~*sum;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		s = csum_add32(s, ~from[i]);
		s = csum_add32(s, to[i]);
	}
	*sum = (__sum16)~csum_fold32(s);
}

/* UDP over IPv4 may carry no checksum (0); a computed 0 is sent as 0xffff. */
static __always_inline void udp_csum_fixup_zero(__sum16 *sum)
{
	if (*sum == 0)
		*sum = (__sum16)0xffff;
}

#endif
