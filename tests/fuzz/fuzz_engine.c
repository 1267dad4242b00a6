// SPDX-License-Identifier: GPL-2.0
/*
 * The container engine's answers (src/engines/docker.c, src/daemon/daemon.c), as they come
 * off its socket. The first input byte picks the reader, the second how the
 * answer is cut into reads; the rest is the engine's bytes:
 *   0  a whole response (http_request: status line, headers,
 *      Content-Length, chunked or read-to-close body); a 200's body then
 *      goes on as an inspect answer (below)
 *   1  the event stream (http_stream_open_fd/_read/_line), each line
 *      through daemon_event_parse
 *   2  an inspect answer alone: engine_container_state and, against two
 *      daemon configs, daemon_inspect_parse (labels, networks, options)
 *   3  an error body (engine_error_message)
 * Modes 0 and 1 go through libcurl (src/engines/engine_http.c) to a unix socket
 * in a private folder, where a thread of the harness reads the request and
 * writes the bytes in pieces of the chosen size, so that libcurl's framing
 * meets splits; the other modes take the bytes as they are.
 */
#include "fuzz.h"
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "daemon.h"
#include "docker.h"
#include "log.h"

/* Pieces of an answer at most, and their largest size. */
#define MAX_READS 64
#define MAX_READ 4096

static char sock_dir[64], sock_path[108];
static int listen_fd = -1;

static void remove_socket(void)
{
	unlink(sock_path);
	rmdir(sock_dir);
}
static struct daemon *d_default, *d_config;

static struct daemon *daemon_with(const char *config)
{
	struct daemon *d = daemon_new();

	if (!d || (config && daemon_load_config(d, fuzz_file((const uint8_t *)config,
							      strlen(config)))))
		abort();
	return d;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/xe-fuzz-engine.XXXXXX");
	if (!mkdtemp(sock_dir))
		abort();
	snprintf(sock_path, sizeof(sock_path), "%s/engine.sock", sock_dir);
	atexit(remove_socket);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(listen_fd, 4))
		abort();
	d_default = daemon_with(NULL);
	d_config = daemon_with("{\"networks\": [\"xe-net\", \"bridge\"], "
			       "\"options\": {\"mode\": \"tc\", \"uplink\": "
			       "[\"up0\", \"up1\"]}, \"labels\": [\"mode\", "
			       "\"uplink\", \"uplink-mode\", \"container-if\"]}");
	fuzz_quiet_stdout();
	return 0;
}

/* The engine: one connection, its request read, then the bytes. */
struct answer {
	const uint8_t *data;
	size_t size, step;
};

static void *serve(void *arg)
{
	struct answer *a = arg;
	char req[4096];
	size_t got = 0, off;
	int c = accept(listen_fd, NULL, NULL);

	if (c < 0)
		return NULL;
	while (got < sizeof(req) - 1) {
		ssize_t n = read(c, req + got, sizeof(req) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	for (off = 0; off < a->size; off += a->step) {
		size_t n = a->size - off < a->step ? a->size - off : a->step;

		if (send(c, a->data + off, n, MSG_NOSIGNAL) != (ssize_t)n)
			break;
	}
	close(c);
	return NULL;
}

/* Start the engine answering data, cut into pieces of step bytes. */
static pthread_t engine_start(struct answer *a, const uint8_t *data,
			      size_t size, size_t step)
{
	pthread_t t;

	if (!step || step > MAX_READ)
		step = MAX_READ;
	if (size / step >= MAX_READS)
		step = size / MAX_READS + 1;
	*a = (struct answer){ data, size, step };
	if (pthread_create(&t, NULL, serve, a))
		abort();
	return t;
}

static void inspect(cJSON *j)
{
	struct container_req r;
	pid_t pid = 0;
	int i;

	if (!engine_container_state(ENGINE_DOCKER, "c1", j, &pid) && pid <= 0)
		abort();
	for (i = 0; i < 2; i++) {
		struct daemon *d = i ? d_config : d_default;

		if (daemon_inspect_parse(d, j, "c1", &r) &&
		    (r.pid <= 0 || !r.id || !r.name || r.opts.n > 63))
			abort();
		daemon_argv_free(&r.opts);
	}
}

static void inspect_text(const char *body)
{
	cJSON *j = cJSON_Parse(body);

	/* engine_inspect takes objects only */
	if (cJSON_IsObject(j))
		inspect(j);
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response r;
	struct http_stream *s;
	struct answer a;
	char id[256], *line;
	int rc, reads = 0;
	pthread_t t;

	if (size < 2)
		return 0;
	switch (data[0] & 3) {
	case 0:
		t = engine_start(&a, data + 2, size - 2, data[1]);
		rc = http_request(sock_path, "GET", "/v1.40/containers/c1/json", &r);
		pthread_join(t, NULL);
		if (rc)
			break;
		if (!r.body || strlen(r.body) > r.len)
			abort();
		if (r.status == 200)
			inspect_text(r.body);
		else
			(void)engine_error_message(&r);
		http_response_free(&r);
		break;
	case 1:
		t = engine_start(&a, data + 2, size - 2, data[1]);
		s = http_stream_open(sock_path, "/v1.40/events");
		do {
			rc = s ? http_stream_read(s) : 0;
			while (s && (line = http_stream_line(s)))
				(void)daemon_event_parse(line, id, sizeof(id));
		} while (rc > 0 && ++reads < MAX_READS * 2);
		http_stream_close(s);
		pthread_join(t, NULL);
		break;
	case 2: {
		char *body = fuzz_str(data + 2, size - 2);

		inspect_text(body);
		free(body);
		break;
	}
	case 3: {
		struct http_response er = { .status = 500 };

		er.body = fuzz_str(data + 2, size - 2);
		er.len = size - 2;
		(void)engine_error_message(&er);
		free(er.body);
		break;
	}
	}
	return 0;
}
