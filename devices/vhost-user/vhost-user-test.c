/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vhost-user front-end against the fake back-end (fake-backend.h): a
 * thread on the other end of a socketpair that answers like libvhost-user
 * and records every message, its payload and the fds it carried. Checked:
 * message order and payloads, REPLY_ACK use, the memory table and its fds,
 * ring addresses translated to our mapping, and misbehaving back-ends
 * (silent -> bounded timeout, closing, refusing, malformed replies).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/guest-mem.h"
#include "common/log.h"
#include "common/test.h"
#include "fake-backend.h"
#include "vhost-user.h"

#define BIT(b) FAKE_BIT(b)
#define VFSD_FEATURES FAKE_VFSD_FEATURES
#define VFSD_PROTOCOL FAKE_VFSD_PROTOCOL
#define TEST_TIMEOUT_MS 300

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
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

/* A connection to a fresh fake back-end with virtiofsd's feature set. */
static struct vhost_user *fake_start(struct fake_backend *f, enum fake_mode mode)
{
	struct vhost_user *vu = NULL;
	int fd = -1;

	fake_backend_init(f, mode);
	CHECK(fake_backend_socketpair(f, &fd) == 0);
	CHECK(vhost_user_open_fd_take(fd, TEST_TIMEOUT_MS, &vu) == 0);
	CHECK(vu != NULL);
	return vu;
}

static void fake_run(struct fake_backend *f)
{
	CHECK(fake_backend_run(f) == 0);
}

/* Close our end (the fake then sees EOF and exits) and join. */
static void fake_finish(struct fake_backend *f, struct vhost_user *vu)
{
	vhost_user_close(vu);
	fake_backend_join(f);
}

static uint64_t payload_u64(const struct fake_rec *r)
{
	return fake_rec_u64(r, 0);
}

static uint32_t payload_u32(const struct fake_rec *r, unsigned int i)
{
	return fake_rec_u32(r, 4 * i);
}

static uint64_t payload_u64_at(const struct fake_rec *r, size_t off)
{
	return fake_rec_u64(r, off);
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The whole happy path, message by message. */
static void test_sequence(void)
{
	struct fake_backend f;
	struct vhost_user *vu = fake_start(&f, FAKE_NORMAL);
	struct guest_mem mem;
	struct stat memfd_st;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t v = 5;
	uint16_t base = 0;
	unsigned int n;
	const struct fake_rec *r;

	guest_mem_init(&mem, true);
	CHECK(guest_mem_add_region(&mem, 0, 2 * MiB) == 0);
	CHECK(guest_mem_add_region(&mem, 4 * GiB, 1 * MiB) == 0);
	CHECK(fstat(mem.memfd, &memfd_st) == 0);
	fake_run(&f);

	CHECK_EQ(vhost_user_get_state(vu), VHOST_USER_STATE_CONNECTED);
	CHECK_EQ(vhost_user_handshake(vu, 2), 0);
	CHECK_EQ(vhost_user_get_state(vu), VHOST_USER_STATE_READY);
	CHECK_EQ(vhost_user_backend_features(vu), VFSD_FEATURES);
	CHECK_EQ(vhost_user_protocol_features(vu), BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
							  BIT(VHOST_USER_PROTOCOL_F_MQ));
	CHECK_EQ(vhost_user_backend_queues(vu), 2);

	/* a feature the back-end never offered is refused without a message */
	CHECK_EQ(vhost_user_set_features(vu, BIT(32) | BIT(33)), -EINVAL);
	CHECK_EQ(vhost_user_set_features(vu, BIT(32) | BIT(29) | BIT(28)), 0);
	CHECK_EQ(vhost_user_set_mem_table(vu, &mem), 0);

	CHECK(write(kick, &v, sizeof(v)) == sizeof(v));
	{
		struct vhost_user_vring vr = {
			.index = 1, .size = 64, .base = 0,
			.desc_gpa = 0x10000, .avail_gpa = 0x10400, .used_gpa = 0x11000,
			.kick_fd = kick, .call_fd = call,
		};
		struct vhost_user_vring bad = vr;

		/* a ring outside guest RAM is refused before anything is sent */
		bad.used_gpa = 2 * MiB - 8;
		CHECK_EQ(vhost_user_vring_start(vu, &bad), -EFAULT);
		bad = vr;
		bad.desc_gpa = 3 * MiB;
		CHECK_EQ(vhost_user_vring_start(vu, &bad), -EFAULT);
		bad = vr;
		bad.size = 48;
		CHECK_EQ(vhost_user_vring_start(vu, &bad), -EINVAL);

		CHECK_EQ(vhost_user_vring_start(vu, &vr), 0);
		CHECK_EQ(vhost_user_get_state(vu), VHOST_USER_STATE_RUNNING);
		CHECK(vhost_user_vring_started(vu, 1));
		CHECK(!vhost_user_vring_started(vu, 0));
		CHECK_EQ(vhost_user_vring_start(vu, &vr), -EINVAL); /* already started */
	}
	/* the fake signalled the call fd it received: it is ours */
	v = 0;
	CHECK(read(call, &v, sizeof(v)) == sizeof(v));
	CHECK_EQ(v, 1);

	CHECK_EQ(vhost_user_vring_stop(vu, 1, &base), 0);
	CHECK_EQ(base, FAKE_GET_VRING_BASE_ANSWER);
	CHECK_EQ(vhost_user_get_state(vu), VHOST_USER_STATE_READY);
	CHECK_EQ(vhost_user_vring_stop(vu, 1, NULL), -EINVAL);
	fake_finish(&f, vu);

	/* message by message */
	n = 0;
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_GET_FEATURES);
	CHECK_EQ(r->flags, FAKE_FLAG_VERSION);
	CHECK_EQ(r->size, 0);
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_GET_PROTOCOL_FEATURES);
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_PROTOCOL_FEATURES);
	CHECK_EQ(r->flags, FAKE_FLAG_VERSION); /* REPLY_ACK not yet in force */
	CHECK_EQ(r->size, 8);
	CHECK_EQ(payload_u64(r), BIT(3) | BIT(0));
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_GET_QUEUE_NUM);
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_OWNER);
	CHECK_EQ(r->flags, FAKE_FLAG_VERSION | FAKE_FLAG_NEED_REPLY);
	CHECK_EQ(r->size, 0);
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_FEATURES);
	CHECK_EQ(r->flags, FAKE_FLAG_VERSION | FAKE_FLAG_NEED_REPLY);
	CHECK_EQ(payload_u64(r), BIT(32) | BIT(29) | BIT(28) | BIT(30));

	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_MEM_TABLE);
	CHECK_EQ(r->flags, FAKE_FLAG_VERSION | FAKE_FLAG_NEED_REPLY);
	CHECK_EQ(r->size, 8 + 2 * 32);
	CHECK_EQ(payload_u32(r, 0), 2);
	CHECK_EQ(r->nfds, 2);
	for (unsigned int i = 0; i < 2; i++) {
		size_t off = 8 + 32 * i;

		CHECK_EQ(r->fd_ino[i], memfd_st.st_ino); /* the guest RAM memfd itself */
		CHECK_EQ(payload_u64_at(r, off), mem.regions[i].gpa);
		CHECK_EQ(payload_u64_at(r, off + 8), mem.regions[i].size);
		CHECK_EQ(payload_u64_at(r, off + 16), (uint64_t)(uintptr_t)mem.regions[i].hva);
		CHECK_EQ(payload_u64_at(r, off + 24), mem.regions[i].fd_offset);
	}
	CHECK_EQ(payload_u64_at(r, 8 + 32 + 24), 2 * MiB); /* second region's memfd offset */

	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_VRING_NUM);
	CHECK_EQ(payload_u32(r, 0), 1);
	CHECK_EQ(payload_u32(r, 1), 64);
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_VRING_BASE);
	CHECK_EQ(payload_u32(r, 0), 1);
	CHECK_EQ(payload_u32(r, 1), 0);
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_VRING_ADDR);
	CHECK_EQ(r->size, 40);
	CHECK_EQ(payload_u32(r, 0), 1);
	CHECK_EQ(payload_u32(r, 1), 0); /* no logging */
	CHECK_EQ(payload_u64_at(r, 8), (uint64_t)(uintptr_t)(mem.regions[0].hva + 0x10000));
	CHECK_EQ(payload_u64_at(r, 16), (uint64_t)(uintptr_t)(mem.regions[0].hva + 0x11000));
	CHECK_EQ(payload_u64_at(r, 24), (uint64_t)(uintptr_t)(mem.regions[0].hva + 0x10400));
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_VRING_CALL);
	CHECK_EQ(payload_u64(r), 1);
	CHECK_EQ(r->nfds, 1);
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_VRING_KICK);
	CHECK_EQ(payload_u64(r), 1);
	CHECK_EQ(r->nfds, 1);
	CHECK_EQ(r->kick_value, 5); /* the kick eventfd we handed over */
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_SET_VRING_ENABLE);
	CHECK_EQ(payload_u32(r, 0), 1);
	CHECK_EQ(payload_u32(r, 1), 1);
	CHECK_EQ(r->flags, FAKE_FLAG_VERSION | FAKE_FLAG_NEED_REPLY);
	r = &f.recs[n++];
	CHECK_EQ(r->request, FAKE_GET_VRING_BASE);
	CHECK_EQ(r->flags, FAKE_FLAG_VERSION);
	CHECK_EQ(payload_u32(r, 0), 1);
	CHECK_EQ(f.nrecs, n);

	close(kick);
	close(call);
	guest_mem_destroy(&mem);
}

/* A back-end without PROTOCOL_FEATURES: no acks, rings start enabled. */
static void test_no_protocol_features(void)
{
	struct fake_backend f;
	struct vhost_user *vu = fake_start(&f, FAKE_NORMAL);
	struct guest_mem mem;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct vhost_user_vring vr = { .index = 0, .size = 16, .desc_gpa = 0,
				       .avail_gpa = 0x100, .used_gpa = 0x200,
				       .kick_fd = kick, .call_fd = call };

	f.features = BIT(32) | BIT(28) | BIT(29);
	guest_mem_init(&mem, true);
	CHECK(guest_mem_add_region(&mem, 0, 1 * MiB) == 0);
	fake_run(&f);
	CHECK_EQ(vhost_user_handshake(vu, 2), 0);
	CHECK_EQ(vhost_user_protocol_features(vu), 0);
	CHECK_EQ(vhost_user_set_features(vu, BIT(32)), 0);
	CHECK_EQ(vhost_user_set_mem_table(vu, &mem), 0);
	CHECK_EQ(vhost_user_vring_start(vu, &vr), 0);
	CHECK_EQ(vhost_user_vring_stop(vu, 0, NULL), 0);
	fake_finish(&f, vu);

	CHECK_EQ(f.nrecs, 10);
	CHECK_EQ(f.recs[0].request, FAKE_GET_FEATURES);
	CHECK_EQ(f.recs[1].request, FAKE_SET_OWNER);
	CHECK_EQ(f.recs[1].flags, FAKE_FLAG_VERSION); /* no REPLY_ACK: no NEED_REPLY */
	CHECK_EQ(f.recs[2].request, FAKE_SET_FEATURES);
	CHECK_EQ(payload_u64(&f.recs[2]), BIT(32)); /* no bit 30 */
	CHECK_EQ(f.recs[3].request, FAKE_SET_MEM_TABLE);
	CHECK_EQ(f.recs[7].request, FAKE_SET_VRING_CALL);
	CHECK_EQ(f.recs[8].request, FAKE_SET_VRING_KICK);
	CHECK_EQ(f.recs[9].request, FAKE_GET_VRING_BASE); /* no FAKE_SET_VRING_ENABLE */
	close(kick);
	close(call);
	guest_mem_destroy(&mem);
}

/* A refused request: -EIO, and the connection stays usable. */
static void test_nack(void)
{
	struct fake_backend f;
	struct vhost_user *vu = fake_start(&f, FAKE_NACK);
	struct guest_mem mem;

	f.nack_request = FAKE_SET_MEM_TABLE;
	guest_mem_init(&mem, true);
	CHECK(guest_mem_add_region(&mem, 0, 1 * MiB) == 0);
	fake_run(&f);
	CHECK_EQ(vhost_user_handshake(vu, 2), 0);
	CHECK_EQ(vhost_user_set_mem_table(vu, &mem), -EIO);
	CHECK_EQ(vhost_user_get_state(vu), VHOST_USER_STATE_READY);
	CHECK_EQ(vhost_user_set_features(vu, BIT(32)), 0);
	fake_finish(&f, vu);
	guest_mem_destroy(&mem);
}

/* Memory the back-end cannot map, and a queue count too small. */
static void test_bad_inputs(void)
{
	struct fake_backend f;
	struct vhost_user *vu = fake_start(&f, FAKE_NORMAL);
	struct guest_mem anon;
	static uint8_t buf[4096];

	guest_mem_init(&anon, false);
	CHECK(guest_mem_add_region(&anon, 0, 1 * MiB) == 0);
	fake_run(&f);
	CHECK_EQ(vhost_user_set_features(vu, BIT(32)), -EINVAL); /* before the handshake */
	CHECK_EQ(vhost_user_handshake(vu, 2), 0);
	CHECK_EQ(vhost_user_handshake(vu, 2), -EINVAL); /* only once */
	CHECK_EQ(vhost_user_set_mem_table(vu, &anon), -EINVAL);
	guest_mem_destroy(&anon);
	guest_mem_init(&anon, false);
	CHECK(guest_mem_add_buffer(&anon, 0, buf, sizeof(buf)) == 0);
	CHECK_EQ(vhost_user_set_mem_table(vu, &anon), -EINVAL);
	{
		int e = eventfd(0, EFD_CLOEXEC);
		struct vhost_user_vring vr = { .index = 0, .size = 16, .kick_fd = e, .call_fd = e };

		CHECK_EQ(vhost_user_vring_start(vu, &vr), -EPROTO); /* no mem table yet */
		close(e);
	}
	fake_finish(&f, vu);
	CHECK_EQ(f.nrecs, 5); /* handshake only: nothing invalid reached the back-end */

	vu = fake_start(&f, FAKE_NORMAL);
	f.queue_num = 1;
	fake_run(&f);
	CHECK_EQ(vhost_user_handshake(vu, 2), -ERANGE);
	CHECK_EQ(vhost_user_backend_queues(vu), 1);
	fake_finish(&f, vu);
}

/* A back-end that never answers: a bounded wait, then the connection is dead. */
static void test_timeout(void)
{
	struct fake_backend f;
	struct vhost_user *vu = fake_start(&f, FAKE_SILENT);
	int64_t t0;

	fake_run(&f);
	t0 = ms_now();
	CHECK_EQ(vhost_user_handshake(vu, 2), -ETIMEDOUT);
	CHECK(ms_now() - t0 >= TEST_TIMEOUT_MS - 10);
	CHECK(ms_now() - t0 < TEST_TIMEOUT_MS + 1000);
	CHECK_EQ(vhost_user_get_state(vu), VHOST_USER_STATE_FAILED);
	/* later requests fail at once: a late reply must not answer them */
	t0 = ms_now();
	CHECK_EQ(vhost_user_set_features(vu, 0), -ENOTCONN);
	CHECK(ms_now() - t0 < 50);
	fake_finish(&f, vu);
	CHECK_EQ(f.nrecs, 1);
}

/* A back-end that goes away mid-handshake: an error, not SIGPIPE, not a hang. */
static void test_close(void)
{
	struct fake_backend f;
	struct vhost_user *vu;

	for (unsigned int at = 1; at <= 5; at++) {
		vu = fake_start(&f, FAKE_CLOSE_AT);
		f.close_at = at;
		fake_run(&f);
		int r = vhost_user_handshake(vu, 2);

		CHECK(r == -ECONNRESET || r == -EPIPE);
		CHECK_EQ(vhost_user_get_state(vu), VHOST_USER_STATE_FAILED);
		fake_finish(&f, vu);
	}
	/* a write to a peer that is already gone: -EPIPE, no SIGPIPE */
	vu = fake_start(&f, FAKE_NORMAL);
	close(f.fd);
	CHECK_EQ(vhost_user_handshake(vu, 2), -EPIPE);
	CHECK_EQ(vhost_user_get_state(vu), VHOST_USER_STATE_FAILED);
	CHECK_EQ(vhost_user_set_features(vu, 0), -ENOTCONN);
	vhost_user_close(vu);
}

/* Malformed replies: wrong size, wrong id, an fd attached. */
static void test_bad_replies(void)
{
	static const enum fake_mode modes[] = { FAKE_BAD_SIZE, FAKE_BAD_ID, FAKE_REPLY_FD };

	for (unsigned int i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct fake_backend f;
		int before = count_fds();
		struct vhost_user *vu = fake_start(&f, modes[i]);

		fake_run(&f);
		CHECK_EQ(vhost_user_handshake(vu, 2), -EPROTO);
		CHECK_EQ(vhost_user_get_state(vu), VHOST_USER_STATE_FAILED);
		fake_finish(&f, vu);
		/* the fd the back-end slipped in was closed, not leaked */
		CHECK_EQ(count_fds(), before);
	}
}

static void test_connect(void)
{
	char dir[] = "/tmp/vhost-user-test-XXXXXX";
	char path[64], longpath[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vhost_user *vu = NULL;
	struct fake_backend f;
	int lfd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/sock", dir);
	CHECK_EQ(vhost_user_connect(path, 0, &vu), -ENOENT);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	CHECK_EQ(vhost_user_connect(longpath, 0, &vu), -ENAMETOOLONG);

	/* bound but not listening: refused */
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK_EQ(vhost_user_connect(path, 0, &vu), -ECONNREFUSED);
	CHECK(vu == NULL);
	close(lfd);
	unlink(path);

	fake_backend_init(&f, FAKE_NORMAL);
	CHECK(fake_backend_listen(&f, path) == 0);
	fake_run(&f);
	CHECK_EQ(vhost_user_connect(path, TEST_TIMEOUT_MS, &vu), 0);
	CHECK(vu != NULL);
	CHECK(fcntl(vhost_user_fd(vu), F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(vhost_user_fd(vu), F_GETFL) & O_NONBLOCK);
	CHECK_EQ(vhost_user_handshake(vu, 2), 0);
	fake_finish(&f, vu);
	CHECK_EQ(f.nrecs, 5);
	unlink(path);
	rmdir(dir);
}

static void test_names(void)
{
	CHECK(strcmp(vhost_user_state_to_string(VHOST_USER_STATE_FAILED), "failed") == 0);
	CHECK(strcmp(vhost_user_state_to_string((enum vhost_user_state)99), "invalid") == 0);
	CHECK(strcmp(vhost_user_request_to_string(5), "SET_MEM_TABLE") == 0);
	CHECK(strcmp(vhost_user_request_to_string(4), "UNKNOWN") == 0);
	CHECK(strcmp(vhost_user_request_to_string(1000), "UNKNOWN") == 0);
}

int main(void)
{
	int fds_before;

	/* A hang must fail the test, not CI; SIGPIPE must never be what stops us. */
	alarm(60);
	signal(SIGPIPE, SIG_DFL);
	if (getenv("NACELLE_TEST_DEBUG"))
		log_set_level(LOG_LEVEL_DEBUG);
	fds_before = count_fds();
	test_names();
	test_sequence();
	test_no_protocol_features();
	test_nack();
	test_bad_inputs();
	test_timeout();
	test_close();
	test_bad_replies();
	test_connect();
	CHECK_EQ(count_fds(), fds_before);
	printf("vhost-user-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
