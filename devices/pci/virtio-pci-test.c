/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-pci transport driven the way Linux's virtio_pci_modern driver
 * drives it, through a PCI bus (ECAM) and BAR0, with a dummy virtio device:
 * find the capabilities, size and move BAR0, reset, negotiate features, set
 * up MSI-X and the queues, DRIVER_OK, then notifications, interrupts, the
 * pci_cfg window, reset, and garbage accesses.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/guest-mem.h"
#include "devices/pci.h"
#include "devices/virtio-pci.h"
#include "pci-regs.h"

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#c);                                                   \
			return 1;                                                      \
		}                                                                      \
	} while (0)

#define NR_QUEUES 2
#define NR_VECTORS (NR_QUEUES + 1)
#define DUMMY_FEATURE 5
#define BAR_ADDR 0xc0000000
#define MEM_SIZE (1024 * 1024)

/* virtio 1.x 4.1.4.3 offsets, written out as a driver would have them */
enum {
	DFSELECT = 0x00, DF = 0x04, GFSELECT = 0x08, GF = 0x0c, MSIX_CONFIG = 0x10,
	NUM_QUEUES = 0x12, STATUS = 0x14, CFG_GEN = 0x15, Q_SELECT = 0x16, Q_SIZE = 0x18,
	Q_MSIX = 0x1a, Q_ENABLE = 0x1c, Q_NOFF = 0x1e, Q_DESC = 0x20, Q_DRIVER = 0x28,
	Q_DEVICE = 0x30,
};

struct dummy {
	struct virtio_dev vdev;
	uint8_t config[8];
	unsigned int activated, resets, config_writes;
};

static uint64_t dummy_features(struct virtio_dev *vdev)
{
	return VIRTIO_BIT(DUMMY_FEATURE);
}

static void dummy_config_read(struct virtio_dev *vdev, uint32_t off, uint8_t *data, uint32_t size)
{
	memcpy(data, container_of(vdev, struct dummy, vdev)->config + off, size);
}

static void dummy_config_write(struct virtio_dev *vdev, uint32_t off, const uint8_t *data,
			       uint32_t size)
{
	struct dummy *d = container_of(vdev, struct dummy, vdev);

	memcpy(d->config + off, data, size);
	d->config_writes++;
}

static int dummy_activate(struct virtio_dev *vdev)
{
	container_of(vdev, struct dummy, vdev)->activated++;
	return 0;
}

static void dummy_reset(struct virtio_dev *vdev)
{
	container_of(vdev, struct dummy, vdev)->resets++;
}

static const struct virtio_device_ops dummy_ops = {
	.features = dummy_features,
	.config_read = dummy_config_read,
	.config_write = dummy_config_write,
	.activate = dummy_activate,
	.reset = dummy_reset,
};

struct irqs {
	unsigned int routes[NR_VECTORS], fires[NR_VECTORS];
	uint32_t data[NR_VECTORS];
};

static int irq_route(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	struct irqs *i = opaque;

	if (v >= NR_VECTORS)
		return -EINVAL;
	i->routes[v]++;
	i->data[v] = data;
	return 0;
}

static int irq_fire(void *opaque, uint16_t v)
{
	struct irqs *i = opaque;

	if (v >= NR_VECTORS)
		return -EINVAL;
	i->fires[v]++;
	return 0;
}

static const struct msix_irq_ops irq_ops = { .route = irq_route, .fire = irq_fire };

struct host {
	unsigned int moves;
	uint64_t old_addr, new_addr;
};

static int host_bar_moved(void *opaque, struct virtio_pci *vp, uint64_t old_addr,
			  uint64_t new_addr)
{
	struct host *h = opaque;

	h->moves++;
	h->old_addr = old_addr;
	h->new_addr = new_addr;
	return 0;
}

static const struct virtio_pci_host_ops host_ops = { .bar_moved = host_bar_moved };

/* The test's "guest": a bus, a slot, BAR0. */
struct guest {
	struct pci_bus bus;
	struct virtio_pci *vp;
	unsigned int slot;
	/* from the capabilities */
	uint32_t common, notify, isr, device, notify_mult, device_len, notify_len;
	uint8_t msix_cap, cfg_cap;
	uint32_t msix_table, msix_pba;
	unsigned int nr_vendor_caps;
};

static uint64_t get(const uint8_t *b, uint32_t size)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void put(uint8_t *b, uint32_t size, uint64_t v)
{
	for (uint32_t i = 0; i < size; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t cfg_rd(struct guest *g, uint32_t reg, uint32_t size)
{
	uint8_t b[4];

	g->bus.ecam.ops->read(&g->bus.ecam, (uint64_t)g->slot << 15 | reg, b, size);
	return (uint32_t)get(b, size);
}

static void cfg_wr(struct guest *g, uint32_t reg, uint32_t size, uint32_t v)
{
	uint8_t b[4];

	put(b, size, v);
	g->bus.ecam.ops->write(&g->bus.ecam, (uint64_t)g->slot << 15 | reg, b, size);
}

static uint64_t bar_rd(struct guest *g, uint64_t off, uint32_t size)
{
	struct bus_device *bar = virtio_pci_bar_device(g->vp);
	uint8_t b[8];

	bar->ops->read(bar, off, b, size);
	return get(b, size);
}

static void bar_wr(struct guest *g, uint64_t off, uint32_t size, uint64_t v)
{
	struct bus_device *bar = virtio_pci_bar_device(g->vp);
	uint8_t b[8];

	put(b, size, v);
	bar->ops->write(bar, off, b, size);
}

static uint64_t common_rd(struct guest *g, uint32_t off, uint32_t size)
{
	return bar_rd(g, g->common + off, size);
}

static void common_wr(struct guest *g, uint32_t off, uint32_t size, uint64_t v)
{
	bar_wr(g, g->common + off, size, v);
}

/* virtio_pci_find_capability() and friends, and the MSI-X capability. */
static int find_caps(struct guest *g)
{
	unsigned int n = 0;

	CHECK(cfg_rd(g, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (uint32_t p = cfg_rd(g, PCI_CAPABILITY_LIST, 1); p; p = cfg_rd(g, p + 1, 1)) {
		uint32_t id = cfg_rd(g, p, 1), type, bar, off, len;

		CHECK(++n < 16 && p >= 0x40 && p % 4 == 0);
		if (id == PCI_CAP_ID_MSIX) {
			g->msix_cap = (uint8_t)p;
			g->msix_table = cfg_rd(g, p + 4, 4);
			g->msix_pba = cfg_rd(g, p + 8, 4);
			CHECK((g->msix_table & 7) == 0 && (g->msix_pba & 7) == 0); /* BIR 0 */
			CHECK((cfg_rd(g, p + 2, 2) & 0x7ff) == NR_VECTORS - 1);
			continue;
		}
		CHECK(id == PCI_CAP_ID_VNDR);
		g->nr_vendor_caps++;
		type = cfg_rd(g, p + 3, 1);
		bar = cfg_rd(g, p + 4, 1);
		off = cfg_rd(g, p + 8, 4);
		len = cfg_rd(g, p + 12, 4);
		CHECK(cfg_rd(g, p + 2, 1) >= 16);
		switch (type) {
		case 1:
			CHECK(bar == 0 && len >= 0x38);
			g->common = off;
			break;
		case 2:
			CHECK(bar == 0 && cfg_rd(g, p + 2, 1) == 20);
			g->notify = off;
			g->notify_len = len;
			g->notify_mult = cfg_rd(g, p + 16, 4);
			break;
		case 3:
			CHECK(bar == 0 && len >= 1);
			g->isr = off;
			break;
		case 4:
			CHECK(bar == 0);
			g->device = off;
			g->device_len = len;
			break;
		case 5:
			CHECK(cfg_rd(g, p + 2, 1) == 20);
			g->cfg_cap = (uint8_t)p;
			break;
		default:
			CHECK(!"unknown virtio capability");
		}
	}
	CHECK(g->nr_vendor_caps == 5 && g->msix_cap && g->cfg_cap);
	CHECK(g->notify_mult == VIRTIO_PCI_NOTIFY_MULTIPLIER);
	CHECK(g->notify_len >= NR_QUEUES * g->notify_mult);
	CHECK(g->device_len == 8);
	return 0;
}

static int test_header_and_bar(struct guest *g, struct host *h)
{
	CHECK(cfg_rd(g, PCI_VENDOR_ID, 4) == (0x1042u << 16 | 0x1af4));
	CHECK(cfg_rd(g, PCI_REVISION_ID, 4) == 0x01800001); /* mass storage/other, rev 1 */
	CHECK(cfg_rd(g, PCI_SUBSYSTEM_VENDOR_ID, 4) == (VIRTIO_ID_BLOCK << 16 | 0x1af4));
	CHECK(cfg_rd(g, PCI_INTERRUPT_PIN, 1) == 0 && cfg_rd(g, PCI_HEADER_TYPE, 1) == 0);

	/* BAR0 as the VMM placed it; BARs 2-5 unused */
	CHECK(cfg_rd(g, 0x10, 4) == (BAR_ADDR | 0x4) && cfg_rd(g, 0x14, 4) == 0);
	for (uint32_t r = 0x18; r < 0x28; r += 4) {
		cfg_wr(g, r, 4, 0xffffffff);
		CHECK(cfg_rd(g, r, 4) == 0);
	}
	/* Linux's sizing sequence, decode off */
	cfg_wr(g, PCI_COMMAND, 2, 0);
	cfg_wr(g, 0x10, 4, 0xffffffff);
	CHECK(cfg_rd(g, 0x10, 4) == ((uint32_t)~(VIRTIO_PCI_BAR_SIZE - 1) | 0x4));
	cfg_wr(g, 0x10, 4, BAR_ADDR | 0x4);
	cfg_wr(g, 0x14, 4, 0xffffffff);
	CHECK(cfg_rd(g, 0x14, 4) == 0xffffffff);
	cfg_wr(g, 0x14, 4, 0);
	CHECK(h->moves == 0 && virtio_pci_bar_addr(g->vp) == BAR_ADDR);

	/* the guest moves BAR0 (pci=realloc): the VMM hears of it once */
	cfg_wr(g, 0x10, 4, 0xd0000000);
	cfg_wr(g, 0x14, 4, 0);
	CHECK(h->moves == 1 && h->old_addr == BAR_ADDR && h->new_addr == 0xd0000000);
	CHECK(virtio_pci_bar_addr(g->vp) == 0xd0000000);
	CHECK(virtio_pci_notify_addr(g->vp, 1) == 0xd0000000 + g->notify + g->notify_mult);
	/* and back */
	cfg_wr(g, 0x10, 4, BAR_ADDR);
	cfg_wr(g, 0x14, 4, 0);
	CHECK(h->moves == 2 && h->new_addr == BAR_ADDR);
	cfg_wr(g, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	CHECK(cfg_rd(g, PCI_COMMAND, 2) == (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	return 0;
}

static int set_status(struct guest *g, uint8_t bits)
{
	common_wr(g, STATUS, 1, common_rd(g, STATUS, 1) | bits);
	return (int)common_rd(g, STATUS, 1);
}

static int test_init_sequence(struct guest *g, struct dummy *d, struct irqs *irqs)
{
	uint64_t features;
	uint16_t ctrl;

	/* vp_modern_probe / virtio_dev_probe */
	common_wr(g, STATUS, 1, 0);
	CHECK(common_rd(g, STATUS, 1) == 0);
	CHECK(set_status(g, VIRTIO_STATUS_ACKNOWLEDGE) == VIRTIO_STATUS_ACKNOWLEDGE);
	CHECK(set_status(g, VIRTIO_STATUS_DRIVER) == 3);

	common_wr(g, DFSELECT, 4, 0);
	features = common_rd(g, DF, 4);
	common_wr(g, DFSELECT, 4, 1);
	features |= common_rd(g, DF, 4) << 32;
	CHECK(features & VIRTIO_BIT(VIRTIO_F_VERSION_1));
	CHECK(features & VIRTIO_BIT(DUMMY_FEATURE));
	common_wr(g, DFSELECT, 4, 2);
	CHECK(common_rd(g, DF, 4) == 0);

	common_wr(g, GFSELECT, 4, 0);
	common_wr(g, GF, 4, (uint32_t)features);
	common_wr(g, GFSELECT, 4, 1);
	common_wr(g, GF, 4, (uint32_t)(features >> 32));
	common_wr(g, GFSELECT, 4, 2);
	common_wr(g, GF, 4, 0xffffffff); /* no third word: ignored */
	CHECK(d->vdev.driver_features == features);
	CHECK(set_status(g, VIRTIO_STATUS_FEATURES_OK) & VIRTIO_STATUS_FEATURES_OK);
	/* after FEATURES_OK the set is frozen */
	common_wr(g, GFSELECT, 4, 0);
	common_wr(g, GF, 4, 0);
	CHECK(d->vdev.driver_features == features);

	/* MSI-X: enable masked, program the table, unmask (pci_msix_enable) */
	ctrl = (uint16_t)cfg_rd(g, g->msix_cap + 2, 2);
	cfg_wr(g, g->msix_cap + 2, 2, ctrl | MSIX_CTRL_ENABLE | MSIX_CTRL_FUNC_MASK);
	CHECK(cfg_rd(g, g->msix_cap + 2, 2) ==
	      ((NR_VECTORS - 1) | MSIX_CTRL_ENABLE | MSIX_CTRL_FUNC_MASK));
	for (unsigned int v = 0; v < NR_VECTORS; v++) {
		uint64_t e = g->msix_table + v * 16;

		CHECK(bar_rd(g, e + 12, 4) == MSIX_VECTOR_MASKED);
		bar_wr(g, e, 4, 0xfee00000);
		bar_wr(g, e + 4, 4, 0);
		bar_wr(g, e + 8, 4, 0x30 + v);
		bar_wr(g, e + 12, 4, 0);
		CHECK(irqs->routes[v] == 1 && irqs->data[v] == 0x30 + v);
	}
	cfg_wr(g, g->msix_cap + 2, 2, ctrl | MSIX_CTRL_ENABLE);
	CHECK(cfg_rd(g, g->msix_cap + 2, 2) == ((NR_VECTORS - 1) | MSIX_CTRL_ENABLE));

	/* vp_modern_config_vector: out of range reads back NO_VECTOR */
	common_wr(g, MSIX_CONFIG, 2, NR_VECTORS);
	CHECK(common_rd(g, MSIX_CONFIG, 2) == VIRTIO_MSI_NO_VECTOR);
	common_wr(g, MSIX_CONFIG, 2, 0);
	CHECK(common_rd(g, MSIX_CONFIG, 2) == 0);

	/* queues (setup_vq) */
	CHECK(common_rd(g, NUM_QUEUES, 2) == NR_QUEUES);
	for (uint16_t q = 0; q < NR_QUEUES; q++) {
		uint64_t base = 0x10000 + q * 0x10000;

		common_wr(g, Q_SELECT, 2, q);
		CHECK(common_rd(g, Q_SELECT, 2) == q);
		CHECK(common_rd(g, Q_SIZE, 2) == 256);
		CHECK(common_rd(g, Q_ENABLE, 2) == 0);
		common_wr(g, Q_SIZE, 2, 100); /* not a power of two */
		common_wr(g, Q_SIZE, 2, 512); /* above the maximum */
		common_wr(g, Q_SIZE, 2, 0);
		CHECK(common_rd(g, Q_SIZE, 2) == 256);
		common_wr(g, Q_SIZE, 2, 128);
		CHECK(common_rd(g, Q_SIZE, 2) == 128);
		CHECK(common_rd(g, Q_NOFF, 2) == q);
		common_wr(g, Q_MSIX, 2, 77);
		CHECK(common_rd(g, Q_MSIX, 2) == VIRTIO_MSI_NO_VECTOR);
		common_wr(g, Q_MSIX, 2, q + 1u);
		CHECK(common_rd(g, Q_MSIX, 2) == q + 1u);
		/* enabling before the rings are set is refused */
		common_wr(g, Q_ENABLE, 2, 1);
		CHECK(common_rd(g, Q_ENABLE, 2) == 0);
		if (q == 0) {
			/* Linux: vp_iowrite64_twopart */
			common_wr(g, Q_DESC, 4, (uint32_t)base);
			common_wr(g, Q_DESC + 4, 4, base >> 32);
			common_wr(g, Q_DRIVER, 4, (uint32_t)(base + 0x1000));
			common_wr(g, Q_DRIVER + 4, 4, 0);
			common_wr(g, Q_DEVICE, 4, (uint32_t)(base + 0x2000));
			common_wr(g, Q_DEVICE + 4, 4, 0);
		} else {
			common_wr(g, Q_DESC, 8, base);
			common_wr(g, Q_DRIVER, 8, base + 0x1000);
			common_wr(g, Q_DEVICE, 8, base + 0x2000);
		}
		CHECK(common_rd(g, Q_DESC, 8) == base && common_rd(g, Q_DESC, 4) == base);
		CHECK(common_rd(g, Q_DRIVER + 4, 4) == 0);
		CHECK(common_rd(g, Q_DEVICE, 8) == base + 0x2000);
		common_wr(g, Q_ENABLE, 2, 1);
		CHECK(common_rd(g, Q_ENABLE, 2) == 1);
		/* enabled: layout frozen; writing 0 does not disable */
		common_wr(g, Q_SIZE, 2, 64);
		common_wr(g, Q_DESC, 8, 0x50000);
		common_wr(g, Q_ENABLE, 2, 0);
		CHECK(common_rd(g, Q_SIZE, 2) == 128 && common_rd(g, Q_DESC, 8) == base);
		CHECK(common_rd(g, Q_ENABLE, 2) == 1);
		CHECK(d->vdev.queues[q].ready && d->vdev.queues[q].size == 128);
	}
	/* a queue that does not exist reads 0 and ignores writes */
	common_wr(g, Q_SELECT, 2, NR_QUEUES);
	CHECK(common_rd(g, Q_SIZE, 2) == 0 && common_rd(g, Q_ENABLE, 2) == 0);
	CHECK(common_rd(g, Q_MSIX, 2) == 0 && common_rd(g, Q_DESC, 8) == 0);
	common_wr(g, Q_SIZE, 2, 16);
	common_wr(g, Q_MSIX, 2, 1);
	common_wr(g, Q_ENABLE, 2, 1);
	common_wr(g, Q_SELECT, 2, 0xffff);
	CHECK(common_rd(g, Q_SIZE, 2) == 0);

	CHECK(d->activated == 0);
	CHECK(set_status(g, VIRTIO_STATUS_DRIVER_OK) == 0xf);
	CHECK(d->activated == 1 && d->vdev.activated);
	/* after DRIVER_OK the queue layout cannot change */
	common_wr(g, Q_SELECT, 2, 1);
	common_wr(g, Q_SIZE, 2, 64);
	CHECK(common_rd(g, Q_SIZE, 2) == 128);
	return 0;
}

static int test_running(struct guest *g, struct dummy *d, struct irqs *irqs)
{
	struct virtio_dev *vdev = &d->vdev;
	uint64_t count = 0;

	/* device config: through virtio_dev_config_*, bounded by config_size */
	memcpy(d->config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	CHECK(bar_rd(g, g->device, 4) == 0x44332211);
	CHECK(bar_rd(g, g->device + 6, 2) == 0x8877);
	CHECK(bar_rd(g, g->device, 8) == 0x8877665544332211);
	CHECK(bar_rd(g, g->device + 8, 4) == 0 && bar_rd(g, g->device + 6, 4) == 0);
	bar_wr(g, g->device + 1, 1, 0xaa);
	CHECK(d->config[1] == 0xaa && d->config_writes == 1);
	bar_wr(g, g->device + 7, 2, 0xbbbb);
	CHECK(d->config_writes == 1);
	vdev->config_generation = 0x105;
	CHECK(common_rd(g, CFG_GEN, 1) == 0x05);

	/* a notify write that reaches the transport kicks the queue's eventfd */
	CHECK(read(vdev->kick_fds[1], &count, sizeof(count)) < 0 && errno == EAGAIN);
	bar_wr(g, g->notify + 1 * g->notify_mult, 2, 1);
	CHECK(read(vdev->kick_fds[1], &count, sizeof(count)) == sizeof(count) && count == 1);
	CHECK(read(vdev->kick_fds[0], &count, sizeof(count)) < 0);
	bar_wr(g, g->notify + NR_QUEUES * g->notify_mult, 2, NR_QUEUES); /* no such queue */
	CHECK(read(vdev->kick_fds[0], &count, sizeof(count)) < 0);
	CHECK(bar_rd(g, g->notify, 2) == 0);

	/* interrupts: queue q -> vector q + 1, config -> vector 0 */
	CHECK(vdev->transport->signal_queue(vdev, 1) == 0 && irqs->fires[2] == 1);
	CHECK(vdev->transport->signal_queue(vdev, 0) == 0 && irqs->fires[1] == 1);
	CHECK(vdev->transport->signal_queue(vdev, NR_QUEUES) == -EINVAL);
	CHECK(bar_rd(g, g->isr, 1) == 0); /* MSI-X: no queue ISR bit */
	CHECK(vdev->transport->signal_config(vdev) == 0 && irqs->fires[0] == 1);
	CHECK(bar_rd(g, g->isr, 1) == 2);
	CHECK(bar_rd(g, g->isr, 1) == 0); /* read clears */

	/* function masked: pending in the PBA, delivered when unmasked */
	cfg_wr(g, g->msix_cap + 2, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_FUNC_MASK);
	CHECK(vdev->transport->signal_queue(vdev, 1) == 0 && irqs->fires[2] == 1);
	CHECK(bar_rd(g, g->msix_pba, 8) == 1u << 2);
	cfg_wr(g, g->msix_cap + 2, 2, MSIX_CTRL_ENABLE);
	CHECK(irqs->fires[2] == 2 && bar_rd(g, g->msix_pba, 8) == 0);
	/* entry masked through the table */
	bar_wr(g, g->msix_table + 2 * 16 + 12, 4, MSIX_VECTOR_MASKED);
	CHECK(vdev->transport->signal_queue(vdev, 1) == 0 && irqs->fires[2] == 2);
	bar_wr(g, g->msix_table + 2 * 16 + 12, 4, 0);
	CHECK(irqs->fires[2] == 3);
	/* MSI-X off: the queue ISR bit is all there is */
	cfg_wr(g, g->msix_cap + 2, 2, 0);
	CHECK(vdev->transport->signal_queue(vdev, 0) == 0 && irqs->fires[1] == 1);
	CHECK(bar_rd(g, g->isr, 1) == 1);
	cfg_wr(g, g->msix_cap + 2, 2, MSIX_CTRL_ENABLE);
	CHECK(irqs->fires[1] == 2); /* the pending vector went out at enable */
	/* a queue without a vector raises nothing */
	common_wr(g, Q_SELECT, 2, 0);
	common_wr(g, Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	CHECK(vdev->transport->signal_queue(vdev, 0) == 0 && irqs->fires[1] == 2);
	common_wr(g, Q_MSIX, 2, 1);
	return 0;
}

/* VIRTIO_PCI_CAP_PCI_CFG: BAR0 through config space. */
static int test_pci_cfg_window(struct guest *g)
{
	uint32_t c = g->cfg_cap;

	cfg_wr(g, c + 4, 1, 0);
	cfg_wr(g, c + 8, 4, g->common + NUM_QUEUES);
	cfg_wr(g, c + 12, 4, 2);
	CHECK(cfg_rd(g, c + 16, 2) == NR_QUEUES);
	cfg_wr(g, c + 8, 4, g->common + Q_SELECT);
	cfg_wr(g, c + 16, 2, 1);
	CHECK(common_rd(g, Q_SELECT, 2) == 1);
	cfg_wr(g, c + 8, 4, g->common + DF);
	cfg_wr(g, c + 12, 4, 4);
	common_wr(g, DFSELECT, 4, 1);
	CHECK(cfg_rd(g, c + 16, 4) == 1); /* VERSION_1 is bit 32 */
	/* bad windows do nothing */
	cfg_wr(g, c + 12, 4, 3);
	cfg_wr(g, c + 16, 4, 0x12345678);
	cfg_wr(g, c + 12, 4, 4);
	cfg_wr(g, c + 8, 4, VIRTIO_PCI_BAR_SIZE);
	(void)cfg_rd(g, c + 16, 4);
	cfg_wr(g, c + 8, 4, 0xfffffffc);
	(void)cfg_rd(g, c + 16, 4);
	cfg_wr(g, c + 4, 1, 1); /* BAR1 does not exist */
	cfg_wr(g, c + 8, 4, 0);
	(void)cfg_rd(g, c + 16, 4);
	CHECK(common_rd(g, Q_SELECT, 2) == 1);
	return 0;
}

static int test_reset(struct guest *g, struct dummy *d)
{
	common_wr(g, STATUS, 1, 0);
	CHECK(common_rd(g, STATUS, 1) == 0 && d->resets == 1 && !d->vdev.activated);
	CHECK(common_rd(g, MSIX_CONFIG, 2) == VIRTIO_MSI_NO_VECTOR);
	CHECK(common_rd(g, Q_SELECT, 2) == 0);
	CHECK(common_rd(g, Q_ENABLE, 2) == 0 && common_rd(g, Q_SIZE, 2) == 256);
	CHECK(common_rd(g, Q_MSIX, 2) == VIRTIO_MSI_NO_VECTOR);
	/* MSI-X belongs to PCI and survives a virtio reset */
	CHECK(cfg_rd(g, g->msix_cap + 2, 2) & MSIX_CTRL_ENABLE);

	/* a feature never offered: FEATURES_OK does not stick */
	set_status(g, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	common_wr(g, GFSELECT, 4, 0);
	common_wr(g, GF, 4, 1u << 7);
	common_wr(g, GFSELECT, 4, 1);
	common_wr(g, GF, 4, 1);
	CHECK(!(set_status(g, VIRTIO_STATUS_FEATURES_OK) & VIRTIO_STATUS_FEATURES_OK));
	/* DRIVER_OK without FEATURES_OK is refused */
	CHECK(!(set_status(g, VIRTIO_STATUS_DRIVER_OK) & VIRTIO_STATUS_DRIVER_OK));
	CHECK(d->activated == 1);
	common_wr(g, STATUS, 1, 0);
	return 0;
}

/* Wrong sizes, holes, every offset: no crash, no effect on what matters. */
static int test_garbage(struct guest *g, struct dummy *d)
{
	static const uint32_t sizes[] = { 1, 2, 4, 8 };

	/* wrong-size accesses to fields read 0 and are ignored */
	common_wr(g, Q_SELECT, 2, 1);
	CHECK(common_rd(g, Q_SELECT, 4) == 0 && common_rd(g, Q_SELECT, 1) == 0);
	CHECK(common_rd(g, NUM_QUEUES - 1, 2) == 0 && common_rd(g, DF, 2) == 0);
	CHECK(common_rd(g, Q_DESC + 2, 4) == 0 && common_rd(g, Q_DESC + 4, 8) == 0);
	common_wr(g, Q_SELECT, 4, 0);
	common_wr(g, STATUS, 2, VIRTIO_STATUS_ACKNOWLEDGE);
	CHECK(common_rd(g, Q_SELECT, 2) == 1 && common_rd(g, STATUS, 1) == 0);
	CHECK(common_rd(g, 0x38, 4) == 0 && common_rd(g, 0xffc, 4) == 0);
	CHECK(bar_rd(g, 0x7000, 4) == 0 && bar_rd(g, VIRTIO_PCI_BAR_SIZE - 8, 8) == 0);
	CHECK(bar_rd(g, g->isr + 1, 1) == 0 && bar_rd(g, g->isr, 4) == 0);

	for (uint64_t off = 0; off < VIRTIO_PCI_BAR_SIZE; off += (off < 0x4000 ? 1 : 0x40))
		for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
			if (off + sizes[i] > VIRTIO_PCI_BAR_SIZE)
				continue;
			(void)bar_rd(g, off, sizes[i]);
			bar_wr(g, off, sizes[i], 0xffffffffffffffff);
			bar_wr(g, off, sizes[i], 0);
		}
	for (uint32_t off = 0; off < PCI_CONFIG_SIZE; off++)
		for (uint32_t size = 1; size <= 4; size *= 2) {
			if (off % size)
				continue;
			(void)cfg_rd(g, off, size);
			if (off == PCI_COMMAND || (off >= 0x10 && off < 0x18))
				continue; /* keep decoding and BAR0 where they are */
			cfg_wr(g, off, size, 0xffffffff);
		}
	CHECK(cfg_rd(g, PCI_VENDOR_ID, 4) == (0x1042u << 16 | 0x1af4));
	CHECK(virtio_pci_bar_addr(g->vp) == BAR_ADDR);
	(void)d;
	return 0;
}

int main(void)
{
	struct dummy d = { 0 };
	struct irqs irqs = { 0 };
	struct host host = { 0 };
	struct guest g = { 0 };
	struct guest_mem mem;
	int r;

	guest_mem_init(&mem, false);
	CHECK(guest_mem_add_region(&mem, 0, MEM_SIZE) == 0);
	CHECK(virtio_dev_init(&d.vdev, &dummy_ops, "dummy0", VIRTIO_ID_BLOCK, NR_QUEUES, 256,
			      sizeof(d.config)) == 0);
	d.vdev.mem = &mem;

	CHECK(virtio_pci_create(NULL, &irq_ops, &irqs, &host_ops, &host, &g.vp) == -EINVAL);
	CHECK(virtio_pci_create(&d.vdev, &irq_ops, &irqs, &host_ops, &host, &g.vp) == 0);
	CHECK(virtio_pci_vdev(g.vp) == &d.vdev && d.vdev.transport_data == g.vp);
	virtio_pci_set_bar_addr(g.vp, BAR_ADDR);
	CHECK(virtio_pci_bar_addr(g.vp) == BAR_ADDR);

	CHECK(pci_bus_init(&g.bus) == 0);
	CHECK(pci_bus_add(&g.bus, virtio_pci_pci_device(g.vp), -1) == 0);
	g.slot = virtio_pci_pci_device(g.vp)->slot;

	r = find_caps(&g) || test_header_and_bar(&g, &host) ||
	    test_init_sequence(&g, &d, &irqs) || test_running(&g, &d, &irqs) ||
	    test_pci_cfg_window(&g) || test_reset(&g, &d) || test_garbage(&g, &d);
	CHECK(r == 0);

	pci_bus_fini(&g.bus);
	virtio_pci_destroy(g.vp);
	CHECK(d.vdev.transport == NULL);
	virtio_dev_fini(&d.vdev);
	guest_mem_destroy(&mem);
	printf("virtio-pci-test: ok\n");
	return 0;
}
