/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio device's worker thread: one epoll loop over the fds its device
 * registered (queue kicks, backend fds), stopped through an eventfd.
 *
 * Each registered fd has a heap record the epoll event points at. A record
 * deleted while the thread runs may still sit in the batch epoll_wait just
 * returned, so it is only marked dead and moved to `dead`; the worker frees
 * that list between batches (and stop() after the join). add/mod/del may be
 * called from any thread, including from a callback; after del returns, a
 * callback already dispatched on the worker may still be finishing.
 */
#include "devices/virtio.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"

#define WORKER_MAX_EVENTS 32
#define WORKER_THREAD_NAME_MAX 15 /* pthread_setname_np limit without the NUL */

struct virtio_worker_reg {
	int fd;
	uint32_t events;
	virtio_worker_fn fn;
	void *opaque;
	bool deleted;
	struct virtio_worker_reg *next;
};

static void free_list(struct virtio_worker_reg *r)
{
	while (r) {
		struct virtio_worker_reg *next = r->next;

		free(r);
		r = next;
	}
}

int virtio_worker_init(struct virtio_worker *w, const char *name)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int r;

	memset(w, 0, sizeof(*w));
	w->epfd = -1;
	w->stop_fd = -1;
	w->name = name ? name : "virtio-worker";
	r = -pthread_mutex_init(&w->lock, NULL);
	if (r < 0)
		return r;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		goto undo_init;
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0)
		goto undo_init;
	/* data.ptr NULL marks the stop eventfd */
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stop_fd, &ev) < 0)
		goto undo_init;
	return 0;

undo_init:
	r = -errno;
	virtio_worker_fini(w);
	return r;
}

int virtio_worker_add(struct virtio_worker *w, int fd, uint32_t events, virtio_worker_fn fn,
		      void *opaque)
{
	struct virtio_worker_reg *reg;
	struct epoll_event ev;
	int r = 0;

	if (fd < 0 || !fn)
		return -EINVAL;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	*reg = (struct virtio_worker_reg){ .fd = fd, .events = events ? events : EPOLLIN,
					   .fn = fn, .opaque = opaque };
	ev = (struct epoll_event){ .events = reg->events, .data.ptr = reg };

	pthread_mutex_lock(&w->lock);
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		free(reg);
	} else {
		reg->next = w->regs;
		w->regs = reg;
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

static struct virtio_worker_reg **find_locked(struct virtio_worker *w, int fd)
{
	for (struct virtio_worker_reg **p = &w->regs; *p; p = &(*p)->next)
		if ((*p)->fd == fd)
			return p;
	return NULL;
}

int virtio_worker_mod(struct virtio_worker *w, int fd, uint32_t events, virtio_worker_fn fn,
		      void *opaque)
{
	struct virtio_worker_reg **p, *reg;
	struct epoll_event ev;
	int r = 0;

	if (!fn)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	p = find_locked(w, fd);
	if (!p) {
		r = -ENOENT;
		goto unlock;
	}
	reg = *p;
	ev = (struct epoll_event){ .events = events ? events : EPOLLIN, .data.ptr = reg };
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
		r = -errno;
		goto unlock;
	}
	reg->events = ev.events;
	reg->fn = fn;
	reg->opaque = opaque;
unlock:
	pthread_mutex_unlock(&w->lock);
	return r;
}

int virtio_worker_del(struct virtio_worker *w, int fd)
{
	struct virtio_worker_reg **p, *reg;

	pthread_mutex_lock(&w->lock);
	p = find_locked(w, fd);
	if (!p) {
		pthread_mutex_unlock(&w->lock);
		return -ENOENT;
	}
	reg = *p;
	*p = reg->next;
	/* the fd may already be closed (epoll dropped it then): nothing to undo */
	(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
	reg->deleted = true;
	if (w->running) {
		reg->next = w->dead;
		w->dead = reg;
	} else {
		free(reg);
	}
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void dispatch(struct virtio_worker *w, struct virtio_worker_reg *reg, uint32_t events)
{
	virtio_worker_fn fn;
	void *opaque;

	pthread_mutex_lock(&w->lock);
	if (reg->deleted) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	fn = reg->fn;
	opaque = reg->opaque;
	pthread_mutex_unlock(&w->lock);
	fn(opaque, events);
}

static void *worker_main(void *arg)
{
	struct virtio_worker *w = arg;
	char tname[WORKER_THREAD_NAME_MAX + 1];
	bool stop = false;

	snprintf(tname, sizeof(tname), "%s", w->name);
	(void)pthread_setname_np(pthread_self(), tname);

	while (!stop) {
		struct epoll_event evs[WORKER_MAX_EVENTS];
		struct virtio_worker_reg *dead;
		int n = epoll_wait(w->epfd, evs, WORKER_MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_debug_errno(-errno, "virtio: worker %s: epoll_wait failed", w->name);
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				stop = true; /* finish this batch first */
			else
				dispatch(w, evs[i].data.ptr, evs[i].events);
		}
		pthread_mutex_lock(&w->lock);
		dead = w->dead;
		w->dead = NULL;
		pthread_mutex_unlock(&w->lock);
		free_list(dead);
	}
	return NULL;
}

int virtio_worker_start(struct virtio_worker *w)
{
	sigset_t all, old;
	int r;

	pthread_mutex_lock(&w->lock);
	if (w->running) {
		pthread_mutex_unlock(&w->lock);
		return -EALREADY;
	}
	virtio_eventfd_drain(w->stop_fd);
	/* the thread inherits a full mask: signals go to the main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		w->running = true;
	pthread_mutex_unlock(&w->lock);
	return r;
}

void virtio_worker_stop(struct virtio_worker *w)
{
	uint64_t one = 1;
	struct virtio_worker_reg *dead;

	pthread_mutex_lock(&w->lock);
	if (!w->running || pthread_equal(pthread_self(), w->thread)) {
		/* not running, or called from a callback: it cannot join itself */
		pthread_mutex_unlock(&w->lock);
		return;
	}
	pthread_mutex_unlock(&w->lock);

	if (write(w->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug_errno(-errno, "virtio: worker %s: cannot signal stop", w->name);
	pthread_join(w->thread, NULL);
	virtio_eventfd_drain(w->stop_fd);

	pthread_mutex_lock(&w->lock);
	w->running = false;
	dead = w->dead;
	w->dead = NULL;
	pthread_mutex_unlock(&w->lock);
	free_list(dead);
}

void virtio_worker_fini(struct virtio_worker *w)
{
	if (!w)
		return;
	virtio_worker_stop(w);
	free_list(w->regs);
	free_list(w->dead);
	w->regs = w->dead = NULL;
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	if (w->epfd >= 0)
		close(w->epfd);
	w->stop_fd = w->epfd = -1;
	pthread_mutex_destroy(&w->lock);
}

void virtio_eventfd_drain(int fd)
{
	uint64_t v;

	if (fd < 0)
		return;
	/* non-blocking eventfd: one read resets the counter, EAGAIN if zero */
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN && errno != EINTR)
		log_debug_errno(-errno, "virtio: eventfd drain failed");
}
