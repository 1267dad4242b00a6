// SPDX-License-Identifier: GPL-2.0
/*
 * The container engine's answers (src/docker.c, src/daemon.c), as they come
 * off its socket. The first input byte picks the reader, the second how the
 * answer is cut into reads; the rest is the engine's bytes:
 *   0  a whole response (http_request_fd: status line, headers,
 *      Content-Length, chunked or read-to-close body); a 200's body then
 *      goes on as an inspect answer (below)
 *   1  the event stream (http_stream_open_fd/_read/_line), each line
 *      through daemon_event_parse
 *   2  an inspect answer alone: engine_container_state and, against two
 *      daemon configs, daemon_inspect_parse (labels, networks, options)
 *   3  an error body (engine_error_message)
 * The bytes reach the reader through a SOCK_SEQPACKET socketpair: each
 * message is one read(), so every framing state meets a split.
 */
#include "fuzz.h"
#include <sys/socket.h>

#include "daemon.h"
#include "docker.h"
#include "log.h"

/* Messages queued on the socket at most (each costs kernel memory; past
 * the socket's buffer a write would block). */
#define MAX_READS 64
#define MAX_READ 4096   /* the smallest read() of the readers */

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
	d_default = daemon_with(NULL);
	d_config = daemon_with("{\"networks\": [\"xe-net\", \"bridge\"], "
			       "\"options\": {\"mode\": \"tc\", \"uplink\": "
			       "[\"up0\", \"up1\"]}, \"labels\": [\"mode\", "
			       "\"uplink\", \"uplink-mode\", \"container-if\"]}");
	fuzz_quiet_stdout();
	return 0;
}

/* fd to read the engine's bytes from, cut into reads of step bytes; *peer
 * is the engine's end (open, so that the request can be sent; close it
 * after). */
static int engine_fd(const uint8_t *data, size_t size, size_t step, int *peer)
{
	int sv[2];
	size_t off;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		abort();
	if (!step || step > MAX_READ)
		step = MAX_READ;
	if (size / step >= MAX_READS)
		step = size / MAX_READS + 1;
	for (off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;

		/* Past the socket's buffer (a big input): the answer ends
		 * there, as from an engine that stopped writing. */
		if (send(sv[1], data + off, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n)
			break;
	}
	/* The reader sees the end after the last message; its request
	 * lands in sv[1]'s queue, unread. */
	shutdown(sv[1], SHUT_WR);
	*peer = sv[1];
	return sv[0];
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
	char id[256], *line;
	int fd, peer, rc, reads = 0;

	if (size < 2)
		return 0;
	switch (data[0] & 3) {
	case 0:
		fd = engine_fd(data + 2, size - 2, data[1], &peer);
		rc = http_request_fd(fd, "GET", "/v1.40/containers/c1/json", &r);
		close(fd);
		close(peer);
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
		fd = engine_fd(data + 2, size - 2, data[1], &peer);
		s = http_stream_open_fd(fd, "/v1.40/events"); /* takes fd */
		if (!s) {
			close(peer);
			break;
		}
		do {
			rc = http_stream_read(s);
			while ((line = http_stream_line(s)))
				(void)daemon_event_parse(line, id, sizeof(id));
		} while (rc > 0 && ++reads < MAX_READS * 2);
		http_stream_close(s);
		close(peer);
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
