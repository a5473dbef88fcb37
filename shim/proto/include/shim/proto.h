/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every protobuf-c message the shim speaks (generated from shim/proto/ at
 * build time). C names follow the protobuf packages:
 * Containerd__Task__V2__CreateTaskRequest, Containerd__Events__TaskExit,
 * Ttrpc__Request, Io__Containerd__Cgroups__V2__Metrics, ...
 * An Any's type_url is the descriptor's full name (descriptor.name), as
 * containerd's typeurl does for protobuf messages.
 */
#pragma once

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "ttrpc/request.pb-c.h"
#include "containerd/types/mount.pb-c.h"
#include "containerd/types/task/task.pb-c.h"
#include "containerd/runtime/v2/task/shim.pb-c.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/services/ttrpc/events/v1/events.pb-c.h"
#include "containerd/cgroups/v2/metrics.pb-c.h"
#include "containerd/runtimeoptions/v1/api.pb-c.h"
