/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci_seccomp_build() + oci_seccomp_load() for real, each in a forked child
 * with no_new_privs set: a profile that denies mkdir with EPERM must make
 * mkdir fail with EPERM while getpid still works; argument conditions,
 * errnoRet, repeated argument indexes (OR), unknown syscall names and
 * SCMP_ACT_KILL_PROCESS as well.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/oci-spec.h"
#include "common/test.h"

static struct oci_seccomp *parse_seccomp(const char *seccomp_json, struct oci_spec **ret_spec)
{
	struct error err = { 0 };
	char json[4096];
	int r;

	snprintf(json, sizeof(json), "{\"ociVersion\":\"1.0.2\",\"linux\":{\"seccomp\":%s}}",
		 seccomp_json);
	r = oci_spec_parse(json, strlen(json), ret_spec, &err);
	if (r < 0) {
		fprintf(stderr, "parse: %s\n", err.msg);
		return NULL;
	}
	return (*ret_spec)->linux_.seccomp;
}

/*
 * Run fn in a child under the filter. Returns the child's wait status, or
 * -1 if the filter could not even be built.
 */
static int run_filtered(const char *seccomp_json, int (*fn)(const char *dir), const char *dir)
{
	struct oci_spec *spec = NULL;
	struct oci_seccomp *sc = parse_seccomp(seccomp_json, &spec);
	struct error err = { 0 };
	scmp_filter_ctx ctx;
	int status = -1;
	pid_t pid;

	if (!sc)
		goto out;
	if (oci_seccomp_build(sc, &ctx, &err) < 0) {
		fprintf(stderr, "build: %s\n", err.msg);
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(100);
		if (oci_seccomp_load(ctx, &err) < 0) {
			fprintf(stderr, "load: %s\n", err.msg);
			_exit(101);
		}
		_exit(fn(dir));
	}
	seccomp_release(ctx);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
out:
	oci_spec_free(spec);
	return status;
}

static int exited(int status)
{
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* 0 when mkdir fails with EPERM and getpid works */
static int child_mkdir_eperm(const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/denied", dir);
	if (getpid() <= 0)
		return 1;
	if (mkdir(path, 0700) == 0)
		return 2;
	if (errno != EPERM)
		return 3;
	return 0;
}

static void test_deny_mkdir(const char *dir)
{
	/* no_such_syscall: skipped, as runc does for names this arch lacks */
	static const char json[] =
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
		"{\"names\":[\"mkdir\",\"mkdirat\",\"no_such_syscall\"],"
		"\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}";
	char path[512];

	CHECK_EQ(exited(run_filtered(json, child_mkdir_eperm, dir)), 0);
	/* and the parent is not filtered */
	snprintf(path, sizeof(path), "%s/allowed", dir);
	CHECK_EQ(mkdir(path, 0700), 0);
	rmdir(path);
}

/* dup(12345) and dup(12346) -> ENOSYS (rule), dup(12347) -> EBADF (no rule), dup(0) works */
static int child_dup_args(const char *dir)
{
	int fd;

	errno = 0;
	if (dup(12345) != -1 || errno != ENOSYS)
		return 1;
	errno = 0;
	if (dup(12346) != -1 || errno != ENOSYS)
		return 2;
	errno = 0;
	if (dup(12347) != -1 || errno != EBADF)
		return 3;
	fd = dup(0);
	if (fd < 0)
		return 4;
	close(fd);
	return 0;
}

static void test_args(const char *dir)
{
	/* two conditions on index 0: runc turns them into two rules (OR) */
	static const char json[] =
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
		"{\"names\":[\"dup\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38,\"args\":["
		"{\"index\":0,\"value\":12345,\"op\":\"SCMP_CMP_EQ\"},"
		"{\"index\":0,\"value\":12346,\"op\":\"SCMP_CMP_EQ\"}]}]}";
	/* MASKED_EQ: value is the mask, valueTwo the datum; 12345 & 0xfffe == 12344 ... */
	static const char masked[] =
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
		"{\"names\":[\"dup\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38,\"args\":["
		"{\"index\":0,\"value\":65534,\"valueTwo\":12344,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
		"{\"names\":[\"dup\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38,\"args\":["
		"{\"index\":0,\"value\":12346,\"op\":\"SCMP_CMP_EQ\"}]}]}";

	CHECK_EQ(exited(run_filtered(json, child_dup_args, dir)), 0);
	CHECK_EQ(exited(run_filtered(masked, child_dup_args, dir)), 0);
}

static int child_kill(const char *dir)
{
	(void)getppid();
	return 0;
}

static void test_kill_process(const char *dir)
{
	static const char json[] =
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
		"\"SCMP_ARCH_X86\",\"SCMP_ARCH_AARCH64\"],\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
		"\"syscalls\":[{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"},"
		"{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\"}]}";
	int status = run_filtered(json, child_kill, dir);

	CHECK(status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
}

/* default deny (ERRNO with defaultErrnoRet), allow-list what the child needs */
static int child_allowlist(const char *dir)
{
	if (getuid() == (uid_t)-1)
		return 1;
	/* glibc's getppid() does not set errno (it "cannot fail"); syscall() does */
	errno = 0;
	if (syscall(SYS_getppid) != -1 || errno != EACCES)
		return 2;
	return 0;
}

static void test_allowlist(const char *dir)
{
	static const char json[] =
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":13,\"syscalls\":["
		/* what the child and a sanitizer runtime need (_exit is noreturn: ASan
		 * calls sigaltstack before it; its reports mmap and write) */
		"{\"names\":[\"getuid\",\"exit_group\",\"exit\",\"write\",\"sigaltstack\","
		"\"mmap\",\"munmap\",\"mprotect\",\"madvise\",\"gettid\",\"getpid\","
		"\"rt_sigprocmask\",\"rt_sigaction\",\"futex\",\"sched_yield\",\"prctl\","
		"\"open\",\"openat\",\"read\",\"close\",\"readlink\",\"fstat\",\"newfstatat\"],"
		"\"action\":\"SCMP_ACT_ALLOW\"},"
		"{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}";

	CHECK_EQ(exited(run_filtered(json, child_allowlist, dir)), 0);
}

static void test_build_errors(void)
{
	struct oci_seccomp s = { .default_action = OCI_SECCOMP_ACT__COUNT };
	struct error err = { 0 };
	scmp_filter_ctx ctx;

	CHECK(oci_seccomp_build(&s, &ctx, &err) < 0);
	CHECK(err.msg[0] != '\0');
}

int main(void)
{
	char dir[] = "/tmp/oci-seccomp-test.XXXXXX";

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_deny_mkdir(dir);
	test_args(dir);
	test_kill_process(dir);
	test_allowlist(dir);
	test_build_errors();
	rmdir(dir);
	printf("oci-seccomp-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
