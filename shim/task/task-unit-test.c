/* SPDX-License-Identifier: Apache-2.0 */
/* The binary's pure parts: containerd's flags, identifiers, the shim socket
 * address, the pod a bundle belongs to, the address file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "common/test.h"
#include "shim/task.h"

static void test_flags(void)
{
	const char *argv1[] = { "shim", "-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock",
			  "-publish-binary", "/usr/bin/containerd", "-id", "abc", "-debug", "start", NULL };
	const char *argv2[] = { "shim", "--namespace=k8s.io", "-id=x", "-bundle", "/b", "delete", "extra", NULL };
	const char *argv3[] = { "shim", "-namespace", "ns", "-debug=false", NULL };
	const char *argv4[] = { "shim", "-nope", NULL };
	const char *argv5[] = { "shim", "-id", NULL };
	const char *argv6[] = { "shim", "-debug=maybe", NULL };
	const char *argv7[] = { "shim", "-namespace", "ns", "--", "-id", NULL };
	struct shim_flags f;
	struct error err = {};

	CHECK_EQ(shim_flags_parse(11, (char **)argv1, &f, &err), 0);
	CHECK(strcmp(f.ns, "k8s.io") == 0);
	CHECK(strcmp(f.address, "/run/containerd/containerd.sock") == 0);
	CHECK(strcmp(f.publish_binary, "/usr/bin/containerd") == 0);
	CHECK(strcmp(f.id, "abc") == 0);
	CHECK(f.debug);
	CHECK(strcmp(f.action, "start") == 0);

	CHECK_EQ(shim_flags_parse(7, (char **)argv2, &f, &err), 0);
	CHECK(strcmp(f.ns, "k8s.io") == 0 && strcmp(f.id, "x") == 0 && strcmp(f.bundle, "/b") == 0);
	CHECK(strcmp(f.action, "delete") == 0);
	CHECK(strcmp(f.publish_binary, "containerd") == 0); /* the default */
	CHECK(!f.debug);

	CHECK_EQ(shim_flags_parse(4, (char **)argv3, &f, &err), 0);
	CHECK(!f.debug && f.action == NULL); /* serve */

	CHECK_EQ(shim_flags_parse(2, (char **)argv4, &f, &err), -EINVAL);
	CHECK(strstr(err.msg, "flag provided but not defined: -nope") != NULL);
	CHECK_EQ(shim_flags_parse(2, (char **)argv5, &f, &err), -EINVAL);
	CHECK_EQ(shim_flags_parse(2, (char **)argv6, &f, &err), -EINVAL);
	CHECK_EQ(shim_flags_parse(5, (char **)argv7, &f, &err), 0);
	CHECK(strcmp(f.action, "-id") == 0);
}

static void test_ids(void)
{
	static const char *const good[] = { "a", "k8s.io", "default", "a-b_c.d", "A1",
					    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
	static const char *const bad[] = { "", "-a", "a-", "a..b", "a b", "a/b", "ä", ".", "a_-b",
					   "../x" };
	char longid[78];
	struct error err = {};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		CHECK_EQ(shim_id_validate(good[i], &err), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_EQ(shim_id_validate(bad[i], &err), -EINVAL);
	CHECK_EQ(shim_id_validate(NULL, &err), -EINVAL);
	memset(longid, 'a', 76);
	longid[76] = 0;
	CHECK_EQ(shim_id_validate(longid, &err), 0);
	longid[76] = 'a';
	longid[77] = 0;
	CHECK_EQ(shim_id_validate(longid, &err), -EINVAL);
	CHECK(strstr(err.msg, "greater than maximum length (76 characters)") != NULL);
}

static void test_address(void)
{
	char *a = NULL, *b = NULL;
	struct error err = {};

	unsetenv(SHIM_SOCKET_DIR_ENV);
	/* sha256("/run/containerd/containerd.sock/k8s.io/abc") */
	CHECK_EQ(shim_socket_address("/run/containerd/containerd.sock", "k8s.io", "abc", &a, &err), 0);
	CHECK(a && strcmp(a, "unix:///run/containerd/s/"
			     "a99a1752d3a0fadfb1f869026f16760475df03a572e20f4ccea9e6c1e5470b72") == 0);
	CHECK_EQ(strlen(a) - strlen("unix://"), 82);
	/* filepath.Join drops a trailing slash. */
	CHECK_EQ(shim_socket_address("/run/containerd/containerd.sock/", "k8s.io", "abc", &b, &err), 0);
	CHECK(b && strcmp(a, b) == 0);
	free(a);
	free(b);
	setenv(SHIM_SOCKET_DIR_ENV, "/tmp/x", 1);
	CHECK_EQ(shim_socket_address("/c.sock", "ns", "g", &a, &err), 0);
	CHECK(a && strncmp(a, "unix:///tmp/x/", 14) == 0 && strlen(a) == 14 + 64);
	free(a);
	unsetenv(SHIM_SOCKET_DIR_ENV);
}

static void write_config(const char *dir, const char *json)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/config.json", dir);
	f = fopen(path, "w");
	fputs(json, f);
	fclose(f);
}

static void test_group(void)
{
	char dir[] = "/tmp/shim-unit-XXXXXX", path[512], buf[256];
	struct error err = {};
	char *g = NULL;
	bool joins = true;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	/* No config.json: the task's own pod. */
	CHECK_EQ(shim_bundle_group(dir, "t1", &g, &joins, &err), 0);
	CHECK(g && strcmp(g, "t1") == 0 && !joins);
	free(g);

	write_config(dir, "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
			  "\"io.kubernetes.cri.sandbox-id\":\"sb\"}}");
	CHECK_EQ(shim_bundle_group(dir, "sb", &g, &joins, &err), 0);
	CHECK(g && strcmp(g, "sb") == 0 && !joins);
	free(g);

	write_config(dir, "{\"ociVersion\":\"1.0.2\",\"annotations\":{"
			  "\"io.kubernetes.cri.container-type\":\"container\","
			  "\"io.kubernetes.cri.sandbox-id\":\"sb\"}}");
	CHECK_EQ(shim_bundle_group(dir, "c1", &g, &joins, &err), 0);
	CHECK(g && strcmp(g, "sb") == 0 && joins);
	free(g);

	write_config(dir, "{\"annotations\":{\"io.kubernetes.docker.type\":\"container\","
			  "\"io.kubernetes.sandbox.id\":\"dsb\"}}");
	CHECK_EQ(shim_bundle_group(dir, "c2", &g, &joins, &err), 0);
	CHECK(g && strcmp(g, "dsb") == 0 && joins);
	free(g);

	write_config(dir, "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\"}}");
	CHECK_EQ(shim_bundle_group(dir, "c1", &g, &joins, &err), -EINVAL);
	write_config(dir, "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
			  "\"io.kubernetes.cri.sandbox-id\":\"../x\"}}");
	CHECK_EQ(shim_bundle_group(dir, "c1", &g, &joins, &err), -EINVAL);
	write_config(dir, "{not json");
	CHECK_EQ(shim_bundle_group(dir, "c1", &g, &joins, &err), -EINVAL);

	CHECK_EQ(shim_write_address(dir, "unix:///run/containerd/s/abc", &err), 0);
	snprintf(path, sizeof(path), "%s/address", dir);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = 0;
		fclose(f);
		CHECK(strcmp(buf, "unix:///run/containerd/s/abc") == 0); /* no newline */
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	unlink(path);
	/* No FIFO, or a FIFO nobody reads: never blocks. */
	CHECK_EQ(shim_open_log_fifo(dir), -ENOENT);
	snprintf(path, sizeof(path), "%s/log", dir);
	CHECK(mkfifo(path, 0600) == 0);
	CHECK_EQ(shim_open_log_fifo(dir), -ENXIO);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_flags();
	test_ids();
	test_address();
	test_group();
	printf("%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
