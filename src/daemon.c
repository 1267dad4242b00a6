// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's loop: subscribe to the engine's events first, then reconcile
 * (attach to running containers that ask for it, detach what died while
 * the daemon was away), then follow start/die events. Each container it
 * attached is recorded with its host veth in RUN_DIR/containers.json, since
 * a dead container's veth is gone and only its name finds the attachment
 * (`detach --ifname` looks it up in the pinned records).
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
#include <net/if.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "daemon.h"
#include "auto.h"
#include "docker.h"
#include "exporter.h"
#include "jsonval.h"
#include "log.h"
#include "netns.h"
#include "nl.h"
#include "pins.h"
#include "target.h"

/* How long one attach or detach child may take before it is killed. */
#define CHILD_TIMEOUT_MS 60000
#define RECONNECT_MS 1000

/* Attach options the config's "options" may carry, and a label
 * xdp-egress.OPTION where the config's "labels" allows it; the repeatable
 * ones take comma-separated lists in a label. */
static const struct {
	const char *name;
	int repeatable;
} label_opts[] = {
	{ "mode", 0 }, { "uplink", 1 }, { "uplink-mode", 0 },
	{ "container-if", 0 },
};
#define N_LABEL_OPTS (sizeof(label_opts) / sizeof(label_opts[0]))

struct tracked {
	char id[65];
	char name[256];
	char ifname[IF_NAMESIZE];
	int ifindex;
	struct tracked *next;
};

struct daemon {
	struct engine eng;
	char run_dir[PATH_MAX];
	char state_path[PATH_MAX];
	char pid_path[PATH_MAX];
	cJSON *networks;   /* config: array of network names, or NULL */
	cJSON *options;    /* config: object of attach options, or NULL */
	cJSON *labels;     /* config: the options labels may set, or NULL */
	cJSON *metrics;    /* config: "ADDR:PORT" of the exporter, or NULL */
	struct tracked *tracked;
	int sig_fd;
	int stop;
};

static void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dlog(const char *fmt, ...)
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

/* ---- the record of what this daemon attached ---- */

static struct tracked *tracked_find(struct daemon *d, const char *id)
{
	struct tracked *t;

	for (t = d->tracked; t; t = t->next)
		if (!strcmp(t->id, id))
			return t;
	return NULL;
}

static void tracked_drop(struct daemon *d, struct tracked *gone)
{
	struct tracked **pp;

	for (pp = &d->tracked; *pp; pp = &(*pp)->next)
		if (*pp == gone) {
			*pp = gone->next;
			free(gone);
			return;
		}
}

/* Written to a temporary file and renamed: a crash leaves the old or the
 * new record, never half of one. */
static void state_save(struct daemon *d)
{
	char tmp[PATH_MAX + 8], *js;
	cJSON *root = cJSON_CreateObject(), *arr;
	struct tracked *t;
	FILE *f;

	arr = cJSON_AddArrayToObject(root, "containers");
	for (t = d->tracked; t; t = t->next) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "id", t->id);
		cJSON_AddStringToObject(o, "name", t->name);
		cJSON_AddStringToObject(o, "ifname", t->ifname);
		cJSON_AddNumberToObject(o, "ifindex", t->ifindex);
		cJSON_AddItemToArray(arr, o);
	}
	js = cJSON_Print(root);
	cJSON_Delete(root);
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->state_path);
	f = js ? fopen(tmp, "we") : NULL;
	if (!f || fputs(js, f) < 0 || fputc('\n', f) < 0 || fclose(f) ||
	    rename(tmp, d->state_path))
		dlog("cannot write %s: %s; a restarted daemon will not know "
		     "which veths these containers had", d->state_path,
		     strerror(errno));
	free(js);
}

void daemon_state_load(struct daemon *d, const char *path)
{
	char *text = NULL;
	size_t cap = 0;
	cJSON *root, *o;
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	if (getdelim(&text, &cap, 0, f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	root = cJSON_Parse(text ? text : "");
	free(text);
	if (!root) {
		dlog("%s is not JSON; starting without a record", path);
		return;
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(root, "containers")) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "id"));
		const char *ifname = cJSON_GetStringValue(cJSON_GetObjectItem(o, "ifname"));
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "name"));
		struct tracked *t;

		if (!id || !ifname || tracked_find(d, id) || !(t = calloc(1, sizeof(*t))))
			continue;
		snprintf(t->id, sizeof(t->id), "%s", id);
		snprintf(t->name, sizeof(t->name), "%s", name ? name : id);
		snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
		t->ifindex = (int)json_int(cJSON_GetObjectItem(o, "ifindex"), 0,
					   INT_MAX, 0);
		t->next = d->tracked;
		d->tracked = t;
	}
	cJSON_Delete(root);
}

struct daemon *daemon_new(void)
{
	struct daemon *d = calloc(1, sizeof(*d));

	if (d)
		d->sig_fd = -1;
	return d;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	while (d->tracked)
		tracked_drop(d, d->tracked);
	cJSON_Delete(d->networks);
	cJSON_Delete(d->labels);
	cJSON_Delete(d->options);
	cJSON_Delete(d->metrics);
	free(d);
}

/* ---- running the CLI's own commands ---- */

static void argv_add(struct argv_buf *a, const char *s)
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

/*
 * Run `xdp-egress ARGS` (this very binary) as a child, its output logged
 * line by line with the container's name. A child keeps the daemon free of
 * BPF objects and of any state a failed attach could leave in a process.
 * Returns the child's exit status, or -1.
 */
static int run_self(struct daemon *d, const char *who, struct argv_buf *a)
{
	char line[1024], buf[4096];
	size_t ll = 0;
	int p[2], status = 0, waited = 0;
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
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Its own process group: a Ctrl-C meant for the daemon must not
		 * kill an attach halfway (the daemon finishes it, then stops). */
		setpgid(0, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv("/proc/self/exe", a->v);
		fprintf(stderr, "cannot run /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		ssize_t n;
		int i;

		if (poll(&pf, 1, CHILD_TIMEOUT_MS) == 0) {
			dlog("%s: `%s %s` still runs after %d s; killing it", who,
			     a->v[1], a->v[2], CHILD_TIMEOUT_MS / 1000);
			kill(pid, SIGKILL);
			break;
		}
		n = read(p[0], buf, sizeof(buf));
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
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	waited = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return waited;
}

/* ---- which containers, with which options ---- */

static const char *label_of(cJSON *labels, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(labels, key));
}

static int truthy(const char *v)
{
	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") ||
		     !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

/*
 * Does the container ask for xdp-egress? Its enable label decides (true or
 * false); without one, being on a network named in the config does. labels
 * and networks come from an inspect or a list entry (both have them).
 * *net gets the matching network's name.
 */
static int wanted(struct daemon *d, cJSON *labels, cJSON *networks,
		  const char **net)
{
	const char *en = label_of(labels, DAEMON_ENABLE_LABEL);
	cJSON *n;

	*net = NULL;
	if (en)
		return truthy(en);
	cJSON_ArrayForEach(n, d->networks) {
		if (cJSON_IsString(n) && cJSON_GetObjectItem(networks, n->valuestring)) {
			*net = n->valuestring;
			return 1;
		}
	}
	return 0;
}

static int label_opt_index(const char *name)
{
	size_t i;

	for (i = 0; i < N_LABEL_OPTS; i++)
		if (!strcmp(label_opts[i].name, name))
			return (int)i;
	return -1;
}

/* Add --OPT VALUE (each comma-separated item of VALUE when repeatable). */
static void add_opt(struct argv_buf *a, int i, const char *value)
{
	char flag[64], *copy, *item, *save = NULL;

	snprintf(flag, sizeof(flag), "--%s", label_opts[i].name);
	if (!label_opts[i].repeatable) {
		argv_add(a, flag);
		argv_add(a, value);
		return;
	}
	copy = strdup(value);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ')
			item++;
		argv_add(a, flag);
		argv_add(a, item);
	}
	free(copy);
}

/* Labels are untrusted: Docker merges an image's LABELs into its
 * containers', so whoever built the image writes them. They may set only
 * the options the operator's config lists in "labels" (default: the mode);
 * uplinks and interfaces come from the config or the CLI. */
static int label_allowed(const struct daemon *d, const char *name)
{
	cJSON *e;

	if (!d->labels)
		return !strcmp(name, "mode");
	cJSON_ArrayForEach(e, d->labels)
		if (cJSON_IsString(e) && !strcmp(e->valuestring, name))
			return 1;
	return 0;
}

/* The attach options: the config's, each replaced by a label that names
 * the same option where the config lets labels set it. Other xdp-egress.*
 * labels are reported, not used. */
static void attach_options(struct daemon *d, const char *who, cJSON *labels,
			   struct argv_buf *a)
{
	size_t plen = strlen(DAEMON_LABEL_PREFIX);
	cJSON *l, *o;
	size_t i;

	for (i = 0; i < N_LABEL_OPTS; i++) {
		char key[64];
		const char *v;

		snprintf(key, sizeof(key), DAEMON_LABEL_PREFIX "%s", label_opts[i].name);
		v = label_of(labels, key);
		o = cJSON_GetObjectItem(d->options, label_opts[i].name);
		if (v && !label_allowed(d, label_opts[i].name)) {
			dlog("%s: ignoring label %s=%s: the daemon's config does not "
			     "let labels set --%s (labels come with the image; list "
			     "\"%s\" in the config's \"labels\" to allow it)", who,
			     key, v, label_opts[i].name, label_opts[i].name);
			v = NULL;
		}
		if (v) {
			add_opt(a, (int)i, v);
			continue;
		}
		if (cJSON_IsString(o)) {
			add_opt(a, (int)i, o->valuestring);
		} else if (cJSON_IsArray(o)) {
			cJSON *e;

			cJSON_ArrayForEach(e, o)
				if (cJSON_IsString(e))
					add_opt(a, (int)i, e->valuestring);
		}
	}
	cJSON_ArrayForEach(l, labels) {
		if (strncmp(l->string, DAEMON_LABEL_PREFIX, plen) ||
		    !strcmp(l->string, DAEMON_ENABLE_LABEL) ||
		    label_opt_index(l->string + plen) >= 0)
			continue;
		dlog("%s: ignoring label %s: not an attach option (enable, mode, "
		     "uplink, uplink-mode, container-if)", who, l->string);
	}
}

struct mac_match {
	unsigned char mac[6];
	char name[IF_NAMESIZE];
};

static int match_mac(const struct link_info *li, void *arg)
{
	struct mac_match *m = arg;

	if (strcmp(li->kind, "veth") || memcmp(li->mac, m->mac, 6))
		return 0;
	snprintf(m->name, sizeof(m->name), "%s", li->name);
	return 1;
}

/* The container's interface on network net: the one with the MAC address
 * the engine gave it there. Empty when it cannot be told. */
static void container_if_on(pid_t pid, cJSON *networks, const char *net,
			    char *out, size_t len)
{
	const char *mac = cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(networks, net), "MacAddress"));
	struct mac_match m = {};
	struct mnl_socket *nl;
	unsigned int b[6];
	int fd, i;

	out[0] = 0;
	if (!mac || sscanf(mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3],
			   &b[4], &b[5]) != 6)
		return;
	for (i = 0; i < 6; i++)
		m.mac[i] = (unsigned char)b[i];
	fd = netns_open_pid(pid);
	if (fd < 0)
		return;
	nl = nl_open_in(fd);
	close(fd);
	if (!nl)
		return;
	nl_link_dump(nl, match_mac, &m);
	nl_close(nl);
	snprintf(out, len, "%s", m.name);
}

/* Is the host veth of this target attached already (by anyone)? */
static int already_attached(const struct target *t)
{
	char root[PATH_MAX], ns_dir[PATH_MAX], dir[PATH_MAX];
	struct stat st;

	if (pins_root(root, sizeof(root)))
		return 0;
	pins_ns_dir(ns_dir, sizeof(ns_dir), root, t->host_netns_cookie);
	pins_attach_dir(dir, sizeof(dir), ns_dir, t->host.ifindex);
	return !stat(dir, &st);
}

static int detach_tracked(struct daemon *d, struct tracked *t, const char *why)
{
	struct mnl_socket *nl = nl_open_in(-1);
	struct argv_buf a = {};
	struct link_info li;
	int rc;

	/* podman names host veths veth0, veth1...: once a dead container's
	 * veth is gone its name may already belong to a new container's veth.
	 * If that one is attached, `detach --ifname` would detach it: leave
	 * the old record to `status`. If not, detach --ifname finds the old
	 * record by name. */
	if (nl && !nl_link_by_name(nl, t->ifname, &li) && t->ifindex &&
	    li.ifindex != t->ifindex) {
		struct target other = { .host = li };

		other.host_netns_cookie = netns_cookie(-1);
		dlog("%s (%.12s) %s; its veth %s (ifindex %d) is gone and the "
		     "name now belongs to ifindex %d", t->name, t->id, why,
		     t->ifname, t->ifindex, li.ifindex);
		if (already_attached(&other)) {
			dlog("%s: ifindex %d is attached itself: not detaching by "
			     "that name; `xdp-egress status` shows the leftover "
			     "attachment of ifindex %d", t->name, li.ifindex,
			     t->ifindex);
			nl_close(nl);
			tracked_drop(d, t);
			state_save(d);
			return 1;
		}
	}
	nl_close(nl);
	dlog("%s (%.12s) %s: detaching from %s", t->name, t->id, why, t->ifname);
	argv_add(&a, "xdp-egress");
	argv_add(&a, "detach");
	argv_add(&a, "--ifname");
	argv_add(&a, t->ifname);
	rc = run_self(d, t->name, &a);
	daemon_argv_free(&a);
	if (rc)
		dlog("%s: detach from %s exited %d (see above); forgetting it "
		     "anyway, `xdp-egress status` shows anything left", t->name,
		     t->ifname, rc);
	tracked_drop(d, t);
	state_save(d);
	return rc;
}

int daemon_inspect_parse(struct daemon *d, cJSON *j, const char *id,
			 struct container_req *r)
{
	cJSON *labels, *state;

	memset(r, 0, sizeof(*r));
	r->name = cJSON_GetStringValue(cJSON_GetObjectItem(j, "Name")) ?: id;
	if (*r->name == '/')
		r->name++;
	labels = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Config"), "Labels");
	r->networks = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "NetworkSettings"),
					  "Networks");
	state = cJSON_GetObjectItem(j, "State");
	r->pid = (pid_t)json_int(cJSON_GetObjectItem(state, "Pid"), 0, INT_MAX, 0);
	r->id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "Id")) ?: id;
	if (!wanted(d, labels, r->networks, &r->net))
		return 0;
	if (!cJSON_IsTrue(cJSON_GetObjectItem(state, "Running")) || r->pid <= 0) {
		dlog("%s: not running any more; nothing to attach", r->name);
		return 0;
	}
	attach_options(d, r->name, labels, &r->opts);
	return 1;
}

/*
 * A container that runs (or has just started): attach if it asks for it
 * and is not attached yet; record its veth either way when attached.
 */
static void consider(struct daemon *d, const char *id)
{
	cJSON *j = engine_inspect(&d->eng, id), *networks;
	const char *name, *net;
	char pidstr[16], cif[IF_NAMESIZE] = "";
	struct target_spec spec = {};
	struct container_req r;
	struct argv_buf a = {};
	struct tracked *tr;
	struct target t;
	int i, rc;
	pid_t pid;

	if (!j)
		return;
	if (!daemon_inspect_parse(d, j, id, &r)) {
		daemon_argv_free(&r.opts);
		goto out;
	}
	name = r.name;
	id = r.id;
	net = r.net;
	networks = r.networks;
	pid = r.pid;
	a = r.opts;
	for (i = 0; i + 1 < a.n; i++)
		if (!strcmp(a.v[i], "--container-if"))
			spec.container_if = a.v[i + 1];
	/* On a config network, among several: the interface with that
	 * network's MAC. */
	if (!spec.container_if && net && cJSON_GetArraySize(networks) > 1) {
		container_if_on(pid, networks, net, cif, sizeof(cif));
		if (cif[0]) {
			argv_add(&a, "--container-if");
			argv_add(&a, cif);
			spec.container_if = cif;
		}
	}
	spec.pid = pid;
	if (target_resolve(&spec, &t)) {
		dlog("%s: cannot find its host veth (see above); not attached", name);
		goto out;
	}
	tr = tracked_find(d, id);
	/* Restarted while the daemon was away: its old veth is gone. */
	if (tr && tr->ifindex != t.host.ifindex) {
		detach_tracked(d, tr, "has a new veth");
		tr = NULL;
	}
	if (already_attached(&t)) {
		dlog("%s (%.12s): %s is attached already%s", name, id,
		     t.host.name, tr ? "" : "; following it");
	} else {
		struct argv_buf cmd = {};

		dlog("%s (%.12s) %s: attaching to %s", name, id,
		     net ? "is on a configured network" : "asks for it by label",
		     t.host.name);
		argv_add(&cmd, "xdp-egress");
		argv_add(&cmd, "attach");
		if (log_verbose)
			argv_add(&cmd, "--verbose");
		argv_add(&cmd, "--pid");
		snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
		argv_add(&cmd, pidstr);
		for (i = 0; i < a.n; i++)
			argv_add(&cmd, a.v[i]);
		rc = run_self(d, name, &cmd);
		daemon_argv_free(&cmd);
		if (rc) {
			dlog("%s: attach exited %d (see above); not attached", name, rc);
			target_release(&t);
			goto out;
		}
	}
	if (!tr && (tr = calloc(1, sizeof(*tr)))) {
		tr->next = d->tracked;
		d->tracked = tr;
	}
	if (tr) {
		snprintf(tr->id, sizeof(tr->id), "%s", id);
		snprintf(tr->name, sizeof(tr->name), "%s", name);
		snprintf(tr->ifname, sizeof(tr->ifname), "%s", t.host.name);
		tr->ifindex = t.host.ifindex;
		state_save(d);
	}
	target_release(&t);
out:
	daemon_argv_free(&a);
	cJSON_Delete(j);
}

/*
 * At start and after each reconnection: attach to running containers that
 * ask for it, and detach those recorded that no longer run.
 */
static int reconcile(struct daemon *d)
{
	struct http_response r;
	struct tracked *t, *next;
	cJSON *list, *c;

	if (engine_request(&d->eng, "GET", ENGINE_API_PREFIX "/containers/json", &r))
		return -1;
	list = r.status == 200 ? cJSON_Parse(r.body) : NULL;
	if (!cJSON_IsArray(list)) {
		dlog("%s answered %d to GET /containers/json: %s",
		     engine_name(d->eng.kind), r.status, engine_error_message(&r));
		http_response_free(&r);
		cJSON_Delete(list);
		return -1;
	}
	http_response_free(&r);
	for (t = d->tracked; t; t = next) {
		int running = 0;

		next = t->next;
		cJSON_ArrayForEach(c, list)
			if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "Id")) ?: "", t->id))
				running = 1;
		if (!running)
			detach_tracked(d, t, "stopped while the daemon was away");
	}
	cJSON_ArrayForEach(c, list) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(c, "Id"));
		const char *net;
		cJSON *nets = cJSON_GetObjectItem(cJSON_GetObjectItem(c,
					"NetworkSettings"), "Networks");

		if (id && wanted(d, cJSON_GetObjectItem(c, "Labels"), nets, &net))
			consider(d, id);
	}
	cJSON_Delete(list);
	return 0;
}

int daemon_event_parse(const char *line, char *id, size_t len)
{
	cJSON *ev = cJSON_Parse(line), *actor;
	const char *type, *action, *cid;
	int ret = 0;

	if (!ev)
		return 0;
	type = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "Type"));
	action = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "Action")) ?:
		 cJSON_GetStringValue(cJSON_GetObjectItem(ev, "status"));
	actor = cJSON_GetObjectItem(ev, "Actor");
	cid = cJSON_GetStringValue(cJSON_GetObjectItem(actor, "ID")) ?:
	      cJSON_GetStringValue(cJSON_GetObjectItem(ev, "id"));
	if (!cid || !action || (type && strcmp(type, "container")))
		goto out;
	pr_debug("event %s %s", action, cid);
	if (!strcmp(action, "start"))
		ret = DAEMON_EV_START;
	else if (!strcmp(action, "die") || !strcmp(action, "died"))
		ret = DAEMON_EV_DIE; /* podman's own name for it is "died" */
	snprintf(id, len, "%s", cid);
out:
	cJSON_Delete(ev);
	return ret;
}

/* One event line from GET /events. */
static void on_event(struct daemon *d, const char *line)
{
	char id[256];
	struct tracked *t;

	switch (daemon_event_parse(line, id, sizeof(id))) {
	case DAEMON_EV_START:
		consider(d, id);
		break;
	case DAEMON_EV_DIE:
		t = tracked_find(d, id);
		if (t)
			detach_tracked(d, t, "died");
		break;
	}
}

/* ---- setup ---- */

static int lock_pidfile(struct daemon *d)
{
	char buf[32];
	int fd, n;

	if (mkdir(d->run_dir, 0755) && errno != EEXIST) {
		/* one level of parents, for the default /run/xdp-egress/ENGINE */
		char parent[PATH_MAX], *slash;

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
	}
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

int daemon_load_config(struct daemon *d, const char *path)
{
	char *text = NULL;
	size_t cap = 0;
	cJSON *root, *o;
	FILE *f = fopen(path, "re");
	int ret = -1;

	if (!f) {
		pr_err("cannot open --config %s: %s", path, strerror(errno));
		return -1;
	}
	if (getdelim(&text, &cap, 0, f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	root = cJSON_Parse(text ? text : "");
	if (!cJSON_IsObject(root)) {
		/* cJSON_GetErrorPtr() points into text: say it before the
		 * free (found by tests/fuzz/fuzz_record). */
		pr_err("--config %s is not a JSON object (near '%.20s'); see "
		       "`xdp-egress daemon --help`", path,
		       !root && cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
		free(text);
		goto out;
	}
	free(text);
	cJSON_ArrayForEach(o, root) {
		if (strcmp(o->string, "networks") && strcmp(o->string, "options") &&
		    strcmp(o->string, "labels") && strcmp(o->string, "metrics")) {
			pr_err("--config %s: unknown key \"%s\" (known: networks, "
			       "options, labels, metrics)", path, o->string);
			goto out;
		}
	}
	d->networks = cJSON_DetachItemFromObject(root, "networks");
	d->options = cJSON_DetachItemFromObject(root, "options");
	d->labels = cJSON_DetachItemFromObject(root, "labels");
	d->metrics = cJSON_DetachItemFromObject(root, "metrics");
	if (d->metrics && !cJSON_IsString(d->metrics)) {
		pr_err("--config %s: \"metrics\" must be a string ADDR:PORT "
		       "where the daemon serves Prometheus metrics, e.g. "
		       "\"127.0.0.1:9473\"", path);
		goto out;
	}
	if (d->labels && !cJSON_IsArray(d->labels)) {
		pr_err("--config %s: \"labels\" must be an array of the attach "
		       "options labels may set (mode, uplink, uplink-mode, "
		       "container-if), e.g. [\"mode\"]", path);
		goto out;
	}
	cJSON_ArrayForEach(o, d->labels) {
		if (!cJSON_IsString(o) || label_opt_index(o->valuestring) < 0) {
			pr_err("--config %s: \"labels\" may name only attach options "
			       "(mode, uplink, uplink-mode, container-if), not %s",
			       path, cJSON_IsString(o) ? o->valuestring : "a non-string");
			goto out;
		}
	}
	if (d->networks && !cJSON_IsArray(d->networks)) {
		pr_err("--config %s: \"networks\" must be an array of network "
		       "names", path);
		goto out;
	}
	cJSON_ArrayForEach(o, d->networks) {
		if (!cJSON_IsString(o)) {
			pr_err("--config %s: \"networks\" must hold strings", path);
			goto out;
		}
	}
	if (d->options && !cJSON_IsObject(d->options)) {
		pr_err("--config %s: \"options\" must be an object of attach "
		       "options", path);
		goto out;
	}
	cJSON_ArrayForEach(o, d->options) {
		int i = label_opt_index(o->string);

		if (i < 0 || (!cJSON_IsString(o) &&
			      !(cJSON_IsArray(o) && label_opts[i].repeatable))) {
			pr_err("--config %s: option \"%s\" is not %s", path,
			       o->string, i < 0 ? "an attach option (mode, uplink, "
			       "uplink-mode, container-if)" : "a string (or, for uplink, an "
			       "array of strings)");
			goto out;
		}
	}
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}

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

/* The tuner's window in the daemon (`xdp-egress tune --interval` alone
 * can be shorter). */
#define TUNE_MS 1000

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
	argv_add(&a, "xdp-egress");
	argv_add(&a, "upgrade");
	argv_add(&a, "--all");
	rc = run_self(d, "upgrade", &a);
	daemon_argv_free(&a);
	if (rc)
		dlog("upgrade: exited %d (see above); the attachments keep the "
		     "programs they had", rc);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int cmd_daemon(const struct daemon_opts *o)
{
	struct auto_tuner *tuner = NULL;
	struct exporter *exporter = NULL;
	const char *metrics;
	long long last_tune;
	struct daemon d = { .sig_fd = -1 };
	struct http_stream *s = NULL;
	int lock_fd = -1, ret = 1, lost = 0, n_tracked = 0;
	struct tracked *t;
	sigset_t mask;

	if (engine_init(&d.eng, o->engine))
		return 1;
	if (o->config && daemon_load_config(&d, o->config))
		goto out;
	if (o->run_dir)
		snprintf(d.run_dir, sizeof(d.run_dir), "%s", o->run_dir);
	else
		snprintf(d.run_dir, sizeof(d.run_dir), DAEMON_RUN_DIR "/%s",
			 o->engine == ENGINE_PODMAN ? "podman" : "docker");
	snprintf(d.pid_path, sizeof(d.pid_path), "%s/daemon.pid", d.run_dir);
	snprintf(d.state_path, sizeof(d.state_path), "%s/containers.json", d.run_dir);
	lock_fd = lock_pidfile(&d);
	if (lock_fd < 0)
		goto out;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (d.sig_fd < 0) {
		pr_err("signalfd: %s", strerror(errno));
		goto out;
	}
	/* After the signals are blocked: the server's thread inherits the
	 * mask, so they all reach sig_fd. */
	metrics = o->metrics ? o->metrics : cJSON_GetStringValue(d.metrics);
	if (metrics && !(exporter = exporter_start("daemon", o->metrics ? "--metrics" :
						   "the config's \"metrics\"",
						   metrics, d.run_dir)))
		goto out;
	daemon_state_load(&d, d.state_path);
	upgrade_on_start(&d);
	for (t = d.tracked; t; t = t->next)
		n_tracked++;
	dlog("pid %d following %s at %s (%s); run dir %s; %d container(s) "
	     "recorded; attaching to containers labelled %s=true%s%s",
	     (int)getpid(), engine_name(d.eng.kind), d.eng.sock, d.eng.origin,
	     d.run_dir, n_tracked, DAEMON_ENABLE_LABEL,
	     d.networks ? " or on networks from " : "",
	     d.networks ? o->config : "");
	tuner = auto_tuner_new(TUNE_MS);
	last_tune = mono_ms();
	while (!d.stop) {
		struct pollfd pf[2];
		char *line;
		int rc;

		if (!s) {
			/* Subscribe before reconciling: what happens in between
			 * waits in the stream. */
			s = subscribe(&d);
			if (!s || reconcile(&d)) {
				http_stream_close(s);
				s = NULL;
				if (!lost)
					dlog("cannot follow %s yet (see above); retrying "
					     "every %d s", engine_name(d.eng.kind),
					     RECONNECT_MS / 1000);
				lost = 1;
				wait_signal(&d, RECONNECT_MS);
				continue;
			}
			dlog("following %s's events%s", engine_name(d.eng.kind),
			     lost ? " again" : "");
			lost = 0;
		}
		pf[0] = (struct pollfd){ .fd = http_stream_fd(s), .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = d.sig_fd, .events = POLLIN };
		rc = poll(pf, 2, tuner ? TUNE_MS : -1);
		if (rc < 0 && errno != EINTR)
			break;
		/* An agent that attach started and that ended since is ours
		 * to reap when the daemon is the container's init (pid 1):
		 * orphans are re-parented to it. Attach children are waited
		 * for where they run (run_self), so none is in flight here. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		/* auto mode's tuner: one window a second, between events. */
		if (tuner && mono_ms() - last_tune >= TUNE_MS) {
			auto_tuner_tick(tuner);
			last_tune = mono_ms();
		}
		if (pf[1].revents && wait_signal(&d, 0))
			continue;
		if (!pf[0].revents)
			continue;
		rc = http_stream_read(s);
		while ((line = http_stream_line(s)))
			on_event(&d, line);
		if (rc <= 0) {
			dlog("lost %s's event stream (%s); reconnecting",
			     engine_name(d.eng.kind), rc ? strerror(errno) : "closed");
			http_stream_close(s);
			s = NULL;
			lost = 1;
		}
	}
	ret = 0;
out:
	exporter_stop(exporter);
	http_stream_close(s);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	if (lock_fd >= 0) {
		unlink(d.pid_path);
		close(lock_fd);
	}
	while (d.tracked)
		tracked_drop(&d, d.tracked);
	cJSON_Delete(d.networks);
	cJSON_Delete(d.labels);
	cJSON_Delete(d.options);
	cJSON_Delete(d.metrics);
	auto_tuner_free(tuner);
	return ret;
}
