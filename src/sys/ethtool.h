/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The offloads attach has to change (DESIGN.md "kernel traps"), read and set
 * through the SIOCETHTOOL ioctl on a socket opened in the device's namespace.
 */
#ifndef XE_ETHTOOL_H
#define XE_ETHTOOL_H

enum offload {
	OFFLOAD_TX_CSUM,  /* tx-checksumming: CHECKSUM_PARTIAL skbs */
	OFFLOAD_TSO,      /* tcp-segmentation-offload */
	OFFLOAD_GRO,      /* generic-receive-offload: gives a veth NAPI */
	OFFLOAD_MAX,
};

extern const char *offload_names[OFFLOAD_MAX];

/* Returns 0/1, or -1 with errno. netns_fd -1 means the current namespace. */
int offload_get(int netns_fd, const char *ifname, enum offload o);
int offload_set(int netns_fd, const char *ifname, enum offload o, int on);

struct channels {
	unsigned int rx, tx, combined;
};
/* Queue counts in use (ETHTOOL_GCHANNELS); -1 when the driver has none. */
int channels_get(int netns_fd, const char *ifname, struct channels *ch);

#endif
