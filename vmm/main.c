/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nacelle-vmm: parse the command line, set up logging and signals, hand the
 * rest to the controller (the VM of the command line, the REST API, or
 * both). Exit codes: 0 guest powered off, or stopped by SIGINT/SIGTERM/SIGHUP
 * or vmm.shutdown after a clean teardown; 1 error; 3 the guest asked for a
 * reboot (nacelle-vmm exits; its supervisor decides).
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "vcpu.h"
#include "vmm/config.h"
#include "vmm/controller.h"
#include "vmm/vm.h"

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

int main(int argc, char *argv[])
{
	struct vmm_controller *controller = NULL;
	struct vmm_config cfg;
	struct error err = { 0 };
	int r, code;

	vmm_config_init(&cfg);
	r = vmm_cli_parse(argc, argv, &cfg, &err);
	if (r < 0) {
		vmm_config_free(&cfg);
		return fail(&err);
	}
	if (cfg.show_help || cfg.show_version) {
		if (cfg.show_help)
			vmm_cli_usage(stdout);
		else
			printf("nacelle-vmm %s\n", NACELLE_VERSION);
		vmm_config_free(&cfg);
		return VMM_EXIT_OK;
	}

	r = setup_logging(&cfg, &err);
	/* Signals are blocked before any thread exists, so every thread
	 * inherits the mask and only the controller's signalfd sees them. */
	if (r >= 0 && (r = controller_block_signals()) < 0)
		error_set(&err, r, "cannot block signals");
	if (r >= 0 && (r = vcpu_install_kick_handler()) < 0)
		error_set(&err, r, "cannot install the vCPU kick handler");
	if (r >= 0)
		r = controller_create(&cfg, &controller, &err);
	if (r >= 0)
		r = controller_boot_cli_vm(controller, &err);
	if (r < 0) {
		controller_destroy(controller);
		vmm_config_free(&cfg);
		return fail(&err);
	}

	code = controller_run(controller);
	controller_destroy(controller);
	vmm_config_free(&cfg);
	return code;
}
