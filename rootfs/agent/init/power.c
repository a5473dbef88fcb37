/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The duties of PID 1 that concern the whole machine: the console, the clock
 * and power-off. Each is refused unless the caller is PID 1: the agent also
 * runs in tests and on developers' hosts, where powering off or setting the
 * clock would hit the host. (PID 1 of a container's PID namespace is safe
 * too: reboot(2) there only ends the namespace.)
 */
#include "init-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

/* How long processes get after SIGTERM, then after SIGKILL, before power-off goes on. */
#define AGENT_POWEROFF_TERM_MS 2000
#define AGENT_POWEROFF_KILL_MS 1000
#define AGENT_POWEROFF_POLL_MS 10
/* Mounts unmounted at power-off, at most (a pod has a few per container). */
#define AGENT_POWEROFF_MAX_MOUNTS 4096

static bool is_pid1(void)
{
	return getpid() == 1;
}

int agent_init_clock_seed(int64_t unix_seconds)
{
	struct timespec now, ts = { 0 };

	if (unix_seconds < 0)
		return -EINVAL;
	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		return -errno;
	if ((int64_t)now.tv_sec >= unix_seconds)
		return 0;
	if (!is_pid1())
		return -EPERM;
	ts.tv_sec = (time_t)unix_seconds;
	if (clock_settime(CLOCK_REALTIME, &ts) < 0)
		return -errno;
	log_debug("clock set forward from %lld to %lld", (long long)now.tv_sec,
		  (long long)unix_seconds);
	return 1;
}

int agent_init_console(void)
{
	bool missing[3] = { false };
	bool any = false;
	int fd, i;

	if (!is_pid1())
		return 0;
	for (i = 0; i < 3; i++) {
		missing[i] = fcntl(i, F_GETFD) < 0 && errno == EBADF;
		any |= missing[i];
	}
	if (!any)
		return 0;
	fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* open() took the lowest free fd, possibly one of 0-2: keep that one, inheritable. */
	for (i = 0; i < 3; i++) {
		if (!missing[i])
			continue;
		if (i == fd ? fcntl(fd, F_SETFD, 0) < 0 : dup2(fd, i) < 0) {
			int r = -errno;

			if (fd > 2)
				close(fd);
			return r;
		}
	}
	if (fd > 2)
		close(fd);
	return 0;
}

static void write_to(const char *path, const char *prefix, const char *msg)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	char line[512];
	int n;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%snacelle-agent: powering off: %s\n", prefix, msg);
	if (n > 0)
		(void)!write(fd, line, MIN((size_t)n, sizeof(line) - 1));
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Reap until no child is left or `ms` have passed. As PID 1 every process
 * descends from us, so "no child left" means no process is left.
 */
static bool wait_all_gone(long ms)
{
	long waited = 0;

	for (;;) {
		pid_t pid;

		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			;
		if (pid < 0 && errno == ECHILD)
			return true;
		if (waited >= ms)
			return false;
		sleep_ms(AGENT_POWEROFF_POLL_MS);
		waited += AGENT_POWEROFF_POLL_MS;
	}
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Unmount everything but /, newest first (children before parents). */
static void unmount_all(void)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char **points = NULL;
	char *line, *save = NULL;
	size_t n = 0;

	if (agent_init_read_file("/proc/self/mountinfo", AGENT_INIT_FILE_MAX, &text, NULL) < 0)
		return;
	points = calloc(AGENT_POWEROFF_MAX_MOUNTS, sizeof(*points));
	if (!points)
		return;
	for (line = strtok_r(text, "\n", &save); line && n < AGENT_POWEROFF_MAX_MOUNTS;
	     line = strtok_r(NULL, "\n", &save)) {
		/* "36 35 98:0 /root /mnt opts ..." : the fifth field is the mount point */
		char *f = line, *end;
		int i;

		for (i = 0; i < 4 && f; i++) {
			f = strchr(f, ' ');
			if (f)
				f++;
		}
		if (!f)
			continue;
		end = strchr(f, ' ');
		if (end)
			*end = '\0';
		unescape_octal(f);
		if (strcmp(f, "/") != 0)
			points[n++] = f;
	}
	while (n-- > 0) {
		if (umount2(points[n], 0) < 0 && errno != EINVAL && errno != ENOENT)
			/* Busy (our own open fds, /dev/console): detach; data was synced. */
			(void)umount2(points[n], MNT_DETACH);
	}
}

int agent_init_poweroff(const char *reason)
{
	/* First, before anything else: kill(-1) and reboot() as root on a host would be a disaster. */
	if (!is_pid1()) {
		log_warn("not powering off (%s): not PID 1", reason ? reason : "");
		return -EPERM;
	}
	if (!reason)
		reason = "";
	log_info("powering off: %s", reason);
	write_to("/dev/console", "", reason);
	write_to("/dev/kmsg", "<5>", reason);
	sync();

	(void)kill(-1, SIGTERM); /* from PID 1: every process but us */
	if (!wait_all_gone(AGENT_POWEROFF_TERM_MS)) {
		write_to("/dev/kmsg", "<4>", "processes left after SIGTERM, sending SIGKILL");
		(void)kill(-1, SIGKILL);
		(void)wait_all_gone(AGENT_POWEROFF_KILL_MS);
	}
	sync();
	unmount_all();
	sync();
	reboot(RB_POWER_OFF);
	return -errno;
}
