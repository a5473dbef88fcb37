/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the PID 1 duties that can run on a host without harming it:
 * modules.dep parsing and load planning on fake trees (never loading a
 * module into the host kernel), the cgroup controller writer on a fake
 * directory, the early mounts in a private mount namespace (without devtmpfs
 * and cgroup2, which are shared with the host), the reaper with a child and an
 * orphaned grandchild, and the refusals of power-off and clock changes when
 * not PID 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/init.h"
#include "common/test.h"
#include "init-internal.h"

static char tmpdir[] = "/tmp/nacelle-init-test.XXXXXX";

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Parse modules.dep text held in a string literal (copied: the parser cuts it in place). */
static int parse(struct agent_moddep *dep, const char *text, struct error *err)
{
	char *copy = strdup(text);

	*dep = (struct agent_moddep){ 0 };
	if (!copy)
		return -ENOMEM;
	return agent_moddep_parse_take(dep, copy, strlen(text), err);
}

/* The plan for `names` as "a b c", or the error. */
static int plan_str(const struct agent_moddep *dep, const char *const *names, char *out,
		    size_t size, struct error *err)
{
	const struct agent_moddep_entry **plan = NULL;
	size_t n = 0, i;
	int r;

	out[0] = '\0';
	r = agent_moddep_plan(dep, names, &plan, &n, err);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		size_t len = strlen(out);

		snprintf(out + len, size - len, "%s%s", i ? " " : "", plan[i]->name);
	}
	free(plan);
	return (int)n;
}

static void test_module_names(void)
{
	char name[AGENT_MODULE_NAME_MAX];
	char longname[100];

	CHECK_EQ(agent_module_name("kernel/fs/fuse/virtio-fs.ko.xz", name), 0);
	CHECK(strcmp(name, "virtio_fs") == 0);
	CHECK_EQ(agent_module_name("virtio-pci", name), 0);
	CHECK(strcmp(name, "virtio_pci") == 0);
	CHECK_EQ(agent_module_name("/lib/modules/x/kernel/a.ko", name), 0);
	CHECK(strcmp(name, "a") == 0);
	CHECK_EQ(agent_module_name("kernel/x_kobj.ko.zst", name), 0);
	CHECK(strcmp(name, "x_kobj") == 0);
	CHECK_EQ(agent_module_name("kernel/x.kobj.ko", name), -EINVAL);
	CHECK_EQ(agent_module_name("", name), -EINVAL);
	CHECK_EQ(agent_module_name("dir/", name), -EINVAL);
	CHECK_EQ(agent_module_name("a b", name), -EINVAL);
	CHECK_EQ(agent_module_name("a.ko.bz2", name), -EINVAL);
	memset(longname, 'm', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ(agent_module_name(longname, name), -EINVAL);
	longname[AGENT_MODULE_NAME_MAX - 1] = '\0';
	CHECK_EQ(agent_module_name(longname, name), 0);
}

static const char fake_dep[] =
	"# a comment line\n"
	"kernel/nfake/nfake_a.ko: kernel/nfake/nfake-b.ko kernel/nfake/nfake_c.ko\n"
	"kernel/nfake/nfake-b.ko:\tkernel/nfake/nfake_c.ko  \r\n"
	"\n"
	"kernel/nfake/nfake_c.ko:\n"
	"kernel/nfake/nfake_d.ko.xz: kernel/nfake/nfake_a.ko kernel/nfake/nfake_e.ko\n"
	"kernel/nfake/nfake_e.ko:\n"
	"kernel/nfake/nfake_uses_builtin.ko: kernel/fs/nfake_bi.ko\n"
	"kernel/nfake/nfake_f.ko: kernel/nfake/nfake_missing.ko\n"
	"kernel/nfake/nfake_only_file.ko:"; /* no final newline */

static void test_moddep_plan(void)
{
	struct agent_moddep dep;
	struct error err = { 0 };
	char out[512];
	char *bi;

	CHECK_EQ(parse(&dep, fake_dep, &err), 0);
	CHECK_EQ(dep.nr_entries, 8);
	bi = strdup("kernel/fs/nfake_bi.ko\nkernel/fs/ext4/ext4.ko\n\n");
	CHECK_EQ(agent_moddep_parse_builtin_take(&dep, bi, strlen(bi), &err), 0);
	CHECK(agent_moddep_is_builtin(&dep, "ext4"));
	CHECK(!agent_moddep_is_builtin(&dep, "nfake_a"));
	CHECK(agent_moddep_find(&dep, "nfake_b") != NULL);
	CHECK(agent_moddep_find(&dep, "nfake_d") != NULL);
	CHECK(agent_moddep_find(&dep, "nfake_only_file") != NULL);

	/* dependencies first, in modules.dep order, each once */
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "nfake-d", NULL }, out, sizeof(out), &err), 5);
	CHECK(strcmp(out, "nfake_c nfake_b nfake_a nfake_e nfake_d") == 0);
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "nfake_a", "nfake_c", "nfake_a", "nfake_b", NULL },
			  out, sizeof(out), &err), 3);
	CHECK(strcmp(out, "nfake_c nfake_b nfake_a") == 0);
	/* built-in modules are not loaded, neither asked for nor as dependencies */
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "ext4", "nfake_uses_builtin", NULL }, out,
			  sizeof(out), &err), 1);
	CHECK(strcmp(out, "nfake_uses_builtin") == 0);
	CHECK_EQ(plan_str(&dep, (const char *const[]){ NULL }, out, sizeof(out), &err), 0);

	/* unknown modules, as names and as dependencies */
	error_clear(&err);
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "nfake_nope", NULL }, out, sizeof(out), &err),
		 -ENOENT);
	CHECK(strstr(err.msg, "nfake_nope") != NULL);
	error_clear(&err);
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "nfake_f", NULL }, out, sizeof(out), &err),
		 -ENOENT);
	CHECK(strstr(err.msg, "nfake_missing (needed by nfake_f)") != NULL);
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "bad name", NULL }, out, sizeof(out), &err),
		 -EINVAL);
	agent_moddep_free(&dep);
	agent_moddep_free(NULL);
}

static void test_moddep_bounds(void)
{
	struct agent_moddep dep;
	struct error err = { 0 };
	char out[4096], *text, *p;
	size_t i;

	/* cycles end with -ELOOP instead of recursing forever */
	CHECK_EQ(parse(&dep, "x.ko: y.ko\ny.ko: z.ko\nz.ko: x.ko\n", &err), 0);
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "y", NULL }, out, sizeof(out), &err), -ELOOP);
	CHECK(strstr(err.msg, "cycle") != NULL);
	agent_moddep_free(&dep);
	CHECK_EQ(parse(&dep, "self.ko: self.ko\n", &err), 0);
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "self", NULL }, out, sizeof(out), &err), -ELOOP);
	agent_moddep_free(&dep);

	/* a chain deeper than the limit: m0 needs m1 ... needs mN */
	text = malloc(200 * 32);
	CHECK(text != NULL);
	if (!text)
		return;
	for (p = text, i = 0; i < 100; i++)
		p += sprintf(p, "m%zu.ko: m%zu.ko\n", i, i + 1);
	p += sprintf(p, "m100.ko:\n");
	CHECK_EQ(parse(&dep, text, &err), 0);
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "m0", NULL }, out, sizeof(out), &err), -E2BIG);
	CHECK_EQ(plan_str(&dep, (const char *const[]){ "m60", NULL }, out, sizeof(out), &err), 41);
	agent_moddep_free(&dep);

	/* too many dependencies on one line */
	p = text = realloc(text, (AGENT_MODDEP_MAX_DEPS + 2) * 8 + 16);
	CHECK(text != NULL);
	if (!text)
		return;
	p += sprintf(p, "big.ko:");
	for (i = 0; i <= AGENT_MODDEP_MAX_DEPS; i++)
		p += sprintf(p, " d%zu.ko", i);
	CHECK_EQ(parse(&dep, text, &err), -E2BIG);
	agent_moddep_free(&dep);
	free(text);

	/* malformed files */
	CHECK_EQ(parse(&dep, "kernel/a.ko kernel/b.ko\n", &err), -EINVAL);
	CHECK(strstr(err.msg, "line 1") != NULL);
	agent_moddep_free(&dep);
	CHECK_EQ(parse(&dep, "a.ko:\n../../etc/evil.ko:\n", &err), -EINVAL);
	CHECK(strstr(err.msg, "line 2") != NULL);
	agent_moddep_free(&dep);
	CHECK_EQ(parse(&dep, "a.ko: kernel/../../x.ko\n", &err), -EINVAL);
	agent_moddep_free(&dep);
	CHECK_EQ(parse(&dep, "k/a-b.ko:\nk2/a_b.ko:\n", &err), -EINVAL);
	CHECK(strstr(err.msg, "twice") != NULL);
	agent_moddep_free(&dep);
	CHECK_EQ(parse(&dep, ":\n", &err), -EINVAL);
	agent_moddep_free(&dep);
	text = strdup("a.ko:\nb.ko:\n");
	text[3] = '\0';
	dep = (struct agent_moddep){ 0 };
	CHECK_EQ(agent_moddep_parse_take(&dep, text, 12, &err), -EINVAL);
	agent_moddep_free(&dep);
	CHECK_EQ(parse(&dep, "", &err), 0);
	CHECK_EQ(dep.nr_entries, 0);
	CHECK(agent_moddep_find(&dep, "a") == NULL);
	agent_moddep_free(&dep);
}

static void test_modules_on_tree(void)
{
	char dir[512], list[512];
	struct error err = { 0 };

	snprintf(dir, sizeof(dir), "%s/lib/modules/9.9.9-fake", tmpdir);
	CHECK_EQ(mkdir(dir, 0755) == 0 || errno == EEXIST, 1);

	/* no modules.dep: a clear error naming it */
	CHECK_EQ(agent_init_modules_at(dir, (const char *const[]){ "nfake_c", NULL }, &err), -ENOENT);
	CHECK(strstr(err.msg, "modules.dep") != NULL);
	/* nothing asked: modules.dep is not even read */
	CHECK_EQ(agent_init_modules_at(dir, (const char *const[]){ NULL }, &err), 0);
	CHECK_EQ(agent_init_modules_at(dir, NULL, NULL), 0);

	write_file(dir, "modules.dep", fake_dep);
	write_file(dir, "modules.builtin", "kernel/fs/nfake_bi.ko\n");
	/* built in only: nothing to load, success without any finit_module */
	error_clear(&err);
	CHECK_EQ(agent_init_modules_at(dir, (const char *const[]){ "nfake_bi", NULL }, &err), 0);
	/* a module whose file is missing: an error naming the file, before any load */
	CHECK_EQ(agent_init_modules_at(dir, (const char *const[]){ "nfake_b", NULL }, &err), -ENOENT);
	CHECK(strstr(err.msg, "kernel/nfake/nfake_c.ko") != NULL);
	CHECK(strstr(err.msg, "module nfake_c") != NULL);
	CHECK_EQ(agent_init_modules_at(dir, (const char *const[]){ "nfake_zzz", NULL }, &err),
		 -ENOENT);

	/* the list file */
	snprintf(list, sizeof(list), "%s/no-such-list", tmpdir);
	CHECK_EQ(agent_init_modules_from_list(list, &err), -ENOENT);
	CHECK(strstr(err.msg, "no-such-list") != NULL);
	write_file(tmpdir, "empty-list", "# only comments\n\n   # and blanks\n");
	snprintf(list, sizeof(list), "%s/empty-list", tmpdir);
	CHECK_EQ(agent_init_modules_from_list(list, &err), 0);
}

static void test_cgroup_controllers(void)
{
	_cleanup_free_ char *got = NULL;
	char dir[512], path[600];
	struct error err = { 0 };

	snprintf(dir, sizeof(dir), "%s/cg", tmpdir);
	CHECK_EQ(mkdir(dir, 0755), 0);
	CHECK_EQ(agent_init_cgroup_enable_controllers(dir, &err), -ENOENT);
	CHECK(strstr(err.msg, "cg/cgroup.controllers") != NULL);
	write_file(dir, "cgroup.controllers", "cpuset cpu io memory pids\n");
	write_file(dir, "cgroup.subtree_control", "");
	CHECK_EQ(agent_init_cgroup_enable_controllers(dir, &err), 0);
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	CHECK_EQ(agent_init_read_file(path, 4096, &got, NULL), 0);
	/* one write per controller (a regular file concatenates them) */
	CHECK(got && strcmp(got, "+cpuset+cpu+io+memory+pids") == 0);
}

static int count_mounts_under(const char *root)
{
	_cleanup_free_ char *text = NULL;
	int n = 0;
	char *p;

	if (agent_init_read_file("/proc/self/mountinfo", AGENT_INIT_FILE_MAX, &text, NULL) < 0)
		return -1;
	for (p = text; (p = strstr(p, root)); p++)
		n++;
	return n;
}

/* In a child with its own mount namespace: nothing it mounts is seen by the host. */
static int mounts_child(const char *root)
{
	const unsigned int skip = 1u << AGENT_MOUNT_DEV | 1u << AGENT_MOUNT_CGROUP;
	struct error err = { 0 };
	char path[600];
	struct statfs sfs;
	int n1, n2, before = failures;

	if (unshare(CLONE_NEWNS) < 0) {
		printf("skipping the mounts test: unshare(CLONE_NEWNS): %m (needs root)\n");
		return 77;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("skipping the mounts test: making / private: %m\n");
		return 77;
	}
	snprintf(path, sizeof(path), "%s/dev", root);
	CHECK_EQ(mkdir(path, 0755), 0);
	CHECK_EQ(agent_init_mounts_at(root, skip, &err), 0);
	if (err.code)
		fprintf(stderr, "mounts: %s\n", err.msg);
	n1 = count_mounts_under(root);
	CHECK_EQ(n1, 6); /* proc sys devpts shm run tmp */
	snprintf(path, sizeof(path), "%s/proc/self/status", root);
	CHECK_EQ(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/dev/pts", root);
	CHECK(statfs(path, &sfs) == 0 && sfs.f_type == DEVPTS_SUPER_MAGIC);
	snprintf(path, sizeof(path), "%s/tmp", root);
	CHECK(statfs(path, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC);
	/* again: nothing stacked */
	CHECK_EQ(agent_init_mounts_at(root, skip, &err), 0);
	n2 = count_mounts_under(root);
	CHECK_EQ(n2, n1);

	/* failures name the path, and the others still happen */
	error_clear(&err);
	snprintf(path, sizeof(path), "%s/nonexistent", root);
	CHECK_EQ(agent_init_mounts_at(path, skip, &err), -ENOENT);
	CHECK(strstr(err.msg, "nonexistent/proc") != NULL);
	return failures > before ? 1 : 0;
}

static void test_mounts(void)
{
	char root[512];
	int status = 0;
	pid_t pid;

	snprintf(root, sizeof(root), "%s/root", tmpdir);
	CHECK_EQ(mkdir(root, 0755), 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int rc = mounts_child(root);

		fflush(NULL);
		_exit(rc);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 77);
	/* the host saw none of it */
	CHECK_EQ(count_mounts_under(root), 0);
}

struct reaped {
	pid_t pid[8];
	int status[8];
	int n;
};

static void on_reap(pid_t pid, int status, void *userdata)
{
	struct reaped *r = userdata;

	if (r->n < 8) {
		r->pid[r->n] = pid;
		r->status[r->n] = status;
	}
	r->n++;
}

static void test_reaper(void)
{
	struct reaped got = { 0 };
	int fd, pipefd[2], i, child_ok = 0, orphan_ok = 0;
	pid_t child, orphan = -1;
	struct timespec start, now;

	fd = agent_init_reaper_fd();
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	CHECK_EQ(agent_init_reap(fd, on_reap, &got), 0);

	/* a child exiting 7, whose own child outlives it and exits 3: an orphan we inherit */
	CHECK_EQ(pipe2(pipefd, O_CLOEXEC), 0);
	fflush(NULL);
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		pid_t g = fork();

		if (g == 0) {
			usleep(100 * 1000);
			_exit(3);
		}
		(void)!write(pipefd[1], &g, sizeof(g));
		_exit(7);
	}
	close(pipefd[1]);
	CHECK_EQ(read(pipefd[0], &orphan, sizeof(orphan)), sizeof(orphan));
	close(pipefd[0]);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (got.n < 2) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		(void)poll(&pfd, 1, 500);
		CHECK(agent_init_reap(fd, on_reap, &got) >= 0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10)
			break;
	}
	CHECK_EQ(got.n, 2);
	for (i = 0; i < got.n && i < 8; i++) {
		if (got.pid[i] == child && WIFEXITED(got.status[i]) && WEXITSTATUS(got.status[i]) == 7)
			child_ok = 1;
		if (got.pid[i] == orphan && WIFEXITED(got.status[i]) && WEXITSTATUS(got.status[i]) == 3)
			orphan_ok = 1;
	}
	CHECK(child_ok);
	CHECK(orphan_ok);
	/* nothing left: 0, not an error */
	CHECK_EQ(agent_init_reap(fd, on_reap, &got), 0);
	CHECK_EQ(agent_init_reap(-1, NULL, NULL), 0);
	close(fd);
}

static void test_not_pid1(void)
{
	struct timespec before, after;

	CHECK(getpid() != 1);
	/* the guard comes first: no signal sent, nothing unmounted, no reboot */
	CHECK_EQ(agent_init_poweroff("unit test"), -EPERM);
	CHECK_EQ(agent_init_poweroff(NULL), -EPERM);
	/* the clock only ever moves forward, and only PID 1 moves it */
	clock_gettime(CLOCK_REALTIME, &before);
	CHECK_EQ(agent_init_clock_seed(0), 0);
	CHECK_EQ(agent_init_clock_seed((int64_t)before.tv_sec - 3600), 0);
	CHECK_EQ(agent_init_clock_seed((int64_t)before.tv_sec + 10 * 365 * 86400LL), -EPERM);
	CHECK_EQ(agent_init_clock_seed(-1), -EINVAL);
	clock_gettime(CLOCK_REALTIME, &after);
	CHECK(after.tv_sec - before.tv_sec < 60);
	CHECK_EQ(agent_init_console(), 0);
}

int main(void)
{
	char path[600];

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/lib", tmpdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/lib/modules", tmpdir);
	mkdir(path, 0755);

	test_module_names();
	test_moddep_plan();
	test_moddep_bounds();
	test_modules_on_tree();
	test_cgroup_controllers();
	test_mounts();
	test_reaper();
	test_not_pid1();

	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	printf("%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
