/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The containerd side of the shim: the containerd.task.v2.Task ttrpc
 * service on top of a pod runtime (include/shim/runtime.h), and the
 * containerd-shim-nacelle-v2 binary's entry point.
 *
 * The service keeps containerd's view of every task and exec: a state
 * machine per process (created -> running <-> paused -> stopped, with the
 * exit status and time), makes Wait block until the runtime reports the
 * exit, and publishes the task events in containerd's required order
 * (/tasks/create, /tasks/start, /tasks/exec-added, /tasks/exec-started,
 * /tasks/exit, /tasks/delete, /tasks/paused, /tasks/resumed, /tasks/oom).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/macros.h"
#include "shim/events.h"
#include "shim/runtime.h"
#include "ttrpc/server.h"

#define SHIM_TASK_SERVICE "containerd.task.v2.Task"
#define SHIM_ID_LENGTH_MAX 76 /* containerd's identifiers.Validate */

struct shim_task_service;

/* Opens the runtime for the pod `sandbox_id` (ops->open) and serves its
 * tasks; events may be NULL (nothing published). */
int shim_task_service_new(const struct shim_runtime_ops *ops, const char *sandbox_id,
			  const char *ns, struct shim_events *events,
			  struct shim_task_service **ret, struct error *err) _wur_;
/* The method table for ttrpc_server_new (userdata = the service). */
const struct ttrpc_method *shim_task_methods(size_t *ret_n);
/* Makes blocked Waits return (UNAVAILABLE) so the server can drain. */
void shim_task_service_cancel_waits(struct shim_task_service *s);
/* Closes the runtime (ops->close) and frees. Accepts NULL. */
void shim_task_service_free(struct shim_task_service *s);
/* Tasks still tracked. */
size_t shim_task_service_tasks(struct shim_task_service *s);

/* containerd's identifier rules (identifiers.Validate): 1..76 characters,
 * [A-Za-z0-9]+ groups joined by single '.', '_' or '-'. -EINVAL with
 * containerd's message otherwise. */
int shim_id_validate(const char *id, struct error *err) _wur_;

/* The binary: flags as containerd 1.6 passes them, then start / delete /
 * serve (no action). */
int shim_main(int argc, char **argv, const struct shim_runtime_ops *ops);
