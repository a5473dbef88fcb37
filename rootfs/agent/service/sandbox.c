/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox as a whole: Health, Version, SetupSandbox, Shutdown.
 */
#include "service-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grpc/grpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/init.h"
#include "common/log.h"

#define RESOLV_CONF "/etc/resolv.conf"
/* mount(2) data is one page. */
#define MOUNT_DATA_MAX 4096

AGENT_HANDLER(agent_h_health)
{
	struct agent *a = userdata;
	Nacelle__Agent__V1__HealthResponse *resp;

	resp = (void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__health_response__descriptor);
	if (!resp)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	resp->status =
		atomic_load(&a->shutdown) ?
			NACELLE__AGENT__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_NOT_SERVING :
			NACELLE__AGENT__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING;
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

AGENT_HANDLER(agent_h_version)
{
	Nacelle__Agent__V1__VersionResponse *resp;
	struct utsname u;

	resp = (void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__version_response__descriptor);
	if (!resp)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	resp->agent_version = (char *)NACELLE_VERSION;
	resp->api_version = AGENT_API_VERSION;
	resp->kernel_release = agent_rpc_ctx_strdup(ctx, uname(&u) == 0 ? u.release : "");
	resp->grpc_version = (char *)grpc_version_string();
	if (!resp->kernel_release)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

/* ---- SetupSandbox ---- */

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[AGENT_MAX_PATH + 1];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

static int write_resolv_conf(char *const *lines, size_t n, struct error *err)
{
	const char *tmp = RESOLV_CONF ".nacelle-tmp";
	FILE *f;
	int r;

	if ((r = mkdir_p("/etc", 0755)) < 0)
		return error_set(err, r, "/etc: %s", strerror(-r));
	f = fopen(tmp, "we");
	if (!f)
		return error_set(err, -errno, "%s: %m", tmp);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	if (fflush(f) != 0 || ferror(f)) {
		r = -errno;
		fclose(f);
		(void)unlink(tmp);
		return error_set(err, r ? r : -EIO, "%s: write failed", tmp);
	}
	fclose(f);
	if (chmod(tmp, 0644) < 0 || rename(tmp, RESOLV_CONF) < 0) {
		r = -errno;
		(void)unlink(tmp);
		return error_set(err, r, "%s: %s", RESOLV_CONF, strerror(-r));
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "ro", MS_RDONLY, 0 },		  { "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },	  { "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 },	  { "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 },	  { "exec", 0, MS_NOEXEC },
	{ "sync", MS_SYNCHRONOUS, 0 },	  { "async", 0, MS_SYNCHRONOUS },
	{ "dirsync", MS_DIRSYNC, 0 },	  { "noatime", MS_NOATIME, 0 },
	{ "atime", 0, MS_NOATIME },	  { "nodiratime", MS_NODIRATIME, 0 },
	{ "diratime", 0, MS_NODIRATIME }, { "relatime", MS_RELATIME, 0 },
	{ "norelatime", 0, MS_RELATIME }, { "strictatime", MS_STRICTATIME, 0 },
	{ "lazytime", MS_LAZYTIME, 0 },	  { "defaults", 0, 0 },
};

static int mount_share(const Nacelle__Agent__V1__SharedMount *m, struct error *err)
{
	char data[MOUNT_DATA_MAX] = "";
	unsigned long flags = 0;
	size_t dl = 0;
	int r;

	for (size_t i = 0; i < m->n_options; i++) {
		const char *o = m->options[i];
		bool known = false;

		for (size_t j = 0; j < ARRAY_SIZE(mount_flags); j++)
			if (!strcmp(o, mount_flags[j].name)) {
				flags = (flags | mount_flags[j].set) & ~mount_flags[j].clear;
				known = true;
				break;
			}
		if (known)
			continue;
		/* Anything else ("dax", "dax=always") goes to virtiofs as data. */
		r = snprintf(data + dl, sizeof(data) - dl, "%s%s", dl ? "," : "", o);
		if (r < 0 || (size_t)r >= sizeof(data) - dl)
			return error_set(err, -EINVAL, "shared mount %s: options too long", m->tag);
		dl += (size_t)r;
	}
	if ((r = mkdir_p(m->mount_point, 0755)) < 0)
		return error_set(err, r, "shared mount %s: %s: %s", m->tag, m->mount_point,
				 strerror(-r));
	if (mount(m->tag, m->mount_point, "virtiofs", flags, dl ? data : NULL) < 0)
		return error_set(err, -errno, "shared mount %s on %s: %m", m->tag, m->mount_point);
	log_info("mounted virtio-fs %s on %s%s%s", m->tag, m->mount_point, dl ? " with " : "",
		 data);
	return 0;
}

static int setup_sandbox(const Nacelle__Agent__V1__SetupSandboxRequest *r, struct error *err)
{
	int rr;

	if (r->hostname && *r->hostname && sethostname(r->hostname, strlen(r->hostname)) < 0)
		return error_set(err, -errno, "sethostname %s: %m", r->hostname);
	if (r->n_dns && (rr = write_resolv_conf(r->dns, r->n_dns, err)) < 0)
		return rr;
	if (r->time) {
		rr = agent_init_clock_seed(r->time->seconds);
		if (rr < 0)
			log_warn("setting the clock to %lld: %s", (long long)r->time->seconds,
				 strerror(-rr));
		else if (rr > 0)
			log_info("clock set to %lld from the host", (long long)r->time->seconds);
	}
	for (size_t i = 0; i < r->n_shared_mounts; i++)
		if ((rr = mount_share(r->shared_mounts[i], err)) < 0)
			return rr;
	return 0;
}

AGENT_HANDLER(agent_h_setup_sandbox)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__SetupSandboxRequest *r = (const void *)req;
	struct error e = { 0 };
	grpc_status_code code;

	pthread_mutex_lock(&a->lock);
	if (a->sandbox_ready) {
		pthread_mutex_unlock(&a->lock);
		return agent_rpc_status_set(st, GRPC_STATUS_FAILED_PRECONDITION,
					    "the sandbox is already set up");
	}
	a->sandbox_ready = true;
	pthread_mutex_unlock(&a->lock);

	if (!a->cfg.pid1) {
		/* Tests and developers' hosts: never change the host. */
		log_info("sandbox %s: not PID 1, leaving hostname, resolv.conf, clock and mounts "
			 "alone (%zu dns lines, %zu shared mounts ignored)",
			 r->sandbox_id, r->n_dns, r->n_shared_mounts);
	} else if (setup_sandbox(r, &e) < 0) {
		pthread_mutex_lock(&a->lock);
		a->sandbox_ready = false; /* may be tried again */
		pthread_mutex_unlock(&a->lock);
		code = agent_status_error(st, &e);
		log_error("sandbox %s: setup failed: %s", r->sandbox_id, e.msg);
		return code;
	} else {
		log_info("sandbox %s: set up (hostname %s, %zu dns lines, %zu shared mounts)",
			 r->sandbox_id, *r->hostname ? r->hostname : "unchanged", r->n_dns,
			 r->n_shared_mounts);
	}
	return agent_respond(ctx, &nacelle__agent__v1__setup_sandbox_response__descriptor,
			     ret_resp, st);
}

/* ---- Shutdown ---- */

/* On gRPC's thread once the answer went out: the main loop does the rest. */
static void shutdown_sent(void *arg, bool delivered)
{
	struct agent *a = arg;

	log_info("shutdown requested by the host (answer %s)",
		 delivered ? "sent" : "could not be sent");
	atomic_store(&a->shutdown, true);
	agent_kick(a);
}

AGENT_HANDLER(agent_h_shutdown)
{
	grpc_status_code code = agent_respond(
		ctx, &nacelle__agent__v1__shutdown_response__descriptor, ret_resp, st);

	if (code == GRPC_STATUS_OK)
		agent_rpc_ctx_on_sent(ctx, shutdown_sent, userdata);
	return code;
}
