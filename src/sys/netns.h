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
/* Inode number: finds the namespace (/proc, /run/netns) while it exists,
 * but the kernel reuses it once the namespace is gone. */
unsigned long netns_inode(int fd);
/* The netns cookie (SO_NETNS_COOKIE, never reused until reboot): the
 * namespace's identity in pins and records. fd -1: this thread's
 * namespace. 0 on error (errno set). */
unsigned long long netns_cookie(int fd);
/* Run fn(arg) inside the namespace fd; returns fn's result, or -1. */
int netns_run_in(int fd, int (*fn)(void *), void *arg);
/*
 * Find a namespace whose inode is ino among the named namespaces (/run/netns) and
 * those of running processes (/proc/PID/ns/net).
 * Returns an open fd or -1.
 */
int netns_find_by_inode(unsigned long ino);
/* The namespace whose inode is ino and whose cookie is cookie: -1 with
 * errno ESTALE when that inode now names another namespace (the recorded
 * one is gone), ENOENT when none has it. */
int netns_find_by_id(unsigned long ino, unsigned long long cookie);
/* Same, but calling match(fd, arg) on each distinct namespace. */
int netns_find(int (*match)(int fd, void *arg), void *arg);

#endif
