/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CNI plugin's output. Its stdout belongs to the CNI result: from
 * capture_output() on, everything the shared code prints (stdout and
 * stderr) goes to a memfd instead, is copied to stderr for the runtime's
 * log when released, and its error lines become the "details" of a CNI
 * error. Results and errors are printed through cJSON only.
 */
#ifndef XE_CNI_OUTPUT_H
#define XE_CNI_OUTPUT_H

#include <sys/types.h>
#include <cjson/cJSON.h>

/* From here on, whatever the shared code prints lands in the memfd. */
void capture_output(void);
/* How much was captured so far: an offset for captured_errors(). */
off_t captured_len(void);
/* The error lines ("xdp-egress: ...", no warnings) captured since offset
 * from, joined by "; ", without their prefix (caller frees). */
char *captured_errors(off_t from);
/* Give the runtime's log what the shared code said, and the fds back. */
void release_output(void);
/* The real stdout, also while capturing. */
int real_stdout_fd(void);

/* The cniVersion errors name (default 1.0.0): the config's, once known. */
void cni_set_version_out(const char *v);
/* doc on the real stdout (releasing the capture first). */
void print_json(cJSON *doc);
/* Print a spec-conformant error on stdout; returns the exit status (1). */
int cni_error(int code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
