/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stdio streams of a process (agent-proto/README.md, "Stdio"): one vsock
 * connection per standard stream, or one for a terminal, which the host
 * opens after the RPC that named the ports returned.
 *
 * Each process with streams has one relay thread. It accepts the host's
 * connection on each port (only from CID 2) and copies pipe -> stream for
 * stdout and stderr, stream -> pipe for stdin, both ways between the stream
 * and the pty master for a terminal. Every fd is non-blocking; the thread
 * tries every copy that can make progress, then sleeps in poll() on exactly
 * what it waits for. Until the host connected nothing is read from a
 * process's output: it waits in the pipe (a writer blocks when the pipe is
 * full), so nothing is lost and nothing is buffered here beyond one
 * STDIO_BUF_SIZE chunk per direction.
 *
 * Exit vs. output: WaitProcess answers only once the process was reaped AND
 * its output was drained (agent_process.output_done): a read after the reap
 * found the pipe empty (everything the process wrote before exiting was in
 * the pipe when it was reaped) and all of it was handed to the stream. A pty
 * passes output through the tty layer's work queue, so for a terminal the
 * master must read EIO (every slave closed) or stay empty for
 * STDIO_PTY_DRAIN_MS after the reap. Output of processes that outlive the
 * one waited for (daemons holding the pipe) keeps flowing until EOF.
 *
 * TEST ONLY: with agent_service_config.stdio_unix_dir set (host tests, no
 * AF_VSOCK), port N is the Unix socket <dir>/stdio-<N>.sock; see
 * stdio_listen(). Nothing else differs.
 */
#include "service-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

/* One chunk in flight per direction of a stream. */
#define STDIO_BUF_SIZE (64u << 10)
/* After the reap, how long an empty pty master counts as "not drained yet". */
#define STDIO_PTY_DRAIN_MS 200
/* Pending connections per port (the host makes one). */
#define STDIO_LISTEN_BACKLOG 2
/* Chunks moved per stream before the others get their turn. */
#define STDIO_PUMP_ROUNDS 16
/* Relay thread stack. */
#define STDIO_THREAD_STACK (256u << 10)
/* Streams per process: stdin, stdout, stderr (or one terminal). */
#define STDIO_MAX_STREAMS 3
/* The tag in log lines. */
#define STDIO_TAG_MAX 160

enum stdio_kind { STDIO_KIND_STDIN, STDIO_KIND_STDOUT, STDIO_KIND_STDERR, STDIO_KIND_TERMINAL };

static const char *const stdio_kind_names[] = {
	[STDIO_KIND_STDIN] = "stdin",
	[STDIO_KIND_STDOUT] = "stdout",
	[STDIO_KIND_STDERR] = "stderr",
	[STDIO_KIND_TERMINAL] = "terminal",
};

enum stdio_state {
	STDIO_LISTENING,  /* waiting for the host's connection */
	STDIO_CONNECTED,  /* copying */
	STDIO_DISCARDING, /* no host (gone, never came, or port 0 with a pty): output dropped */
	STDIO_DONE,	  /* everything closed */
	STDIO_STATE__COUNT,
};

static const char *const stdio_state_names[STDIO_STATE__COUNT] = {
	[STDIO_LISTENING] = "listening",
	[STDIO_CONNECTED] = "connected",
	[STDIO_DISCARDING] = "discarding",
	[STDIO_DONE] = "done",
};

/* agent_stdio.flags: requests to the relay thread (then ctl_fd is written). */
#define STDIO_F_EXITED 0x1u
#define STDIO_F_CLOSE_STDIN 0x2u
#define STDIO_F_CANCEL 0x4u

struct stdio_buf {
	char *data;
	size_t len, off;
};

struct stdio_stream {
	enum stdio_kind kind;
	enum stdio_state state;
	uint32_t port;
	int listen_fd;
	char *unix_path; /* test mode: unlinked with the listener */
	int conn_fd;
	int fd; /* process side: our pipe end, or the pty master (not ours) */
	bool fd_owned;
	bool has_in, has_out;
	struct stdio_buf out, in; /* out: process -> host; in: host -> process */
	bool out_eof, in_eof, in_done;
	bool drained; /* after the reap the output was found empty */
};

struct agent_stdio {
	struct agent *agent;
	struct agent_process *proc;
	char tag[STDIO_TAG_MAX];
	struct stdio_stream st[STDIO_MAX_STREAMS];
	size_t n;
	int ctl_fd;
	atomic_uint flags;
	int64_t listen_deadline;
	int64_t exit_seen_ms; /* -1 until the relay saw STDIO_F_EXITED */
	bool output_done_sent;
};

/* ---- streams ---- */

static void stream_set_state(struct agent_stdio *s, struct stdio_stream *t, enum stdio_state to)
{
	if (t->state == to)
		return;
	log_debug("stdio %s: %s port %u: %s -> %s", s->tag, stdio_kind_names[t->kind], t->port,
		  stdio_state_names[t->state], stdio_state_names[to]);
	t->state = to;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void stream_close_listener(struct stdio_stream *t)
{
	close_fd(&t->listen_fd);
	if (t->unix_path) {
		(void)unlink(t->unix_path);
		free(t->unix_path);
		t->unix_path = NULL;
	}
}

static void stream_release(struct stdio_stream *t)
{
	stream_close_listener(t);
	close_fd(&t->conn_fd);
	if (t->fd_owned)
		close_fd(&t->fd);
	t->fd = -1;
	free(t->out.data);
	free(t->in.data);
	t->out.data = t->in.data = NULL;
}

static void stream_finish(struct agent_stdio *s, struct stdio_stream *t)
{
	stream_close_listener(t);
	close_fd(&t->conn_fd);
	if (t->fd_owned)
		close_fd(&t->fd);
	t->out.len = t->out.off = t->in.len = t->in.off = 0;
	stream_set_state(s, t, STDIO_DONE);
}

/*
 * Bind and listen on a port: AF_VSOCK (any local CID), or, TEST ONLY, the
 * Unix socket <dir>/stdio-<port>.sock. A port in use is -EEXIST.
 */
static int stdio_listen(struct agent *a, struct stdio_stream *t, struct error *err)
{
	int fd, r;

	if (a->cfg.stdio_unix_dir) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		char *path = NULL;

		if (asprintf(&path, "%s/stdio-%u.sock", a->cfg.stdio_unix_dir, t->port) < 0)
			return error_set(err, -ENOMEM, "out of memory");
		if (strlen(path) >= sizeof(sun.sun_path)) {
			free(path);
			return error_set(err, -ENAMETOOLONG, "stdio port %u: socket path too long",
					 t->port);
		}
		strcpy(sun.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			free(path);
			return error_set(err, -errno, "stdio port %u: socket: %m", t->port);
		}
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			r = errno == EADDRINUSE ? -EEXIST : -errno;
			close(fd);
			free(path);
			return error_set(err, r, "stdio port %u (%s): %s", t->port, sun.sun_path,
					 r == -EEXIST ? "in use" : strerror(-r));
		}
		t->unix_path = path;
	} else {
		struct sockaddr_vm svm = {
			.svm_family = AF_VSOCK,
			.svm_cid = VMADDR_CID_ANY,
			.svm_port = t->port,
		};

		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return error_set(err, -errno, "stdio port %u: vsock socket: %m", t->port);
		if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0) {
			r = errno == EADDRINUSE ? -EEXIST : -errno;
			close(fd);
			return error_set(err, r, "stdio port %u: %s", t->port,
					 r == -EEXIST ? "in use" : strerror(-r));
		}
	}
	if (listen(fd, STDIO_LISTEN_BACKLOG) < 0) {
		r = -errno;
		close(fd);
		stream_close_listener(t);
		return error_set(err, r, "stdio port %u: listen: %s", t->port, strerror(-r));
	}
	t->listen_fd = fd;
	return 0;
}

/* Accept the host's connection if it is there; others are turned away. */
static void stream_accept(struct agent_stdio *s, struct stdio_stream *t)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(t->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("stdio %s: %s port %u: accept: %m", s->tag,
					 stdio_kind_names[t->kind], t->port);
			return;
		}
		if (ss.ss_family == AF_VSOCK &&
		    ((struct sockaddr_vm *)&ss)->svm_cid != VMADDR_CID_HOST) {
			log_warn("stdio %s: %s port %u: refused a connection from CID %u", s->tag,
				 stdio_kind_names[t->kind], t->port,
				 ((struct sockaddr_vm *)&ss)->svm_cid);
			close(fd);
			continue;
		}
		t->conn_fd = fd;
		stream_close_listener(t);
		stream_set_state(s, t, STDIO_CONNECTED);
		return;
	}
}

/* The host never came: stdin reads EOF, output is read and dropped. */
static void stream_listen_timeout(struct agent_stdio *s, struct stdio_stream *t)
{
	log_warn("stdio %s: the host did not connect to %s port %u within %d ms", s->tag,
		 stdio_kind_names[t->kind], t->port, AGENT_STDIO_CONNECT_TIMEOUT_MS);
	stream_close_listener(t);
	if (t->kind == STDIO_KIND_STDIN)
		stream_finish(s, t);
	else
		stream_set_state(s, t, STDIO_DISCARDING);
}

/* The host closed or reset an output stream: keep draining, drop the data. */
static void stream_host_gone(struct agent_stdio *s, struct stdio_stream *t, int e)
{
	log_info("stdio %s: %s port %u: the host went away (%s); discarding output", s->tag,
		 stdio_kind_names[t->kind], t->port, strerror(e));
	close_fd(&t->conn_fd);
	t->out.len = t->out.off = 0;
	t->in.len = t->in.off = 0;
	t->in_done = true;
	stream_set_state(s, t, STDIO_DISCARDING);
}

/* No more input: the process reads EOF on a pipe; a terminal stays open. */
static void stream_in_finish(struct agent_stdio *s, struct stdio_stream *t)
{
	t->in_done = true;
	t->in.len = t->in.off = 0;
	if (t->kind == STDIO_KIND_STDIN)
		stream_finish(s, t);
}

/* process -> host */
static void pump_out(struct agent_stdio *s, struct stdio_stream *t, bool exited)
{
	for (int round = 0; round < STDIO_PUMP_ROUNDS; round++) {
		if (t->out.len == 0) {
			ssize_t n = read(t->fd, t->out.data, STDIO_BUF_SIZE);

			if (n > 0) {
				t->out.len = (size_t)n;
				t->out.off = 0;
			} else if (n < 0 && errno == EINTR) {
				continue;
			} else if (n < 0 && errno == EAGAIN) {
				/* Empty. After the reap that is all the process wrote (a pty
				 * gets a grace period: its data passes a work queue). */
				if (exited && (t->kind != STDIO_KIND_TERMINAL ||
					       agent_now_ms() >= s->exit_seen_ms + STDIO_PTY_DRAIN_MS))
					t->drained = true;
				return;
			} else {
				/* EOF; a pty master says EIO once every slave is closed. */
				if (n < 0 && !(errno == EIO && t->kind == STDIO_KIND_TERMINAL))
					log_debug("stdio %s: reading %s: %m", s->tag,
						  stdio_kind_names[t->kind]);
				t->out_eof = true;
				return;
			}
		}
		if (t->state != STDIO_CONNECTED) {
			t->out.len = 0;
			continue;
		}
		while (t->out.off < t->out.len) {
			ssize_t w = send(t->conn_fd, t->out.data + t->out.off, t->out.len - t->out.off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w > 0) {
				t->out.off += (size_t)w;
			} else if (w < 0 && errno == EINTR) {
				continue;
			} else if (w < 0 && errno == EAGAIN) {
				return;
			} else {
				stream_host_gone(s, t, w < 0 ? errno : EPIPE);
				break;
			}
		}
		t->out.len = t->out.off = 0;
	}
}

/* host -> process */
static void pump_in(struct agent_stdio *s, struct stdio_stream *t, unsigned int flags)
{
	for (int round = 0; round < STDIO_PUMP_ROUNDS && !t->in_done; round++) {
		if (t->in.len == 0) {
			ssize_t n;

			if (t->in_eof || (flags & STDIO_F_CLOSE_STDIN)) {
				stream_in_finish(s, t);
				return;
			}
			n = recv(t->conn_fd, t->in.data, STDIO_BUF_SIZE, MSG_DONTWAIT);
			if (n > 0) {
				t->in.len = (size_t)n;
				t->in.off = 0;
			} else if (n == 0) {
				t->in_eof = true;
				continue;
			} else if (errno == EINTR) {
				continue;
			} else if (errno == EAGAIN) {
				return;
			} else if (t->kind == STDIO_KIND_TERMINAL) {
				stream_host_gone(s, t, errno);
				return;
			} else {
				t->in_eof = true;
				continue;
			}
		}
		while (t->in.off < t->in.len) {
			ssize_t w = write(t->fd, t->in.data + t->in.off, t->in.len - t->in.off);

			if (w > 0) {
				t->in.off += (size_t)w;
			} else if (w < 0 && errno == EINTR) {
				continue;
			} else if (w < 0 && errno == EAGAIN) {
				return;
			} else {
				/* The process closed its input (EPIPE), or the pty is gone. */
				stream_in_finish(s, t);
				return;
			}
		}
		t->in.len = t->in.off = 0;
	}
}

static void pump(struct agent_stdio *s, struct stdio_stream *t, unsigned int flags)
{
	bool exited = flags & STDIO_F_EXITED;

	if (t->state == STDIO_LISTENING) {
		stream_accept(s, t);
		if (t->state == STDIO_LISTENING) {
			/* Input for a process that exited or whose input was closed. */
			if (t->kind == STDIO_KIND_STDIN && (flags & (STDIO_F_CLOSE_STDIN | STDIO_F_EXITED)))
				stream_finish(s, t);
			else if (agent_now_ms() >= s->listen_deadline)
				stream_listen_timeout(s, t);
			return;
		}
	}
	if (t->state != STDIO_CONNECTED && t->state != STDIO_DISCARDING)
		return;
	if (t->has_out && !t->out_eof)
		pump_out(s, t, exited);
	if (t->state == STDIO_CONNECTED && t->has_in && !t->in_done)
		pump_in(s, t, flags);

	if (t->kind == STDIO_KIND_STDIN) {
		/* Nobody reads the input of a process that exited. */
		if (exited && t->state != STDIO_DONE)
			stream_finish(s, t);
	} else if (t->out_eof) {
		if (t->conn_fd >= 0)
			(void)shutdown(t->conn_fd, SHUT_WR);
		stream_finish(s, t);
	} else if (t->kind == STDIO_KIND_TERMINAL && exited && t->drained) {
		/* The pty outlives the process only for daemons that kept it. */
		if (t->conn_fd >= 0)
			(void)shutdown(t->conn_fd, SHUT_WR);
		stream_finish(s, t);
	}
}

/* Tell the waiters once everything written before the exit reached the host. */
static void check_output_done(struct agent_stdio *s, bool exited)
{
	struct agent *a = s->agent;

	if (!exited || s->output_done_sent)
		return;
	for (size_t i = 0; i < s->n; i++) {
		const struct stdio_stream *t = &s->st[i];

		if (!t->has_out || t->state == STDIO_DONE)
			continue;
		if (t->state == STDIO_LISTENING || !t->drained)
			return;
	}
	s->output_done_sent = true;
	pthread_mutex_lock(&a->lock);
	s->proc->output_done = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

static bool all_done(const struct agent_stdio *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->st[i].state != STDIO_DONE)
			return false;
	return true;
}

static void add_pfd(struct pollfd *pfd, size_t *n, int fd, short events)
{
	pfd[*n].fd = fd;
	pfd[*n].events = events;
	pfd[*n].revents = 0;
	(*n)++;
}

/* What the relay waits for now, and until when (ms, -1 = no timeout). */
static int build_poll(struct agent_stdio *s, struct pollfd *pfd, size_t *ret_n, bool exited)
{
	int64_t now = agent_now_ms(), deadline = -1;
	size_t n = 0;

	add_pfd(pfd, &n, s->ctl_fd, POLLIN);
	for (size_t i = 0; i < s->n; i++) {
		struct stdio_stream *t = &s->st[i];

		switch (t->state) {
		case STDIO_LISTENING:
			add_pfd(pfd, &n, t->listen_fd, POLLIN);
			deadline = s->listen_deadline;
			break;
		case STDIO_CONNECTED:
		case STDIO_DISCARDING:
			if (t->has_out && !t->out_eof) {
				if (t->out.len == 0)
					add_pfd(pfd, &n, t->fd, POLLIN);
				else if (t->state == STDIO_CONNECTED)
					add_pfd(pfd, &n, t->conn_fd, POLLOUT);
			}
			if (t->state == STDIO_CONNECTED && t->has_in && !t->in_done) {
				if (t->in.len == 0 && !t->in_eof)
					add_pfd(pfd, &n, t->conn_fd, POLLIN);
				else if (t->in.len > 0)
					add_pfd(pfd, &n, t->fd, POLLOUT);
			}
			if (t->kind == STDIO_KIND_TERMINAL && exited && !t->drained) {
				int64_t d = s->exit_seen_ms + STDIO_PTY_DRAIN_MS;

				deadline = deadline < 0 ? d : MIN(deadline, d);
			}
			break;
		default:
			break;
		}
	}
	*ret_n = n;
	if (deadline < 0)
		return -1;
	return deadline <= now ? 0 : (int)MIN(deadline - now, (int64_t)AGENT_STDIO_CONNECT_TIMEOUT_MS);
}

static void *relay_main(void *arg)
{
	struct agent_stdio *s = arg;
	struct agent *a = s->agent;
	struct agent_process *p = s->proc;
	struct pollfd pfd[1 + 2 * STDIO_MAX_STREAMS];

	log_debug("stdio %s: relay started", s->tag);
	for (;;) {
		unsigned int flags = atomic_load(&s->flags);
		bool exited = flags & STDIO_F_EXITED;
		size_t n;
		int timeout;

		if (flags & STDIO_F_CANCEL) {
			for (size_t i = 0; i < s->n; i++)
				if (s->st[i].state != STDIO_DONE)
					stream_finish(s, &s->st[i]);
			break;
		}
		if (exited && s->exit_seen_ms < 0)
			s->exit_seen_ms = agent_now_ms();
		for (size_t i = 0; i < s->n; i++)
			pump(s, &s->st[i], flags);
		check_output_done(s, exited);
		if (all_done(s))
			break;
		timeout = build_poll(s, pfd, &n, exited);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			log_error("stdio %s: poll: %m", s->tag);
			(void)poll(NULL, 0, 100);
		}
		if (pfd[0].revents & POLLIN) {
			eventfd_t v;

			(void)eventfd_read(s->ctl_fd, &v);
		}
	}
	log_debug("stdio %s: relay ended", s->tag);
	/* After this unlock s and p may be freed at any time. */
	pthread_mutex_lock(&a->lock);
	p->output_done = true;
	a->relays--;
	pthread_cond_broadcast(&a->cond);
	agent_process_unref_locked(a, p);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static void stdio_signal(struct agent_stdio *s, unsigned int flag)
{
	if (!s)
		return;
	atomic_fetch_or(&s->flags, flag);
	if (eventfd_write(s->ctl_fd, 1) < 0)
		log_warn("stdio %s: cannot wake the relay: %m", s->tag);
}

void agent_stdio_notify_exit(struct agent_stdio *s)
{
	stdio_signal(s, STDIO_F_EXITED);
}

void agent_stdio_close_stdin(struct agent_stdio *s)
{
	stdio_signal(s, STDIO_F_CLOSE_STDIN);
}

void agent_stdio_cancel(struct agent_stdio *s)
{
	stdio_signal(s, STDIO_F_CANCEL);
}

/* ---- setup ---- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int stream_alloc_bufs(struct stdio_stream *t, struct error *err)
{
	if (t->has_out && !(t->out.data = malloc(STDIO_BUF_SIZE)))
		return error_set(err, -ENOMEM, "out of memory");
	if (t->has_in && !(t->in.data = malloc(STDIO_BUF_SIZE)))
		return error_set(err, -ENOMEM, "out of memory");
	return 0;
}

static struct stdio_stream *stream_add(struct agent_stdio *s, enum stdio_kind kind, uint32_t port)
{
	struct stdio_stream *t = &s->st[s->n++];

	t->kind = kind;
	t->port = port;
	t->listen_fd = t->conn_fd = t->fd = -1;
	t->has_in = kind == STDIO_KIND_STDIN || kind == STDIO_KIND_TERMINAL;
	t->has_out = kind != STDIO_KIND_STDIN;
	t->state = STDIO_LISTENING;
	return t;
}

void agent_stdio_free(struct agent_stdio *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		stream_release(&s->st[i]);
	if (s->ctl_fd >= 0)
		close(s->ctl_fd);
	free(s);
}

int agent_stdio_new(struct agent *a, const char *tag, const Nacelle__Agent__V1__Stdio *req,
		    bool terminal, struct agent_stdio **ret, int ret_child_fds[3],
		    struct error *err)
{
	static const Nacelle__Agent__V1__Stdio none = NACELLE__AGENT__V1__STDIO__INIT;
	uint32_t ports[3];
	struct agent_stdio *s;
	int r;

	ret_child_fds[0] = ret_child_fds[1] = ret_child_fds[2] = -1;
	if (!req)
		req = &none;
	ports[0] = req->stdin_port;
	ports[1] = req->stdout_port;
	ports[2] = req->stderr_port;
	if (!terminal && !ports[0] && !ports[1] && !ports[2]) {
		*ret = NULL; /* /dev/null all round, nothing to relay */
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return error_set(err, -ENOMEM, "out of memory");
	s->agent = a;
	s->ctl_fd = -1;
	s->exit_seen_ms = -1;
	atomic_init(&s->flags, 0);
	snprintf(s->tag, sizeof(s->tag), "%s", tag);
	s->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->ctl_fd < 0) {
		r = error_set(err, -errno, "eventfd: %m");
		goto fail;
	}

	if (terminal) {
		/* The pty master arrives with the process (agent_stdio_start). Even
		 * without a port its output must be read, or the process blocks. */
		struct stdio_stream *t = stream_add(s, STDIO_KIND_TERMINAL, req->terminal_port);

		if ((r = stream_alloc_bufs(t, err)) < 0)
			goto fail;
		if (!t->port)
			t->state = STDIO_DISCARDING;
		else if ((r = stdio_listen(a, t, err)) < 0)
			goto fail;
	} else {
		for (int i = 0; i < 3; i++) {
			struct stdio_stream *t;
			int pfd[2];

			if (!ports[i])
				continue;
			t = stream_add(s, (enum stdio_kind)i, ports[i]);
			if ((r = stream_alloc_bufs(t, err)) < 0)
				goto fail;
			if (pipe2(pfd, O_CLOEXEC) < 0) {
				r = error_set(err, -errno, "pipe: %m");
				goto fail;
			}
			/* stdin: the process reads pfd[0]; outputs: it writes pfd[1]. */
			t->fd = i == 0 ? pfd[1] : pfd[0];
			t->fd_owned = true;
			ret_child_fds[i] = i == 0 ? pfd[0] : pfd[1];
			if ((r = set_nonblock(t->fd)) < 0) {
				error_set(err, r, "pipe: %s", strerror(-r));
				goto fail;
			}
			if ((r = stdio_listen(a, t, err)) < 0)
				goto fail;
		}
	}
	s->listen_deadline = agent_now_ms() + AGENT_STDIO_CONNECT_TIMEOUT_MS;
	*ret = s;
	return 0;
fail:
	for (int i = 0; i < 3; i++)
		close_fd(&ret_child_fds[i]);
	agent_stdio_free(s);
	return r;
}

int agent_stdio_start(struct agent *a, struct agent_stdio *s, struct agent_process *p,
		      struct error *err)
{
	pthread_attr_t attr;
	pthread_t th;
	int r;

	s->proc = p;
	if (s->n == 1 && s->st[0].kind == STDIO_KIND_TERMINAL) {
		struct stdio_stream *t = &s->st[0];

		if (p->proc.pty_master < 0)
			return error_set(err, -EPROTO, "the process has no terminal");
		t->fd = p->proc.pty_master;
		t->fd_owned = false;
		if ((r = set_nonblock(t->fd)) < 0)
			return error_set(err, r, "terminal: %s", strerror(-r));
	}
	pthread_mutex_lock(&a->lock);
	p->refs++;
	a->relays++;
	pthread_mutex_unlock(&a->lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, STDIO_THREAD_STACK);
	r = -pthread_create(&th, &attr, relay_main, s);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		pthread_mutex_lock(&a->lock);
		a->relays--;
		p->refs--; /* the caller still holds one */
		pthread_mutex_unlock(&a->lock);
		return error_set(err, r, "starting the stdio relay: %s", strerror(-r));
	}
	return 0;
}
