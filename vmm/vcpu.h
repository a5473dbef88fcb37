/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A vCPU thread is a state machine: CREATED -> RUNNING <-> PAUSED -> EXITED.
 * Requests (pause, resume, stop) arrive as a requested state under the lock,
 * followed by a kick (immediate_exit + a signal) so that KVM_RUN returns;
 * the thread acknowledges by publishing its new state and signalling the
 * condition variable.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/macros.h"

struct hv_vcpu;
struct vm;

enum vcpu_state {
	VCPU_STATE_CREATED,
	VCPU_STATE_RUNNING,
	VCPU_STATE_PAUSED,
	VCPU_STATE_EXITED,
};

const char *vcpu_state_to_string(enum vcpu_state s);

struct vcpu {
	struct vm *vm;
	struct hv_vcpu *hv;
	uint32_t index;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vcpu_state state;	   /* what the thread is doing */
	enum vcpu_state requested; /* what it was asked to do */
};

/* The signal used to kick vCPU threads out of KVM_RUN. */
int vcpu_install_kick_handler(void) _wur_;

void vcpu_init(struct vcpu *vcpu, struct vm *vm, struct hv_vcpu *hv, uint32_t index);
int vcpu_start(struct vcpu *vcpu) _wur_;
int vcpu_pause(struct vcpu *vcpu) _wur_;
int vcpu_resume(struct vcpu *vcpu) _wur_;
/* Ask the thread to exit and join it. Idempotent; safe if never started. */
void vcpu_stop(struct vcpu *vcpu);
void vcpu_fini(struct vcpu *vcpu);

/*
 * Implemented by vm.c: act on an exit the vCPU loop does not handle itself.
 * Returns true if the vCPU should keep running.
 */
enum hv_exit;
bool vm_vcpu_handle_exit(struct vm *vm, struct vcpu *vcpu, enum hv_exit exit);
