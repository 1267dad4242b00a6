/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the libFuzzer harnesses. A harness touches no network,
 * no interface and no pin: it hands the product's parsers bytes in memory,
 * in a memfd (a path under /proc/self/fd) or through a unix socket of its own.
 */
#ifndef XE_FUZZ_H
#define XE_FUZZ_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The input as a NUL-terminated string (the parsers take C strings, as
 * the product reads them: a fread or a map value, then a NUL). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

/* A file at *path holding exactly data (one memfd, reused). */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("xe-fuzz", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	return path;
}

/* What the product prints (help, status lines) goes nowhere; libFuzzer
 * reports on stderr, which the runs mute with -close_fd_mask. */
static inline void fuzz_quiet_stdout(void)
{
	int fd = open("/dev/null", O_WRONLY);

	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
		abort();
	close(fd);
}

#endif
