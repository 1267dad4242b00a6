/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `xdp-egress-cni --validate FILE|-`: a conflist (or one plugin config)
 * checked against this plugin's schema without touching the host; the
 * deploy test runs it on deploy/.
 */
#ifndef XE_CNI_VALIDATE_H
#define XE_CNI_VALIDATE_H

/* Prints "ok WHERE: NAME, mode MODE" per entry of ours, or a CNI error;
 * the exit status. Call with the output captured (output.h). */
int validate_file(const char *path);

#endif
