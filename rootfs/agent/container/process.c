/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The last steps in the child, shared by a container's init and exec'd
 * processes: stdio or a terminal, rlimits, user and groups, capabilities,
 * no_new_privs, seccomp, and execve() of process.args[0] found in the
 * process's own PATH. Runs in the child only: no logging (see rootfs.c).
 */
#include "container-internal.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>

#define STDIO_DUP_BASE 10 /* park fds above 0..2 before dup2() so they cannot collide */

int process_stdio_setup(const int stdio[3], struct error *err)
{
	_cleanup_close_ int devnull = -1;
	int tmp[3] = { -1, -1, -1 };
	int r = 0;

	for (int i = 0; i < 3; i++) {
		int src = stdio[i];

		if (src < 0) {
			if (devnull < 0) {
				devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
				if (devnull < 0) {
					r = error_set(err, -errno, "stdio: /dev/null: %m");
					goto out;
				}
			}
			src = devnull;
		}
		tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, STDIO_DUP_BASE);
		if (tmp[i] < 0) {
			r = error_set(err, -errno, "stdio: fd %d: %m", src);
			goto out;
		}
	}
	for (int i = 0; i < 3; i++)
		if (dup2(tmp[i], i) < 0) {
			r = error_set(err, -errno, "stdio: dup2: %m");
			goto out;
		}
out:
	for (int i = 0; i < 3; i++)
		if (tmp[i] >= 0)
			close(tmp[i]);
	return r;
}

/* Bind the pty over /dev/console when that is an empty regular file we made. */
static int bind_console(int slave, struct error *err)
{
	_cleanup_close_ int fd = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	char src[32], dst[32];
	struct stat sb;

	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size != 0)
		return 0;
	/* the container's /proc: without one there is no way to name the pty */
	if (access("/proc/self/fd", F_OK) < 0)
		return 0;
	if (mount(fd_path(slave, src, sizeof(src)), fd_path(fd, dst, sizeof(dst)), NULL, MS_BIND,
		  NULL) < 0)
		return error_set(err, -errno, "terminal: binding /dev/console: %m");
	return 0;
}

int process_terminal_setup(const struct oci_process *proc, int sync_fd, bool console,
			   struct error *err)
{
	_cleanup_close_ int master = -1, slave = -1;
	struct sync_msg m = { .type = SYNC_PTY };
	int unlock = 0, r;

	/* The container's own devpts (newinstance) through its /dev/ptmx. */
	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return error_set(err, -errno, "terminal: /dev/ptmx: %m");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return error_set(err, -errno, "terminal: unlock: %m");
	/* TIOCGPTPEER opens the peer without a path lookup (no races on /dev/pts). */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		char name[64];

		if (ptsname_r(master, name, sizeof(name)) != 0)
			return error_set(err, -errno, "terminal: ptsname: %m");
		slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave < 0)
			return error_set(err, -errno, "terminal: %s: %m", name);
	}
	if (proc->has_console_size) {
		struct winsize ws = {
			.ws_row = (unsigned short)MIN(proc->console_height, 65535u),
			.ws_col = (unsigned short)MIN(proc->console_width, 65535u),
		};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			return error_set(err, -errno, "terminal: size: %m");
	}
	/* The process owns its terminal (it may not be root). */
	if (fchown(slave, proc->user.uid, (gid_t)-1) < 0 && errno != EPERM && errno != EINVAL)
		return error_set(err, -errno, "terminal: chown: %m");
	if (console && (r = bind_console(slave, err)) < 0)
		return r;
	r = sync_send(sync_fd, &m, master);
	if (r < 0)
		return error_set(err, r, "terminal: sending the master: %s", strerror(-r));
	close_reset(&master);
	/* setsid() was done on entry: this becomes our controlling terminal. */
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return error_set(err, -errno, "terminal: TIOCSCTTY: %m");
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return error_set(err, -errno, "terminal: dup2: %m");
	return 0;
}

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* execvpe() with the container's PATH; the error is the most telling one. */
static int exec_search(const struct oci_process *proc, struct error *err)
{
	static char *const empty_env[] = { NULL };
	char *const *env = proc->env ? proc->env : empty_env;
	const char *file = proc->args[0], *path;
	int saved = ENOENT;
	char buf[PATH_MAX];

	if (!file || !*file)
		return error_set(err, -ENOENT, "exec: empty command");
	if (strchr(file, '/')) {
		execve(file, proc->args, env);
		return error_set(err, -errno, "exec: %s: %m", file);
	}
	path = env_get(env, "PATH");
	if (!path)
		path = CONTAINER_DEFAULT_PATH;
	for (const char *p = path;;) {
		const char *c = strchrnul(p, ':');
		size_t dl = (size_t)(c - p);

		if (dl + 1 + strlen(file) < sizeof(buf)) {
			if (dl == 0)
				snprintf(buf, sizeof(buf), "%s", file); /* "" means cwd */
			else
				snprintf(buf, sizeof(buf), "%.*s/%s", (int)dl, p, file);
			execve(buf, proc->args, env);
			/* Keep looking past missing files; remember a permission error. */
			if (errno == EACCES)
				saved = EACCES;
			else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
				return error_set(err, -errno, "exec: %s: %m", buf);
		}
		if (!*c)
			break;
		p = c + 1;
	}
	return error_set(err, -saved, "exec: %s: %s", file, strerror(saved));
}

static int set_user(const struct oci_process *proc, bool userns, struct error *err)
{
	const struct oci_user *u = &proc->user;

	if (proc->caps.present && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return error_set(err, -errno, "prctl(PR_SET_KEEPCAPS): %m");
	if (setgroups(u->n_additional_gids, u->additional_gids) < 0) {
		/* A user namespace with setgroups "deny" only allows dropping all. */
		if (!(errno == EPERM && userns && u->n_additional_gids == 0))
			return error_set(err, -errno, "setgroups: %m");
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return error_set(err, -errno, "setgid %u: %m", u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return error_set(err, -errno, "setuid %u: %m", u->uid);
	if (proc->caps.present && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return error_set(err, -errno, "prctl(PR_SET_KEEPCAPS): %m");
	return oci_caps_apply(&proc->caps, err);
}

/* Close every fd above stdio but keep. */
static void close_fds_except(int keep)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (keep > 3 && close_range(3, (unsigned int)keep - 1, 0) < 0)
		for (int fd = 3; fd < keep; fd++)
			(void)close(fd);
	if (close_range((unsigned int)keep + 1, ~0U, 0) < 0)
		for (int fd = keep + 1; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			(void)close(fd);
}

static int wait_start(int sync_fd, struct error *err)
{
	struct sync_msg m;
	int r;

	r = sync_send_type(sync_fd, SYNC_READY);
	if (r < 0)
		return error_set(err, r, "sync: %s", strerror(-r));
	/* No timeout: a created container may wait long for its start. */
	r = sync_recv(sync_fd, &m, NULL, -1);
	if (r == -EPIPE)
		_exit(127); /* the agent let go of us */
	if (r < 0)
		return error_set(err, r, "sync: %s", strerror(-r));
	if (m.type != SYNC_START)
		return error_set(err, -EPROTO, "sync: unexpected message %u", m.type);
	return 0;
}

int process_finish_and_exec(const struct process_ctx *ctx, struct error *err)
{
	const struct oci_process *proc = ctx->proc;
	bool cwd_done;
	int r;

	r = oci_rlimits_apply(proc->rlimits, proc->n_rlimits, err);
	if (r < 0)
		return r;
	/* chdir as root first (the directory may be root-only), again after setuid. */
	cwd_done = chdir(proc->cwd ? proc->cwd : "/") == 0;

	/*
	 * Without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes in
	 * before the capabilities are dropped (crun does the same); the filter
	 * must then allow the remaining setup syscalls.
	 */
	if (ctx->seccomp && !proc->no_new_privileges) {
		r = oci_seccomp_load(ctx->seccomp, err);
		if (r < 0)
			return r;
	}
	r = set_user(proc, ctx->userns, err);
	if (r < 0)
		return r;
	if (!cwd_done && chdir(proc->cwd ? proc->cwd : "/") < 0)
		return error_set(err, -errno, "chdir %s: %m", proc->cwd ? proc->cwd : "/");
	umask(proc->user.has_umask ? (mode_t)proc->user.umask : 022);
	if (proc->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_set(err, -errno, "prctl(PR_SET_NO_NEW_PRIVS): %m");
	if (ctx->defer_exec) {
		/*
		 * The wait may be long, and everything the agent had open when
		 * it forked is still open here: other processes' pipes and
		 * streams would not see EOF while we hold them (a stdin pipe
		 * never would). Keep stdio and the sync socket only.
		 */
		close_fds_except(ctx->sync_fd);
		r = wait_start(ctx->sync_fd, err);
		if (r < 0)
			return r;
	}
	/*
	 * Setup is done: from here an EOF on the sync socket means the exec
	 * happened (without this, a child killed during setup would look the
	 * same). Sent before the filter, which may not allow sendmsg().
	 */
	r = sync_send_type(ctx->sync_fd, SYNC_EXEC);
	if (r < 0)
		return error_set(err, r, "sync: %s", strerror(-r));
	if (ctx->seccomp && proc->no_new_privileges) {
		r = oci_seccomp_load(ctx->seccomp, err);
		if (r < 0)
			return r;
	}
	/* Nothing of the agent's but stdio crosses the exec; the sync socket
	 * stays open until then (and its closing tells the agent we exec'd). */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			if (fd != ctx->sync_fd)
				(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	return exec_search(proc, err);
}
