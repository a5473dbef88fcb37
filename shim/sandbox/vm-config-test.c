/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VmConfig the runtime sends is one nacelle-vmm accepts: it is parsed
 * by the VMM's own vm.create parser and checked field by field; the VMM's
 * command line parses with the VMM's own parser; the kernel command line and
 * virtiofsd's arguments follow the configuration; pod paths fit in socket
 * addresses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/test.h"
#include "pod-paths.h"
#include "vm-config.h"
#include "vmm/api.h"
#include "vmm/config.h"

static void test_paths(void)
{
	struct sandbox_paths p;
	struct error err = { 0 };
	char long_id[200];

	unsetenv(SANDBOX_RUN_DIR_ENV);
	CHECK_EQ(sandbox_paths_init("pod1", &p, &err), 0);
	CHECK(strcmp(p.dir, "/run/nacelle/pod1") == 0);
	CHECK(strcmp(p.shared, "/run/nacelle/pod1/shared") == 0);
	CHECK(strcmp(p.api_sock, "/run/nacelle/pod1/api.sock") == 0);
	CHECK(strcmp(p.vsock_sock, "/run/nacelle/pod1/vsock.sock") == 0);
	CHECK(strcmp(p.fs_sock, "/run/nacelle/pod1/virtiofsd.sock") == 0);
	CHECK(strcmp(p.console_log, "/run/nacelle/pod1/console.log") == 0);
	CHECK(strcmp(p.vmm_pid, "/run/nacelle/pod1/vmm.pid") == 0);
	sandbox_paths_free(&p);
	sandbox_paths_free(&p);

	/* A relative override is ignored; an absolute one is used. */
	setenv(SANDBOX_RUN_DIR_ENV, "relative", 1);
	CHECK_EQ(sandbox_paths_init("pod1", &p, &err), 0);
	CHECK(strcmp(p.base, "/run/nacelle") == 0);
	sandbox_paths_free(&p);
	setenv(SANDBOX_RUN_DIR_ENV, "/tmp/x", 1);
	CHECK_EQ(sandbox_paths_init("pod1", &p, &err), 0);
	CHECK(strcmp(p.dir, "/tmp/x/pod1") == 0);
	sandbox_paths_free(&p);
	unsetenv(SANDBOX_RUN_DIR_ENV);

	/* The longest containerd id (76) still fits under /run/nacelle. */
	memset(long_id, 'a', 76);
	long_id[76] = '\0';
	CHECK_EQ(sandbox_paths_init(long_id, &p, &err), 0);
	sandbox_paths_free(&p);
	memset(long_id, 'a', 150);
	long_id[150] = '\0';
	CHECK_EQ(sandbox_paths_init(long_id, &p, &err), -ENAMETOOLONG);
}

static void test_cmdline(void)
{
	struct sandbox_config cfg;
	char *s;

	CHECK_EQ(sandbox_config_defaults(&cfg), 0);
	CHECK_EQ(sandbox_kernel_cmdline(&cfg, &s), 0);
	CHECK(strcmp(s, "console=ttyS0 panic=1 quiet") == 0);
	free(s);
	cfg.debug = true;
	free(cfg.kernel_params);
	cfg.kernel_params = strdup("loglevel=8");
	CHECK_EQ(sandbox_kernel_cmdline(&cfg, &s), 0);
	CHECK(strcmp(s, "console=ttyS0 panic=1 loglevel=8") == 0);
	free(s);
	sandbox_config_free(&cfg);
}

static void test_vm_config(void)
{
	struct sandbox_config cfg;
	struct sandbox_paths p;
	struct error err = { 0 };
	struct vmm_config vc;
	char *json = NULL;

	CHECK_EQ(sandbox_config_defaults(&cfg), 0);
	cfg.vcpus = 2;
	cfg.memory_mib = 768;
	CHECK_EQ(sandbox_paths_init("pod-a", &p, &err), 0);
	CHECK_EQ(sandbox_vm_config_json(&cfg, &p, &json, &err), 0);
	CHECK(json != NULL);
	if (!json)
		return;

	vmm_config_init(&vc);
	if (vmm_config_from_json(json, strlen(json), &vc, &err) < 0) {
		fprintf(stderr, "nacelle-vmm refuses the VmConfig: %s\n%s\n", err.msg, json);
		CHECK(0);
	} else {
		CHECK(strcmp(vc.kernel, cfg.kernel) == 0);
		CHECK(strcmp(vc.initramfs, cfg.initramfs) == 0);
		CHECK(strcmp(vc.cmdline, "console=ttyS0 panic=1 quiet") == 0);
		CHECK_EQ(vc.boot_vcpus, 2);
		CHECK_EQ(vc.max_vcpus, 2);
		CHECK_EQ(vc.memory_size, 768 * MiB);
		CHECK(vc.memory_shared);
		CHECK_EQ(vc.nr_fs, 1);
		if (vc.nr_fs == 1) {
			CHECK(strcmp(vc.fs[0].tag, SANDBOX_FS_TAG) == 0);
			CHECK(strcmp(vc.fs[0].socket, p.fs_sock) == 0);
			CHECK_EQ(vc.fs[0].num_queues, 1);
			CHECK_EQ(vc.fs[0].queue_size, SANDBOX_FS_QUEUE_SIZE);
		}
		CHECK(vc.vsock.enabled);
		CHECK_EQ(vc.vsock.cid, SANDBOX_GUEST_CID);
		CHECK(strcmp(vc.vsock.socket, p.vsock_sock) == 0);
		CHECK_EQ(vc.serial.mode, VMM_OUTPUT_FILE);
		CHECK(strcmp(vc.serial.file, p.console_log) == 0);
		CHECK_EQ(vc.console.mode, VMM_OUTPUT_OFF);
		CHECK(vc.rng.src && strcmp(vc.rng.src, "/dev/urandom") == 0);
	}
	vmm_config_free(&vc);
	free(json);
	sandbox_paths_free(&p);
	sandbox_config_free(&cfg);
}

static void test_argv(void)
{
	struct sandbox_config cfg;
	struct sandbox_paths p;
	struct error err = { 0 };
	struct vmm_config vc;
	char **argv = NULL;
	int argc = 0;

	CHECK_EQ(sandbox_config_defaults(&cfg), 0);
	CHECK_EQ(sandbox_paths_init("pod-b", &p, &err), 0);

	CHECK_EQ(sandbox_vmm_argv(&cfg, &p, &argv), 0);
	while (argv[argc])
		argc++;
	CHECK_EQ(argc, 3);
	CHECK(strcmp(argv[0], cfg.vmm_path) == 0);
	vmm_config_init(&vc);
	if (vmm_cli_parse(argc, argv, &vc, &err) < 0) {
		fprintf(stderr, "nacelle-vmm refuses its command line: %s\n", err.msg);
		CHECK(0);
	} else {
		CHECK(vc.api_socket && strcmp(vc.api_socket, p.api_sock) == 0);
		CHECK(vc.kernel == NULL);
	}
	vmm_config_free(&vc);
	strv_free(argv);

	cfg.debug = true;
	CHECK_EQ(sandbox_vmm_argv(&cfg, &p, &argv), 0);
	for (argc = 0; argv[argc];)
		argc++;
	vmm_config_init(&vc);
	CHECK_EQ(vmm_cli_parse(argc, argv, &vc, &err), 0);
	CHECK_EQ(vc.verbosity, 2);
	vmm_config_free(&vc);
	strv_free(argv);

	cfg.debug = false;
	cfg.virtiofsd_cache = SANDBOX_FS_CACHE_NONE;
	CHECK_EQ(sandbox_virtiofsd_argv(&cfg, &p, &argv), 0);
	CHECK(strcmp(argv[0], "/usr/lib/qemu/virtiofsd") == 0);
	CHECK(strcmp(argv[1], "--socket-path=/run/nacelle/pod-b/virtiofsd.sock") == 0);
	CHECK(strcmp(argv[2], "-o") == 0 && strcmp(argv[3], "source=/run/nacelle/pod-b/shared") == 0);
	CHECK(strcmp(argv[4], "-o") == 0 && strcmp(argv[5], "cache=none") == 0);
	CHECK(strcmp(argv[6], "-o") == 0 && strcmp(argv[7], "sandbox=chroot") == 0);
	CHECK(strcmp(argv[8], "-o") == 0 && strcmp(argv[9], "log_level=info") == 0);
	CHECK(argv[10] == NULL);
	strv_free(argv);
	strv_free(NULL);

	sandbox_paths_free(&p);
	sandbox_config_free(&cfg);
}

int main(void)
{
	test_paths();
	test_cmdline();
	test_vm_config();
	test_argv();
	fprintf(stderr, "%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
