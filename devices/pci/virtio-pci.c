/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio 1.x PCI transport (virtio 1.x, 4.1), modern only.
 *
 * BAR0 (64-bit, non-prefetchable, VIRTIO_PCI_BAR_SIZE) holds every structure:
 *
 *   0x00000  common configuration (0x38 bytes, virtio 1.x 4.1.4.3)
 *   0x01000  ISR status (1 byte, read-to-clear)
 *   0x02000  device-specific configuration (config_size bytes, <= 4 KiB)
 *   0x03000  notifications: queue q at 0x3000 + q * VIRTIO_PCI_NOTIFY_MULTIPLIER
 *   0x08000  MSI-X table (16 bytes per vector; room for MSIX_MAX_VECTORS)
 *   0x48000  MSI-X PBA
 *
 * the same offsets Cloud Hypervisor uses, so guests see a familiar layout.
 * Non-prefetchable because these are registers with side effects (ISR read
 * clears); that also lets the VMM place the BAR in either PCI window, as a
 * non-prefetchable BAR cannot be claimed inside a prefetchable window.
 *
 * Locking: the common configuration is handled under vdev->lock, which the
 * virtio layer makes recursive for exactly this (its own entry points take it
 * again). PCI configuration space is under vp->lock. The interrupt path
 * (signal_queue/signal_config, called on the device's worker thread) takes
 * neither: reset holds vdev->lock while it joins that worker.
 */
#include "devices/virtio-pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "pci-regs.h"
#include "virtio-pci-internal.h"

/* Guest misbehaviour: one debug line per device, never one per access. */
void vp_log_bad_access(struct virtio_pci *vp, const char *what, uint64_t offset, uint32_t size)
{
	if (!__atomic_exchange_n(&vp->bad_access_logged, true, __ATOMIC_RELAXED))
		log_debug("virtio-pci: %s: ignoring %s at BAR0+%#llx size %u "
			  "(further ones not logged)",
			  vp->vdev->name, what, (unsigned long long)offset, size);
}

/* BAR0 ---------------------------------------------------------------- */

static size_t vp_pba_size(const struct virtio_pci *vp)
{
	return ((size_t)vp->msix.nr_vectors + 63) / 64 * 8;
}

static void vp_kick(struct virtio_pci *vp, uint16_t queue)
{
	uint64_t one = 1;
	int fd = vp->vdev->kick_fds[queue];

	/* Non-blocking eventfd: only a counter overflow could fail, and then it is set anyway. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		vp_log_bad_access(vp, "notify (eventfd write failed)", queue, 0);
}

/* size is 1..8 and [off, off + size) lies in BAR0 (the bus checks). */
static void vp_bar_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t size,
			  bool write)
{
	struct virtio_dev *vdev = vp->vdev;
	uint64_t rel;

	if (!write)
		memset(data, 0, size);
	if (off >= VIRTIO_PCI_BAR_SIZE || size > VIRTIO_PCI_BAR_SIZE - off)
		return;

	if (off < VP_COMMON_OFFSET + VP_REGION_SIZE) {
		vp_common_access(vp, off - VP_COMMON_OFFSET, data, size, write);
	} else if (off < VP_ISR_OFFSET + VP_REGION_SIZE) {
		rel = off - VP_ISR_OFFSET;
		if (rel != 0 || size != 1)
			vp_log_bad_access(vp, "ISR access", off, size);
		else if (!write)
			data[0] = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_ACQ_REL);
	} else if (off < VP_DEVICE_OFFSET + VP_REGION_SIZE) {
		rel = off - VP_DEVICE_OFFSET;
		/* virtio_dev_config_* check the range against config_size. */
		if (write)
			virtio_dev_config_write(vdev, (uint32_t)rel, data, size);
		else
			virtio_dev_config_read(vdev, (uint32_t)rel, data, size);
	} else if (off < VP_NOTIFY_OFFSET + VP_REGION_SIZE) {
		rel = off - VP_NOTIFY_OFFSET;
		/* Any write in queue q's slot is a notification for q; reads are 0. */
		if (write && rel / VIRTIO_PCI_NOTIFY_MULTIPLIER < vdev->nr_queues)
			vp_kick(vp, (uint16_t)(rel / VIRTIO_PCI_NOTIFY_MULTIPLIER));
	} else if (off >= VP_MSIX_TABLE_OFFSET &&
		   off - VP_MSIX_TABLE_OFFSET < (uint64_t)vp->msix.nr_vectors * MSIX_ENTRY_SIZE) {
		rel = off - VP_MSIX_TABLE_OFFSET;
		if (write)
			msix_table_write(&vp->msix, rel, data, size);
		else
			msix_table_read(&vp->msix, rel, data, size);
	} else if (off >= VP_MSIX_PBA_OFFSET && off - VP_MSIX_PBA_OFFSET < vp_pba_size(vp)) {
		/* The PBA is read-only (PCI 3.0 6.8.2.10). */
		if (!write)
			msix_pba_read(&vp->msix, off - VP_MSIX_PBA_OFFSET, data, size);
	} else {
		vp_log_bad_access(vp, write ? "write to a hole" : "read of a hole", off, size);
	}
}

static void vp_bar_read(struct bus_device *d, uint64_t offset, uint8_t *data, uint32_t size)
{
	vp_bar_access(container_of(d, struct virtio_pci, bar), offset, data, size, false);
}

static void vp_bar_write(struct bus_device *d, uint64_t offset, const uint8_t *data,
			 uint32_t size)
{
	/* Writes never store into data; the cast lets reads and writes share a path. */
	vp_bar_access(container_of(d, struct virtio_pci, bar), offset, (uint8_t *)data, size,
		      true);
}

static const struct bus_device_ops vp_bar_ops = {
	.read = vp_bar_read,
	.write = vp_bar_write,
};

/* PCI configuration space ---------------------------------------------- */

static bool overlaps(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * VIRTIO_PCI_CAP_PCI_CFG (virtio 1.x 4.1.4.9): an access to pci_cfg_data is
 * an access of cap.length bytes at cap.offset in the BAR cap.bar names.
 * Only BAR0 exists; a length other than 1/2/4, a misaligned offset or one
 * outside BAR0 does nothing (a read then returns what the field held).
 */
static void vp_cfg_cap_access(struct virtio_pci *vp, bool write)
{
	uint8_t buf[4];
	uint32_t off, len;
	uint8_t bar;
	uint8_t *cap;

	pthread_mutex_lock(&vp->lock);
	cap = vp->cfg.data + vp->cfg_cap;
	bar = cap[VP_CAP_BAR];
	off = (uint32_t)vp_le_get(cap + VP_CAP_OFFSET, 4);
	len = (uint32_t)vp_le_get(cap + VP_CAP_LENGTH, 4);
	memcpy(buf, cap + VP_CFG_CAP_DATA, sizeof(buf));
	pthread_mutex_unlock(&vp->lock);

	if (bar != 0 || (len != 1 && len != 2 && len != 4) || off % len ||
	    off >= VIRTIO_PCI_BAR_SIZE) {
		vp_log_bad_access(vp, "invalid pci_cfg window", off, len);
		return;
	}
	vp_bar_access(vp, off, buf, len, write);
	if (write)
		return;
	pthread_mutex_lock(&vp->lock);
	memcpy(vp->cfg.data + vp->cfg_cap + VP_CFG_CAP_DATA, buf, len);
	pthread_mutex_unlock(&vp->lock);
}

static void vp_config_read(struct pci_device *dev, uint32_t off, uint8_t *data, uint32_t size)
{
	struct virtio_pci *vp = container_of(dev, struct virtio_pci, pci);
	uint16_t control;

	if (overlaps(off, size, vp->cfg_cap + VP_CFG_CAP_DATA, 4))
		vp_cfg_cap_access(vp, false);

	pthread_mutex_lock(&vp->lock);
	/* The MSI-X state is the truth for the control word. */
	control = msix_read_control(&vp->msix);
	vp_le_put(vp->cfg.data + vp->msix_cap + VP_MSIX_CAP_CONTROL, 2, control);
	pci_config_read(&vp->cfg, off, data, size);
	pthread_mutex_unlock(&vp->lock);
}

static void vp_config_write(struct pci_device *dev, uint32_t off, const uint8_t *data,
			    uint32_t size)
{
	struct virtio_pci *vp = container_of(dev, struct virtio_pci, pci);
	uint64_t old_addr = 0, new_addr = 0;
	int moved, r;

	pthread_mutex_lock(&vp->lock);
	pci_config_write(&vp->cfg, off, data, size, &moved);
	if (overlaps(off, size, vp->msix_cap + VP_MSIX_CAP_CONTROL, 2))
		msix_write_control(&vp->msix, (uint16_t)vp_le_get(vp->cfg.data + vp->msix_cap +
									 VP_MSIX_CAP_CONTROL,
								 2));
	if (moved == 0) {
		old_addr = __atomic_load_n(&vp->bar_addr, __ATOMIC_RELAXED);
		new_addr = vp->cfg.bars[0].addr;
		__atomic_store_n(&vp->bar_addr, new_addr, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&vp->lock);

	if (overlaps(off, size, vp->cfg_cap + VP_CFG_CAP_DATA, 4))
		vp_cfg_cap_access(vp, true);

	/* Outside vp->lock: the VMM remaps, which may take its own locks. */
	if (moved == 0 && vp->host && vp->host->bar_moved) {
		log_debug("virtio-pci: %s: BAR0 moved %#llx -> %#llx", vp->vdev->name,
			  (unsigned long long)old_addr, (unsigned long long)new_addr);
		r = vp->host->bar_moved(vp->host_opaque, vp, old_addr, new_addr);
		if (r < 0)
			log_debug_errno(r, "virtio-pci: %s: moving BAR0 to %#llx failed",
					vp->vdev->name, (unsigned long long)new_addr);
	}
}

static void vp_pci_destroy(struct pci_device *dev)
{
	virtio_pci_destroy(container_of(dev, struct virtio_pci, pci));
}

static const struct pci_device_ops vp_pci_ops = {
	.config_read = vp_config_read,
	.config_write = vp_config_write,
	.destroy = vp_pci_destroy,
};

/* Interrupts --------------------------------------------------------------- */

static int vp_signal_queue(struct virtio_dev *vdev, uint16_t queue)
{
	struct virtio_pci *vp = vdev->transport_data;

	if (!vp || queue >= vdev->nr_queues)
		return -EINVAL;
	/*
	 * The queue ISR bit is only for INTx (4.1.4.5.1). There is no INTx
	 * pin, so without MSI-X the bit is all the driver gets; msix_signal()
	 * then keeps the vector pending until MSI-X is enabled.
	 */
	if (!(msix_read_control(&vp->msix) & MSIX_CTRL_ENABLE))
		__atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_QUEUE, __ATOMIC_ACQ_REL);
	return msix_signal(&vp->msix,
			   __atomic_load_n(&vdev->queues[queue].msix_vector, __ATOMIC_RELAXED));
}

static int vp_signal_config(struct virtio_dev *vdev)
{
	struct virtio_pci *vp = vdev->transport_data;

	if (!vp)
		return -EINVAL;
	__atomic_fetch_or(&vp->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_ACQ_REL);
	return msix_signal(&vp->msix, __atomic_load_n(&vdev->config_msix_vector,
						      __ATOMIC_RELAXED));
}

static const struct virtio_transport_ops vp_transport_ops = {
	.signal_queue = vp_signal_queue,
	.signal_config = vp_signal_config,
};

/* Creation ------------------------------------------------------------------ */

/*
 * Class codes by device type, as QEMU reports them, except block: "other
 * mass storage" rather than SCSI, which virtio-blk is not.
 */
static void vp_class(uint32_t device_type, struct pci_ids *ids)
{
	switch (device_type) {
	case VIRTIO_ID_NET:
		ids->class_code = 0x02; /* network controller, Ethernet */
		ids->subclass = 0x00;
		break;
	case VIRTIO_ID_BLOCK:
		ids->class_code = 0x01; /* mass storage, other */
		ids->subclass = 0x80;
		break;
	case VIRTIO_ID_CONSOLE:
		ids->class_code = 0x07; /* simple communication, other */
		ids->subclass = 0x80;
		break;
	default:
		ids->class_code = 0xff; /* unassigned class: rng, vsock, fs */
		ids->subclass = 0x00;
		break;
	}
}

static int vp_add_vendor_cap(struct virtio_pci *vp, uint8_t cfg_type, uint32_t offset,
			     uint32_t length, uint8_t *ret_offset)
{
	uint8_t cap[VP_CFG_CAP_LEN] = { 0 }, wmask[VP_CFG_CAP_LEN] = { 0 };
	uint8_t len = VP_CAP_LEN;

	cap[0] = PCI_CAP_ID_VNDR;
	cap[3] = cfg_type;
	cap[VP_CAP_BAR] = 0;
	vp_le_put(cap + VP_CAP_OFFSET, 4, offset);
	vp_le_put(cap + VP_CAP_LENGTH, 4, length);
	if (cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
		len = VP_NOTIFY_CAP_LEN;
		vp_le_put(cap + VP_CAP_LEN, 4, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	} else if (cfg_type == VIRTIO_PCI_CAP_PCI_CFG) {
		/* bar, offset, length and data are the driver's to write */
		len = VP_CFG_CAP_LEN;
		wmask[VP_CAP_BAR] = 0xff;
		memset(wmask + VP_CAP_OFFSET, 0xff, 4);
		memset(wmask + VP_CAP_LENGTH, 0xff, 4);
		memset(wmask + VP_CFG_CAP_DATA, 0xff, 4);
	}
	cap[2] = len;
	return pci_config_add_cap(&vp->cfg, cap, wmask, len, ret_offset);
}

static int vp_add_caps(struct virtio_pci *vp)
{
	struct virtio_dev *vdev = vp->vdev;
	uint8_t msix[VP_MSIX_CAP_LEN] = { PCI_CAP_ID_MSIX }, msix_wmask[VP_MSIX_CAP_LEN] = { 0 };
	uint8_t off;
	int r;

	r = vp_add_vendor_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VP_COMMON_OFFSET, VP_COMMON_SIZE,
			      &off);
	if (r < 0)
		return r;
	r = vp_add_vendor_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VP_NOTIFY_OFFSET,
			      vdev->nr_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER, &off);
	if (r < 0)
		return r;
	r = vp_add_vendor_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VP_ISR_OFFSET, VP_ISR_SIZE, &off);
	if (r < 0)
		return r;
	/* Optional for devices without configuration (4.1.4.6), such as rng. */
	if (vdev->config_size) {
		r = vp_add_vendor_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VP_DEVICE_OFFSET,
				      vdev->config_size, &off);
		if (r < 0)
			return r;
	}
	r = vp_add_vendor_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, &vp->cfg_cap);
	if (r < 0)
		return r;

	/* Table size N-1 is read-only; enable and function mask are writable. */
	vp_le_put(msix + VP_MSIX_CAP_CONTROL, 2, (uint16_t)(vp->msix.nr_vectors - 1));
	vp_le_put(msix_wmask + VP_MSIX_CAP_CONTROL, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_FUNC_MASK);
	vp_le_put(msix + 4, 4, VP_MSIX_TABLE_OFFSET | 0); /* BIR 0 */
	vp_le_put(msix + 8, 4, VP_MSIX_PBA_OFFSET | 0);
	return pci_config_add_cap(&vp->cfg, msix, msix_wmask, VP_MSIX_CAP_LEN, &vp->msix_cap);
}

int virtio_pci_create(struct virtio_dev *vdev, const struct msix_irq_ops *irq, void *irq_opaque,
		      const struct virtio_pci_host_ops *host, void *host_opaque,
		      struct virtio_pci **ret)
{
	struct pci_ids ids = {
		.vendor = PCI_VENDOR_ID_REDHAT_QUMRANET,
		.subsystem_vendor = PCI_VENDOR_ID_REDHAT_QUMRANET,
		.revision = VIRTIO_PCI_REVISION,
	};
	struct virtio_pci *vp;
	int r;

	if (!vdev || !ret || vdev->nr_queues == 0 || vdev->nr_queues > VIRTIO_MAX_QUEUES ||
	    vdev->config_size > VP_DEVICE_MAX ||
	    vdev->device_type > UINT16_MAX - VIRTIO_PCI_DEVICE_ID_BASE)
		return -EINVAL;
	ids.device = (uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + vdev->device_type);
	/*
	 * Informational only for a modern device (4.1.2.1); the device type,
	 * as transitional devices report it, tells tools what this is.
	 */
	ids.subsystem = (uint16_t)vdev->device_type;
	vp_class(vdev->device_type, &ids);

	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	r = pthread_mutex_init(&vp->lock, NULL);
	if (r) {
		free(vp);
		return -r;
	}
	vp->vdev = vdev;
	vp->host = host;
	vp->host_opaque = host_opaque;
	vp->pci = (struct pci_device){ .ops = &vp_pci_ops, .name = vdev->name };
	vp->bar = (struct bus_device){ .ops = &vp_bar_ops, .name = vdev->name };

	/* One vector per queue and one for configuration changes. */
	r = msix_init(&vp->msix, (uint16_t)(vdev->nr_queues + 1), irq, irq_opaque);
	if (r < 0)
		goto destroy_lock;
	pci_config_init(&vp->cfg, &ids);
	r = pci_config_add_bar(&vp->cfg, 0, VIRTIO_PCI_BAR_SIZE, true, false);
	if (r < 0)
		goto fini_msix;
	r = vp_add_caps(vp);
	if (r < 0)
		goto fini_msix;

	vdev->transport = &vp_transport_ops;
	vdev->transport_data = vp;
	*ret = vp;
	return 0;

fini_msix:
	msix_fini(&vp->msix);
destroy_lock:
	pthread_mutex_destroy(&vp->lock);
	free(vp);
	return r;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	if (vp->vdev->transport_data == vp) {
		vp->vdev->transport = NULL;
		vp->vdev->transport_data = NULL;
	}
	msix_fini(&vp->msix);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}

struct pci_device *virtio_pci_pci_device(struct virtio_pci *vp)
{
	return &vp->pci;
}

struct bus_device *virtio_pci_bar_device(struct virtio_pci *vp)
{
	return &vp->bar;
}

void virtio_pci_set_bar_addr(struct virtio_pci *vp, uint64_t addr)
{
	pthread_mutex_lock(&vp->lock);
	pci_config_set_bar_addr(&vp->cfg, 0, addr);
	__atomic_store_n(&vp->bar_addr, vp->cfg.bars[0].addr, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vp->lock);
}

uint64_t virtio_pci_bar_addr(const struct virtio_pci *vp)
{
	return __atomic_load_n(&vp->bar_addr, __ATOMIC_ACQUIRE);
}

uint64_t virtio_pci_notify_addr(const struct virtio_pci *vp, uint16_t queue)
{
	return virtio_pci_bar_addr(vp) + VP_NOTIFY_OFFSET +
	       (uint64_t)queue * VIRTIO_PCI_NOTIFY_MULTIPLIER;
}

struct virtio_dev *virtio_pci_vdev(struct virtio_pci *vp)
{
	return vp->vdev;
}
