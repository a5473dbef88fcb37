/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Turning containerd's spec into the guest's: root path, bind mounts
 * turned into shares (files, directories, relative sources; sockets
 * dropped), /dev/shm for the sandbox and for its containers, namespace
 * paths (the pod's kept, host ones and the network namespace dropped),
 * hooks, device rules, labels and the cgroup path; everything else
 * untouched. Also annotations, root.path and LinuxResources for updates.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/test.h"
#include "json-util.h"
#include "spec.h"
#include "util.h"

static char dir[] = "/tmp/nacelle-spec-test.XXXXXX";

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
		close(fd);
	}
}

static void make_bundle(const char *extra_mount)
{
	char path[512], sock_path[512], *json;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	snprintf(path, sizeof(path), "%s/hosts", dir);
	write_text(path, "127.0.0.1 localhost\n");
	snprintf(path, sizeof(path), "%s/vol", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bundle", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bundle/relvol", dir);
	mkdir(path, 0755);
	snprintf(sock_path, sizeof(sock_path), "%s/docker.sock", dir);
	unlink(sock_path);
	strcpy(sa.sun_path, sock_path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);

	json = strprintf(
		"{\"ociVersion\": \"1.0.2-dev\",\n"
		" \"process\": {\"terminal\": false, \"user\": {\"uid\": 0, \"gid\": 0},\n"
		"   \"args\": [\"/pause\"], \"cwd\": \"/\", \"apparmorProfile\": \"cri-containerd.apparmor.d\",\n"
		"   \"selinuxLabel\": \"x\", \"oomScoreAdj\": -998},\n"
		" \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
		" \"hostname\": \"pod\",\n"
		" \"mounts\": [\n"
		"  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\", \"options\": [\"nosuid\", \"noexec\"]},\n"
		"  {\"destination\": \"/dev/shm\", \"type\": \"bind\", \"source\": \"/run/containerd/sandboxes/sb/shm\", \"options\": [\"rbind\", \"ro\"]},\n"
		"  {\"destination\": \"/etc/hosts\", \"type\": \"bind\", \"source\": \"%s/hosts\", \"options\": [\"rbind\", \"rprivate\", \"rw\"]},\n"
		"  {\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"%s/vol\", \"options\": [\"bind\", \"ro\"]},\n"
		"  {\"destination\": \"/var/run/docker.sock\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"rbind\"]},\n"
		"  {\"destination\": \"/rel\", \"type\": \"none\", \"source\": \"relvol\", \"options\": [\"rbind\"]}%s\n"
		" ],\n"
		" \"hooks\": {\"prestart\": [{\"path\": \"/usr/bin/hook\"}]},\n"
		" \"annotations\": {\"io.kubernetes.cri.container-type\": \"container\",\n"
		"   \"io.kubernetes.cri.sandbox-id\": \"sb\", \"io.nacelle.vcpus\": \"2\"},\n"
		" \"linux\": {\n"
		"  \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}],\n"
		"    \"memory\": {\"limit\": 9223372036854775807}, \"cpu\": {\"shares\": 2, \"quota\": 50000}},\n"
		"  \"cgroupsPath\": \"kubepods-besteffort-pod1.slice:cri-containerd:abc\",\n"
		"  \"namespaces\": [{\"type\": \"pid\", \"path\": \"/proc/42/ns/pid\"}, {\"type\": \"ipc\", \"path\": \"/proc/42/ns/ipc\"},\n"
		"    {\"type\": \"uts\", \"path\": \"/proc/42/ns/uts\"}, {\"type\": \"mount\"},\n"
		"    {\"type\": \"network\", \"path\": \"/var/run/netns/cni-1\"}, {\"type\": \"cgroup\", \"path\": \"/proc/99/ns/cgroup\"},\n"
		"    {\"type\": \"user\", \"path\": \"/proc/42/ns/user/../..\"}],\n"
		"  \"mountLabel\": \"x\", \"intelRdt\": {\"closID\": \"a\"},\n"
		"  \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]},\n"
		"  \"devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229}],\n"
		"  \"maskedPaths\": [\"/proc/kcore\"], \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"}\n"
		" }\n"
		"}\n",
		dir, dir, sock_path, extra_mount ? extra_mount : "");
	snprintf(path, sizeof(path), "%s/bundle/config.json", dir);
	write_text(path, json);
	free(json);
}

static yajl_val mount_at(yajl_val spec, const char *dest)
{
	yajl_val m = sjson_get(spec, "mounts");

	for (size_t i = 0; YAJL_IS_ARRAY(m) && i < m->u.array.len; i++) {
		const char *d = sjson_get_string(m->u.array.values[i], "destination");

		if (d && strcmp(d, dest) == 0)
			return m->u.array.values[i];
	}
	return NULL;
}

static yajl_val ns_of(yajl_val spec, const char *type)
{
	yajl_val ns = sjson_get(sjson_get(spec, "linux"), "namespaces");

	for (size_t i = 0; YAJL_IS_ARRAY(ns) && i < ns->u.array.len; i++) {
		const char *t = sjson_get_string(ns->u.array.values[i], "type");

		if (t && strcmp(t, type) == 0)
			return ns->u.array.values[i];
	}
	return NULL;
}

static const char *opt(yajl_val m, size_t i)
{
	yajl_val o = sjson_get(m, "options");

	return YAJL_IS_ARRAY(o) && i < o->u.array.len ? YAJL_GET_STRING(o->u.array.values[i])
						       : NULL;
}

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static void test_app_container(void)
{
	char bundle[512], expect[600];
	uint32_t pids[] = { 42, 7 };
	struct spec_guest g = { .container_id = "c1", .guest_shared = "/run/nacelle/shared",
				.ns_pids = pids, .n_ns_pids = 2, .sandbox_pid = 42 };
	struct spec_result res = { 0 };
	struct error err = { 0 };
	yajl_val spec = NULL, out = NULL, m;
	const char **keys, **values;
	size_t n;
	char *root = NULL;

	make_bundle(NULL);
	snprintf(bundle, sizeof(bundle), "%s/bundle", dir);
	g.bundle = bundle;
	CHECK_EQ(spec_load(bundle, &spec, &err), 0);
	if (!spec)
		return;
	CHECK(streq(spec_annotation(spec, "io.kubernetes.cri.container-type"), "container"));
	CHECK(spec_annotation(spec, "nope") == NULL);
	CHECK_EQ(spec_annotations(spec, &keys, &values, &n), 0);
	CHECK_EQ(n, 3);
	CHECK(streq(keys[2], "io.nacelle.vcpus") && streq(values[2], "2"));
	free(keys);
	free(values);
	CHECK_EQ(spec_host_root(spec, bundle, &root, &err), 0);
	snprintf(expect, sizeof(expect), "%s/rootfs", bundle);
	CHECK(streq(root, expect));
	free(root);

	CHECK_EQ(spec_for_guest(spec, &g, &res, &err), 0);
	if (err.code)
		fprintf(stderr, "spec_for_guest: %s\n", err.msg);
	CHECK(streq(res.rootfs, "/run/nacelle/shared/c1/rootfs"));
	CHECK_EQ(sjson_parse(res.json, res.json_len, SPEC_MAX_BYTES, "out", &out, &err), 0);
	if (!out)
		goto done;

	CHECK(streq(sjson_get_string(sjson_get(out, "root"), "path"),
		    "/run/nacelle/shared/c1/rootfs"));
	CHECK(YAJL_IS_TRUE(sjson_get(sjson_get(out, "root"), "readonly")));
	CHECK(sjson_get(out, "hooks") == NULL);
	CHECK(sjson_get(sjson_get(out, "process"), "apparmorProfile") == NULL);
	CHECK(sjson_get(sjson_get(out, "process"), "selinuxLabel") == NULL);
	CHECK(streq(sjson_get_string(out, "hostname"), "pod"));
	/* Numbers pass through as written. */
	CHECK(strstr(res.json, "\"oomScoreAdj\":-998") != NULL);
	CHECK(strstr(res.json, "9223372036854775807") != NULL);

	/* Mounts. */
	m = mount_at(out, "/proc");
	CHECK(m && streq(sjson_get_string(m, "source"), "proc") && streq(opt(m, 1), "noexec"));
	m = mount_at(out, "/dev/shm");
	CHECK(m && streq(sjson_get_string(m, "type"), "bind"));
	CHECK(m && streq(sjson_get_string(m, "source"), "/proc/42/root/dev/shm"));
	CHECK(m && streq(opt(m, 0), "rbind"));
	m = mount_at(out, "/etc/hosts");
	CHECK(m && streq(sjson_get_string(m, "source"), "/run/nacelle/shared/c1/mounts/0"));
	CHECK(m && streq(opt(m, 1), "rprivate"));
	m = mount_at(out, "/data");
	CHECK(m && streq(sjson_get_string(m, "source"), "/run/nacelle/shared/c1/mounts/1"));
	CHECK(mount_at(out, "/var/run/docker.sock") == NULL);
	m = mount_at(out, "/rel");
	CHECK(m && streq(sjson_get_string(m, "source"), "/run/nacelle/shared/c1/mounts/2"));
	CHECK_EQ(res.n_shares, 3);
	if (res.n_shares == 3) {
		snprintf(expect, sizeof(expect), "%s/hosts", dir);
		CHECK(streq(res.shares[0].source, expect));
		CHECK(streq(res.shares[0].rel, "c1/mounts/0"));
		CHECK(res.shares[0].recursive && !res.shares[0].readonly);
		snprintf(expect, sizeof(expect), "%s/vol", dir);
		CHECK(streq(res.shares[1].source, expect));
		CHECK(!res.shares[1].recursive && res.shares[1].readonly);
		snprintf(expect, sizeof(expect), "%s/relvol", bundle);
		CHECK(streq(res.shares[2].source, expect));
		CHECK(streq(res.shares[2].rel, "c1/mounts/2"));
	}

	/* Namespaces. */
	CHECK(ns_of(out, "network") == NULL);
	CHECK(streq(sjson_get_string(ns_of(out, "pid"), "path"), "/proc/42/ns/pid"));
	CHECK(streq(sjson_get_string(ns_of(out, "ipc"), "path"), "/proc/42/ns/ipc"));
	CHECK(streq(sjson_get_string(ns_of(out, "uts"), "path"), "/proc/42/ns/uts"));
	CHECK(ns_of(out, "mount") && !sjson_get(ns_of(out, "mount"), "path"));
	CHECK(ns_of(out, "cgroup") && !sjson_get(ns_of(out, "cgroup"), "path"));
	CHECK(ns_of(out, "user") && !sjson_get(ns_of(out, "user"), "path"));

	/* linux: device rules, labels and RDT gone; the rest kept. */
	{
		yajl_val l = sjson_get(out, "linux");
		yajl_val res_obj = sjson_get(l, "resources");

		CHECK(sjson_get(res_obj, "devices") == NULL);
		CHECK(YAJL_IS_OBJECT(sjson_get(res_obj, "memory")));
		CHECK(YAJL_IS_OBJECT(sjson_get(res_obj, "cpu")));
		CHECK(streq(sjson_get_string(l, "cgroupsPath"), "/nacelle/c1"));
		CHECK(sjson_get(l, "mountLabel") == NULL);
		CHECK(sjson_get(l, "intelRdt") == NULL);
		CHECK(YAJL_IS_OBJECT(sjson_get(l, "seccomp")));
		CHECK(YAJL_IS_ARRAY(sjson_get(l, "devices")));
		CHECK(YAJL_IS_ARRAY(sjson_get(l, "maskedPaths")));
		CHECK(YAJL_IS_OBJECT(sjson_get(l, "sysctl")));
	}
	CHECK(streq(spec_annotation(out, "io.kubernetes.cri.sandbox-id"), "sb"));
done:
	yajl_tree_free(out);
	yajl_tree_free(spec);
	spec_result_free(&res);
	spec_result_free(&res);
}

static void test_sandbox_container(void)
{
	char bundle[512];
	struct spec_guest g = { .container_id = "sb", .guest_shared = "/g" };
	struct spec_result res = { 0 };
	struct error err = { 0 };
	yajl_val spec = NULL, out = NULL, m;

	make_bundle(NULL);
	snprintf(bundle, sizeof(bundle), "%s/bundle", dir);
	g.bundle = bundle;
	CHECK_EQ(spec_load(bundle, &spec, &err), 0);
	CHECK_EQ(spec_for_guest(spec, &g, &res, &err), 0);
	CHECK_EQ(sjson_parse(res.json, res.json_len, SPEC_MAX_BYTES, "out", &out, &err), 0);
	CHECK(streq(res.rootfs, "/g/sb/rootfs"));
	m = mount_at(out, "/dev/shm");
	CHECK(m && streq(sjson_get_string(m, "type"), "tmpfs"));
	CHECK(m && streq(sjson_get_string(m, "source"), "shm"));
	CHECK(m && streq(opt(m, 3), "mode=1777"));
	/* No pod pids known: every namespace path is a host one. */
	CHECK(ns_of(out, "pid") && !sjson_get(ns_of(out, "pid"), "path"));
	CHECK(ns_of(out, "network") == NULL);
	CHECK(streq(sjson_get_string(mount_at(out, "/etc/hosts"), "source"), "/g/sb/mounts/0"));
	yajl_tree_free(out);
	yajl_tree_free(spec);
	spec_result_free(&res);
}

static void test_errors(void)
{
	char bundle[512], path[600];
	struct spec_guest g = { .container_id = "c1", .guest_shared = "/g" };
	struct spec_result res = { 0 };
	struct error err = { 0 };
	yajl_val spec = NULL;

	snprintf(bundle, sizeof(bundle), "%s/bundle", dir);
	g.bundle = bundle;
	/* A bind source that does not exist. */
	make_bundle(",\n  {\"destination\": \"/x\", \"type\": \"bind\", \"source\": \"/nonexistent/x\"}");
	CHECK_EQ(spec_load(bundle, &spec, &err), 0);
	CHECK_EQ(spec_for_guest(spec, &g, &res, &err), -ENOENT);
	CHECK(strstr(err.msg, "/nonexistent/x") != NULL);
	yajl_tree_free(spec);
	spec = NULL;
	/* A bind without a source. */
	make_bundle(",\n  {\"destination\": \"/x\", \"type\": \"bind\"}");
	CHECK_EQ(spec_load(bundle, &spec, &err), 0);
	CHECK_EQ(spec_for_guest(spec, &g, &res, &err), -EINVAL);
	yajl_tree_free(spec);
	spec = NULL;

	snprintf(path, sizeof(path), "%s/config.json", bundle);
	write_text(path, "[1, 2]");
	CHECK_EQ(spec_load(bundle, &spec, &err), -EINVAL);
	write_text(path, "{\"root\": ");
	CHECK_EQ(spec_load(bundle, &spec, &err), -EINVAL);
	CHECK(strstr(err.msg, "config.json") != NULL);
	write_text(path, "{\"root\": 1}");
	CHECK_EQ(spec_load(bundle, &spec, &err), 0);
	CHECK_EQ(spec_for_guest(spec, &g, &res, &err), -EINVAL);
	CHECK(strstr(err.msg, "root") != NULL);
	{
		char *root = NULL;

		CHECK_EQ(spec_host_root(spec, bundle, &root, &err), -EINVAL);
	}
	yajl_tree_free(spec);
	spec = NULL;
	write_text(path, "{\"root\": {\"path\": \"/abs/root\"}, \"mounts\": {}}");
	CHECK_EQ(spec_load(bundle, &spec, &err), 0);
	{
		char *root = NULL;

		CHECK_EQ(spec_host_root(spec, bundle, &root, &err), 0);
		CHECK(streq(root, "/abs/root"));
		free(root);
	}
	CHECK_EQ(spec_for_guest(spec, &g, &res, &err), -EINVAL);
	CHECK(strstr(err.msg, "mounts") != NULL);
	yajl_tree_free(spec);
	spec = NULL;
	unlink(path);
	CHECK_EQ(spec_load(bundle, &spec, &err), -ENOENT);
}

static void test_resources(void)
{
	static const char in[] = "{\"devices\": [{\"allow\": true, \"access\": \"rwm\"}], "
				 "\"memory\": {\"limit\": 1073741824}, \"pids\": {\"limit\": 10}}";
	struct error err = { 0 };
	char *out = NULL;
	size_t len = 0;

	CHECK_EQ(spec_resources_for_guest(in, strlen(in), &out, &len, &err), 0);
	CHECK(streq(out, "{\"memory\":{\"limit\":1073741824},\"pids\":{\"limit\":10}}"));
	CHECK_EQ(len, strlen(out ? out : ""));
	free(out);
	CHECK_EQ(spec_resources_for_guest("[]", 2, &out, &len, &err), -EINVAL);
	CHECK_EQ(spec_resources_for_guest("{", 1, &out, &len, &err), -EINVAL);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_app_container();
	test_sandbox_container();
	test_errors();
	test_resources();
	CHECK_EQ(rm_rf(dir), 0);
	fprintf(stderr, "%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
