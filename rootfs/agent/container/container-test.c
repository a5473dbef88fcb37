/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container processes for real: a busybox rootfs in a temporary directory,
 * specs through the OCI parser, processes in new namespaces with pipes or a
 * pty, exec into a running container, cgroup v2. Needs root with
 * CAP_SYS_ADMIN (skipped, 77, otherwise). Leaves no mounts, cgroups or
 * processes behind: the mount count and our children are checked at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/container.h"
#include "agent/oci-spec.h"
#include "common/test.h"
#include "common/test-files.h"
#include "container-internal.h"

#define BUSYBOX "/bin/busybox"
#define OUT_MAX 65536

static char tmpdir[64];
static char rootfs[128];

static const char *const applets[] = {
	"sh", "echo", "id", "cat", "ls", "mkdir", "sleep", "hostname", "touch", "stty",
	"test", "grep", "ulimit", "pwd", "wc", "head", "true", "readlink",
};

/* ---- fixtures ---- */

static int make_rootfs(void)
{
	char p[PATH_MAX];
	static const char *const dirs[] = { "bin", "proc", "dev", "sys", "tmp", "etc", "srv" };

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nacelle-ct-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -errno;
	/* a user namespace's root (another host uid) must reach the rootfs */
	if (chmod(tmpdir, 0755) < 0)
		return -errno;
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmpdir);
	if (mkdir(rootfs, 0755) < 0)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof(p), "%s/%s", rootfs, dirs[i]);
		if (mkdir(p, 0755) < 0)
			return -errno;
	}
	snprintf(p, sizeof(p), "%s/tmp", rootfs);
	chmod(p, 01777);
	snprintf(p, sizeof(p), "%s/bin/busybox", rootfs);
	if (test_copy_file(BUSYBOX, p, 0755) < 0)
		return -EIO;
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
		snprintf(p, sizeof(p), "%s/bin/%s", rootfs, applets[i]);
		if (symlink("busybox", p) < 0)
			return -errno;
	}
	return 0;
}

static void rm_rf(const char *path)
{
	char cmd[PATH_MAX + 32];

	/* Only ever our own mkdtemp() directory. */
	if (strncmp(path, "/tmp/nacelle-ct-", 16) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", path);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static int count_mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

struct spec_parts {
	const char *args;	   /* JSON array */
	const char *cwd;	   /* "/" if NULL */
	const char *process_extra; /* ", ..." inside process */
	const char *root_extra;	   /* ", ..." inside root */
	const char *mounts_extra;  /* ", {...}" after the default mounts */
	const char *ns_extra;	   /* ", {...}" after the default namespaces */
	const char *linux_extra;   /* ", ..." inside linux */
};

static struct oci_spec *make_spec(const struct spec_parts *sp)
{
	char *json = NULL;
	struct oci_spec *spec = NULL;
	struct error err = { 0 };
	int n;

	n = asprintf(&json,
		     "{ \"ociVersion\": \"1.1.0\","
		     "  \"process\": { \"args\": %s, \"env\": [ \"PATH=/bin\", \"FOO=bar\" ],"
		     "                \"cwd\": \"%s\" %s },"
		     "  \"root\": { \"path\": \"rootfs\" %s },"
		     "  \"hostname\": \"nacelle-test\","
		     "  \"mounts\": ["
		     "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },"
		     "    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
		     "      \"options\": [ \"nosuid\", \"mode=755\", \"size=1024k\" ] },"
		     "    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
		     "      \"options\": [ \"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\","
		     "                   \"mode=0620\" ] } %s ],"
		     "  \"linux\": {"
		     "    \"namespaces\": [ { \"type\": \"pid\" }, { \"type\": \"mount\" },"
		     "                      { \"type\": \"ipc\" }, { \"type\": \"uts\" } %s ],"
		     "    \"maskedPaths\": [ \"/proc/kcore\", \"/proc/kallsyms\", \"/proc/acpi\","
		     "                      \"/proc/nonexistent\" ],"
		     "    \"readonlyPaths\": [ \"/proc/sys\", \"/proc/sysrq-trigger\" ] %s } }",
		     sp->args, sp->cwd ? sp->cwd : "/", sp->process_extra ? sp->process_extra : "",
		     sp->root_extra ? sp->root_extra : "", sp->mounts_extra ? sp->mounts_extra : "",
		     sp->ns_extra ? sp->ns_extra : "", sp->linux_extra ? sp->linux_extra : "");
	if (n < 0)
		return NULL;
	if (oci_spec_parse(json, strlen(json), &spec, &err) < 0) {
		fprintf(stderr, "spec: %s\n", err.msg);
		spec = NULL;
	}
	free(json);
	return spec;
}

static struct oci_process *make_process(const char *json)
{
	struct oci_process *p = NULL;
	struct error err = { 0 };

	if (oci_process_parse(json, strlen(json), &p, &err) < 0) {
		fprintf(stderr, "process: %s\n", err.msg);
		return NULL;
	}
	return p;
}

/* Read both pipes to EOF (closing them). */
static void drain(int out_fd, char *out, int err_fd, char *errb)
{
	struct pollfd p[2] = { { .fd = out_fd, .events = POLLIN }, { .fd = err_fd, .events = POLLIN } };
	size_t lens[2] = { 0, 0 };
	char *bufs[2] = { out, errb };

	out[0] = errb[0] = '\0';
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, 20000) <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			n = read(p[i].fd, bufs[i] + lens[i], OUT_MAX - 1 - lens[i]);
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				continue;
			}
			lens[i] += (size_t)n;
			bufs[i][lens[i]] = '\0';
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct result {
	int r;	    /* container_process_spawn's return */
	int status; /* exit status, 128+signal */
	char out[OUT_MAX], err[OUT_MAX];
	struct error e;
};

static struct result res;
static bool opt_no_pivot; /* run() uses MS_MOVE + chroot instead of pivot_root */

/* Run spec to completion with pipes; the result goes to `res`. */
static void run(const struct oci_spec *spec, const char *cgroup_path)
{
	struct container_spawn_opts opts = {
		.stdio = { -1, -1, -1 },
		.cgroup_path = cgroup_path,
		.no_pivot = opt_no_pivot,
	};
	struct container_proc proc;
	int po[2], pe[2];

	memset(&res, 0, sizeof(res));
	res.status = -1;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		res.r = -errno;
		return;
	}
	opts.stdio[1] = po[1];
	opts.stdio[2] = pe[1];
	res.r = container_process_spawn(spec, rootfs, &opts, &proc, &res.e);
	close(po[1]);
	close(pe[1]);
	drain(po[0], res.out, pe[0], res.err);
	if (res.r < 0)
		return;
	res.status = wait_status(proc.pid);
	container_proc_release(&proc);
}

static void run_args(const char *args, const struct spec_parts *base)
{
	struct spec_parts sp = base ? *base : (struct spec_parts){ 0 };
	struct oci_spec *spec;

	sp.args = args;
	spec = make_spec(&sp);
	CHECK(spec != NULL);
	memset(&res, 0, sizeof(res));
	res.r = -EINVAL;
	if (spec)
		run(spec, NULL);
	oci_spec_free(spec);
}

#define SH(cmd) "[ \"sh\", \"-c\", \"" cmd "\" ]"

/* ---- tests ---- */

static void test_basic(void)
{
	run_args(SH("echo out; echo err >&2; exit 3"), NULL);
	CHECK_EQ(res.r, 0);
	CHECK(strcmp(res.out, "out\n") == 0);
	CHECK(strcmp(res.err, "err\n") == 0);
	CHECK_EQ(res.status, 3);
	if (res.r < 0)
		fprintf(stderr, "basic: %s\n", res.e.msg);
}

/* The initramfs fallback: other mounts detached, rootfs moved onto "/", chroot. */
static void test_no_pivot(void)
{
	opt_no_pivot = true;
	run_args(SH("echo $$; test -c /dev/null && echo ok; grep -c ' /proc proc' /proc/mounts"), NULL);
	opt_no_pivot = false;
	CHECK_EQ(res.r, 0);
	CHECK(strcmp(res.out, "1\nok\n1\n") == 0);
	if (strcmp(res.out, "1\nok\n1\n") != 0)
		fprintf(stderr, "no_pivot: %s out=\"%s\" err=\"%s\"\n", res.e.msg, res.out, res.err);
}

static void test_namespaces(void)
{
	run_args(SH("hostname; echo $$; echo $FOO; pwd"), &(struct spec_parts){
		.cwd = "/srv" });
	CHECK_EQ(res.r, 0);
	CHECK(strcmp(res.out, "nacelle-test\n1\nbar\n/srv\n") == 0);
	CHECK_EQ(res.status, 0);
	if (strcmp(res.out, "nacelle-test\n1\nbar\n/srv\n") != 0)
		fprintf(stderr, "namespaces: out=\"%s\" err=\"%s\" %s\n", res.out, res.err, res.e.msg);
}

/* Bind mounts (directory and file, read-only), spec devices, oom_score_adj. */
static void test_mounts_devices(void)
{
	char data[PATH_MAX], file[PATH_MAX], mounts[2 * PATH_MAX + 512];
	FILE *f;

	snprintf(data, sizeof(data), "%s/data", tmpdir);
	snprintf(file, sizeof(file), "%s/data/hello", tmpdir);
	CHECK(mkdir(data, 0755) == 0);
	f = fopen(file, "we");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("hello\n", f);
	fclose(f);
	snprintf(mounts, sizeof(mounts),
		 ", { \"destination\": \"/data\", \"type\": \"bind\", \"source\": \"%s\","
		 "    \"options\": [ \"rbind\", \"ro\", \"nosuid\" ] }"
		 ", { \"destination\": \"/etc/greeting\", \"source\": \"%s\","
		 "    \"options\": [ \"bind\" ] }",
		 data, file);
	run_args(SH("cat /data/hello; touch /data/x || echo ro-data; cat /etc/greeting; "
		    "ls -ln /dev/fuse; test -p /dev/my-fifo && echo fifo; cat /proc/self/oom_score_adj"),
		 &(struct spec_parts){
			 .mounts_extra = mounts,
			 .process_extra = ", \"oomScoreAdj\": 500",
			 .linux_extra = ", \"devices\": [ { \"path\": \"/dev/fuse\", \"type\": \"c\", "
					"\"major\": 10, \"minor\": 229, \"fileMode\": 432, \"uid\": 7, \"gid\": 8 },"
					" { \"path\": \"/dev/my-fifo\", \"type\": \"p\" } ]",
		 });
	CHECK_EQ(res.r, 0);
	CHECK(strncmp(res.out, "hello\nro-data\nhello\ncrw-rw----", 30) == 0);
	CHECK(strstr(res.out, " 7 ") && strstr(res.out, " 8 ") && strstr(res.out, "10, 229"));
	CHECK(strstr(res.out, "fifo\n500\n") != NULL);
	if (res.r < 0 || !strstr(res.out, "fifo\n500\n"))
		fprintf(stderr, "mounts/devices: %s out=\"%s\" err=\"%s\"\n", res.e.msg, res.out, res.err);
	snprintf(file, sizeof(file), "%s/rootfs/etc/greeting", tmpdir);
	CHECK(access(file, F_OK) == 0); /* the file mount point was created */
}

static void test_readonly_root(void)
{
	run_args(SH("touch /x && echo wrote; touch /dev/ok && echo dev-ok"),
		 &(struct spec_parts){ .root_extra = ", \"readonly\": true" });
	CHECK_EQ(res.r, 0);
	CHECK(strstr(res.out, "wrote") == NULL);
	CHECK(strstr(res.out, "dev-ok") != NULL);
	CHECK(strstr(res.err, "Read-only file system") != NULL);
	{
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/x", rootfs);
		CHECK(access(p, F_OK) < 0);
	}
}

static void test_masked_readonly_paths(void)
{
	/* /proc/kcore only exists with CONFIG_PROC_KCORE; /proc/kallsyms always does */
	bool kcore = access("/proc/kcore", F_OK) == 0;

	run_args(SH("test -e /proc/kcore && ! test -c /proc/kcore && echo kcore-visible; "
		    "test -c /proc/kallsyms && echo masked; head -c 16 /proc/kallsyms | wc -c; "
		    "ls -A /proc/acpi | wc -l; touch /proc/acpi/x || echo ro-acpi; "
		    "echo 1 > /proc/sys/kernel/shm_rmid_forced || echo ro-sys; "
		    "test -c /dev/null && test -L /dev/ptmx && test -L /dev/fd && echo devs"),
		 NULL);
	CHECK_EQ(res.r, 0);
	CHECK(strstr(res.out, "kcore-visible") == NULL);
	if (!kcore)
		printf("# /proc/kcore does not exist in this kernel; /proc/kallsyms checked instead\n");
	CHECK(strstr(res.out, "masked\n0\n0\n") != NULL);
	CHECK(strstr(res.out, "ro-acpi") != NULL);
	CHECK(strstr(res.out, "ro-sys") != NULL);
	CHECK(strstr(res.out, "devs") != NULL);
	if (!strstr(res.out, "devs") || !strstr(res.out, "masked"))
		fprintf(stderr, "masked: out=\"%s\" err=\"%s\"\n", res.out, res.err);
}

static void test_exec_error(void)
{
	run_args("[ \"/bin/nonexistent\" ]", NULL);
	CHECK_EQ(res.r, -ENOENT);
	CHECK(strstr(res.e.msg, "exec: /bin/nonexistent: No such file or directory") != NULL);
	run_args("[ \"nonexistent\" ]", NULL);
	CHECK_EQ(res.r, -ENOENT);
	CHECK(strstr(res.e.msg, "exec: nonexistent: No such file or directory") != NULL);
	if (res.r != -ENOENT)
		fprintf(stderr, "exec error: %d %s\n", res.r, res.e.msg);
}

static void test_escape(void)
{
	char host_etc[PATH_MAX], p[PATH_MAX];
	bool existed;
	struct spec_parts sp = {
		.args = SH("grep -c ' /etc tmpfs' /proc/mounts; grep -c ' /inside tmpfs' /proc/mounts"),
		.mounts_extra = ", { \"destination\": \"/etc\", \"type\": \"tmpfs\", \"source\": \"x\" }"
				", { \"destination\": \"/escape/inside\", \"type\": \"tmpfs\", \"source\": \"x\" }",
	};
	struct oci_spec *spec;
	struct error err = { 0 };
	struct oci_spec *bad = NULL;
	const char *bad_json =
		"{ \"ociVersion\": \"1.1.0\", \"mounts\": [ { \"destination\": \"../../etc\","
		" \"type\": \"tmpfs\" } ] }";

	/* The parser refuses a relative destination outright. */
	CHECK(oci_spec_parse(bad_json, strlen(bad_json), &bad, &err) < 0);
	oci_spec_free(bad);

	/* At run time, "../../etc" (set by hand) and a symlink pointing out of
	 * the root both stay inside it. */
	snprintf(host_etc, sizeof(host_etc), "%s/../../etc", rootfs);
	existed = access("/tmp/etc", F_OK) == 0;
	snprintf(p, sizeof(p), "%s/escape", rootfs);
	CHECK(symlink("/../../../../../tmp/nacelle-escape-target", p) == 0);
	snprintf(p, sizeof(p), "%s/tmp/nacelle-escape-target", rootfs);
	CHECK(mkdir(p, 0755) == 0);
	spec = make_spec(&sp);
	CHECK(spec != NULL);
	if (!spec)
		return;
	free(spec->mounts[3].destination);
	spec->mounts[3].destination = strdup("../../etc");
	run(spec, NULL);
	CHECK_EQ(res.r, 0);
	CHECK(strcmp(res.out, "1\n0\n") == 0 || strcmp(res.out, "1\n1\n") == 0);
	if (res.r < 0)
		fprintf(stderr, "escape: %s\n", res.e.msg);
	if (!existed)
		CHECK(access("/tmp/etc", F_OK) < 0);
	CHECK(access("/tmp/nacelle-escape-target", F_OK) < 0);
	/* the symlink's target inside the rootfs got the mount point */
	snprintf(p, sizeof(p), "%s/tmp/nacelle-escape-target/inside", rootfs);
	CHECK(access(p, F_OK) == 0);
	oci_spec_free(spec);
}

static void test_user_namespace(void)
{
	/* sysfs and mqueue are refused to a user namespace without its own network
	 * and IPC... namespaces here: they fall back to binds; cgroup without a
	 * cgroup namespace is a bind too */
	run_args(SH("id -u; cat /proc/self/uid_map; test -c /dev/null && echo null; "
		    "test -d /sys/class && echo sys; test -d /sys/fs/cgroup && echo cg; "
		    "grep -c mqueue /proc/mounts"),
		 &(struct spec_parts){
			 .mounts_extra = ", { \"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
					 "    \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"ro\" ] }"
					 ", { \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\","
					 "    \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"ro\" ] }"
					 ", { \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\","
					 "    \"options\": [ \"nosuid\", \"noexec\", \"nodev\" ] }",
			 .ns_extra = ", { \"type\": \"user\" }",
			 .linux_extra = ", \"uidMappings\": [ { \"containerID\": 0, \"hostID\": 100000, \"size\": 65536 } ]"
					", \"gidMappings\": [ { \"containerID\": 0, \"hostID\": 100000, \"size\": 65536 } ]",
		 });
	CHECK_EQ(res.r, 0);
	CHECK(strncmp(res.out, "0\n", 2) == 0);
	CHECK(strstr(res.out, "100000") != NULL);
	CHECK(strstr(res.out, "null\nsys\ncg\n1\n") != NULL);
	if (res.r < 0 || !strstr(res.out, "null\nsys\ncg\n1\n"))
		fprintf(stderr, "userns: %s out=\"%s\" err=\"%s\"\n", res.e.msg, res.out, res.err);
}

static void test_process_setup(void)
{
	/* uid 1000 with CAP_KILL only, no_new_privs, a seccomp filter, an rlimit, a sysctl */
	run_args(SH("id -u; id -G; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; "
		    "ulimit -n; cat /proc/sys/kernel/shm_rmid_forced; mkdir /tmp/d || echo no-mkdir"),
		 &(struct spec_parts){
			 .process_extra =
				 ", \"user\": { \"uid\": 1000, \"gid\": 1000, \"additionalGids\": [ 5 ] }"
				 ", \"capabilities\": { \"bounding\": [ \"CAP_KILL\" ], \"effective\": [ \"CAP_KILL\" ],"
				 "    \"permitted\": [ \"CAP_KILL\" ], \"inheritable\": [ \"CAP_KILL\" ],"
				 "    \"ambient\": [ \"CAP_KILL\" ] }"
				 ", \"noNewPrivileges\": true"
				 ", \"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"hard\": 512, \"soft\": 512 } ]",
			 .linux_extra =
				 ", \"sysctl\": { \"kernel.shm_rmid_forced\": \"1\" }"
				 ", \"seccomp\": { \"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
				 "  { \"names\": [ \"mkdir\", \"mkdirat\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38 } ] }",
		 });
	CHECK_EQ(res.r, 0);
	CHECK(strstr(res.out, "1000\n") == res.out);
	CHECK(strstr(res.out, "1000 5\n") != NULL);
	CHECK(strstr(res.out, "CapEff:\t0000000000000020") != NULL);
	CHECK(strstr(res.out, "NoNewPrivs:\t1") != NULL);
	CHECK(strstr(res.out, "512\n1\n") != NULL);
	CHECK(strstr(res.out, "no-mkdir") != NULL);
	CHECK(strstr(res.err, "Function not implemented") != NULL);
	if (res.r < 0 || !strstr(res.out, "no-mkdir") || !strstr(res.out, "CapEff:\t0000000000000020"))
		fprintf(stderr, "process setup: %s out=\"%s\" err=\"%s\"\n", res.e.msg, res.out, res.err);

	/* A sysctl that is not namespaced is refused. */
	run_args(SH("true"), &(struct spec_parts){ .linux_extra = ", \"sysctl\": { \"vm.swappiness\": \"1\" }" });
	CHECK_EQ(res.r, -EPERM);
	CHECK(strstr(res.e.msg, "vm.swappiness") != NULL);
}

static void test_deferred_start(void)
{
	struct spec_parts sp = { .args = SH("echo started") };
	struct oci_spec *spec = make_spec(&sp);
	struct container_spawn_opts opts = { .stdio = { -1, -1, -1 }, .defer_exec = true };
	struct container_proc proc;
	struct error e = { 0 };
	char out[OUT_MAX], errb[OUT_MAX];
	int po[2], pe[2], r;
	struct pollfd pfd;

	CHECK(spec != NULL);
	if (!spec || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return;
	opts.stdio[1] = po[1];
	opts.stdio[2] = pe[1];
	r = container_process_spawn(spec, rootfs, &opts, &proc, &e);
	close(po[1]);
	close(pe[1]);
	CHECK_EQ(r, 0);
	if (r == 0) {
		CHECK(proc.sync_fd >= 0);
		/* nothing yet: the process waits before exec */
		pfd = (struct pollfd){ .fd = po[0], .events = POLLIN };
		CHECK_EQ(poll(&pfd, 1, 200), 0);
		r = container_process_start(&proc, &e);
		CHECK_EQ(r, 0);
		drain(po[0], out, pe[0], errb);
		CHECK(strcmp(out, "started\n") == 0);
		CHECK_EQ(wait_status(proc.pid), 0);
		container_proc_release(&proc);
	} else {
		fprintf(stderr, "deferred: %s\n", e.msg);
		close(po[0]);
		close(pe[0]);
	}
	oci_spec_free(spec);
}

/* Read from fd until `want` appears (or timeout); appends to buf. */
static bool read_until(int fd, char *buf, size_t size, const char *want)
{
	size_t len = strlen(buf);

	for (int i = 0; i < 100 && !strstr(buf, want); i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return strstr(buf, want) != NULL;
}

/* The terminal's size as seen inside, before and after a resize. */
static void check_pty(int master, pid_t pid, bool console)
{
	char buf[4096] = "";

	CHECK(read_until(master, buf, sizeof(buf), "24 80"));
	CHECK_EQ(container_pty_resize(master, 100, 40), 0);
	CHECK(write(master, "go\n", 3) == 3);
	CHECK(read_until(master, buf, sizeof(buf), "40 100"));
	CHECK(strstr(buf, "tty:/dev/pts/0") != NULL);
	if (console)
		CHECK(strstr(buf, "console-ok") != NULL);
	if (!strstr(buf, "40 100") || !strstr(buf, "tty:/dev/pts/0"))
		fprintf(stderr, "pty: \"%s\"\n", buf);
	CHECK_EQ(wait_status(pid), 0);
}

#define PTY_SCRIPT "echo tty:$(readlink /proc/self/fd/0); stty size; read x; stty size"
#define CONSOLE_SCRIPT "test -c /dev/console && echo console-ok; " PTY_SCRIPT

static void test_terminal(void)
{
	struct spec_parts sp = {
		.args = SH(CONSOLE_SCRIPT),
		.process_extra = ", \"terminal\": true, \"consoleSize\": { \"height\": 24, \"width\": 80 }",
	};
	struct oci_spec *spec = make_spec(&sp);
	struct container_spawn_opts opts = { .stdio = { -1, -1, -1 } };
	struct container_proc proc;
	struct error e = { 0 };
	int r;

	CHECK(spec != NULL);
	if (!spec)
		return;
	r = container_process_spawn(spec, rootfs, &opts, &proc, &e);
	CHECK_EQ(r, 0);
	if (r == 0) {
		CHECK(proc.pty_master >= 0);
		check_pty(proc.pty_master, proc.pid, true);
		container_proc_release(&proc);
	} else {
		fprintf(stderr, "terminal: %s\n", e.msg);
	}
	oci_spec_free(spec);
}

/* ---- a running container: exec, cgroup ---- */

static const char *find_cgroup2_root(void)
{
	static const char *const candidates[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };

	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		struct statfs s;

		if (statfs(candidates[i], &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC &&
		    access(candidates[i], W_OK) == 0)
			return candidates[i];
	}
	return NULL;
}

static bool has_controller(const char *dir, const char *name)
{
	char p[PATH_MAX], buf[1024] = "";
	FILE *f;

	snprintf(p, sizeof(p), "%s/cgroup.controllers", dir);
	f = fopen(p, "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
		if (strcmp(t, name) == 0)
			return true;
	return false;
}

static bool file_has(const char *path, const char *want)
{
	char buf[4096] = "";
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, want) != NULL;
}

static void exec_in(pid_t init_pid, const char *cg, const char *pjson, int *ret_status,
		    char *out, char *errb, struct error *e, int *ret_r)
{
	struct oci_process *p = make_process(pjson);
	struct container_spawn_opts opts = { .stdio = { -1, -1, -1 } };
	struct container_proc proc;
	int po[2], pe[2];

	*ret_r = -EINVAL;
	*ret_status = -1;
	out[0] = errb[0] = '\0';
	CHECK(p != NULL);
	if (!p || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		oci_process_free(p);
		return;
	}
	opts.stdio[1] = po[1];
	opts.stdio[2] = pe[1];
	*ret_r = container_exec_spawn(init_pid, cg, p, &opts, &proc, e);
	close(po[1]);
	close(pe[1]);
	drain(po[0], out, pe[0], errb);
	if (*ret_r == 0) {
		*ret_status = wait_status(proc.pid);
		container_proc_release(&proc);
	}
	oci_process_free(p);
}

static void test_running_container(void)
{
	const char *cgroot = find_cgroup2_root();
	char cg[PATH_MAX], p[PATH_MAX];
	static char out[OUT_MAX], errb[OUT_MAX];
	struct container_spawn_opts opts = { .stdio = { -1, -1, -1 } };
	struct oci_resources *resources = NULL;
	struct container_proc init;
	struct oci_spec *spec;
	struct error e = { 0 };
	bool with_pids = false;
	int r, status;

	cg[0] = '\0';
	if (!cgroot) {
		printf("# SKIP cgroup parts: no writable cgroup2 mount at /sys/fs/cgroup\n");
	} else {
		const char *rjson = "{ \"pids\": { \"limit\": 5 } }";

		snprintf(cg, sizeof(cg), "%s/nacelle-test-%d", cgroot, (int)getpid());
		with_pids = has_controller(cgroot, "pids");
		if (!with_pids)
			printf("# SKIP pids.max: the pids controller is not available in %s "
			       "(bound to a cgroup v1 hierarchy here)\n", cgroot);
		else
			CHECK_EQ(oci_resources_parse(rjson, strlen(rjson), &resources, &e), 0);
		r = container_cgroup_create(cg, resources, &e);
		CHECK_EQ(r, 0);
		if (r < 0) {
			fprintf(stderr, "cgroup create: %s\n", e.msg);
			cg[0] = '\0';
		}
		oci_resources_free(resources);
		if (with_pids && cg[0]) {
			snprintf(p, sizeof(p), "%s/pids.max", cg);
			CHECK(file_has(p, "5\n"));
		}
	}

	/* its own cgroup namespace, with cgroup2 mounted at /sys/fs/cgroup */
	spec = make_spec(&(struct spec_parts){
		.args = "[ \"sleep\", \"100\" ]",
		.ns_extra = ", { \"type\": \"cgroup\" }",
		.mounts_extra = ", { \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\","
				" \"source\": \"cgroup\", \"options\": [ \"nosuid\", \"noexec\", \"nodev\" ] }",
	});
	CHECK(spec != NULL);
	if (!spec)
		goto out_cg;
	opts.cgroup_path = cg[0] ? cg : NULL;
	r = container_process_spawn(spec, rootfs, &opts, &init, &e);
	CHECK_EQ(r, 0);
	if (r < 0) {
		fprintf(stderr, "running container: %s\n", e.msg);
		goto out_spec;
	}

	if (cg[0]) {
		char pid_s[32];

		snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
		snprintf(pid_s, sizeof(pid_s), "%d\n", (int)init.pid);
		CHECK(file_has(p, pid_s));
	}

	/* exec: the container's namespaces, the process's own user */
	exec_in(init.pid, opts.cgroup_path,
		"{ \"args\": [ \"sh\", \"-c\", \"id -u; hostname; echo $$; "
		"head -c 5 /proc/1/cmdline; echo; cat /proc/self/cgroup; "
		"grep -c . /sys/fs/cgroup/cgroup.procs\" ],"
		"  \"env\": [ \"PATH=/bin\" ], \"cwd\": \"/\", \"user\": { \"uid\": 1000, \"gid\": 1000 } }",
		&status, out, errb, &e, &r);
	CHECK_EQ(r, 0);
	CHECK_EQ(status, 0);
	CHECK(strncmp(out, "1000\nnacelle-test\n", 18) == 0);
	CHECK(strstr(out, "\n1\n") == NULL); /* not the pid namespace's init */
	CHECK(strstr(out, "sleep") != NULL);
	/* in the container's cgroup namespace, rooted at its cgroup: sleep and
	 * grep (ash execs its last command), maybe sh */
	{
		const char *want = cg[0] ? (strstr(out, "\n0::/\n2\n") ? "\n0::/\n2\n" : "\n0::/\n3\n")
				       : "\n0::/\n";

		CHECK(strstr(out, want) != NULL);
		if (!strstr(out, want))
			fprintf(stderr, "exec cgroup: want %s in \"%s\"\n", want, out);
	}
	if (r < 0 || strncmp(out, "1000\nnacelle-test\n", 18) != 0)
		fprintf(stderr, "exec: %d %s out=\"%s\" err=\"%s\"\n", r, e.msg, out, errb);

	/* exec errors come back as errors */
	exec_in(init.pid, opts.cgroup_path, "{ \"args\": [ \"nope\" ], \"cwd\": \"/\" }", &status, out,
		errb, &e, &r);
	CHECK_EQ(r, -ENOENT);
	CHECK(strstr(e.msg, "exec: nope") != NULL);

	/* exec with a terminal */
	{
		struct oci_process *pp = make_process(
			"{ \"terminal\": true, \"consoleSize\": { \"height\": 24, \"width\": 80 },"
			"  \"args\": [ \"sh\", \"-c\", \"" PTY_SCRIPT "\" ], \"env\": [ \"PATH=/bin\" ],"
			"  \"cwd\": \"/\" }");
		struct container_spawn_opts eo = { .stdio = { -1, -1, -1 } };
		struct container_proc ep;

		r = pp ? container_exec_spawn(init.pid, opts.cgroup_path, pp, &eo, &ep, &e) : -EINVAL;
		CHECK_EQ(r, 0);
		if (r == 0) {
			CHECK(ep.pty_master >= 0);
			check_pty(ep.pty_master, ep.pid, false);
			container_proc_release(&ep);
		} else {
			fprintf(stderr, "exec terminal: %s\n", e.msg);
		}
		oci_process_free(pp);
	}

	if (cg[0]) {
		struct container_stats st;
		struct container_oom_watch *w = NULL;

		CHECK_EQ(container_cgroup_freeze(cg, true, &e), 0);
		snprintf(p, sizeof(p), "%s/cgroup.events", cg);
		CHECK(file_has(p, "frozen 1"));
		CHECK_EQ(container_cgroup_freeze(cg, false, &e), 0);
		CHECK(file_has(p, "frozen 0"));
		CHECK_EQ(container_cgroup_stats(cg, &st, &e), 0);
		CHECK(st.has_cpu);
		if (with_pids) {
			CHECK(st.has_pids);
			CHECK_EQ(st.pids.max, 5);
			CHECK_EQ(st.pids.current, 1);
		}
		r = container_cgroup_oom_watch_open(cg, &w, &e);
		if (has_controller(cgroot, "memory")) {
			bool oom = true;
			CHECK_EQ(r, 0);
			if (r == 0)
				CHECK_EQ(container_oom_watch_check(w, &oom), 0);
			CHECK(!oom);
		} else {
			printf("# SKIP OOM watch: no memory controller in %s\n", cgroot);
			CHECK_EQ(r, -ENOENT);
		}
		container_oom_watch_free(w);
		CHECK_EQ(container_cgroup_kill_all(cg, SIGKILL, &e), 0);
		CHECK_EQ(wait_status(init.pid), 128 + SIGKILL);
	} else {
		kill(init.pid, SIGKILL);
		wait_status(init.pid);
	}
	container_proc_release(&init);
out_spec:
	oci_spec_free(spec);
out_cg:
	if (cg[0]) {
		CHECK_EQ(container_cgroup_remove(cg, &e), 0);
		CHECK(access(cg, F_OK) < 0);
	}
}

static void test_exec_userns(void)
{
	static char out[OUT_MAX], errb[OUT_MAX];
	struct container_spawn_opts opts = { .stdio = { -1, -1, -1 } };
	struct container_proc init;
	struct error e = { 0 };
	struct oci_spec *spec;
	int r, status;

	spec = make_spec(&(struct spec_parts){
		.args = "[ \"sleep\", \"100\" ]",
		.ns_extra = ", { \"type\": \"user\" }, { \"type\": \"network\" }",
		.linux_extra = ", \"uidMappings\": [ { \"containerID\": 0, \"hostID\": 200000, \"size\": 65536 } ]"
			       ", \"gidMappings\": [ { \"containerID\": 0, \"hostID\": 200000, \"size\": 65536 } ]",
	});
	CHECK(spec != NULL);
	if (!spec)
		return;
	r = container_process_spawn(spec, rootfs, &opts, &init, &e);
	CHECK_EQ(r, 0);
	if (r < 0) {
		fprintf(stderr, "userns container: %s\n", e.msg);
		oci_spec_free(spec);
		return;
	}
	CHECK(init.pidfd >= 0);
	exec_in(init.pid, NULL,
		"{ \"args\": [ \"sh\", \"-c\", \"id -u; cat /proc/self/uid_map\" ],"
		"  \"cwd\": \"/\", \"user\": { \"uid\": 0, \"gid\": 0 } }",
		&status, out, errb, &e, &r);
	CHECK_EQ(r, 0);
	CHECK_EQ(status, 0);
	CHECK(strncmp(out, "0\n", 2) == 0);
	CHECK(strstr(out, "200000") != NULL);
	if (r < 0 || !strstr(out, "200000"))
		fprintf(stderr, "exec userns: %s out=\"%s\" err=\"%s\"\n", e.msg, out, errb);
	r = pidfd_send_signal(init.pidfd, SIGKILL, NULL, 0);
	CHECK_EQ(r, 0);
	if (r < 0)
		fprintf(stderr, "pidfd_send_signal: %m\n");
	CHECK_EQ(wait_status(init.pid), 128 + SIGKILL);
	container_proc_release(&init);
	oci_spec_free(spec);
}

static void test_cgroup_paths(void)
{
	char *p = NULL;

	CHECK_EQ(container_cgroup_path("/kubepods/pod1/c1", "c1", &p), 0);
	CHECK(p && strcmp(p, "/sys/fs/cgroup/kubepods/pod1/c1") == 0);
	free(p);
	p = NULL;
	CHECK_EQ(container_cgroup_path("kubepods-besteffort-pod1.slice:cri-containerd:abc", "abc", &p), 0);
	CHECK(p && strcmp(p, "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/"
			     "kubepods-besteffort-pod1.slice/cri-containerd-abc.scope") == 0);
	free(p);
	p = NULL;
	CHECK_EQ(container_cgroup_path(NULL, "abc", &p), 0);
	CHECK(p && strcmp(p, "/sys/fs/cgroup/nacelle/abc") == 0);
	free(p);
	p = NULL;
	CHECK(container_cgroup_path("/a/../../etc", "x", &p) < 0);
	CHECK(container_cgroup_path("/a//b", "x", &p) < 0);
	CHECK(container_cgroup_path(NULL, "../x", &p) < 0);
	free(p);
}

static const char *setting(const struct cgroup_settings *s, const char *file)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].file, file) == 0)
			return s->v[i].value;
	return NULL;
}

static bool setting_is(const struct cgroup_settings *s, const char *file, const char *want)
{
	const char *v = setting(s, file);

	if (v && strcmp(v, want) == 0)
		return true;
	fprintf(stderr, "%s = \"%s\", expected \"%s\"\n", file, v ? v : "(none)", want);
	return false;
}

/* OCI resources -> cgroup v2 files (runc's conversions), without a cgroup. */
static void test_cgroup_conversion(void)
{
	static const char *const refused[] = {
		"{ \"unified\": { \"cgroup.procs\": \"1\" } }",
		"{ \"unified\": { \"cgroup.kill\": \"1\" } }",
		"{ \"unified\": { \"../memory.max\": \"1\" } }",
		"{ \"unified\": { \"memory\": \"1\" } }",
		"{ \"cpu\": { \"shares\": 1 } }",
		"{ \"cpu\": { \"cpus\": \"0-1; rm\" } }",
		"{ \"blockIO\": { \"weight\": 5 } }",
		"{ \"memory\": { \"swap\": 1000 } }",
		"{ \"memory\": { \"limit\": 2000, \"swap\": 1000 } }",
	};
	const char *json =
		"{ \"memory\": { \"limit\": 536870912, \"reservation\": 268435456, \"swap\": 805306368 },"
		"  \"cpu\": { \"shares\": 1024, \"quota\": 50000, \"period\": 100000, \"cpus\": \"0-1\","
		"           \"mems\": \"0\" },"
		"  \"pids\": { \"limit\": 5 }, \"blockIO\": { \"weight\": 500 },"
		"  \"unified\": { \"memory.high\": \"400000000\" } }";
	struct oci_resources *r = NULL;
	struct cgroup_settings set = { 0 };
	struct error e = { 0 };

	CHECK_EQ(oci_resources_parse(json, strlen(json), &r, &e), 0);
	if (!r)
		return;
	CHECK_EQ(cgroup_settings_from_resources(r, &set, &e), 0);
	CHECK_EQ(set.n, 10);
	CHECK(setting_is(&set, "memory.max", "536870912"));
	CHECK(setting_is(&set, "memory.low", "268435456"));
	CHECK(setting_is(&set, "memory.swap.max", "268435456")); /* swap - limit */
	CHECK(setting_is(&set, "cpu.weight", "39"));		  /* 1 + (1022 * 9999) / 262142 */
	CHECK(setting_is(&set, "cpu.max", "50000 100000"));
	CHECK(setting_is(&set, "cpuset.cpus", "0-1"));
	CHECK(setting_is(&set, "cpuset.mems", "0"));
	CHECK(setting_is(&set, "pids.max", "5"));
	CHECK(setting_is(&set, "io.weight", "default 4950")); /* 1 + (490 * 9999) / 990 */
	CHECK(setting_is(&set, "memory.high", "400000000"));
	cgroup_settings_free(&set);
	oci_resources_free(r);

	json = "{ \"memory\": { \"limit\": -1 }, \"cpu\": { \"quota\": -1, \"period\": 10000 },"
	       "  \"pids\": { \"limit\": 0 } }";
	r = NULL;
	CHECK_EQ(oci_resources_parse(json, strlen(json), &r, &e), 0);
	if (r) {
		CHECK_EQ(cgroup_settings_from_resources(r, &set, &e), 0);
		CHECK(setting_is(&set, "memory.max", "max"));
		CHECK(setting_is(&set, "memory.swap.max", "max")); /* unlimited memory: swap too */
		CHECK(setting_is(&set, "cpu.max", "max 10000"));
		CHECK(setting_is(&set, "pids.max", "max"));
		cgroup_settings_free(&set);
		oci_resources_free(r);
	}

	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		r = NULL;
		if (oci_resources_parse(refused[i], strlen(refused[i]), &r, &e) < 0)
			continue; /* the parser already refuses it: fine too */
		CHECK(cgroup_settings_from_resources(r, &set, &e) < 0);
		oci_resources_free(r);
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The OOM watch's inotify logic on a stand-in memory.events (no memory
 * controller needed): no change, an oom_kill, the cgroup going away. */
static void test_oom_watch_logic(void)
{
	char dir[PATH_MAX], ev[PATH_MAX + 16];
	struct container_oom_watch *w = NULL;
	struct error e = { 0 };
	bool oom = true;

	snprintf(dir, sizeof(dir), "%s/fakecg", tmpdir);
	snprintf(ev, sizeof(ev), "%s/memory.events", dir);
	CHECK(mkdir(dir, 0755) == 0);
	write_text(ev, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
	CHECK_EQ(container_cgroup_oom_watch_open(dir, &w, &e), 0);
	if (!w)
		return;
	CHECK_EQ(container_oom_watch_check(w, &oom), 0);
	CHECK(!oom);
	write_text(ev, "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n");
	{
		struct pollfd p = { .fd = w->fd, .events = POLLIN };
		CHECK_EQ(poll(&p, 1, 1000), 1); /* the agent's loop wakes up */
	}
	CHECK_EQ(container_oom_watch_check(w, &oom), 0);
	CHECK(oom);
	CHECK_EQ(container_oom_watch_check(w, &oom), 0);
	CHECK(!oom);
	CHECK(unlink(ev) == 0);
	CHECK(rmdir(dir) == 0);
	CHECK_EQ(container_oom_watch_check(w, &oom), -ENOENT);
	container_oom_watch_free(w);
}

static void test_cgroup_refusals(void)
{
	struct error e = { 0 };
	struct oci_resources *r = NULL;
	const char *json = "{ \"unified\": { \"cgroup.procs\": \"1\" } }";

	/* cgroup v2 refuses to create outside a cgroup2 mount */
	CHECK(container_cgroup_create("/tmp/nacelle-not-a-cgroup/x", NULL, &e) < 0);
	CHECK(access("/tmp/nacelle-not-a-cgroup", F_OK) < 0);
	if (oci_resources_parse(json, strlen(json), &r, &e) == 0) {
		CHECK(container_cgroup_create("/sys/fs/cgroup/nacelle-refused", r, &e) < 0);
		CHECK(access("/sys/fs/cgroup/nacelle-refused", F_OK) < 0);
		oci_resources_free(r);
	}
}

static int probe_privileges(void)
{
	pid_t pid;

	if (geteuid() != 0) {
		printf("SKIP: needs root (uid %d)\n", (int)geteuid());
		return 77;
	}
	if (access(BUSYBOX, X_OK) < 0) {
		printf("SKIP: %s not found (busybox-static)\n", BUSYBOX);
		return 77;
	}
	pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC) == 0 ? 0 : 1);
	if (pid < 0 || wait_status(pid) != 0) {
		printf("SKIP: cannot create namespaces (no CAP_SYS_ADMIN?)\n");
		return 77;
	}
	return 0;
}

int main(void)
{
	int mounts_before, mounts_after, fds_before, r;

	r = probe_privileges();
	if (r)
		return r;
	signal(SIGPIPE, SIG_IGN);
	if (make_rootfs() < 0) {
		fprintf(stderr, "cannot build the rootfs in %s: %m\n", tmpdir);
		rm_rf(tmpdir);
		return 1;
	}
	mounts_before = count_mounts();
	fds_before = count_fds();

	test_basic();
	test_namespaces();
	test_no_pivot();
	test_readonly_root();
	test_mounts_devices();
	test_masked_readonly_paths();
	test_exec_error();
	test_escape();
	test_user_namespace();
	test_process_setup();
	test_deferred_start();
	test_terminal();
	test_running_container();
	test_exec_userns();
	test_cgroup_paths();
	test_cgroup_conversion();
	test_oom_watch_logic();
	test_cgroup_refusals();

	CHECK_EQ(count_fds(), fds_before);
	mounts_after = count_mounts();
	CHECK_EQ(mounts_after, mounts_before);
	/* every child was reaped */
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
	rm_rf(tmpdir);
	printf("%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
