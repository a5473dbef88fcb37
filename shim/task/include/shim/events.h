/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publishing task events to containerd, in order. Events are queued (never
 * blocking the caller, bounded) and sent one at a time by a publisher
 * thread:
 *  - to $TTRPC_ADDRESS (containerd 1.6 always sets it) with ttrpc
 *    containerd.services.events.ttrpc.v1.Events/Forward, Envelope{timestamp,
 *    namespace, topic, Any{type_url = full message name, protobuf}}; the
 *    connection is made on first use and remade after a failure;
 *  - or, when TTRPC_ADDRESS is unset (older containerd), by running
 *    `<publish-binary> --address <containerd address> publish --topic T
 *    --namespace NS` with the packed Any on stdin.
 * A failed event is retried (SHIM_EVENTS_MAX_ATTEMPTS, growing delay) before
 * the next one is sent, so the order containerd sees is the order of
 * shim_events_publish() calls; after that it is dropped with an error log.
 */
#pragma once

#include "common/error.h"
#include "common/macros.h"
#include "shim/proto.h"

#define SHIM_EVENTS_QUEUE_MAX 4096
#define SHIM_EVENTS_MAX_ATTEMPTS 5
#define SHIM_EVENTS_CALL_TIMEOUT_MS 5000 /* containerd's publisher uses 5 s */
#define SHIM_EVENTS_RETRY_DELAY_MS 200	 /* times the attempt number */
#define SHIM_EVENTS_DRAIN_TIMEOUT_MS 5000 /* at exit, as containerd's shim library */

struct shim_events;

struct shim_events_config {
	const char *ns;		       /* containerd namespace, e.g. "k8s.io" */
	const char *ttrpc_address;     /* $TTRPC_ADDRESS, or NULL */
	const char *publish_binary;    /* -publish-binary (fallback) */
	const char *containerd_address; /* -address (fallback) */
};

int shim_events_new(const struct shim_events_config *cfg, struct shim_events **ret,
		    struct error *err) _wur_;
/* Queues `event` (packed now; the caller keeps ownership) under `topic`
 * ("/tasks/exit"). Never blocks; drops and logs when the queue is full. */
void shim_events_publish(struct shim_events *e, const char *topic, const ProtobufCMessage *event);
/* Waits up to drain_ms for queued events to go out, stops, frees. NULL ok. */
void shim_events_free(struct shim_events *e, int drain_ms);
