// SPDX-License-Identifier: GPL-2.0
/*
 * The exporter's HTTP server (exporter.h): GET /metrics answers with
 * metrics_write() (metrics.c). HTTP is libmicrohttpd's: it polls every
 * connection from one thread, each with a timeout and a memory cap, so a
 * client that never finishes its request or sends a huge header holds one
 * slot until its timeout and delays no scrape.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "exporter.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "signals.h"

/* Per connection: a request must be complete within this many seconds. */
#define EXPORTER_TIMEOUT_S 5
#define EXPORTER_MAX_CONNECTIONS 32
/* Request line and headers beyond this get 431 (libmicrohttpd). */
#define EXPORTER_MEMORY_LIMIT (16 * 1024)

struct exporter {
	struct MHD_Daemon *mhd;
	const char *run_dirs[3];
	char run_dir[PATH_MAX];
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     const char *type, char *body, size_t len,
			     int must_free)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

#define TEXT_PLAIN "text/plain; charset=utf-8"

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static char not_found[] = "404 not found: metrics are at /metrics\n";
	static char not_allowed[] = "405 method not allowed: use GET /metrics\n";
	static char failed[] = "500 cannot read the pins of this namespace "
			       "(see the exporter's log)\n";
	struct exporter *e = cls;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	/* Answered at the first call, before any body: a body is never read. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT_PLAIN,
			     not_allowed, sizeof(not_allowed) - 1, 0);
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, TEXT_PLAIN, not_found,
			     sizeof(not_found) - 1, 0);
	f = open_memstream(&body, &len);
	if (!f || metrics_write(f, e->run_dirs)) {
		if (f)
			fclose(f);
		free(body);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, TEXT_PLAIN,
			     failed, sizeof(failed) - 1, 0);
	}
	fclose(f);
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		     body, len, 1);
}

/* ADDR:PORT into a bound, listening socket; -1 with the error printed. */
static int listen_on(const char *who, const char *opt, const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					      AI_PASSIVE };
	char host[INET6_ADDRSTRLEN + 2] = "";
	const char *colon = strrchr(spec, ':'), *h = spec;
	struct addrinfo *ai = NULL;
	size_t hlen;
	char *end;
	long port;
	int fd = -1, one = 1, rc;

	if (colon) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
	}
	if (!colon || errno || *end || end == colon + 1 || port < 1 || port > 65535)
		goto bad;
	hlen = (size_t)(colon - spec);
	if (hlen && spec[0] == '[') {
		if (spec[hlen - 1] != ']')
			goto bad;
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	rc = getaddrinfo(hlen ? host : NULL, colon + 1, &hints, &ai);
	if (rc) {
		pr_err("%s: %s '%s': '%s' is not an IP address (%s); give "
		       "ADDR:PORT, e.g. 127.0.0.1:%d or [::1]:%d", who, opt, spec, host,
		       gai_strerror(rc), EXPORTER_DEFAULT_PORT, EXPORTER_DEFAULT_PORT);
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		pr_err("%s: cannot listen on %s: %s; choose another address or "
		       "port", who, spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
bad:
	pr_err("%s: %s '%s' is not ADDR:PORT; give e.g. 127.0.0.1:%d, "
	       "[::1]:%d or :%d (every address)", who, opt, spec,
	       EXPORTER_DEFAULT_PORT, EXPORTER_DEFAULT_PORT, EXPORTER_DEFAULT_PORT);
	return -1;
}

struct exporter *exporter_start(const char *who, const char *opt,
				const char *listen, const char *run_dir)
{
	struct exporter *e = calloc(1, sizeof(*e));
	int fd;

	if (!e)
		return NULL;
	if (run_dir) {
		snprintf(e->run_dir, sizeof(e->run_dir), "%s", run_dir);
		e->run_dirs[0] = e->run_dir;
	} else {
		e->run_dirs[0] = DAEMON_RUN_DIR "/docker";
		e->run_dirs[1] = DAEMON_RUN_DIR "/podman";
	}
	fd = listen_on(who, opt, listen);
	if (fd < 0) {
		free(e);
		return NULL;
	}
	e->mhd = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | (log_verbose ? MHD_USE_ERROR_LOG : 0),
		0, NULL, NULL, on_request, e,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)EXPORTER_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)EXPORTER_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)EXPORTER_MEMORY_LIMIT,
		MHD_OPTION_END);
	if (!e->mhd) {
		pr_err("%s: cannot start the HTTP server on %s (libmicrohttpd "
		       "refused; run with --verbose)", who, listen);
		close(fd);
		free(e);
		return NULL;
	}
	pr_info("%s: serving Prometheus metrics on http://%s/metrics", who, listen);
	return e;
}

void exporter_stop(struct exporter *e)
{
	if (!e)
		return;
	/* Closes the listening socket too (libmicrohttpd owns it). */
	MHD_stop_daemon(e->mhd);
	free(e);
}

int cmd_exporter(const char *listen, const char *run_dir)
{
	struct exporter *e;
	sigset_t mask;
	int sig;

	if (!listen) {
		pr_err("exporter: give --listen ADDR:PORT, e.g. --listen "
		       "127.0.0.1:%d", EXPORTER_DEFAULT_PORT);
		return 2;
	}
	/* Blocked before the server's thread starts, so that it inherits the
	 * mask and the signals reach sigwait() here. */
	signals_block_stop(&mask);
	e = exporter_start("exporter", "--listen", listen, run_dir);
	if (!e)
		return 1;
	sigwait(&mask, &sig);
	pr_info("exporter: got %s; stopping", strsignal(sig));
	exporter_stop(e);
	return 0;
}
