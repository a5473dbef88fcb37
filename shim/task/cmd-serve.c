/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serve (no action): the long-running shim of one pod. Listens on fd 3
 * (from `start`) or -socket, logs to the bundle's `log` FIFO, opens the pod
 * runtime, serves containerd.task.v2.Task until Shutdown finds no task left
 * (or SIGTERM/SIGINT), then closes the runtime, removes its socket and gives
 * queued events up to 5 s to reach containerd.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd.h"
#include "common/log.h"
#include "shim/task.h"

#define LISTEN_FD 3

/* Set while serving. Signals are caught, not blocked or ignored: a blocked
 * mask or an ignored disposition would be inherited by every process the
 * runtime spawns (the VMM, virtiofsd), caught ones are reset by exec. */
static struct ttrpc_server *volatile signal_server;
static pid_t shim_pid;

static void on_stop_signal(int sig)
{
	struct ttrpc_server *s = signal_server;

	/* A child the runtime forked keeps this handler until it execs; a
	 * signal there must not stop the shim through the shared eventfd. */
	if (s && getpid() == shim_pid)
		ttrpc_server_stop(s); /* async-signal-safe: an eventfd write */
}

static void on_sigpipe(int sig)
{
	/* Nothing: the write gets EPIPE instead of killing the shim. */
}

static void set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* The socket file behind a listening fd, to remove at exit. */
static char *listener_path(int fd)
{
	struct sockaddr_un sa = {};
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || len <= sizeof(sa_family_t) ||
	    sa.sun_path[0] == '\0')
		return NULL;
	return strndup(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
}

static void setup_logging(const struct shim_flags *f, const char *bundle)
{
	int fd = shim_open_log_fifo(bundle);

	/* containerd copies the FIFO into its own log; without it, stderr. */
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	log_set_level(f->debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
}

static void signal_ready(void)
{
	const char *v = getenv(SHIM_READY_FD_ENV);
	int fd;

	if (!v)
		return;
	fd = atoi(v);
	unsetenv(SHIM_READY_FD_ENV);
	if (fd > 2) {
		if (write(fd, "R", 1) != 1)
			log_warn_errno(-errno, "signalling readiness");
		close(fd);
	}
}

int cmd_serve(const struct shim_flags *f, const struct shim_runtime_ops *ops)
{
	struct shim_events_config ecfg = {
		.ns = f->ns,
		.ttrpc_address = getenv("TTRPC_ADDRESS"),
		.publish_binary = f->publish_binary,
		.containerd_address = f->address,
	};
	_cleanup_free_ char *bundle = NULL, *group = NULL, *sock_path = NULL;
	struct ttrpc_server_options sopts = {};
	struct shim_task_service *svc = NULL;
	struct shim_events *events = NULL;
	struct ttrpc_server *server = NULL;
	const struct ttrpc_method *methods;
	struct error err = {};
	size_t n_methods;
	bool joins;
	int r, status = 1;

	set_handler(SIGPIPE, on_sigpipe);

	r = shim_getcwd(&bundle);
	if (r < 0) {
		log_error_errno(r, "getcwd");
		return 1;
	}
	setup_logging(f, bundle);
	if (!ops) {
		log_error("this binary was built without the pod runtime (shim/sandbox)");
		return 1;
	}
	if (!f->id) {
		log_error("serve: -id is required");
		return 1;
	}
	r = shim_bundle_group(bundle, f->id, &group, &joins, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return 1;
	}

	methods = shim_task_methods(&n_methods);
	if (ecfg.ttrpc_address && !ecfg.ttrpc_address[0])
		ecfg.ttrpc_address = NULL;
	r = shim_events_new(&ecfg, &events, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	r = shim_task_service_new(ops, group, f->ns, events, &svc, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		goto out;
	}
	r = ttrpc_server_new(methods, n_methods, svc, &sopts, &server);
	if (r < 0) {
		log_error_errno(r, "creating the ttrpc server");
		goto out;
	}
	if (f->socket && f->socket[0]) {
		r = ttrpc_server_listen(server, f->socket);
		if (r < 0) {
			log_error_errno(r, "listening on %s", f->socket);
			goto out;
		}
	} else {
		struct stat st;

		if (fstat(LISTEN_FD, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			log_error("serve: no -socket and fd %d is not a socket", LISTEN_FD);
			goto out;
		}
		sock_path = listener_path(LISTEN_FD);
		r = ttrpc_server_listen_fd_take(server, LISTEN_FD);
		if (r < 0) {
			log_error_errno(r, "serving fd %d", LISTEN_FD);
			goto out;
		}
	}
	shim_pid = getpid();
	signal_server = server;
	set_handler(SIGTERM, on_stop_signal);
	set_handler(SIGINT, on_stop_signal);

	log_info("serving pod %s (namespace %s) for task %s", group, f->ns, f->id);
	signal_ready();
	r = ttrpc_server_run(server);
	if (r < 0)
		log_error_errno(r, "ttrpc server");
	else
		status = 0;
out:
	/* Teardown is not interrupted; the server is about to go. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal_server = NULL;
	if (svc)
		shim_task_service_cancel_waits(svc);
	ttrpc_server_free(server); /* waits for handlers; removes a -socket */
	shim_task_service_free(svc); /* closes the runtime */
	if (sock_path && unlink(sock_path) < 0 && errno != ENOENT)
		log_warn_errno(-errno, "removing %s", sock_path);
	shim_events_free(events, SHIM_EVENTS_DRAIN_TIMEOUT_MS);
	log_info("exiting");
	return status;
}
