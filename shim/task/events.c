/* SPDX-License-Identifier: Apache-2.0 */
#include "shim/events.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ttrpc/client.h"

#define FORWARD_SERVICE "containerd.services.events.ttrpc.v1.Events"

extern char **environ;

struct event {
	char *topic;
	struct timespec when;
	char *type_url;
	uint8_t *value;
	size_t len;
	struct event *next;
};

struct shim_events {
	char *ns, *ttrpc_address, *publish_binary, *containerd_address;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* queue changed or stopping */
	struct event *head, *tail;
	size_t n_queued;
	bool stopping;		  /* free() called: drain then exit */
	struct timespec deadline; /* of the drain */
	struct ttrpc_client *client; /* publisher thread only */
};

static void event_free(struct event *ev)
{
	if (!ev)
		return;
	free(ev->topic);
	free(ev->type_url);
	free(ev->value);
	free(ev);
}

static int send_ttrpc(struct shim_events *e, const struct event *ev, struct error *err)
{
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
		CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	Containerd__Services__Events__Ttrpc__V1__Envelope env =
		CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	int r;

	ts.seconds = ev->when.tv_sec;
	ts.nanos = ev->when.tv_nsec;
	any.type_url = ev->type_url;
	any.value.data = ev->value;
	any.value.len = ev->len;
	env.timestamp = &ts;
	env.namespace_ = e->ns;
	env.topic = ev->topic;
	env.event = &any;
	req.envelope = &env;

	if (e->client && ttrpc_client_broken(e->client)) {
		ttrpc_client_free(e->client);
		e->client = NULL;
	}
	if (!e->client) {
		r = ttrpc_client_connect(e->ttrpc_address, &e->client, err);
		if (r < 0)
			return r;
		r = ttrpc_client_set_namespace(e->client, e->ns);
		if (r < 0)
			return error_set(err, r, "out of memory");
	}
	r = ttrpc_client_call(e->client, FORWARD_SERVICE, "Forward", &req.base, NULL, NULL,
			      SHIM_EVENTS_CALL_TIMEOUT_MS, NULL, err);
	if (r == -ETIMEDOUT || ttrpc_client_broken(e->client)) {
		/* A late answer would arrive on a stream nobody waits for;
		 * start afresh. */
		ttrpc_client_free(e->client);
		e->client = NULL;
	}
	return r;
}

static int send_binary(struct shim_events *e, const struct event *ev, struct error *err)
{
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	char *argv[] = { e->publish_binary, (char *)"--address", e->containerd_address,
			 (char *)"publish", (char *)"--topic", ev->topic, (char *)"--namespace",
			 e->ns, NULL };
	posix_spawn_file_actions_t fa;
	_cleanup_free_ uint8_t *buf = NULL;
	int pipefd[2], devnull, status, r;
	size_t len, off = 0;
	pid_t pid;

	any.type_url = ev->type_url;
	any.value.data = ev->value;
	any.value.len = ev->len;
	len = google__protobuf__any__get_packed_size(&any);
	buf = malloc(len ? len : 1);
	if (!buf)
		return error_set(err, -ENOMEM, "out of memory");
	google__protobuf__any__pack(&any, buf);

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return error_set(err, -errno, "pipe: %m");
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[0], 0);
	if (devnull >= 0)
		posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	r = posix_spawn(&pid, e->publish_binary, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[0]);
	if (devnull >= 0)
		close(devnull);
	if (r) {
		close(pipefd[1]);
		return error_set(err, -r, "cannot run %s: %s", e->publish_binary, strerror(r));
	}
	while (off < len) {
		ssize_t n = write(pipefd[1], buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	close(pipefd[1]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return error_set(err, -errno, "waitpid: %m");
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return error_set(err, -EIO, "%s publish %s failed (status %#x)", e->publish_binary,
				 ev->topic, status);
	return 0;
}

static bool past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static void *publisher_main(void *arg)
{
	struct shim_events *e = arg;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct event *ev;
		int attempt;

		while (!e->head && !e->stopping)
			pthread_cond_wait(&e->cond, &e->lock);
		if (!e->head || (e->stopping && past(&e->deadline)))
			break;
		ev = e->head; /* stays queued until sent: later events wait for it */
		pthread_mutex_unlock(&e->lock);

		for (attempt = 1;; attempt++) {
			struct error err = {};
			struct timespec delay;
			int r = e->ttrpc_address ? send_ttrpc(e, ev, &err) : send_binary(e, ev, &err);

			if (r >= 0) {
				log_debug("events: published %s", ev->topic);
				break;
			}
			if (attempt >= SHIM_EVENTS_MAX_ATTEMPTS) {
				log_error("events: dropping %s after %d attempts: %s", ev->topic,
					  attempt, err.msg);
				break;
			}
			log_debug("events: publishing %s (attempt %d): %s", ev->topic, attempt,
				  err.msg);
			pthread_mutex_lock(&e->lock);
			clock_gettime(CLOCK_REALTIME, &delay);
			delay.tv_nsec += (long)SHIM_EVENTS_RETRY_DELAY_MS * attempt * 1000000;
			delay.tv_sec += delay.tv_nsec / 1000000000;
			delay.tv_nsec %= 1000000000;
			if (e->stopping && past(&e->deadline)) {
				pthread_mutex_unlock(&e->lock);
				break;
			}
			/* Woken early only by free(); then the deadline rules. */
			pthread_cond_timedwait(&e->cond, &e->lock, &delay);
			pthread_mutex_unlock(&e->lock);
		}

		pthread_mutex_lock(&e->lock);
		e->head = ev->next;
		if (!e->head)
			e->tail = NULL;
		e->n_queued--;
		event_free(ev);
	}
	if (e->n_queued)
		log_error("events: %zu event(s) not published at exit", e->n_queued);
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int shim_events_new(const struct shim_events_config *cfg, struct shim_events **ret,
		    struct error *err)
{
	struct shim_events *e;
	int r;

	if (!cfg->ns || !cfg->ns[0])
		return error_set(err, -EINVAL, "events: no namespace");
	if ((!cfg->ttrpc_address || !cfg->ttrpc_address[0]) &&
	    (!cfg->publish_binary || !cfg->publish_binary[0] || !cfg->containerd_address ||
	     !cfg->containerd_address[0]))
		return error_set(err, -EINVAL,
				 "events: neither TTRPC_ADDRESS nor -publish-binary and -address");
	e = calloc(1, sizeof(*e));
	if (!e)
		return error_set(err, -ENOMEM, "out of memory");
	e->ns = strdup(cfg->ns);
	if (cfg->ttrpc_address && cfg->ttrpc_address[0])
		e->ttrpc_address = strdup(cfg->ttrpc_address);
	else {
		e->publish_binary = strdup(cfg->publish_binary);
		e->containerd_address = strdup(cfg->containerd_address);
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	if (!e->ns || (!e->ttrpc_address && (!e->publish_binary || !e->containerd_address))) {
		r = error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	r = pthread_create(&e->thread, NULL, publisher_main, e);
	if (r) {
		r = error_set(err, -r, "events: cannot start the publisher thread");
		goto fail;
	}
	log_debug("events: publishing to %s", e->ttrpc_address ? e->ttrpc_address : e->publish_binary);
	*ret = e;
	return 0;
fail:
	free(e->ns);
	free(e->ttrpc_address);
	free(e->publish_binary);
	free(e->containerd_address);
	free(e);
	return r;
}

void shim_events_publish(struct shim_events *e, const char *topic, const ProtobufCMessage *event)
{
	struct event *ev;

	if (!e)
		return;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		goto oom;
	clock_gettime(CLOCK_REALTIME, &ev->when);
	ev->topic = strdup(topic);
	ev->type_url = strdup(event->descriptor->name);
	ev->len = protobuf_c_message_get_packed_size(event);
	ev->value = malloc(ev->len ? ev->len : 1);
	if (!ev->topic || !ev->type_url || !ev->value)
		goto oom;
	protobuf_c_message_pack(event, ev->value);

	pthread_mutex_lock(&e->lock);
	if (e->n_queued >= SHIM_EVENTS_QUEUE_MAX || e->stopping) {
		pthread_mutex_unlock(&e->lock);
		log_error("events: queue full or closed, dropping %s", topic);
		event_free(ev);
		return;
	}
	if (e->tail)
		e->tail->next = ev;
	else
		e->head = ev;
	e->tail = ev;
	e->n_queued++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	return;
oom:
	log_error("events: out of memory, dropping %s", topic);
	event_free(ev);
}

void shim_events_free(struct shim_events *e, int drain_ms)
{
	struct event *ev;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	clock_gettime(CLOCK_REALTIME, &e->deadline);
	e->deadline.tv_sec += drain_ms / 1000;
	e->deadline.tv_nsec += (long)(drain_ms % 1000) * 1000000;
	e->deadline.tv_sec += e->deadline.tv_nsec / 1000000000;
	e->deadline.tv_nsec %= 1000000000;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	/* A call in flight ends within SHIM_EVENTS_CALL_TIMEOUT_MS. */
	pthread_join(e->thread, NULL);
	ttrpc_client_free(e->client);
	while ((ev = e->head)) {
		e->head = ev->next;
		event_free(ev);
	}
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e->ns);
	free(e->ttrpc_address);
	free(e->publish_binary);
	free(e->containerd_address);
	free(e);
}
