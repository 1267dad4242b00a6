// SPDX-License-Identifier: GPL-2.0
/*
 * xk-tool: the request/answer traffic of tests/kernels/core.sh, small enough
 * to copy into the test VM's initramfs (libc only; no Python there).
 *
 *   xk-tool serve NAME TCP_PORT UDP_PORT
 *       answers every line on a TCP connection, and every UDP datagram, with
 *       "NAME ADDR" (ADDR: the source address it saw). Dual-stack.
 *   xk-tool ask tcp|udp HOST PORT ROUNDS GAP_MS TIMEOUT_MS
 *       one flow (one TCP connection, or one UDP socket) of ROUNDS requests,
 *       each waiting up to TIMEOUT_MS for its answer, GAP_MS apart; prints
 *       "answered=N/ROUNDS names=NAME[,NAME] seen=ADDR[,ADDR] error=ERR"
 *       (error=none when every round was answered; timeout, or the
 *       socket's error, e.g. "Connection refused"). Exit 0 when all were.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MAX_CONNS 256

static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, len);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, len);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, len);
	}
}

static int listen_on(int type, int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, type | SOCK_NONBLOCK, 0), zero = 0, one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&a, sizeof(a)) || (type == SOCK_STREAM && listen(fd, 64))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int serve(const char *name, int tport, int uport)
{
	struct pollfd p[MAX_CONNS + 2];
	char peer[MAX_CONNS + 2][INET6_ADDRSTRLEN];
	int n = 2, i;

	p[0].fd = listen_on(SOCK_STREAM, tport);
	p[1].fd = listen_on(SOCK_DGRAM, uport);
	if (p[0].fd < 0 || p[1].fd < 0) {
		perror("xk-tool serve: bind");
		return 1;
	}
	p[0].events = p[1].events = POLLIN;
	for (;;) {
		if (poll(p, n, -1) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents & POLLIN) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			int c = accept4(p[0].fd, (void *)&ss, &sl, SOCK_NONBLOCK);

			if (c >= 0 && n < MAX_CONNS + 2) {
				p[n].fd = c;
				p[n].events = POLLIN;
				p[n].revents = 0;
				addr_str(&ss, peer[n], sizeof(peer[n]));
				n++;
			} else if (c >= 0) {
				close(c);
			}
		}
		if (p[1].revents & POLLIN) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			char buf[2048], out[128], a[INET6_ADDRSTRLEN];
			ssize_t r = recvfrom(p[1].fd, buf, sizeof(buf), 0, (void *)&ss, &sl);

			if (r >= 0) {
				addr_str(&ss, a, sizeof(a));
				r = snprintf(out, sizeof(out), "%s %s\n", name, a);
				sendto(p[1].fd, out, r, 0, (void *)&ss, sl);
			}
		}
		for (i = 2; i < n; i++) {
			char buf[4096], out[128];
			ssize_t r;
			int k, lines = 0;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(p[i].fd);
				p[i] = p[n - 1];
				memcpy(peer[i], peer[n - 1], sizeof(peer[i]));
				n--;
				i--;
				continue;
			}
			for (k = 0; k < r; k++)
				lines += buf[k] == '\n';
			r = snprintf(out, sizeof(out), "%s %s\n", name, peer[i]);
			while (lines-- > 0)
				if (write(p[i].fd, out, r) < 0)
					break;
		}
	}
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Adds word to a comma-separated list of distinct words. */
static void add_word(char *list, size_t len, const char *w)
{
	char buf[512];
	char *tok, *save;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, w))
			return;
	if (strlen(list) + strlen(w) + 2 < len) {
		if (list[0])
			strcat(list, ",");
		strcat(list, w);
	}
}

static int ask(const char *proto, const char *host, const char *port, int rounds,
	       int gap_ms, int timeout_ms)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
	int tcp = !strcmp(proto, "tcp"), fd, i, answered = 0;
	char names[256] = "", seen[256] = "", err[128] = "none", pending[4096];
	size_t plen = 0;

	hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
	if (getaddrinfo(host, port, &hints, &ai)) {
		fprintf(stderr, "xk-tool: bad address %s port %s\n", host, port);
		return 2;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, 0);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		goto out;
	}
	if (tcp) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (poll(&p, 1, timeout_ms) <= 0) {
			snprintf(err, sizeof(err), "timeout");
			goto out;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			snprintf(err, sizeof(err), "%s", strerror(soerr));
			goto out;
		}
	}
	for (i = 0; i < rounds; i++) {
		long deadline = now_ms() + timeout_ms;
		int got = 0;

		if (i && gap_ms)
			usleep(gap_ms * 1000);
		if (send(fd, "?\n", 2, 0) < 0) {
			snprintf(err, sizeof(err), "%s", strerror(errno));
			break;
		}
		while (!got) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			long left = deadline - now_ms();
			char buf[1024], *nl, nm[128], ad[INET6_ADDRSTRLEN];
			ssize_t r;

			if (left <= 0 || poll(&p, 1, left) <= 0) {
				snprintf(err, sizeof(err), "timeout");
				break;
			}
			r = recv(fd, buf, sizeof(buf) - 1, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				snprintf(err, sizeof(err), "%s",
					 r ? strerror(errno) : "connection closed");
				break;
			}
			if (plen + r >= sizeof(pending))
				plen = 0;
			memcpy(pending + plen, buf, r);
			plen += r;
			/* One answer per line (TCP may coalesce; UDP is one). */
			while (!got && (nl = memchr(pending, '\n', plen))) {
				*nl = 0;
				if (sscanf(pending, "%127s %45s", nm, ad) == 2) {
					add_word(names, sizeof(names), nm);
					add_word(seen, sizeof(seen), ad);
					got = 1;
				}
				plen -= nl + 1 - pending;
				memmove(pending, nl + 1, plen);
			}
		}
		if (!got)
			break;
		answered++;
	}
out:
	printf("answered=%d/%d names=%s seen=%s error=%s\n", answered, rounds,
	       names, seen, err);
	freeaddrinfo(ai);
	if (fd >= 0)
		close(fd);
	return answered == rounds ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "serve"))
		return serve(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 8 && !strcmp(argv[1], "ask"))
		return ask(argv[2], argv[3], argv[4], atoi(argv[5]), atoi(argv[6]),
			   atoi(argv[7]));
	fprintf(stderr, "usage: xk-tool serve NAME TCP_PORT UDP_PORT\n"
			"       xk-tool ask tcp|udp HOST PORT ROUNDS GAP_MS TIMEOUT_MS\n");
	return 2;
}
