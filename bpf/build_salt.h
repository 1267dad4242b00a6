/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A build-time salt: `make XE_BUILD_SALT=N` puts one instruction loading N
 * at the start of each program, which changes the programs' bytes (hence
 * their tags) and nothing else. tests/e2e/test_upgrade.sh builds a second
 * binary with it (make next) so that `upgrade` swaps in programs that really
 * differ. Without the salt, BUILD_SALT() is empty.
 */
#ifndef XE_BUILD_SALT_H
#define XE_BUILD_SALT_H

#ifdef XE_BUILD_SALT
#define XE_SALT_STR_(x) #x
#define XE_SALT_STR(x) XE_SALT_STR_(x)
#define BUILD_SALT() asm volatile("r0 = " XE_SALT_STR(XE_BUILD_SALT) ::: "r0")
#else
#define BUILD_SALT() do { } while (0)
#endif

#endif
