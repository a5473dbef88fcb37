/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime's helper processes (nacelle-vmm, virtiofsd): started in a
 * process group of their own with stdin on /dev/null and stdout/stderr
 * appended to a log file, held by a pidfd (no pid reuse races, pollable
 * exit), stopped with SIGTERM then SIGKILL. Each writes a pid file
 * "<pid> <start time>" so that a later process (the shim's delete
 * subcommand) can find it and be sure it is still the same process.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/macros.h"

/* After SIGKILL: how long to wait for the process to go. */
#define CHILD_KILL_WAIT_MS 5000

struct sandbox_child {
	const char *name;	/* for messages: "nacelle-vmm", "virtiofsd" */
	pid_t pid;		/* 0: none started */
	int pidfd;		/* -1: none */
	bool exited;		/* seen dead (reaped, or reaped by someone else) */
	int code;		/* waitid's si_code (CLD_EXITED, CLD_KILLED...), 0 if unknown */
	int status;		/* exit status or signal */
	char *pidfile;		/* written at start, removed when stopped */
};

/* An empty child (nothing to stop). */
void child_init(struct sandbox_child *c, const char *name);
/*
 * Start argv[0] (an absolute path) with argv. Returns 0 once the program
 * was exec'd, or -errno with the reason in err (the program missing, not
 * executable...). pidfile may be NULL.
 */
int child_spawn(struct sandbox_child *c, char *const argv[], const char *log_path,
		const char *pidfile, struct error *err) _wur_;
/* Has it exited? Reaps it if so (never blocks). */
bool child_exited(struct sandbox_child *c);
/* Wait up to timeout_ms for it to exit: 0 when it has (reaped), -ETIMEDOUT. */
int child_wait(struct sandbox_child *c, int timeout_ms) _wur_;
/* Signal it through the pidfd; 0 if it is already gone. */
int child_signal(struct sandbox_child *c, int sig) _wur_;
/* SIGTERM, up to grace_ms, then SIGKILL; reaps, closes the pidfd, removes
 * the pid file. Safe on a child never started or already stopped. */
void child_stop(struct sandbox_child *c, int grace_ms);
/* "exited with status 1", "killed by SIGKILL", "running", "not started". */
const char *child_describe(const struct sandbox_child *c, char *buf, size_t size);

/* The start time (clock ticks since boot, /proc/<pid>/stat field 22). */
int proc_starttime(pid_t pid, uint64_t *ret) _wur_;
/* Write "<pid> <start time>\n" (atomically: temp file + rename). */
int pidfile_write(const char *path, pid_t pid) _wur_;
/* Read a pid file; -ENOENT if absent, -EINVAL if malformed. */
int pidfile_read(const char *path, pid_t *ret_pid, uint64_t *ret_starttime) _wur_;
/*
 * For a process we did not start (a dead shim's): if the pid file names a
 * live process with the same start time, SIGTERM it, wait up to grace_ms,
 * SIGKILL, wait until it is gone. Removes the pid file. 0 when nothing is
 * left running (also when there was nothing), -errno otherwise.
 */
int pidfile_kill(const char *path, int grace_ms) _wur_;
/* Is the process a pid file names alive (same start time)? */
bool pidfile_alive(const char *path);
