/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Creating a container's init process and exec'ing processes into a running
 * container (see agent/container.h for the process tree).
 */
#include "container-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#include "common/log.h"

#define NS_JOIN_MAX OCI_NS__COUNT

/* What the intermediate and the child need; filled by the caller before fork(). */
struct spawn_plan {
	bool is_exec;
	/* init */
	const struct oci_spec *spec;
	const char *rootfs;
	/* both */
	const struct oci_process *proc;
	const struct container_spawn_opts *opts;
	scmp_filter_ctx seccomp;
	uint64_t clone_flags; /* CLONE_NEW* to create */
	bool userns;	      /* the child runs in a new or joined user namespace */
	bool new_userns;
	bool new_cgroupns;
	/* namespaces to join, user namespace first */
	int join_fd[NS_JOIN_MAX];
	int join_type[NS_JOIN_MAX]; /* CLONE_NEW* */
	size_t n_join;
	/* exec with a pidfd: setns(pidfd, flags) joins them all at once */
	int target_pidfd;
	int target_flags;
	int cgroup_fd; /* the cgroup directory, or -1 */
	/*
	 * The cgroup namespace is entered by the child itself, once it is in its
	 * cgroup: a new one (unshare) is then rooted there, and moving a process
	 * that already is in a foreign cgroup namespace is refused by the kernel.
	 */
	int cgroupns_fd; /* join this one, or -1 */
	int sync_child;
	int sync_parent;
};

static void plan_init(struct spawn_plan *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < NS_JOIN_MAX; i++)
		p->join_fd[i] = -1;
	p->target_pidfd = -1;
	p->cgroup_fd = -1;
	p->cgroupns_fd = -1;
	p->sync_child = -1;
	p->sync_parent = -1;
}

static void plan_release(struct spawn_plan *p)
{
	for (size_t i = 0; i < p->n_join; i++)
		close_reset(&p->join_fd[i]);
	close_reset(&p->target_pidfd);
	close_reset(&p->cgroup_fd);
	close_reset(&p->cgroupns_fd);
	close_reset(&p->sync_child);
	close_reset(&p->sync_parent);
	if (p->seccomp)
		seccomp_release(p->seccomp);
	p->seccomp = NULL;
}

void container_proc_init(struct container_proc *p)
{
	p->pid = 0;
	p->pidfd = -1;
	p->pty_master = -1;
	p->sync_fd = -1;
}

void container_proc_release(struct container_proc *p)
{
	if (!p)
		return;
	close_reset(&p->pidfd);
	close_reset(&p->pty_master);
	close_reset(&p->sync_fd);
}

int container_pty_resize(int fd, unsigned int width, unsigned int height)
{
	struct winsize ws = {
		.ws_row = (unsigned short)MIN(height, 65535u),
		.ws_col = (unsigned short)MIN(width, 65535u),
	};

	if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
		return -errno;
	return 0;
}

/* ---- the child ---- */

/* The agent may block or ignore signals; a container starts clean. */
static void reset_signals(void)
{
	sigset_t all;
	struct sigaction sa = { .sa_handler = SIG_DFL };

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static int wait_go(int sock, struct error *err)
{
	struct sync_msg m;
	int r = sync_recv(sock, &m, NULL, CONTAINER_SYNC_TIMEOUT_MS);

	if (r == -EPIPE)
		_exit(127); /* the caller gave up on us */
	if (r < 0)
		return error_set(err, r, "sync: waiting for the agent: %s", strerror(-r));
	if (m.type != SYNC_GO)
		return error_set(err, -EPROTO, "sync: unexpected message %u", m.type);
	return 0;
}

static bool spec_has_ns(const struct oci_spec *spec, enum oci_ns_type t)
{
	for (size_t i = 0; i < spec->linux_.n_namespaces; i++)
		if (spec->linux_.namespaces[i].type == t)
			return true;
	return false;
}

_noreturn_ static void child_main(struct spawn_plan *p)
{
	const struct oci_process *proc = p->proc;
	struct error e = { 0 };
	int sock = p->sync_child;
	struct process_ctx pc = {
		.proc = proc,
		.seccomp = p->seccomp,
		.sync_fd = sock,
		.stdio = p->opts->stdio,
		.defer_exec = !p->is_exec && p->opts->defer_exec,
		.userns = p->userns,
	};

	if (wait_go(sock, &e) < 0)
		sync_fail(sock, &e);
	if (p->cgroupns_fd >= 0 && setns(p->cgroupns_fd, CLONE_NEWCGROUP) < 0) {
		error_set(&e, -errno, "setns cgroup namespace: %m");
		sync_fail(sock, &e);
	}
	if (p->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0) {
		error_set(&e, -errno, "unshare cgroup namespace: %m");
		sync_fail(sock, &e);
	}
	if (p->new_userns) {
		/* Become root of the namespace, whose ids the agent just mapped;
		 * files created from now on get mapped owners. */
		if (setresgid(0, 0, 0) < 0 && errno != EINVAL) {
			error_set(&e, -errno, "setresgid(0) in the user namespace: %m");
			sync_fail(sock, &e);
		}
		if (setresuid(0, 0, 0) < 0 && errno != EINVAL) {
			error_set(&e, -errno, "setresuid(0) in the user namespace: %m");
			sync_fail(sock, &e);
		}
	}
	/* A session of its own; a terminal becomes its controlling tty below. */
	if (setsid() < 0) {
		error_set(&e, -errno, "setsid: %m");
		sync_fail(sock, &e);
	}
	if (!proc->terminal && process_stdio_setup(p->opts->stdio, &e) < 0)
		sync_fail(sock, &e);

	if (!p->is_exec) {
		const struct oci_spec *spec = p->spec;
		struct rootfs_ctx rc = {
			.spec = spec,
			.rootfs = p->rootfs,
			.cgroup_path = p->opts->cgroup_path,
			.userns = p->userns,
			.new_cgroupns = p->new_cgroupns,
			.no_pivot = p->opts->no_pivot,
			.terminal = proc->terminal,
		};

		if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0) {
			error_set(&e, -errno, "sethostname: %m");
			sync_fail(sock, &e);
		}
		if (spec->domainname &&
		    setdomainname(spec->domainname, strlen(spec->domainname)) < 0) {
			error_set(&e, -errno, "setdomainname: %m");
			sync_fail(sock, &e);
		}
		if (rootfs_setup(&rc, &e) < 0)
			sync_fail(sock, &e);
	}
	if (proc->terminal && process_terminal_setup(proc, sock, !p->is_exec, &e) < 0)
		sync_fail(sock, &e);
	(void)!process_finish_and_exec(&pc, &e);
	sync_fail(sock, &e);
}

/*
 * clone3() the child as the caller's child (CLONE_PARENT), born in the cgroup
 * (CLONE_INTO_CGROUP, 5.7+) when there is one. Older kernels: join the
 * cgroup ourselves first, and plain clone() before clone3 (5.3).
 */
static pid_t do_clone(const struct spawn_plan *p, int *ret_pidfd, struct error *err)
{
	struct clone_args args = {
		.flags = p->clone_flags | CLONE_PARENT | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = 0, /* CLONE_PARENT: the intermediate's (SIGCHLD) is used */
	};
	bool joined = false;
	long pid;
	int r;

	*ret_pidfd = -1;
	if (p->cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)p->cgroup_fd;
	}
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid >= 0 || p->cgroup_fd < 0 || (errno != E2BIG && errno != EINVAL && errno != ENOSYS))
		goto done;
	/* No CLONE_INTO_CGROUP: move ourselves, the child inherits it. */
	r = write_file_at(p->cgroup_fd, "cgroup.procs", "0");
	if (r < 0)
		return error_set(err, r, "cgroup %s: joining: %s", p->opts->cgroup_path, strerror(-r));
	joined = true;
	args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
	args.cgroup = 0;
	pid = syscall(SYS_clone3, &args, sizeof(args));
done:
	if (pid < 0 && errno == ENOSYS) {
		if (p->cgroup_fd >= 0 && !joined) {
			r = write_file_at(p->cgroup_fd, "cgroup.procs", "0");
			if (r < 0)
				return error_set(err, r, "cgroup %s: joining: %s", p->opts->cgroup_path,
						 strerror(-r));
		}
		pid = syscall(SYS_clone, (unsigned long)(p->clone_flags | CLONE_PARENT), NULL, NULL,
			      NULL, 0);
		*ret_pidfd = -1;
	}
	if (pid < 0)
		return error_set(err, -errno, "clone: %m");
	return (pid_t)pid;
}

/*
 * The intermediate process: single-threaded, so it may setns() into
 * namespaces (mount, user) that refuse multi-threaded callers; clones the
 * child into its cgroup as the agent's child; reports the pid (and pidfd);
 * exits.
 */
_noreturn_ static void intermediate_main(struct spawn_plan *p)
{
	struct sync_msg m = { .type = SYNC_PID };
	struct error e = { 0 };
	int sock = p->sync_child, pidfd = -1, r;
	pid_t pid;

	close_reset(&p->sync_parent);
	reset_signals();
	/* setns(pidfd, flags) (5.8+) joins every namespace atomically; older
	 * kernels say EINVAL and we join one /proc/<pid>/ns file at a time. */
	if (p->target_pidfd >= 0 && p->target_flags) {
		if (setns(p->target_pidfd, p->target_flags) == 0)
			p->n_join = 0;
		else if (errno != EINVAL) {
			error_set(&e, -errno, "setns into the container: %m");
			sync_fail(sock, &e);
		}
	}
	for (size_t i = 0; i < p->n_join; i++)
		if (setns(p->join_fd[i], p->join_type[i]) < 0) {
			error_set(&e, -errno, "setns %s namespace: %m",
				  p->join_type[i] == CLONE_NEWUSER ? "user" :
				  p->join_type[i] == CLONE_NEWNS   ? "mount" :
				  p->join_type[i] == CLONE_NEWPID  ? "pid" :
				  p->join_type[i] == CLONE_NEWNET  ? "network" :
				  p->join_type[i] == CLONE_NEWIPC  ? "ipc" :
				  p->join_type[i] == CLONE_NEWUTS  ? "uts" :
				  p->join_type[i] == CLONE_NEWCGROUP ? "cgroup" : "time");
			sync_fail(sock, &e);
		}
	pid = do_clone(p, &pidfd, &e);
	if (pid < 0)
		sync_fail(sock, &e);
	if (pid == 0)
		child_main(p);
	m.pid = pid;
	r = sync_send(sock, &m, pidfd);
	_exit(r < 0 ? 1 : 0);
}

/* ---- the caller's side ---- */

static void kill_and_reap(pid_t pid, int pidfd)
{
	if (pid <= 0)
		return;
	if (pidfd >= 0)
		(void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	else
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

static int write_id_map(pid_t pid, const char *file, const struct oci_id_mapping *m, size_t n,
			struct error *err)
{
	char path[64], buf[OCI_MAX_ID_MAPPINGS * 36];
	size_t off = 0;
	_cleanup_close_ int fd = -1;
	int r;

	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + off, sizeof(buf) - off, "%u %u %u\n", m[i].container_id,
				 m[i].host_id, m[i].size);
		if (w < 0 || (size_t)w >= sizeof(buf) - off)
			return error_set(err, -E2BIG, "%s: too many mappings", file);
		off += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "%s: %m", path);
	/* The kernel wants the whole map in one write(). */
	r = (int)write(fd, buf, off);
	if (r < 0)
		return error_set(err, -errno, "%s: %m", path);
	if ((size_t)r != off)
		return error_set(err, -EIO, "%s: short write", path);
	return 0;
}

static int write_oom_score_adj(pid_t pid, int64_t v, struct error *err)
{
	char path[64], buf[32];
	_cleanup_close_ int fd = -1;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "%s: %m", path);
	r = write_all(fd, buf, strlen(buf));
	if (r < 0)
		return error_set(err, r, "oom_score_adj %lld: %s", (long long)v, strerror(-r));
	return 0;
}

/* Wait for the child to exec (EOF), report READY (deferred) or an error. */
static int wait_child(int sock, struct container_proc *proc, bool defer, struct error *err)
{
	bool execing = false;

	for (;;) {
		struct sync_msg m;
		int fd = -1;
		int r = sync_recv(sock, &m, &fd, CONTAINER_SYNC_TIMEOUT_MS);

		if (r == -EPIPE && execing)
			return 0; /* exec'd: the O_CLOEXEC socket closed */
		if (r == -EPIPE)
			return error_set(err, -ECHILD, "the container process died during its setup");
		if (r == -ETIMEDOUT)
			return error_set(err, r, "the container process did not finish its setup in %d ms",
					 CONTAINER_SYNC_TIMEOUT_MS);
		if (r < 0)
			return error_set(err, r, "sync: %s", strerror(-r));
		switch (m.type) {
		case SYNC_ERROR:
			if (fd >= 0)
				close(fd);
			return error_set(err, m.code ? m.code : -EIO, "%s", m.msg);
		case SYNC_PTY:
			if (fd < 0 || proc->pty_master >= 0) {
				if (fd >= 0)
					close(fd);
				return error_set(err, -EPROTO, "sync: bad terminal message");
			}
			proc->pty_master = fd;
			break;
		case SYNC_EXEC:
			if (fd >= 0)
				close(fd);
			execing = true;
			break;
		case SYNC_READY:
			if (fd >= 0)
				close(fd);
			if (!defer)
				return error_set(err, -EPROTO, "sync: unexpected READY");
			return 1;
		default:
			if (fd >= 0)
				close(fd);
			return error_set(err, -EPROTO, "sync: unexpected message %u", m.type);
		}
	}
}

/*
 * Fork the intermediate, get the child's pid, do the caller's part (maps,
 * oom_score_adj), release the child and wait for its exec (or READY).
 */
static int spawn_run(struct spawn_plan *p, struct container_proc *ret, struct error *err)
{
	struct container_proc proc;
	struct sync_msg m;
	int sv[2], r, status, pidfd = -1;
	pid_t mid;

	container_proc_init(&proc);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return error_set(err, -errno, "socketpair: %m");
	p->sync_parent = sv[0];
	p->sync_child = sv[1];

	mid = fork();
	if (mid < 0)
		return error_set(err, -errno, "fork: %m");
	if (mid == 0)
		intermediate_main(p);
	close_reset(&p->sync_child);

	r = sync_recv(p->sync_parent, &m, &pidfd, CONTAINER_SYNC_TIMEOUT_MS);
	while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0) {
		if (pidfd >= 0)
			close(pidfd);
		return error_set(err, r == -EPIPE ? -ECHILD : r,
				 "the intermediate process died before creating the container process");
	}
	if (m.type == SYNC_ERROR) {
		if (pidfd >= 0)
			close(pidfd);
		return error_set(err, m.code ? m.code : -EIO, "%s", m.msg);
	}
	if (m.type != SYNC_PID || m.pid <= 0) {
		if (pidfd >= 0)
			close(pidfd);
		return error_set(err, -EPROTO, "sync: expected a pid");
	}
	proc.pid = m.pid;
	proc.pidfd = pidfd >= 0 ? pidfd : pidfd_open(proc.pid, 0);

	if (p->new_userns) {
		const struct oci_linux *l = &p->spec->linux_;

		r = write_id_map(proc.pid, "uid_map", l->uid_mappings, l->n_uid_mappings, err);
		if (r < 0)
			goto fail;
		r = write_id_map(proc.pid, "gid_map", l->gid_mappings, l->n_gid_mappings, err);
		if (r < 0)
			goto fail;
	}
	/* Lowering it needs CAP_SYS_RESOURCE in the agent's namespace: done here. */
	if (p->proc->oom_score_adj != OCI_UNSET) {
		r = write_oom_score_adj(proc.pid, p->proc->oom_score_adj, err);
		if (r < 0)
			goto fail;
	}
	r = sync_send_type(p->sync_parent, SYNC_GO);
	if (r < 0) {
		r = error_set(err, r, "sync: %s", strerror(-r));
		goto fail;
	}
	r = wait_child(p->sync_parent, &proc, !p->is_exec && p->opts->defer_exec, err);
	if (r < 0)
		goto fail;
	if (r == 1)
		proc.sync_fd = TAKE_FD(p->sync_parent);
	*ret = proc;
	return 0;
fail:
	kill_and_reap(proc.pid, proc.pidfd);
	container_proc_release(&proc);
	return r;
}

int container_process_start(struct container_proc *p, struct error *err)
{
	int r;

	if (p->sync_fd < 0)
		return error_set(err, -EALREADY, "the process is not waiting to start");
	r = sync_send_type(p->sync_fd, SYNC_START);
	if (r < 0) {
		close_reset(&p->sync_fd);
		return error_set(err, r, "starting the container process: %s", strerror(-r));
	}
	r = wait_child(p->sync_fd, p, false, err);
	close_reset(&p->sync_fd);
	return r < 0 ? r : 0;
}

/* ---- init ---- */

static int open_cgroup_fd(const char *path, struct error *err)
{
	int fd;

	if (!path)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "cgroup %s: %m", path);
	return fd;
}

static int plan_namespaces(struct spawn_plan *p, const struct oci_spec *spec, struct error *err)
{
	const struct oci_linux *l = &spec->linux_;
	bool have_mnt = false;

	/* user namespace first: joining it gives the rights to join the others */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < l->n_namespaces; i++) {
			const struct oci_namespace *ns = &l->namespaces[i];
			int flag = oci_ns_type_clone_flag(ns->type);
			bool is_user = ns->type == OCI_NS_USER;

			if ((pass == 0) != is_user)
				continue;
			if (flag <= 0)
				return error_set(err, -EINVAL, "namespace type %d unknown", ns->type);
			if (ns->type == OCI_NS_MOUNT) {
				if (ns->path)
					return error_set(err, -EINVAL, "joining a mount namespace "
							 "(%s) is not supported: the rootfs needs a new one", ns->path);
				have_mnt = true;
			}
			if (is_user)
				p->userns = true;
			if (!ns->path) {
				if (ns->type == OCI_NS_CGROUP) {
					p->new_cgroupns = true; /* unshared by the child */
					continue;
				}
				p->clone_flags |= (uint64_t)flag;
				if (is_user)
					p->new_userns = true;
				continue;
			}
			if (ns->type == OCI_NS_CGROUP) {
				p->cgroupns_fd = open(ns->path, O_RDONLY | O_CLOEXEC);
				if (p->cgroupns_fd < 0)
					return error_set(err, -errno, "cgroup namespace %s: %m", ns->path);
				continue;
			}
			if (p->n_join >= NS_JOIN_MAX)
				return error_set(err, -E2BIG, "too many namespaces");
			p->join_fd[p->n_join] = open(ns->path, O_RDONLY | O_CLOEXEC);
			if (p->join_fd[p->n_join] < 0)
				return error_set(err, -errno, "%s namespace %s: %m",
						 oci_ns_type_to_string(ns->type), ns->path);
			p->join_type[p->n_join++] = flag;
		}
	}
	if (!have_mnt)
		return error_set(err, -EINVAL, "the spec needs a mount namespace");
	if (p->new_userns && (!l->n_uid_mappings || !l->n_gid_mappings))
		return error_set(err, -EINVAL, "a new user namespace needs uidMappings and gidMappings");
	if ((spec->hostname || spec->domainname) && !spec_has_ns(spec, OCI_NS_UTS))
		return error_set(err, -EINVAL, "hostname needs a UTS namespace");
	return 0;
}

static const struct container_spawn_opts default_opts = { .stdio = { -1, -1, -1 } };

int container_process_spawn(const struct oci_spec *spec, const char *rootfs,
			    const struct container_spawn_opts *opts, struct container_proc *ret,
			    struct error *err)
{
	struct spawn_plan p;
	struct stat sb;
	int r;

	plan_init(&p);
	if (!opts)
		opts = &default_opts;
	if (!spec || !spec->process || !spec->process->args || !spec->process->args[0])
		return error_set(err, -EINVAL, "the spec has no process.args");
	if (!rootfs || rootfs[0] != '/')
		return error_set(err, -EINVAL, "rootfs %s: not an absolute path", rootfs ? rootfs : "(null)");
	if (stat(rootfs, &sb) < 0)
		return error_set(err, -errno, "rootfs %s: %m", rootfs);
	if (!S_ISDIR(sb.st_mode))
		return error_set(err, -ENOTDIR, "rootfs %s: not a directory", rootfs);
	p.spec = spec;
	p.rootfs = rootfs;
	p.proc = spec->process;
	p.opts = opts;
	r = plan_namespaces(&p, spec, err);
	if (r < 0)
		goto out;
	if (spec->linux_.seccomp) {
		r = oci_seccomp_build(spec->linux_.seccomp, &p.seccomp, err);
		if (r < 0)
			goto out;
	}
	p.cgroup_fd = r = open_cgroup_fd(opts->cgroup_path, err);
	if (opts->cgroup_path && r < 0)
		goto out;
	r = spawn_run(&p, ret, err);
	if (r < 0)
		goto out;
	log_debug("container process %d created in %s", ret->pid, rootfs);
out:
	plan_release(&p);
	return r;
}

/* ---- exec ---- */

static const struct {
	const char *name;
	int flag;
} ns_files[] = {
	/* user first: see plan_namespaces() */
	{ "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC },	{ "uts", CLONE_NEWUTS },
	{ "net", CLONE_NEWNET },   { "pid", CLONE_NEWPID },	{ "cgroup", CLONE_NEWCGROUP },
	{ "time", CLONE_NEWTIME }, { "mnt", CLONE_NEWNS },
};

static bool same_ns(pid_t pid, const char *name)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
	if (stat(path, &a) < 0)
		return true; /* the kernel has no such namespace type */
	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	if (stat(path, &b) < 0)
		return true;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int container_exec_spawn(pid_t init_pid, const char *cgroup_path,
			 const struct oci_process *proc, const struct container_spawn_opts *opts,
			 struct container_proc *ret, struct error *err)
{
	struct container_spawn_opts o = opts ? *opts : default_opts;
	struct spawn_plan p;
	int flags = 0, r;

	plan_init(&p);
	opts = &o;
	if (!proc || !proc->args || !proc->args[0])
		return error_set(err, -EINVAL, "process.args is empty");
	if (init_pid <= 0)
		return error_set(err, -EINVAL, "no container process");
	o.cgroup_path = cgroup_path;
	o.defer_exec = false;
	p.is_exec = true;
	p.proc = proc;
	p.opts = &o;

	/* Pin the container's init first: the pid cannot be reused under us. */
	p.target_pidfd = pidfd_open(init_pid, 0);
	if (p.target_pidfd < 0 && errno != ENOSYS) {
		r = error_set(err, -errno, "container process %d: %m", (int)init_pid);
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ns_files); i++) {
		if (opts->ns_flags && !(opts->ns_flags & ns_files[i].flag))
			continue;
		if (same_ns(init_pid, ns_files[i].name))
			continue;
		flags |= ns_files[i].flag;
	}
	p.userns = flags & CLONE_NEWUSER;
	/* the cgroup namespace is the child's to join (see struct spawn_plan) */
	p.target_flags = p.target_pidfd >= 0 ? flags & ~CLONE_NEWCGROUP : 0;
	for (size_t i = 0; i < ARRAY_SIZE(ns_files); i++) {
		char path[64];
		int fd;

		if (!(flags & ns_files[i].flag))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)init_pid, ns_files[i].name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = error_set(err, -errno, "%s: %m", path);
			goto out;
		}
		if (ns_files[i].flag == CLONE_NEWCGROUP) {
			p.cgroupns_fd = fd;
			continue;
		}
		p.join_fd[p.n_join] = fd;
		p.join_type[p.n_join++] = ns_files[i].flag;
	}
	/* The pid could have been reused between pidfd_open and the opens above. */
	if (p.target_pidfd >= 0 && pidfd_send_signal(p.target_pidfd, 0, NULL, 0) < 0) {
		r = error_set(err, -errno, "container process %d: %m", (int)init_pid);
		goto out;
	}
	if (opts->seccomp) {
		r = oci_seccomp_build(opts->seccomp, &p.seccomp, err);
		if (r < 0)
			goto out;
	}
	p.cgroup_fd = r = open_cgroup_fd(cgroup_path, err);
	if (cgroup_path && r < 0)
		goto out;
	r = spawn_run(&p, ret, err);
	if (r < 0)
		goto out;
	log_debug("exec process %d in the container of %d", ret->pid, (int)init_pid);
out:
	plan_release(&p);
	return r;
}
