// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the engine API client (src/engines/docker.c, src/engines/engine_http.c:
 * libcurl) against a fake engine: a forked child on a listening unix
 * socket in a private temporary folder that reads the request and writes a canned
 * answer, optionally one byte per write so that every framing state meets a
 * split. Covers Content-Length, chunked (extensions, trailers) and
 * read-to-close bodies, truncation and bad framing, the event stream's line
 * splitting, the socket errors (missing, refusing, tcp://) and inspect's
 * answers (found and running, not running, 404). Needs no root and no
 * network; the children are reaped and the folder removed on every path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "docker.h"
#include "log.h"
#include "unit.h"

static char tmp_dir[] = "/tmp/xe-unit-docker.XXXXXX";
static char sock_path[108];

/* Read the request head, then write answer (bytewise: one byte a write). */
static void serve(int fd, const char *answer, size_t len, int bytewise)
{
	char req[4096];
	size_t got = 0, i;

	while (got < sizeof(req) - 1) {
		ssize_t n = read(fd, req + got, sizeof(req) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (!bytewise) {
		(void)!write(fd, answer, len);
		return;
	}
	for (i = 0; i < len; i++) {
		(void)!write(fd, answer + i, 1);
		usleep(200);
	}
}

/* A listening socket at sock_path whose child answers n connections
 * (bytewise: one byte a write). */
static pid_t fake_engine_bw(const char *answer, int n, int bytewise)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t child;

	unlink(sock_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4))
		return -1;
	child = fork();
	if (child == 0) {
		while (n--) {
			int c = accept(lfd, NULL, NULL);

			if (c < 0)
				break;
			serve(c, answer, strlen(answer), bytewise);
			close(c);
		}
		_exit(0);
	}
	close(lfd);
	return child;
}

static pid_t fake_engine(const char *answer, int n)
{
	return fake_engine_bw(answer, n, 0);
}

static void reap(pid_t child)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
}

static void test_request(const char *name, const char *answer, int bytewise,
			 int want_rc, int want_status, const char *want_body)
{
	struct http_response r;
	char n[128];
	pid_t child = fake_engine_bw(answer, 1, bytewise);
	int rc;

	rc = http_request(sock_path, "GET", "/v1.40/x", &r);
	reap(child);
	snprintf(n, sizeof(n), "http/%s%s/rc", name, bytewise ? "_bytewise" : "");
	ASSERT_EQ(rc, want_rc, n);
	if (rc || want_rc)
		return;
	snprintf(n, sizeof(n), "http/%s%s/status", name, bytewise ? "_bytewise" : "");
	ASSERT_EQ(r.status, want_status, n);
	snprintf(n, sizeof(n), "http/%s%s/body", name, bytewise ? "_bytewise" : "");
	CHECK(r.body && !strcmp(r.body, want_body), n, "got '%s', want '%s'",
	      r.body ? r.body : "(null)", want_body);
	http_response_free(&r);
}

static void test_framing(void)
{
	static const char chunked[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		"Transfer-Encoding: chunked\r\n\r\n"
		"7\r\n{\"a\": 1\r\n"
		"3;ext=1\r\n, \"\r\n"
		"B\r\nb\": [1, 2]}\r\n"
		"0\r\nX-Trailer: t\r\n\r\n";
	int bw;

	for (bw = 0; bw <= 1; bw++) {
		test_request("content_length", "HTTP/1.1 200 OK\r\nContent-Length: 5"
			     "\r\n\r\nhello", bw, 0, 200, "hello");
		test_request("chunked", chunked, bw, 0, 200, "{\"a\": 1, \"b\": [1, 2]}");
		test_request("read_to_close", "HTTP/1.0 200 OK\r\n\r\nuntil close",
			     bw, 0, 200, "until close");
	}
	test_request("no_body_204", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, 204, "");
	test_request("bad_chunk_size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
		     "chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 0, -1, 0, "");
	test_request("chunk_without_crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
		     "chunked\r\n\r\n3\r\nabcXY\r\n0\r\n\r\n", 0, -1, 0, "");
	test_request("truncated_chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
		     "chunked\r\n\r\n10\r\nabc", 0, -1, 0, "");
	test_request("truncated_length", "HTTP/1.1 200 OK\r\nContent-Length: 10"
		     "\r\n\r\nabc", 0, -1, 0, "");
	test_request("not_http", "SSH-2.0-OpenSSH\r\n\r\n", 0, -1, 0, "");
	test_request("bad_content_length", "HTTP/1.1 200 OK\r\nContent-Length: "
		     "x\r\n\r\n", 0, -1, 0, "");
}

static void test_error_message(void)
{
	struct http_response r = { .status = 404,
		.body = "{\"message\":\"No such container: x\"}" };
	struct http_response plain = { .status = 500, .body = "boom\nagain" };

	CHECK(!strcmp(engine_error_message(&r), "No such container: x"),
	      "http/error_message_json", "got '%s'", engine_error_message(&r));
	CHECK(!strcmp(engine_error_message(&plain), "boom again"),
	      "http/error_message_plain", "got '%s'", engine_error_message(&plain));
}

static void test_stream(void)
{
	static const char events[] =
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"c\r\n{\"Action\":1}\r\n"          /* "{"Action":1}" no newline yet */
		"1\r\n\n\r\n"
		"18\r\n{\"Action\":2}\n{\"Action\":3\r\n"
		"2\r\n}\n\r\n"
		"0\r\n\r\n";
	const char *want[] = { "{\"Action\":1}", "{\"Action\":2}", "{\"Action\":3}" };
	struct http_stream *s;
	int got = 0, rc = 1, order_ok = 1, bw;
	char *line;
	pid_t child;

	for (bw = 0; bw <= 1; bw++) {
		child = fake_engine_bw(events, 1, bw);
		got = 0;
		order_ok = 1;
		s = http_stream_open(sock_path, "/v1.40/events");
		CHECK(s != NULL, bw ? "stream/open_bytewise" : "stream/open",
		      "http_stream_open_fd failed");
		while (s && (rc = http_stream_read(s)) > 0) {
			while ((line = http_stream_line(s))) {
				if (got >= 3 || strcmp(line, want[got]))
					order_ok = 0;
				got++;
			}
		}
		while (s && (line = http_stream_line(s))) {
			if (got >= 3 || strcmp(line, want[got]))
				order_ok = 0;
			got++;
		}
		CHECK(got == 3 && order_ok, bw ? "stream/lines_bytewise" : "stream/lines",
		      "got %d lines (in order: %d), want 3", got, order_ok);
		ASSERT_EQ(rc, 0, bw ? "stream/end_bytewise" : "stream/end");
		http_stream_close(s);
		reap(child);
	}
	{
		child = fake_engine("HTTP/1.1 400 Bad Request\r\nContent-Length: 21"
				    "\r\n\r\n{\"message\":\"bad fi\"}\n", 1);
		s = http_stream_open(sock_path, "/v1.40/events");
		CHECK(s == NULL, "stream/non_2xx_refused", "opened a 400 stream");
		http_stream_close(s);
		reap(child);
	}
}

static void test_engine_init(void)
{
	struct engine e;

	unsetenv("DOCKER_HOST");
	unsetenv("CONTAINER_HOST");
	ASSERT_EQ(engine_init(&e, ENGINE_DOCKER), 0, "engine/docker_default_rc");
	CHECK(!strcmp(e.sock, DOCKER_DEFAULT_SOCK), "engine/docker_default",
	      "sock %s", e.sock);
	ASSERT_EQ(engine_init(&e, ENGINE_PODMAN), 0, "engine/podman_default_rc");
	CHECK(!strcmp(e.sock, PODMAN_DEFAULT_SOCK), "engine/podman_default",
	      "sock %s", e.sock);
	setenv("DOCKER_HOST", "unix:///tmp/x/docker.sock", 1);
	ASSERT_EQ(engine_init(&e, ENGINE_DOCKER), 0, "engine/docker_host_rc");
	CHECK(!strcmp(e.sock, "/tmp/x/docker.sock"), "engine/docker_host",
	      "sock %s", e.sock);
	setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
	ASSERT_EQ(engine_init(&e, ENGINE_DOCKER), -1, "engine/docker_host_tcp_refused");
	setenv("CONTAINER_HOST", "ssh://core@host/run/podman/podman.sock", 1);
	ASSERT_EQ(engine_init(&e, ENGINE_PODMAN), -1, "engine/container_host_ssh_refused");
	unsetenv("DOCKER_HOST");
	unsetenv("CONTAINER_HOST");
	CHECK(engine_name_valid("web") && engine_name_valid("a1b2c3") &&
	      engine_name_valid("my_app.v-2") && !engine_name_valid("") &&
	      !engine_name_valid("-x") && !engine_name_valid("a/b") &&
	      !engine_name_valid("a b") && !engine_name_valid("a?b"),
	      "engine/name_valid", "accepts or refuses the wrong names");
}

static void test_engine_calls(void)
{
	static const char running[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		"Content-Length: 114\r\n\r\n"
		"{\"Id\":\"abc\",\"Name\":\"/web\",\"State\":{\"Status\":\"running\","
		"\"Running\":true,\"Pid\":4242},\"HostConfig\":{\"NetworkMode\":\"x\"}}";
	static const char exited[] =
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"41\r\n{\"Id\":\"abc\",\"State\":{\"Status\":\"exited\",\"Running\":false,"
		"\"Pid\":0}}\n\r\n0\r\n\r\n";
	static const char missing[] =
		"HTTP/1.1 404 Not Found\r\nContent-Length: 39\r\n\r\n"
		"{\"message\":\"No such container: nosuch\"}";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct http_response resp;
	struct engine e;
	pid_t pid = 0, child;
	cJSON *j;
	int fd;

	setenv("DOCKER_HOST", "unix:///nonexistent/xe-unit/docker.sock", 1);
	engine_init(&e, ENGINE_DOCKER);
	errno = 0;
	ASSERT_EQ(engine_request(&e, "GET", "/_ping", &resp), -1, "engine/socket_missing");
	ASSERT_EQ(errno, ENOENT, "engine/socket_missing_errno");

	/* A socket file nobody listens on: bound, then closed. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	unlink(sock_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		CHECK(0, "engine/socket_refusing_setup", "bind %s: %s", sock_path,
		      strerror(errno));
	close(fd);
	setenv("DOCKER_HOST", "unix://", 1);
	{
		char v[200];

		snprintf(v, sizeof(v), "unix://%s", sock_path);
		setenv("DOCKER_HOST", v, 1);
	}
	engine_init(&e, ENGINE_DOCKER);
	errno = 0;
	ASSERT_EQ(engine_request(&e, "GET", "/_ping", &resp), -1, "engine/socket_refusing");
	ASSERT_EQ(errno, ECONNREFUSED, "engine/socket_refusing_errno");

	child = fake_engine(running, 1);
	ASSERT_EQ(engine_container_pid(ENGINE_DOCKER, "web", &pid), 0,
		  "engine/pid_running_rc");
	ASSERT_EQ(pid, 4242, "engine/pid_running");
	reap(child);

	child = fake_engine(exited, 1);
	ASSERT_EQ(engine_container_pid(ENGINE_DOCKER, "web", &pid), -1,
		  "engine/pid_not_running");
	reap(child);

	child = fake_engine(missing, 1);
	j = engine_inspect(&e, "nosuch");
	CHECK(j == NULL, "engine/inspect_404", "got an object for a 404");
	cJSON_Delete(j);
	reap(child);

	ASSERT_EQ(engine_container_pid(ENGINE_DOCKER, "bad/name", &pid), -1,
		  "engine/pid_bad_name");
	unlink(sock_path);
	unsetenv("DOCKER_HOST");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmp_dir)) {
		printf("FAIL docker/setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	log_quiet = 1;
	snprintf(sock_path, sizeof(sock_path), "%s/engine.sock", tmp_dir);
	test_framing();
	test_error_message();
	test_stream();
	test_engine_init();
	test_engine_calls();
	unlink(sock_path);
	rmdir(tmp_dir);
	UNIT_EXIT();
}
