/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/controller.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <termios.h>

#include "common/log.h"
#include "devices/serial.h"
#include "vmm/vm.h"

/* How often queued serial output is retried while its sink is full. */
#define CONTROLLER_FLUSH_MS 20
#define CONTROLLER_MAX_EVENTS 8
/* Queued serial output gets this many flush attempts after the guest stops. */
#define FINAL_FLUSH_TRIES 50

enum loop_source {
	LOOP_SOURCE_SIGNAL = 1,
	LOOP_SOURCE_VM_EXIT,
	LOOP_SOURCE_STDIN,
	LOOP_SOURCE_API,
};

struct vmm_controller {
	struct vmm_config *cli;	   /* the command line (logging, api socket...) */
	struct vmm_config *vm_cfg; /* the VM's configuration; NULL: not created */
	bool vm_cfg_is_cli;	   /* vm_cfg points at cli (not separately owned) */
	struct vm *vm;
	enum vmm_vm_state state;
	struct vmm_api_server *api;

	int epfd;
	int sigfd;
	bool quit;
	int exit_code;

	/* serial input from the terminal, for --serial tty */
	bool stdin_polled;
	bool stdin_paused;
	bool tty_raw;
	struct termios saved_tty;
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

int controller_block_signals(void)
{
	sigset_t set;

	loop_signal_set(&set);
	signal(SIGPIPE, SIG_IGN); /* a closed output pipe is an EPIPE, not a death */
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int loop_add(struct vmm_controller *c, int fd, enum loop_source src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = src };

	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static void loop_del(struct vmm_controller *c, int fd)
{
	(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void set_state(struct vmm_controller *c, enum vmm_vm_state state)
{
	if (c->state == state)
		return;
	log_info("vmm: VM %s -> %s", vmm_vm_state_to_string(c->state),
		 vmm_vm_state_to_string(state));
	c->state = state;
}

/* ---- the terminal (serial input) ---- */

/* Raw terminal so every key (Ctrl-C included) reaches the guest, as
 * cloud-hypervisor does for a tty serial port or console. */
static void tty_raw(struct vmm_controller *c)
{
	struct termios raw;

	if (c->tty_raw || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &c->saved_tty) < 0)
		return;
	raw = c->saved_tty;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* keep our own log lines readable */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		c->tty_raw = true;
}

static void tty_restore(struct vmm_controller *c)
{
	if (c->tty_raw)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &c->saved_tty);
	c->tty_raw = false;
}

/* Level-triggered stdin would spin while the UART cannot take more. */
static void stdin_pause(struct vmm_controller *c, bool pause)
{
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.u32 = LOOP_SOURCE_STDIN };

	if (!c->stdin_polled || c->stdin_paused == pause)
		return;
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, STDIN_FILENO, &ev) == 0)
		c->stdin_paused = pause;
}

static void stdin_stop(struct vmm_controller *c)
{
	if (c->stdin_polled)
		loop_del(c, STDIN_FILENO);
	c->stdin_polled = false;
	c->stdin_paused = false;
	c->pending_len = 0;
}

static void push_pending(struct vmm_controller *c)
{
	struct serial *serial = c->vm ? vm_serial(c->vm) : NULL;
	size_t n;

	if (!c->pending_len || !serial)
		return;
	n = serial_enqueue_input(serial, c->pending, c->pending_len);
	memmove(c->pending, c->pending + n, c->pending_len - n);
	c->pending_len -= n;
	stdin_pause(c, c->pending_len == sizeof(c->pending));
}

static void read_stdin(struct vmm_controller *c)
{
	ssize_t n;

	/* Read only what we can hold: back-pressure to the terminal/pipe. */
	if (c->pending_len == sizeof(c->pending)) {
		stdin_pause(c, true);
		return;
	}
	n = read(STDIN_FILENO, c->pending + c->pending_len, sizeof(c->pending) - c->pending_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		stdin_stop(c); /* EOF: the guest simply gets no more input */
		return;
	}
	if (n > 0)
		c->pending_len += (size_t)n;
	push_pending(c);
}

/* ---- the VM ---- */

static void flush_serial(struct vmm_controller *c, int tries)
{
	struct serial *serial = c->vm ? vm_serial(c->vm) : NULL;

	for (int i = 0; serial && i < tries; i++) {
		/* <= 0: all written, or the sink is gone for good */
		if (serial_flush(serial) <= 0)
			break;
		if (tries > 1)
			usleep(10000);
	}
}

static void vm_teardown(struct vmm_controller *c)
{
	if (!c->vm)
		return;
	loop_del(c, vm_exit_fd(c->vm));
	stdin_stop(c);
	vm_stop(c->vm);
	flush_serial(c, FINAL_FLUSH_TRIES);
	vm_destroy(c->vm);
	c->vm = NULL;
	tty_restore(c);
}

static int vm_start(struct vmm_controller *c, struct error *err)
{
	const struct vmm_config *cfg = c->vm_cfg;
	int r;

	r = vm_create(cfg, &c->vm, err);
	if (r >= 0)
		r = vm_boot(c->vm, err);
	if (r >= 0)
		r = loop_add(c, vm_exit_fd(c->vm), LOOP_SOURCE_VM_EXIT);
	if (r < 0) {
		if (!err->code)
			error_set(err, r, "cannot start the VM: %s", strerror(-r));
		vm_teardown(c);
		return r;
	}
	if (cfg->serial.mode == VMM_OUTPUT_TTY && vm_serial(c->vm)) {
		/* stdin may be a file (epoll refuses it: EPERM): then no input. */
		if (loop_add(c, STDIN_FILENO, LOOP_SOURCE_STDIN) == 0) {
			c->stdin_polled = true;
			tty_raw(c);
		}
	}
	/* virtio-console reads stdin itself; the terminal still goes raw. */
	if (cfg->console.mode == VMM_OUTPUT_TTY)
		tty_raw(c);
	set_state(c, VMM_VM_RUNNING);
	return 0;
}

static void free_vm_cfg(struct vmm_controller *c)
{
	if (c->vm_cfg && !c->vm_cfg_is_cli) {
		vmm_config_free(c->vm_cfg);
		free(c->vm_cfg);
	}
	c->vm_cfg = NULL;
	c->vm_cfg_is_cli = false;
}

/* The VM asked to stop (or a vCPU failed): the VMM ends with it. */
static void handle_vm_exit(struct vmm_controller *c)
{
	enum vm_exit_reason reason = vm_exit_reason(c->vm);

	if (reason == VM_EXIT_NONE)
		return;
	log_info("vmm: guest stopped: %s", vm_exit_reason_to_string(reason));
	vm_teardown(c);
	set_state(c, VMM_VM_SHUTDOWN);
	c->quit = true;
	c->exit_code = reason == VM_EXIT_POWEROFF || reason == VM_EXIT_SIGNAL ? VMM_EXIT_OK
		       : reason == VM_EXIT_REBOOT				  ? VMM_EXIT_REBOOT
										  : VMM_EXIT_ERROR;
}

static void handle_signal(struct vmm_controller *c)
{
	struct signalfd_siginfo si;

	if (read(c->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("vmm: %s received, shutting down", strsignal((int)si.ssi_signo));
	c->quit = true;
	c->exit_code = VMM_EXIT_OK;
}

/* ---- API requests, on this thread ---- */

static int reply(struct vmm_api_reply *r, int status, char *body)
{
	r->http_status = status;
	r->body = body;
	return 0;
}

static int reply_error(struct vmm_api_reply *r, int status, const char *fmt, ...)
	_printf_(3, 4);

static int reply_error(struct vmm_api_reply *r, int status, const char *fmt, ...)
{
	char msg[ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply(r, status, vmm_api_json_error(msg));
}

static bool vm_live(const struct vmm_controller *c)
{
	return c->state == VMM_VM_RUNNING || c->state == VMM_VM_PAUSED;
}

static int api_vm_create(struct vmm_controller *c, const struct vmm_api_request *req,
			  struct vmm_api_reply *r)
{
	if (c->vm_cfg) {
		vmm_config_free(req->config);
		free(req->config);
		return reply_error(r, 409, "a VM is already created (vm.delete it first)");
	}
	c->vm_cfg = req->config;
	set_state(c, VMM_VM_CREATED);
	return reply(r, 204, NULL);
}

static int api_vm_boot(struct vmm_controller *c, struct vmm_api_reply *r)
{
	struct error err = { 0 };

	if (!c->vm_cfg)
		return reply_error(r, 409, "no VM to boot: vm.create one first");
	if (vm_live(c))
		return reply_error(r, 409, "the VM is already booted");
	if (vm_start(c, &err) < 0)
		return reply_error(r, 500, "%s", err.msg);
	return reply(r, 204, NULL);
}

static int api_vm_shutdown(struct vmm_controller *c, struct vmm_api_reply *r)
{
	if (!vm_live(c))
		return reply_error(r, 409, "the VM is not running");
	vm_teardown(c);
	set_state(c, VMM_VM_SHUTDOWN);
	return reply(r, 204, NULL);
}

static int api_vm_reboot(struct vmm_controller *c, struct vmm_api_reply *r)
{
	struct error err = { 0 };

	if (!vm_live(c))
		return reply_error(r, 409, "the VM is not running");
	vm_teardown(c);
	set_state(c, VMM_VM_SHUTDOWN);
	if (vm_start(c, &err) < 0)
		return reply_error(r, 500, "reboot: %s", err.msg);
	return reply(r, 204, NULL);
}

static int api_vm_pause(struct vmm_controller *c, struct vmm_api_reply *r)
{
	int ret;

	if (c->state != VMM_VM_RUNNING)
		return reply_error(r, 409, "the VM is not running (state %s)",
				   vmm_vm_state_to_string(c->state));
	ret = vm_pause(c->vm);
	if (ret < 0)
		return reply_error(r, 500, "pause failed: %s", strerror(-ret));
	set_state(c, VMM_VM_PAUSED);
	return reply(r, 204, NULL);
}

static int api_vm_resume(struct vmm_controller *c, struct vmm_api_reply *r)
{
	int ret;

	if (c->state != VMM_VM_PAUSED)
		return reply_error(r, 409, "the VM is not paused (state %s)",
				   vmm_vm_state_to_string(c->state));
	ret = vm_resume(c->vm);
	if (ret < 0)
		return reply_error(r, 500, "resume failed: %s", strerror(-ret));
	set_state(c, VMM_VM_RUNNING);
	return reply(r, 204, NULL);
}

static int api_vm_info(struct vmm_controller *c, struct vmm_api_reply *r)
{
	if (!c->vm_cfg)
		return reply_error(r, 404, "no VM is created");
	return reply(r, 200, vmm_api_json_info(c->state, c->vm_cfg,
					c->vm ? vm_memory_size(c->vm) : c->vm_cfg->memory_size));
}

static int api_vm_counters(struct vmm_controller *c, struct vmm_api_reply *r)
{
	struct vmm_counter *counters = NULL;
	unsigned int n = 0;

	if (!c->vm)
		return reply_error(r, 409, "the VM is not running");
	if (vm_counters(c->vm, &counters, &n) < 0)
		return reply_error(r, 500, "out of memory");
	reply(r, 200, vmm_api_json_counters(counters, n));
	free(counters);
	return 0;
}

static int api_vm_delete(struct vmm_controller *c, struct vmm_api_reply *r)
{
	vm_teardown(c);
	free_vm_cfg(c);
	set_state(c, VMM_VM_NOT_CREATED);
	return reply(r, 204, NULL);
}

static int api_dispatch(struct vmm_controller *c, const struct vmm_api_request *req,
			struct vmm_api_reply *r);

static void api_handle(void *opaque, const struct vmm_api_request *req, struct vmm_api_reply *r)
{
	struct vmm_controller *c = opaque;

	log_debug("vmm: API %s", vmm_api_action_to_string(req->action));
	(void)api_dispatch(c, req, r);
}

static int api_dispatch(struct vmm_controller *c, const struct vmm_api_request *req,
			struct vmm_api_reply *r)
{
	switch (req->action) {
	case VMM_API_PING:
		return reply(r, 200, vmm_api_json_ping());
	case VMM_API_SHUTDOWN_VMM:
		c->quit = true;
		c->exit_code = VMM_EXIT_OK;
		return reply(r, 204, NULL);
	case VMM_API_VM_CREATE:
		return api_vm_create(c, req, r);
	case VMM_API_VM_BOOT:
		return api_vm_boot(c, r);
	case VMM_API_VM_INFO:
		return api_vm_info(c, r);
	case VMM_API_VM_COUNTERS:
		return api_vm_counters(c, r);
	case VMM_API_VM_SHUTDOWN:
		return api_vm_shutdown(c, r);
	case VMM_API_VM_REBOOT:
		return api_vm_reboot(c, r);
	case VMM_API_VM_PAUSE:
		return api_vm_pause(c, r);
	case VMM_API_VM_RESUME:
		return api_vm_resume(c, r);
	case VMM_API_VM_DELETE:
		return api_vm_delete(c, r);
	case VMM_API_VM_POWER_BUTTON:
		if (!vm_live(c))
			return reply_error(r, 409, "the VM is not running");
		if (vm_power_button(c->vm) < 0)
			return reply_error(r, 500, "cannot press the power button");
		return reply(r, 204, NULL);
	default:
		return reply_error(r, 501, "%s is not implemented in nacelle yet",
				   vmm_api_action_to_string(req->action));
	}
}

/* ---- life of the controller ---- */

int controller_create(struct vmm_config *cfg, struct vmm_controller **ret, struct error *err)
{
	struct vmm_controller *c;
	sigset_t set;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return error_set(err, -ENOMEM, "out of memory");
	c->cli = cfg;
	c->sigfd = -1;
	c->state = VMM_VM_NOT_CREATED;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0) {
		r = error_set(err, -errno, "epoll: %s", strerror(errno));
		goto fail;
	}
	loop_signal_set(&set);
	c->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->sigfd < 0 || loop_add(c, c->sigfd, LOOP_SOURCE_SIGNAL) < 0) {
		r = error_set(err, -errno, "signalfd: %s", strerror(errno));
		goto fail;
	}
	if (cfg->api_socket) {
		r = vmm_api_server_start(cfg->api_socket, &c->api, err);
		if (r < 0)
			goto fail;
		r = loop_add(c, vmm_api_server_fd(c->api), LOOP_SOURCE_API);
		if (r < 0) {
			error_set(err, r, "cannot watch the API server");
			goto fail;
		}
	}
	*ret = c;
	return 0;
fail:
	controller_destroy(c);
	return r;
}

int controller_boot_cli_vm(struct vmm_controller *c, struct error *err)
{
	if (!c->cli->kernel)
		return 0; /* the VM comes from vm.create */
	c->vm_cfg = c->cli;
	c->vm_cfg_is_cli = true;
	set_state(c, VMM_VM_CREATED);
	return vm_start(c, err);
}

int controller_run(struct vmm_controller *c)
{
	while (!c->quit) {
		struct epoll_event evs[CONTROLLER_MAX_EVENTS];
		struct serial *serial = c->vm ? vm_serial(c->vm) : NULL;
		bool busy = c->pending_len || (serial && serial_pending_output(serial));
		int n = epoll_wait(c->epfd, evs, CONTROLLER_MAX_EVENTS,
				   busy ? CONTROLLER_FLUSH_MS : -1);

		if (n < 0 && errno != EINTR) {
			log_error_errno(-errno, "vmm: epoll_wait");
			c->exit_code = VMM_EXIT_ERROR;
			break;
		}
		for (int i = 0; i < n && !c->quit; i++) {
			switch (evs[i].data.u32) {
			case LOOP_SOURCE_SIGNAL:
				handle_signal(c);
				break;
			case LOOP_SOURCE_STDIN:
				read_stdin(c);
				break;
			case LOOP_SOURCE_API:
				vmm_api_server_dispatch(c->api, api_handle, c);
				break;
			case LOOP_SOURCE_VM_EXIT:
				if (c->vm)
					handle_vm_exit(c);
				break;
			default:
				break;
			}
		}
		push_pending(c);
		flush_serial(c, 1);
	}
	vm_teardown(c);
	return c->exit_code;
}

void controller_destroy(struct vmm_controller *c)
{
	if (!c)
		return;
	vm_teardown(c);
	vmm_api_server_stop(c->api);
	free_vm_cfg(c);
	tty_restore(c);
	if (c->sigfd >= 0)
		close(c->sigfd);
	if (c->epfd >= 0)
		close(c->epfd);
	free(c);
}
