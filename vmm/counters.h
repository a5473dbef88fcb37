/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "common/macros.h"
#include "devices/virtio.h"
#include "vmm/api.h"

/* Counters of the given devices; *ret is malloc'd (names point into devices). */
int vmm_counters_collect(struct virtio_dev *const *devs, unsigned int n, struct vmm_counter **ret,
			 unsigned int *ret_n) _wur_;
