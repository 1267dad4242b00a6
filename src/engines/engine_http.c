// SPDX-License-Identifier: GPL-2.0
/*
 * HTTP to the container engine's unix socket, through libcurl: whole
 * answers (http_request) and the event stream the daemon follows
 * (http_stream_*). libcurl connects to the unix socket and parses the
 * HTTP/1.1 framing (Content-Length, chunked, read-to-close); a socket that
 * cannot be reached is explained by engine_connect_error() (docker.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "docker.h"
#include "log.h"

/* A whole answer (GET /containers/json of a big host) stays far below. */
#define HTTP_MAX_BODY (64u << 20)
/* A line of the event stream longer than this is not an event. */
#define HTTP_MAX_LINE (1u << 20)
/* An engine that accepted the connection but does not answer. */
#define HTTP_TIMEOUT_S 15

struct buf {
	char *p;
	size_t len, cap, max;
	int too_big;
};

static size_t buf_write(char *d, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > b->max) {
		b->too_big = 1;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return n;
}

/* An easy handle for method path on the unix socket sock. */
static CURL *easy_on(const char *sock, const char *method, const char *path,
		     struct buf *body, char *errbuf)
{
	CURL *c = curl_easy_init();
	char url[2048];

	if (!c)
		return NULL;
	/* The host part only names the Host header. */
	snprintf(url, sizeof(url), "http://localhost%s", path);
	if (curl_easy_setopt(c, CURLOPT_URL, url) ||
	    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock) ||
	    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) ||
	    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1) ||
	    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L) ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)HTTP_TIMEOUT_S) ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write) ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, body) ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf)) {
		curl_easy_cleanup(c);
		return NULL;
	}
	return c;
}

/* A failed connect: -2 with errno (the caller says what it means for
 * its engine). */
static int connect_failed(CURL *c, CURLcode rc)
{
	long err = 0;

	if (rc != CURLE_COULDNT_CONNECT)
		return 0;
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &err);
	errno = err ? (int)err : ECONNREFUSED;
	return 1;
}

/* What went wrong with an answer, for "the engine's answer to X: ...". */
static const char *curl_why(CURLcode rc, const struct buf *body,
			    const char *errbuf)
{
	static char msg[300];

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(msg, sizeof(msg), "no answer within %d s", HTTP_TIMEOUT_S);
		break;
	case CURLE_GOT_NOTHING:
		snprintf(msg, sizeof(msg), "the engine closed the connection "
			 "before answering");
		break;
	case CURLE_PARTIAL_FILE:
		snprintf(msg, sizeof(msg), "the engine closed the connection in "
			 "the middle of its answer");
		break;
	case CURLE_WRITE_ERROR:
		snprintf(msg, sizeof(msg), "%s", body->too_big
			 ? "its body is too large" : "out of memory");
		break;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(msg, sizeof(msg), "it is not HTTP/1.1 (%s)",
			 *errbuf ? errbuf : curl_easy_strerror(rc));
		break;
	default:
		snprintf(msg, sizeof(msg), "%s", *errbuf ? errbuf
						      : curl_easy_strerror(rc));
	}
	return msg;
}

void http_response_free(struct http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

int http_request(const char *sock, const char *method, const char *path,
		 struct http_response *r)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct buf body = { .max = HTTP_MAX_BODY };
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	long status = 0;
	CURL *c;

	memset(r, 0, sizeof(*r));
	c = easy_on(sock, method, path, &body, errbuf);
	if (c && !curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)HTTP_TIMEOUT_S))
		rc = curl_easy_perform(c);
	if (c && connect_failed(c, rc)) {
		int err = errno;

		curl_easy_cleanup(c);
		free(body.p);
		errno = err;
		return -2;
	}
	if (c)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || !status) {
		pr_err("the engine's answer to %s %s: %s", method, path,
		       curl_why(rc, &body, errbuf));
		free(body.p);
		return -1;
	}
	if (!body.p && !(body.p = calloc(1, 1))) {
		pr_err("out of memory reading the engine's answer");
		return -1;
	}
	r->status = (int)status;
	r->body = body.p;
	r->len = body.len;
	return 0;
}

int engine_request(const struct engine *e, const char *method,
		   const char *path, struct http_response *r)
{
	int ret = http_request(e->sock, method, path, r);

	if (ret == -2)
		engine_connect_error(e, errno);
	return ret < 0 ? -1 : 0;
}

/* ---- the event stream ---- */

struct http_stream {
	int fd;            /* the socket libcurl made, to poll */
	CURLM *multi;
	CURL *easy;
	struct buf body;
	size_t line_off;   /* body bytes already handed out as lines */
	int head_done;     /* the blank line after the headers came */
	int ended;         /* the transfer is over */
	CURLcode result;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_header(char *d, size_t size, size_t nmemb, void *arg)
{
	struct http_stream *s = arg;
	size_t n = size * nmemb;

	/* 1xx answers have their own blank line: only a final one counts. */
	if ((n == 2 && d[0] == '\r') || (n == 1 && d[0] == '\n')) {
		long status = 0;

		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200)
			s->head_done = 1;
	}
	return n;
}

/* The socket libcurl opened (and will close). */
static int note_socket(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	((struct http_stream *)arg)->fd = (int)fd;
	return CURL_SOCKOPT_OK;
}

/* Let libcurl read what is there; note the end of the transfer. */
static void stream_perform(struct http_stream *s)
{
	struct CURLMsg *m;
	int running, left;

	curl_multi_perform(s->multi, &running);
	while ((m = curl_multi_info_read(s->multi, &left)))
		if (m->msg == CURLMSG_DONE) {
			s->ended = 1;
			s->result = m->data.result;
		}
}

/* Wait (up to ms) for the socket, then read. */
static void stream_step(struct http_stream *s, int ms)
{
	curl_multi_poll(s->multi, NULL, 0, ms, NULL);
	stream_perform(s);
}

struct http_stream *http_stream_open(const char *sock, const char *path)
{
	struct http_stream *s = calloc(1, sizeof(*s));
	time_t end = time(NULL) + HTTP_TIMEOUT_S;
	long status = 0;

	if (!s)
		return NULL;
	s->fd = -1;
	/* No limit but the longest line (http_stream_line drops what was
	 * handed out). */
	s->body.max = HTTP_MAX_LINE;
	s->multi = curl_multi_init();
	s->easy = easy_on(sock, "GET", path, &s->body, s->errbuf);
	if (!s->multi || !s->easy ||
	    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header) ||
	    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s) ||
	    curl_easy_setopt(s->easy, CURLOPT_SOCKOPTFUNCTION, note_socket) ||
	    curl_easy_setopt(s->easy, CURLOPT_SOCKOPTDATA, s) ||
	    curl_multi_add_handle(s->multi, s->easy)) {
		pr_err("cannot set up libcurl for GET %s", path);
		goto bad;
	}
	while (!s->head_done && !s->ended && time(NULL) < end)
		stream_step(s, 1000);
	if (s->ended && connect_failed(s->easy, s->result)) {
		int err = errno;

		http_stream_close(s);
		errno = err;
		return NULL;
	}
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (!s->head_done && !s->ended) {
		pr_err("the engine's answer to GET %s: no answer within %d s",
		       path, HTTP_TIMEOUT_S);
		goto bad;
	}
	if (status / 100 != 2) {
		struct http_response r = { .status = (int)status };

		/* Its error body, briefly. */
		end = time(NULL) + 2;
		while (!s->ended && status && time(NULL) < end)
			stream_step(s, 200);
		if (!status || (s->ended && s->result != CURLE_OK && !s->body.len)) {
			pr_err("the engine's answer to GET %s: %s", path,
			       curl_why(s->result, &s->body, s->errbuf));
			goto bad;
		}
		r.body = s->body.p;
		pr_err("the engine answered %ld to GET %s: %s", status, path,
		       engine_error_message(&r));
		goto bad;
	}
	return s;
bad:
	http_stream_close(s);
	errno = EPROTO;
	return NULL;
}

struct http_stream *engine_events_open(const struct engine *e, const char *path)
{
	struct http_stream *s = http_stream_open(e->sock, path);

	if (!s && errno != EPROTO)
		engine_connect_error(e, errno);
	return s;
}

int http_stream_fd(const struct http_stream *s)
{
	return s->fd;
}

int http_stream_read(struct http_stream *s)
{
	if (!s->ended)
		stream_step(s, 1000);
	if (!s->ended)
		return 1;
	if (s->result == CURLE_OK)
		return 0;
	errno = s->body.too_big ? EMSGSIZE : EPROTO;
	return -1;
}

char *http_stream_line(struct http_stream *s)
{
	struct buf *b = &s->body;
	char *start, *nl;

	if (!b->p || s->line_off >= b->len) {
		b->len = s->line_off = 0;
		return NULL;
	}
	start = b->p + s->line_off;
	nl = memchr(start, '\n', b->len - s->line_off);
	if (!nl) {
		/* Keep the partial line; drop what was handed out. */
		memmove(b->p, start, b->len - s->line_off);
		b->len -= s->line_off;
		b->p[b->len] = 0;
		s->line_off = 0;
		return NULL;
	}
	*nl = 0;
	s->line_off = (size_t)(nl - b->p) + 1;
	return start;
}

void http_stream_close(struct http_stream *s)
{
	if (!s)
		return;
	if (s->multi && s->easy)
		curl_multi_remove_handle(s->multi, s->easy);
	curl_easy_cleanup(s->easy);
	curl_multi_cleanup(s->multi);
	free(s->body.p);
	free(s);
}
