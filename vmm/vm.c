/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/vm.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "common/log.h"
#include "devices/bus.h"
#include "devices/power.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "hv/hv.h"
#include "counters.h"
#include "pci-devices.h"
#include "vcpu.h"
#include "virtio-devices.h"
#include "vmm/acpi.h"
#include "vmm/boot.h"
#include "vmm/layout.h"

/* i8042 data..command ports; only the reset command is modelled. */
#define I8042_PORT_BASE 0x60
#define I8042_PORT_LEN 5
/* Unclaimed accesses are logged, but a guest probing ports must not flood
 * the log: this many lines, then silence. */
#define UNCLAIMED_LOG_LIMIT 32

struct vm {
	struct vmm_config const *cfg;
	struct hv *hv;
	struct hv_vm *hv_vm;
	struct guest_mem mem;

	struct bus pio_bus;
	struct bus mmio_bus;
	bool buses_ready;

	struct serial *serial;
	int serial_out_fd;  /* owned when serial is file/null */
	int serial_irq_fd;  /* eventfd bound to GSI 4 */
	struct irq_line serial_irq;
	struct rtc *rtc;
	struct power_dev *power;
	int ged_fd; /* eventfd bound to POWER_GED_GSI: the ACPI power button */

	struct vmm_pci pci;
	bool pci_ready;
	struct vmm_console_fds console;

	struct vcpu *vcpus;
	uint32_t nr_vcpus;
	uint32_t nr_vcpus_made;

	int kernel_fd;
	int initramfs_fd;
	struct boot_info boot;

	int exit_fd;
	_Atomic int exit_reason;
	atomic_uint unclaimed_logged;
};

static const char *const vm_exit_reason_names[] = {
	[VM_EXIT_NONE] = "none",	 [VM_EXIT_POWEROFF] = "power-off",
	[VM_EXIT_REBOOT] = "reboot",	 [VM_EXIT_ERROR] = "error",
	[VM_EXIT_SIGNAL] = "signal",
};

const char *vm_exit_reason_to_string(enum vm_exit_reason r)
{
	return (unsigned int)r < ARRAY_SIZE(vm_exit_reason_names) ? vm_exit_reason_names[r] : "?";
}

void vm_request_exit(struct vm *vm, enum vm_exit_reason reason)
{
	int expected = VM_EXIT_NONE;
	uint64_t one = 1;

	if (atomic_compare_exchange_strong(&vm->exit_reason, &expected, (int)reason))
		log_debug("vm: stop requested: %s", vm_exit_reason_to_string(reason));
	if (write(vm->exit_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn_errno(-errno, "vm: cannot signal the event loop");
}

enum vm_exit_reason vm_exit_reason(const struct vm *vm)
{
	return (enum vm_exit_reason)atomic_load(&vm->exit_reason);
}

int vm_exit_fd(const struct vm *vm)
{
	return vm->exit_fd;
}

struct serial *vm_serial(struct vm *vm)
{
	return vm->serial;
}

const struct guest_mem *vm_guest_mem(const struct vm *vm)
{
	return &vm->mem;
}

/* ---- exits from vCPU threads ---- */

static void vm_log_unclaimed(struct vm *vm, const char *kind, uint64_t addr, uint32_t size,
			     bool is_write)
{
	if (atomic_fetch_add(&vm->unclaimed_logged, 1) < UNCLAIMED_LOG_LIMIT ||
	    log_get_level() >= LOG_LEVEL_TRACE)
		log_debug("vm: unclaimed %s %s at %#" PRIx64 " size %u", kind,
			  is_write ? "write" : "read", addr, size);
}

static void vm_pio(void *opaque, uint16_t port, uint8_t *data, uint32_t size, bool is_write)
{
	struct vm *vm = opaque;
	bool claimed;

	claimed = is_write ? bus_write(&vm->pio_bus, port, data, size)
			   : bus_read(&vm->pio_bus, port, data, size);
	if (log_get_level() >= LOG_LEVEL_TRACE)
		log_trace("vm: port %s %#x size %u value %#x", is_write ? "write" : "read", port, size,
			  data[0]);
	if (is_write && vm->pci_ready)
		vmm_pci_apply_moves(&vm->pci);
	/* Port 0x80 is the POST/delay port every kernel writes to: not news. */
	if (!claimed && port != 0x80)
		vm_log_unclaimed(vm, "port", port, size, is_write);
}

static void vm_mmio(void *opaque, uint64_t addr, uint8_t *data, uint32_t size, bool is_write)
{
	struct vm *vm = opaque;
	bool claimed;

	claimed = is_write ? bus_write(&vm->mmio_bus, addr, data, size)
			   : bus_read(&vm->mmio_bus, addr, data, size);
	if (is_write && vm->pci_ready)
		vmm_pci_apply_moves(&vm->pci);
	if (!claimed)
		vm_log_unclaimed(vm, "mmio", addr, size, is_write);
}

/*
 * A triple fault resets the machine like a reboot does, but it is almost
 * always a guest bug or a VMM bug, and the guest printed nothing: leave the
 * state a developer needs to tell which.
 */
static void vm_log_triple_fault(struct vcpu *vcpu)
{
	struct hv_regs r;
	struct hv_sregs s;

	if (hv_vcpu_get_regs(vcpu->hv, &r) < 0 || hv_vcpu_get_sregs(vcpu->hv, &s) < 0) {
		log_warn("vcpu%u: triple fault (registers unavailable)", vcpu->index);
		return;
	}
	/* KVM on AMD reinitialises the VMCB before it reports the shutdown. */
	if (s.cs.selector == 0xf000 && r.rip == 0xfff0) {
		log_warn("vcpu%u: triple fault (state lost: the hypervisor reset the vCPU "
			 "before reporting it)",
			 vcpu->index);
		return;
	}
	log_warn("vcpu%u: triple fault: rip %#" PRIx64 " rsp %#" PRIx64 " rflags %#" PRIx64
		 " cr0 %#" PRIx64 " cr2 %#" PRIx64 " cr3 %#" PRIx64 " cr4 %#" PRIx64
		 " efer %#" PRIx64 " cs %#x idt %#" PRIx64 "/%#x gdt %#" PRIx64 "/%#x tr %#x",
		 vcpu->index, r.rip, r.rsp, r.rflags, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
		 s.cs.selector, s.idt.base, s.idt.limit, s.gdt.base, s.gdt.limit,
		 s.tr.selector);
}

bool vm_vcpu_handle_exit(struct vm *vm, struct vcpu *vcpu, enum hv_exit exit)
{
	struct hv_exit_info info;

	switch (exit) {
	case HV_EXIT_IO:
	case HV_EXIT_INTERRUPTED:
		return true;
	case HV_EXIT_SYSTEM_SHUTDOWN:
		vm_request_exit(vm, VM_EXIT_POWEROFF);
		return false;
	case HV_EXIT_SHUTDOWN: /* triple fault: what a PC does is reset */
		vm_log_triple_fault(vcpu);
		vm_request_exit(vm, VM_EXIT_REBOOT);
		return false;
	case HV_EXIT_SYSTEM_RESET:
		log_info("vcpu%u: guest reset (%s)", vcpu->index, hv_exit_to_string(exit));
		vm_request_exit(vm, VM_EXIT_REBOOT);
		return false;
	default:
		break;
	}
	hv_vcpu_get_exit_info(vcpu->hv, &info);
	log_error("vcpu%u: stopped on %s (exit reason %u, suberror %u, hardware reason %#" PRIx64 ")%s",
		  vcpu->index, hv_exit_to_string(exit), info.raw_reason, info.suberror,
		  info.hw_reason,
		  exit == HV_EXIT_INTERNAL_ERROR
			  ? ": the hypervisor could not run this guest (a PVM host runs only "
			    "PVM-enlightened kernels)"
			  : "");
	vm_request_exit(vm, VM_EXIT_ERROR);
	return false;
}

static void vm_power_event(void *opaque, enum power_event ev)
{
	struct vm *vm = opaque;

	vm_request_exit(vm, ev == POWER_EVENT_SHUTDOWN ? VM_EXIT_POWEROFF : VM_EXIT_REBOOT);
}

static int vm_serial_irq_trigger(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t one = 1;

	if (write(vm->serial_irq_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* ---- creation, one step per function, in the order vm_create runs them ---- */

static int vm_alloc_memory(struct vm *vm, struct error *err)
{
	struct layout_ram ram = layout_ram_split(vm->cfg->memory_size);
	int r;

	r = guest_mem_add_region(&vm->mem, 0, ram.low_size);
	if (r >= 0 && ram.high_size)
		r = guest_mem_add_region(&vm->mem, LAYOUT_RAM_64BIT_START, ram.high_size);
	if (r < 0)
		return error_set(err, r, "cannot allocate %" PRIu64 " MiB of guest memory",
				 vm->cfg->memory_size / MiB);
	return 0;
}

static int vm_map_memory(struct vm *vm, struct error *err)
{
	for (unsigned int i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_region *g = &vm->mem.regions[i];
		int r = hv_vm_set_memory(vm->hv_vm, i, g->gpa, g->size, g->hva);

		if (r < 0)
			return error_set(err, r, "cannot map guest memory into the VM");
	}
	return 0;
}

/*
 * There is no BIOS, but guests still jump to the reset vector: in a
 * hardware-reduced ACPI platform Linux prefers an EFI reboot and, without
 * EFI, falls back to machine_real_restart(), which lands at f000:fff0. A
 * real firmware resets the machine from there, so ours does too, through the
 * FADT reset register:  mov dx, POWER_PORT; mov al, POWER_RESET_VALUE;
 * out dx, al; 1: hlt; jmp 1b   (16-bit real mode code).
 */
static int vm_write_reset_vector(struct vm *vm)
{
	const uint8_t stub[] = {
		0xba, POWER_PORT & 0xff, POWER_PORT >> 8, /* mov dx, imm16 */
		0xb0, POWER_RESET_VALUE,		  /* mov al, imm8 */
		0xee,					  /* out dx, al */
		0xf4,					  /* hlt */
		0xeb, 0xfd,				  /* jmp hlt */
	};

	return guest_mem_write(&vm->mem, LAYOUT_RESET_VECTOR, stub, sizeof(stub));
}

/* ACPI tables, then kernel, initramfs and command line (the loader passes
 * the RSDP address to the kernel). Only guest memory is needed. */
static int vm_load_payload(struct vm *vm, struct error *err)
{
	struct acpi_config acpi = {
		.nr_vcpus = vm->nr_vcpus,
		.pci = true,
		.pci_ecam_base = LAYOUT_PCI_ECAM_START,
		.pci_ecam_size = LAYOUT_PCI_ECAM_SIZE,
		.pci_mmio32_base = LAYOUT_PCI_MMIO32_START,
		.pci_mmio32_size = LAYOUT_PCI_MMIO32_SIZE,
	};
	struct boot_request req = {
		.kernel_fd = vm->kernel_fd,
		.initramfs_fd = vm->initramfs_fd,
		.cmdline = vm->cfg->cmdline,
		.ram_size = vm->cfg->memory_size,
	};
	int r;

	layout_pci_mmio64(vm->cfg->memory_size, &acpi.pci_mmio64_base, &acpi.pci_mmio64_size);
	r = acpi_build_tables(&vm->mem, &acpi, &req.rsdp_addr);
	if (r < 0)
		return error_set(err, r, "cannot build the ACPI tables: %s", strerror(-r));
	r = vm_write_reset_vector(vm);
	if (r < 0)
		return error_set(err, r, "cannot write the reset vector");
	r = boot_load(&vm->mem, &req, &vm->boot, err);
	if (r < 0)
		return error_wrap(err, "--kernel '%s'", vm->cfg->kernel);
	log_info("vm: kernel loaded (%s), entry %#" PRIx64, boot_protocol_to_string(vm->boot.protocol),
		 vm->boot.entry);
	return 0;
}

static int vm_open_serial_output(struct vm *vm, struct error *err)
{
	const struct vmm_output *out = &vm->cfg->serial;

	switch (out->mode) {
	case VMM_OUTPUT_TTY:
		/* Our own non-blocking description of stdout: a stalled
		 * terminal or pipe must not stall the vCPU that writes THR. */
		vm->serial_out_fd = vmm_reopen_nonblocking(STDOUT_FILENO, O_WRONLY);
		if (vm->serial_out_fd < 0)
			return error_set(err, vm->serial_out_fd, "--serial tty: cannot use stdout");
		return vm->serial_out_fd;
	case VMM_OUTPUT_FILE:
		vm->serial_out_fd = open(out->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (vm->serial_out_fd < 0)
			return error_set(err, -errno, "--serial: cannot open '%s': %s", out->file,
					 strerror(errno));
		return vm->serial_out_fd;
	default: /* null: the device exists, its output is discarded */
		return -1;
	}
}

static int vm_setup_serial(struct vm *vm, struct error *err)
{
	int out_fd, r;

	if (vm->cfg->serial.mode == VMM_OUTPUT_OFF)
		return 0;
	out_fd = vm_open_serial_output(vm, err);
	if (out_fd < -1)
		return out_fd;
	vm->serial_irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->serial_irq_fd < 0)
		return error_set(err, -errno, "serial: eventfd: %s", strerror(errno));
	r = hv_vm_irqfd_assign(vm->hv_vm, vm->serial_irq_fd, SERIAL_IRQ_COM1);
	if (r < 0)
		return error_set(err, r, "serial: cannot bind its interrupt (GSI %d)",
				 SERIAL_IRQ_COM1);
	vm->serial_irq.trigger = vm_serial_irq_trigger;
	vm->serial_irq.opaque = vm;
	r = serial_create(out_fd, &vm->serial_irq, &vm->serial);
	if (r >= 0)
		r = bus_insert(&vm->pio_bus, serial_bus_device(vm->serial), SERIAL_PORT_COM1,
			       SERIAL_PORT_LEN);
	if (r < 0)
		return error_set(err, r, "serial: cannot create the device");
	return 0;
}

static int vm_setup_legacy_devices(struct vm *vm, struct error *err)
{
	int r;

	r = vm_setup_serial(vm, err);
	if (r < 0)
		return r;
	r = rtc_create(NULL, NULL, &vm->rtc);
	if (r >= 0)
		r = bus_insert(&vm->pio_bus, rtc_bus_device(vm->rtc), RTC_PORT_BASE, RTC_PORT_LEN);
	if (r < 0)
		return error_set(err, r, "cannot create the CMOS RTC");
	r = power_create(vm_power_event, vm, &vm->power);
	if (r >= 0)
		r = bus_insert(&vm->pio_bus, power_bus_device(vm->power), POWER_PORT,
			       POWER_PORT_LEN);
	if (r >= 0)
		r = bus_insert(&vm->pio_bus, power_i8042_bus_device(vm->power), I8042_PORT_BASE,
			       I8042_PORT_LEN);
	if (r < 0)
		return error_set(err, r, "cannot create the ACPI power device");
	vm->ged_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->ged_fd < 0)
		return error_set(err, -errno, "power button: eventfd: %s", strerror(errno));
	r = hv_vm_irqfd_assign(vm->hv_vm, vm->ged_fd, POWER_GED_GSI);
	if (r < 0) {
		close(vm->ged_fd);
		vm->ged_fd = -1;
		return error_set(err, r, "power button: cannot bind GSI %d", POWER_GED_GSI);
	}
	return 0;
}

int vm_power_button(struct vm *vm)
{
	uint64_t one = 1;

	/* An edge on the GED's GSI: its _EVT notifies the power button. */
	if (write(vm->ged_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static int vm_setup_vcpus(struct vm *vm, struct error *err)
{
	int r;

	r = hv_max_vcpus(vm->hv);
	if (r > 0 && vm->nr_vcpus > (uint32_t)r)
		return error_set(err, -EINVAL, "--cpus: %u vCPUs requested, the hypervisor allows %d",
				 vm->nr_vcpus, r);
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return error_set(err, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct hv_vcpu *hv_vcpu;

		r = hv_vcpu_create(vm->hv_vm, i, &hv_vcpu);
		if (r < 0)
			return error_set(err, r, "cannot create vCPU %u", i);
		vcpu_init(&vm->vcpus[i], vm, hv_vcpu, i);
		vm->nr_vcpus_made++;
		r = hv_vcpu_init_x86(hv_vcpu, vm->nr_vcpus);
		if (r < 0)
			return error_set(err, r, "cannot set up vCPU %u (CPUID, MSRs, LAPIC)", i);
	}
	return 0;
}

static int vm_open_payload(const char *path, const char *what, struct error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return error_set(err, -errno, "%s '%s': %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(err, -EINVAL, "%s '%s': not a regular file", what, path);
	}
	return fd;
}

/* The payload is opened before anything else so that a wrong path is
 * reported before a VM (and its memory) exists. */
static int vm_open_payloads(struct vm *vm, struct error *err)
{
	vm->kernel_fd = vm_open_payload(vm->cfg->kernel, "--kernel", err);
	if (vm->kernel_fd < 0)
		return vm->kernel_fd;
	if (vm->cfg->initramfs) {
		vm->initramfs_fd = vm_open_payload(vm->cfg->initramfs, "--initramfs", err);
		if (vm->initramfs_fd < 0)
			return vm->initramfs_fd;
	}
	return 0;
}

int vm_create(const struct vmm_config *cfg, struct vm **ret, struct error *err)
{
	struct hv_io_handler io = { .pio = vm_pio, .mmio = vm_mmio };
	struct vm *vm;
	int r;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return error_set(err, -ENOMEM, "out of memory");
	vm->cfg = cfg;
	vm->nr_vcpus = cfg->boot_vcpus;
	vm->serial_out_fd = -1;
	vm->serial_irq_fd = -1;
	vm->kernel_fd = -1;
	vm->initramfs_fd = -1;
	vm->console.out_fd = -1;
	vm->console.in_fd = -1;
	vm->ged_fd = -1;
	guest_mem_init(&vm->mem, cfg->memory_shared);
	vm->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_fd < 0) {
		r = error_set(err, -errno, "eventfd: %s", strerror(errno));
		goto fail;
	}

	/* 1. Everything that can be checked without a hypervisor: the payload
	 *    files, guest RAM around the 32-bit hole, ACPI tables, kernel. */
	r = vm_open_payloads(vm, err);
	if (r >= 0)
		r = vm_alloc_memory(vm, err);
	if (r >= 0)
		r = vm_load_payload(vm, err);
	if (r < 0)
		goto fail;
	/* 2. The hypervisor, an empty VM with its interrupt controllers, RAM. */
	r = hv_open(&vm->hv);
	if (r < 0) {
		error_set(err, r, "cannot open the hypervisor (/dev/kvm): %s", strerror(-r));
		goto fail;
	}
	r = hv_vm_create(vm->hv, &vm->hv_vm);
	if (r < 0) {
		error_set(err, r, "cannot create a VM: %s", strerror(-r));
		goto fail;
	}
	r = hv_vm_create_irqchip(vm->hv_vm);
	if (r < 0) {
		error_set(err, r, "cannot create the in-kernel interrupt controllers: %s",
			  strerror(-r));
		goto fail;
	}
	r = vm_map_memory(vm, err);
	if (r < 0)
		goto fail;
	/* 3. Address maps for port I/O and MMIO exits. */
	r = bus_init(&vm->pio_bus, "pio");
	if (r >= 0) {
		r = bus_init(&vm->mmio_bus, "mmio");
		if (r < 0)
			bus_destroy(&vm->pio_bus);
	}
	if (r < 0) {
		error_set(err, r, "cannot create the device buses");
		goto fail;
	}
	vm->buses_ready = true;
	io.opaque = vm;
	hv_vm_set_io_handler(vm->hv_vm, &io);
	/* 4. Legacy platform devices: COM1, CMOS RTC, ACPI power/reset. */
	r = vm_setup_legacy_devices(vm, err);
	if (r < 0)
		goto fail;
	/* 5. PCI host bridge and the virtio devices: disks, NICs, rng, console. */
	r = vmm_pci_init(&vm->pci, vm->hv_vm, &vm->pio_bus, &vm->mmio_bus, cfg->memory_size, err);
	vm->pci_ready = true;
	if (r >= 0)
		r = vmm_virtio_devices_create(&vm->pci, cfg, &vm->mem, &vm->console, err);
	if (r < 0)
		goto fail;
	/* 6. vCPUs (threads start at boot). */
	r = vm_setup_vcpus(vm, err);
	if (r < 0)
		goto fail;

	*ret = vm;
	return 0;
fail:
	vm_destroy(vm);
	return r;
}

int vm_boot(struct vm *vm, struct error *err)
{
	int r;

	r = boot_setup_bsp(vm->vcpus[0].hv, &vm->mem, &vm->boot);
	if (r < 0)
		return error_set(err, r, "cannot set up the boot vCPU: %s", strerror(-r));
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		r = vcpu_start(&vm->vcpus[i]);
		if (r < 0)
			return error_set(err, r, "cannot start vCPU %u: %s", i, strerror(-r));
	}
	return 0;
}

int vm_pause(struct vm *vm)
{
	int r;

	for (uint32_t i = 0; i < vm->nr_vcpus_made; i++) {
		r = vcpu_pause(&vm->vcpus[i]);
		if (r < 0)
			return r;
	}
	for (unsigned int i = 0; vm->pci_ready && i < vm->pci.nr_devs; i++)
		virtio_dev_pause(vm->pci.devs[i].vdev);
	return 0;
}

int vm_resume(struct vm *vm)
{
	int r;

	/* Devices first: a resumed vCPU may kick a queue at once. */
	for (unsigned int i = 0; vm->pci_ready && i < vm->pci.nr_devs; i++) {
		r = virtio_dev_resume(vm->pci.devs[i].vdev);
		if (r < 0)
			return r;
	}
	for (uint32_t i = 0; i < vm->nr_vcpus_made; i++) {
		r = vcpu_resume(&vm->vcpus[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int vm_counters(struct vm *vm, struct vmm_counter **ret, unsigned int *ret_n)
{
	struct virtio_dev *devs[VMM_PCI_MAX_DEVICES];
	unsigned int n = 0;

	for (unsigned int i = 0; vm->pci_ready && i < vm->pci.nr_devs; i++)
		devs[n++] = vm->pci.devs[i].vdev;
	return vmm_counters_collect(devs, n, ret, ret_n);
}

uint64_t vm_memory_size(const struct vm *vm)
{
	return guest_mem_total(&vm->mem);
}

void vm_stop(struct vm *vm)
{
	for (uint32_t i = 0; i < vm->nr_vcpus_made; i++)
		vcpu_stop(&vm->vcpus[i]);
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	vm_stop(vm);
	for (uint32_t i = 0; i < vm->nr_vcpus_made; i++)
		vcpu_fini(&vm->vcpus[i]);
	free(vm->vcpus);
	/* Devices stop (workers joined) before the memory they use goes. */
	if (vm->pci_ready)
		vmm_pci_fini(&vm->pci);
	vmm_console_fds_close(&vm->console);
	if (vm->buses_ready) {
		bus_destroy(&vm->pio_bus);
		bus_destroy(&vm->mmio_bus);
	}
	serial_destroy(vm->serial);
	rtc_destroy(vm->rtc);
	power_destroy(vm->power);
	if (vm->serial_irq_fd >= 0) {
		if (vm->hv_vm && hv_vm_irqfd_deassign(vm->hv_vm, vm->serial_irq_fd, SERIAL_IRQ_COM1) < 0)
			log_debug("vm: serial irqfd was not bound");
		close(vm->serial_irq_fd);
	}
	if (vm->serial_out_fd >= 0)
		close(vm->serial_out_fd);
	if (vm->ged_fd >= 0) {
		if (hv_vm_irqfd_deassign(vm->hv_vm, vm->ged_fd, POWER_GED_GSI) < 0)
			log_debug("vm: power button irqfd was not bound");
		close(vm->ged_fd);
	}
	hv_vm_destroy(vm->hv_vm);
	hv_close(vm->hv);
	guest_mem_destroy(&vm->mem);
	if (vm->exit_fd >= 0)
		close(vm->exit_fd);
	if (vm->kernel_fd >= 0)
		close(vm->kernel_fd);
	if (vm->initramfs_fd >= 0)
		close(vm->initramfs_fd);
	free(vm);
}
