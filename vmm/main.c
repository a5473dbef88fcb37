/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nacelle-vmm: parse the command line, create and boot the VM, supervise it
 * until it stops, tear it down. Exit codes: 0 guest powered off (or the VMM
 * was asked to stop by SIGINT/SIGTERM and tore down cleanly), 1 error,
 * 3 the guest asked for a reboot (nacelle-vmm exits; its supervisor decides).
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "devices/serial.h"
#include "vcpu.h"
#include "vmm/config.h"
#include "vmm/event-loop.h"
#include "vmm/vm.h"

/* Queued serial output gets this many flush attempts after the guest stops. */
#define FINAL_FLUSH_TRIES 50

static int fail(const struct error *err)
{
	fprintf(stderr, "nacelle-vmm: error: %s\n", err->msg[0] ? err->msg : strerror(-err->code));
	return VMM_EXIT_ERROR;
}

static int setup_logging(const struct vmm_config *cfg, struct error *err)
{
	static const enum log_level levels[] = { LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG,
						 LOG_LEVEL_TRACE };
	int r;

	log_set_ident("nacelle-vmm");
	log_set_level(levels[MIN((unsigned int)cfg->verbosity, ARRAY_SIZE(levels) - 1)]);
	if (!cfg->log_file)
		return 0;
	r = log_set_file(cfg->log_file);
	if (r < 0)
		return error_set(err, r, "--log-file '%s': %s", cfg->log_file, strerror(-r));
	return 0;
}

static void final_flush(struct vm *vm)
{
	struct serial *serial = vm_serial(vm);

	for (int i = 0; serial && i < FINAL_FLUSH_TRIES; i++) {
		if (serial_flush(serial) <= 0)
			break; /* all written, or the sink is gone */
		usleep(10000);
	}
}

static int exit_code(int reason)
{
	switch (reason) {
	case VM_EXIT_POWEROFF:
	case VM_EXIT_SIGNAL:
		return VMM_EXIT_OK;
	case VM_EXIT_REBOOT:
		return VMM_EXIT_REBOOT;
	default:
		return VMM_EXIT_ERROR;
	}
}

int main(int argc, char *argv[])
{
	struct vmm_config cfg;
	struct error err = { 0 };
	struct vm *vm = NULL;
	int reason, r;

	vmm_config_init(&cfg);
	r = vmm_cli_parse(argc, argv, &cfg, &err);
	if (r < 0) {
		vmm_config_free(&cfg);
		return fail(&err);
	}
	if (cfg.show_help) {
		vmm_cli_usage(stdout);
		vmm_config_free(&cfg);
		return VMM_EXIT_OK;
	}
	if (cfg.show_version) {
		printf("nacelle-vmm %s\n", NACELLE_VERSION);
		vmm_config_free(&cfg);
		return VMM_EXIT_OK;
	}

	r = setup_logging(&cfg, &err);
	if (r >= 0)
		r = event_loop_block_signals();
	if (r >= 0)
		r = vcpu_install_kick_handler();
	if (r < 0) {
		if (!err.code)
			error_set(&err, r, "cannot set up signal handling");
		vmm_config_free(&cfg);
		return fail(&err);
	}

	r = vm_create(&cfg, &vm, &err);
	if (r >= 0)
		r = vm_boot(vm, &err);
	if (r < 0) {
		vm_destroy(vm);
		vmm_config_free(&cfg);
		return fail(&err);
	}

	reason = event_loop_run(vm, &cfg);
	vm_stop(vm);
	final_flush(vm);
	if (reason >= 0)
		log_info("vmm: guest stopped: %s", vm_exit_reason_to_string(reason));
	vm_destroy(vm);
	vmm_config_free(&cfg);
	return reason < 0 ? VMM_EXIT_ERROR : exit_code(reason);
}
