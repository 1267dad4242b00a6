// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* strcasestr */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "docker.h"
#include "jsonval.h"
#include "log.h"


const char *engine_name(enum engine_kind kind)
{
	return kind == ENGINE_PODMAN ? "podman" : "Docker";
}

static const char *engine_env(enum engine_kind kind)
{
	return kind == ENGINE_PODMAN ? "CONTAINER_HOST" : "DOCKER_HOST";
}

static const char *engine_cli(enum engine_kind kind)
{
	return kind == ENGINE_PODMAN ? "podman" : "docker";
}

int engine_init(struct engine *e, enum engine_kind kind)
{
	const char *env = engine_env(kind), *v = getenv(env), *path;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	if (v && *v) {
		if (strncmp(v, "unix://", 7)) {
			pr_err("%s=%s: xdp-egress reaches %s only through its unix "
			       "socket (no TCP, TLS or SSH); set %s=unix:///PATH/TO/"
			       "SOCKET, or unset it for %s", env, v,
			       engine_name(kind), env,
			       kind == ENGINE_PODMAN ? PODMAN_DEFAULT_SOCK
						     : DOCKER_DEFAULT_SOCK);
			return -1;
		}
		path = v + 7;
		snprintf(e->origin, sizeof(e->origin), "from %s", env);
	} else {
		path = kind == ENGINE_PODMAN ? PODMAN_DEFAULT_SOCK : DOCKER_DEFAULT_SOCK;
		snprintf(e->origin, sizeof(e->origin), "the default; %s is not set",
			 env);
	}
	if (!*path || strlen(path) >= sizeof(e->sock)) {
		pr_err("%s=%s: the socket path is %s", env, v,
		       *path ? "longer than a unix socket allows (107 bytes)"
			     : "empty");
		return -1;
	}
	snprintf(e->sock, sizeof(e->sock), "%s", path);
	return 0;
}

void engine_connect_error(const struct engine *e, int err)
{
	const char *name = engine_name(e->kind), *env = engine_env(e->kind);

	switch (err) {
	case ENOENT:
		pr_err("no %s socket at %s (%s): is %s running? Start it, or "
		       "set %s=unix://PATH to the socket it listens on", name,
		       e->sock, e->origin,
		       e->kind == ENGINE_PODMAN ? "`podman system service`"
						: "dockerd", env);
		break;
	case ECONNREFUSED:
		pr_err("the %s socket %s (%s) refuses connections: nothing "
		       "listens there (the daemon that made it has exited, or it "
		       "is not a socket); start %s again or point %s at the "
		       "right socket", name, e->sock, e->origin,
		       e->kind == ENGINE_PODMAN ? "`podman system service`"
						: "dockerd", env);
		break;
	case EACCES:
	case EPERM:
		pr_err("no permission to connect to the %s socket %s (%s): run "
		       "xdp-egress as root", name, e->sock, e->origin);
		break;
	default:
		pr_err("cannot connect to the %s socket %s (%s): %s", name,
		       e->sock, e->origin, strerror(err));
	}
	errno = err;
}

/* ---- answers (the HTTP itself: engine_http.c) ---- */

const char *engine_error_message(const struct http_response *r)
{
	static char msg[512];
	cJSON *j = cJSON_Parse(r->body ? r->body : "");
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(j, "message"));

	snprintf(msg, sizeof(msg), "%s", m ? m : (r->body ? r->body : ""));
	cJSON_Delete(j);
	/* One line for the log. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return msg;
}

/* ---- containers ---- */

int engine_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > 255 || !isalnum((unsigned char)name[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return 0;
	return 1;
}

cJSON *engine_inspect(const struct engine *e, const char *name)
{
	struct http_response r;
	char path[512];
	cJSON *j = NULL;

	if (!engine_name_valid(name)) {
		pr_err("'%s' is not a container name or ID: those are made of "
		       "letters, digits, '_', '.' and '-'", name);
		return NULL;
	}
	snprintf(path, sizeof(path), ENGINE_API_PREFIX "/containers/%s/json", name);
	if (engine_request(e, "GET", path, &r))
		return NULL;
	if (r.status == 404)
		pr_err("no container '%s' in %s (socket %s, %s): check `%s ps "
		       "-a`, and that %s names the engine that runs it", name,
		       engine_name(e->kind), e->sock, e->origin,
		       engine_cli(e->kind), engine_env(e->kind));
	else if (r.status != 200)
		pr_err("%s answered %d to GET %s: %s", engine_name(e->kind),
		       r.status, path, engine_error_message(&r));
	else if (!(j = cJSON_Parse(r.body)) || !cJSON_IsObject(j)) {
		pr_err("%s's answer to GET %s is not a JSON object",
		       engine_name(e->kind), path);
		cJSON_Delete(j);
		j = NULL;
	}
	http_response_free(&r);
	return j;
}

int engine_container_state(enum engine_kind kind, const char *name,
			   const cJSON *j, pid_t *pid)
{
	cJSON *state, *mode;
	const char *status;
	long long p;

	state = cJSON_GetObjectItem(j, "State");
	status = cJSON_GetStringValue(cJSON_GetObjectItem(state, "Status")) ?: "unknown";
	p = json_int(cJSON_GetObjectItem(state, "Pid"), 0, INT_MAX, 0);
	mode = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "HostConfig"), "NetworkMode");
	if (!cJSON_IsTrue(cJSON_GetObjectItem(state, "Running")) || !(p > 0)) {
		pr_err("%s container '%s' is not running (status %s): only a "
		       "running container has a network namespace and a veth; "
		       "start it first (%s start %s)", engine_name(kind), name,
		       status, engine_cli(kind), name);
		return -1;
	}
	if (cJSON_IsString(mode) && !strcmp(mode->valuestring, "host")) {
		pr_err("%s container '%s' uses the host's network (--network "
		       "host): its traffic crosses no veth, so there is nothing "
		       "to attach to", engine_name(kind), name);
		return -1;
	}
	*pid = (pid_t)p;
	return 0;
}

int engine_container_pid(enum engine_kind kind, const char *name, pid_t *pid)
{
	struct engine e;
	cJSON *j;
	int ret;

	if (engine_init(&e, kind) || !(j = engine_inspect(&e, name)))
		return -1;
	ret = engine_container_state(kind, name, j, pid);
	cJSON_Delete(j);
	return ret;
}
