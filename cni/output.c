// SPDX-License-Identifier: GPL-2.0
/*
 * The CNI plugin's output (output.h): the capture of what the shared code
 * prints, and the result and error objects on the real stdout.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "output.h"

static int real_stdout = -1, real_stderr = -1, log_fd = -1;
static const char *cni_version_out = "1.0.0";

void capture_output(void)
{
	fflush(stdout);
	fflush(stderr);
	real_stdout = dup(STDOUT_FILENO);
	real_stderr = dup(STDERR_FILENO);
	log_fd = memfd_create("xdp-egress-cni-log", MFD_CLOEXEC);
	if (real_stdout < 0 || real_stderr < 0 || log_fd < 0)
		return;
	dup2(log_fd, STDOUT_FILENO);
	dup2(log_fd, STDERR_FILENO);
}

int real_stdout_fd(void)
{
	return real_stdout >= 0 ? real_stdout : STDOUT_FILENO;
}

/* Everything captured so far, NUL-terminated (caller frees). */
static char *captured(void)
{
	off_t len;
	char *buf;

	fflush(stdout);
	fflush(stderr);
	if (log_fd < 0)
		return strdup("");
	len = lseek(log_fd, 0, SEEK_END);
	buf = calloc(1, len + 1);
	if (buf && len > 0 && pread(log_fd, buf, len, 0) != len)
		buf[0] = 0;
	return buf;
}

char *captured_errors(off_t from)
{
	char *all = captured(), *out, *line, *save = NULL;
	size_t n = 0, cap, len;

	if (!all)
		return NULL;
	len = strlen(all);
	cap = len + 1;
	out = calloc(1, cap);
	if (!out)
		return all;
	for (line = strtok_r(all + (from < (off_t)len ? (size_t)from : len), "\n",
			     &save);
	     line; line = strtok_r(NULL, "\n", &save)) {
		const char *p = "xdp-egress: ";

		if (strncmp(line, p, strlen(p)) ||
		    !strncmp(line + strlen(p), "warning:", 8))
			continue;
		n += snprintf(out + n, cap - n, "%s%s", n ? "; " : "",
			      line + strlen(p));
	}
	free(all);
	return out;
}

off_t captured_len(void)
{
	fflush(stdout);
	fflush(stderr);
	return log_fd < 0 ? 0 : lseek(log_fd, 0, SEEK_END);
}

void release_output(void)
{
	char *all;

	if (log_fd < 0)
		return;
	all = captured();
	dup2(real_stdout, STDOUT_FILENO);
	dup2(real_stderr, STDERR_FILENO);
	if (all && *all)
		fputs(all, stderr);
	free(all);
	close(log_fd);
	log_fd = -1;
}

void cni_set_version_out(const char *v)
{
	cni_version_out = v;
}

void print_json(cJSON *doc)
{
	char *s = cJSON_Print(doc);

	release_output();
	if (s)
		printf("%s\n", s);
	fflush(stdout);
	free(s);
}

int cni_error(int code, const char *details, const char *fmt, ...)
{
	char msg[1024];
	cJSON *e = cJSON_CreateObject();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(e, "cniVersion", cni_version_out);
	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "msg", msg);
	if (details && *details)
		cJSON_AddStringToObject(e, "details", details);
	print_json(e);
	fprintf(stderr, "xdp-egress-cni: error %d: %s%s%s\n", code, msg,
		details && *details ? ": " : "", details ? details : "");
	cJSON_Delete(e);
	return 1;
}
