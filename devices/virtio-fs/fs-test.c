/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-fs without a VM: creation errors; the device against the fake
 * vhost-user back-end (config space, features, activation sequence, call ->
 * interrupt, hang-up -> NEEDS_RESET); and, when Debian's virtiofsd is
 * installed and we are root, against the real virtiofsd: one FUSE_INIT and
 * one FUSE_LOOKUP through shared guest memory, then virtiofsd killed.
 *
 * The virtqueue harness allocates private memory; vhost-user needs RAM the
 * back-end can map, so harness_init_shared() swaps in a memfd-backed region
 * of the same size at the same address (the ring layout is just offsets).
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/test.h"
#include "devices/virtio-fs.h"
#include "fake-backend.h"
#include "vq-harness.h"

#define VIRTIOFSD "/usr/lib/qemu/virtiofsd"
#define RAM_SIZE (4 * MiB)
#define QSIZE 64
#define WAIT_STEP_NS 1000000L /* 1 ms */
#define WAIT_MAX_STEPS 5000   /* 5 s */

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void sleep_step(void)
{
	const struct timespec ts = { .tv_sec = 0, .tv_nsec = WAIT_STEP_NS };

	nanosleep(&ts, NULL);
}

static bool needs_reset(struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

static bool wait_needs_reset(struct virtio_dev *vdev)
{
	for (int i = 0; i < WAIT_MAX_STEPS && !needs_reset(vdev); i++)
		sleep_step();
	return needs_reset(vdev);
}

static int harness_init_shared(struct vq_harness *h)
{
	int r = vqh_init(h, RAM_SIZE, 2, QSIZE);

	if (r < 0)
		return r;
	guest_mem_destroy(&h->mem);
	guest_mem_init(&h->mem, true);
	r = guest_mem_add_region(&h->mem, 0, h->ram_size);
	if (r < 0)
		return r;
	h->ram = guest_mem_ptr(&h->mem, 0, h->ram_size);
	return h->ram ? 0 : -EFAULT;
}

static void make_tmpdir(char *dir)
{
	CHECK(mkdtemp(dir) != NULL);
}

/* virtio 1.x 2.7.10: must the driver kick after moving avail->idx from old to new_idx? */
static bool driver_must_kick(uint16_t avail_event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - avail_event - 1) < (uint16_t)(new_idx - old);
}

/*
 * Once the back-end is gone, post one FUSE request on the request queue as
 * the guest's driver (EVENT_IDX) does: kick only when the device asked for
 * it through avail_event. The device must answer it with EIO; a device that
 * does not re-arm avail_event gets no kick and the request hangs, as the
 * guest's second request after virtiofsd died did.
 */
static int fuse_request_after_loss(struct vq_harness *h, struct virtio_dev *vdev,
				   uint64_t unique)
{
	struct fuse_in_header in = { .len = sizeof(in), .opcode = FUSE_GETATTR,
				     .unique = unique, .nodeid = FUSE_ROOT_ID };
	struct vqh_buf bufs[2] = {
		{ .len = sizeof(in), .writable = false, .data = &in },
		{ .len = 4096, .writable = true },
	};
	struct vqh_queue *q = &h->q[1];
	uint16_t old = q->avail_idx, avail_event, head;
	struct fuse_out_header out;
	uint32_t id, len;
	uint64_t one = 1;

	head = vqh_add_chain(h, 1, bufs, 2);
	vqh_set_used_event(h, 1, q->used_seen);
	vqh_publish(h, 1, head);
	/* our avail->idx before the device's avail_event: the driver's fence */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(&avail_event, vqh_ptr(h, q->used_gpa + 4 + 8 * (uint64_t)q->qsize),
	       sizeof(avail_event));
	if (driver_must_kick(le16toh(avail_event), q->avail_idx, old) &&
	    write(vdev->kick_fds[1], &one, sizeof(one)) != sizeof(one))
		return -errno;
	for (int i = 0; i < WAIT_MAX_STEPS; i++) {
		if (vqh_pop_used(h, 1, &id, &len) == 1) {
			if (id != head || len != sizeof(out))
				return -EPROTO;
			memcpy(&out, vqh_ptr(h, bufs[1].gpa), sizeof(out));
			if (out.len != sizeof(out) || out.error != -EIO || out.unique != unique)
				return -EPROTO;
			return 0;
		}
		sleep_step();
	}
	return -ETIMEDOUT;
}

/* Creation errors ---------------------------------------------------------- */

static void test_create_errors(void)
{
	struct guest_mem priv, shared;
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	char tag37[38];
	struct virtio_fs_config cfg = { .tag = "myfs", .socket_path = "/nonexistent/vfs.sock" };

	guest_mem_init(&priv, false);
	CHECK(guest_mem_add_region(&priv, 0, 1 * MiB) == 0);
	guest_mem_init(&shared, true);
	CHECK(guest_mem_add_region(&shared, 0, 1 * MiB) == 0);

	CHECK_EQ(virtio_fs_create(&cfg, &priv, &vdev, &err), -EINVAL);
	CHECK(strcmp(err.msg, "--fs needs --memory shared=on") == 0);
	printf("private memory: %s\n", err.msg);

	error_clear(&err);
	cfg.tag = "";
	CHECK_EQ(virtio_fs_create(&cfg, &shared, &vdev, &err), -EINVAL);
	CHECK(strstr(err.msg, "tag") != NULL);
	printf("empty tag: %s\n", err.msg);

	memset(tag37, 'a', 37);
	tag37[37] = '\0';
	cfg.tag = tag37;
	error_clear(&err);
	CHECK_EQ(virtio_fs_create(&cfg, &shared, &vdev, &err), -EINVAL);
	CHECK(strstr(err.msg, "longer than 36 bytes") != NULL);
	printf("long tag: %s\n", err.msg);

	cfg.tag = "myfs";
	cfg.num_queues = 2;
	error_clear(&err);
	CHECK_EQ(virtio_fs_create(&cfg, &shared, &vdev, &err), -EINVAL);
	CHECK(strstr(err.msg, "Debian's virtiofsd serves one request queue") != NULL);
	printf("two queues: %s\n", err.msg);
	cfg.num_queues = 1;

	cfg.queue_size = 2048;
	error_clear(&err);
	CHECK_EQ(virtio_fs_create(&cfg, &shared, &vdev, &err), -EINVAL);
	printf("queue size: %s\n", err.msg);
	cfg.queue_size = 0;

	error_clear(&err);
	CHECK_EQ(virtio_fs_create(&cfg, &shared, &vdev, &err), -ENOENT);
	CHECK(strcmp(err.msg, "--fs socket=/nonexistent/vfs.sock: No such file or directory") == 0);
	printf("no socket: %s\n", err.msg);

	/* a socket file nobody listens on */
	{
		char dir[] = "/tmp/fs-test-XXXXXX";
		char path[64];
		struct fake_backend f;

		make_tmpdir(dir);
		snprintf(path, sizeof(path), "%s/sock", dir);
		fake_backend_init(&f, FAKE_NORMAL);
		CHECK(fake_backend_listen(&f, path) == 0);
		close(f.lfd); /* the file stays, the listener is gone */
		cfg.socket_path = path;
		error_clear(&err);
		CHECK_EQ(virtio_fs_create(&cfg, &shared, &vdev, &err), -ECONNREFUSED);
		CHECK(strstr(err.msg, ": Connection refused") != NULL);
		printf("refused: %s\n", err.msg);
		unlink(path);
		rmdir(dir);
	}
	CHECK(vdev == NULL);
	virtio_fs_destroy(NULL);
	guest_mem_destroy(&priv);
	guest_mem_destroy(&shared);
}

/* Against the fake back-end --------------------------------------------------- */

struct fake_setup {
	char dir[32];
	char path[64];
	struct fake_backend f;
};

static void fake_listen(struct fake_setup *s, enum fake_mode mode)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/fs-test-XXXXXX");
	make_tmpdir(s->dir);
	snprintf(s->path, sizeof(s->path), "%s/sock", s->dir);
	fake_backend_init(&s->f, mode);
	CHECK(fake_backend_listen(&s->f, s->path) == 0);
	CHECK(fake_backend_run(&s->f) == 0);
}

static void fake_cleanup(struct fake_setup *s)
{
	fake_backend_join(&s->f);
	unlink(s->path);
	rmdir(s->dir);
}

/* A back-end without a feature the device layer always offers is refused. */
static void test_backend_lacks_features(void)
{
	struct fake_setup s;
	struct guest_mem mem;
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	struct virtio_fs_config cfg = { .tag = "myfs" };

	guest_mem_init(&mem, true);
	CHECK(guest_mem_add_region(&mem, 0, 1 * MiB) == 0);
	fake_listen(&s, FAKE_NORMAL);
	s.f.features &= ~FAKE_BIT(VIRTIO_F_RING_EVENT_IDX);
	cfg.socket_path = s.path;
	CHECK_EQ(virtio_fs_create(&cfg, &mem, &vdev, &err), -EOPNOTSUPP);
	CHECK(strstr(err.msg, "lacks virtio features 0x20000000") != NULL);
	printf("no EVENT_IDX: %s\n", err.msg);
	fake_cleanup(&s);

	fake_listen(&s, FAKE_NORMAL);
	s.f.queue_num = 1;
	cfg.socket_path = s.path;
	error_clear(&err);
	CHECK_EQ(virtio_fs_create(&cfg, &mem, &vdev, &err), -ERANGE);
	printf("one queue: %s\n", err.msg);
	fake_cleanup(&s);

	fake_listen(&s, FAKE_SILENT);
	cfg.socket_path = s.path;
	error_clear(&err);
	CHECK_EQ(virtio_fs_create(&cfg, &mem, &vdev, &err), -ETIMEDOUT);
	printf("silent back-end: %s\n", err.msg);
	fake_cleanup(&s);
	guest_mem_destroy(&mem);
}

static void test_fake_backend(void)
{
	struct fake_setup s;
	struct vq_harness h;
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	struct virtio_fs_counters c;
	uint8_t config[40];
	/* exactly 36 bytes: fills the field, no terminator */
	const char *tag = "abcdefghijklmnopqrstuvwxyz0123456789";
	struct virtio_fs_config cfg = { .tag = tag, .queue_size = QSIZE, .id = "fs0" };
	const struct fake_rec *r;
	unsigned int pos = 0;
	uint32_t nrq;
	unsigned int cfg_signals;

	CHECK(harness_init_shared(&h) == 0);
	fake_listen(&s, FAKE_NORMAL);
	cfg.socket_path = s.path;
	CHECK_EQ(virtio_fs_create(&cfg, &h.mem, &vdev, &err), 0);
	if (!vdev) {
		fprintf(stderr, "create: %s\n", err.msg);
		exit(1);
	}
	CHECK_EQ(vdev->device_type, VIRTIO_ID_FS);
	CHECK_EQ(vdev->nr_queues, 2);
	CHECK_EQ(vdev->config_size, 40);
	CHECK(strcmp(vdev->name, "fs0") == 0);
	/* only what the layer adds: VERSION_1, EVENT_IDX, INDIRECT_DESC */
	CHECK_EQ(virtio_dev_offered_features(vdev),
		 VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
			 VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));

	virtio_dev_config_read(vdev, 0, config, sizeof(config));
	CHECK(memcmp(config, tag, 36) == 0);
	memcpy(&nrq, config + 36, 4);
	CHECK_EQ(nrq, 1);
	/* writes are ignored; out-of-range reads are zero (layer) */
	virtio_dev_config_write(vdev, 0, (const uint8_t *)"zz", 2);
	virtio_dev_config_read(vdev, 0, config, 2);
	CHECK(config[0] == 'a' && config[1] == 'b');
	/* the handshake happened at creation */
	CHECK_EQ(fake_backend_nrecs(&s.f), 5);

	CHECK_EQ(vqh_activate_device(&h, vdev), 0);
	CHECK(!needs_reset(vdev));
	pos = 5;
	r = fake_backend_find(&s.f, FAKE_SET_FEATURES, &pos);
	CHECK(r != NULL);
	if (r)
		CHECK_EQ(fake_rec_u64(r, 0), virtio_dev_offered_features(vdev) | FAKE_BIT(30));
	r = fake_backend_find(&s.f, FAKE_SET_MEM_TABLE, &pos);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ(fake_rec_u32(r, 0), 1);
		CHECK_EQ(fake_rec_u64(r, 8 + 16), (uint64_t)(uintptr_t)h.ram);
		CHECK_EQ(r->nfds, 1);
	}
	for (uint32_t q = 0; q < 2; q++) {
		r = fake_backend_find(&s.f, FAKE_SET_VRING_ADDR, &pos);
		CHECK(r != NULL);
		if (!r)
			break;
		CHECK_EQ(fake_rec_u32(r, 0), q);
		CHECK_EQ(fake_rec_u64(r, 8), (uint64_t)(uintptr_t)(h.ram + h.q[q].desc_gpa));
		CHECK_EQ(fake_rec_u64(r, 16), (uint64_t)(uintptr_t)(h.ram + h.q[q].used_gpa));
		CHECK_EQ(fake_rec_u64(r, 24), (uint64_t)(uintptr_t)(h.ram + h.q[q].avail_gpa));
		r = fake_backend_find(&s.f, FAKE_SET_VRING_ENABLE, &pos);
		CHECK(r != NULL);
	}
	/* the fake signalled both call fds (as virtiofsd does): interrupts */
	for (int i = 0; i < WAIT_MAX_STEPS && (!h.queue_signals[0] || !h.queue_signals[1]); i++)
		sleep_step();
	CHECK(h.queue_signals[0] >= 1);
	CHECK(h.queue_signals[1] >= 1);
	CHECK(virtio_fs_get_counters(vdev, &c) == 0);
	CHECK(c.call_signals >= 2);
	CHECK_EQ(c.backend_disconnects, 0);

	/* guest reset: both rings stopped with GET_VRING_BASE; then re-activate */
	virtio_dev_reset(vdev);
	r = fake_backend_find(&s.f, FAKE_GET_VRING_BASE, &pos);
	CHECK(r != NULL && fake_rec_u32(r, 0) == 0);
	r = fake_backend_find(&s.f, FAKE_GET_VRING_BASE, &pos);
	CHECK(r != NULL && fake_rec_u32(r, 0) == 1);
	vqh_reset_queue(&h, 0);
	vqh_reset_queue(&h, 1);
	CHECK_EQ(vqh_activate_device(&h, vdev), 0);
	CHECK(!needs_reset(vdev));

	/* the back-end hangs up: one NEEDS_RESET, a config interrupt, no crash */
	cfg_signals = h.config_signals;
	shutdown(s.f.fd, SHUT_RDWR);
	CHECK(wait_needs_reset(vdev));
	CHECK_EQ(h.config_signals, cfg_signals + 1);
	CHECK(virtio_fs_get_counters(vdev, &c) == 0);
	CHECK_EQ(c.backend_disconnects, 1);
	/* the device answers the guest's requests with EIO, each of them */
	for (uint64_t unique = 10; unique < 13; unique++)
		CHECK_EQ(fuse_request_after_loss(&h, vdev, unique), 0);
	/* the guest resets and tries again: refused at once, no hang */
	virtio_dev_reset(vdev);
	vqh_reset_queue(&h, 0);
	vqh_reset_queue(&h, 1);
	CHECK(vqh_activate_device(&h, vdev) == -EIO);
	CHECK(needs_reset(vdev));
	CHECK(virtio_fs_get_counters(vdev, &c) == 0);
	CHECK_EQ(c.backend_disconnects, 1);

	virtio_fs_destroy(vdev);
	fake_cleanup(&s);
	vqh_fini(&h);
}

/* Against Debian's virtiofsd ------------------------------------------------- */

struct vfsd {
	char dir[32];
	char share[64];
	char sock[64];
	char log[64];
	pid_t pid;
};

static int vfsd_start(struct vfsd *v)
{
	char src[96], sockopt[96];

	snprintf(v->dir, sizeof(v->dir), "/tmp/fs-test-XXXXXX");
	if (!mkdtemp(v->dir))
		return -errno;
	snprintf(v->share, sizeof(v->share), "%s/share", v->dir);
	snprintf(v->sock, sizeof(v->sock), "%s/vfsd.sock", v->dir);
	snprintf(v->log, sizeof(v->log), "%s/virtiofsd.log", v->dir);
	snprintf(src, sizeof(src), "source=%s", v->share);
	/* this virtiofsd wants --socket-path=PATH as one argument */
	snprintf(sockopt, sizeof(sockopt), "--socket-path=%s", v->sock);
	if (mkdir(v->share, 0755) < 0)
		return -errno;
	{
		char file[96];
		FILE *fp;

		snprintf(file, sizeof(file), "%s/hello", v->share);
		fp = fopen(file, "w");
		if (!fp)
			return -errno;
		fputs("hello from the host\n", fp); /* 20 bytes */
		fclose(fp);
	}
	v->pid = fork();
	if (v->pid < 0)
		return -errno;
	if (v->pid == 0) {
		int fd = open(v->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(VIRTIOFSD, VIRTIOFSD, sockopt, "-o", src, "-o",
		      "cache=none", "-o", "sandbox=chroot", (char *)NULL);
		_exit(127);
	}
	return 0;
}

/* Create the device, retrying while virtiofsd is between bind() and listen(). */
static int vfsd_create(struct vfsd *v, struct vq_harness *h, struct virtio_dev **ret)
{
	struct virtio_fs_config cfg = { .tag = "hostshare", .socket_path = v->sock,
					.queue_size = QSIZE };
	struct error err = { 0 };
	int r = -ENOENT;

	for (int i = 0; i < WAIT_MAX_STEPS; i++) {
		error_clear(&err);
		r = virtio_fs_create(&cfg, &h->mem, ret, &err);
		if (r != -ENOENT && r != -ECONNREFUSED)
			break;
		if (waitpid(v->pid, NULL, WNOHANG) == v->pid) {
			v->pid = -1; /* exited (reaped): it will never listen */
			break;
		}
		sleep_step();
	}
	if (r < 0)
		fprintf(stderr, "virtio_fs_create: %s\n", err.msg);
	return r;
}

/* 0 once the child exited (reaped), -ETIMEDOUT otherwise. */
static int reap(pid_t pid, int *ret_status)
{
	for (int i = 0; i < WAIT_MAX_STEPS; i++) {
		if (waitpid(pid, ret_status, WNOHANG) == pid)
			return 0;
		sleep_step();
	}
	return -ETIMEDOUT;
}

static void vfsd_cleanup(struct vfsd *v)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", v->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", v->dir);
}

static void dump_log(const struct vfsd *v)
{
	char line[256];
	FILE *fp = fopen(v->log, "r");

	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp))
		printf("  virtiofsd: %s", line);
	fclose(fp);
}

/* Queue interrupts seen by the harness's transport (bumped on the worker thread). */
static unsigned int signals(struct vq_harness *h, unsigned int q)
{
	return __atomic_load_n(&h->queue_signals[q], __ATOMIC_ACQUIRE);
}

/*
 * Post one request on the request queue and wait for its answer and for the
 * interrupt that announces it: the call eventfd -> worker -> signal_queue
 * path. As a driver with EVENT_IDX does, ask for an interrupt at the next
 * used entry (used_event), or virtiofsd rightly stays quiet.
 */
static int fuse_request(struct vq_harness *h, struct virtio_dev *vdev, const void *req,
			uint32_t req_len, uint64_t *ret_reply_gpa, uint32_t *ret_len)
{
	struct vqh_buf bufs[2] = {
		{ .len = req_len, .writable = false, .data = req },
		{ .len = 4096, .writable = true },
	};
	unsigned int before = signals(h, 1);
	uint64_t one = 1;
	uint16_t head;
	uint32_t id, len;
	bool used = false;

	head = vqh_add_chain(h, 1, bufs, 2);
	vqh_set_used_event(h, 1, h->q[1].used_seen);
	vqh_publish(h, 1, head);
	/* what the guest's notify write does through the ioeventfd */
	if (write(vdev->kick_fds[1], &one, sizeof(one)) != sizeof(one))
		return -errno;
	for (int i = 0; i < WAIT_MAX_STEPS; i++) {
		if (!used && vqh_pop_used(h, 1, &id, &len) == 1) {
			if (id != head)
				return -EPROTO;
			*ret_reply_gpa = bufs[1].gpa;
			*ret_len = len;
			used = true;
		}
		if (used && signals(h, 1) > before)
			return 0;
		sleep_step();
	}
	return used ? -ENOMSG : -ETIMEDOUT; /* answered without an interrupt: a bug */
}

static void test_real_virtiofsd(void)
{
	struct vq_harness h;
	struct vfsd v;
	struct virtio_dev *vdev = NULL;
	struct virtio_fs_counters c;
	uint64_t reply_gpa;
	uint32_t len;
	int status, fds_before, tasks_before;

	if (geteuid() != 0 || access(VIRTIOFSD, X_OK) != 0) {
		printf("SKIP real virtiofsd: %s\n",
		       geteuid() != 0 ? "not root (virtiofsd needs CAP_SYS_ADMIN for its sandbox)"
				      : VIRTIOFSD " not installed (package qemu-system-common)");
		return;
	}
	fds_before = count_entries("/proc/self/fd");
	tasks_before = count_entries("/proc/self/task");
	CHECK(harness_init_shared(&h) == 0);
	CHECK(vfsd_start(&v) == 0);
	CHECK(vfsd_create(&v, &h, &vdev) == 0);
	if (!vdev) {
		dump_log(&v);
		if (v.pid > 0) {
			kill(v.pid, SIGKILL);
			(void)reap(v.pid, &status);
		}
		vfsd_cleanup(&v);
		vqh_fini(&h);
		return;
	}
	CHECK_EQ(vqh_activate_device(&h, vdev), 0);
	CHECK(!needs_reset(vdev));
	/*
	 * virtiofsd signals every new call fd once; let those spurious
	 * interrupts arrive so they cannot stand in for a real completion's.
	 */
	for (int i = 0; i < WAIT_MAX_STEPS && (!signals(&h, 0) || !signals(&h, 1)); i++)
		sleep_step();
	CHECK(signals(&h, 0) >= 1 && signals(&h, 1) >= 1);

	/* FUSE_INIT, as the guest's virtiofs driver sends it first */
	{
		struct {
			struct fuse_in_header in;
			struct fuse_init_in init;
		} __attribute__((packed)) req = {
			.in = { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 2 },
			.init = { .major = FUSE_KERNEL_VERSION, .minor = 36,
				  .max_readahead = 128 * 1024 },
		};
		struct fuse_out_header out;
		struct fuse_init_out init;

		CHECK_EQ(fuse_request(&h, vdev, &req, sizeof(req), &reply_gpa, &len), 0);
		CHECK_EQ(len, sizeof(out) + sizeof(init));
		memcpy(&out, vqh_ptr(&h, reply_gpa), sizeof(out));
		memcpy(&init, (uint8_t *)vqh_ptr(&h, reply_gpa) + sizeof(out), sizeof(init));
		CHECK_EQ(out.error, 0);
		CHECK_EQ(out.unique, 2);
		CHECK_EQ(out.len, len);
		CHECK_EQ(init.major, 7);
		printf("real virtiofsd FUSE_INIT: used len %u, error %d, protocol %u.%u, "
		       "max_write %u, flags %#x\n",
		       len, out.error, init.major, init.minor, init.max_write, init.flags);
	}
	/* FUSE_LOOKUP "hello" in the root: a file the host wrote, 20 bytes */
	{
		struct {
			struct fuse_in_header in;
			char name[8];
		} __attribute__((packed)) req = {
			.in = { .len = sizeof(struct fuse_in_header) + 6, .opcode = FUSE_LOOKUP,
				.unique = 4, .nodeid = FUSE_ROOT_ID },
			.name = "hello",
		};
		struct fuse_out_header out;
		struct fuse_entry_out entry;

		CHECK_EQ(fuse_request(&h, vdev, &req, req.in.len, &reply_gpa, &len), 0);
		memcpy(&out, vqh_ptr(&h, reply_gpa), sizeof(out));
		memcpy(&entry, (uint8_t *)vqh_ptr(&h, reply_gpa) + sizeof(out), sizeof(entry));
		CHECK_EQ(out.error, 0);
		CHECK_EQ(out.unique, 4);
		CHECK_EQ(entry.attr.size, 20);
		printf("real virtiofsd FUSE_LOOKUP hello: used len %u, error %d, nodeid %llu, "
		       "size %llu\n",
		       len, out.error, (unsigned long long)entry.nodeid,
		       (unsigned long long)entry.attr.size);
	}
	CHECK(signals(&h, 1) >= 3); /* the spurious one, then one per completion */
	CHECK(virtio_fs_get_counters(vdev, &c) == 0);
	printf("real virtiofsd: call signals %llu, queue interrupts hiprio %u request %u\n",
	       (unsigned long long)c.call_signals, h.queue_signals[0], h.queue_signals[1]);

	/* a guest reset stops the rings in virtiofsd; the device comes back */
	virtio_dev_reset(vdev);
	vqh_reset_queue(&h, 0);
	vqh_reset_queue(&h, 1);
	CHECK_EQ(vqh_activate_device(&h, vdev), 0);
	CHECK(!needs_reset(vdev));

	/* virtiofsd dies: NEEDS_RESET, nothing crashes, the VMM goes on */
	CHECK(kill(v.pid, SIGKILL) == 0);
	CHECK(reap(v.pid, &status) == 0);
	CHECK(wait_needs_reset(vdev));
	CHECK(virtio_fs_get_counters(vdev, &c) == 0);
	CHECK_EQ(c.backend_disconnects, 1);
	printf("real virtiofsd killed: device status %#x (NEEDS_RESET), disconnects %llu\n",
	       vdev->status, (unsigned long long)c.backend_disconnects);
	/* and fails every request from now on, without hanging any */
	for (uint64_t unique = 10; unique < 13; unique++)
		CHECK_EQ(fuse_request_after_loss(&h, vdev, unique), 0);
	virtio_fs_destroy(vdev);
	vqh_fini(&h);
	vfsd_cleanup(&v);

	/* nothing left behind: fds, threads */
	CHECK_EQ(count_entries("/proc/self/fd"), fds_before);
	CHECK_EQ(count_entries("/proc/self/task"), tasks_before);

	/* second round: the VMM closes the connection, virtiofsd exits by itself */
	CHECK(harness_init_shared(&h) == 0);
	CHECK(vfsd_start(&v) == 0);
	CHECK(vfsd_create(&v, &h, &vdev) == 0);
	if (vdev) {
		CHECK_EQ(vqh_activate_device(&h, vdev), 0);
		virtio_fs_destroy(vdev);
	}
	CHECK(reap(v.pid, &status) == 0);
	CHECK(WIFEXITED(status));
	printf("real virtiofsd after the VMM closed the socket: exited with %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	vqh_fini(&h);
	vfsd_cleanup(&v);
	CHECK_EQ(count_entries("/proc/self/fd"), fds_before);
}

int main(void)
{
	int fds_before;

	/* A hang must fail the test, not CI. */
	alarm(90);
	signal(SIGPIPE, SIG_DFL); /* MSG_NOSIGNAL must make it irrelevant */
	if (getenv("NACELLE_TEST_DEBUG"))
		log_set_level(LOG_LEVEL_DEBUG);
	fds_before = count_entries("/proc/self/fd");
	test_create_errors();
	test_backend_lacks_features();
	test_fake_backend();
	CHECK_EQ(count_entries("/proc/self/fd"), fds_before);
	test_real_virtiofsd();
	printf("fs-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
