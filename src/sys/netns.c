// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "netns.h"
#include "log.h"

/* Only a namespace file (nsfs) names a namespace: reject /etc/passwd etc. */
static int check_nsfs(int fd)
{
	struct statfs st;

	if (fd < 0)
		return fd;
	if (fstatfs(fd, &st) || st.f_type != NSFS_MAGIC) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

int netns_open(const char *name_or_path)
{
	char path[PATH_MAX];

	if (strchr(name_or_path, '/'))
		snprintf(path, sizeof(path), "%s", name_or_path);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name_or_path);
	return check_nsfs(open(path, O_RDONLY | O_CLOEXEC));
}

int netns_open_pid(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int netns_open_self(void)
{
	return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

unsigned long netns_inode(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return 0;
	return st.st_ino;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

static int cookie_here(void *arg)
{
	unsigned long long *out = arg;
	socklen_t len = sizeof(*out);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (s < 0)
		return -1;
	ret = getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, out, &len);
	close(s);
	return ret;
}

unsigned long long netns_cookie(int fd)
{
	unsigned long long c = 0;

	if ((fd < 0 ? cookie_here(&c) : netns_run_in(fd, cookie_here, &c)) < 0)
		return 0;
	return c;
}

int netns_run_in(int fd, int (*fn)(void *), void *arg)
{
	int self = netns_open_self();
	int ret, err;

	if (self < 0)
		return -1;
	if (setns(fd, CLONE_NEWNET)) {
		err = errno;
		close(self);
		errno = err;
		return -1;
	}
	ret = fn(arg);
	err = errno;
	if (setns(self, CLONE_NEWNET)) {
		/* Staying in the wrong namespace would make every later step
		 * act on the wrong interfaces: stop here. */
		pr_err("cannot return to the original network namespace: %s",
		       strerror(errno));
		abort();
	}
	close(self);
	errno = err;
	return ret;
}

static int try_candidate(const char *path, unsigned long *seen, int *nseen,
			 int max_seen, int (*match)(int, void *), void *arg)
{
	unsigned long ino;
	int fd, i;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ino = netns_inode(fd);
	for (i = 0; i < *nseen; i++) {
		if (seen[i] == ino) {
			close(fd);
			return -1;
		}
	}
	if (*nseen < max_seen)
		seen[(*nseen)++] = ino;
	if (match(fd, arg))
		return fd;
	close(fd);
	return -1;
}

int netns_find(int (*match)(int fd, void *arg), void *arg)
{
	static const char *dirs[] = { "/run/netns", "/proc" };
	unsigned long seen[4096];
	int nseen = 0, fd = -1;
	unsigned d;

	for (d = 0; d < 2 && fd < 0; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *de;

		if (!dir)
			continue;
		while (fd < 0 && (de = readdir(dir))) {
			char path[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			if (d == 1) {
				if (de->d_name[0] < '0' || de->d_name[0] > '9')
					continue;
				snprintf(path, sizeof(path), "/proc/%s/ns/net",
					 de->d_name);
			} else {
				snprintf(path, sizeof(path), "/run/netns/%s",
					 de->d_name);
			}
			fd = try_candidate(path, seen, &nseen, 4096, match, arg);
		}
		closedir(dir);
	}
	return fd;
}

static int match_inode(int fd, void *arg)
{
	return netns_inode(fd) == *(unsigned long *)arg;
}

int netns_find_by_inode(unsigned long ino)
{
	return netns_find(match_inode, &ino);
}

int netns_find_by_id(unsigned long ino, unsigned long long cookie)
{
	int fd = netns_find_by_inode(ino);

	if (fd < 0) {
		errno = ENOENT;
		return -1;
	}
	if (cookie && netns_cookie(fd) != cookie) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}
