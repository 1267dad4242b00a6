// SPDX-License-Identifier: GPL-2.0
/*
 * udp_rr: UDP request/response over many flows.
 *
 *   udp_rr --server [--bind IP] [--port 7000]
 *   udp_rr --dst IP [--port 7000] [--flows 256] [--depth 32] [--size 64]
 *          [--warmup SEC] [--duration SEC] [--timeout-ms 200]
 *
 * Client: one UDP socket per flow, each with its own source port and
 * connect()ed to the server, all in one epoll set. Requests go out on the
 * flows in turn, at most one outstanding per flow and at most --depth in all,
 * so the rate is not bound by a single round trip. A request still
 * unanswered after --timeout-ms is lost, and its flow is free again (a reply
 * that comes later is counted as late, not as a transaction). Only requests
 * sent after the warm-up and before the end of the window count; when the
 * window ends the client waits up to --timeout-ms for the last replies.
 * Prints one JSON line:
 *   {"transactions":N,"tps":X,"lost":N,"late":N,"send_errors":N,
 *    "recv_errors":N,"p50_us":X,"p99_us":X,"flows":N,"depth":N,"window_s":X}
 *
 * Server: echoes every datagram to its sender (recvmmsg/sendmmsg). SIGTERM or
 * SIGINT stops it; it prints {"echoed":N,"send_errors":N}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FLOWS 16384
#define MAX_SIZE 1472
#define SRV_BATCH 64

struct flow {
	int fd;
	uint64_t seq;      /* sequence number of the last request sent */
	uint64_t sent_ns;  /* when it was sent */
	int busy;          /* a request is outstanding */
	int counted;       /* it was sent inside the window */
};

/* What a request carries (and the reply echoes) at its start. */
struct rr_hdr {
	uint32_t flow;
	uint32_t magic;
	uint64_t seq;
};
#define RR_MAGIC 0x78656272u /* "xebr" */

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* SIGTERM/SIGINT interrupt blocking calls (no SA_RESTART): the loops end. */
static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static int run_server(struct sockaddr_in *addr)
{
	static struct mmsghdr msgs[SRV_BATCH];
	static struct iovec iov[SRV_BATCH];
	static struct sockaddr_in peers[SRV_BATCH];
	static char bufs[SRV_BATCH][MAX_SIZE];
	uint64_t echoed = 0, send_errors = 0;
	int fd, n, i, one = 1, rcvbuf = 4 << 20;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "udp_rr server: socket: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr))) {
		fprintf(stderr, "udp_rr server: bind %s:%d: %s\n", inet_ntoa(addr->sin_addr),
			ntohs(addr->sin_port), strerror(errno));
		return 1;
	}
	catch_stop_signals();
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		for (i = 0; i < SRV_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = MAX_SIZE;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &peers[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
		}
		n = recvmmsg(fd, msgs, SRV_BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "udp_rr server: recvmmsg: %s\n", strerror(errno));
			return 1;
		}
		/* Echo each datagram as it came, to whoever sent it. */
		for (i = 0; i < n; i++)
			iov[i].iov_len = msgs[i].msg_len;
		for (i = 0; i < n;) {
			int s = sendmmsg(fd, msgs + i, n - i, 0);

			if (s <= 0) {
				if (s < 0 && errno == EINTR && !stop)
					continue;
				send_errors += n - i;
				break;
			}
			echoed += s;
			i += s;
		}
	}
	printf("{\"echoed\":%llu,\"send_errors\":%llu}\n", (unsigned long long)echoed,
	       (unsigned long long)send_errors);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0 < q <= 1) of sorted samples, in microseconds. */
static double quantile_us(const uint32_t *s, size_t n, double q)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(q * n + 0.999999);
	return s[(i ? i : 1) - 1] / 1e3;
}

struct rtts {
	uint32_t *v;
	size_t n, cap;
};

static int rtts_add(struct rtts *r, uint64_t ns)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 65536;
		uint32_t *v = realloc(r->v, cap * sizeof(*v));

		if (!v) {
			fprintf(stderr, "udp_rr: out of memory for %zu round-trip samples\n", cap);
			return -1;
		}
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	return 0;
}

static int run_client(struct sockaddr_in *dst, int nflows, int depth, int size,
		      double warmup, double duration, int timeout_ms)
{
	static struct flow flows[MAX_FLOWS];
	struct epoll_event evs[64];
	char buf[MAX_SIZE] = { 0 }, rbuf[MAX_SIZE];
	struct rr_hdr *hdr = (struct rr_hdr *)buf;
	uint64_t t0, t_win, t_end, t_drain, now, last_scan = 0, seq = 0;
	uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000ULL;
	uint64_t transactions = 0, lost = 0, late = 0, send_errors = 0, recv_errors = 0;
	struct rtts rtt = { 0 };
	int ep, i, n, next = 0, outstanding = 0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		fprintf(stderr, "udp_rr: epoll_create1: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < nflows; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		/* connect() binds each socket to its own ephemeral source port. */
		if (fd < 0 || connect(fd, (struct sockaddr *)dst, sizeof(*dst))) {
			fprintf(stderr, "udp_rr: flow %d: socket/connect to %s:%d: %s\n", i,
				inet_ntoa(dst->sin_addr), ntohs(dst->sin_port), strerror(errno));
			return 1;
		}
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			fprintf(stderr, "udp_rr: flow %d: epoll_ctl: %s\n", i, strerror(errno));
			return 1;
		}
		flows[i].fd = fd;
	}
	memset(buf + sizeof(*hdr), 0x5a, size - sizeof(*hdr));
	hdr->magic = RR_MAGIC;
	catch_stop_signals();

	t0 = now_ns();
	t_win = t0 + (uint64_t)(warmup * 1e9);
	t_end = t_win + (uint64_t)(duration * 1e9);
	t_drain = t_end + timeout_ns;
	for (;;) {
		now = now_ns();
		if (stop || now >= t_drain || (now >= t_end && !outstanding))
			break;
		/* Keep the pipeline full: the next free flows, in turn. */
		while (now < t_end && outstanding < depth) {
			struct flow *f;

			while (flows[next].busy)
				next = (next + 1) % nflows;
			f = &flows[next];
			hdr->flow = next;
			hdr->seq = ++seq;
			f->seq = seq;
			f->sent_ns = now_ns();
			f->counted = f->sent_ns >= t_win;
			next = (next + 1) % nflows;
			if (send(f->fd, buf, size, MSG_DONTWAIT) != size) {
				send_errors++;
				lost += f->counted;
				break; /* do not spin on a failing path; wait a little */
			}
			f->busy = 1;
			outstanding++;
		}
		n = epoll_wait(ep, evs, 64, 1);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "udp_rr: epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			struct flow *f = &flows[evs[i].data.u32];
			struct rr_hdr r;
			ssize_t len;

			for (;;) {
				len = recv(f->fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
				if (len < 0) {
					if (errno == EAGAIN || errno == EINTR)
						break;
					/* ECONNREFUSED: an ICMP error came back on this flow */
					recv_errors++;
					if (errno != ECONNREFUSED)
						break;
					continue;
				}
				if ((size_t)len < sizeof(r))
					continue;
				memcpy(&r, rbuf, sizeof(r));
				if (r.magic != RR_MAGIC || !f->busy || r.seq != f->seq) {
					late++; /* after its timeout, or not ours */
					continue;
				}
				f->busy = 0;
				outstanding--;
				if (f->counted) {
					transactions++;
					if (rtts_add(&rtt, now_ns() - f->sent_ns))
						return 1;
				}
			}
		}
		now = now_ns();
		if (now - last_scan >= 1000000) {
			last_scan = now;
			for (i = 0; i < nflows; i++) {
				struct flow *f = &flows[i];

				if (f->busy && now - f->sent_ns >= timeout_ns) {
					f->busy = 0;
					outstanding--;
					lost += f->counted;
				}
			}
		}
	}
	/* Whatever is still outstanding now (drain timed out, or stopped) is lost. */
	for (i = 0; i < nflows; i++)
		if (flows[i].busy && flows[i].counted)
			lost++;
	if (stop)
		fprintf(stderr, "udp_rr: stopped by a signal before the window ended\n");
	qsort(rtt.v, rtt.n, sizeof(*rtt.v), cmp_u32);
	printf("{\"transactions\":%llu,\"tps\":%.1f,\"lost\":%llu,\"late\":%llu,"
	       "\"send_errors\":%llu,\"recv_errors\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
	       "\"flows\":%d,\"depth\":%d,\"window_s\":%g}\n",
	       (unsigned long long)transactions, transactions / duration,
	       (unsigned long long)lost, (unsigned long long)late,
	       (unsigned long long)send_errors, (unsigned long long)recv_errors,
	       quantile_us(rtt.v, rtt.n, 0.50), quantile_us(rtt.v, rtt.n, 0.99),
	       nflows, depth, duration);
	free(rtt.v);
	return stop ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", no_argument, NULL, 'S' },
		{ "bind", required_argument, NULL, 'b' },
		{ "dst", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "flows", required_argument, NULL, 'f' },
		{ "depth", required_argument, NULL, 'q' },
		{ "size", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "duration", required_argument, NULL, 'D' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ 0 },
	};
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = INADDR_ANY };
	const char *bind_ip = NULL, *dst = NULL;
	int server = 0, port = 7000, nflows = 256, depth = 32, size = 64, timeout_ms = 200, c;
	double warmup = 0.3, duration = 4;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'S': server = 1; break;
		case 'b': bind_ip = optarg; break;
		case 'd': dst = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'f': nflows = atoi(optarg); break;
		case 'q': depth = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'D': duration = atof(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind != argc || port < 1 || port > 65535)
		goto usage;
	addr.sin_port = htons(port);
	if (server) {
		if (bind_ip && !inet_aton(bind_ip, &addr.sin_addr)) {
			fprintf(stderr, "udp_rr: --bind '%s' is not an IPv4 address\n", bind_ip);
			return 2;
		}
		return run_server(&addr);
	}
	if (!dst || !inet_aton(dst, &addr.sin_addr)) {
		fprintf(stderr, "udp_rr: the client needs --dst IPV4 (or --server)\n");
		goto usage;
	}
	if (nflows < 1 || nflows > MAX_FLOWS || depth < 1 || depth > nflows ||
	    size < (int)sizeof(struct rr_hdr) || size > MAX_SIZE || warmup < 0 ||
	    duration <= 0 || timeout_ms < 1) {
		fprintf(stderr, "udp_rr: want 1 <= --flows <= %d, 1 <= --depth <= flows, "
				"%zu <= --size <= %d, --warmup >= 0, --duration > 0, "
				"--timeout-ms >= 1\n", MAX_FLOWS, sizeof(struct rr_hdr), MAX_SIZE);
		return 2;
	}
	return run_client(&addr, nflows, depth, size, warmup, duration, timeout_ms);
usage:
	fprintf(stderr,
		"usage: udp_rr --server [--bind IP] [--port N]\n"
		"       udp_rr --dst IP [--port N] [--flows N] [--depth N] [--size BYTES]\n"
		"              [--warmup SEC] [--duration SEC] [--timeout-ms MS]\n");
	return 2;
}
