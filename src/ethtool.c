// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
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

int offload_get(int netns_fd, const char *ifname, enum offload o)
{
	struct ethtool_value ev = { .cmd = offload_cmds[o].get };

	if (ethtool_ioctl(netns_fd, ifname, &ev))
		return -1;
	return ev.data ? 1 : 0;
}

int offload_set(int netns_fd, const char *ifname, enum offload o, int on)
{
	struct ethtool_value ev = { .cmd = offload_cmds[o].set, .data = !!on };

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
