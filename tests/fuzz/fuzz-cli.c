/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command-line parser (options, key=value lists, sizes, MACs, IPs) on
 * arbitrary argument vectors: the input is split at NUL bytes into argv.
 * Must never crash or leak, whatever it accepts or refuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"

#define FUZZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	char *argv[FUZZ_MAX_ARGS + 2];
	struct vmm_config cfg;
	struct error err = { 0 };
	int argc = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = (char *)"nacelle-vmm";
	for (size_t i = 0; i <= size && argc <= FUZZ_MAX_ARGS;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	vmm_config_init(&cfg);
	(void)!vmm_cli_parse(argc, argv, &cfg, &err);
	vmm_config_free(&cfg);
	free(buf);
	return 0;
}
