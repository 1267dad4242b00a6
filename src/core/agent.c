// SPDX-License-Identifier: GPL-2.0
/*
 * The agent (agent.h): promotes TCP flows the programs hand over through
 * the promote_rb ring buffer, refreshes the namespace's conntrack settings,
 * forgets flushed flows that ended. One per host namespace: it holds a
 * flock on the namespace's pin folder, so a second one cannot start.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "kct.h"
#include "log.h"
#include "netns.h"
#include "pins.h"

#define CONFIG_REFRESH_S 5
#define GC_S 10

struct agent {
	const char *ns_dir;
	struct nfct_handle *h;
	unsigned long promoted, gone;
};

static volatile sig_atomic_t agent_stopping;

static void on_stop(int sig)
{
	(void)sig;
	agent_stopping = 1;
}

static int on_promote(void *ctx, void *data, size_t len)
{
	struct agent *a = ctx;

	if (len < sizeof(struct kct_key))
		return 0;
	/* ENOENT: the flow ended before we got to it. */
	if (kct_set_liberal(a->h, data))
		a->gone++;
	else
		a->promoted++;
	return 0;
}

static int config_update_pid(const char *ns_dir, __u32 pid, __u32 only_if)
{
	struct kct_config c;
	__u32 zero = 0;
	int fd = pins_open(ns_dir, "kct_config"), ret = -1;

	if (fd < 0)
		return -1;
	if (!bpf_map_lookup_elem(fd, &zero, &c) &&
	    (only_if == (__u32)-1 || c.agent_pid == only_if)) {
		c.agent_pid = pid;
		ret = bpf_map_update_elem(fd, &zero, &c, 0);
	}
	close(fd);
	return ret;
}

int agent_pid(const char *ns_dir)
{
	struct kct_config c;
	__u32 zero = 0;
	int fd = pins_open(ns_dir, "kct_config"), pid = 0;

	if (fd < 0)
		return 0;
	if (!bpf_map_lookup_elem(fd, &zero, &c))
		pid = (int)c.agent_pid;
	close(fd);
	/* A pid left behind by an agent that was killed: not running. */
	if (pid > 0 && kill(pid, 0) && errno == ESRCH)
		pid = 0;
	return pid;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The loop; returns the exit status. The caller holds the lock. */
static int agent_run(const char *ns_dir)
{
	struct agent a = { .ns_dir = ns_dir };
	struct ring_buffer *rb = NULL;
	struct sigaction sa = { .sa_handler = on_stop };
	double last_check = 0, last_config = 0, last_gc = 0, t;
	int rb_fd, ret = 1;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rb_fd = pins_open(ns_dir, "promote_rb");
	if (rb_fd < 0) {
		pr_err("agent: %s/promote_rb is missing: nothing is attached in "
		       "this namespace", ns_dir);
		return 1;
	}
	rb = ring_buffer__new(rb_fd, on_promote, &a, NULL);
	a.h = kct_open();
	if (!rb || !a.h) {
		pr_err("agent: cannot read the ring buffer or open ctnetlink: %s",
		       strerror(errno));
		goto out;
	}
	if (config_update_pid(ns_dir, getpid(), (__u32)-1)) {
		pr_err("agent: cannot register in %s/kct_config", ns_dir);
		goto out;
	}
	pr_debug("agent %d serving %s", (int)getpid(), ns_dir);
	while (!agent_stopping) {
		int n = ring_buffer__poll(rb, 500);

		if (n < 0 && n != -EINTR) {
			pr_err("agent: ring buffer: %s", strerror(-n));
			break;
		}
		t = now_s();
		if (t - last_check >= 1) {
			last_check = t;
			if (!pins_ns_in_use(ns_dir))
				break; /* the last detach happened */
		}
		if (t - last_config >= CONFIG_REFRESH_S) {
			last_config = t;
			kct_config_refresh(ns_dir);
		}
		if (t - last_gc >= GC_S) {
			last_gc = t;
			kct_kernel_only_gc(a.h, ns_dir);
		}
	}
	ret = 0;
	config_update_pid(ns_dir, 0, getpid());
	pr_debug("agent %d: %lu flows promoted, %lu ended first", (int)getpid(),
		 a.promoted, a.gone);
out:
	ring_buffer__free(rb);
	kct_close(a.h);
	close(rb_fd);
	return ret;
}

static int lock_ns_dir(const char *ns_dir)
{
	int fd = open(ns_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return -2; /* an agent runs */
	}
	return fd;
}

int agent_ensure(const char *ns_dir)
{
	int fd = lock_ns_dir(ns_dir), i;
	pid_t pid;

	if (fd == -2)
		return 0;
	if (fd < 0) {
		pr_warn("cannot open %s to start the agent: %s; TCP flows stay on "
			"the kernel path", ns_dir, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		pr_warn("cannot start the agent: %s; TCP flows stay on the "
			"kernel path", strerror(errno));
		close(fd);
		return -1;
	}
	if (pid == 0) {
		/* Detach from the caller (its session, its terminal, its
		 * pipes: a shell capturing attach's output must not wait for
		 * us), keeping only the lock. */
		sigset_t none;

		setsid();
		/* attach blocks SIGTERM while it holds the lock: not ours. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (fork())
			_exit(0);
		for (i = 0; i < 1024; i++)
			if (i != fd)
				close(i);
		open("/dev/null", O_RDONLY);
		open("/dev/null", O_WRONLY);
		open("/dev/null", O_WRONLY);
		_exit(agent_run(ns_dir));
	}
	close(fd); /* the grandchild holds the lock now */
	waitpid(pid, NULL, 0);
	/* Ready when registered: its first promotion is not lost. */
	for (i = 0; i < 200 && !agent_pid(ns_dir); i++)
		usleep(10000);
	if (!agent_pid(ns_dir)) {
		pr_warn("the agent did not start within 2 s; TCP flows stay on "
			"the kernel path (run `xdp-egress agent` to see why)");
		return -1;
	}
	pr_info("  agent: pid %d promotes established TCP flows to the fast "
		"path", agent_pid(ns_dir));
	return 0;
}

/* Whether pid has exited: gone, or a zombie (its state in /proc/PID/stat,
 * after the command name's closing parenthesis). */
static int pid_exited(int pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

void agent_stop(const char *ns_dir)
{
	int pid = agent_pid(ns_dir), i, unlocked = 0, fd;

	if (pid <= 0)
		return;
	/* An agent holds the namespace's lock for its whole life. Free, no
	 * agent runs: the recorded pid is a dead agent's, and may be another
	 * process's by now. Never signal it. */
	fd = lock_ns_dir(ns_dir);
	if (fd != -2) {
		if (fd >= 0)
			close(fd);
		config_update_pid(ns_dir, 0, pid);
		return;
	}
	kill(pid, SIGTERM);
	/* Gone when its lock is free and the process has exited: an exiting
	 * agent closes its files (the lock) before it becomes a zombie, and
	 * it may stay a zombie for a while, until whoever adopted it reaps
	 * it. */
	for (i = 0; i < 200; i++) {
		if (!unlocked) {
			int fd = lock_ns_dir(ns_dir);

			if (fd != -2) {
				if (fd >= 0)
					close(fd);
				unlocked = 1;
			}
		}
		if (unlocked && pid_exited(pid))
			return;
		usleep(10000);
	}
	pr_warn("the agent (pid %d) did not stop within 2 s", pid);
}

int cmd_agent(void)
{
	char root[PATH_MAX], ns_dir[PATH_MAX];
	int fd, ret;

	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(ns_dir, sizeof(ns_dir), root))
		return 1;
	fd = lock_ns_dir(ns_dir);
	if (fd == -2) {
		pr_err("an agent already serves this namespace (pid %d)",
		       agent_pid(ns_dir));
		return 1;
	}
	if (fd < 0) {
		pr_err("nothing is attached in this network namespace (no %s)",
		       ns_dir);
		return 1;
	}
	ret = agent_run(ns_dir);
	close(fd);
	return ret;
}
