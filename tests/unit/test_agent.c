// SPDX-License-Identifier: GPL-2.0
/*
 * agent_stop() (src/core/agent.c) against a real kct_config map pinned in
 * a folder of its own under /sys/fs/bpf (removed at the end), with child
 * processes of this test standing in for agents:
 * - the recorded pid belongs to a process that does not hold the
 *   namespace's lock (the agent died and its pid was reused): it is left
 *   alone, at once, and the recorded pid is cleared;
 * - the recorded pid holds the lock (a live agent): it gets SIGTERM and
 *   agent_stop returns once it is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "pins.h"
#include "xdp_egress.h"
#include "unit.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int set_agent_pid(int map_fd, __u32 pid)
{
	struct kct_config c = {};
	__u32 zero = 0;

	c.agent_pid = pid;
	return bpf_map_update_elem(map_fd, &zero, &c, 0);
}

/* A child that sleeps; with lock_dir, it first takes the agent's lock
 * there. Returns its pid once it is ready (a byte on the pipe). */
static pid_t child(const char *lock_dir)
{
	int p[2];
	pid_t pid;
	char b = 0;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		if (lock_dir) {
			int fd = open(lock_dir, O_RDONLY | O_DIRECTORY);

			if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB))
				_exit(1);
		}
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &b, 1) != 1)
		pid = -1;
	close(p[0]);
	return pid;
}

int main(void)
{
	char dir[] = "/sys/fs/bpf/xe-unit-agent-XXXXXX", path[PATH_MAX];
	struct kct_config c;
	__u32 zero = 0;
	int fd, status;
	pid_t bystander, agent;
	double t;

	if (!mkdtemp(dir)) {
		CHECK(0, "agent/setup", "mkdtemp %s: %s", dir, strerror(errno));
		UNIT_EXIT();
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "kct_config", sizeof(__u32),
			    sizeof(struct kct_config), 1, NULL);
	snprintf(path, sizeof(path), "%s/kct_config", dir);
	if (fd < 0 || bpf_obj_pin(fd, path)) {
		CHECK(0, "agent/setup", "kct_config map: %s", strerror(errno));
		rmdir(dir);
		UNIT_EXIT();
	}

	/* A dead agent's pid, now another process's. */
	bystander = child(NULL);
	set_agent_pid(fd, bystander);
	t = now_s();
	agent_stop(dir);
	t = now_s() - t;
	CHECK(bystander > 0 && kill(bystander, 0) == 0 &&
	      waitpid(bystander, &status, WNOHANG) == 0,
	      "agent/stale_pid_not_signalled", "pid %d was signalled", bystander);
	CHECK(t < 0.5, "agent/stale_pid_at_once", "agent_stop took %.2f s", t);
	CHECK(!bpf_map_lookup_elem(fd, &zero, &c) && c.agent_pid == 0,
	      "agent/stale_pid_cleared", "agent_pid is still %u", c.agent_pid);
	if (bystander > 0) {
		kill(bystander, SIGKILL);
		waitpid(bystander, NULL, 0);
	}

	/* A live agent: it holds the lock. */
	agent = child(dir);
	set_agent_pid(fd, agent);
	agent_stop(dir);
	CHECK(agent > 0 && waitpid(agent, &status, WNOHANG) == agent &&
	      WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
	      "agent/live_agent_stopped", "pid %d not ended by SIGTERM", agent);
	if (agent > 0 && kill(agent, 0) == 0) {
		kill(agent, SIGKILL);
		waitpid(agent, NULL, 0);
	}

	close(fd);
	unlink(path);
	rmdir(dir);
	UNIT_EXIT();
}
