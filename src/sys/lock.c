// SPDX-License-Identifier: GPL-2.0
/* The one lock of a host: an flock on the pin root folder (lock.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "lock.h"
#include "log.h"
#include "pins.h"

#define LOCK_POLL_US 100000

/* What this process holds. pid tells a fork()ed child (the agent, before it
 * closes what it inherited) that the lock is its parent's, not its own. */
static struct {
	int fd;
	int depth;
	pid_t pid;
	char path[PATH_MAX];
} held = { .fd = -1 };

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* openat2(RESOLVE_NO_SYMLINKS) (5.6+) refuses a symbolic link in any
 * component; where it is missing O_NOFOLLOW still refuses the last one. */
static int open_no_symlinks(const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS,
	};
	int fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	if (fd < 0 && (errno == ENOSYS || errno == E2BIG))
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static void report_open_error(const char *path, int err)
{
	char target[PATH_MAX] = "";
	struct stat st;
	ssize_t n;

	/* O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR (6.x) or ELOOP. */
	if ((err == ELOOP || err == ENOTDIR) && !lstat(path, &st) &&
	    S_ISLNK(st.st_mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		pr_err("the pin root %s is a symbolic link (to %s): xdp-egress "
		       "never follows one to its lock and pins (whoever can "
		       "change the link could move them); remove the link, or "
		       "set XDP_EGRESS_BPFFS to a real folder on a bpffs",
		       path, target);
	} else if (err == ELOOP) {
		pr_err("the pin root %s lies under a symbolic link (its real "
		       "path is %s): xdp-egress never follows one to its lock "
		       "and pins; set XDP_EGRESS_BPFFS to the real path",
		       path, realpath(path, target) ? target : "unknown");
	} else if (err == EACCES || err == EPERM) {
		pr_err("cannot open the pin root %s: %s; its pins and the lock "
		       "on it are root's alone (run xdp-egress as root)", path,
		       strerror(err));
	} else if (err == ENOTDIR) {
		pr_err("the pin root %s is not a folder; remove it, or set "
		       "XDP_EGRESS_BPFFS to a folder on a bpffs", path);
	} else {
		pr_err("cannot open the pin root %s: %s", path, strerror(err));
	}
}

int lock_open_dir(const char *path)
{
	struct stat st;
	int fd, err;

	if (mkdir(path, 0700) && errno != EEXIST) {
		err = errno;
		pr_err("cannot create the pin root %s: %s", path, strerror(err));
		errno = err;
		return -1;
	}
	fd = open_no_symlinks(path);
	if (fd < 0) {
		err = errno;
		report_open_error(path, err);
		errno = err;
		return -1;
	}
	if (fstat(fd, &st)) {
		err = errno;
		pr_err("cannot stat the pin root %s: %s", path, strerror(err));
		close(fd);
		errno = err;
		return -1;
	}
	/* Whoever owns the folder, or may write it, could hold the lock
	 * forever or replace what is pinned in it. */
	if (st.st_uid != 0) {
		pr_err("the pin root %s belongs to uid %u, not root: its owner "
		       "could hold the lock or replace the pins; `chown root %s` "
		       "(or remove it: xdp-egress creates it as root, mode 0700)",
		       path, (unsigned)st.st_uid, path);
		close(fd);
		errno = EPERM;
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		pr_err("the pin root %s is writable by %s (mode %04o): anyone "
		       "who may write it could replace the pins; `chmod go-w %s`",
		       path, st.st_mode & S_IWOTH ? "everyone" : "its group",
		       (unsigned)(st.st_mode & 07777), path);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* Does path still name the folder fd is open on? */
static int still_named(int fd, const char *path)
{
	struct stat a, b;

	return !fstat(fd, &a) && !lstat(path, &b) && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static int test_hook_off(void)
{
	static int warned;
	const char *v = getenv(LOCK_TEST_OFF_ENV);

	if (!v || strcmp(v, "1"))
		return 0;
	if (!warned++)
		pr_warn("%s=1: running WITHOUT the lock on the pin root. This is "
			"a test hook (tests/e2e/test_lock.sh proves with it that "
			"concurrent attach/detach break without the lock); never "
			"set it anywhere else", LOCK_TEST_OFF_ENV);
	return 1;
}

int lock_dir(const char *path, int wait_s)
{
	double end = mono_s() + wait_s;
	int fd;

	for (;;) {
		fd = lock_open_dir(path);
		if (fd < 0)
			return -1;
		while (flock(fd, LOCK_EX | LOCK_NB)) {
			if (errno != EWOULDBLOCK) {
				pr_err("cannot lock the pin root %s: %s", path,
				       strerror(errno));
				close(fd);
				return -1;
			}
			if (mono_s() >= end) {
				pr_err("another xdp-egress has held the lock on %s "
				       "for over %d s; is one stuck? (`fuser -v %s` "
				       "or `lslocks` names the holder)", path,
				       wait_s, path);
				close(fd);
				errno = ETIMEDOUT;
				return -1;
			}
			usleep(LOCK_POLL_US);
		}
		/* The holder we waited for may have pruned the (empty) root:
		 * our flock is then on a removed folder, and the next process
		 * would lock a new one beside us. */
		if (still_named(fd, path))
			break;
		pr_debug("the pin root %s was removed or replaced while we "
			 "waited for its lock; locking it again", path);
		close(fd);
	}
	held.fd = fd;
	held.depth = 1;
	held.pid = getpid();
	snprintf(held.path, sizeof(held.path), "%s", path);
	return 0;
}

int lock_take(int wait_s)
{
	char root[PATH_MAX];

	if (held.depth && held.pid != getpid()) {
		/* A fork()ed child: the lock is the parent's. */
		if (held.fd >= 0)
			close(held.fd);
		held.fd = -1;
		held.depth = 0;
	}
	if (held.depth) {
		held.depth++;
		return 0;
	}
	if (pins_root(root, sizeof(root)))
		return -1;
	if (test_hook_off()) {
		held.fd = -1;
		held.depth = 1;
		held.pid = getpid();
		snprintf(held.path, sizeof(held.path), "%s", root);
		return 0;
	}
	return lock_dir(root, wait_s);
}

void lock_release(void)
{
	if (!held.depth || held.pid != getpid())
		return;
	if (--held.depth)
		return;
	if (held.fd >= 0) {
		/* Explicitly: a fork()ed child may still share the open file
		 * description, and close() alone would leave it locked. */
		flock(held.fd, LOCK_UN);
		close(held.fd);
	}
	held.fd = -1;
}

int lock_take_for_changes(int wait_s, sigset_t *old)
{
	sigset_t stop;

	if (lock_take(wait_s))
		return -1;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGQUIT);
	sigprocmask(SIG_BLOCK, &stop, old);
	return 0;
}

void lock_release_changes(const sigset_t *old)
{
	lock_release();
	sigprocmask(SIG_SETMASK, old, NULL);
}
