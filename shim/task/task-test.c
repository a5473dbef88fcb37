/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End to end: containerd-shim-nacelle-fake-v2 (the real binary over a
 * runtime that runs processes on the host) driven as containerd 1.6 drives
 * a shim: `start` per task (a pod container joins its sandbox's shim), one
 * ttrpc connection per task, Create/Start/Wait/Exec/Kill/State/Pids/Stats/
 * Pause/Resume/Delete/Shutdown, output through FIFOs, events received by a
 * fake containerd events service on $TTRPC_ADDRESS (and, without it,
 * through -publish-binary), then the `delete` subcommand.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/test.h"
#include "shim/task.h"
#include "ttrpc/client.h"
#include "ttrpc/server.h"

#define NS "testns"
#define CALL_MS 10000

static char tmp[] = "/tmp/shim-e2e-XXXXXX";
static char caddr[256], evaddr[256], sockdir[256];

/* ---- a fake containerd events service ---- */

struct rec {
	char topic[64];
	char ns[64];
	char type_url[96];
	char container[96];
	char id[96];
	uint32_t exit_status;
	bool ts_set;
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec recs[256];
static int n_recs;

static int m_forward(void *ud, struct ttrpc_call *call, const ProtobufCMessage *request,
		     struct error *err)
{
	const Containerd__Services__Events__Ttrpc__V1__ForwardRequest *req = (const void *)request;
	const Containerd__Services__Events__Ttrpc__V1__Envelope *env = req->envelope;
	struct rec r = {};

	if (!env || !env->event || !env->topic || env->topic[0] != '/')
		return error_set(err, -EINVAL, "bad envelope");
	snprintf(r.topic, sizeof(r.topic), "%s", env->topic);
	snprintf(r.ns, sizeof(r.ns), "%s", env->namespace_);
	snprintf(r.type_url, sizeof(r.type_url), "%s", env->event->type_url);
	r.ts_set = env->timestamp && env->timestamp->seconds > 0;
	if (strcmp(r.type_url, "containerd.events.TaskExit") == 0) {
		Containerd__Events__TaskExit *e = containerd__events__task_exit__unpack(
			NULL, env->event->value.len, env->event->value.data);

		if (e) {
			snprintf(r.container, sizeof(r.container), "%s", e->container_id);
			snprintf(r.id, sizeof(r.id), "%s", e->id);
			r.exit_status = e->exit_status;
			containerd__events__task_exit__free_unpacked(e, NULL);
		}
	} else {
		/* Every task event has container_id as field 1. */
		Containerd__Events__TaskOOM *e = containerd__events__task_oom__unpack(
			NULL, env->event->value.len, env->event->value.data);

		if (e) {
			snprintf(r.container, sizeof(r.container), "%s", e->container_id);
			containerd__events__task_oom__free_unpacked(e, NULL);
		}
	}
	pthread_mutex_lock(&ev_lock);
	if (n_recs < (int)ARRAY_SIZE(recs))
		recs[n_recs++] = r;
	pthread_mutex_unlock(&ev_lock);
	return 0;
}

static const struct ttrpc_method ev_methods[] = {
	{ "containerd.services.events.ttrpc.v1.Events", "Forward",
	  &containerd__services__events__ttrpc__v1__forward_request__descriptor, m_forward },
};

static void *ev_main(void *arg)
{
	(void)!ttrpc_server_run(arg);
	return NULL;
}

/* Index of the first event with this topic and container (and id if set). */
static int find_event(const char *topic, const char *container, const char *id)
{
	int found = -1;

	pthread_mutex_lock(&ev_lock);
	for (int i = 0; i < n_recs && found < 0; i++)
		if (strcmp(recs[i].topic, topic) == 0 && strcmp(recs[i].container, container) == 0 &&
		    (!id || strcmp(recs[i].id, id) == 0))
			found = i;
	pthread_mutex_unlock(&ev_lock);
	if (found < 0)
		fprintf(stderr, "event %s %s %s missing\n", topic, container, id ? id : "");
	return found;
}

/* ---- bundles, FIFOs, running the binary ---- */

static void make_bundle(const char *id, const char *args_json, const char *annotations,
			char *ret_dir)
{
	char path[600];
	FILE *f;

	sprintf(ret_dir, "%s/b/%s", tmp, id);
	mkdir(ret_dir, 0700);
	snprintf(path, sizeof(path), "%s/config.json", ret_dir);
	f = fopen(path, "w");
	fprintf(f,
		"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":%s,"
		"\"env\":[\"PATH=/usr/bin:/bin\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},"
		"\"annotations\":{%s}}",
		args_json, annotations);
	fclose(f);
}

/* Like containerd: create the FIFO and hold the read end, non-blocking. */
static int make_fifo(const char *name, char *ret_path)
{
	sprintf(ret_path, "%s/%s", tmp, name);
	CHECK(mkfifo(ret_path, 0600) == 0);
	return open(ret_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

static void read_fifo(int fd, char *buf, size_t len)
{
	size_t off = 0;

	for (int tries = 0; tries < 100 && off + 1 < len; tries++) {
		ssize_t n = read(fd, buf + off, len - 1 - off);

		if (n > 0)
			off += n;
		else if (n == 0 && off > 0)
			break;
		else
			usleep(10000);
	}
	buf[off] = 0;
}

/* Copies the shim's log FIFO to our stderr (containerd does that too). */
static void *log_main(void *arg)
{
	int fd = (int)(long)arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(STDERR_FILENO, buf, n);
	return NULL;
}

static void make_log_fifo(const char *bundle)
{
	char path[600];
	pthread_t th;
	int fd;

	snprintf(path, sizeof(path), "%s/log", bundle);
	CHECK(mkfifo(path, 0600) == 0);
	fd = open(path, O_RDWR | O_CLOEXEC); /* containerd holds it O_RDWR */
	CHECK(fd >= 0);
	pthread_create(&th, NULL, log_main, (void *)(long)fd);
	pthread_detach(th);
}

/* Runs the binary in `bundle` as containerd does; stdout (+stderr if
 * combined) into out. Returns the exit status. */
static int run_shim(const char *bundle, const char *publish, bool combined, char *out,
		    size_t out_len, size_t *ret_len, ...)
{
	const char *argv[24];
	int n = 0, pfd[2], status;
	size_t off = 0;
	va_list ap;
	pid_t pid;

	argv[n++] = SHIM_FAKE_BINARY;
	argv[n++] = "-namespace";
	argv[n++] = NS;
	argv[n++] = "-address";
	argv[n++] = caddr;
	argv[n++] = "-publish-binary";
	argv[n++] = publish;
	va_start(ap, ret_len);
	while (n < 23 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (chdir(bundle) < 0)
			_exit(99);
		dup2(null, 0);
		dup2(pfd[1], 1);
		if (combined)
			dup2(pfd[1], 2);
		setpgid(0, 0);
		execv(argv[0], (char **)argv);
		_exit(98);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r = read(pfd[0], out + off, out_len - 1 - off);

		if (r <= 0)
			break;
		off += r;
	}
	close(pfd[0]);
	out[off] = 0;
	if (ret_len)
		*ret_len = off;
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- task API calls ---- */

static int call(struct ttrpc_client *c, const char *method, const void *req,
		const ProtobufCMessageDescriptor *rd, void *ret, int timeout_ms)
{
	struct error err = {};
	int code = -1, r;

	r = ttrpc_client_call(c, SHIM_TASK_SERVICE, method, req, rd, ret, timeout_ms, &code,
			      &err);
	if (r < 0 && code != TTRPC_NOT_FOUND)
		fprintf(stderr, "  %s: %s (%s)\n", method, err.msg,
			code >= 0 ? ttrpc_code_to_string(code) : "transport");
	return r < 0 ? code : 0;
}

static int create(struct ttrpc_client *c, const char *id, const char *bundle, const char *out,
		  uint32_t *ret_pid)
{
	Containerd__Task__V2__CreateTaskRequest req = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__CreateTaskResponse *resp = NULL;
	int code;

	req.id = (char *)id;
	req.bundle = (char *)bundle;
	req.stdout = (char *)(out ? out : "");
	code = call(c, "Create", &req, &containerd__task__v2__create_task_response__descriptor,
		    &resp, CALL_MS);
	if (code == 0) {
		*ret_pid = resp->pid;
		containerd__task__v2__create_task_response__free_unpacked(resp, NULL);
	}
	return code;
}

static int start(struct ttrpc_client *c, const char *id, const char *exec_id, uint32_t *ret_pid)
{
	Containerd__Task__V2__StartRequest req = CONTAINERD__TASK__V2__START_REQUEST__INIT;
	Containerd__Task__V2__StartResponse *resp = NULL;
	int code;

	req.id = (char *)id;
	req.exec_id = (char *)(exec_id ? exec_id : "");
	code = call(c, "Start", &req, &containerd__task__v2__start_response__descriptor, &resp,
		    CALL_MS);
	if (code == 0) {
		*ret_pid = resp->pid;
		containerd__task__v2__start_response__free_unpacked(resp, NULL);
	}
	return code;
}

static int wait_exit_at(struct ttrpc_client *c, const char *id, const char *exec_id,
			uint32_t *ret_status, int64_t *ret_at)
{
	Containerd__Task__V2__WaitRequest req = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
	Containerd__Task__V2__WaitResponse *resp = NULL;
	int code;

	req.id = (char *)id;
	req.exec_id = (char *)(exec_id ? exec_id : "");
	code = call(c, "Wait", &req, &containerd__task__v2__wait_response__descriptor, &resp,
		    30000);
	if (code == 0) {
		*ret_status = resp->exit_status;
		*ret_at = resp->exited_at ? resp->exited_at->seconds : 0;
		containerd__task__v2__wait_response__free_unpacked(resp, NULL);
	}
	return code;
}

static int wait_exit(struct ttrpc_client *c, const char *id, const char *exec_id,
		     uint32_t *ret_status)
{
	int64_t at = 0;
	int code = wait_exit_at(c, id, exec_id, ret_status, &at);

	if (code == 0)
		CHECK(at > 1600000000);
	return code;
}

static int kill_task(struct ttrpc_client *c, const char *id, const char *exec_id, uint32_t sig)
{
	Containerd__Task__V2__KillRequest req = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;

	req.id = (char *)id;
	req.exec_id = (char *)(exec_id ? exec_id : "");
	req.signal = sig;
	return call(c, "Kill", &req, NULL, NULL, CALL_MS);
}

static int delete_task(struct ttrpc_client *c, const char *id, const char *exec_id,
		       uint32_t *ret_status)
{
	Containerd__Task__V2__DeleteRequest req = CONTAINERD__TASK__V2__DELETE_REQUEST__INIT;
	Containerd__Task__V2__DeleteResponse *resp = NULL;
	int code;

	req.id = (char *)id;
	req.exec_id = (char *)(exec_id ? exec_id : "");
	code = call(c, "Delete", &req, &containerd__task__v2__delete_response__descriptor, &resp,
		    CALL_MS);
	if (code == 0) {
		*ret_status = resp->exit_status;
		CHECK(resp->exited_at != NULL);
		containerd__task__v2__delete_response__free_unpacked(resp, NULL);
	}
	return code;
}

static int state(struct ttrpc_client *c, const char *id, const char *exec_id,
		 Containerd__V1__Types__Status *ret_status, uint32_t *ret_exit)
{
	Containerd__Task__V2__StateRequest req = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
	Containerd__Task__V2__StateResponse *resp = NULL;
	int code;

	req.id = (char *)id;
	req.exec_id = (char *)(exec_id ? exec_id : "");
	code = call(c, "State", &req, &containerd__task__v2__state_response__descriptor, &resp,
		    CALL_MS);
	if (code == 0) {
		*ret_status = resp->status;
		if (ret_exit)
			*ret_exit = resp->exit_status;
		CHECK(strcmp(resp->id, id) == 0);
		CHECK(resp->exited_at != NULL);
		if (resp->status != CONTAINERD__V1__TYPES__STATUS__STOPPED)
			CHECK_EQ(resp->exited_at->seconds, -62135596800LL);
		containerd__task__v2__state_response__free_unpacked(resp, NULL);
	}
	return code;
}

static int exec_task(struct ttrpc_client *c, const char *id, const char *exec_id,
		     const char *process_json, const char *out)
{
	Containerd__Task__V2__ExecProcessRequest req = CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
	Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;

	spec.type_url = (char *)"types.containerd.io/opencontainers/runtime-spec/1/Process";
	spec.value.data = (uint8_t *)process_json;
	spec.value.len = strlen(process_json);
	req.id = (char *)id;
	req.exec_id = (char *)exec_id;
	req.stdout = (char *)(out ? out : "");
	req.spec = &spec;
	return call(c, "Exec", &req, NULL, NULL, CALL_MS);
}

static int simple(struct ttrpc_client *c, const char *method, const char *id)
{
	/* Pause, Resume, Shutdown, Checkpoint...: field 1 is the id. */
	Containerd__Task__V2__PauseRequest req = CONTAINERD__TASK__V2__PAUSE_REQUEST__INIT;

	req.id = (char *)id;
	return call(c, method, &req, NULL, NULL, CALL_MS);
}

static uint32_t connect_shim(struct ttrpc_client *c, const char *id, uint32_t *ret_task_pid)
{
	Containerd__Task__V2__ConnectRequest req = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	Containerd__Task__V2__ConnectResponse *resp = NULL;
	uint32_t pid = 0;

	req.id = (char *)id;
	if (call(c, "Connect", &req, &containerd__task__v2__connect_response__descriptor, &resp,
		 CALL_MS) == 0) {
		pid = resp->shim_pid;
		if (ret_task_pid)
			*ret_task_pid = resp->task_pid;
		containerd__task__v2__connect_response__free_unpacked(resp, NULL);
	}
	return pid;
}

struct waiter {
	struct ttrpc_client *c;
	const char *id;
	int code;
	uint32_t status;
	int64_t at;
};

/* No CHECK here: the counters are not thread-safe. */
static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->code = wait_exit_at(w->c, w->id, NULL, &w->status, &w->at);
	return NULL;
}

static int wait_pid_exit(pid_t pid, int timeout_ms)
{
	int status;

	for (int i = 0; i < timeout_ms / 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	return -1;
}

static struct ttrpc_client *dial(const char *address)
{
	struct ttrpc_client *c = NULL;
	struct error err = {};

	CHECK(ttrpc_client_connect(address, &c, &err) == 0);
	if (c)
		CHECK(ttrpc_client_set_namespace(c, NS) == 0);
	return c;
}

static bool before(int a, int b)
{
	return a >= 0 && b >= 0 && a < b;
}

static void test_pod(void)
{
	char sb[512], c1[512], c9[512], out[1024], addr[256], addr2[256], fifo1[512], fifo2[512],
		fifo3[512], path[600], buf[256];
	struct ttrpc_client *cl1, *cl2;
	Containerd__V1__Types__Status st;
	uint32_t pid, sbpid, status, shim_pid, task_pid = 0;
	struct waiter w;
	pthread_t th;
	struct stat sst;
	int fd1, fd2, code;
	FILE *f;

	make_bundle("sb1", "[\"/bin/sleep\",\"30\"]",
		    "\"io.kubernetes.cri.container-type\":\"sandbox\","
		    "\"io.kubernetes.cri.sandbox-id\":\"sb1\"",
		    sb);
	make_log_fifo(sb);
	code = run_shim(sb, "/bin/false", true, out, sizeof(out), NULL, "-id", "sb1", "-debug",
			"start", NULL);
	CHECK_EQ(code, 0);
	CHECK(strncmp(out, "unix://", 7) == 0 && strncmp(out + 7, sockdir, strlen(sockdir)) == 0);
	CHECK_EQ(strlen(out), 7 + strlen(sockdir) + 1 + 64);
	snprintf(addr, sizeof(addr), "%s", out);
	snprintf(path, sizeof(path), "%s/address", sb);
	f = fopen(path, "r");
	CHECK(f && fgets(buf, sizeof(buf), f) && strcmp(buf, addr) == 0);
	if (f)
		fclose(f);
	CHECK(stat(addr + 7, &sst) == 0 && S_ISSOCK(sst.st_mode) && (sst.st_mode & 0777) == 0600);

	cl1 = dial(addr);
	if (!cl1)
		return;
	shim_pid = connect_shim(cl1, "sb1", &task_pid);
	CHECK(shim_pid > 0);
	CHECK_EQ(task_pid, 0);

	/* The sandbox, with no stdio (as CRI creates it). */
	CHECK_EQ(create(cl1, "sb1", sb, NULL, &sbpid), 0);
	CHECK(sbpid > 0);
	CHECK_EQ(create(cl1, "sb1", sb, NULL, &pid), TTRPC_ALREADY_EXISTS);
	CHECK_EQ(state(cl1, "sb1", NULL, &st, NULL), 0);
	CHECK_EQ(st, CONTAINERD__V1__TYPES__STATUS__CREATED);
	CHECK_EQ(start(cl1, "sb1", NULL, &pid), 0);
	CHECK_EQ(pid, sbpid);
	CHECK_EQ(start(cl1, "sb1", NULL, &pid), TTRPC_FAILED_PRECONDITION);
	CHECK_EQ(state(cl1, "sb1", NULL, &st, NULL), 0);
	CHECK_EQ(st, CONTAINERD__V1__TYPES__STATUS__RUNNING);
	CHECK_EQ(connect_shim(cl1, "sb1", &task_pid), shim_pid);
	CHECK_EQ(task_pid, sbpid);

	/* A pod container joins the sandbox's shim: same address, no new process. */
	make_bundle("c1", "[\"/bin/sh\",\"-c\",\"echo hello from c1; exit 3\"]",
		    "\"io.kubernetes.cri.container-type\":\"container\","
		    "\"io.kubernetes.cri.sandbox-id\":\"sb1\"",
		    c1);
	code = run_shim(c1, "/bin/false", true, out, sizeof(out), NULL, "-id", "c1", "start", NULL);
	CHECK_EQ(code, 0);
	CHECK(strcmp(out, addr) == 0);
	cl2 = dial(addr); /* containerd: one connection per task */
	if (!cl2)
		return;
	CHECK_EQ(connect_shim(cl2, "c1", NULL), shim_pid);

	fd1 = make_fifo("c1-stdout", fifo1);
	CHECK_EQ(create(cl2, "c1", c1, fifo1, &pid), 0);
	/* Wait blocks until the exit; Start must not wait for it. */
	w = (struct waiter){ .c = cl2, .id = "c1", .code = -1 };
	pthread_create(&th, NULL, waiter_main, &w);
	usleep(100000);
	CHECK_EQ(start(cl2, "c1", NULL, &pid), 0);
	pthread_join(th, NULL);
	CHECK_EQ(w.code, 0);
	CHECK_EQ(w.status, 3);
	CHECK(w.at > 1600000000);
	read_fifo(fd1, buf, sizeof(buf));
	CHECK(strcmp(buf, "hello from c1\n") == 0);
	CHECK_EQ(state(cl2, "c1", NULL, &st, &status), 0);
	CHECK_EQ(st, CONTAINERD__V1__TYPES__STATUS__STOPPED);
	CHECK_EQ(status, 3);
	CHECK_EQ(kill_task(cl2, "c1", NULL, SIGTERM), TTRPC_NOT_FOUND);
	CHECK_EQ(delete_task(cl2, "c1", NULL, &status), 0);
	CHECK_EQ(status, 3);
	CHECK_EQ(state(cl2, "c1", NULL, &st, NULL), TTRPC_NOT_FOUND);
	/* containerd sends Shutdown after each Delete: the shim stays for sb1. */
	CHECK_EQ(simple(cl2, "Shutdown", "c1"), 0);
	ttrpc_client_free(cl2);
	CHECK_EQ(connect_shim(cl1, "sb1", NULL), shim_pid);

	/* A pod container whose sandbox has no shim cannot start. */
	make_bundle("c9", "[\"/bin/true\"]",
		    "\"io.kubernetes.cri.container-type\":\"container\","
		    "\"io.kubernetes.cri.sandbox-id\":\"nosuch\"",
		    c9);
	code = run_shim(c9, "/bin/false", true, out, sizeof(out), NULL, "-id", "c9", "start", NULL);
	CHECK(code != 0);
	CHECK(strstr(out, "nosuch") != NULL);

	/* Exec into the sandbox. */
	fd2 = make_fifo("e1-stdout", fifo2);
	CHECK_EQ(exec_task(cl1, "sb1", "e1",
			   "{\"args\":[\"/bin/sh\",\"-c\",\"echo exec says hi; exit 5\"],"
			   "\"env\":[\"PATH=/bin:/usr/bin\"],\"cwd\":\"/\"}",
			   fifo2),
		 0);
	CHECK_EQ(exec_task(cl1, "sb1", "e1", "{\"args\":[\"/bin/true\"]}", NULL),
		 TTRPC_ALREADY_EXISTS);
	CHECK_EQ(exec_task(cl1, "sb1", "bad/id", "{\"args\":[\"/bin/true\"]}", NULL),
		 TTRPC_INVALID_ARGUMENT);
	CHECK_EQ(exec_task(cl1, "nosuch", "e9", "{\"args\":[\"/bin/true\"]}", NULL),
		 TTRPC_NOT_FOUND);
	CHECK_EQ(state(cl1, "sb1", "e1", &st, NULL), 0);
	CHECK_EQ(st, CONTAINERD__V1__TYPES__STATUS__CREATED);
	CHECK_EQ(start(cl1, "sb1", "e1", &pid), 0);
	CHECK_EQ(wait_exit(cl1, "sb1", "e1", &status), 0);
	CHECK_EQ(status, 5);
	read_fifo(fd2, buf, sizeof(buf));
	CHECK(strcmp(buf, "exec says hi\n") == 0);
	CHECK_EQ(delete_task(cl1, "sb1", "e1", &status), 0);
	CHECK_EQ(status, 5);

	/* A long exec, killed. */
	CHECK_EQ(exec_task(cl1, "sb1", "e2", "{\"args\":[\"sleep\",\"30\"]}", NULL), 0);
	CHECK_EQ(start(cl1, "sb1", "e2", &pid), 0);
	CHECK_EQ(delete_task(cl1, "sb1", "e2", &status), TTRPC_FAILED_PRECONDITION);
	CHECK_EQ(kill_task(cl1, "sb1", "e2", SIGTERM), 0);
	CHECK_EQ(wait_exit(cl1, "sb1", "e2", &status), 0);
	CHECK_EQ(status, 128 + SIGTERM);
	CHECK_EQ(delete_task(cl1, "sb1", "e2", &status), 0);

	/* Pids, Stats, Update, Checkpoint, ResizePty, CloseIO. */
	{
		Containerd__Task__V2__PidsRequest preq = CONTAINERD__TASK__V2__PIDS_REQUEST__INIT;
		Containerd__Task__V2__PidsResponse *presp = NULL;
		Containerd__Task__V2__StatsRequest sreq = CONTAINERD__TASK__V2__STATS_REQUEST__INIT;
		Containerd__Task__V2__StatsResponse *sresp = NULL;
		Containerd__Task__V2__UpdateTaskRequest ureq =
			CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
		Containerd__Task__V2__ResizePtyRequest rreq =
			CONTAINERD__TASK__V2__RESIZE_PTY_REQUEST__INIT;
		Containerd__Task__V2__CloseIORequest creq = CONTAINERD__TASK__V2__CLOSE_IOREQUEST__INIT;
		Google__Protobuf__Any res = GOOGLE__PROTOBUF__ANY__INIT;

		preq.id = (char *)"sb1";
		CHECK_EQ(call(cl1, "Pids", &preq, &containerd__task__v2__pids_response__descriptor,
			      &presp, CALL_MS),
			 0);
		if (presp) {
			CHECK_EQ(presp->n_processes, 1);
			CHECK(presp->n_processes && presp->processes[0]->pid == sbpid);
			containerd__task__v2__pids_response__free_unpacked(presp, NULL);
		}
		sreq.id = (char *)"sb1";
		CHECK_EQ(call(cl1, "Stats", &sreq, &containerd__task__v2__stats_response__descriptor,
			      &sresp, CALL_MS),
			 0);
		if (sresp) {
			CHECK(sresp->stats &&
			      strcmp(sresp->stats->type_url, "io.containerd.cgroups.v2.Metrics") == 0);
			if (sresp->stats) {
				Io__Containerd__Cgroups__V2__Metrics *m =
					io__containerd__cgroups__v2__metrics__unpack(
						NULL, sresp->stats->value.len, sresp->stats->value.data);

				CHECK(m && m->pids && m->pids->current == 1);
				CHECK(m && m->cpu && m->cpu->usage_usec == 1000);
				CHECK(m && m->memory && m->memory->usage == 1 << 20);
				CHECK(m && m->io && m->io->n_usage == 1 && m->io->usage[0]->rbytes == 4096);
				io__containerd__cgroups__v2__metrics__free_unpacked(m, NULL);
			}
			containerd__task__v2__stats_response__free_unpacked(sresp, NULL);
		}
		res.type_url = (char *)"types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
		res.value.data = (uint8_t *)"{\"cpu\":{\"shares\":512}}";
		res.value.len = strlen((char *)res.value.data);
		ureq.id = (char *)"sb1";
		ureq.resources = &res;
		CHECK_EQ(call(cl1, "Update", &ureq, NULL, NULL, CALL_MS), 0);
		CHECK_EQ(simple(cl1, "Checkpoint", "sb1"), TTRPC_UNIMPLEMENTED);
		rreq.id = (char *)"sb1";
		rreq.width = 80;
		rreq.height = 24;
		CHECK_EQ(call(cl1, "ResizePty", &rreq, NULL, NULL, CALL_MS), 0);
		creq.id = (char *)"sb1";
		creq.stdin = 1;
		CHECK_EQ(call(cl1, "CloseIO", &creq, NULL, NULL, CALL_MS), 0);
		CHECK(ttrpc_client_call(cl1, SHIM_TASK_SERVICE, "Bogus", NULL, NULL, NULL, CALL_MS,
					&code, &(struct error){}) < 0);
		CHECK_EQ(code, TTRPC_UNIMPLEMENTED);
	}

	/* Pause and resume. */
	CHECK_EQ(simple(cl1, "Pause", "sb1"), 0);
	CHECK_EQ(state(cl1, "sb1", NULL, &st, NULL), 0);
	CHECK_EQ(st, CONTAINERD__V1__TYPES__STATUS__PAUSED);
	CHECK_EQ(simple(cl1, "Pause", "sb1"), TTRPC_FAILED_PRECONDITION);
	CHECK_EQ(simple(cl1, "Resume", "sb1"), 0);
	CHECK_EQ(state(cl1, "sb1", NULL, &st, NULL), 0);
	CHECK_EQ(st, CONTAINERD__V1__TYPES__STATUS__RUNNING);

	/* Bad input. */
	CHECK_EQ(create(cl1, "bad id!", sb, NULL, &pid), TTRPC_INVALID_ARGUMENT);
	CHECK_EQ(create(cl1, "c3", "relative/bundle", NULL, &pid), TTRPC_INVALID_ARGUMENT);
	CHECK_EQ(kill_task(cl1, "nosuch", NULL, SIGKILL), TTRPC_NOT_FOUND);
	CHECK_EQ(delete_task(cl1, "sb1", NULL, &status), TTRPC_FAILED_PRECONDITION);

	/* Killed before start: containerd's WithProcessKill waits for the exit. */
	{
		char c2[512];

		make_bundle("c2", "[\"/bin/sleep\",\"30\"]", "", c2);
		CHECK_EQ(create(cl1, "c2", c2, NULL, &pid), 0);
		CHECK_EQ(kill_task(cl1, "c2", NULL, SIGKILL), 0);
		CHECK_EQ(wait_exit(cl1, "c2", NULL, &status), 0);
		CHECK_EQ(status, 137);
		CHECK_EQ(delete_task(cl1, "c2", NULL, &status), 0);
		CHECK_EQ(status, 137);
	}

	/* The sandbox goes last; then Shutdown ends the shim. */
	CHECK_EQ(kill_task(cl1, "sb1", NULL, SIGKILL), 0);
	CHECK_EQ(wait_exit(cl1, "sb1", NULL, &status), 0);
	CHECK_EQ(status, 137);
	CHECK_EQ(delete_task(cl1, "sb1", NULL, &status), 0);
	CHECK_EQ(status, 137);
	code = simple(cl1, "Shutdown", "sb1");
	CHECK(code == 0 || code == -1); /* the reply may race the close */
	ttrpc_client_free(cl1);
	CHECK_EQ(wait_pid_exit(shim_pid, 15000), 0);
	CHECK(access(addr + 7, F_OK) < 0 && errno == ENOENT);
	close(fd1);
	close(fd2);

	/* Every event arrived (the shim drains its queue before exiting), in
	 * containerd's order, with the namespace and a timestamp. */
	pthread_mutex_lock(&ev_lock);
	for (int i = 0; i < n_recs; i++) {
		CHECK(strcmp(recs[i].ns, NS) == 0);
		CHECK(recs[i].ts_set);
		CHECK(strncmp(recs[i].type_url, "containerd.events.Task", 22) == 0);
	}
	pthread_mutex_unlock(&ev_lock);
	CHECK(before(find_event("/tasks/create", "sb1", NULL), find_event("/tasks/start", "sb1", NULL)));
	CHECK(before(find_event("/tasks/start", "sb1", NULL), find_event("/tasks/exec-added", "sb1", NULL)));
	CHECK(before(find_event("/tasks/exec-added", "sb1", NULL),
		     find_event("/tasks/exec-started", "sb1", NULL)));
	CHECK(before(find_event("/tasks/exec-started", "sb1", NULL),
		     find_event("/tasks/exit", "sb1", "e1")));
	CHECK(before(find_event("/tasks/exit", "sb1", "e2"), find_event("/tasks/paused", "sb1", NULL)));
	CHECK(before(find_event("/tasks/paused", "sb1", NULL), find_event("/tasks/resumed", "sb1", NULL)));
	CHECK(before(find_event("/tasks/resumed", "sb1", NULL), find_event("/tasks/exit", "sb1", "sb1")));
	CHECK(before(find_event("/tasks/exit", "sb1", "sb1"), find_event("/tasks/delete", "sb1", NULL)));
	CHECK(before(find_event("/tasks/create", "c1", NULL), find_event("/tasks/start", "c1", NULL)));
	CHECK(before(find_event("/tasks/start", "c1", NULL), find_event("/tasks/exit", "c1", "c1")));
	CHECK(before(find_event("/tasks/exit", "c1", "c1"), find_event("/tasks/delete", "c1", NULL)));
	CHECK(before(find_event("/tasks/exit", "c2", "c2"), find_event("/tasks/delete", "c2", NULL)));
	{
		int i = find_event("/tasks/exit", "c1", "c1");

		CHECK(i >= 0 && recs[i].exit_status == 3);
		i = find_event("/tasks/exit", "sb1", "e1");
		CHECK(i >= 0 && recs[i].exit_status == 5);
	}

	/* `delete` after the shim is gone: a DeleteResponse on stdout only. */
	{
		Containerd__Task__V2__DeleteResponse *d;
		size_t len = 0;
		char mark[128] = "";

		code = run_shim(c1, "/bin/false", false, out, sizeof(out), &len, "-id", "c1",
				"-bundle", c1, "delete", NULL);
		CHECK_EQ(code, 0);
		d = containerd__task__v2__delete_response__unpack(NULL, len, (uint8_t *)out);
		CHECK(d != NULL);
		if (d) {
			CHECK_EQ(d->pid, 0);
			CHECK_EQ(d->exit_status, 137);
			CHECK(d->exited_at && labs(d->exited_at->seconds - time(NULL)) < 60);
			containerd__task__v2__delete_response__free_unpacked(d, NULL);
		}
		snprintf(path, sizeof(path), "%s/fake-cleanup", c1);
		f = fopen(path, "r");
		CHECK(f && fgets(mark, sizeof(mark), f));
		if (f)
			fclose(f);
		CHECK(strcmp(mark, "sb1 c1\n") == 0);
	}
	(void)fifo3;
	(void)addr2;
}

/* Without TTRPC_ADDRESS: events go through -publish-binary. */
static void test_publish_binary(void)
{
	char solo[512], out[1024], script[512], log[512], buf[4096] = "";
	struct ttrpc_client *cl;
	uint32_t pid, status, shim_pid;
	const char *saved = getenv("TTRPC_ADDRESS");
	char *saved_copy = saved ? strdup(saved) : NULL;
	size_t n;
	FILE *f;
	int code;

	snprintf(script, sizeof(script), "%s/publish.sh", tmp);
	snprintf(log, sizeof(log), "%s/published", tmp);
	f = fopen(script, "w");
	fprintf(f, "#!/bin/sh\necho \"$@\" >> %s\ncat > /dev/null\n", log);
	fclose(f);
	chmod(script, 0755);

	make_bundle("solo", "[\"/bin/true\"]", "", solo);
	unsetenv("TTRPC_ADDRESS");
	code = run_shim(solo, script, true, out, sizeof(out), NULL, "-id", "solo", "start", NULL);
	if (saved_copy)
		setenv("TTRPC_ADDRESS", saved_copy, 1);
	free(saved_copy);
	CHECK_EQ(code, 0);
	if (code)
		fprintf(stderr, "start: %s\n", out);
	cl = dial(out);
	if (!cl)
		return;
	shim_pid = connect_shim(cl, "solo", NULL);
	CHECK_EQ(create(cl, "solo", solo, NULL, &pid), 0);
	CHECK_EQ(start(cl, "solo", NULL, &pid), 0);
	CHECK_EQ(wait_exit(cl, "solo", NULL, &status), 0);
	CHECK_EQ(status, 0);
	CHECK_EQ(delete_task(cl, "solo", NULL, &status), 0);
	code = simple(cl, "Shutdown", "solo");
	CHECK(code == 0 || code == -1);
	ttrpc_client_free(cl);
	CHECK_EQ(wait_pid_exit(shim_pid, 15000), 0);
	f = fopen(log, "r");
	CHECK(f != NULL);
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
	}
	snprintf(out, sizeof(out), "--address %s publish --topic /tasks/create --namespace %s\n"
				   "--address %s publish --topic /tasks/start --namespace %s\n",
		 caddr, NS, caddr, NS);
	CHECK(strncmp(buf, out, strlen(out)) == 0);
	CHECK(strstr(buf, "--topic /tasks/exit") != NULL);
	CHECK(strstr(buf, "--topic /tasks/delete") != NULL);
}

int main(void)
{
	struct ttrpc_server *ev = NULL;
	char bdir[300];
	pthread_t th;

	signal(SIGPIPE, SIG_IGN);
	/* The shim daemonizes away from `start`; as subreaper we get it back
	 * and can check its exit status. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	CHECK(mkdtemp(tmp) != NULL);
	snprintf(caddr, sizeof(caddr), "%s/containerd.sock", tmp);
	snprintf(evaddr, sizeof(evaddr), "%s/containerd.sock.ttrpc", tmp);
	snprintf(sockdir, sizeof(sockdir), "%s/s", tmp);
	snprintf(bdir, sizeof(bdir), "%s/b", tmp);
	mkdir(bdir, 0700);
	setenv("NACELLE_SHIM_SOCKET_DIR", sockdir, 1);
	setenv("TTRPC_ADDRESS", evaddr, 1);

	CHECK(ttrpc_server_new(ev_methods, ARRAY_SIZE(ev_methods), NULL, NULL, &ev) == 0);
	CHECK(ttrpc_server_listen(ev, evaddr) == 0);
	pthread_create(&th, NULL, ev_main, ev);

	test_pod();
	test_publish_binary();

	ttrpc_server_stop(ev);
	pthread_join(th, NULL);
	ttrpc_server_free(ev);
	if (!failures) {
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		(void)!system(cmd);
	} else {
		fprintf(stderr, "left %s for inspection\n", tmp);
	}
	printf("%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
