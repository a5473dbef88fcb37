/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host mounts, for real (root, in a private mount namespace of the test):
 * containerd's option table; an overlay rootfs (and one with a lowerdir list
 * longer than a page) and bind rootfs into a shared directory; read-only
 * file and recursive binds; unmounting everything; and the propagation
 * question: a rootfs mounted after Debian's virtiofsd started must be
 * visible inside its sandbox, for -o sandbox=chroot and =namespace, which
 * is why the shared directory is made a shared mount (without it, the
 * namespace sandbox does not see the mount: checked too).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/test.h"
#include "config.h"
#include "mount.h"
#include "pod-paths.h"
#include "child.h"
#include "util.h"
#include "vm-config.h"

static char dir[] = "/tmp/nacelle-mount-test.XXXXXX";

static char *path_of(const char *rel)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, 512, "%s/%s", dir, rel);
	return b;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
		close(fd);
	}
}

static bool file_has(const char *path, const char *text)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, text) == 0;
}

static void test_options(void)
{
	const char *opts[] = { "rw", "nosuid", "nodev", "relatime", "rprivate",
			       "lowerdir=/a:/b", "upperdir=/u", "", "workdir=/w", "ro" };
	const char *loop[] = { "loop" };
	unsigned long flags, prop;
	char *data = NULL;
	struct error err = { 0 };

	CHECK_EQ(mount_parse_options(opts, ARRAY_SIZE(opts), &flags, &prop, &data, &err), 0);
	CHECK_EQ(flags, MS_NOSUID | MS_NODEV | MS_RELATIME | MS_RDONLY);
	CHECK_EQ(prop, MS_PRIVATE | MS_REC);
	CHECK(strcmp(data, "lowerdir=/a:/b,upperdir=/u,workdir=/w") == 0);
	free(data);
	CHECK_EQ(mount_parse_options(opts, 0, &flags, &prop, &data, &err), 0);
	CHECK(flags == 0 && prop == 0 && strcmp(data, "") == 0);
	free(data);
	CHECK_EQ(mount_parse_options(loop, 1, &flags, &prop, &data, &err), -EOPNOTSUPP);
}

static void test_overlay_and_binds(void)
{
	char lower_opt[600], upper_opt[600], work_opt[600];
	const char *ov_opts[] = { lower_opt, upper_opt, work_opt };
	const char *bind_opts[] = { "rbind", "ro" };
	struct shim_mount ov = { "overlay", "overlay", "", ov_opts, 3 };
	char *bundle_rootfs = strdup(path_of("bundle/rootfs"));
	struct shim_mount bind = { "bind", bundle_rootfs, "", bind_opts, 2 };
	struct error err = { 0 };
	bool is_mount, shared;
	int fd;

	mkdir(path_of("shared"), 0711);
	CHECK_EQ(mount_make_shared_dir(path_of("shared"), &err), 0);
	CHECK_EQ(mount_info(path_of("shared"), &is_mount, &shared), 0);
	CHECK(is_mount && shared);

	/* overlay: lower has a file; writes land in upper. */
	mkdir(path_of("lower"), 0755);
	mkdir(path_of("upper"), 0755);
	mkdir(path_of("work"), 0755);
	write_file(path_of("lower/from-image"), "image");
	snprintf(lower_opt, sizeof(lower_opt), "lowerdir=%s", path_of("lower"));
	snprintf(upper_opt, sizeof(upper_opt), "upperdir=%s", path_of("upper"));
	snprintf(work_opt, sizeof(work_opt), "workdir=%s", path_of("work"));
	mkdir(path_of("shared/c1"), 0711);
	mkdir(path_of("shared/c1/rootfs"), 0755);
	CHECK_EQ(mount_rootfs(&ov, 1, path_of("shared/c1/rootfs"), &err), 0);
	CHECK(file_has(path_of("shared/c1/rootfs/from-image"), "image"));
	write_file(path_of("shared/c1/rootfs/written"), "new");
	CHECK(file_has(path_of("upper/written"), "new"));

	/* bind rootfs (containerd's native snapshotter), read-only. */
	mkdir(path_of("bundle"), 0755);
	mkdir(path_of("bundle/rootfs"), 0755);
	write_file(path_of("bundle/rootfs/etc-file"), "bundle");
	mkdir(path_of("shared/c2"), 0711);
	mkdir(path_of("shared/c2/rootfs"), 0755);
	CHECK_EQ(mount_rootfs(&bind, 1, path_of("shared/c2/rootfs"), &err), 0);
	CHECK(file_has(path_of("shared/c2/rootfs/etc-file"), "bundle"));
	fd = open(path_of("shared/c2/rootfs/nope"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd < 0 && errno == EROFS);

	/* A failing mount leaves nothing behind. */
	{
		const char *bad_opts[] = { "lowerdir=/nonexistent" };
		struct shim_mount bad = { "overlay", "overlay", "", bad_opts, 1 };

		mkdir(path_of("shared/c3"), 0711);
		mkdir(path_of("shared/c3/rootfs"), 0755);
		CHECK(mount_rootfs(&bad, 1, path_of("shared/c3/rootfs"), &err) < 0);
		CHECK(strstr(err.msg, "rootfs mount 1 of 1") != NULL);
		CHECK_EQ(mount_count_under(path_of("shared/c3")), 0);
	}

	/* A file volume, read-only (/etc/hosts style). */
	write_file(path_of("hosts"), "127.0.0.1 localhost\n");
	mkdir(path_of("shared/c1/mounts"), 0711);
	CHECK_EQ(mount_bind(path_of("hosts"), path_of("shared/c1/mounts/0"), false, true, &err), 0);
	CHECK(file_has(path_of("shared/c1/mounts/0"), "127.0.0.1 localhost\n"));
	fd = open(path_of("shared/c1/mounts/0"), O_WRONLY);
	CHECK(fd < 0 && errno == EROFS);

	/* A directory volume with a submount, rbind read-only: the submount
	 * is read-only too. */
	mkdir(path_of("vol"), 0755);
	mkdir(path_of("vol/sub"), 0755);
	CHECK_EQ(mount("tmpfs", path_of("vol/sub"), "tmpfs", 0, "size=64k"), 0);
	CHECK_EQ(mount_bind(path_of("vol"), path_of("shared/c1/mounts/1"), true, true, &err), 0);
	fd = open(path_of("shared/c1/mounts/1/sub/x"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd < 0 && errno == EROFS);
	CHECK_EQ(mount_bind(path_of("missing"), path_of("shared/c1/mounts/2"), false, false, &err),
		 -ENOENT);

	/* Everything goes, deepest first. */
	CHECK(mount_count_under(path_of("shared")) >= 6);
	CHECK_EQ(mount_unmount_all(path_of("shared"), &err), 0);
	CHECK_EQ(mount_count_under(path_of("shared")), 0);
	CHECK_EQ(rm_rf(path_of("shared")), 0);
	CHECK_EQ(mount_unmount_all(path_of("vol"), &err), 0);
	free(bundle_rootfs);
	/* Nothing mounted: fine. */
	CHECK_EQ(mount_unmount_all(path_of("shared"), &err), 0);
}

/* More layers than fit in one page of options. */
static void test_many_layers(void)
{
	enum { LAYERS = 90 };
	size_t cap = 64 * 1024, off;
	char *lower = malloc(cap), upper_opt[600], work_opt[600], name[600];
	const char *opts[] = { lower, upper_opt, work_opt };
	struct shim_mount ov = { "overlay", "overlay", "", opts, 3 };
	struct error err = { 0 };

	mkdir(path_of("snapshots"), 0755);
	off = (size_t)snprintf(lower, cap, "lowerdir=");
	for (int i = LAYERS; i >= 1; i--) {
		snprintf(name, sizeof(name), "%s/snapshots/%d", dir, i);
		mkdir(name, 0755);
		strcat(name, "/fs-with-a-long-directory-name");
		mkdir(name, 0755);
		off += (size_t)snprintf(lower + off, cap - off, "%s%s", i == LAYERS ? "" : ":",
					name);
		if (i == 1 || i == LAYERS) {
			char f[700];

			snprintf(f, sizeof(f), "%s/layer-%d", name, i);
			write_file(f, "x");
		}
	}
	CHECK(strlen(lower) > MOUNT_MAX_DATA);
	mkdir(path_of("snapshots/upper"), 0755);
	mkdir(path_of("snapshots/work"), 0755);
	snprintf(upper_opt, sizeof(upper_opt), "upperdir=%s", path_of("snapshots/upper"));
	snprintf(work_opt, sizeof(work_opt), "workdir=%s", path_of("snapshots/work"));
	mkdir(path_of("big"), 0755);
	CHECK_EQ(mount_rootfs(&ov, 1, path_of("big"), &err), 0);
	if (err.code)
		fprintf(stderr, "many layers: %s\n", err.msg);
	CHECK(access(path_of("big/layer-1"), F_OK) == 0);
	CHECK(access(path_of("big/layer-90"), F_OK) == 0);
	/* The process's own working directory did not move. */
	{
		char cwd[512];

		CHECK(getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0);
	}
	CHECK_EQ(mount_unmount_all(path_of("big"), &err), 0);
	free(lower);
}

/* ---- virtiofsd's view ---- */

static int children_of(pid_t pid)
{
	char p[64], buf[64];
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

/* Run virtiofsd on shared/ (made a shared mount or not), let it build its
 * sandbox, mount a rootfs afterwards, and look through its root. */
static void check_virtiofsd(enum sandbox_fs_sandbox mode, bool make_shared, bool expect_visible)
{
	struct sandbox_config cfg;
	struct sandbox_paths p = { 0 };
	struct sandbox_child c;
	struct error err = { 0 };
	char **argv = NULL, view[600], marker[600];
	const char *bind_opts[] = { "rbind" };
	char *img = strdup(path_of("img"));
	struct shim_mount bind = { "bind", img, "", bind_opts, 1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t worker = 0;
	int sock = -1;

	CHECK_EQ(sandbox_config_defaults(&cfg), 0);
	cfg.virtiofsd_sandbox = mode;
	p.shared = strdup(path_of("fs-shared"));
	p.fs_sock = strdup(path_of("fs.sock"));
	mkdir(p.shared, 0711);
	write_file(path_of("fs-shared/present-at-start"), "s");
	if (make_shared)
		CHECK_EQ(mount_make_shared_dir(p.shared, &err), 0);
	mkdir(path_of("img"), 0755);
	write_file(path_of("img/in-rootfs"), "r");

	CHECK_EQ(sandbox_virtiofsd_argv(&cfg, &p, &argv), 0);
	child_init(&c, "virtiofsd");
	CHECK_EQ(child_spawn(&c, argv, path_of("virtiofsd.log"), NULL, &err), 0);
	strv_free(argv);
	/* It listens, accepts one front-end, then builds its sandbox. */
	for (int i = 0; i < 500 && access(p.fs_sock, F_OK) != 0; i++)
		sleep_ms(10);
	strcpy(sa.sun_path, p.fs_sock);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ(connect(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (int i = 0; i < 500; i++) {
		worker = mode == SANDBOX_FS_SANDBOX_NAMESPACE ? children_of(c.pid) : c.pid;
		if (worker > 0) {
			snprintf(marker, sizeof(marker), "/proc/%d/root/present-at-start",
				 (int)worker);
			if (access(marker, F_OK) == 0)
				break;
		}
		sleep_ms(10);
	}
	CHECK(worker > 0 && access(marker, F_OK) == 0);
	/* Let it finish its setup (seccomp, capabilities) after the pivot. */
	sleep_ms(100);

	mkdir(path_of("fs-shared/c9"), 0711);
	mkdir(path_of("fs-shared/c9/rootfs"), 0755);
	CHECK_EQ(mount_rootfs(&bind, 1, path_of("fs-shared/c9/rootfs"), &err), 0);
	snprintf(view, sizeof(view), "/proc/%d/root/c9/rootfs/in-rootfs", (int)worker);
	if (expect_visible) {
		CHECK(access(view, F_OK) == 0);
	} else {
		CHECK(access(view, F_OK) != 0);
	}
	/* And an unmount propagates as well. */
	CHECK_EQ(mount_unmount_all(path_of("fs-shared/c9"), &err), 0);
	CHECK(access(view, F_OK) != 0);

	/* The front-end hangs up: virtiofsd exits by itself. */
	close(sock);
	CHECK_EQ(child_wait(&c, 5000), 0);
	child_stop(&c, 1000);
	CHECK_EQ(mount_unmount_all(p.shared, &err), 0);
	CHECK_EQ(rm_rf(p.shared), 0);
	unlink(p.fs_sock);
	free(p.shared);
	free(p.fs_sock);
	free(img);
	sandbox_config_free(&cfg);
}

static void test_virtiofsd_propagation(void)
{
	if (access(SANDBOX_DEFAULT_VIRTIOFSD, X_OK) != 0) {
		fprintf(stderr, "note: %s missing, propagation into virtiofsd not checked\n",
			SANDBOX_DEFAULT_VIRTIOFSD);
		return;
	}
	check_virtiofsd(SANDBOX_FS_SANDBOX_CHROOT, true, true);
	check_virtiofsd(SANDBOX_FS_SANDBOX_NAMESPACE, true, true);
	/* Why the shared directory is a shared mount: without it, the namespace
	 * sandbox never sees containers mounted after it started. */
	check_virtiofsd(SANDBOX_FS_SANDBOX_NAMESPACE, false, false);
}

int main(void)
{
	test_options();
	if (geteuid() != 0) {
		fprintf(stderr, "skip: mounting needs root\n");
		return 77;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "skip: cannot make a private mount namespace: %s\n", strerror(errno));
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	if (chdir("/") < 0 || !mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* A tmpfs of our own: works whatever /tmp is (overlay upper dirs cannot
	 * be on an overlay), and cannot leak. */
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64m,mode=0700") < 0) {
		fprintf(stderr, "skip: tmpfs: %s\n", strerror(errno));
		rmdir(dir);
		return 77;
	}
	{
		FILE *f = fopen("/proc/filesystems", "r");
		char line[128];
		bool overlay = false;

		while (f && fgets(line, sizeof(line), f))
			overlay |= strstr(line, "\toverlay") != NULL;
		if (f)
			fclose(f);
		if (!overlay) {
			fprintf(stderr, "skip: no overlay file system in this kernel\n");
			umount2(dir, MNT_DETACH);
			rmdir(dir);
			return 77;
		}
	}
	test_overlay_and_binds();
	test_many_layers();
	test_virtiofsd_propagation();
	CHECK_EQ(umount2(dir, 0), 0);
	CHECK_EQ(rmdir(dir), 0);
	fprintf(stderr, "%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
