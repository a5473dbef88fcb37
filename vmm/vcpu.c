/* SPDX-License-Identifier: Apache-2.0 */
#include "vcpu.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "hv/hv.h"

/* A real-time signal nobody else uses; its handler does nothing: its only
 * purpose is to make a blocking KVM_RUN return with EINTR. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)

static const char *const vcpu_state_names[] = {
	[VCPU_STATE_CREATED] = "created",
	[VCPU_STATE_RUNNING] = "running",
	[VCPU_STATE_PAUSED] = "paused",
	[VCPU_STATE_EXITED] = "exited",
};

const char *vcpu_state_to_string(enum vcpu_state s)
{
	return (unsigned int)s < ARRAY_SIZE(vcpu_state_names) ? vcpu_state_names[s] : "?";
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

void vcpu_init(struct vcpu *vcpu, struct vm *vm, struct hv_vcpu *hv, uint32_t index)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->hv = hv;
	vcpu->index = index;
	pthread_mutex_init(&vcpu->lock, NULL);
	pthread_cond_init(&vcpu->cond, NULL);
	vcpu->state = VCPU_STATE_CREATED;
	vcpu->requested = VCPU_STATE_RUNNING;
}

/* Called with the lock held. */
static void vcpu_set_state(struct vcpu *vcpu, enum vcpu_state state)
{
	if (vcpu->state == state)
		return;
	log_debug("vcpu%u: %s -> %s", vcpu->index, vcpu_state_to_string(vcpu->state),
		  vcpu_state_to_string(state));
	vcpu->state = state;
	pthread_cond_broadcast(&vcpu->cond);
}

/*
 * Wait (lock held) while paused; returns false when the thread must exit.
 * immediate_exit is cleared before looking at the request so that a kick
 * arriving after this check still ends the next KVM_RUN.
 */
static bool vcpu_wait_runnable(struct vcpu *vcpu)
{
	hv_vcpu_set_immediate_exit(vcpu->hv, false);
	pthread_mutex_lock(&vcpu->lock);
	while (vcpu->requested == VCPU_STATE_PAUSED) {
		vcpu_set_state(vcpu, VCPU_STATE_PAUSED);
		pthread_cond_wait(&vcpu->cond, &vcpu->lock);
	}
	if (vcpu->requested == VCPU_STATE_EXITED) {
		pthread_mutex_unlock(&vcpu->lock);
		return false;
	}
	vcpu_set_state(vcpu, VCPU_STATE_RUNNING);
	pthread_mutex_unlock(&vcpu->lock);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	sigset_t set;

	/* The kick signal must reach this thread; everything else is the
	 * event loop's (blocked in the parent before threads are made). */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (vcpu_wait_runnable(vcpu)) {
		enum hv_exit exit = HV_EXIT_UNKNOWN;
		int r = hv_vcpu_run(vcpu->hv, &exit);

		if (r < 0) {
			log_error_errno(r, "vcpu%u: run failed", vcpu->index);
			(void)vm_vcpu_handle_exit(vcpu->vm, vcpu, HV_EXIT_UNKNOWN);
			break;
		}
		if (exit == HV_EXIT_IO || exit == HV_EXIT_INTERRUPTED)
			continue;
		if (!vm_vcpu_handle_exit(vcpu->vm, vcpu, exit))
			break;
	}

	pthread_mutex_lock(&vcpu->lock);
	vcpu_set_state(vcpu, VCPU_STATE_EXITED);
	pthread_mutex_unlock(&vcpu->lock);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	char name[16];
	int r;

	r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (r)
		return -r;
	vcpu->thread_started = true;
	snprintf(name, sizeof(name), "vcpu%u", vcpu->index);
	(void)pthread_setname_np(vcpu->thread, name);
	return 0;
}

static void vcpu_kick(struct vcpu *vcpu)
{
	hv_vcpu_set_immediate_exit(vcpu->hv, true);
	if (vcpu->thread_started)
		(void)pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

/* Request `want` and wait until the thread reports `want` (or exited). */
static int vcpu_request(struct vcpu *vcpu, enum vcpu_state want)
{
	if (!vcpu->thread_started)
		return -ESRCH;
	pthread_mutex_lock(&vcpu->lock);
	if (vcpu->state == VCPU_STATE_EXITED) {
		pthread_mutex_unlock(&vcpu->lock);
		return -ESRCH;
	}
	vcpu->requested = want;
	pthread_cond_broadcast(&vcpu->cond);
	if (want != VCPU_STATE_RUNNING)
		vcpu_kick(vcpu);
	while (vcpu->state != want && vcpu->state != VCPU_STATE_EXITED)
		pthread_cond_wait(&vcpu->cond, &vcpu->lock);
	pthread_mutex_unlock(&vcpu->lock);
	return vcpu->state == want ? 0 : -ESRCH;
}

int vcpu_pause(struct vcpu *vcpu)
{
	return vcpu_request(vcpu, VCPU_STATE_PAUSED);
}

int vcpu_resume(struct vcpu *vcpu)
{
	return vcpu_request(vcpu, VCPU_STATE_RUNNING);
}

void vcpu_stop(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	pthread_mutex_lock(&vcpu->lock);
	vcpu->requested = VCPU_STATE_EXITED;
	pthread_cond_broadcast(&vcpu->cond);
	vcpu_kick(vcpu);
	pthread_mutex_unlock(&vcpu->lock);
	pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}

void vcpu_fini(struct vcpu *vcpu)
{
	vcpu_stop(vcpu);
	hv_vcpu_destroy(vcpu->hv);
	vcpu->hv = NULL;
	pthread_cond_destroy(&vcpu->cond);
	pthread_mutex_destroy(&vcpu->lock);
}
