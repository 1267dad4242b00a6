/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Network namespace handles. Sockets created while inside a namespace stay
 * bound to it, so the tool enters a namespace only long enough to open a
 * netlink or ioctl socket there (see nl_open_in(), ethtool_open_in()).
 */
#ifndef XE_NETNS_H
#define XE_NETNS_H

#include <sys/types.h>

/* NAME (under /run/netns) or a path such as /proc/PID/ns/net. -1 + errno. */
int netns_open(const char *name_or_path);
int netns_open_pid(pid_t pid);
int netns_open_self(void);
/* Inode number: the namespace's identity, stable while it exists. */
unsigned long netns_inode(int fd);
/* Run fn(arg) inside the namespace fd; returns fn's result, or -1. */
int netns_run_in(int fd, int (*fn)(void *), void *arg);
/*
 * Find a namespace whose inode is ino among the named namespaces (/run/netns) and
 * those of running processes (/proc/PID/ns/net).
 * Returns an open fd or -1.
 */
int netns_find_by_inode(unsigned long ino);
/* Same, but calling match(fd, arg) on each distinct namespace. */
int netns_find(int (*match)(int fd, void *arg), void *arg);

#endif
