/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod: its directory, virtiofsd, nacelle-vmm and the VM, the agent
 * connection, the watch on all three, and taking it all down again.
 *
 * Boot (first create): /run/nacelle/<id>/ (0700) with shared/ made a
 * shared mount -> virtiofsd on shared/ -> nacelle-vmm --api-socket ->
 * vm.create (VmConfig) + vm.boot -> dial the agent through the hybrid vsock
 * socket until Health answers (boot_timeout_seconds) -> Version ->
 * SetupSandbox (mount the virtio-fs tag at /run/nacelle/shared, set the
 * clock and hostname) -> the monitor thread (pidfds of both helpers) and
 * the OOM thread (GetOOMEvent).
 *
 * Death: if nacelle-vmm or virtiofsd exits, or a call finds the agent
 * connection gone, the pod is dead: what is left of the VM is killed (so
 * every pending call and stdio stream ends), and every process is reported
 * exited with status 255 once. Ops then fail; remove and close still clean.
 *
 * Teardown (last remove, close, or a failed boot): agent Shutdown (the
 * guest powers off, nacelle-vmm exits), else vm.shutdown + vmm.shutdown,
 * else SIGTERM, else SIGKILL; virtiofsd exits when the VMM hangs up, else
 * is killed; everything mounted under the pod directory is unmounted and
 * the directory removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "json-util.h"
#include "mount.h"
#include "sandbox-internal.h"
#include "spec.h"
#include "util.h"
#include "vm-config.h"
#include "vmm-client.h"

static const char *const state_names[] = {
	[SANDBOX_NONE] = "none",	 [SANDBOX_BOOTING] = "booting",
	[SANDBOX_RUNNING] = "running",	 [SANDBOX_DEAD] = "dead",
	[SANDBOX_STOPPING] = "stopping",
};

const char *sandbox_state_to_string(enum sandbox_state s)
{
	return (size_t)s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

/* The one place the pod's state changes; rt->lock held. */
static void set_state(struct shim_runtime *rt, enum sandbox_state s)
{
	if (rt->state == s)
		return;
	log_debug("sandbox %s: %s -> %s", rt->sandbox_id, sandbox_state_to_string(rt->state),
		  sandbox_state_to_string(s));
	rt->state = s;
}

/* ---- threads ---- */

static void *rt_thread_main(void *arg)
{
	struct rt_thread *t = arg;
	struct shim_runtime *rt = t->rt;

	t->fn(t->arg);
	pthread_mutex_lock(&rt->lock);
	t->done = true;
	pthread_mutex_unlock(&rt->lock);
	return NULL;
}

int rt_thread_spawn(struct shim_runtime *rt, void *(*fn)(void *), void *arg)
{
	struct rt_thread *t = calloc(1, sizeof(*t)), **pp, *done = NULL;
	sigset_t all, old;
	int e;

	if (!t)
		return -ENOMEM;
	t->rt = rt;
	t->fn = fn;
	t->arg = arg;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&t->tid, NULL, rt_thread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		free(t);
		return -e;
	}
	pthread_mutex_lock(&rt->lock);
	/* Collect finished threads so that a long-lived pod with many execs
	 * does not accumulate them. */
	for (pp = &rt->threads; *pp;) {
		struct rt_thread *x = *pp;

		if (x->done) {
			*pp = x->next;
			x->next = done;
			done = x;
		} else {
			pp = &x->next;
		}
	}
	t->next = rt->threads;
	rt->threads = t;
	pthread_mutex_unlock(&rt->lock);
	while (done) {
		struct rt_thread *x = done;

		done = x->next;
		pthread_join(x->tid, NULL);
		free(x);
	}
	return 0;
}

static void rt_threads_join_all(struct shim_runtime *rt)
{
	for (;;) {
		struct rt_thread *list;

		pthread_mutex_lock(&rt->lock);
		list = rt->threads;
		rt->threads = NULL;
		pthread_mutex_unlock(&rt->lock);
		if (!list)
			return;
		while (list) {
			struct rt_thread *x = list;

			list = x->next;
			pthread_join(x->tid, NULL);
			free(x);
		}
	}
}

/* ---- open / close ---- */

int sandbox_open(const char *sandbox_id, const char *ns, const struct shim_runtime_events *ev,
		 void *task, struct shim_runtime **ret, struct error *err)
{
	struct shim_runtime *rt;
	int r;

	error_clear(err);
	if (!sandbox_id || agent_proto_check_id("sandbox id", sandbox_id, 0, err) < 0)
		return err->code ? err->code : error_set(err, -EINVAL, "no sandbox id");
	if (!ev || !ev->exited)
		return error_set(err, -EINVAL, "no exit callback");
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return error_set(err, -ENOMEM, "out of memory");
	rt->sandbox_id = strdup(sandbox_id);
	rt->ns = strdup(ns ? ns : "");
	rt->ev = *ev;
	rt->task = task;
	rt->monitor_wake = -1;
	rt->next_port = AGENT_MIN_STDIO_PORT;
	child_init(&rt->vmm, "nacelle-vmm");
	child_init(&rt->fs, "virtiofsd");
	pthread_mutex_init(&rt->lock, NULL);
	pthread_mutex_init(&rt->boot_lock, NULL);
	if (!rt->sandbox_id || !rt->ns) {
		sandbox_close(rt);
		return error_set(err, -ENOMEM, "out of memory");
	}
	r = sandbox_paths_init(sandbox_id, &rt->paths, err);
	if (r < 0) {
		sandbox_close(rt);
		return r;
	}
	log_debug("sandbox %s: opened (namespace %s, state under %s)", sandbox_id, rt->ns,
		  rt->paths.dir);
	*ret = rt;
	return 0;
}

void sandbox_close(struct shim_runtime *rt)
{
	if (!rt)
		return;
	pthread_mutex_lock(&rt->lock);
	/* From here on no callback reaches the task service, which is going
	 * away and may be waiting for us. */
	rt->closing = true;
	pthread_mutex_unlock(&rt->lock);
	pthread_mutex_lock(&rt->boot_lock);
	sandbox_teardown(rt);
	pthread_mutex_unlock(&rt->boot_lock);
	/* The VM is gone: every blocked call and stream has ended. */
	rt_threads_join_all(rt);
	containers_free_all(rt);
	if (rt->cfg_loaded)
		sandbox_config_free(&rt->cfg);
	sandbox_paths_free(&rt->paths);
	pthread_mutex_destroy(&rt->lock);
	pthread_mutex_destroy(&rt->boot_lock);
	free(rt->sandbox_id);
	free(rt->ns);
	free(rt);
}

/* ---- boot ---- */

/* The last line of a log file (for error messages), "" if none. */
static void log_last_line(const char *path, char *out, size_t size)
{
	char buf[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	ssize_t n;
	char *line;

	out[0] = '\0';
	if (end < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	n = pread(fd, buf, sizeof(buf) - 1, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	line = strrchr(buf, '\n');
	line = line ? line + 1 : buf;
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	/* Truncation is fine: a message, not data. */
	if (size > 0) {
		size_t len = MIN(strlen(line), size - 1);

		memcpy(out, line, len);
		out[len] = '\0';
	}
}

/* The helpers' last words, into the shim's log, before the directory goes.
 * One log message per line: log_write() formats into 1 KiB, so the whole
 * tail in one message lost its end, the lines that say why. */
static void log_tails(struct shim_runtime *rt)
{
	const char *files[] = { rt->paths.console_log, rt->paths.vmm_log, rt->paths.fs_log };

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char buf[SANDBOX_LOG_TAIL_BYTES + 1], *line, *next;
		int fd = open(files[i], O_RDONLY | O_CLOEXEC);
		off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
		ssize_t n = end > 0 ? pread(fd, buf, SANDBOX_LOG_TAIL_BYTES,
					    end > SANDBOX_LOG_TAIL_BYTES ? end - SANDBOX_LOG_TAIL_BYTES : 0)
				    : 0;

		if (fd >= 0)
			close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		line = buf;
		/* A window that starts mid-file starts mid-line: from the next one. */
		if (end > SANDBOX_LOG_TAIL_BYTES && (next = strchr(buf, '\n')))
			line = next + 1;
		log_warn("sandbox %s: end of %s:", rt->sandbox_id, files[i]);
		for (; *line; line = next) {
			next = strchrnul(line, '\n');
			if (*next)
				*next++ = '\0';
			log_warn("  %s", line);
		}
	}
}

/* Why a helper is not there, for messages. */
static void describe_death(struct sandbox_child *c, const char *log_path, char *out, size_t size)
{
	char how[64], last[256];

	child_describe(c, how, sizeof(how));
	log_last_line(log_path, last, sizeof(last));
	snprintf(out, size, "%s %s%s%s", c->name, how, last[0] ? ": " : "", last);
}

static int prepare_dir(struct shim_runtime *rt, struct error *err)
{
	struct sandbox_paths *p = &rt->paths;
	struct stat st;
	int r;

	r = mkdir_ok(p->base, 0711);
	if (r < 0)
		return error_set(err, r, "%s: %s", p->base, strerror(-r));
	if (lstat(p->dir, &st) == 0) {
		/* A dead shim's leftovers; or a live VM that is not ours. */
		if (pidfile_alive(p->vmm_pid) || pidfile_alive(p->fs_pid))
			return error_set(err, -EEXIST,
					 "%s: a VM for this sandbox is already running (its pid files name live processes)",
					 p->dir);
		log_warn("sandbox %s: removing the leftovers of an earlier run in %s",
			 rt->sandbox_id, p->dir);
		r = mount_unmount_all(p->dir, err);
		if (r >= 0)
			r = rm_rf(p->dir);
		if (r < 0)
			return error_set(err, r, "%s: cannot remove an earlier run's leftovers: %s",
					 p->dir, err->msg[0] ? err->msg : strerror(-r));
	}
	if (mkdir(p->dir, 0700) < 0)
		return error_set(err, -errno, "%s: %s", p->dir, strerror(errno));
	if (mkdir(p->shared, 0711) < 0)
		return error_set(err, -errno, "%s: %s", p->shared, strerror(errno));
	/* Before virtiofsd starts: container mounts made later must reach it. */
	return mount_make_shared_dir(p->shared, err);
}

static int start_virtiofsd(struct shim_runtime *rt, struct error *err)
{
	char **argv = NULL, why[512];
	int64_t deadline;
	int r;

	r = sandbox_virtiofsd_argv(&rt->cfg, &rt->paths, &argv);
	if (r < 0)
		return error_set(err, r, "out of memory");
	r = child_spawn(&rt->fs, argv, rt->paths.fs_log, rt->paths.fs_pid, err);
	strv_free(argv);
	if (r < 0)
		return r;
	/* It is ready once its socket exists (it listens, then waits for one
	 * front-end). */
	deadline = monotonic_ms() + SANDBOX_VIRTIOFSD_START_MS;
	while (access(rt->paths.fs_sock, F_OK) != 0) {
		if (child_exited(&rt->fs)) {
			describe_death(&rt->fs, rt->paths.fs_log, why, sizeof(why));
			return error_set(err, -ECHILD, "%s", why);
		}
		if (monotonic_ms() > deadline)
			return error_set(err, -ETIMEDOUT, "virtiofsd did not create %s within %d ms",
					 rt->paths.fs_sock, SANDBOX_VIRTIOFSD_START_MS);
		sleep_ms(5);
	}
	return 0;
}

static int start_vmm(struct shim_runtime *rt, struct error *err)
{
	char **argv = NULL, why[512];
	int64_t deadline;
	struct error ping = { 0 };
	int r;

	r = sandbox_vmm_argv(&rt->cfg, &rt->paths, &argv);
	if (r < 0)
		return error_set(err, r, "out of memory");
	r = child_spawn(&rt->vmm, argv, rt->paths.vmm_log, rt->paths.vmm_pid, err);
	strv_free(argv);
	if (r < 0)
		return r;
	deadline = monotonic_ms() + SANDBOX_VMM_START_MS;
	for (;;) {
		if (child_exited(&rt->vmm)) {
			describe_death(&rt->vmm, rt->paths.vmm_log, why, sizeof(why));
			return error_set(err, -ECHILD, "%s", why);
		}
		if (access(rt->paths.api_sock, F_OK) == 0 &&
		    vmm_client_call(rt->paths.api_sock, VMM_CLIENT_GET, "vmm.ping", NULL, 1000, NULL,
				    &ping) >= 0)
			return 0;
		if (monotonic_ms() > deadline)
			return error_set(err, -ETIMEDOUT, "nacelle-vmm's API did not answer within %d ms%s%s",
					 SANDBOX_VMM_START_MS, ping.msg[0] ? ": " : "", ping.msg);
		sleep_ms(5);
	}
}

static int create_vm(struct shim_runtime *rt, struct error *err)
{
	_cleanup_free_ char *json = NULL;
	int r;

	r = sandbox_vm_config_json(&rt->cfg, &rt->paths, &json, err);
	if (r < 0)
		return r;
	log_debug("sandbox %s: vm.create %s", rt->sandbox_id, json);
	r = vmm_client_call(rt->paths.api_sock, VMM_CLIENT_PUT, "vm.create", json,
			    SANDBOX_VMM_API_TIMEOUT_MS, NULL, err);
	if (r < 0)
		return r;
	return vmm_client_call(rt->paths.api_sock, VMM_CLIENT_PUT, "vm.boot", NULL,
			       (int)rt->cfg.boot_timeout_seconds * 1000, NULL, err);
}

static bool helpers_alive(void *opaque)
{
	struct shim_runtime *rt = opaque;

	return !child_exited(&rt->vmm) && !child_exited(&rt->fs);
}

static int check_version(struct agent_conn *c, struct error *err)
{
	AGENT_MSG(VersionRequest) req = NACELLE__AGENT__V1__VERSION_REQUEST__INIT;
	AGENT_MSG(VersionResponse) *resp = NULL;
	int r;

	r = agent_conn_call(c, "Version", &req.base, AGENT_DESC(version_response),
			    SANDBOX_RPC_TIMEOUT_MS, (ProtobufCMessage **)&resp, NULL, err);
	if (r < 0)
		return r;
	log_info("sandbox: agent %s (API %u), guest kernel %s", resp->agent_version,
		 resp->api_version, resp->kernel_release);
	r = resp->api_version == AGENT_API_VERSION
		    ? 0
		    : error_set(err, -EPROTO, "the agent speaks API version %u, the shim %d",
				resp->api_version, AGENT_API_VERSION);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

static int setup_guest(struct shim_runtime *rt, struct agent_conn *c, yajl_val spec,
		       struct error *err)
{
	AGENT_MSG(SetupSandboxRequest) req = NACELLE__AGENT__V1__SETUP_SANDBOX_REQUEST__INIT;
	AGENT_MSG(SharedMount) share = NACELLE__AGENT__V1__SHARED_MOUNT__INIT;
	AGENT_MSG(SharedMount) *shares[] = { &share };
	AGENT_MSG(Timestamp) now = NACELLE__AGENT__V1__TIMESTAMP__INIT;
	AGENT_MSG(SetupSandboxResponse) *resp = NULL;
	const char *hostname = sjson_get_string(spec, "hostname");
	struct timespec ts = realtime_now();
	int r;

	req.sandbox_id = rt->sandbox_id;
	/* The pod's hostname, if the sandbox's spec has a usable one. */
	req.hostname = (char *)"";
	if (hostname && strlen(hostname) <= AGENT_MAX_HOSTNAME && !strchr(hostname, '/'))
		req.hostname = (char *)hostname;
	/* The guest has no trustworthy clock of its own. */
	now.seconds = ts.tv_sec;
	now.nanos = (int32_t)ts.tv_nsec;
	req.time = &now;
	share.tag = (char *)SANDBOX_FS_TAG;
	share.mount_point = (char *)SANDBOX_GUEST_SHARED;
	req.shared_mounts = shares;
	req.n_shared_mounts = 1;
	r = agent_conn_call(c, "SetupSandbox", &req.base, AGENT_DESC(setup_sandbox_response),
			    SANDBOX_RPC_TIMEOUT_MS, (ProtobufCMessage **)&resp, NULL, err);
	if (r >= 0)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

/* ---- the watch ---- */

static void monitor_child(struct shim_runtime *rt, struct sandbox_child *c, const char *log_path)
{
	char why[512] = "";
	bool gone;

	pthread_mutex_lock(&rt->lock);
	gone = child_exited(c);
	if (gone) {
		if (c == &rt->vmm && c->code == CLD_EXITED && c->status == 0)
			snprintf(why, sizeof(why), "the guest powered off");
		else if (c == &rt->vmm && c->code == CLD_EXITED && c->status == 3)
			snprintf(why, sizeof(why),
				 "the guest rebooted (a kernel panic, or the agent, its PID 1, died)");
		else
			describe_death(c, log_path, why, sizeof(why));
	}
	pthread_mutex_unlock(&rt->lock);
	if (gone)
		sandbox_mark_dead(rt, why);
}

static void *monitor_main(void *arg)
{
	struct shim_runtime *rt = arg;
	bool vmm_watch = true, fs_watch = true;

	while (vmm_watch || fs_watch) {
		struct pollfd p[3] = {
			{ .fd = rt->monitor_wake, .events = POLLIN },
			{ .fd = vmm_watch ? rt->vmm.pidfd : -1, .events = POLLIN },
			{ .fd = fs_watch ? rt->fs.pidfd : -1, .events = POLLIN },
		};

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("sandbox %s: monitor: poll: %s", rt->sandbox_id, strerror(errno));
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents) {
			vmm_watch = false;
			monitor_child(rt, &rt->vmm, rt->paths.vmm_log);
		}
		if (p[2].revents) {
			fs_watch = false;
			monitor_child(rt, &rt->fs, rt->paths.fs_log);
		}
	}
	return NULL;
}

static int monitor_start(struct shim_runtime *rt)
{
	sigset_t all, old;
	int e;

	rt->monitor_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rt->monitor_wake < 0)
		return -errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&rt->monitor, NULL, monitor_main, rt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return -e;
	rt->monitor_started = true;
	return 0;
}

static void monitor_stop(struct shim_runtime *rt)
{
	if (rt->monitor_started) {
		uint64_t one = 1;

		(void)!write(rt->monitor_wake, &one, sizeof(one));
		pthread_join(rt->monitor, NULL);
		rt->monitor_started = false;
	}
	if (rt->monitor_wake >= 0)
		close(rt->monitor_wake);
	rt->monitor_wake = -1;
}

struct oom_watch {
	struct shim_runtime *rt;
	struct agent_conn *conn;
};

/* One GetOOMEvent always outstanding; each answer is a container's OOM. */
static void *oom_main(void *arg)
{
	struct oom_watch *w = arg;
	struct shim_runtime *rt = w->rt;

	for (;;) {
		AGENT_MSG(GetOOMEventRequest) req = NACELLE__AGENT__V1__GET_OOMEVENT_REQUEST__INIT;
		AGENT_MSG(GetOOMEventResponse) *resp = NULL;
		struct error err = { 0 };
		bool lost = false, running, closing;
		int r;

		r = agent_conn_call(w->conn, "GetOOMEvent", &req.base, AGENT_DESC(get_oomevent_response),
				    0, (ProtobufCMessage **)&resp, &lost, &err);
		pthread_mutex_lock(&rt->lock);
		running = rt->state == SANDBOX_RUNNING;
		closing = rt->closing;
		pthread_mutex_unlock(&rt->lock);
		if (r >= 0) {
			log_info("sandbox %s: container %s: out of memory", rt->sandbox_id,
				 resp->container_id);
			if (!closing && rt->ev.oom)
				rt->ev.oom(rt->task, resp->container_id);
			protobuf_c_message_free_unpacked(&resp->base, NULL);
			continue;
		}
		if (!running)
			break;
		if (lost) {
			sandbox_mark_dead(rt, err.msg);
			break;
		}
		if (r == -EOPNOTSUPP) {
			log_warn("sandbox %s: the agent has no OOM events: %s", rt->sandbox_id, err.msg);
			break;
		}
		log_warn("sandbox %s: %s; asking again", rt->sandbox_id, err.msg);
		sleep_ms(1000);
	}
	agent_conn_unref(w->conn);
	free(w);
	return NULL;
}

int sandbox_boot(struct shim_runtime *rt, yajl_val spec, const char *config_path,
		 struct error *err)
{
	struct sandbox_config cfg;
	struct agent_conn *conn = NULL;
	const char **keys = NULL, **values = NULL;
	size_t n = 0;
	int64_t deadline;
	char why[512];
	int r;

	pthread_mutex_lock(&rt->lock);
	set_state(rt, SANDBOX_BOOTING);
	rt->dead_reason[0] = '\0';
	pthread_mutex_unlock(&rt->lock);

	r = sandbox_config_load(config_path, &cfg, err);
	if (r < 0)
		goto fail;
	if (rt->cfg_loaded)
		sandbox_config_free(&rt->cfg);
	rt->cfg = cfg;
	rt->cfg_loaded = true;
	r = spec_annotations(spec, &keys, &values, &n);
	if (r >= 0)
		r = sandbox_config_apply_annotations(&rt->cfg, keys, values, n, err);
	else
		error_set(err, r, "out of memory");
	free(keys);
	free(values);
	if (r < 0)
		goto fail;
	log_info("sandbox %s: booting (%u vCPU, %u MiB, kernel %s, config %s)", rt->sandbox_id,
		 rt->cfg.vcpus, rt->cfg.memory_mib, rt->cfg.kernel,
		 rt->cfg.source ? rt->cfg.source : "built-in defaults");

	r = prepare_dir(rt, err);
	if (r < 0)
		goto fail;
	r = start_virtiofsd(rt, err);
	if (r < 0)
		goto fail;
	deadline = monotonic_ms() + (int64_t)rt->cfg.boot_timeout_seconds * 1000;
	r = start_vmm(rt, err);
	if (r < 0)
		goto fail;
	r = create_vm(rt, err);
	if (r < 0)
		goto fail;
	r = agent_conn_dial(rt->paths.vsock_sock, deadline, helpers_alive, rt, &conn, err);
	if (r < 0) {
		if (child_exited(&rt->vmm)) {
			describe_death(&rt->vmm, rt->paths.vmm_log, why, sizeof(why));
			error_wrap(err, "%s", why);
		} else if (child_exited(&rt->fs)) {
			describe_death(&rt->fs, rt->paths.fs_log, why, sizeof(why));
			error_wrap(err, "%s", why);
		}
		goto fail;
	}
	r = check_version(conn, err);
	if (r >= 0)
		r = setup_guest(rt, conn, spec, err);
	if (r < 0)
		goto fail;

	r = monitor_start(rt);
	if (r < 0) {
		error_set(err, r, "starting the monitor: %s", strerror(-r));
		goto fail;
	}
	pthread_mutex_lock(&rt->lock);
	rt->agent = conn;
	set_state(rt, SANDBOX_RUNNING);
	pthread_mutex_unlock(&rt->lock);
	conn = NULL;
	{
		struct oom_watch *w = calloc(1, sizeof(*w));

		if (w) {
			w->rt = rt;
			w->conn = agent_conn_ref(rt->agent);
			if (rt_thread_spawn(rt, oom_main, w) < 0) {
				agent_conn_unref(w->conn);
				free(w);
				w = NULL;
			}
		}
		if (!w)
			log_warn("sandbox %s: no OOM watch (out of resources)", rt->sandbox_id);
	}
	log_info("sandbox %s: VM running", rt->sandbox_id);
	return 0;

fail:
	r = err->code ? err->code : r;
	error_wrap(err, "booting the pod's VM");
	log_tails(rt);
	agent_conn_unref(conn);
	sandbox_teardown(rt);
	return r;
}

/* ---- death ---- */

void sandbox_mark_dead(struct shim_runtime *rt, const char *why)
{
	pthread_mutex_lock(&rt->lock);
	if (rt->state != SANDBOX_RUNNING) {
		pthread_mutex_unlock(&rt->lock);
		return;
	}
	set_state(rt, SANDBOX_DEAD);
	snprintf(rt->dead_reason, sizeof(rt->dead_reason), "%s", why);
	/* Whatever is left of the VM goes: every call on the agent connection
	 * and every stdio stream ends, so every waiter reports. */
	(void)!child_signal(&rt->vmm, SIGKILL);
	(void)!child_signal(&rt->fs, SIGKILL);
	pthread_mutex_unlock(&rt->lock);
	log_error("sandbox %s: the pod's VM is gone: %s; its processes are reported exited (%d)",
		  rt->sandbox_id, why, SANDBOX_DEAD_EXIT_STATUS);
	containers_sandbox_died(rt);
}

int sandbox_agent_locked(struct shim_runtime *rt, struct agent_conn **ret, struct error *err)
{
	switch (rt->state) {
	case SANDBOX_RUNNING:
		*ret = agent_conn_ref(rt->agent);
		return 0;
	case SANDBOX_DEAD:
		return error_set(err, -EIO, "the pod's VM is gone: %s", rt->dead_reason);
	case SANDBOX_NONE:
		return error_set(err, -ENOENT, "the pod has no VM");
	default:
		return error_set(err, -EBUSY, "the pod's VM is %s",
				 sandbox_state_to_string(rt->state));
	}
}

int sandbox_agent(struct shim_runtime *rt, struct agent_conn **ret, struct error *err)
{
	int r;

	pthread_mutex_lock(&rt->lock);
	r = sandbox_agent_locked(rt, ret, err);
	pthread_mutex_unlock(&rt->lock);
	return r;
}

/* ---- teardown ---- */

static void agent_shutdown(struct agent_conn *c)
{
	AGENT_MSG(ShutdownRequest) req = NACELLE__AGENT__V1__SHUTDOWN_REQUEST__INIT;
	AGENT_MSG(ShutdownResponse) *resp = NULL;
	struct error err = { 0 };

	if (agent_conn_call(c, "Shutdown", &req.base, AGENT_DESC(shutdown_response),
			    SANDBOX_SHUTDOWN_RPC_MS, (ProtobufCMessage **)&resp, NULL, &err) >= 0)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	else
		/* The answer may be lost as the guest powers off: not an error. */
		log_debug("sandbox: %s", err.msg);
}

static void stop_vmm(struct shim_runtime *rt, bool asked_agent)
{
	struct error err = { 0 };

	if (rt->vmm.pid == 0)
		return;
	if (asked_agent && child_wait(&rt->vmm, SANDBOX_POWEROFF_WAIT_MS) == 0)
		goto done;
	if (!child_exited(&rt->vmm)) {
		if (vmm_client_call(rt->paths.api_sock, VMM_CLIENT_PUT, "vm.shutdown", NULL,
				    SANDBOX_VMM_STOP_GRACE_MS, NULL, &err) < 0)
			log_debug("sandbox %s: %s", rt->sandbox_id, err.msg);
		if (vmm_client_call(rt->paths.api_sock, VMM_CLIENT_PUT, "vmm.shutdown", NULL,
				    SANDBOX_VMM_STOP_GRACE_MS, NULL, &err) < 0)
			log_debug("sandbox %s: %s", rt->sandbox_id, err.msg);
		if (child_wait(&rt->vmm, SANDBOX_VMM_STOP_GRACE_MS) < 0)
			log_warn("sandbox %s: nacelle-vmm (pid %d) did not stop when asked; killing it",
				 rt->sandbox_id, (int)rt->vmm.pid);
	}
done:
	child_stop(&rt->vmm, SANDBOX_VMM_STOP_GRACE_MS);
}

void sandbox_teardown(struct shim_runtime *rt)
{
	struct agent_conn *conn;
	struct error err = { 0 };
	enum sandbox_state was;
	bool vmm_started;
	struct stat st;
	int r;

	pthread_mutex_lock(&rt->lock);
	was = rt->state;
	set_state(rt, SANDBOX_STOPPING);
	conn = rt->agent;
	rt->agent = NULL;
	pthread_mutex_unlock(&rt->lock);
	if (was != SANDBOX_NONE)
		log_info("sandbox %s: stopping the VM", rt->sandbox_id);

	monitor_stop(rt);
	vmm_started = rt->vmm.pid != 0;
	if (conn && !child_exited(&rt->vmm))
		agent_shutdown(conn);
	stop_vmm(rt, conn != NULL);
	/* virtiofsd leaves when its front-end hangs up (if one ever came). */
	if (vmm_started && rt->fs.pid != 0 &&
	    child_wait(&rt->fs, SANDBOX_VIRTIOFSD_EXIT_WAIT_MS) < 0)
		log_debug("sandbox %s: virtiofsd still running; stopping it", rt->sandbox_id);
	child_stop(&rt->fs, 1000);
	/* The VM is gone, so is the connection: blocked calls return now and
	 * their threads drop their references. */
	agent_conn_unref(conn);

	if (lstat(rt->paths.dir, &st) == 0) {
		r = mount_unmount_all(rt->paths.dir, &err);
		if (r < 0)
			log_error("sandbox %s: %s", rt->sandbox_id, err.msg);
		r = rm_rf(rt->paths.dir);
		if (r < 0)
			log_error("sandbox %s: removing %s: %s", rt->sandbox_id, rt->paths.dir,
				  strerror(-r));
	}
	pthread_mutex_lock(&rt->lock);
	set_state(rt, SANDBOX_NONE);
	rt->sandbox_pid = 0;
	pthread_mutex_unlock(&rt->lock);
}

/* ---- the delete subcommand ---- */

/* Does shared/ hold a container other than `id`? */
static bool other_containers(const char *shared, const char *id)
{
	DIR *d = opendir(shared);
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, id) == 0)
			continue;
		found = true;
	}
	closedir(d);
	return found;
}

int sandbox_cleanup_after_crash(const char *sandbox_id, const char *id, const char *bundle,
				struct error *err)
{
	struct sandbox_paths p;
	_cleanup_free_ char *cdir = NULL;
	struct stat st;
	bool vmm_alive, others;
	int r;

	error_clear(err);
	(void)bundle;
	if (!sandbox_id || agent_proto_check_id("sandbox id", sandbox_id, 0, err) < 0 || !id ||
	    agent_proto_check_id("id", id, 0, err) < 0)
		return err->code ? err->code : error_set(err, -EINVAL, "no id");
	r = sandbox_paths_init(sandbox_id, &p, err);
	if (r < 0)
		return r;
	if (lstat(p.dir, &st) != 0) {
		sandbox_paths_free(&p);
		return 0; /* nothing left: a clean shutdown, or never booted */
	}
	cdir = strprintf("%s/%s", p.shared, id);
	if (!cdir) {
		sandbox_paths_free(&p);
		return error_set(err, -ENOMEM, "out of memory");
	}
	/* The container's own mounts (rootfs, volumes) and directory. */
	r = mount_unmount_all(cdir, err);
	if (r >= 0 && (r = rm_rf(cdir)) < 0)
		error_set(err, r, "removing %s: %s", cdir, strerror(-r));
	if (r < 0) {
		sandbox_paths_free(&p);
		return r;
	}
	vmm_alive = pidfile_alive(p.vmm_pid);
	others = other_containers(p.shared, id);
	if (!vmm_alive || !others) {
		/* Nothing to keep the pod for: its VM is gone, or serves nobody. */
		log_info("sandbox %s: cleaning up after the shim (VM %s, %s)", sandbox_id,
			 vmm_alive ? "running" : "gone",
			 others ? "other containers left" : "no container left");
		r = pidfile_kill(p.vmm_pid, SANDBOX_VMM_STOP_GRACE_MS);
		if (r < 0)
			log_warn("sandbox %s: stopping nacelle-vmm: %s", sandbox_id, strerror(-r));
		r = pidfile_kill(p.fs_pid, 1000);
		if (r < 0)
			log_warn("sandbox %s: stopping virtiofsd: %s", sandbox_id, strerror(-r));
		r = mount_unmount_all(p.dir, err);
		if (r >= 0 && (r = rm_rf(p.dir)) < 0)
			error_set(err, r, "removing %s: %s", p.dir, strerror(-r));
	}
	sandbox_paths_free(&p);
	return r < 0 ? r : 0;
}
