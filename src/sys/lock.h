/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one lock of a host: attach, detach, the auto-mode tuner's switches and
 * the CNI plugin's ADD/DEL/CHECK all run one at a time per pin root (they
 * share the namespace's maps, its uplink programs, its agent and every
 * attachment's record). It is an flock on the pin root folder itself
 * ($XDP_EGRESS_BPFFS, default /sys/fs/bpf/xdp-egress): the DaemonSet's
 * container mounts the host's bpffs, so the CLI and the daemon in there and
 * the host's CNI plugin meet on the same inode, and the folder is root's
 * (0700) so nobody else can open it, let alone hold it.
 */
#ifndef XE_LOCK_H
#define XE_LOCK_H

/* How long attach/detach/the tuner wait for another holder (seconds). */
#define LOCK_WAIT_S 60

/*
 * Take the lock on the pin root (pins_root(): created and bpffs-mounted as
 * needed), waiting up to wait_s seconds. Re-entrant within one process: a
 * caller that holds it (the CNI plugin across ADD) may call cmd_attach(),
 * which takes it again; every lock_take() that returned 0 needs its
 * lock_release(). Returns 0, or -1 with the reason printed; errno is
 * ETIMEDOUT when another process held it all along.
 */
int lock_take(int wait_s);
void lock_release(void);

/*
 * lock_take(), then hold off SIGINT, SIGTERM, SIGHUP and SIGQUIT until
 * lock_release_changes(): Ctrl-C or a polite kill waits until the records
 * and the system agree again (only SIGKILL cuts in, and the records say
 * what to undo). *old keeps the signal mask to restore.
 */
#include <signal.h>
int lock_take_for_changes(int wait_s, sigset_t *old);
void lock_release_changes(const sigset_t *old);

/*
 * Lock the folder path itself (what lock_take() does after pins_root()):
 * the folder is created 0700 if missing, opened without following a
 * symbolic link anywhere in the path, and refused unless root owns it and
 * neither group nor others may write it. After the flock it checks that
 * path still names the locked folder (pins_prune() removes an empty root
 * while others wait on it) and starts over if not. Returns 0 or -1
 * (printed; errno ETIMEDOUT when held by another for wait_s seconds).
 */
int lock_dir(const char *path, int wait_s);

/* Open path safely for the lock (the checks above, no flock): an fd, or -1
 * with the reason printed. */
int lock_open_dir(const char *path);

/* The environment variable that turns the lock off: a TEST HOOK. tests/e2e/
 * test_lock.sh sets it to prove that its concurrency test fails without the
 * lock; every process that honours it warns on stderr. */
#define LOCK_TEST_OFF_ENV "XDP_EGRESS_TEST_NO_LOCK"

#endif
