/* SPDX-License-Identifier: Apache-2.0 */
#include "stdio-relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "util.h"

static const char *const stream_names[] = {
	[STDIO_STDIN] = "stdin",
	[STDIO_STDOUT] = "stdout",
	[STDIO_STDERR] = "stderr",
	[STDIO_TERMINAL] = "terminal",
};

const char *stdio_stream_to_string(enum stdio_stream s)
{
	return (size_t)s < ARRAY_SIZE(stream_names) ? stream_names[s] : "?";
}

/* One direction: src -> buf -> dst. */
struct pump {
	const char *name;
	bool active;	/* set up by stdio_relay_start() */
	bool in;	/* containerd -> guest */
	int src, dst;	/* borrowed from the relay's fd tables */
	bool src_eof;
	bool done;
	bool discard;	/* dst is gone: keep reading, drop the bytes */
	bool draining;	/* CloseIO: nothing readable now means EOF */
	size_t off, len;
	uint64_t bytes;
	char buf[STDIO_BUF_SIZE];
};

enum { PUMP_STDIN, PUMP_STDOUT, PUMP_STDERR, PUMP__MAX };

struct stdio_relay {
	bool terminal;
	int fifo[STDIO__MAX]; /* containerd's side: STDIN, STDOUT, STDERR */
	int sock[STDIO__MAX]; /* the guest's streams */
	struct pump pumps[PUMP__MAX];
	int wake_fd;
	pthread_t thread;
	pthread_mutex_t stop_lock; /* one stop at a time */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	bool thread_started;
	bool stop;		/* the thread is to exit */
	bool close_stdin;	/* CloseIO asked */
	bool input_done;
	bool output_done;
	bool finished;		/* the thread has exited */
	uint64_t bytes_out;
};

/* ---- opening containerd's ends ---- */

static bool empty(const char *s)
{
	return !s || !*s;
}

/* -1 for none; -errno on failure. */
static int open_output(const char *path)
{
	const char *colon = strstr(path, "://");
	int fd;

	if (colon) {
		if (strncmp(path, "file://", 7) != 0)
			return -EOPNOTSUPP; /* binary:// loggers and the like */
		fd = open(path + 7, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
		return fd < 0 ? -errno : fd;
	}
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	/* A FIFO with no reader yet: hold it open for reading ourselves
	 * rather than fail or block; output waits in the pipe for containerd. */
	if (fd < 0 && errno == ENXIO)
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

static int open_input(const char *path)
{
	int fd;

	if (strstr(path, "://"))
		return -EOPNOTSUPP;
	/* Never blocks for a writer; poll() reports data or a writer leaving. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void relay_close_all(struct stdio_relay *r)
{
	/* The terminal stream may be named twice; close each number once. */
	for (int i = 0; i < STDIO__MAX; i++) {
		close_fd(&r->fifo[i]);
		close_fd(&r->sock[i]);
	}
}

int stdio_relay_open(const struct shim_stdio *paths, struct stdio_relay **ret, struct error *err)
{
	struct stdio_relay *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;
	const char *which = NULL;
	int fd = 0;

	if (!r)
		return error_set(err, -ENOMEM, "out of memory");
	for (int i = 0; i < STDIO__MAX; i++)
		r->fifo[i] = r->sock[i] = -1;
	r->wake_fd = -1;
	r->terminal = paths->terminal;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->stop_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->output_done = true;
	r->input_done = true;

	if (!empty(paths->stdin_path)) {
		which = paths->stdin_path;
		fd = r->fifo[STDIO_STDIN] = open_input(paths->stdin_path);
	}
	if (fd >= 0 && !empty(paths->stdout_path)) {
		which = paths->stdout_path;
		fd = r->fifo[STDIO_STDOUT] = open_output(paths->stdout_path);
	}
	/* With a terminal, stderr is the terminal too. */
	if (fd >= 0 && !paths->terminal && !empty(paths->stderr_path)) {
		which = paths->stderr_path;
		fd = r->fifo[STDIO_STDERR] = open_output(paths->stderr_path);
	}
	if (fd >= 0) {
		fd = r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			fd = -errno;
		which = "eventfd";
	}
	if (fd < 0) {
		int e = fd;

		for (int i = 0; i < STDIO__MAX; i++)
			if (r->fifo[i] < 0)
				r->fifo[i] = -1;
		stdio_relay_free(r);
		return error_set(err, e, "%s: %s", which,
				 e == -EOPNOTSUPP ? "only FIFOs, files and file:// URIs are supported"
						  : strerror(-e));
	}
	*ret = r;
	return 0;
}

bool stdio_relay_wants(const struct stdio_relay *r, enum stdio_stream s)
{
	if (r->terminal)
		return s == STDIO_TERMINAL &&
		       (r->fifo[STDIO_STDIN] >= 0 || r->fifo[STDIO_STDOUT] >= 0);
	switch (s) {
	case STDIO_STDIN:
	case STDIO_STDOUT:
	case STDIO_STDERR:
		return r->fifo[s] >= 0;
	default:
		return false;
	}
}

/* ---- the thread ---- */

static void pump_read(struct pump *p)
{
	ssize_t n = read(p->src, p->buf, sizeof(p->buf));

	if (n > 0) {
		p->off = 0;
		p->len = p->discard ? 0 : (size_t)n;
		return;
	}
	if (n < 0 && errno == EINTR)
		return;
	if (n < 0 && errno == EAGAIN) {
		if (p->draining)
			p->src_eof = true;
		return;
	}
	if (n < 0)
		log_debug("stdio: %s: read: %s; taking it as EOF", p->name, strerror(errno));
	p->src_eof = true;
}

static void pump_write(struct pump *p)
{
	ssize_t n = write(p->dst, p->buf + p->off, p->len);

	if (n > 0) {
		p->off += (size_t)n;
		p->len -= (size_t)n;
		p->bytes += (uint64_t)n;
		if (p->len == 0)
			p->off = 0;
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	log_debug("stdio: %s: write: %s", p->name, n < 0 ? strerror(errno) : "nothing written");
	p->len = 0;
	if (p->in) {
		/* The guest closed stdin (the process is gone): stop reading it. */
		p->src_eof = true;
	} else {
		/* containerd's reader went away: drain the guest, drop the bytes. */
		p->discard = true;
	}
}

/* Close every fd no unfinished pump uses any more. */
static void release_fds(struct stdio_relay *r)
{
	int *tables[] = { r->fifo, r->sock };

	for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
		for (int i = 0; i < STDIO__MAX; i++) {
			int fd = tables[t][i];
			bool used = false;

			if (fd < 0)
				continue;
			for (int k = 0; k < PUMP__MAX; k++) {
				struct pump *p = &r->pumps[k];

				if (p->active && !p->done && (p->src == fd || p->dst == fd))
					used = true;
			}
			if (used)
				continue;
			/* The same number may be in both tables (terminal): forget it everywhere. */
			for (size_t t2 = 0; t2 < ARRAY_SIZE(tables); t2++)
				for (int j = 0; j < STDIO__MAX; j++)
					if (tables[t2][j] == fd)
						tables[t2][j] = -1;
			close(fd);
		}
}

/* After reads and writes: finished pumps, then the flags waiters watch. */
static void relay_settle(struct stdio_relay *r)
{
	bool in_done = true, out_done = true;
	uint64_t out = 0;

	for (int k = 0; k < PUMP__MAX; k++) {
		struct pump *p = &r->pumps[k];

		if (!p->active)
			continue;
		if (!p->done && p->src_eof && p->len == 0) {
			p->done = true;
			/* Without a terminal, EOF of stdin is the end of its stream:
			 * half-close so the process reads EOF after the last byte. */
			if (p->in && !r->terminal)
				(void)shutdown(p->dst, SHUT_WR);
			log_debug("stdio: %s done (%llu bytes)", p->name,
				  (unsigned long long)p->bytes);
		}
		if (p->in)
			in_done = p->done;
		else if (!p->done)
			out_done = false;
	}
	release_fds(r);
	if (r->pumps[PUMP_STDOUT].active)
		out = r->pumps[PUMP_STDOUT].bytes;
	pthread_mutex_lock(&r->lock);
	r->bytes_out = out;
	if (in_done != r->input_done || out_done != r->output_done) {
		r->input_done = in_done;
		r->output_done = out_done;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
}

struct poll_slot {
	struct pump *p;
	bool is_src;
};

static void *relay_main(void *arg)
{
	struct stdio_relay *r = arg;

	for (;;) {
		struct pollfd pfd[1 + 2 * PUMP__MAX];
		struct poll_slot slot[1 + 2 * PUMP__MAX];
		int n = 1, busy = 0;

		pfd[0] = (struct pollfd){ .fd = r->wake_fd, .events = POLLIN };
		for (int k = 0; k < PUMP__MAX; k++) {
			struct pump *p = &r->pumps[k];

			if (!p->active || p->done)
				continue;
			busy++;
			if (p->len == 0 && !p->src_eof) {
				pfd[n] = (struct pollfd){ .fd = p->src, .events = POLLIN };
				slot[n++] = (struct poll_slot){ p, true };
			} else if (p->len > 0) {
				pfd[n] = (struct pollfd){ .fd = p->dst, .events = POLLOUT };
				slot[n++] = (struct poll_slot){ p, false };
			}
		}
		if (!busy)
			break;
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("stdio: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents) {
			uint64_t v;
			bool stop, drain;

			(void)!read(r->wake_fd, &v, sizeof(v));
			pthread_mutex_lock(&r->lock);
			stop = r->stop;
			drain = r->close_stdin;
			pthread_mutex_unlock(&r->lock);
			if (stop)
				break;
			if (drain && r->pumps[PUMP_STDIN].active)
				r->pumps[PUMP_STDIN].draining = true;
		}
		for (int i = 1; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (slot[i].is_src)
				pump_read(slot[i].p);
			else
				pump_write(slot[i].p);
		}
		/* CloseIO: what is readable now is the rest of the input. */
		{
			struct pump *p = &r->pumps[PUMP_STDIN];

			if (p->active && !p->done && p->draining && p->len == 0 && !p->src_eof)
				pump_read(p);
		}
		relay_settle(r);
	}
	pthread_mutex_lock(&r->lock);
	r->finished = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void pump_setup(struct stdio_relay *r, int k, const char *name, bool in, int src, int dst)
{
	struct pump *p = &r->pumps[k];

	p->name = name;
	p->in = in;
	p->src = src;
	p->dst = dst;
	p->active = src >= 0 && dst >= 0;
}

int stdio_relay_start(struct stdio_relay *r, int fds[STDIO__MAX], struct error *err)
{
	sigset_t all, old;
	bool any = false, stopped;
	int e;

	pthread_mutex_lock(&r->lock);
	stopped = r->stop || r->thread_started;
	pthread_mutex_unlock(&r->lock);
	if (stopped) {
		for (int i = 0; i < STDIO__MAX; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return error_set(err, -EALREADY, "stdio relay already started or stopped");
	}
	for (int i = 0; i < STDIO__MAX; i++) {
		if (fds[i] >= 0 && !stdio_relay_wants(r, (enum stdio_stream)i)) {
			close(fds[i]);
			fds[i] = -1;
		}
		r->sock[i] = fds[i];
		fds[i] = -1;
		if (r->sock[i] >= 0 &&
		    fcntl(r->sock[i], F_SETFL, fcntl(r->sock[i], F_GETFL) | O_NONBLOCK) < 0)
			return error_set(err, -errno, "O_NONBLOCK: %s", strerror(errno));
	}
	if (r->terminal) {
		int t = r->sock[STDIO_TERMINAL];

		pump_setup(r, PUMP_STDIN, "terminal input", true, r->fifo[STDIO_STDIN], t);
		pump_setup(r, PUMP_STDOUT, "terminal output", false, t, r->fifo[STDIO_STDOUT]);
	} else {
		pump_setup(r, PUMP_STDIN, "stdin", true, r->fifo[STDIO_STDIN], r->sock[STDIO_STDIN]);
		pump_setup(r, PUMP_STDOUT, "stdout", false, r->sock[STDIO_STDOUT],
			   r->fifo[STDIO_STDOUT]);
		pump_setup(r, PUMP_STDERR, "stderr", false, r->sock[STDIO_STDERR],
			   r->fifo[STDIO_STDERR]);
	}
	pthread_mutex_lock(&r->lock);
	r->input_done = !r->pumps[PUMP_STDIN].active;
	r->output_done = !r->pumps[PUMP_STDOUT].active && !r->pumps[PUMP_STDERR].active;
	pthread_mutex_unlock(&r->lock);
	for (int k = 0; k < PUMP__MAX; k++)
		any |= r->pumps[k].active;
	if (!any)
		return 0;

	/* The thread takes no signals: SIGPIPE from a write to a FIFO whose
	 * reader left stays pending on it and the write returns EPIPE. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&r->thread, NULL, relay_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		for (int k = 0; k < PUMP__MAX; k++)
			r->pumps[k].active = false;
		pthread_mutex_lock(&r->lock);
		r->input_done = r->output_done = true;
		pthread_mutex_unlock(&r->lock);
		return error_set(err, -e, "starting the stdio thread: %s", strerror(e));
	}
	pthread_mutex_lock(&r->lock);
	r->thread_started = true;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static bool started(struct stdio_relay *r)
{
	bool s;

	pthread_mutex_lock(&r->lock);
	s = r->thread_started;
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void wake(struct stdio_relay *r)
{
	uint64_t one = 1;

	(void)!write(r->wake_fd, &one, sizeof(one));
}

/* Wait for *flag (under lock) or the thread's end, up to timeout_ms. */
static int wait_flag(struct stdio_relay *r, const bool *flag, int timeout_ms)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->lock);
	while (!*flag && !r->finished && rc == 0)
		rc = pthread_cond_timedwait(&r->cond, &r->lock, &deadline);
	rc = *flag || r->finished ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int stdio_relay_close_stdin(struct stdio_relay *r, int timeout_ms)
{
	if (!started(r))
		return 0;
	pthread_mutex_lock(&r->lock);
	r->close_stdin = true;
	pthread_mutex_unlock(&r->lock);
	wake(r);
	return wait_flag(r, &r->input_done, timeout_ms);
}

int stdio_relay_wait_output(struct stdio_relay *r, int timeout_ms)
{
	if (!started(r))
		return 0;
	return wait_flag(r, &r->output_done, timeout_ms);
}

uint64_t stdio_relay_bytes_out(struct stdio_relay *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->lock);
	n = r->bytes_out;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void stdio_relay_stop(struct stdio_relay *r)
{
	bool join;

	if (!r)
		return;
	pthread_mutex_lock(&r->stop_lock);
	pthread_mutex_lock(&r->lock);
	join = r->thread_started;
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
	if (join) {
		wake(r);
		pthread_join(r->thread, NULL);
	}
	/* The thread is gone: its fds and pumps are ours. */
	for (int k = 0; k < PUMP__MAX; k++)
		r->pumps[k].active = false;
	relay_close_all(r);
	pthread_mutex_lock(&r->lock);
	r->thread_started = false;
	r->input_done = r->output_done = r->finished = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(&r->stop_lock);
}

void stdio_relay_free(struct stdio_relay *r)
{
	if (!r)
		return;
	stdio_relay_stop(r);
	close_fd(&r->wake_fd);
	pthread_mutex_destroy(&r->stop_lock);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
