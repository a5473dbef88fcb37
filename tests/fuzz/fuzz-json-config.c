/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vm.create's VmConfig JSON on arbitrary bytes. Whatever it accepts must
 * survive the round trip (config -> JSON -> the same config accepted again)
 * and render as vm.info; nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_config cfg, again;
	struct error err;
	char *json, *json2, *info;

	if (vmm_config_from_json((const char *)data, size, &cfg, &err) < 0) {
		if (!err.msg[0] || err.code >= 0)
			__builtin_trap();
		return 0;
	}
	json = vmm_config_to_json(&cfg);
	if (!json || vmm_config_from_json(json, strlen(json), &again, &err) < 0)
		__builtin_trap();
	json2 = vmm_config_to_json(&again);
	if (!json2 || strcmp(json, json2) != 0)
		__builtin_trap();
	info = vmm_api_json_info(VMM_VM_CREATED, &cfg, cfg.memory_size);
	if (!info)
		__builtin_trap();
	free(info);
	free(json2);
	free(json);
	vmm_config_free(&again);
	vmm_config_free(&cfg);
	return 0;
}
