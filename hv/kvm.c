/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KVM backend: /dev/kvm and the VM fd; vCPUs are in kvm-vcpu.c. See
 * Linux Documentation/virt/kvm/api.rst for each ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "kvm-internal.h"

#define KVM_DEV_PATH "/dev/kvm"
/* Where the VMX real-mode helpers live: the top of 32-bit space below the
 * BIOS, out of the guest RAM and MMIO ranges the VMM hands out (as kvmtool,
 * Firecracker). Needed on Intel without unrestricted guest; harmless on AMD. */
#define KVM_TSS_ADDR 0xfffbd000UL
#define KVM_IDENTITY_MAP_ADDR UINT64_C(0xfffbc000)
/* Number of GSIs KVM accepts in a routing table (KVM_MAX_IRQ_ROUTES). */
#define KVM_GSI_ROUTES_MAX 4096u
#define KVM_IOAPIC_PINS 24u
#define KVM_PIC_PINS 16u

int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static int kvm_check_cap(int fd, long cap)
{
	return kvm_ioctl(fd, KVM_CHECK_EXTENSION, (void *)cap);
}

/* ---- VM ---- */

static void kvm_vm_destroy(struct hv_vm *v)
{
	struct kvm_vm *vm = to_kvm_vm(v);

	if (vm->fd >= 0)
		close(vm->fd);
	pthread_mutex_destroy(&vm->routes_lock);
	free(vm->msi_routes);
	free(vm);
}

static int kvm_vm_set_memory(struct hv_vm *v, uint32_t slot, uint64_t gpa, uint64_t size,
			     void *hva)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size, /* 0 deletes the slot */
		.userspace_addr = (uintptr_t)hva,
	};
	int r;

	if (!range_ok(gpa, size))
		return -EINVAL;
	r = kvm_ioctl(to_kvm_vm(v)->fd, KVM_SET_USER_MEMORY_REGION, &region);
	if (r < 0)
		return log_debug_errno(r, "KVM_SET_USER_MEMORY_REGION slot %u gpa %#llx size %#llx",
				       slot, (unsigned long long)gpa, (unsigned long long)size);
	return 0;
}

static int kvm_vm_create_irqchip(struct hv_vm *v)
{
	struct kvm_vm *vm = to_kvm_vm(v);
	int r;

	/* LAPICs, I/O APIC and PIC in the kernel. No PIT (KVM_CREATE_PIT2):
	 * guests time with kvmclock and the TSC-deadline LAPIC timer, as
	 * under Cloud Hypervisor. */
	r = kvm_ioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL);
	if (r < 0)
		return log_debug_errno(r, "KVM_CREATE_IRQCHIP");
	vm->irqchip = true;
	return 0;
}

static int kvm_vm_set_irq_line(struct hv_vm *v, uint32_t gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	int r;

	r = kvm_ioctl(to_kvm_vm(v)->fd, KVM_IRQ_LINE, &irq);
	if (r < 0)
		return log_debug_errno(r, "KVM_IRQ_LINE gsi %u", gsi);
	return 0;
}

static int kvm_vm_irqfd(struct hv_vm *v, int fd, uint32_t gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (__u32)fd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};
	int r;

	if (fd < 0)
		return -EBADF;
	r = kvm_ioctl(to_kvm_vm(v)->fd, KVM_IRQFD, &irqfd);
	if (r < 0)
		return log_debug_errno(r, "KVM_IRQFD %s fd %d gsi %u",
				       assign ? "assign" : "deassign", fd, gsi);
	return 0;
}

static int kvm_vm_ioeventfd(struct hv_vm *v, int fd, uint64_t addr, uint32_t len, bool pio,
			    int64_t datamatch, bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	int r;

	if (fd < 0)
		return -EBADF;
	/* Length 0 means "any width" to KVM and cannot carry a value to match. */
	if ((len != 0 && len != 1 && len != 2 && len != 4 && len != 8) ||
	    (len == 0 && datamatch >= 0) || (pio && addr > UINT16_MAX))
		return -EINVAL;
	if (datamatch >= 0) {
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		io.datamatch = (uint64_t)datamatch;
	}
	r = kvm_ioctl(to_kvm_vm(v)->fd, KVM_IOEVENTFD, &io);
	if (r < 0)
		return log_debug_errno(r, "KVM_IOEVENTFD %s fd %d %s %#llx len %u",
				       assign ? "assign" : "deassign", fd, pio ? "port" : "mmio",
				       (unsigned long long)addr, len);
	return 0;
}

static void kvm_route_irqchip(struct kvm_irq_routing_entry *e, uint32_t gsi, uint32_t chip,
			      uint32_t pin)
{
	*e = (struct kvm_irq_routing_entry){
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = chip, .pin = pin },
	};
}

/*
 * KVM_SET_GSI_ROUTING replaces the whole table, so every commit rebuilds it:
 * KVM's own default pin routes (kvm_setup_default_irq_routing: GSI n is
 * I/O APIC pin n, and GSIs 0-15 also drive the PICs) followed by the MSI
 * routes. GSI 2 gets no PIC route: master pin 2 is the cascade from the
 * slave, not a device line (kvmtool leaves it out too).
 * Called with routes_lock held.
 */
static int kvm_vm_commit_routes(struct kvm_vm *vm)
{
	_cleanup_free_ struct kvm_irq_routing *t = NULL;
	uint32_t n = 0, max = KVM_IOAPIC_PINS + KVM_PIC_PINS + vm->nr_msi_routes;
	int r;

	t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	for (uint32_t gsi = 0; gsi < KVM_IOAPIC_PINS; gsi++)
		kvm_route_irqchip(&t->entries[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi);
	for (uint32_t gsi = 0; gsi < KVM_PIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		kvm_route_irqchip(&t->entries[n++], gsi,
				  gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8);
	}
	for (uint32_t i = 0; i < vm->nr_msi_routes; i++) {
		const struct kvm_msi_route *m = &vm->msi_routes[i];

		t->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = m->gsi,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = {
				.address_lo = (uint32_t)m->addr,
				.address_hi = (uint32_t)(m->addr >> 32),
				.data = m->data,
			},
		};
	}
	t->nr = n;
	r = kvm_ioctl(vm->fd, KVM_SET_GSI_ROUTING, t);
	if (r < 0)
		return log_debug_errno(r, "KVM_SET_GSI_ROUTING (%u entries)", n);
	return 0;
}

static int kvm_msi_route_find(const struct kvm_vm *vm, uint32_t gsi)
{
	for (uint32_t i = 0; i < vm->nr_msi_routes; i++)
		if (vm->msi_routes[i].gsi == gsi)
			return (int)i;
	return -ENOENT;
}

static int kvm_vm_msi_route_set_locked(struct kvm_vm *vm, uint32_t gsi, uint64_t addr,
				       uint32_t data)
{
	struct kvm_msi_route route = { .gsi = gsi, .addr = addr, .data = data }, old;
	int i, r;

	i = kvm_msi_route_find(vm, gsi);
	if (i >= 0) {
		old = vm->msi_routes[i];
		vm->msi_routes[i] = route;
		r = kvm_vm_commit_routes(vm);
		if (r < 0)
			vm->msi_routes[i] = old;
		return r;
	}

	struct kvm_msi_route *grown = reallocarray(vm->msi_routes, vm->nr_msi_routes + 1,
						   sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	vm->msi_routes = grown;
	vm->msi_routes[vm->nr_msi_routes++] = route;
	r = kvm_vm_commit_routes(vm);
	if (r < 0)
		vm->nr_msi_routes--;
	return r;
}

static int kvm_vm_msi_route_set(struct hv_vm *v, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct kvm_vm *vm = to_kvm_vm(v);
	int r;

	if (gsi < HV_MSI_GSI_BASE || gsi >= KVM_GSI_ROUTES_MAX)
		return -EINVAL;
	pthread_mutex_lock(&vm->routes_lock);
	r = kvm_vm_msi_route_set_locked(vm, gsi, addr, data);
	pthread_mutex_unlock(&vm->routes_lock);
	return r;
}

static int kvm_vm_msi_route_remove_locked(struct kvm_vm *vm, uint32_t gsi)
{
	struct kvm_msi_route removed;
	int i, r;

	i = kvm_msi_route_find(vm, gsi);
	if (i < 0)
		return i;
	/* Order does not matter to KVM: move the last route into the hole. */
	removed = vm->msi_routes[i];
	vm->msi_routes[i] = vm->msi_routes[--vm->nr_msi_routes];
	r = kvm_vm_commit_routes(vm);
	if (r < 0) {
		vm->msi_routes[vm->nr_msi_routes++] = vm->msi_routes[i];
		vm->msi_routes[i] = removed;
	}
	return r;
}

static int kvm_vm_msi_route_remove(struct hv_vm *v, uint32_t gsi)
{
	struct kvm_vm *vm = to_kvm_vm(v);
	int r;

	pthread_mutex_lock(&vm->routes_lock);
	r = kvm_vm_msi_route_remove_locked(vm, gsi);
	pthread_mutex_unlock(&vm->routes_lock);
	return r;
}

static int kvm_vm_signal_msi(struct hv_vm *v, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};
	int r;

	/* > 0 delivered, 0 blocked by the guest (masked): both are success. */
	r = kvm_ioctl(to_kvm_vm(v)->fd, KVM_SIGNAL_MSI, &msi);
	if (r < 0)
		return log_debug_errno(r, "KVM_SIGNAL_MSI addr %#llx data %#x",
				       (unsigned long long)addr, data);
	return 0;
}

static const struct hv_vm_ops kvm_vm_ops = {
	.destroy = kvm_vm_destroy,
	.set_memory = kvm_vm_set_memory,
	.create_irqchip = kvm_vm_create_irqchip,
	.set_irq_line = kvm_vm_set_irq_line,
	.irqfd = kvm_vm_irqfd,
	.ioeventfd = kvm_vm_ioeventfd,
	.msi_route_set = kvm_vm_msi_route_set,
	.msi_route_remove = kvm_vm_msi_route_remove,
	.signal_msi = kvm_vm_signal_msi,
	.vcpu_create = kvm_vcpu_create,
};

/* Intel's real-mode helper areas. Some KVM flavours (e.g. PVM) lack them,
 * and a guest that never leaves long mode has no use for them there. */
static int kvm_vm_setup_x86_areas(struct kvm_vm *vm)
{
	uint64_t identity = KVM_IDENTITY_MAP_ADDR;
	int r;

	r = kvm_ioctl(vm->fd, KVM_SET_TSS_ADDR, (void *)KVM_TSS_ADDR);
	if (r == -ENOTTY || r == -EOPNOTSUPP)
		log_debug_errno(r, "KVM_SET_TSS_ADDR unsupported, continuing");
	else if (r < 0)
		return log_debug_errno(r, "KVM_SET_TSS_ADDR");

	r = kvm_ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &identity);
	if (r == -ENOTTY || r == -EINVAL || r == -EOPNOTSUPP)
		log_debug_errno(r, "KVM_SET_IDENTITY_MAP_ADDR unsupported, continuing");
	else if (r < 0)
		return log_debug_errno(r, "KVM_SET_IDENTITY_MAP_ADDR");
	return 0;
}

static int kvm_vm_create(struct hv *h, struct hv_vm **ret)
{
	struct kvm_hv *hv = container_of(h, struct kvm_hv, base);
	struct kvm_vm *vm;
	int r;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->base.ops = &kvm_vm_ops;
	vm->hv = hv;
	pthread_mutex_init(&vm->routes_lock, NULL);
	/* Machine type 0: the default x86 VM. */
	vm->fd = kvm_ioctl(hv->fd, KVM_CREATE_VM, (void *)0);
	if (vm->fd < 0) {
		r = log_debug_errno(vm->fd, "KVM_CREATE_VM");
		goto destroy;
	}
	r = kvm_vm_setup_x86_areas(vm);
	if (r < 0)
		goto destroy;
	*ret = &vm->base;
	return 0;

destroy:
	kvm_vm_destroy(&vm->base);
	return r;
}

/* ---- hypervisor ---- */

static void kvm_hv_close(struct hv *h)
{
	struct kvm_hv *hv = container_of(h, struct kvm_hv, base);

	if (hv->fd >= 0)
		close(hv->fd);
	free(hv);
}

static int kvm_hv_max_vcpus(struct hv *h)
{
	struct kvm_hv *hv = container_of(h, struct kvm_hv, base);
	int r;

	r = kvm_check_cap(hv->fd, KVM_CAP_MAX_VCPUS);
	if (r <= 0)
		r = kvm_check_cap(hv->fd, KVM_CAP_NR_VCPUS);
	/* api.rst: without KVM_CAP_NR_VCPUS, assume 4. */
	return r > 0 ? r : 4;
}

static const struct hv_ops kvm_hv_ops = {
	.name = "kvm",
	.close = kvm_hv_close,
	.max_vcpus = kvm_hv_max_vcpus,
	.vm_create = kvm_vm_create,
};

#define KVM_CAP(c) { c, #c }
static const struct {
	long cap;
	const char *name;
} kvm_required_caps[] = {
	KVM_CAP(KVM_CAP_IRQCHIP),	  KVM_CAP(KVM_CAP_IRQFD),
	KVM_CAP(KVM_CAP_IOEVENTFD),	  KVM_CAP(KVM_CAP_USER_MEMORY),
	KVM_CAP(KVM_CAP_IMMEDIATE_EXIT), KVM_CAP(KVM_CAP_IRQ_ROUTING),
	KVM_CAP(KVM_CAP_SIGNAL_MSI),
};

static int kvm_hv_probe(struct kvm_hv *hv)
{
	int r;

	r = kvm_ioctl(hv->fd, KVM_GET_API_VERSION, NULL);
	if (r < 0)
		return log_debug_errno(r, "KVM_GET_API_VERSION");
	if (r != KVM_API_VERSION)
		return log_debug_errno(-EPROTONOSUPPORT, "KVM API version %d, need %d", r,
				       KVM_API_VERSION);
	for (size_t i = 0; i < ARRAY_SIZE(kvm_required_caps); i++) {
		r = kvm_check_cap(hv->fd, kvm_required_caps[i].cap);
		if (r <= 0)
			return log_debug_errno(-EOPNOTSUPP, "KVM lacks %s",
					       kvm_required_caps[i].name);
	}
	r = kvm_ioctl(hv->fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (r < 0)
		return log_debug_errno(r, "KVM_GET_VCPU_MMAP_SIZE");
	if ((size_t)r < sizeof(struct kvm_run))
		return log_debug_errno(-EPROTO, "kvm_run area of %d bytes is too small", r);
	hv->run_size = (uint32_t)r;
	hv->tsc_deadline = kvm_check_cap(hv->fd, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	return 0;
}

int kvm_hv_open(struct hv **ret)
{
	struct kvm_hv *hv;
	int r;

	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->base.ops = &kvm_hv_ops;
	hv->fd = open(KVM_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (hv->fd < 0) {
		r = log_debug_errno(-errno, "open %s", KVM_DEV_PATH);
		goto close;
	}
	r = kvm_hv_probe(hv);
	if (r < 0)
		goto close;
	*ret = &hv->base;
	return 0;

close:
	kvm_hv_close(&hv->base);
	return r;
}
