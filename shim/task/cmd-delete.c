/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `delete`: containerd runs it (cwd = bundle, -id, -bundle) whenever its
 * connection for a task closes -- after every normal teardown in 1.6, not
 * only after a crash -- and at restart for bundles whose shim is gone. It
 * must clean only task -id, be idempotent, and leave a VM that still serves
 * other containers alone: that is the runtime's cleanup_after_crash. stdout
 * carries nothing but a protobuf DeleteResponse{pid 0, exit_status, now}:
 * 137 (killed, as runc reports) when the cleanup worked, 255 when it did not
 * (the failure goes to stderr, which containerd logs as cleanup warnings).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "common/log.h"
#include "shim/proto.h"

#define DELETE_EXIT_KILLED (128 + SIGKILL)
#define DELETE_EXIT_FAILED 255

int cmd_delete(const struct shim_flags *f, const struct shim_runtime_ops *ops)
{
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	_cleanup_free_ char *cwd = NULL, *group = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	const char *bundle = f->bundle;
	struct error err = {};
	struct timespec now;
	bool joins;
	size_t len;
	int r;

	log_set_level(f->debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
	if (!f->id) {
		fprintf(stderr, "delete: -id is required\n");
		return 1;
	}
	if (!bundle || !bundle[0]) {
		r = shim_getcwd(&cwd);
		if (r < 0) {
			fprintf(stderr, "delete: getcwd: %s\n", strerror(-r));
			return 1;
		}
		bundle = cwd;
	}
	resp.exit_status = DELETE_EXIT_KILLED;
	if (!ops) {
		log_warn("delete %s: built without the pod runtime; nothing cleaned", f->id);
		resp.exit_status = DELETE_EXIT_FAILED;
	} else {
		/* An unreadable config.json still leaves the task's own id. */
		r = shim_bundle_group(bundle, f->id, &group, &joins, &err);
		if (r < 0) {
			log_warn("delete %s: %s; cleaning up as its own pod", f->id, err.msg);
			error_clear(&err);
		}
		r = ops->cleanup_after_crash(group ? group : f->id, f->id, bundle, &err);
		if (r < 0) {
			log_warn("delete %s: cleanup failed: %s", f->id,
				 err.msg[0] ? err.msg : strerror(-r));
			resp.exit_status = DELETE_EXIT_FAILED;
		}
	}
	clock_gettime(CLOCK_REALTIME, &now);
	ts.seconds = now.tv_sec;
	ts.nanos = (int32_t)now.tv_nsec;
	resp.pid = 0;
	resp.exited_at = &ts;
	len = containerd__task__v2__delete_response__get_packed_size(&resp);
	buf = malloc(len);
	if (!buf)
		return 1;
	containerd__task__v2__delete_response__pack(&resp, buf);
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
		return 1;
	return 0;
}
