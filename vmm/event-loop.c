/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/event-loop.h"

#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <termios.h>

#include "common/log.h"
#include "devices/serial.h"

/* How often queued serial output is retried while the sink is full. */
#define EVENT_LOOP_FLUSH_MS 20
#define EVENT_LOOP_MAX_EVENTS 8

enum loop_source {
	LOOP_SOURCE_SIGNAL = 1,
	LOOP_SOURCE_VM_EXIT,
	LOOP_SOURCE_STDIN,
};

struct event_loop {
	struct vm *vm;
	int epfd;
	int sigfd;
	bool stdin_polled;
	bool stdin_paused; /* FIFO full: stop reading until the guest drains it */
	bool stdin_is_tty;
	struct termios saved_tty;
	/* input the UART's FIFO could not take yet, retried on the next tick */
	uint8_t pending[SERIAL_FIFO_SIZE];
	size_t pending_len;
};

static void loop_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

int event_loop_block_signals(void)
{
	sigset_t set;

	loop_signal_set(&set);
	signal(SIGPIPE, SIG_IGN); /* a closed output pipe is an EPIPE, not a death */
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int loop_add(struct event_loop *loop, int fd, enum loop_source src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = src };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

/* Raw terminal so every key (Ctrl-C included) reaches the guest, as
 * cloud-hypervisor does for --serial tty. */
static void loop_tty_raw(struct event_loop *loop)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &loop->saved_tty) < 0)
		return;
	raw = loop->saved_tty;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* keep our own log lines readable */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		loop->stdin_is_tty = true;
}

static void loop_tty_restore(struct event_loop *loop)
{
	if (loop->stdin_is_tty)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &loop->saved_tty);
}

static void loop_stdin_stop(struct event_loop *loop)
{
	if (!loop->stdin_polled)
		return;
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
	loop->stdin_polled = false;
}

/* Level-triggered stdin would spin while we cannot take more input. */
static void loop_stdin_pause(struct event_loop *loop, bool pause)
{
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.u32 = LOOP_SOURCE_STDIN };

	if (!loop->stdin_polled || loop->stdin_paused == pause)
		return;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, STDIN_FILENO, &ev) == 0)
		loop->stdin_paused = pause;
}

static void loop_push_pending(struct event_loop *loop)
{
	struct serial *serial = vm_serial(loop->vm);
	size_t n;

	if (!loop->pending_len || !serial)
		return;
	n = serial_enqueue_input(serial, loop->pending, loop->pending_len);
	memmove(loop->pending, loop->pending + n, loop->pending_len - n);
	loop->pending_len -= n;
	loop_stdin_pause(loop, loop->pending_len == sizeof(loop->pending));
}

static void loop_read_stdin(struct event_loop *loop)
{
	ssize_t n;

	/* Read only what we can hold: back-pressure to the terminal/pipe. */
	if (loop->pending_len == sizeof(loop->pending)) {
		loop_stdin_pause(loop, true);
		return;
	}
	n = read(STDIN_FILENO, loop->pending + loop->pending_len,
		 sizeof(loop->pending) - loop->pending_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		loop_stdin_stop(loop); /* EOF: the guest simply gets no more input */
		return;
	}
	if (n > 0)
		loop->pending_len += (size_t)n;
	loop_push_pending(loop);
}

static bool loop_handle_signal(struct event_loop *loop)
{
	struct signalfd_siginfo si;

	if (read(loop->sigfd, &si, sizeof(si)) != sizeof(si))
		return false;
	log_info("vmm: %s received, shutting down", strsignal((int)si.ssi_signo));
	vm_request_exit(loop->vm, VM_EXIT_SIGNAL);
	return true;
}

static int loop_setup(struct event_loop *loop, struct vm *vm, const struct vmm_config *cfg)
{
	sigset_t set;
	int r;

	loop->vm = vm;
	loop->sigfd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return -errno;
	loop_signal_set(&set);
	loop->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (loop->sigfd < 0)
		return -errno;
	r = loop_add(loop, loop->sigfd, LOOP_SOURCE_SIGNAL);
	if (r < 0)
		return r;
	r = loop_add(loop, vm_exit_fd(vm), LOOP_SOURCE_VM_EXIT);
	if (r < 0)
		return r;
	if (cfg->serial.mode == VMM_OUTPUT_TTY && vm_serial(vm)) {
		/* stdin may be a file (epoll refuses it: EPERM): then no input. */
		if (loop_add(loop, STDIN_FILENO, LOOP_SOURCE_STDIN) == 0) {
			loop->stdin_polled = true;
			loop_tty_raw(loop);
		}
	}
	return 0;
}

static void loop_teardown(struct event_loop *loop)
{
	loop_tty_restore(loop);
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
}

int event_loop_run(struct vm *vm, const struct vmm_config *cfg)
{
	struct event_loop loop = { 0 };
	int r;

	r = loop_setup(&loop, vm, cfg);
	if (r < 0) {
		loop_teardown(&loop);
		return log_error_errno(r, "vmm: cannot set up the event loop");
	}

	while (vm_exit_reason(vm) == VM_EXIT_NONE) {
		struct epoll_event evs[EVENT_LOOP_MAX_EVENTS];
		struct serial *serial = vm_serial(vm);
		bool busy = loop.pending_len || (serial && serial_pending_output(serial));
		int n = epoll_wait(loop.epfd, evs, EVENT_LOOP_MAX_EVENTS,
				   busy ? EVENT_LOOP_FLUSH_MS : -1);

		if (n < 0 && errno != EINTR) {
			r = log_error_errno(-errno, "vmm: epoll_wait");
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case LOOP_SOURCE_SIGNAL:
				loop_handle_signal(&loop);
				break;
			case LOOP_SOURCE_STDIN:
				loop_read_stdin(&loop);
				break;
			default: /* VM exit: the loop condition sees it */
				break;
			}
		}
		loop_push_pending(&loop);
		/* A sink that failed for good (EPIPE...) discards from then on;
		 * the guest keeps running, as with a closed terminal. */
		if (serial && serial_flush(serial) < 0)
			log_debug("vmm: serial output sink failed");
	}
	loop_teardown(&loop);
	return r < 0 ? r : (int)vm_exit_reason(vm);
}
