// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon runs the CLI's own commands (attach, detach, upgrade) as child
 * processes of this very binary, their output logged line by line with the
 * container's name. A child keeps the daemon free of BPF objects and of any
 * state a failed attach could leave in a process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "daemon_internal.h"

/* How long one attach or detach child may take before it is killed. */
#define CHILD_TIMEOUT_MS 60000

void daemon_argv_add(struct argv_buf *a, const char *s)
{
	if (a->n < (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
		a->v[a->n++] = strdup(s);
	a->v[a->n] = NULL;
}

void daemon_argv_free(struct argv_buf *a)
{
	while (a->n)
		free(a->v[--a->n]);
}

/* In the child: become `xdp-egress ARGS`, writing to fd out. */
static void __attribute__((noreturn)) exec_self(int out, struct argv_buf *a)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own process group: a Ctrl-C meant for the daemon must not
	 * kill an attach halfway (the daemon finishes it, then stops). */
	setpgid(0, 0);
	dup2(out, 1);
	dup2(out, 2);
	execv("/proc/self/exe", a->v);
	fprintf(stderr, "cannot run /proc/self/exe: %s\n", strerror(errno));
	_exit(127);
}

/* Log what the child writes to fd in, line by line, until it closes it or
 * runs too long (then it is killed). */
static void log_child(const char *who, int in, pid_t pid, struct argv_buf *a)
{
	char line[1024], buf[4096];
	size_t ll = 0;

	for (;;) {
		struct pollfd pf = { .fd = in, .events = POLLIN };
		ssize_t n;
		int i;

		if (poll(&pf, 1, CHILD_TIMEOUT_MS) == 0) {
			dlog("%s: `%s %s` still runs after %d s; killing it", who,
			     a->v[1], a->v[2], CHILD_TIMEOUT_MS / 1000);
			kill(pid, SIGKILL);
			break;
		}
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' || ll == sizeof(line) - 1) {
				line[ll] = 0;
				dlog("  [%s] %s", who, line);
				ll = 0;
				if (buf[i] == '\n')
					continue;
			}
			line[ll++] = buf[i];
		}
	}
	if (ll) {
		line[ll] = 0;
		dlog("  [%s] %s", who, line);
	}
}

int daemon_run_self(struct daemon *d, const char *who, struct argv_buf *a)
{
	int p[2], status = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		dlog("%s: pipe: %s", who, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		dlog("%s: fork: %s", who, strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0)
		exec_self(p[1], a);
	close(p[1]);
	log_child(who, p[0], pid, a);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
