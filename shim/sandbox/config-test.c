/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime's config file: defaults, every key, the lookup order
 * (ConfigPath > $NACELLE_CONFIG > default path), unknown keys, wrong types,
 * out-of-range values, and the io.nacelle.* pod annotations.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/test.h"
#include "config.h"

static char dir[] = "/tmp/nacelle-config-test.XXXXXX";

static void write_file(const char *name, const char *text, char *path, size_t size)
{
	FILE *f;

	snprintf(path, size, "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void test_defaults(void)
{
	struct sandbox_config cfg;

	CHECK_EQ(sandbox_config_defaults(&cfg), 0);
	CHECK(strcmp(cfg.kernel, NACELLE_PREFIX "/share/nacelle/bzImage") == 0);
	CHECK(strcmp(cfg.initramfs, NACELLE_PREFIX "/share/nacelle/initramfs.cpio.lz4") == 0);
	CHECK(strcmp(cfg.virtiofsd_path, "/usr/lib/qemu/virtiofsd") == 0);
	CHECK(strcmp(cfg.kernel_params, "") == 0);
	CHECK(cfg.vmm_path[0] == '/');
	CHECK(strlen(cfg.vmm_path) > strlen("/nacelle-vmm") &&
	      strcmp(cfg.vmm_path + strlen(cfg.vmm_path) - strlen("/nacelle-vmm"),
		     "/nacelle-vmm") == 0);
	CHECK_EQ(cfg.virtiofsd_cache, SANDBOX_FS_CACHE_AUTO);
	CHECK_EQ(cfg.virtiofsd_sandbox, SANDBOX_FS_SANDBOX_CHROOT);
	CHECK_EQ(cfg.vcpus, 1);
	CHECK_EQ(cfg.memory_mib, SANDBOX_DEFAULT_MEMORY_MIB);
	CHECK_EQ(cfg.boot_timeout_seconds, 30);
	CHECK(!cfg.debug);
	CHECK(cfg.source == NULL);
	sandbox_config_free(&cfg);
	sandbox_config_free(NULL);
}

/* nacelle-vmm is looked up on $PATH when it is not next to the program. */
static void test_vmm_on_path(void)
{
	char vmm[512], *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	char self[512], next[600];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct sandbox_config cfg;

	CHECK(n > 0);
	self[n > 0 ? n : 0] = '\0';
	if (strrchr(self, '/'))
		*strrchr(self, '/') = '\0';
	snprintf(next, sizeof(next), "%s/nacelle-vmm", self);
	write_file("nacelle-vmm", "#!/bin/sh\n", vmm, sizeof(vmm));
	CHECK_EQ(chmod(vmm, 0755), 0);
	setenv("PATH", dir, 1);
	CHECK_EQ(sandbox_config_defaults(&cfg), 0);
	if (access(next, X_OK) == 0)
		CHECK(strcmp(cfg.vmm_path, next) == 0);
	else
		CHECK(strcmp(cfg.vmm_path, vmm) == 0);
	sandbox_config_free(&cfg);
	if (old)
		setenv("PATH", old, 1);
	else
		unsetenv("PATH");
	free(old);
	unlink(vmm);
}

static void test_full_file(void)
{
	char path[512];
	struct sandbox_config cfg;
	struct error err = { 0 };

	write_file("full.json",
		   "{\"kernel\": \"/k/bzImage\", \"initramfs\": \"/k/initrd\",\n"
		   " \"kernel_params\": \"loglevel=7 foo=bar\", \"vmm_path\": \"/opt/vmm\",\n"
		   " \"virtiofsd_path\": \"/opt/virtiofsd\", \"virtiofsd_cache\": \"none\",\n"
		   " \"virtiofsd_sandbox\": \"namespace\", \"vcpus\": 4, \"memory_mib\": 2048,\n"
		   " \"boot_timeout_seconds\": 5, \"debug\": true}\n",
		   path, sizeof(path));
	CHECK_EQ(sandbox_config_load(path, &cfg, &err), 0);
	CHECK(strcmp(cfg.kernel, "/k/bzImage") == 0);
	CHECK(strcmp(cfg.initramfs, "/k/initrd") == 0);
	CHECK(strcmp(cfg.kernel_params, "loglevel=7 foo=bar") == 0);
	CHECK(strcmp(cfg.vmm_path, "/opt/vmm") == 0);
	CHECK(strcmp(cfg.virtiofsd_path, "/opt/virtiofsd") == 0);
	CHECK_EQ(cfg.virtiofsd_cache, SANDBOX_FS_CACHE_NONE);
	CHECK_EQ(cfg.virtiofsd_sandbox, SANDBOX_FS_SANDBOX_NAMESPACE);
	CHECK_EQ(cfg.vcpus, 4);
	CHECK_EQ(cfg.memory_mib, 2048);
	CHECK_EQ(cfg.boot_timeout_seconds, 5);
	CHECK(cfg.debug);
	CHECK(cfg.source && strcmp(cfg.source, path) == 0);
	sandbox_config_free(&cfg);

	/* A partial file keeps the defaults of what it leaves out. */
	write_file("partial.json", "{\"vcpus\": 2}", path, sizeof(path));
	CHECK_EQ(sandbox_config_load(path, &cfg, &err), 0);
	CHECK_EQ(cfg.vcpus, 2);
	CHECK_EQ(cfg.memory_mib, SANDBOX_DEFAULT_MEMORY_MIB);
	CHECK(strcmp(cfg.virtiofsd_path, SANDBOX_DEFAULT_VIRTIOFSD) == 0);
	sandbox_config_free(&cfg);

	write_file("empty-object.json", "{}", path, sizeof(path));
	CHECK_EQ(sandbox_config_load(path, &cfg, &err), 0);
	CHECK_EQ(cfg.vcpus, SANDBOX_DEFAULT_VCPUS);
	sandbox_config_free(&cfg);
}

static void test_lookup_order(void)
{
	char env_path[512], opt_path[512], missing[600];
	struct sandbox_config cfg;
	struct error err = { 0 };

	write_file("env.json", "{\"vcpus\": 3}", env_path, sizeof(env_path));
	write_file("opt.json", "{\"vcpus\": 5}", opt_path, sizeof(opt_path));

	setenv(SANDBOX_CONFIG_ENV, env_path, 1);
	CHECK_EQ(sandbox_config_load(NULL, &cfg, &err), 0);
	CHECK_EQ(cfg.vcpus, 3);
	sandbox_config_free(&cfg);
	CHECK_EQ(sandbox_config_load("", &cfg, &err), 0);
	CHECK_EQ(cfg.vcpus, 3);
	sandbox_config_free(&cfg);
	/* ConfigPath wins over the environment. */
	CHECK_EQ(sandbox_config_load(opt_path, &cfg, &err), 0);
	CHECK_EQ(cfg.vcpus, 5);
	sandbox_config_free(&cfg);

	/* A file someone named must exist. */
	snprintf(missing, sizeof(missing), "%s/missing.json", dir);
	CHECK_EQ(sandbox_config_load(missing, &cfg, &err), -ENOENT);
	CHECK(strstr(err.msg, "missing.json") != NULL);
	setenv(SANDBOX_CONFIG_ENV, missing, 1);
	CHECK_EQ(sandbox_config_load(NULL, &cfg, &err), -ENOENT);
	unsetenv(SANDBOX_CONFIG_ENV);

	/* No file at the default path: built-in defaults. */
	if (access(SANDBOX_CONFIG_DEFAULT_PATH, F_OK) != 0) {
		CHECK_EQ(sandbox_config_load(NULL, &cfg, &err), 0);
		CHECK(cfg.source == NULL);
		CHECK_EQ(cfg.vcpus, SANDBOX_DEFAULT_VCPUS);
		sandbox_config_free(&cfg);
	} else {
		fprintf(stderr, "note: %s exists here; not checking the no-file defaults\n",
			SANDBOX_CONFIG_DEFAULT_PATH);
	}

	/* A directory is not a config file. */
	CHECK_EQ(sandbox_config_load(dir, &cfg, &err), -EINVAL);
}

struct bad_case {
	const char *json;
	const char *expect; /* in the message */
};

static const struct bad_case bad_cases[] = {
	{ "{\"kernal\": \"/k\"}", "unknown key \"kernal\"" },
	{ "{\"vcpus\": 1, \"extra\": {}}", "unknown key \"extra\"" },
	{ "{\"kernel\": 3}", "kernel: expected a string" },
	{ "{\"kernel\": \"relative/bzImage\"}", "kernel: \"relative/bzImage\" is not an absolute path" },
	{ "{\"initramfs\": null}", "initramfs: expected a string" },
	{ "{\"vmm_path\": [\"/x\"]}", "vmm_path: expected a string" },
	{ "{\"virtiofsd_path\": true}", "virtiofsd_path: expected a string" },
	{ "{\"kernel_params\": 1}", "kernel_params: expected a string" },
	{ "{\"kernel_params\": \"a\\nb\"}", "kernel_params: control character" },
	{ "{\"virtiofsd_cache\": \"sometimes\"}", "virtiofsd_cache: \"sometimes\" is not one of" },
	{ "{\"virtiofsd_cache\": 1}", "virtiofsd_cache: expected a string" },
	{ "{\"virtiofsd_sandbox\": \"none\"}", "virtiofsd_sandbox: \"none\" is not one of" },
	{ "{\"vcpus\": \"2\"}", "vcpus: expected an integer" },
	{ "{\"vcpus\": 1.5}", "vcpus: expected an integer" },
	{ "{\"vcpus\": 0}", "vcpus: 0 is outside 1..254" },
	{ "{\"vcpus\": 255}", "vcpus: 255 is outside" },
	{ "{\"memory_mib\": 16}", "memory_mib: 16 is outside" },
	{ "{\"memory_mib\": -512}", "memory_mib: -512 is outside" },
	{ "{\"boot_timeout_seconds\": 0}", "boot_timeout_seconds: 0 is outside" },
	{ "{\"debug\": \"yes\"}", "debug: expected true or false" },
	{ "{\"debug\": 1}", "debug: expected true or false" },
	{ "{\"vcpus\": 1, \"vcpus\": 2}", "\"vcpus\" given more than once" },
	{ "[]", "expected a JSON object" },
	{ "\"kernel\"", "expected a JSON object" },
	{ "{\"vcpus\": 1", "invalid JSON" },
	{ "{\"vcpus\": 1} {}", "invalid JSON" },
	{ "", "invalid JSON" },
	{ "{\"kernel\": \"/a\\u0000b\"}", "\\u0000" },
};

static void test_bad(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		char path[512], name[32];
		struct sandbox_config cfg;
		struct error err = { 0 };
		int r;

		snprintf(name, sizeof(name), "bad%zu.json", i);
		write_file(name, bad_cases[i].json, path, sizeof(path));
		r = sandbox_config_load(path, &cfg, &err);
		CHECK_EQ(r, -EINVAL);
		if (r == 0) {
			fprintf(stderr, "  accepted: %s\n", bad_cases[i].json);
			sandbox_config_free(&cfg);
			continue;
		}
		if (!strstr(err.msg, bad_cases[i].expect)) {
			fprintf(stderr, "  case %zu (%s): message \"%s\" lacks \"%s\"\n", i,
				bad_cases[i].json, err.msg, bad_cases[i].expect);
			CHECK(0);
		}
		/* Every message names the file. */
		CHECK(strstr(err.msg, name) != NULL);
	}
}

static void test_too_big(void)
{
	char path[512];
	size_t n = SANDBOX_CONFIG_MAX_BYTES + 10;
	char *big = malloc(n + 1);
	struct sandbox_config cfg;
	struct error err = { 0 };

	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	write_file("big.json", big, path, sizeof(path));
	CHECK_EQ(sandbox_config_load(path, &cfg, &err), -E2BIG);
	free(big);
}

static void test_annotations(void)
{
	struct sandbox_config cfg;
	struct error err = { 0 };
	const char *keys[] = { "io.kubernetes.cri.container-type", "io.nacelle.vcpus",
			       "io.nacelle.memory_mib", "other" };
	const char *values[] = { "sandbox", "2", "1024", "x" };
	const char *bad_key[] = { "io.nacelle.kernel" };
	const char *bad_val[] = { "/evil" };
	const char *num_key[] = { "io.nacelle.vcpus" };
	const char *num_bad[] = { "2x", "", "-1", "999", "+3" };

	CHECK_EQ(sandbox_config_defaults(&cfg), 0);
	CHECK_EQ(sandbox_config_apply_annotations(&cfg, keys, values, ARRAY_SIZE(keys), &err), 0);
	CHECK_EQ(cfg.vcpus, 2);
	CHECK_EQ(cfg.memory_mib, 1024);
	CHECK_EQ(sandbox_config_apply_annotations(&cfg, bad_key, bad_val, 1, &err), -EINVAL);
	CHECK(strstr(err.msg, "io.nacelle.kernel") != NULL);
	for (size_t i = 0; i < ARRAY_SIZE(num_bad); i++) {
		CHECK_EQ(sandbox_config_apply_annotations(&cfg, num_key, &num_bad[i], 1, &err),
			 -EINVAL);
		CHECK(strstr(err.msg, "io.nacelle.vcpus") != NULL);
	}
	CHECK_EQ(cfg.vcpus, 2);
	sandbox_config_free(&cfg);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	unsetenv(SANDBOX_CONFIG_ENV);
	test_defaults();
	test_vmm_on_path();
	test_full_file();
	test_lookup_order();
	test_bad();
	test_too_big();
	test_annotations();
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "note: could not remove %s\n", dir);
	}
	fprintf(stderr, "%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
