/* SPDX-License-Identifier: Apache-2.0 */
#include "virtio-devices.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "devices/virtio-blk.h"
#include "devices/virtio-console.h"
#include "devices/virtio-fs.h"
#include "devices/virtio-net.h"
#include "devices/virtio-rng.h"
#include "devices/virtio-vsock.h"
#include "pci-devices.h"

int vmm_reopen_nonblocking(int fd, int flags)
{
	char path[64];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd >= 0)
		return nfd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return nfd >= 0 ? nfd : -errno;
}

static int add_disks(struct vmm_pci *pci, const struct vmm_config *cfg,
		     const struct guest_mem *mem, struct error *err)
{
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		const struct vmm_disk_config *d = &cfg->disks[i];
		struct virtio_blk_config bc = {
			.path = d->path,
			.readonly = d->readonly,
			.direct = d->direct,
			.num_queues = d->num_queues,
			.queue_size = d->queue_size,
			.id = d->id,
			.serial = d->serial,
		};
		struct virtio_dev *vdev;
		int r;

		r = virtio_blk_create(&bc, mem, &vdev, err);
		if (r >= 0)
			r = vmm_pci_add_virtio_take(pci, vdev, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_nets(struct vmm_pci *pci, const struct vmm_config *cfg,
		    const struct guest_mem *mem, struct error *err)
{
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		const struct vmm_net_config *n = &cfg->nets[i];
		struct virtio_net_config nc = {
			.tap = n->tap,
			.mac = n->mac_set ? n->mac : NULL,
			.host_ip = n->ip,
			.host_mask = n->mask,
			.num_queues = n->num_queues,
			.queue_size = n->queue_size,
			.id = n->id,
		};
		struct virtio_dev *vdev;
		int r;

		r = virtio_net_create(&nc, mem, &vdev, err);
		if (r >= 0)
			r = vmm_pci_add_virtio_take(pci, vdev, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_rng(struct vmm_pci *pci, const struct vmm_config *cfg,
		   const struct guest_mem *mem, struct error *err)
{
	struct virtio_dev *vdev;
	int r;

	if (!cfg->rng.enabled)
		return 0;
	r = virtio_rng_create(cfg->rng.src, mem, &vdev, err);
	if (r >= 0)
		r = vmm_pci_add_virtio_take(pci, vdev, err);
	return r;
}

/* virtio-fs through a running vhost-user backend (virtiofsd) per --fs. */
static int add_fs(struct vmm_pci *pci, const struct vmm_config *cfg, const struct guest_mem *mem,
		  struct error *err)
{
	for (unsigned int i = 0; i < cfg->nr_fs; i++) {
		const struct vmm_fs_config *f = &cfg->fs[i];
		struct virtio_fs_config fc = {
			.tag = f->tag,
			.socket_path = f->socket,
			.num_queues = f->num_queues,
			.queue_size = f->queue_size,
			.id = f->id,
		};
		struct virtio_dev *vdev;
		int r;

		r = virtio_fs_create(&fc, mem, &vdev, err);
		if (r >= 0)
			r = vmm_pci_add_virtio_take(pci, vdev, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One hybrid vsock device: the shim's channel to the agent. */
static int add_vsock(struct vmm_pci *pci, const struct vmm_config *cfg,
		     const struct guest_mem *mem, struct error *err)
{
	struct virtio_vsock_config vc = {
		.guest_cid = cfg->vsock.cid,
		.socket_path = cfg->vsock.socket,
		.id = cfg->vsock.id,
	};
	struct virtio_dev *vdev;
	int r;

	if (!cfg->vsock.enabled)
		return 0;
	r = virtio_vsock_create(&vc, mem, &vdev, err);
	if (r >= 0)
		r = vmm_pci_add_virtio_take(pci, vdev, err);
	return r;
}

/* Where hvc0 goes, as cloud-hypervisor's --console modes. */
static int open_console_fds(const struct vmm_output *out, struct vmm_console_fds *fds,
			    struct error *err)
{
	char pty[128];
	int r;

	switch (out->mode) {
	case VMM_OUTPUT_TTY:
		fds->out_fd = vmm_reopen_nonblocking(STDOUT_FILENO, O_WRONLY);
		fds->in_fd = vmm_reopen_nonblocking(STDIN_FILENO, O_RDONLY);
		if (fds->out_fd < 0)
			return error_set(err, fds->out_fd, "--console tty: cannot use stdout");
		return 0;
	case VMM_OUTPUT_FILE:
		fds->out_fd = open(out->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (fds->out_fd < 0)
			return error_set(err, -errno, "--console file=%s: %s", out->file,
					 strerror(errno));
		return 0;
	case VMM_OUTPUT_PTY:
		r = virtio_console_open_pty(&fds->out_fd, pty, sizeof(pty));
		if (r < 0)
			return error_set(err, r, "--console pty: %s", strerror(-r));
		fds->in_fd = fds->out_fd;
		/* Say where it is, as cloud-hypervisor does: the user needs it. */
		fprintf(stderr, "nacelle-vmm: console is %s\n", pty);
		return 0;
	default: /* null: output discarded */
		return 0;
	}
}

static int add_console(struct vmm_pci *pci, const struct vmm_config *cfg,
		       const struct guest_mem *mem, struct vmm_console_fds *fds,
		       struct error *err)
{
	struct virtio_dev *vdev;
	int r;

	if (cfg->console.mode == VMM_OUTPUT_OFF)
		return 0;
	r = open_console_fds(&cfg->console, fds, err);
	if (r < 0)
		return r;
	r = virtio_console_create(fds->out_fd, fds->in_fd, mem, &vdev, err);
	if (r >= 0)
		r = vmm_pci_add_virtio_take(pci, vdev, err);
	return r;
}

int vmm_virtio_devices_create(struct vmm_pci *pci, const struct vmm_config *cfg,
			      const struct guest_mem *mem, struct vmm_console_fds *console,
			      struct error *err)
{
	int r;

	console->out_fd = -1;
	console->in_fd = -1;
	/* Disks first, in command-line order: the first --disk is vda. */
	r = add_disks(pci, cfg, mem, err);
	if (r < 0)
		return r;
	/* NICs, in order: eth0, eth1... */
	r = add_nets(pci, cfg, mem, err);
	if (r < 0)
		return r;
	r = add_rng(pci, cfg, mem, err);
	if (r < 0)
		return r;
	r = add_fs(pci, cfg, mem, err);
	if (r < 0)
		return r;
	r = add_vsock(pci, cfg, mem, err);
	if (r < 0)
		return r;
	return add_console(pci, cfg, mem, console, err);
}

void vmm_console_fds_close(struct vmm_console_fds *console)
{
	if (console->in_fd >= 0 && console->in_fd != console->out_fd)
		close(console->in_fd);
	if (console->out_fd >= 0)
		close(console->out_fd);
	console->in_fd = console->out_fd = -1;
}
