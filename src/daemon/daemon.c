// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's setup and loop: take the run dir's lock, block the signals
 * into a signalfd, start the exporter, upgrade this namespace's
 * attachments to this binary, then subscribe to the engine's events first
 * and reconcile (daemon_watch.c), and follow start/die events, ticking the
 * auto-mode tuner between them. daemon_internal.h lists the other files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "daemon_internal.h"
#include "auto.h"
#include "exporter.h"
#include "log.h"
#include "pins.h"
#include "signals.h"

#define RECONNECT_MS 1000
/* The tuner's window in the daemon (`xdp-egress tune --interval` alone
 * can be shorter). */
#define TUNE_MS 1000

void dlog(const char *fmt, ...)
{
	char ts[32];
	time_t now = time(NULL);
	va_list ap;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fprintf(stderr, "%s xdp-egress daemon: ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

struct daemon *daemon_new(void)
{
	struct daemon *d = calloc(1, sizeof(*d));

	if (d)
		d->sig_fd = -1;
	return d;
}

void daemon_clear(struct daemon *d)
{
	while (d->tracked)
		daemon_tracked_drop(d, d->tracked);
	cJSON_Delete(d->networks);
	cJSON_Delete(d->labels);
	cJSON_Delete(d->options);
	cJSON_Delete(d->metrics);
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	daemon_clear(d);
	free(d);
}

/* ---- setup ---- */

/* The run dir, with one level of parents (for the default
 * /run/xdp-egress/ENGINE). */
static int make_run_dir(const struct daemon *d)
{
	char parent[PATH_MAX], *slash;

	if (!mkdir(d->run_dir, 0755) || errno == EEXIST)
		return 0;
	snprintf(parent, sizeof(parent), "%s", d->run_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		mkdir(parent, 0755);
	}
	if (mkdir(d->run_dir, 0755) && errno != EEXIST) {
		pr_err("cannot create the run directory %s: %s; give "
		       "another with --run-dir", d->run_dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The locked pid file's fd, or -1 with the error printed. */
static int lock_pidfile(struct daemon *d)
{
	char buf[32];
	int fd, n;

	if (make_run_dir(d))
		return -1;
	fd = open(d->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		pr_err("cannot open %s: %s", d->pid_path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		n = (int)pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		pr_err("another xdp-egress daemon (pid %s) holds %s: stop it "
		       "first (kill -TERM %s), or give this one another --run-dir",
		       buf[0] ? buf : "?", d->pid_path, buf[0] ? buf : "PID");
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n) {
		pr_err("cannot write %s: %s", d->pid_path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* SIGTERM, SIGINT and SIGHUP into d->sig_fd; SIGPIPE ignored. */
static int signals_to_fd(struct daemon *d)
{
	sigset_t mask;

	signals_block_stop(&mask);
	d->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (d->sig_fd < 0) {
		pr_err("signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Config, run dir paths, lock and signals: the lock's fd, or -1. */
static int daemon_setup(struct daemon *d, const struct daemon_opts *o)
{
	if (o->config && daemon_load_config(d, o->config))
		return -1;
	if (o->run_dir)
		snprintf(d->run_dir, sizeof(d->run_dir), "%s", o->run_dir);
	else
		snprintf(d->run_dir, sizeof(d->run_dir), DAEMON_RUN_DIR "/%s",
			 o->engine == ENGINE_PODMAN ? "podman" : "docker");
	snprintf(d->pid_path, sizeof(d->pid_path), "%s/daemon.pid", d->run_dir);
	snprintf(d->state_path, sizeof(d->state_path), "%s/containers.json",
		 d->run_dir);
	return lock_pidfile(d);
}

/*
 * A daemon started from a new binary (a restart after an upgrade of the
 * package or the DaemonSet's image) moves this namespace's attachments to
 * its programs before anything else: `xdp-egress upgrade --all`, without
 * loss, or nothing when they run its build already. All of them, not only
 * the containers it follows: the uplink programs, the shared maps and the
 * agent are the namespace's, one build for all.
 */
static void upgrade_on_start(struct daemon *d)
{
	char root[PATH_MAX], ns_dir[PATH_MAX];
	struct argv_buf a = {};
	struct stat st;
	int rc;

	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(ns_dir, sizeof(ns_dir), root) || stat(ns_dir, &st))
		return;
	daemon_argv_add(&a, "xdp-egress");
	daemon_argv_add(&a, "upgrade");
	daemon_argv_add(&a, "--all");
	rc = daemon_run_self(d, "upgrade", &a);
	daemon_argv_free(&a);
	if (rc)
		dlog("upgrade: exited %d (see above); the attachments keep the "
		     "programs they had", rc);
}

static void log_start(const struct daemon *d, const struct daemon_opts *o)
{
	struct tracked *t;
	int n_tracked = 0;

	for (t = d->tracked; t; t = t->next)
		n_tracked++;
	dlog("pid %d following %s at %s (%s); run dir %s; %d container(s) "
	     "recorded; attaching to containers labelled %s=true%s%s",
	     (int)getpid(), engine_name(d->eng.kind), d->eng.sock, d->eng.origin,
	     d->run_dir, n_tracked, DAEMON_ENABLE_LABEL,
	     d->networks ? " or on networks from " : "",
	     d->networks ? o->config : "");
}

/* ---- the loop ---- */

static struct http_stream *subscribe(struct daemon *d)
{
	/* {"type":["container"]}: start/die are picked here, as podman's
	 * compat API names die "died" in some versions. */
	static const char path[] = ENGINE_API_PREFIX
		"/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D";
	return engine_events_open(&d->eng, path);
}

/* Wait ms for a signal; 1 when one came (d->stop is set). */
static int wait_signal(struct daemon *d, int ms)
{
	struct pollfd pf = { .fd = d->sig_fd, .events = POLLIN };
	struct signalfd_siginfo si;

	if (poll(&pf, 1, ms) <= 0)
		return 0;
	if (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		dlog("got %s; stopping (attachments stay in place)",
		     strsignal((int)si.ssi_signo));
		d->stop = 1;
	}
	return 1;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The engine's event stream and whether it was lost. */
struct follow {
	struct http_stream *s;
	int lost;
	struct auto_tuner *tuner;
	long long last_tune;
};

/*
 * Subscribe before reconciling: what happens in between waits in the
 * stream. 0 when following; -1 after waiting RECONNECT_MS (or a signal).
 */
static int follow_connect(struct daemon *d, struct follow *fw)
{
	fw->s = subscribe(d);
	if (!fw->s || daemon_reconcile(d)) {
		http_stream_close(fw->s);
		fw->s = NULL;
		if (!fw->lost)
			dlog("cannot follow %s yet (see above); retrying "
			     "every %d s", engine_name(d->eng.kind),
			     RECONNECT_MS / 1000);
		fw->lost = 1;
		wait_signal(d, RECONNECT_MS);
		return -1;
	}
	dlog("following %s's events%s", engine_name(d->eng.kind),
	     fw->lost ? " again" : "");
	fw->lost = 0;
	return 0;
}

/* Between events: reap agents, and auto mode's tuner, one window a second. */
static void between_events(struct follow *fw)
{
	/* An agent that attach started and that ended since is ours to reap
	 * when the daemon is the container's init (pid 1): orphans are
	 * re-parented to it. Attach children are waited for where they run
	 * (daemon_run_self), so none is in flight here. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (fw->tuner && mono_ms() - fw->last_tune >= TUNE_MS) {
		auto_tuner_tick(fw->tuner);
		fw->last_tune = mono_ms();
	}
}

/* Read the stream's events and act on them; on its end, drop it. */
static void follow_read(struct daemon *d, struct follow *fw)
{
	char *line;
	int rc = http_stream_read(fw->s);

	while ((line = http_stream_line(fw->s)))
		daemon_on_event(d, line);
	if (rc <= 0) {
		dlog("lost %s's event stream (%s); reconnecting",
		     engine_name(d->eng.kind), rc ? strerror(errno) : "closed");
		http_stream_close(fw->s);
		fw->s = NULL;
		fw->lost = 1;
	}
}

static void follow_events(struct daemon *d)
{
	struct follow fw = { .tuner = auto_tuner_new(TUNE_MS) };

	fw.last_tune = mono_ms();
	while (!d->stop) {
		struct pollfd pf[2];
		int rc;

		if (!fw.s && follow_connect(d, &fw))
			continue;
		pf[0] = (struct pollfd){ .fd = http_stream_fd(fw.s), .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = d->sig_fd, .events = POLLIN };
		rc = poll(pf, 2, fw.tuner ? TUNE_MS : -1);
		if (rc < 0 && errno != EINTR)
			break;
		between_events(&fw);
		if (pf[1].revents && wait_signal(d, 0))
			continue;
		if (pf[0].revents)
			follow_read(d, &fw);
	}
	http_stream_close(fw.s);
	auto_tuner_free(fw.tuner);
}

int cmd_daemon(const struct daemon_opts *o)
{
	struct exporter *exporter = NULL;
	struct daemon d = { .sig_fd = -1 };
	const char *metrics;
	int lock_fd = -1, ret = 1;

	if (engine_init(&d.eng, o->engine))
		return 1;
	lock_fd = daemon_setup(&d, o);
	if (lock_fd < 0 || signals_to_fd(&d))
		goto out;
	/* After the signals are blocked: the server's thread inherits the
	 * mask, so they all reach sig_fd. */
	metrics = o->metrics ? o->metrics : cJSON_GetStringValue(d.metrics);
	if (metrics && !(exporter = exporter_start("daemon", o->metrics ? "--metrics" :
						   "the config's \"metrics\"",
						   metrics, d.run_dir)))
		goto out;
	daemon_state_load(&d, d.state_path);
	upgrade_on_start(&d);
	log_start(&d, o);
	follow_events(&d);
	ret = 0;
out:
	exporter_stop(exporter);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	if (lock_fd >= 0) {
		unlink(d.pid_path);
		close(lock_fd);
	}
	daemon_clear(&d);
	return ret;
}
