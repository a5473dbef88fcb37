/* SPDX-License-Identifier: Apache-2.0 */
/* oci_id_valid, oci_path_normalize, oci_path_in_root, oci_signal_parse, name tables. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agent/oci-spec.h"
#include "common/test.h"

static void test_ids(void)
{
	char long_id[OCI_ID_MAX + 2];

	CHECK(oci_id_valid("c1"));
	CHECK(oci_id_valid("a"));
	CHECK(oci_id_valid("0123abcdef"));
	CHECK(oci_id_valid("my_container.v1-2"));
	CHECK(!oci_id_valid(NULL));
	CHECK(!oci_id_valid(""));
	CHECK(!oci_id_valid("-flag"));
	CHECK(!oci_id_valid(".hidden"));
	CHECK(!oci_id_valid("_x"));
	CHECK(!oci_id_valid("a..b"));
	CHECK(!oci_id_valid("a/b"));
	CHECK(!oci_id_valid("a b"));
	CHECK(!oci_id_valid("a\nb"));
	CHECK(!oci_id_valid("caf\xc3\xa9"));
	memset(long_id, 'a', OCI_ID_MAX);
	long_id[OCI_ID_MAX] = '\0';
	CHECK(oci_id_valid(long_id));
	long_id[OCI_ID_MAX] = 'a';
	long_id[OCI_ID_MAX + 1] = '\0';
	CHECK(!oci_id_valid(long_id));
}

static void check_norm(const char *in, const char *want)
{
	char *out = NULL;
	int r = oci_path_normalize(in, &out);

	if (!want) {
		CHECK_EQ(r, -EINVAL);
		if (r >= 0)
			fprintf(stderr, "normalize(%s) accepted: %s\n", in, out);
	} else {
		CHECK_EQ(r, 0);
		CHECK(out && strcmp(out, want) == 0);
		if (out && strcmp(out, want) != 0)
			fprintf(stderr, "normalize(%s) = %s, want %s\n", in, out, want);
	}
	free(out);
}

static void test_normalize(void)
{
	check_norm("/", "/");
	check_norm("//", "/");
	check_norm("/a", "/a");
	check_norm("/a/", "/a");
	check_norm("/a//b/./c/", "/a/b/c");
	check_norm("/a/b/..", "/a");
	check_norm("/a/b/../../c", "/c");
	check_norm("/a/..", "/");
	check_norm("/..a/b..", "/..a/b..");
	check_norm("/.../x", "/.../x");
	check_norm("/..", NULL);
	check_norm("/a/../..", NULL);
	check_norm("/a/../../etc/passwd", NULL);
	check_norm("relative", NULL);
	check_norm("", NULL);
}

static void check_in_root(const char *root, const char *path, const char *want)
{
	char *out = NULL;
	int r = oci_path_in_root(root, path, &out);

	CHECK_EQ(r, 0);
	CHECK(out && strcmp(out, want) == 0);
	if (out && strcmp(out, want) != 0)
		fprintf(stderr, "in_root(%s, %s) = %s, want %s\n", root, path, out, want);
	free(out);
}

static void test_in_root(void)
{
	char *out = NULL;

	check_in_root("/run/c1/rootfs", "/etc/hosts", "/run/c1/rootfs/etc/hosts");
	check_in_root("/run/c1/rootfs/", "etc/hosts", "/run/c1/rootfs/etc/hosts");
	check_in_root("/run/c1/rootfs", "/../../../etc/shadow", "/run/c1/rootfs/etc/shadow");
	check_in_root("/run/c1/rootfs", "/a/../../b", "/run/c1/rootfs/b");
	check_in_root("/run/c1/rootfs", "/", "/run/c1/rootfs");
	check_in_root("/run/c1/rootfs", "..", "/run/c1/rootfs");
	check_in_root("/", "/etc", "/etc");
	check_in_root("/", "/", "/");
	check_in_root("rootfs", "x/./y", "rootfs/x/y");
	CHECK_EQ(oci_path_in_root("", "/x", &out), -EINVAL);
	CHECK_EQ(oci_path_in_root(NULL, "/x", &out), -EINVAL);
}

static void test_signals(void)
{
	CHECK_EQ(oci_signal_parse("SIGTERM"), SIGTERM);
	CHECK_EQ(oci_signal_parse("TERM"), SIGTERM);
	CHECK_EQ(oci_signal_parse("term"), SIGTERM);
	CHECK_EQ(oci_signal_parse("15"), 15);
	CHECK_EQ(oci_signal_parse("SIGKILL"), SIGKILL);
	CHECK_EQ(oci_signal_parse("9"), SIGKILL);
	CHECK_EQ(oci_signal_parse("SIGWINCH"), SIGWINCH);
	CHECK_EQ(oci_signal_parse("CHLD"), SIGCHLD);
	CHECK_EQ(oci_signal_parse("RTMIN"), SIGRTMIN);
	CHECK_EQ(oci_signal_parse("SIGRTMIN+3"), SIGRTMIN + 3);
	CHECK_EQ(oci_signal_parse("RTMAX-1"), SIGRTMAX - 1);
	CHECK_EQ(oci_signal_parse(""), -EINVAL);
	CHECK_EQ(oci_signal_parse(NULL), -EINVAL);
	CHECK_EQ(oci_signal_parse("0"), -EINVAL);
	CHECK_EQ(oci_signal_parse("-9"), -EINVAL);
	CHECK_EQ(oci_signal_parse("65"), -EINVAL);
	CHECK_EQ(oci_signal_parse("99999999999"), -EINVAL);
	CHECK_EQ(oci_signal_parse("SIGFOO"), -EINVAL);
	CHECK_EQ(oci_signal_parse("15x"), -EINVAL);
	CHECK_EQ(oci_signal_parse("RTMIN+99"), -EINVAL);
	CHECK_EQ(oci_signal_parse("RTMIN+"), -EINVAL);
}

static void test_tables(void)
{
	CHECK(strcmp(oci_ns_type_to_string(OCI_NS_NETWORK), "network") == 0);
	CHECK(oci_ns_type_to_string(OCI_NS__COUNT) == NULL);
	CHECK_EQ(oci_ns_type_clone_flag(OCI_NS_MOUNT), CLONE_NEWNS);
	CHECK_EQ(oci_ns_type_clone_flag(OCI_NS_USER), CLONE_NEWUSER);
	CHECK(strcmp(oci_rlimit_to_string(RLIMIT_NOFILE), "RLIMIT_NOFILE") == 0);
	CHECK(oci_rlimit_to_string(-1) == NULL);
	CHECK(strcmp(oci_seccomp_action_to_string(OCI_SECCOMP_ACT_ERRNO), "SCMP_ACT_ERRNO") == 0);
	CHECK(strcmp(oci_seccomp_op_to_string(OCI_SECCOMP_OP_MASKED_EQ), "SCMP_CMP_MASKED_EQ") == 0);
	for (int i = 0; i < OCI_NS__COUNT; i++)
		CHECK(oci_ns_type_to_string(i) && oci_ns_type_clone_flag(i));
	for (int i = 0; i < OCI_SECCOMP_ACT__COUNT; i++)
		CHECK(oci_seccomp_action_to_string(i));
	for (int i = 0; i < OCI_SECCOMP_OP__COUNT; i++)
		CHECK(oci_seccomp_op_to_string(i));
}

int main(void)
{
	test_ids();
	test_normalize();
	test_in_root();
	test_signals();
	test_tables();
	printf("oci-util-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
