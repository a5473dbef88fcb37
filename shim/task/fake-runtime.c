/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test-only pod runtime: runs each task's OCI process (config.json's
 * process.args/env/cwd) and each exec's process directly on the host, no
 * VM, no isolation. containerd's FIFOs are opened as a shim does (stdout and
 * stderr write-only, stdin read-only; containerd holds the other ends) and
 * handed to the process itself, so its output is in the FIFO before it is
 * reaped. Created processes are forked and wait on a pipe until start.
 * No terminals. cleanup_after_crash leaves a `fake-cleanup` file in the
 * bundle for the tests to see.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "common/log.h"
#include "shim/runtime.h"

#define FAKE_ARGS_MAX 256
#define FAKE_JSON_MAX (4u << 20)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct fake_proc {
	char *id;
	char *exec_id; /* NULL for init */
	pid_t pid;
	int start_fd; /* write end of the start pipe until started */
	bool started;
	bool reaped; /* by the waiter, or by remove/close */
	pthread_t waiter;
	struct fake_proc *next;
};

struct shim_runtime {
	pthread_mutex_t lock;
	const struct shim_runtime_events *ev;
	void *task;
	struct fake_proc *procs;
	size_t n_containers;
};

static bool same(const char *a, const char *b)
{
	if (!a || !a[0])
		return !b || !b[0];
	return b && strcmp(a, b) == 0;
}

static struct fake_proc *find(struct shim_runtime *rt, const char *id, const char *exec_id)
{
	for (struct fake_proc *p = rt->procs; p; p = p->next)
		if (strcmp(p->id, id) == 0 && same(p->exec_id, exec_id))
			return p;
	return NULL;
}

struct spec {
	char *argv[FAKE_ARGS_MAX + 1];
	char *envp[FAKE_ARGS_MAX + 1];
	char path[4096];
	char cwd[4096];
};

static void spec_free(struct spec *s)
{
	for (int i = 0; s->argv[i]; i++)
		free(s->argv[i]);
	for (int i = 0; s->envp[i]; i++)
		free(s->envp[i]);
}

static int strings(yajl_val arr, char **out, struct error *err)
{
	size_t n = YAJL_IS_ARRAY(arr) ? arr->u.array.len : 0;

	if (n > FAKE_ARGS_MAX)
		return error_set(err, -E2BIG, "fake runtime: too many strings");
	for (size_t i = 0; i < n; i++) {
		const char *s = YAJL_GET_STRING(arr->u.array.values[i]);

		if (!s)
			return error_set(err, -EINVAL, "fake runtime: not a string");
		out[i] = strdup(s);
		if (!out[i])
			return error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* process: the OCI Process object. Resolves argv[0] on PATH before the fork. */
static int spec_from_process(yajl_val process, struct spec *s, struct error *err)
{
	static const char *args_p[] = { "args", NULL }, *env_p[] = { "env", NULL },
			  *cwd_p[] = { "cwd", NULL }, *term_p[] = { "terminal", NULL };
	const char *path_env = DEFAULT_PATH, *cwd;
	yajl_val v;
	int r;

	memset(s, 0, sizeof(*s));
	if (!YAJL_IS_OBJECT(process))
		return error_set(err, -EINVAL, "fake runtime: no process");
	v = yajl_tree_get(process, term_p, yajl_t_true);
	if (v)
		return error_set(err, -EOPNOTSUPP, "fake runtime: no terminals");
	r = strings(yajl_tree_get(process, args_p, yajl_t_array), s->argv, err);
	if (r < 0)
		return r;
	r = strings(yajl_tree_get(process, env_p, yajl_t_array), s->envp, err);
	if (r < 0)
		return r;
	if (!s->argv[0])
		return error_set(err, -EINVAL, "fake runtime: process.args is empty");
	cwd = YAJL_GET_STRING(yajl_tree_get(process, cwd_p, yajl_t_string));
	snprintf(s->cwd, sizeof(s->cwd), "%s", cwd && cwd[0] ? cwd : "/");
	for (int i = 0; s->envp[i]; i++)
		if (strncmp(s->envp[i], "PATH=", 5) == 0)
			path_env = s->envp[i] + 5;
	if (strchr(s->argv[0], '/')) {
		snprintf(s->path, sizeof(s->path), "%s", s->argv[0]);
		return 0;
	}
	for (const char *d = path_env; *d;) {
		size_t n = strcspn(d, ":");

		snprintf(s->path, sizeof(s->path), "%.*s/%s", (int)n, d, s->argv[0]);
		if (access(s->path, X_OK) == 0)
			return 0;
		d += n;
		if (*d == ':')
			d++;
	}
	return error_set(err, -ENOENT, "fake runtime: %s: not found", s->argv[0]);
}

static int open_fifo(const char *path, int flags, struct error *err)
{
	int fd;

	if (!path || !path[0])
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	/* Non-blocking open: ENXIO rather than hanging if containerd is not
	 * holding the other end. */
	fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "fake runtime: opening %s: %m", path);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static int spawn(struct shim_runtime *rt, const char *id, const char *exec_id,
		 struct spec *s, const struct shim_stdio *stdio, struct error *err)
{
	int fds[3] = { -1, -1, -1 }, start[2] = { -1, -1 }, r = 0;
	sigset_t all, saved;
	struct fake_proc *p;
	pid_t pid;

	if (stdio->terminal)
		return error_set(err, -EOPNOTSUPP, "fake runtime: no terminals");
	fds[0] = open_fifo(stdio->stdin_path, O_RDONLY, err);
	fds[1] = fds[0] < 0 ? -1 : open_fifo(stdio->stdout_path, O_WRONLY, err);
	fds[2] = fds[1] < 0 ? -1 : open_fifo(stdio->stderr_path, O_WRONLY, err);
	if (fds[2] < 0) {
		r = err->code ? err->code : -EIO;
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p || pipe2(start, O_CLOEXEC) < 0) {
		free(p);
		r = error_set(err, -errno ? -errno : -ENOMEM, "fake runtime: %m");
		goto out;
	}
	/* Signals stay blocked across the fork until the child has dropped
	 * the shim's handlers. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	pid = fork();
	if (pid < 0) {
		r = error_set(err, -errno, "fake runtime: fork: %m");
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
		free(p);
		goto out;
	}
	if (pid == 0) {
		sigset_t none;
		char c;

		/* Only async-signal-safe calls from here on. */
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[2], 2) < 0)
			_exit(127);
		setpgid(0, 0);
		close(start[1]);
		if (read(start[0], &c, 1) != 1)
			_exit(128 + SIGKILL); /* removed before start */
		if (chdir(s->cwd) < 0)
			_exit(126);
		execve(s->path, s->argv, s->envp);
		_exit(127);
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	p->id = strdup(id);
	p->exec_id = exec_id && exec_id[0] ? strdup(exec_id) : NULL;
	p->pid = pid;
	p->start_fd = start[1];
	start[1] = -1;
	pthread_mutex_lock(&rt->lock);
	p->next = rt->procs;
	rt->procs = p;
	if (!p->exec_id)
		rt->n_containers++;
	pthread_mutex_unlock(&rt->lock);
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (start[0] >= 0)
		close(start[0]);
	if (start[1] >= 0)
		close(start[1]);
	return r;
}

static int fake_open(const char *sandbox_id, const char *ns, const struct shim_runtime_events *ev,
		     void *task, struct shim_runtime **ret, struct error *err)
{
	struct shim_runtime *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return error_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&rt->lock, NULL);
	rt->ev = ev;
	rt->task = task;
	log_info("fake runtime for pod %s (namespace %s)", sandbox_id, ns);
	*ret = rt;
	return 0;
}

static int read_file(const char *path, char **ret)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return -errno;
	buf = malloc(FAKE_JSON_MAX + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, FAKE_JSON_MAX, f);
	fclose(f);
	buf[n] = '\0';
	*ret = buf;
	return 0;
}

static int fake_create(struct shim_runtime *rt, const struct shim_create_request *req,
		       uint32_t *ret_pid, struct error *err)
{
	static const char *process_p[] = { "process", NULL };
	char path[4096], errbuf[256], *json = NULL;
	struct spec s;
	yajl_val tree;
	int r;

	snprintf(path, sizeof(path), "%s/config.json", req->bundle);
	r = read_file(path, &json);
	if (r < 0)
		return error_set(err, r, "fake runtime: reading %s: %s", path, strerror(-r));
	tree = yajl_tree_parse(json, errbuf, sizeof(errbuf));
	free(json);
	if (!tree)
		return error_set(err, -EINVAL, "fake runtime: %s: %s", path, errbuf);
	r = spec_from_process(yajl_tree_get(tree, process_p, yajl_t_object), &s, err);
	yajl_tree_free(tree);
	if (r >= 0)
		r = spawn(rt, req->id, NULL, &s, &req->stdio, err);
	spec_free(&s);
	if (r < 0)
		return r;
	pthread_mutex_lock(&rt->lock);
	*ret_pid = find(rt, req->id, NULL)->pid;
	pthread_mutex_unlock(&rt->lock);
	return 0;
}

static int fake_exec(struct shim_runtime *rt, const struct shim_exec_request *req,
		     struct error *err)
{
	char errbuf[256], *json;
	struct spec s;
	yajl_val tree;
	int r;

	json = strndup(req->process_json, req->process_json_len);
	if (!json)
		return error_set(err, -ENOMEM, "out of memory");
	tree = yajl_tree_parse(json, errbuf, sizeof(errbuf));
	free(json);
	if (!tree)
		return error_set(err, -EINVAL, "fake runtime: exec spec: %s", errbuf);
	r = spec_from_process(tree, &s, err);
	yajl_tree_free(tree);
	if (r >= 0)
		r = spawn(rt, req->id, req->exec_id, &s, &req->stdio, err);
	spec_free(&s);
	return r;
}

struct waiter_arg {
	struct shim_runtime *rt;
	struct fake_proc *p;
};

static void *waiter_main(void *arg)
{
	struct shim_runtime *rt = ((struct waiter_arg *)arg)->rt;
	struct fake_proc *p = ((struct waiter_arg *)arg)->p;
	struct timespec now;
	uint32_t code;
	int status;

	free(arg);
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	clock_gettime(CLOCK_REALTIME, &now);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	pthread_mutex_lock(&rt->lock);
	p->reaped = true;
	pthread_mutex_unlock(&rt->lock);
	/* p stays allocated until remove/close joins this thread. */
	rt->ev->exited(rt->task, p->id, p->exec_id, (uint32_t)p->pid, code, &now);
	return NULL;
}

static int fake_start(struct shim_runtime *rt, const char *id, const char *exec_id,
		      uint32_t *ret_pid, struct error *err)
{
	struct waiter_arg *wa;
	struct fake_proc *p;
	int r = 0;

	pthread_mutex_lock(&rt->lock);
	p = find(rt, id, exec_id);
	if (!p || p->started) {
		r = error_set(err, p ? -EBUSY : -ENOENT, "fake runtime: cannot start %s", id);
		goto out;
	}
	wa = malloc(sizeof(*wa));
	if (!wa) {
		r = error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	*wa = (struct waiter_arg){ rt, p };
	if (write(p->start_fd, "S", 1) != 1) {
		free(wa);
		r = error_set(err, -EIO, "fake runtime: %s died before start", id);
		goto out;
	}
	close(p->start_fd);
	p->start_fd = -1;
	p->started = true;
	if (pthread_create(&p->waiter, NULL, waiter_main, wa) != 0) {
		free(wa);
		r = error_set(err, -EAGAIN, "fake runtime: no waiter thread");
		goto out;
	}
	*ret_pid = p->pid;
out:
	pthread_mutex_unlock(&rt->lock);
	return r;
}

static int signal_proc(struct shim_runtime *rt, const char *id, const char *exec_id, int sig,
		       bool group, struct error *err)
{
	struct fake_proc *p;
	int r = 0;

	pthread_mutex_lock(&rt->lock);
	p = find(rt, id, exec_id);
	if (!p || p->reaped)
		r = error_set(err, -ESRCH, "fake runtime: %s: no such process", id);
	else if (kill(group ? -p->pid : p->pid, sig) < 0)
		r = error_set(err, -errno, "fake runtime: kill %d: %m", p->pid);
	pthread_mutex_unlock(&rt->lock);
	return r;
}

static int fake_kill(struct shim_runtime *rt, const char *id, const char *exec_id,
		     uint32_t signal, bool all, struct error *err)
{
	return signal_proc(rt, id, exec_id, (int)signal, all, err);
}

static int fake_pause(struct shim_runtime *rt, const char *id, struct error *err)
{
	return signal_proc(rt, id, NULL, SIGSTOP, true, err);
}

static int fake_resume(struct shim_runtime *rt, const char *id, struct error *err)
{
	return signal_proc(rt, id, NULL, SIGCONT, true, err);
}

static int fake_resize_pty(struct shim_runtime *rt, const char *id, const char *exec_id,
			   uint32_t width, uint32_t height, struct error *err)
{
	return 0;
}

static int fake_close_stdin(struct shim_runtime *rt, const char *id, const char *exec_id,
			    struct error *err)
{
	return 0;
}

static int fake_update(struct shim_runtime *rt, const char *id, const char *resources_json,
		       size_t len, struct error *err)
{
	return 0;
}

static int fake_pids(struct shim_runtime *rt, const char *id, uint32_t **ret_pids,
		     size_t *ret_n, struct error *err)
{
	uint32_t *pids = NULL;
	size_t n = 0;

	pthread_mutex_lock(&rt->lock);
	for (struct fake_proc *p = rt->procs; p; p = p->next) {
		uint32_t *np;

		if (strcmp(p->id, id) != 0 || p->reaped)
			continue;
		np = realloc(pids, (n + 1) * sizeof(*pids));
		if (!np) {
			pthread_mutex_unlock(&rt->lock);
			free(pids);
			return error_set(err, -ENOMEM, "out of memory");
		}
		pids = np;
		pids[n++] = (uint32_t)p->pid;
	}
	pthread_mutex_unlock(&rt->lock);
	*ret_pids = pids;
	*ret_n = n;
	return 0;
}

static int fake_stats(struct shim_runtime *rt, const char *id, struct shim_stats *ret,
		      struct error *err)
{
	uint32_t *pids = NULL;
	size_t n = 0;
	int r = fake_pids(rt, id, &pids, &n, err);

	if (r < 0)
		return r;
	free(pids);
	memset(ret, 0, sizeof(*ret));
	ret->pids_current = n;
	ret->cpu_usage_usec = 1000;
	ret->memory_usage = 1 << 20;
	ret->io_rbytes = 4096;
	return 0;
}

/* Called without rt->lock: may join the waiter (which takes it). */
static void proc_destroy(struct fake_proc *p)
{
	if (p->started) {
		pthread_join(p->waiter, NULL);
	} else {
		close(p->start_fd); /* the child exits with 137 */
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(p->id);
	free(p->exec_id);
	free(p);
}

static int fake_remove(struct shim_runtime *rt, const char *id, const char *exec_id,
		       struct error *err)
{
	struct fake_proc *gone = NULL, **pp;

	pthread_mutex_lock(&rt->lock);
	for (pp = &rt->procs; *pp;) {
		struct fake_proc *p = *pp;

		if (strcmp(p->id, id) == 0 && (!exec_id || same(p->exec_id, exec_id))) {
			*pp = p->next;
			p->next = gone;
			gone = p;
			if (!p->exec_id)
				rt->n_containers--;
		} else {
			pp = &p->next;
		}
	}
	pthread_mutex_unlock(&rt->lock);
	while (gone) {
		struct fake_proc *p = gone;

		gone = p->next;
		if (p->started && !p->reaped)
			kill(-p->pid, SIGKILL);
		proc_destroy(p);
	}
	return 0;
}

static size_t fake_containers(struct shim_runtime *rt)
{
	size_t n;

	pthread_mutex_lock(&rt->lock);
	n = rt->n_containers;
	pthread_mutex_unlock(&rt->lock);
	return n;
}

static void fake_close(struct shim_runtime *rt)
{
	struct fake_proc *p;

	if (!rt)
		return;
	pthread_mutex_lock(&rt->lock);
	for (p = rt->procs; p; p = p->next)
		if (p->started && !p->reaped)
			kill(-p->pid, SIGKILL);
	p = rt->procs;
	rt->procs = NULL;
	pthread_mutex_unlock(&rt->lock);
	while (p) {
		struct fake_proc *next = p->next;

		proc_destroy(p);
		p = next;
	}
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

static int fake_cleanup_after_crash(const char *sandbox_id, const char *id, const char *bundle,
				    struct error *err)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/fake-cleanup", bundle);
	f = fopen(path, "we");
	if (!f)
		return error_set(err, -errno, "fake runtime: %s: %m", path);
	fprintf(f, "%s %s\n", sandbox_id, id);
	fclose(f);
	return 0;
}

const struct shim_runtime_ops shim_fake_runtime_ops = {
	.open = fake_open,
	.create = fake_create,
	.start = fake_start,
	.exec = fake_exec,
	.kill = fake_kill,
	.resize_pty = fake_resize_pty,
	.close_stdin = fake_close_stdin,
	.pause = fake_pause,
	.resume = fake_resume,
	.update = fake_update,
	.stats = fake_stats,
	.pids = fake_pids,
	.remove = fake_remove,
	.containers = fake_containers,
	.close = fake_close,
	.cleanup_after_crash = fake_cleanup_after_crash,
};
