// SPDX-License-Identifier: GPL-2.0
/*
 * xdp-egress-cni: a CNI 1.0.0 chained plugin. Listed after an interface
 * plugin that makes a veth pair (bridge, ptp), it attaches xdp-egress to the
 * pod's host-side veth on ADD and detaches it on DEL, with the options of its
 * own entry in the conflist:
 *
 *   {"type": "xdp-egress-cni", "mode": "native|generic|tc|auto",
 *    "uplink": "eth0" | ["eth0", "eth1"], "uplinkMode": "native|generic"}
 *
 * The host's netfilter (the bridge plugin's ipMasq rules, kube-proxy's
 * Services) stays the authority: the fast path carries what it accepted.
 *
 * The runtime runs a plugin in its own (the host's) network namespace, so the
 * plugin calls cmd_attach()/cmd_detach() directly. Its stdout belongs to the
 * CNI result: everything the shared code prints (stdout and stderr) goes to a
 * memfd instead, is copied to stderr for the runtime's log at exit, and its
 * error lines become the "details" of a CNI error.
 *
 * Besides the CNI commands, `xdp-egress-cni --validate FILE` checks a
 * conflist (or one plugin config) against this plugin's schema without
 * touching the host; the deploy test runs it on deploy/.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "jsonval.h"
#include "attach.h"
#include "conf.h"
#include "uplink.h"
#include "lock.h"
#include "log.h"
#include "netns.h"
#include "nl.h"
#include "pins.h"

#define MAX_STDIN (4 << 20)
/* How long a command waits for the node's lock (lock.h) before it answers
 * "try again later" (code 11): the runtime's own timeout is longer. */
#define CNI_LOCK_WAIT_S 30

/* ---- output: the real stdout is kept for the result alone ---- */

static int real_stdout = -1, real_stderr = -1, log_fd = -1;
static const char *cni_version_out = "1.0.0";

/* From here on, whatever the shared code prints lands in log_fd. */
static void capture_output(void)
{
	fflush(stdout);
	fflush(stderr);
	real_stdout = dup(STDOUT_FILENO);
	real_stderr = dup(STDERR_FILENO);
	log_fd = memfd_create("xdp-egress-cni-log", MFD_CLOEXEC);
	if (real_stdout < 0 || real_stderr < 0 || log_fd < 0)
		return;
	dup2(log_fd, STDOUT_FILENO);
	dup2(log_fd, STDERR_FILENO);
}

/* Everything captured so far, NUL-terminated (caller frees). */
static char *captured(void)
{
	off_t len;
	char *buf;

	fflush(stdout);
	fflush(stderr);
	if (log_fd < 0)
		return strdup("");
	len = lseek(log_fd, 0, SEEK_END);
	buf = calloc(1, len + 1);
	if (buf && len > 0 && pread(log_fd, buf, len, 0) != len)
		buf[0] = 0;
	return buf;
}

/* The error lines ("xdp-egress: ...", no warnings) captured since offset
 * from, joined by "; ", without their prefix. */
static char *captured_errors(off_t from)
{
	char *all = captured(), *out, *line, *save = NULL;
	size_t n = 0, cap, len;

	if (!all)
		return NULL;
	len = strlen(all);
	cap = len + 1;
	out = calloc(1, cap);
	if (!out)
		return all;
	for (line = strtok_r(all + (from < (off_t)len ? (size_t)from : len), "\n",
			     &save);
	     line; line = strtok_r(NULL, "\n", &save)) {
		const char *p = "xdp-egress: ";

		if (strncmp(line, p, strlen(p)) ||
		    !strncmp(line + strlen(p), "warning:", 8))
			continue;
		n += snprintf(out + n, cap - n, "%s%s", n ? "; " : "",
			      line + strlen(p));
	}
	free(all);
	return out;
}

static off_t captured_len(void)
{
	fflush(stdout);
	fflush(stderr);
	return log_fd < 0 ? 0 : lseek(log_fd, 0, SEEK_END);
}

/* Give the runtime's log what the shared code said, and the fds back. */
static void release_output(void)
{
	char *all;

	if (log_fd < 0)
		return;
	all = captured();
	dup2(real_stdout, STDOUT_FILENO);
	dup2(real_stderr, STDERR_FILENO);
	if (all && *all)
		fputs(all, stderr);
	free(all);
	close(log_fd);
	log_fd = -1;
}

static void print_json(cJSON *doc)
{
	char *s = cJSON_Print(doc);

	release_output();
	if (s)
		printf("%s\n", s);
	fflush(stdout);
	free(s);
}

/* Print a spec-conformant error on stdout; returns the exit status. */
static int cni_error(int code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cni_error(int code, const char *details, const char *fmt, ...)
{
	char msg[1024];
	cJSON *e = cJSON_CreateObject();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(e, "cniVersion", cni_version_out);
	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "msg", msg);
	if (details && *details)
		cJSON_AddStringToObject(e, "details", details);
	print_json(e);
	fprintf(stderr, "xdp-egress-cni: error %d: %s%s%s\n", code, msg,
		details && *details ? ": " : "", details ? details : "");
	cJSON_Delete(e);
	return 1;
}

/* ---- the pod's interfaces ---- */

struct cni_env {
	const char *command, *containerid, *netns, *ifname;
};

static unsigned long path_inode(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (unsigned long)st.st_ino;
}

/*
 * The host side of the pod's interface: resolved from the pod's namespace
 * (the veth's peer), then required to be one prevResult reports as the
 * host side, so that we attach to what the previous plugin made.
 */
static int find_host_if(const struct cni_conf *c, const struct cni_env *env,
			char *host, size_t len, char *why, size_t why_len)
{
	struct target_spec spec = { .netns = env->netns,
				    .container_if = env->ifname };
	char names[256];
	struct target t;
	off_t from = captured_len();

	prev_host_names(c->prev_result, names, sizeof(names));
	if (!prev_has_pod_if(c->prev_result, env->ifname, env->netns,
			     path_inode)) {
		snprintf(why, why_len, "prevResult.interfaces does not list the "
			 "pod's interface %s with sandbox %s (host-side "
			 "interfaces listed: %s); xdp-egress-cni must follow a "
			 "plugin that creates the pod's veth pair (bridge, ptp)",
			 env->ifname, env->netns, names);
		return -1;
	}
	if (target_resolve(&spec, &t)) {
		char *e = captured_errors(from);

		snprintf(why, why_len, "the host side of %s in %s cannot be found: "
			 "%s", env->ifname, env->netns, e ? e : "?");
		free(e);
		return -1;
	}
	snprintf(host, len, "%s", t.host.name);
	target_release(&t);
	if (!prev_has_host_if(c->prev_result, host)) {
		snprintf(why, why_len, "prevResult.interfaces has no host-side "
			 "interface (without \"sandbox\") paired with the pod's %s: "
			 "its peer on the host is %s, but prevResult lists %s; "
			 "xdp-egress-cni must follow the plugin that created the "
			 "pair (bridge, ptp)", env->ifname, host, names);
		return -1;
	}
	return 0;
}

/* ---- attachments, read from the pins ---- */

struct attachment_info {
	int found;
	int ifindex;
	unsigned int prog_id;
	char mode[16];
};

/*
 * The attachment recorded under ifname in this host namespace, if any, found
 * by the name in its record so that it is found after the device is gone.
 * prog_id is 0 unless the device still runs the recorded program.
 */
struct attachment_query {
	const char *ifname;
	struct attachment_info *ai;
};

static int record_of(const char *dir, cJSON *m, void *arg)
{
	struct attachment_query *q = arg;
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(m, "ifname"));
	const char *mode = cJSON_GetStringValue(cJSON_GetObjectItem(m, "mode"));

	if (!name || strcmp(name, q->ifname))
		return 0;
	q->ai->found = 1;
	q->ai->ifindex = (int)json_int(cJSON_GetObjectItem(m, "ifindex"), 0,
				       INT_MAX, 0);
	/* An attach killed before it finished is no attachment. */
	q->ai->prog_id = strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(
				       m, "phase")) ?: "attached", "attached")
				 ? 0
				 : (unsigned int)json_int(cJSON_GetObjectItem(m, "prog_id"),
							  0, UINT32_MAX, 0);
	snprintf(q->ai->mode, sizeof(q->ai->mode), "%s", mode ? mode : "?");
	return 1;
}

static int attachment_of(const char *ifname, struct attachment_info *ai)
{
	struct attachment_query q = { ifname, ai };
	char root[PATH_MAX], ns_dir[PATH_MAX];
	struct mnl_socket *nl;
	struct link_info li;
	int have_link;

	memset(ai, 0, sizeof(*ai));
	if (pins_root(root, sizeof(root)) ||
	    pins_ns_dir_self(ns_dir, sizeof(ns_dir), root))
		return -1;
	nl = nl_open_in(-1);
	have_link = nl && !nl_link_by_name(nl, ifname, &li);
	nl_close(nl);
	pins_foreach_record(ns_dir, record_of, &q);
	if (ai->found && (!have_link || li.ifindex != ai->ifindex ||
			  li.xdp_prog_id != ai->prog_id))
		ai->prog_id = 0;
	return 0;
}

/* ---- the lock ---- */

/*
 * The host's one lock (lock.h), shared with the CLI, the daemon and the
 * tuner, held for the whole command: ADD's look at the record and its
 * attach are one step for every other xdp-egress. Exit releases it.
 * 0, or the exit status of the CNI error printed (code 11 when another
 * process held it for CNI_LOCK_WAIT_S, so that the runtime retries).
 */
static int cni_lock(int code, const char *what)
{
	off_t from = captured_len();
	char *e;
	int rc, err;

	if (!lock_take(CNI_LOCK_WAIT_S))
		return 0;
	err = errno;
	e = captured_errors(from);
	if (err == ETIMEDOUT) {
		char root[PATH_MAX];

		if (pins_root(root, sizeof(root)))
			snprintf(root, sizeof(root), "the pin root");
		rc = cni_error(CNI_ERR_TRY_AGAIN, e, "another xdp-egress operation "
			       "held the node's lock on %s for more than %d s; try "
			       "again later (`fuser -v %s` names the holder)", root,
			       CNI_LOCK_WAIT_S, root);
	} else
		rc = cni_error(code, e, "cannot %s: %.300s", what,
			       e && *e ? e : "see details");
	free(e);
	return rc;
}

/* ---- commands ---- */

static int cmd_add(struct cni_conf *c, const struct cni_env *env, cJSON *root)
{
	char host[IF_NAMESIZE], why[1024];
	struct attachment_info ai;
	cJSON *result;
	off_t from;
	int rc;

	if (!c->prev_result)
		return cni_error(CNI_ERR_CONFIG, NULL, "no prevResult in the config: "
				 "xdp-egress-cni is a chained plugin and must follow "
				 "the plugin that creates the pod's veth (bridge, ptp) "
				 "in a conflist");
	if (find_host_if(c, env, host, sizeof(host), why, sizeof(why)))
		return cni_error(CNI_ERR_CONFIG, NULL, "%s", why);
	rc = cni_lock(XE_ERR_ATTACH, "take the node's lock to attach");
	if (rc)
		return rc;
	if (attachment_of(host, &ai) == 0 && ai.found && ai.prog_id) {
		/* A retried ADD: what it asks for is in place. */
		fprintf(stderr, "xdp-egress-cni: %s is already attached (%s mode)\n",
			host, ai.mode);
	} else {
		/* A record whose program is gone (an earlier pod's veth of the
		 * same name): clear it, or attach would refuse. */
		if (ai.found)
			cmd_detach(&(struct target_spec){ .ifname = host }, 0);
		c->ao.spec = (struct target_spec){ .netns = env->netns,
						   .container_if = env->ifname };
		from = captured_len();
		if (cmd_attach(&c->ao)) {
			char *e = captured_errors(from);
			rc = cni_error(XE_ERR_ATTACH, e, "cannot attach "
				       "xdp-egress to %s (the host side of %s "
				       "in %s): %.300s", host, env->ifname,
				       env->netns, e && *e ? e : "see details");

			free(e);
			return rc;
		}
	}
	/* A chained plugin passes the previous result on unchanged. */
	result = conf_add_result(root, c);
	print_json(result);
	cJSON_Delete(result);
	return 0;
}

/*
 * DEL must succeed when there is nothing left to undo (spec: "plugins should
 * generally complete a DEL action without error even if some resources are
 * missing"). The host side is found from the pod's namespace while it
 * exists, else among prevResult's host-side interfaces by the name our
 * record keeps (the veth may be gone with the pod).
 */
static int cmd_del(struct cni_conf *c, const struct cni_env *env)
{
	char host[IF_NAMESIZE] = "";
	struct attachment_info ai = {};
	struct target t;
	off_t from;
	cJSON *it;
	int rc = cni_lock(XE_ERR_DETACH, "take the node's lock to detach");

	if (rc)
		return rc;
	if (env->netns && path_inode(env->netns)) {
		struct target_spec spec = { .netns = env->netns,
					    .container_if = env->ifname };

		if (!target_resolve(&spec, &t)) {
			snprintf(host, sizeof(host), "%s", t.host.name);
			target_release(&t);
			if (attachment_of(host, &ai))
				ai.found = 0;
		}
	}
	if (!ai.found && c->prev_result) {
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(c->prev_result,
							   "interfaces")) {
			const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(it, "name"));
			const char *sb = cJSON_GetStringValue(cJSON_GetObjectItem(it, "sandbox"));

			if (!n || (sb && *sb) || strlen(n) >= IF_NAMESIZE)
				continue;
			if (!attachment_of(n, &ai) && ai.found) {
				snprintf(host, sizeof(host), "%s", n);
				break;
			}
		}
	}
	if (!ai.found) {
		fprintf(stderr, "xdp-egress-cni: DEL %s: nothing attached%s%s\n",
			env->containerid, host[0] ? " to " : "", host);
		release_output();
		return 0;
	}
	from = captured_len();
	if (cmd_detach(&(struct target_spec){ .ifname = host }, 0)) {
		char *e = captured_errors(from);
		rc = cni_error(XE_ERR_DETACH, e, "cannot detach xdp-egress "
			       "from %s: %.300s", host,
			       e && *e ? e : "see details");

		free(e);
		return rc;
	}
	release_output();
	return 0;
}

static int cmd_check(struct cni_conf *c, const struct cni_env *env)
{
	char host[IF_NAMESIZE], why[1024];
	struct attachment_info ai;
	int rc;

	if (!cni_version_has_check(c->cni_version))
		return cni_error(CNI_ERR_VERSION, NULL, "CHECK needs cniVersion "
				 "0.4.0 or later; the config says %s",
				 c->cni_version);
	if (!c->prev_result)
		return cni_error(CNI_ERR_CONFIG, NULL, "CHECK needs prevResult");
	if (find_host_if(c, env, host, sizeof(host), why, sizeof(why)))
		return cni_error(CNI_ERR_CONFIG, NULL, "%s", why);
	/* Not in the middle of another process's attach, detach or switch. */
	rc = cni_lock(XE_ERR_CHECK, "take the node's lock to check");
	if (rc)
		return rc;
	if (attachment_of(host, &ai) || !ai.found)
		return cni_error(XE_ERR_CHECK, NULL, "xdp-egress is not attached "
				 "to %s (the host side of %s in %s)", host,
				 env->ifname, env->netns);
	if (!ai.prog_id)
		return cni_error(XE_ERR_CHECK, NULL, "xdp-egress's record for %s "
				 "exists but its program is no longer attached; "
				 "DEL and ADD the pod again", host);
	if ((c->ao.mode == MODE_NATIVE && strcmp(ai.mode, "native")) ||
	    (c->ao.mode == MODE_GENERIC && strcmp(ai.mode, "generic")))
		return cni_error(XE_ERR_CHECK, NULL, "%s runs xdp-egress in %s mode "
				 "but the config asks for %s", host, ai.mode,
				 c->ao.mode == MODE_NATIVE ? "native" : "generic");
	release_output();
	return 0;
}

static int cmd_version(void)
{
	cJSON *doc = cJSON_CreateObject(), *arr;
	int i;

	cJSON_AddStringToObject(doc, "cniVersion", "1.0.0");
	arr = cJSON_AddArrayToObject(doc, "supportedVersions");
	for (i = 0; cni_supported_versions[i]; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(cni_supported_versions[i]));
	print_json(doc);
	cJSON_Delete(doc);
	return 0;
}

/* ---- --validate FILE: a conflist or one config, no host access ---- */

static int validate_one(cJSON *conf, const char *where)
{
	struct cni_conf c;
	struct conf_error ce = {};

	if (conf_parse(conf, &c, &ce))
		return cni_error(ce.code, NULL, "%s: %s", where, ce.msg);
	/* Still capturing (more entries may follow): the real stdout. */
	dprintf(real_stdout >= 0 ? real_stdout : STDOUT_FILENO,
		"ok %s: %s, mode %s\n", where, c.name,
	       c.ao.mode == MODE_NATIVE ? "native" :
	       c.ao.mode == MODE_GENERIC ? "generic" :
	       c.ao.mode == MODE_TC ? "tc" : "auto");
	return 0;
}

static int validate_file(const char *path)
{
	cJSON *doc, *plugins, *p;
	char *buf = NULL, where[300];
	size_t len = 0;
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	int i = 0, found = 0, ret = 0;

	if (!f)
		return cni_error(CNI_ERR_IO, NULL, "cannot open %s: %s", path,
				 strerror(errno));
	buf = malloc(MAX_STDIN + 1);
	if (buf)
		len = fread(buf, 1, MAX_STDIN, f);
	if (f != stdin)
		fclose(f);
	if (!buf)
		return cni_error(CNI_ERR_IO, NULL, "out of memory");
	buf[len] = 0;
	doc = cJSON_Parse(buf);
	free(buf);
	if (!doc)
		return cni_error(CNI_ERR_DECODE, NULL, "%s is not valid JSON", path);
	plugins = cJSON_GetObjectItem(doc, "plugins");
	if (!plugins) {
		ret = validate_one(doc, path);
		cJSON_Delete(doc);
		release_output();
		return ret;
	}
	/* A conflist: the runtime merges cniVersion and name into each. */
	if (!cJSON_IsArray(plugins) || !cJSON_IsString(cJSON_GetObjectItem(doc, "name")) ||
	    !cJSON_IsString(cJSON_GetObjectItem(doc, "cniVersion"))) {
		cJSON_Delete(doc);
		return cni_error(CNI_ERR_CONFIG, NULL, "%s: a conflist needs "
				 "\"cniVersion\", \"name\" and a \"plugins\" array",
				 path);
	}
	cJSON_ArrayForEach(p, plugins) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(p, "type"));

		i++;
		if (!type || strcmp(type, PLUGIN_TYPE))
			continue;
		found = 1;
		snprintf(where, sizeof(where), "%s plugins[%d]", path, i - 1);
		if (i == 1) {
			ret = cni_error(CNI_ERR_CONFIG, NULL, "%s: xdp-egress-cni is "
					"the first plugin; it is a chained plugin and "
					"must follow the one that creates the pod's "
					"veth (bridge, ptp)", where);
			break;
		}
		conf_merge_list(doc, p);
		if (validate_one(p, where)) {
			ret = 1;
			break;
		}
	}
	if (!found && !ret)
		ret = cni_error(CNI_ERR_CONFIG, NULL, "%s has no plugin of type %s",
				path, PLUGIN_TYPE);
	cJSON_Delete(doc);
	release_output();
	return ret;
}

/* ---- entry ---- */

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	return 0;
}

static const char *env_str(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static char *read_stdin(size_t *len_out)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);
	ssize_t n;

	while (buf && (n = read(STDIN_FILENO, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap) {
			char *nb;

			if (cap >= MAX_STDIN) {
				free(buf);
				return NULL;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf)
		buf[len] = 0;
	*len_out = len;
	return buf;
}

static void usage(FILE *f)
{
	fputs(cni_usage, f);
}

int main(int argc, char **argv)
{
	struct cni_env env = {};
	struct cni_conf c;
	struct conf_error ce = {};
	cJSON *root;
	char *in;
	size_t len;
	int ret;

	libbpf_set_print(libbpf_quiet);
	if (argc == 3 && !strcmp(argv[1], "--validate")) {
		capture_output();
		return validate_file(argv[2]);
	}
	if (argc > 1) {
		usage(!strcmp(argv[1], "--help") ? stdout : stderr);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	capture_output();
	env.command = env_str("CNI_COMMAND");
	if (!env.command)
		return cni_error(CNI_ERR_ENV, NULL, "CNI_COMMAND is not set: "
				 "xdp-egress-cni is run by a container runtime with "
				 "CNI_COMMAND=ADD|DEL|CHECK|VERSION");
	if (!strcmp(env.command, "VERSION"))
		return cmd_version();
	if (strcmp(env.command, "ADD") && strcmp(env.command, "DEL") &&
	    strcmp(env.command, "CHECK"))
		return cni_error(CNI_ERR_ENV, NULL, "CNI_COMMAND '%s' is not ADD, "
				 "DEL, CHECK or VERSION", env.command);

	in = read_stdin(&len);
	if (!in)
		return cni_error(CNI_ERR_IO, NULL, "cannot read the network config "
				 "from stdin (at most %d bytes)", MAX_STDIN);
	root = cJSON_Parse(in);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();

		ret = cni_error(CNI_ERR_DECODE, NULL, "the network config on stdin "
				"is not valid JSON (near byte %ld of %zu)",
				at ? (long)(at - in) : 0L, len);
		free(in);
		return ret;
	}
	free(in);
	if (conf_parse(root, &c, &ce)) {
		if (c.cni_version)
			cni_version_out = c.cni_version;
		ret = cni_error(ce.code, NULL, "%s", ce.msg);
		cJSON_Delete(root);
		return ret;
	}
	cni_version_out = c.cni_version;

	/* The spec's required variables per command. */
	{
		char missing[128] = "";
		int del = !strcmp(env.command, "DEL");

		env.containerid = env_str("CNI_CONTAINERID");
		env.netns = env_str("CNI_NETNS");
		env.ifname = env_str("CNI_IFNAME");
		if (!env.containerid)
			strcat(missing, " CNI_CONTAINERID");
		if (!env.netns && !del)
			strcat(missing, " CNI_NETNS");
		if (!env.ifname)
			strcat(missing, " CNI_IFNAME");
		if (missing[0]) {
			ret = cni_error(CNI_ERR_ENV, NULL, "missing environment "
					"variables:%s (required for %s)", missing,
					env.command);
			cJSON_Delete(root);
			return ret;
		}
		if (strlen(env.ifname) >= IF_NAMESIZE) {
			ret = cni_error(CNI_ERR_ENV, NULL, "CNI_IFNAME '%s' is longer "
					"than an interface name can be", env.ifname);
			cJSON_Delete(root);
			return ret;
		}
		if (!del && path_inode(env.netns) == 0) {
			ret = cni_error(CNI_ERR_ENV, NULL, "CNI_NETNS '%s' does not "
					"exist: %s", env.netns, strerror(errno));
			cJSON_Delete(root);
			return ret;
		}
	}
	if (geteuid() != 0) {
		ret = cni_error(CNI_ERR_ENV, NULL, "xdp-egress-cni needs root "
				"(CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)");
		cJSON_Delete(root);
		return ret;
	}
	if (!strcmp(env.command, "ADD"))
		ret = cmd_add(&c, &env, root);
	else if (!strcmp(env.command, "DEL"))
		ret = cmd_del(&c, &env);
	else
		ret = cmd_check(&c, &env);
	cJSON_Delete(root);
	return ret;
}
