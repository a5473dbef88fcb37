/* SPDX-License-Identifier: Apache-2.0 */
/* struct vmm_config: defaults, release, and the value syntax shared by its sources. */
#include "vmm/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VMM_DEFAULT_VCPUS 1
#define VMM_DEFAULT_MEMORY (512 * MiB)

void vmm_config_init(struct vmm_config *cfg)
{
	*cfg = (struct vmm_config){
		.boot_vcpus = VMM_DEFAULT_VCPUS,
		.max_vcpus = VMM_DEFAULT_VCPUS,
		.memory_size = VMM_DEFAULT_MEMORY,
		/* cloud-hypervisor's --serial default: the port exists, output is dropped. */
		.serial = { .mode = VMM_OUTPUT_NULL },
		/* cloud-hypervisor defaults to tty; see config.h for why nacelle does not. */
		.console = { .mode = VMM_OUTPUT_OFF },
	};
}

static void vmm_disk_config_free(struct vmm_disk_config *disk)
{
	free(disk->path);
	free(disk->id);
	free(disk->serial);
}

static void vmm_net_config_free(struct vmm_net_config *net)
{
	free(net->tap);
	free(net->ip);
	free(net->mask);
	free(net->id);
}

static void vmm_fs_config_free(struct vmm_fs_config *fs)
{
	free(fs->tag);
	free(fs->socket);
	free(fs->id);
}

void vmm_config_free(struct vmm_config *cfg)
{
	if (!cfg)
		return;
	for (unsigned int i = 0; i < cfg->nr_fs; i++)
		vmm_fs_config_free(&cfg->fs[i]);
	free(cfg->fs);
	free(cfg->vsock.socket);
	free(cfg->vsock.id);
	free(cfg->api_socket);
	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		vmm_disk_config_free(&cfg->disks[i]);
	free(cfg->disks);
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		vmm_net_config_free(&cfg->nets[i]);
	free(cfg->nets);
	free(cfg->rng.src);
	free(cfg->kernel);
	free(cfg->initramfs);
	free(cfg->cmdline);
	free(cfg->serial.file);
	free(cfg->console.file);
	free(cfg->log_file);
	vmm_config_init(cfg);
}

/* The spelling of cloud-hypervisor's ConsoleOutputMode, as its API reports it. */
static const char *const output_mode_table[] = {
	[VMM_OUTPUT_OFF] = "Off",   [VMM_OUTPUT_NULL] = "Null", [VMM_OUTPUT_TTY] = "Tty",
	[VMM_OUTPUT_FILE] = "File", [VMM_OUTPUT_PTY] = "Pty",   [VMM_OUTPUT_SOCKET] = "Socket",
};

const char *vmm_output_mode_to_string(enum vmm_output_mode mode)
{
	if ((unsigned int)mode >= ARRAY_SIZE(output_mode_table))
		return NULL;
	return output_mode_table[mode];
}

int vmm_parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		char suffix;
		unsigned int shift;
	} suffixes[] = {
		{ 'K', 10 }, { 'k', 10 }, { 'M', 20 }, { 'm', 20 }, { 'G', 30 }, { 'g', 30 },
	};
	unsigned int shift = 0;
	uint64_t v = 0;
	const char *p;

	if (!s || !*s)
		return -EINVAL;
	/* Digits only: strtoull would take a sign, leading space and "0x". */
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (p == s)
		return -EINVAL;
	if (*p) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(suffixes); i++)
			if (*p == suffixes[i].suffix)
				break;
		if (i == ARRAY_SIZE(suffixes) || p[1] != '\0')
			return -EINVAL;
		shift = suffixes[i].shift;
	}
	/* No guest has zero bytes of anything; 0 is always a mistake. */
	if (v == 0 || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*ret = v << shift;
	return 0;
}
