// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>

#include "ethtool.h"
#include "netns.h"

const char *offload_names[OFFLOAD_MAX] = {
	[OFFLOAD_TX_CSUM] = "tx-checksumming",
	[OFFLOAD_TSO] = "tcp-segmentation-offload",
	[OFFLOAD_GRO] = "generic-receive-offload",
};

static const struct {
	__u32 get, set;
} offload_cmds[OFFLOAD_MAX] = {
	[OFFLOAD_TX_CSUM] = { ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM },
	[OFFLOAD_TSO] = { ETHTOOL_GTSO, ETHTOOL_STSO },
	[OFFLOAD_GRO] = { ETHTOOL_GGRO, ETHTOOL_SGRO },
};

static int sock_cb(void *arg)
{
	*(int *)arg = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return *(int *)arg < 0 ? -1 : 0;
}

static int sock_in(int netns_fd)
{
	int fd = -1;

	if (netns_fd < 0)
		sock_cb(&fd);
	else if (netns_run_in(netns_fd, sock_cb, &fd))
		return -1;
	return fd;
}

static int ethtool_ioctl(int netns_fd, const char *ifname, void *cmd)
{
	struct ifreq ifr = {};
	int fd = sock_in(netns_fd), ret, err;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	ret = ioctl(fd, SIOCETHTOOL, &ifr);
	err = errno;
	close(fd);
	errno = err;
	return ret;
}

/*
 * TSO is several features (tx-tcp-segmentation, -ecn-, -mangleid-, tcp6-,
 * and since 6.x tx-tcp-accecn-segmentation). The legacy ETHTOOL_STSO does
 * not clear the newer ones, so TSO goes through the features API, like
 * `ethtool -K DEV tso off`.
 */
#define MAX_FEATURE_WORDS 8

static int tso_features(int netns_fd, const char *ifname, __u32 *mask,
			struct ethtool_gfeatures *gf)
{
	struct {
		struct ethtool_sset_info hdr;
		__u32 buf[1];
	} ss = { .hdr = { .cmd = ETHTOOL_GSSET_INFO,
			  .sset_mask = 1ULL << ETH_SS_FEATURES } };
	struct ethtool_gstrings *gs;
	unsigned int n, i;

	if (ethtool_ioctl(netns_fd, ifname, &ss))
		return -1;
	n = ss.hdr.data[0];
	if (n > MAX_FEATURE_WORDS * 32)
		n = MAX_FEATURE_WORDS * 32;
	gs = calloc(1, sizeof(*gs) + n * ETH_GSTRING_LEN);
	if (!gs)
		return -1;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = n;
	if (ethtool_ioctl(netns_fd, ifname, gs)) {
		free(gs);
		return -1;
	}
	memset(mask, 0, MAX_FEATURE_WORDS * sizeof(__u32));
	for (i = 0; i < n; i++) {
		const char *name = (const char *)gs->data + i * ETH_GSTRING_LEN;
		size_t len = strnlen(name, ETH_GSTRING_LEN);

		if (!strncmp(name, "tx-tcp", 6) && len > 12 &&
		    !strcmp(name + len - 12, "segmentation"))
			mask[i / 32] |= 1u << (i % 32);
	}
	free(gs);
	gf->cmd = ETHTOOL_GFEATURES;
	gf->size = MAX_FEATURE_WORDS;
	return ethtool_ioctl(netns_fd, ifname, gf);
}

static int tso_get(int netns_fd, const char *ifname)
{
	struct {
		struct ethtool_gfeatures hdr;
		struct ethtool_get_features_block b[MAX_FEATURE_WORDS];
	} gf = {};
	__u32 mask[MAX_FEATURE_WORDS];
	int w;

	if (tso_features(netns_fd, ifname, mask, &gf.hdr))
		return -1;
	for (w = 0; w < MAX_FEATURE_WORDS; w++)
		if (gf.b[w].active & mask[w])
			return 1;
	return 0;
}

static int tso_set(int netns_fd, const char *ifname, int on)
{
	struct {
		struct ethtool_gfeatures hdr;
		struct ethtool_get_features_block b[MAX_FEATURE_WORDS];
	} gf = {};
	struct {
		struct ethtool_sfeatures hdr;
		struct ethtool_set_features_block b[MAX_FEATURE_WORDS];
	} sf = {};
	__u32 mask[MAX_FEATURE_WORDS];
	int w, ret;

	if (tso_features(netns_fd, ifname, mask, &gf.hdr))
		return -1;
	sf.hdr.cmd = ETHTOOL_SFEATURES;
	/* ethtool_set_features() wants exactly the kernel's word count,
	 * which ETHTOOL_GFEATURES reported back in size. */
	sf.hdr.size = gf.hdr.size < MAX_FEATURE_WORDS ? gf.hdr.size : MAX_FEATURE_WORDS;
	for (w = 0; w < MAX_FEATURE_WORDS; w++) {
		/* Only what the driver lets us change. */
		sf.b[w].valid = mask[w] & gf.b[w].available;
		sf.b[w].requested = on ? sf.b[w].valid : 0;
	}
	ret = ethtool_ioctl(netns_fd, ifname, &sf);
	/* Positive: some features could not be set as asked; tso_get tells. */
	return ret < 0 ? -1 : 0;
}

int offload_get(int netns_fd, const char *ifname, enum offload o)
{
	struct ethtool_value ev = { .cmd = offload_cmds[o].get };

	if (o == OFFLOAD_TSO)
		return tso_get(netns_fd, ifname);
	if (ethtool_ioctl(netns_fd, ifname, &ev))
		return -1;
	return ev.data ? 1 : 0;
}

int offload_set(int netns_fd, const char *ifname, enum offload o, int on)
{
	struct ethtool_value ev = { .cmd = offload_cmds[o].set, .data = !!on };

	if (o == OFFLOAD_TSO)
		return tso_set(netns_fd, ifname, on);
	return ethtool_ioctl(netns_fd, ifname, &ev);
}

int channels_get(int netns_fd, const char *ifname, struct channels *ch)
{
	struct ethtool_channels ec = { .cmd = ETHTOOL_GCHANNELS };

	if (ethtool_ioctl(netns_fd, ifname, &ec))
		return -1;
	ch->rx = ec.rx_count;
	ch->tx = ec.tx_count;
	ch->combined = ec.combined_count;
	return 0;
}
