/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SNAT configuration: parse and validate what the user asked for (address,
 * port range, timeouts) before anything changes, and manage what SNAT
 * shares per host namespace: the conntrack map, the devmap of container
 * veths, and one uplink program per uplink (the return path).
 */
#ifndef XE_SNAT_H
#define XE_SNAT_H

#include <linux/types.h>
#include "nl.h"
#include "xdp_egress.h"

#define SNAT_DEFAULT_PORT_MIN 16384
#define SNAT_DEFAULT_PORT_MAX 32767
#define CT_DEFAULT_SIZE 262144

struct snat_opts {
	int enabled;
	const char *addrs[2];     /* "auto", an IPv4 and/or an IPv6 address */
	int n_addrs;
	const char *ports;        /* "MIN-MAX" or NULL for the default */
	unsigned int timeouts[CT_TO_MAX];
	unsigned int ct_size;     /* entries (two per flow) */
	int uplink_generic;       /* --uplink-mode generic */
};

struct snat_plan {
	int v4_on, v6_on;
	__be32 v4;
	__be32 v6[4];
	char v4_str[64], v6_str[64];
	unsigned int port_min, port_max;
};

void snat_opts_defaults(struct snat_opts *o);
/* "20000-29999" -> 0; prints the error and returns -1 otherwise. */
int snat_parse_ports(const char *s, unsigned int *min, unsigned int *max);
/* "udp=30" -> sets o->timeouts[CT_TO_UDP]; -1 with an error printed. */
int snat_parse_timeout(const char *s, unsigned int *timeouts);
/* The host's ephemeral port range (net.ipv4.ip_local_port_range here). */
int host_port_range(unsigned int *lo, unsigned int *hi);
/* Validate everything against this namespace and fill plan. */
int snat_plan_make(const struct snat_opts *o, const struct link_info *uplinks,
		   int n_uplinks, struct snat_plan *plan);

/* Shared per-namespace objects (pins in ns_dir). */
int ct_map_open(const char *ns_dir);           /* fd or -1 when absent */
int ports_map_open(const char *ns_dir);
int sweeper_map_open(const char *ns_dir);   /* the ct expiry timer's map */
/* Load (or reuse) the uplink program on up. *created tells whether this
 * call attached it. Prints errors. */
int uplink_ensure(const char *ns_dir, const struct link_info *up,
		  int ct_fd, int generic, int *created, int *native_out);
/* Detach the uplink program of ifindex and remove its pins. */
int uplink_remove(const char *ns_dir, int ifindex);
/* Delete every ct entry (both directions) that leads to ifindex. */
int ct_purge_ifindex(int ct_fd, __u32 ifindex);
/* Number of ct entries (two per flow), -1 on error. */
long ct_count(int ct_fd);

#endif
