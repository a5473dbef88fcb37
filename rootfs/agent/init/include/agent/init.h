/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PID 1 duties of nacelle-agent in the guest: the early mounts, kernel modules,
 * the clock, the console, reaping every child (the agent is the init, so
 * orphans of containers land on it) and powering off.
 *
 * Everything that would change the machine as a whole (power-off, setting the
 * clock) is refused unless the caller is PID 1, so tests and a developer
 * running the agent on a host cannot power the host off. Functions are meant
 * to be called from the agent's main thread, in this order, before any thread
 * is created:
 *
 *	agent_init_console();
 *	agent_init_mounts(&err);
 *	agent_init_modules_from_list(AGENT_INIT_MODULES_LIST, &err);
 *	fd = agent_init_reaper_fd();   (blocks SIGCHLD: threads inherit the mask)
 *	... event loop: when fd is readable, agent_init_reap(fd, cb, data) ...
 *	agent_init_poweroff("reason");
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/macros.h"

/* Modules (names, one a line, '#' comments) the agent loads at boot; written by rootfs/build-image.sh. */
#define AGENT_INIT_MODULES_LIST "/etc/nacelle-modules"
/* Where modules live: AGENT_INIT_MODULES_ROOT/$(uname -r)/ with modules.dep. */
#define AGENT_INIT_MODULES_ROOT "/lib/modules"

/*
 * Mount /proc, /sys, /dev (devtmpfs), /dev/pts, /dev/shm, /run, /tmp and the
 * cgroup2 hierarchy (nsdelegate) at /sys/fs/cgroup, then enable every
 * controller the kernel offers in the root's cgroup.subtree_control.
 * Idempotent: a target that already holds a filesystem of the right type is
 * left alone. Goes on after a failure; each failure is logged (warn) with its
 * path; returns the first one (also in *err, which may be NULL).
 */
int agent_init_mounts(struct error *err) _wur_;

/*
 * Load the kernel modules `names` (NULL-terminated; '-' and '_' are the same)
 * from /lib/modules/$(uname -r)/, each after the modules it depends on
 * according to modules.dep, each once. Modules already loaded or built in
 * count as loaded. Compressed modules (.ko.xz/.ko.zst/.ko.gz) are handed to
 * the kernel with MODULE_INIT_COMPRESSED_FILE; a kernel that cannot
 * decompress them gives -EOPNOTSUPP with a clear message. Stops at the first
 * failure.
 */
int agent_init_modules(const char *const *names, struct error *err) _wur_;
/* The same with the modules directory given (tests, other layouts). */
int agent_init_modules_at(const char *moddir, const char *const *names, struct error *err) _wur_;
/* agent_init_modules() with the names read from a list file (one a line, '#' comments). */
int agent_init_modules_from_list(const char *list_path, struct error *err) _wur_;

/*
 * Move the real-time clock forward to `unix_seconds` (from the host, at
 * start-up) if the guest's clock is earlier: a guest without an RTC starts in
 * 1970 and TLS, make and logs need a sane time. Returns 1 if the clock was
 * set, 0 if it was already at or past it, -EPERM if it would have to be set
 * but the caller is not PID 1 (never changes a host's clock), else -errno.
 */
int agent_init_clock_seed(int64_t unix_seconds) _wur_;

/*
 * Block SIGCHLD in the calling thread (call before creating threads) and
 * return a non-blocking, close-on-exec signalfd that becomes readable when a
 * child exits. When not PID 1 (tests, agent on a host), makes the process a
 * child subreaper so orphans of its children still come back to it.
 */
int agent_init_reaper_fd(void) _wur_;

typedef void (*agent_init_reap_fn)(pid_t pid, int status, void *userdata);
/*
 * Drain the signalfd `fd` (or -1 to skip that) and reap every child that has
 * exited, calling cb(pid, wait status, userdata) for each: the agent matches
 * container processes there and ignores orphans. Returns how many were reaped.
 */
int agent_init_reap(int fd, agent_init_reap_fn cb, void *userdata) _wur_;

/*
 * Power the VM off: print `reason` on /dev/console and /dev/kmsg, sync, send
 * SIGTERM to every other process, wait a moment, SIGKILL the rest, unmount
 * what can be unmounted and reboot(RB_POWER_OFF). Returns only on failure,
 * and returns -EPERM at once, doing nothing at all, when the caller is not
 * PID 1.
 */
int agent_init_poweroff(const char *reason) _wur_;

/*
 * When PID 1 and any of fds 0, 1, 2 is not open (the kernel found no
 * /dev/console in the initramfs), open /dev/console onto them. Returns 0, or
 * -errno if /dev/console cannot be opened (call it again after
 * agent_init_mounts() has mounted devtmpfs); does nothing when not PID 1.
 */
int agent_init_console(void) _wur_;
