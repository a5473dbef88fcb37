/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Apply the boot CPU state from cpu-state.c to a vCPU. Kept apart so the
 * unit test links the state computation without executing hypervisor calls.
 */
#include "boot-internal.h"

#include "common/log.h"
#include "hv/hv.h"

int boot_setup_bsp(struct hv_vcpu *vcpu, struct guest_mem *mem, const struct boot_info *info)
{
	struct hv_sregs sregs;
	struct hv_regs regs;
	int r;

	/* Start from the vCPU's reset state so apic_base and the LDT stay as set up. */
	r = hv_vcpu_get_sregs(vcpu, &sregs);
	if (r < 0)
		return log_debug_errno(r, "reading special registers");
	r = boot_cpu_sregs(mem, info, &sregs);
	if (r < 0)
		return log_debug_errno(r, "writing boot GDT/page tables");
	r = hv_vcpu_set_sregs(vcpu, &sregs);
	if (r < 0)
		return log_debug_errno(r, "setting special registers");

	boot_cpu_regs(info, &regs);
	r = hv_vcpu_set_regs(vcpu, &regs);
	if (r < 0)
		return log_debug_errno(r, "setting registers");
	return 0;
}
