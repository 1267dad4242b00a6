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

/* A whole answer (GET /containers/json of a big host) stays far below. */
#define HTTP_MAX_BODY (64u << 20)
#define HTTP_MAX_HEAD (64u << 10)
/* An engine that accepted the connection but does not answer. */
#define HTTP_TIMEOUT_S 15

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

int engine_connect(const struct engine *e)
{
	const char *name = engine_name(e->kind), *env = engine_env(e->kind);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = HTTP_TIMEOUT_S };
	int fd, err;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_err("cannot create a unix socket: %s", strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->sock);
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		return fd;
	}
	err = errno;
	close(fd);
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
	return -1;
}

/* ---- buffers ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

static void buf_consume(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	if (b->p)
		b->p[b->len] = 0;
}

/* ---- HTTP/1.1 message framing (RFC 9112) ---- */

struct body_dec {
	int chunked;
	long long left;   /* plain: bytes to go, -1 until close; chunked: in chunk */
	enum { B_SIZE, B_DATA, B_DATA_END, B_TRAILER, B_DONE } st;
};

/* A line in in[*off..len) ending in '\n': its length without "\r\n", or -1
 * when incomplete. *off moves past it. */
static long take_line(const char *in, size_t len, size_t *off, const char **line)
{
	const char *nl = memchr(in + *off, '\n', len - *off);
	long n;

	if (!nl)
		return -1;
	*line = in + *off;
	n = nl - *line;
	if (n && (*line)[n - 1] == '\r')
		n--;
	*off = nl - in + 1;
	return n;
}

/* Decode in[*off..len) into out. 1: body complete, 0: needs more, -1: bad
 * framing. */
static int body_decode(struct body_dec *d, const char *in, size_t len,
		       size_t *off, struct buf *out)
{
	while (d->st != B_DONE && *off < len) {
		const char *line;
		size_t n = len - *off;
		long l;

		if (!d->chunked) {
			if (d->left >= 0 && (long long)n > d->left)
				n = (size_t)d->left;
			if (buf_add(out, in + *off, n))
				return -1;
			*off += n;
			if (d->left >= 0 && !(d->left -= n))
				d->st = B_DONE;
			continue;
		}
		switch (d->st) {
		case B_SIZE: {
			char hex[24], *end;
			long long size;

			l = take_line(in, len, off, &line);
			if (l < 0)
				return n > 1024 ? -1 : 0;
			/* chunk-size [; chunk-ext] */
			if (l >= (long)sizeof(hex))
				l = (long)sizeof(hex) - 1;
			memcpy(hex, line, l);
			hex[l] = 0;
			errno = 0;
			size = strtoll(hex, &end, 16);
			if (end == hex || errno || size < 0 ||
			    (*end && *end != ';' && *end != ' ' && *end != '\t'))
				return -1;
			d->left = size;
			d->st = size ? B_DATA : B_TRAILER;
			break;
		}
		case B_DATA:
			if ((long long)n > d->left)
				n = (size_t)d->left;
			if (buf_add(out, in + *off, n))
				return -1;
			*off += n;
			if (!(d->left -= n))
				d->st = B_DATA_END;
			break;
		case B_DATA_END:
			l = take_line(in, len, off, &line);
			if (l < 0)
				return n > 2 ? -1 : 0;
			if (l)
				return -1;
			d->st = B_SIZE;
			break;
		case B_TRAILER:
			l = take_line(in, len, off, &line);
			if (l < 0)
				return n > 8192 ? -1 : 0;
			if (!l)
				d->st = B_DONE;
			break;
		case B_DONE:
			break;
		}
	}
	return d->st == B_DONE;
}

/*
 * Parse a response head in buf. Returns its length (through the blank
 * line), 0 when incomplete, -1 when malformed.
 */
static long parse_head(const char *buf, size_t len, int *status,
		       struct body_dec *d)
{
	size_t off = 0;
	const char *line;
	long l, clen = -1;
	int first = 1;

	d->chunked = 0;
	d->st = B_SIZE;
	while ((l = take_line(buf, len, &off, &line)) >= 0) {
		if (first) {
			if (l < 12 || strncmp(line, "HTTP/1.", 7) ||
			    !isdigit((unsigned char)line[9]) ||
			    sscanf(line + 9, "%3d", status) != 1)
				return -1;
			first = 0;
			continue;
		}
		if (!l)
			break;
		if (l > 18 && !strncasecmp(line, "Transfer-Encoding:", 18)) {
			char v[128];

			snprintf(v, sizeof(v), "%.*s", (int)(l - 18), line + 18);
			if (strcasestr(v, "chunked"))
				d->chunked = 1;
		} else if (l > 15 && !strncasecmp(line, "Content-Length:", 15)) {
			char *end;

			clen = strtol(line + 15, &end, 10);
			while (end < line + l && (*end == ' ' || *end == '\t'))
				end++;
			if (clen < 0 || end != line + l)
				return -1;
		}
	}
	if (l < 0)
		return 0;
	if (!d->chunked) {
		d->left = clen;
		/* No body: an explicit 0, or 1xx/204/304 (RFC 9112 6.3). */
		if (clen == 0 || *status / 100 == 1 || *status == 204 ||
		    *status == 304)
			d->st = B_DONE;
	}
	return (long)off;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_request(int fd, const char *method, const char *path,
			int keep_open)
{
	char req[1024];
	int n;

	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: engine\r\nUser-Agent: xdp-egress\r\n"
		     "Accept: application/json\r\n%s\r\n", method, path,
		     keep_open ? "" : "Connection: close\r\n");
	if (n >= (int)sizeof(req)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return send_all(fd, req, (size_t)n);
}

static const char *read_error(int err)
{
	static char msg[64];

	if (err != EAGAIN && err != EWOULDBLOCK)
		return strerror(err);
	snprintf(msg, sizeof(msg), "no answer within %d s", HTTP_TIMEOUT_S);
	return msg;
}

void http_response_free(struct http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

int http_request_fd(int fd, const char *method, const char *path,
		    struct http_response *r)
{
	struct buf raw = {}, body = {};
	struct body_dec d = {};
	size_t off = 0;
	long head = 0;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (send_request(fd, method, path, 0)) {
		pr_err("cannot send %s %s to the engine: %s", method, path,
		       strerror(errno));
		return -1;
	}
	for (;;) {
		char chunk[16384];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_err("reading the engine's answer to %s %s: %s", method,
			       path, read_error(errno));
			goto bad;
		}
		if (n == 0) {
			/* The end of a read-to-close body; anything else
			 * ended early. */
			if (head > 0 && !d.chunked && d.left < 0)
				break;
			pr_err("the engine closed the connection in the middle "
			       "of its answer to %s %s", method, path);
			goto bad;
		}
		if (buf_add(&raw, chunk, (size_t)n))
			goto nomem;
		if (!head) {
			head = parse_head(raw.p, raw.len, &r->status, &d);
			if (head < 0 || (!head && raw.len > HTTP_MAX_HEAD)) {
				pr_err("the engine's answer to %s %s is not "
				       "HTTP/1.1", method, path);
				goto bad;
			}
			if (!head)
				continue;
			off = (size_t)head;
		}
		rc = body_decode(&d, raw.p, raw.len, &off, &body);
		buf_consume(&raw, off);
		off = 0;
		if (rc < 0 || body.len > HTTP_MAX_BODY) {
			pr_err("the engine's answer to %s %s has a %s body",
			       method, path, rc < 0 ? "malformed" : "too large");
			goto bad;
		}
		if (rc == 1 || (head && d.st == B_DONE))
			break;
	}
	if (!body.p && buf_add(&body, "", 0))
		goto nomem;
	free(raw.p);
	r->body = body.p;
	r->len = body.len;
	return 0;
nomem:
	pr_err("out of memory reading the engine's answer");
bad:
	free(raw.p);
	free(body.p);
	return -1;
}

int engine_request(const struct engine *e, const char *method,
		   const char *path, struct http_response *r)
{
	int fd = engine_connect(e), ret;

	if (fd < 0)
		return -1;
	ret = http_request_fd(fd, method, path, r);
	close(fd);
	return ret;
}

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

/* ---- streaming ---- */

struct http_stream {
	int fd;
	struct body_dec d;
	struct buf raw, body;
	size_t line_off;   /* body bytes already handed out as lines */
	int ended;
};

static int stream_decode(struct http_stream *s);

struct http_stream *http_stream_open_fd(int fd, const char *path)
{
	struct http_stream *s = calloc(1, sizeof(*s));
	int status = 0;
	long head = 0;

	if (!s) {
		close(fd);
		return NULL;
	}
	s->fd = fd;
	if (send_request(fd, "GET", path, 1)) {
		pr_err("cannot send GET %s to the engine: %s", path, strerror(errno));
		goto bad;
	}
	while (!head) {
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_err("the engine %s before answering GET %s",
			       n ? read_error(errno) : "closed the connection", path);
			goto bad;
		}
		if (buf_add(&s->raw, chunk, (size_t)n))
			goto bad;
		head = parse_head(s->raw.p, s->raw.len, &status, &s->d);
		if (head < 0 || (!head && s->raw.len > HTTP_MAX_HEAD)) {
			pr_err("the engine's answer to GET %s is not HTTP/1.1", path);
			goto bad;
		}
	}
	buf_consume(&s->raw, (size_t)head);
	if (status / 100 != 2) {
		struct http_response r = { .status = status };
		size_t off = 0;

		body_decode(&s->d, s->raw.p, s->raw.len, &off, &s->body);
		r.body = s->body.p;
		pr_err("the engine answered %d to GET %s: %s", status, path,
		       engine_error_message(&r));
		goto bad;
	}
	/* Events that came with the head. */
	if (s->raw.len && stream_decode(s)) {
		pr_err("the engine's answer to GET %s has a malformed body", path);
		goto bad;
	}
	return s;
bad:
	http_stream_close(s);
	return NULL;
}

int http_stream_fd(const struct http_stream *s)
{
	return s->fd;
}

/* Decode what came so far. 0, or -1 with errno. */
static int stream_decode(struct http_stream *s)
{
	size_t off = 0;
	int rc;

	rc = body_decode(&s->d, s->raw.p, s->raw.len, &off, &s->body);
	buf_consume(&s->raw, off);
	if (rc < 0) {
		errno = EPROTO;
		return -1;
	}
	if (rc == 1)
		s->ended = 1;
	/* A line longer than any event means the stream is not what we
	 * think it is. */
	if (s->body.len - s->line_off > HTTP_MAX_HEAD * 16) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int http_stream_read(struct http_stream *s)
{
	char chunk[16384];
	ssize_t n;

	if (s->ended)
		return 0;
	n = read(s->fd, chunk, sizeof(chunk));
	if (n < 0)
		return errno == EINTR ? 1 : -1;
	if (n == 0) {
		s->ended = 1;
		return 0;
	}
	if (buf_add(&s->raw, chunk, (size_t)n) || stream_decode(s))
		return -1;
	return s->ended ? 0 : 1;
}

char *http_stream_line(struct http_stream *s)
{
	char *start, *nl;

	if (s->line_off && s->line_off == s->body.len) {
		buf_consume(&s->body, s->line_off);
		s->line_off = 0;
	}
	if (!s->body.p || s->line_off >= s->body.len)
		return NULL;
	start = s->body.p + s->line_off;
	nl = memchr(start, '\n', s->body.len - s->line_off);
	if (!nl) {
		/* Keep the partial line; drop what was handed out. */
		buf_consume(&s->body, s->line_off);
		s->line_off = 0;
		return NULL;
	}
	*nl = 0;
	s->line_off = (size_t)(nl - s->body.p) + 1;
	return start;
}

void http_stream_close(struct http_stream *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->raw.p);
	free(s->body.p);
	free(s);
}
