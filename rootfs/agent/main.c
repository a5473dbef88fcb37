/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nacelle-agent: PID 1 of a pod's VM. Does the init duties (console, early
 * mounts, kernel modules, reaping), listens on vsock port 1024 for the
 * host's gRPC connections and hands each to the service (service/).
 *
 *   nacelle-agent [--debug] [--listen vsock:PORT]       in the guest, as /init
 *   nacelle-agent [--debug] --listen unix:PATH           tests on a host
 *
 * With --listen unix:PATH the agent is not PID 1: it mounts nothing, loads
 * no modules, never changes the host (hostname, clock, power) and only
 * becomes a child subreaper. TEST ONLY: its stdio "ports" are then Unix
 * sockets DIR/stdio-<port>.sock in PATH's directory (no AF_VSOCK on a host).
 *
 * As PID 1 it never exits (the kernel would panic): when it cannot go on,
 * or when the host asked for Shutdown, it powers the VM off with the reason
 * on the console. Arguments reach PID 1 from the kernel command line after
 * "--" (e.g. "console=ttyS0 -- --debug").
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent-proto/limits.h"
#include "agent/init.h"
#include "debug-console.h"
#include "agent/service.h"
#include "common/log.h"

/* Connections waiting to be accepted on the control port. */
#define AGENT_LISTEN_BACKLOG 16
/* epoll events per wake-up of the main loop. */
#define AGENT_MAIN_EVENTS 8

enum listen_kind { LISTEN_VSOCK, LISTEN_UNIX };

struct options {
	bool debug;
	enum listen_kind kind;
	unsigned int port;
	const char *path;
};

static bool pid1;

/* PID 1 only: the reason goes to the console, then the VM is off. */
_noreturn_ static void power_off(const char *reason)
{
	int r = agent_init_poweroff(reason);

	/* Power-off failed: PID 1 must still not exit. */
	log_error("power-off failed: %s; halting here", strerror(-r));
	for (;;)
		pause();
}

/* Cannot go on: as PID 1 power off with the reason, elsewhere exit. */
_noreturn_ static void fatal(const char *fmt, ...) _printf_(1, 2);
static void fatal(const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_error("%s", reason);
	if (!pid1)
		exit(EXIT_FAILURE);
	power_off(reason);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nacelle-agent [--debug] [--listen vsock:PORT | --listen unix:PATH]\n"
		"\n"
		"The nacelle guest agent (PID 1 of a pod VM); serves nacelle.agent.v1 over gRPC.\n"
		"  --listen vsock:PORT  vsock port for the host's connections (default %u)\n"
		"  --listen unix:PATH   a Unix socket instead, for tests on a host (not PID 1;\n"
		"                       stdio streams are Unix sockets DIR/stdio-<port>.sock)\n"
		"  --debug              debug logging\n",
		AGENT_VSOCK_PORT);
}

/* Returns 0, 1 for --help, or -EINVAL. As PID 1 bad arguments are only warned about. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "debug", no_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->kind = LISTEN_VSOCK;
	o->port = AGENT_VSOCK_PORT;
	while ((c = getopt_long(argc, argv, "dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->debug = true;
			break;
		case 'l':
			if (!strncmp(optarg, "unix:", 5) && optarg[5]) {
				o->kind = LISTEN_UNIX;
				o->path = optarg + 5;
			} else if (!strncmp(optarg, "vsock:", 6)) {
				char *end;
				unsigned long v = strtoul(optarg + 6, &end, 10);

				if (!optarg[6] || *end || v == 0 || v > UINT32_MAX - 1) {
					log_error("--listen %s: bad port", optarg);
					return -EINVAL;
				}
				o->kind = LISTEN_VSOCK;
				o->port = (unsigned int)v;
			} else {
				log_error("--listen %s: expected vsock:PORT or unix:PATH", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument %s", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int listen_vsock(unsigned int port)
{
	struct sockaddr_vm svm = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return log_error_errno(-errno, "vsock socket: %m");
	if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0 ||
	    listen(fd, AGENT_LISTEN_BACKLOG) < 0) {
		int r = log_error_errno(-errno, "vsock port %u: %m", port);

		close(fd);
		return r;
	}
	return fd;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return log_error_errno(-ENAMETOOLONG, "%s: path too long", path);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(-errno, "unix socket: %m");
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, AGENT_LISTEN_BACKLOG) < 0) {
		int r = log_error_errno(-errno, "%s: %m", path);

		close(fd);
		return r;
	}
	return fd;
}

/* Accept what is pending; only the host (CID 2) may talk to the agent. */
static void accept_all(int lfd, struct agent_service *svc)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("accept: %m");
			return;
		}
		if (ss.ss_family == AF_VSOCK) {
			unsigned int cid = ((struct sockaddr_vm *)&ss)->svm_cid;

			if (cid != VMADDR_CID_HOST) {
				log_warn("refused a connection from CID %u (only the host, CID %u)",
					 cid, VMADDR_CID_HOST);
				close(fd);
				continue;
			}
		}
		log_debug("connection accepted");
		if (agent_service_add_connection_take(svc, fd) < 0)
			log_warn("cannot serve a connection");
	}
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/*
 * The kernel starts PID 1 with 1024 open files; the agent holds about 7 per
 * running container (stdio streams, pipes, pidfds), so it would run out near
 * 140 containers. Raise it to the kernel's ceiling (fs.nr_open), as
 * containerd's service unit does on a host; containers whose spec sets no
 * RLIMIT_NOFILE inherit this, as they would from containerd there.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl = { .rlim_cur = 1048576, .rlim_max = 1048576 };
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	unsigned long nr;

	if (f) {
		if (fscanf(f, "%lu", &nr) == 1 && nr > 0)
			rl.rlim_cur = rl.rlim_max = nr;
		fclose(f);
	}
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn_errno(-errno, "raising the open files limit");
}

/* The early duties of PID 1: console, mounts, modules. Failures are logged
 * and survived: what is missing shows up as an error where it is needed. */
static void init_guest(void)
{
	struct error e = { 0 };

	if (agent_init_mounts(&e) < 0)
		log_warn("early mounts: %s", e.msg);
	if (agent_init_console() < 0)
		log_warn("no /dev/console");
	raise_fd_limit();
	if (access(AGENT_INIT_MODULES_LIST, F_OK) == 0) {
		error_clear(&e);
		if (agent_init_modules_from_list(AGENT_INIT_MODULES_LIST, &e) < 0)
			log_error("kernel modules: %s", e.msg);
	}
}

int main(int argc, char **argv)
{
	struct agent_service_config cfg = { 0 };
	struct agent_service *svc = NULL;
	struct options o = { 0 };
	struct error e = { 0 };
	char *dir = NULL;
	sigset_t term;
	int r, reap_fd, term_fd, lfd, epfd, dcfd = -1;

	pid1 = getpid() == 1;
	if (pid1)
		(void)!agent_init_console(); /* may fail before devtmpfs; retried below */
	log_set_ident("nacelle-agent");
	r = parse_args(argc, argv, &o);
	if (r == 1)
		return 0;
	if (r < 0 && !pid1)
		return 64;
	if (r < 0)
		log_warn("ignoring bad arguments: PID 1 goes on with the defaults it has");
	log_set_level(o.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (pid1 && o.kind == LISTEN_UNIX)
		log_warn("PID 1 listening on a Unix socket: the host cannot reach it");
	log_info("nacelle-agent %s starting%s", NACELLE_VERSION, pid1 ? " as PID 1" : "");

	/* Before any thread: every thread inherits the blocked signals. */
	signal(SIGPIPE, SIG_IGN);
	if (pid1)
		init_guest();
	reap_fd = agent_init_reaper_fd();
	if (reap_fd < 0)
		fatal("cannot watch for exited children: %s", strerror(-reap_fd));
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &term, NULL) != 0)
		fatal("cannot block SIGTERM: %m");
	term_fd = signalfd(-1, &term, SFD_NONBLOCK | SFD_CLOEXEC);
	if (term_fd < 0)
		fatal("signalfd: %m");

	if (o.kind == LISTEN_UNIX) {
		dir = strdup(o.path);
		if (!dir)
			fatal("out of memory");
		cfg.stdio_unix_dir = dirname(dir);
		lfd = listen_unix(o.path);
	} else {
		lfd = listen_vsock(o.port);
	}
	if (lfd < 0)
		fatal("cannot listen for the host: %s", strerror(-lfd));
	cfg.pid1 = pid1;
	if (agent_service_new(&cfg, &svc, &e) < 0)
		fatal("cannot start the service: %s", e.msg);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || epoll_add(epfd, lfd) < 0 || epoll_add(epfd, reap_fd) < 0 ||
	    epoll_add(epfd, term_fd) < 0 || epoll_add(epfd, agent_service_event_fd(svc)) < 0)
		fatal("epoll: %m");
	if (pid1 && o.kind == LISTEN_VSOCK && debug_console_wanted()) {
		dcfd = debug_console_listen();
		if (dcfd < 0 || epoll_add(epfd, dcfd) < 0)
			log_warn("debug console: cannot listen: %s", strerror(dcfd < 0 ? -dcfd : errno));
		else
			log_info("debug image: a shell on vsock port %u", AGENT_DEBUG_CONSOLE_PORT);
	}
	if (o.kind == LISTEN_UNIX)
		log_info("listening on %s (stdio sockets in %s)", o.path, cfg.stdio_unix_dir);
	else
		log_info("listening on vsock port %u", o.port);

	while (!agent_service_shutdown_requested(svc)) {
		struct epoll_event ev[AGENT_MAIN_EVENTS];
		int n = epoll_wait(epfd, ev, AGENT_MAIN_EVENTS, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fatal("epoll_wait: %m");
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == lfd) {
				accept_all(lfd, svc);
			} else if (fd == dcfd) {
				debug_console_accept(dcfd);
			} else if (fd == term_fd) {
				struct signalfd_siginfo si;

				while (read(term_fd, &si, sizeof(si)) == sizeof(si)) {
					if (pid1) {
						log_info("ignoring signal %u: PID 1 stops on Shutdown",
							 si.ssi_signo);
						continue;
					}
					log_info("signal %u: stopping", si.ssi_signo);
					goto stop;
				}
			} else {
				/* SIGCHLD (the reaper fd) or the service's event fd. */
				struct signalfd_siginfo si;

				while (fd == reap_fd && read(reap_fd, &si, sizeof(si)) > 0)
					;
				agent_service_reap(svc);
			}
		}
	}
stop:
	close(lfd);
	if (dcfd >= 0)
		close(dcfd);
	if (o.kind == LISTEN_UNIX)
		(void)unlink(o.path);
	/* Stops serving, kills and reaps every container process. */
	agent_service_free(svc);
	if (pid1) {
		log_info("powering off: shutdown requested by the host");
		power_off("nacelle-agent: shutdown requested by the host");
	}
	close(epfd);
	close(term_fd);
	close(reap_fd);
	free(dir);
	log_info("stopped");
	return 0;
}
