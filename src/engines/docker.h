/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The container engines' API: the few Docker Engine API calls xdp-egress
 * needs (docker.c), over HTTP/1.1 on a unix socket through libcurl
 * (engine_http.c: whole answers, and a streaming reader for GET /events).
 * Podman serves the same API on its own socket (`podman system service`),
 * so one client covers both. No CLI is run.
 */
#ifndef XE_DOCKER_H
#define XE_DOCKER_H

#include <stddef.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

enum engine_kind { ENGINE_NONE = 0, ENGINE_DOCKER, ENGINE_PODMAN };

/* Pinned so that an engine newer than this client answers in the form it
 * expects; Docker >= 19.03 and podman's compat API serve it. */
#define ENGINE_API_PREFIX "/v1.40"
#define DOCKER_DEFAULT_SOCK "/var/run/docker.sock"
#define PODMAN_DEFAULT_SOCK "/run/podman/podman.sock"

struct engine {
	enum engine_kind kind;
	char sock[108];     /* sun_path */
	char origin[200];   /* where sock came from, for messages */
};

const char *engine_name(enum engine_kind kind);   /* "Docker", "podman" */
/*
 * The socket of kind: Docker: $DOCKER_HOST (unix:// only) or
 * /var/run/docker.sock; podman: $CONTAINER_HOST (unix:// only) or
 * /run/podman/podman.sock. -1 with the error printed (e.g. tcp://).
 */
int engine_init(struct engine *e, enum engine_kind kind);
/* Print what a failed connect (errno err) to e's socket means, and what to
 * do. */
void engine_connect_error(const struct engine *e, int err);

struct http_response {
	int status;
	char *body;      /* NUL-terminated */
	size_t len;
};
void http_response_free(struct http_response *r);
/* One request to the unix socket sock; reads the whole response. 0
 * whatever the HTTP status; -1 on a protocol error or timeout (printed);
 * -2 when the socket cannot be reached (errno, nothing printed). */
int http_request(const char *sock, const char *method, const char *path,
		 struct http_response *r);
/* http_request on e's socket; -1 with the error printed. */
int engine_request(const struct engine *e, const char *method,
		   const char *path, struct http_response *r);
/* The "message" of an engine's error body, or the body itself. */
const char *engine_error_message(const struct http_response *r);

/* Names and IDs the engines accept: [A-Za-z0-9][A-Za-z0-9_.-]*. */
int engine_name_valid(const char *name);
/*
 * GET /containers/NAME/json, parsed. NULL with the error printed: not
 * found (404), engine unreachable, bad answer.
 */
cJSON *engine_inspect(const struct engine *e, const char *name);
/* Pid of a running container (State.Pid) from its inspect answer j; -1
 * with the error printed (not running, --network host). */
int engine_container_state(enum engine_kind kind, const char *name,
			   const cJSON *j, pid_t *pid);
/* Pid of a running container (State.Pid); -1 with the error printed. */
int engine_container_pid(enum engine_kind kind, const char *name, pid_t *pid);

/* ---- streaming body (GET /events) ---- */
struct http_stream;
/* GET path on the unix socket sock, through the response head. NULL with
 * the error printed (errno EPROTO), also for a non-2xx status, or with
 * errno alone when the socket cannot be reached. */
struct http_stream *http_stream_open(const char *sock, const char *path);
/* The same on e's socket, every error printed. */
struct http_stream *engine_events_open(const struct engine *e, const char *path);
/* The socket to poll for POLLIN before http_stream_read. */
int http_stream_fd(const struct http_stream *s);
/* One read(): 1 when bytes came, 0 at the end of the body or the
 * connection, -1 on error (errno; EAGAIN when nothing was there). */
int http_stream_read(struct http_stream *s);
/* Next complete line of the decoded body (without '\n'), or NULL. Valid
 * until the next call on s. */
char *http_stream_line(struct http_stream *s);
void http_stream_close(struct http_stream *s);

#endif
