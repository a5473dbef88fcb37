/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OOM events: GetOOMEvent blocks until the kernel's OOM killer killed a
 * process of some container (its memory.events "oom_kill" grew).
 *
 * One watcher thread waits in epoll on the inotify fd of each container's
 * memory.events (container_cgroup_oom_watch_open) and queues the container's
 * id; at most AGENT_MAX_PENDING_OOM_EVENTS wait, older ones are dropped.
 * Each event is answered once. A container without the memory controller
 * has no memory.events: no events, as documented.
 */
#include "service-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"

/* epoll events handled per wake-up. */
#define OOM_EPOLL_BATCH 16
/* The stop eventfd's epoll key (watch keys start at 1). */
#define OOM_STOP_KEY 0

struct oom_watch {
	struct oom_watch *next;
	uint64_t key;
	char *id;
	struct container_oom_watch *w;
};

struct agent_oom {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int epfd;
	int stop_fd;
	bool stopping;
	bool thread_started;
	pthread_t thread;
	struct oom_watch *watches;
	uint64_t next_key;
	/* a ring of container ids */
	char *queue[AGENT_MAX_PENDING_OOM_EVENTS];
	size_t head, n;
};

static void queue_push_locked(struct agent_oom *o, const char *id)
{
	char *copy = strdup(id);

	if (!copy) {
		log_error("container %s: OOM event lost: out of memory", id);
		return;
	}
	if (o->n == AGENT_MAX_PENDING_OOM_EVENTS) {
		log_warn("OOM event queue full: dropping the event of container %s",
			 o->queue[o->head]);
		free(o->queue[o->head]);
		o->head = (o->head + 1) % AGENT_MAX_PENDING_OOM_EVENTS;
		o->n--;
	}
	o->queue[(o->head + o->n) % AGENT_MAX_PENDING_OOM_EVENTS] = copy;
	o->n++;
	pthread_cond_broadcast(&o->cond);
}

static void watch_free(struct oom_watch *w)
{
	container_oom_watch_free(w->w);
	free(w->id);
	free(w);
}

static void *oom_main(void *arg)
{
	struct agent_oom *o = arg;
	struct epoll_event ev[OOM_EPOLL_BATCH];

	for (;;) {
		int n = epoll_wait(o->epfd, ev, OOM_EPOLL_BATCH, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("OOM watcher: epoll_wait: %m; no more OOM events");
			return NULL;
		}
		pthread_mutex_lock(&o->lock);
		if (o->stopping) {
			pthread_mutex_unlock(&o->lock);
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct oom_watch **pp, *w;
			bool oom = false;
			int r;

			for (pp = &o->watches; *pp; pp = &(*pp)->next)
				if ((*pp)->key == ev[i].data.u64)
					break;
			w = *pp;
			if (!w)
				continue; /* unwatched meanwhile */
			r = container_oom_watch_check(w->w, &oom);
			if (oom) {
				log_warn("container %s: the OOM killer killed a process", w->id);
				queue_push_locked(o, w->id);
			}
			if (r == -ENOENT) {
				/* The cgroup went away. */
				(void)epoll_ctl(o->epfd, EPOLL_CTL_DEL, w->w->fd, NULL);
				*pp = w->next;
				watch_free(w);
			}
		}
		pthread_mutex_unlock(&o->lock);
	}
}

int agent_oom_new(struct agent_oom **ret, struct error *err)
{
	struct agent_oom *o = calloc(1, sizeof(*o));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = OOM_STOP_KEY };
	int r;

	if (!o)
		return error_set(err, -ENOMEM, "out of memory");
	o->epfd = o->stop_fd = -1;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	o->next_key = OOM_STOP_KEY + 1;
	o->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	o->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (o->stop_fd < 0 || o->epfd < 0 || epoll_ctl(o->epfd, EPOLL_CTL_ADD, o->stop_fd, &ev) < 0) {
		r = error_set(err, -errno, "OOM watcher: %m");
		goto fail;
	}
	r = -pthread_create(&o->thread, NULL, oom_main, o);
	if (r < 0) {
		error_set(err, r, "OOM watcher thread: %s", strerror(-r));
		goto fail;
	}
	o->thread_started = true;
	*ret = o;
	return 0;
fail:
	agent_oom_free(o);
	return r;
}

void agent_oom_stop(struct agent_oom *o)
{
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	if (o->stop_fd >= 0 && eventfd_write(o->stop_fd, 1) < 0)
		log_warn("OOM watcher: cannot stop it: %m");
}

void agent_oom_free(struct agent_oom *o)
{
	if (!o)
		return;
	if (o->thread_started) {
		agent_oom_stop(o);
		pthread_join(o->thread, NULL);
	}
	while (o->watches) {
		struct oom_watch *w = o->watches;

		o->watches = w->next;
		watch_free(w);
	}
	for (size_t i = 0; i < o->n; i++)
		free(o->queue[(o->head + i) % AGENT_MAX_PENDING_OOM_EVENTS]);
	if (o->epfd >= 0)
		close(o->epfd);
	if (o->stop_fd >= 0)
		close(o->stop_fd);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

void agent_oom_watch(struct agent_oom *o, const char *id, const char *cgroup_path)
{
	struct oom_watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = EPOLLIN };
	struct error e = { 0 };

	if (!w || !(w->id = strdup(id))) {
		free(w);
		log_error("container %s: no OOM events: out of memory", id);
		return;
	}
	if (container_cgroup_oom_watch_open(cgroup_path, &w->w, &e) < 0) {
		/* No memory controller in this cgroup: no OOM kills to report. */
		log_debug("container %s: no OOM events: %s", id, e.msg);
		free(w->id);
		free(w);
		return;
	}
	pthread_mutex_lock(&o->lock);
	w->key = o->next_key++;
	ev.data.u64 = w->key;
	if (epoll_ctl(o->epfd, EPOLL_CTL_ADD, w->w->fd, &ev) < 0) {
		log_error("container %s: no OOM events: epoll: %m", id);
		pthread_mutex_unlock(&o->lock);
		watch_free(w);
		return;
	}
	w->next = o->watches;
	o->watches = w;
	pthread_mutex_unlock(&o->lock);
}

void agent_oom_unwatch(struct agent_oom *o, const char *id)
{
	pthread_mutex_lock(&o->lock);
	for (struct oom_watch **pp = &o->watches; *pp; pp = &(*pp)->next) {
		struct oom_watch *w = *pp;
		bool oom = false;

		if (strcmp(w->id, id))
			continue;
		/* A last look: the kill that ended the container counts. */
		if (container_oom_watch_check(w->w, &oom) < 0)
			oom = false;
		if (oom)
			queue_push_locked(o, w->id);
		(void)epoll_ctl(o->epfd, EPOLL_CTL_DEL, w->w->fd, NULL);
		*pp = w->next;
		watch_free(w);
		break;
	}
	pthread_mutex_unlock(&o->lock);
}

static void oom_wake(void *arg)
{
	struct agent_oom *o = arg;

	pthread_mutex_lock(&o->lock);
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

AGENT_HANDLER(agent_h_get_oom_event)
{
	struct agent *a = userdata;
	struct agent_oom *o = a->oom;
	Nacelle__Agent__V1__GetOOMEventResponse *resp;
	char *id = NULL;

	resp = (void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__get_oomevent_response__descriptor);
	if (!resp)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	agent_rpc_ctx_on_cancel(ctx, oom_wake, o);
	pthread_mutex_lock(&o->lock);
	while (o->n == 0 && !o->stopping && !agent_rpc_ctx_cancelled(ctx))
		pthread_cond_wait(&o->cond, &o->lock);
	if (o->n > 0 && !agent_rpc_ctx_cancelled(ctx)) {
		id = o->queue[o->head];
		o->queue[o->head] = NULL;
		o->head = (o->head + 1) % AGENT_MAX_PENDING_OOM_EVENTS;
		o->n--;
	}
	pthread_mutex_unlock(&o->lock);
	if (!id)
		return agent_rpc_status_set(st, GRPC_STATUS_CANCELLED, "cancelled");
	resp->container_id = agent_rpc_ctx_strdup(ctx, id);
	free(id);
	if (!resp->container_id)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}
