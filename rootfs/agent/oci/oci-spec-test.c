/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci_spec_parse() on a realistic config.json (testdata/, shaped like
 * `runc spec` plus what containerd adds), oci_process_parse() and
 * oci_resources_parse(), and a table of bad specs that must each fail with
 * a message naming the offending field.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "agent/oci-spec.h"
#include "common/test.h"

#define STREQ(a, b) ((a) && (b) && strcmp((a), (b)) == 0)
#define CAPBIT(c) (UINT64_C(1) << (c))

static char *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	*ret_len = (size_t)len;
	return buf;
}

static const char *kv_get(const struct oci_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

static void test_full_config(void)
{
	struct error err = { 0 };
	struct oci_spec *s = NULL;
	const struct oci_process *p;
	const struct oci_linux *l;
	const struct oci_resources *res;
	const struct oci_seccomp *sc;
	size_t len;
	char *json;
	int r;

	json = read_file(OCI_TESTDATA "/config.json", &len);
	CHECK(json);
	if (!json)
		return;
	r = oci_spec_parse(json, len, &s, &err);
	if (r < 0)
		fprintf(stderr, "config.json: %s\n", err.msg);
	CHECK_EQ(r, 0);
	free(json);
	if (r < 0)
		return;

	CHECK(STREQ(s->oci_version, "1.1.0"));
	CHECK(STREQ(s->root.path, "rootfs"));
	CHECK(s->root.readonly);
	CHECK(STREQ(s->hostname, "runc"));
	CHECK(STREQ(s->domainname, "example.org"));

	p = s->process;
	CHECK(p);
	CHECK(p->terminal);
	CHECK(p->has_console_size);
	CHECK_EQ(p->console_height, 24);
	CHECK_EQ(p->console_width, 80);
	CHECK_EQ(p->user.uid, 1000);
	CHECK_EQ(p->user.gid, 1000);
	CHECK(p->user.has_umask);
	CHECK_EQ(p->user.umask, 022);
	CHECK_EQ(p->user.n_additional_gids, 2);
	CHECK_EQ(p->user.additional_gids[1], 100);
	CHECK_EQ(p->n_args, 3);
	CHECK(STREQ(p->args[2], "echo hello"));
	CHECK(p->args[3] == NULL);
	CHECK_EQ(p->n_env, 3);
	CHECK(STREQ(p->env[1], "TERM=xterm"));
	CHECK(p->env[3] == NULL);
	CHECK(STREQ(p->cwd, "/srv"));
	CHECK(p->caps.present);
	CHECK_EQ(p->caps.bounding, CAPBIT(CAP_AUDIT_WRITE) | CAPBIT(CAP_KILL) |
					   CAPBIT(CAP_NET_BIND_SERVICE));
	CHECK_EQ(p->caps.effective, p->caps.bounding);
	CHECK_EQ(p->caps.permitted, p->caps.bounding);
	CHECK_EQ(p->caps.inheritable, CAPBIT(CAP_NET_BIND_SERVICE));
	CHECK_EQ(p->caps.ambient, CAPBIT(CAP_NET_BIND_SERVICE)); /* the unknown one skipped */
	CHECK_EQ(p->n_rlimits, 2);
	CHECK_EQ(p->rlimits[0].resource, RLIMIT_NOFILE);
	CHECK_EQ(p->rlimits[0].soft, 1024);
	CHECK_EQ(p->rlimits[1].resource, RLIMIT_CORE);
	CHECK(p->rlimits[1].hard == UINT64_MAX);
	CHECK(p->no_new_privileges);
	CHECK_EQ(p->oom_score_adj, -500);

	CHECK_EQ(s->n_mounts, 9);
	if (s->n_mounts == 9) {
		const struct oci_mount *m = s->mounts;

		CHECK(STREQ(m[0].destination, "/proc"));
		CHECK(STREQ(m[0].type, "proc"));
		CHECK_EQ(m[0].n_options, 0);
		CHECK_EQ(m[0].flags, 0);
		CHECK(m[0].data == NULL);
		CHECK_EQ(m[1].flags, MS_NOSUID | MS_STRICTATIME);
		CHECK(STREQ(m[1].data, "mode=755,size=65536k"));
		CHECK_EQ(m[2].flags, MS_NOSUID | MS_NOEXEC);
		CHECK(STREQ(m[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5"));
		CHECK_EQ(m[5].flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
		CHECK_EQ(m[6].flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY);
		CHECK(STREQ(m[7].destination, "/etc/resolv.conf"));
		CHECK_EQ(m[7].flags, MS_BIND | MS_REC | MS_RDONLY);
		CHECK_EQ(m[7].propagation, MS_PRIVATE | MS_REC);
		CHECK(m[7].data == NULL); /* x-* hints are dropped */
		CHECK(STREQ(m[8].destination, "/data/b"));
		CHECK(m[8].type == NULL);
		CHECK_EQ(m[8].flags, MS_BIND);
		CHECK_EQ(m[8].propagation, MS_SLAVE | MS_REC);
		CHECK_EQ(m[8].rec_attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
		CHECK_EQ(m[8].extra, OCI_MOUNT_TMPCOPYUP);
		CHECK(STREQ(m[8].options[4], "tmpcopyup"));
	}
	CHECK_EQ(s->n_annotations, 2);
	CHECK(STREQ(kv_get(s->annotations, s->n_annotations, "org.opencontainers.image.ref.name"),
		    "busybox"));

	CHECK(s->has_linux);
	l = &s->linux_;
	CHECK_EQ(l->n_uid_mappings, 1);
	CHECK_EQ(l->uid_mappings[0].host_id, 100000);
	CHECK_EQ(l->gid_mappings[0].size, 65536);
	CHECK_EQ(l->n_sysctl, 2);
	CHECK(STREQ(kv_get(l->sysctl, l->n_sysctl, "net.ipv4.ip_forward"), "1"));
	CHECK(STREQ(l->cgroups_path, "/nacelle/sandbox/c1"));
	CHECK_EQ(l->n_namespaces, 7);
	CHECK_EQ(l->namespaces[0].type, OCI_NS_PID);
	CHECK(l->namespaces[0].path == NULL);
	CHECK_EQ(l->namespaces[1].type, OCI_NS_NETWORK);
	CHECK(STREQ(l->namespaces[1].path, "/var/run/netns/sandbox"));
	CHECK_EQ(l->namespaces[6].type, OCI_NS_USER);
	CHECK(l->namespaces[6].path == NULL);
	CHECK_EQ(l->n_devices, 2);
	CHECK(STREQ(l->devices[0].path, "/dev/fuse"));
	CHECK_EQ(l->devices[0].type, 'c');
	CHECK_EQ(l->devices[0].major, 10);
	CHECK_EQ(l->devices[0].minor, 229);
	CHECK(l->devices[0].has_file_mode);
	CHECK_EQ(l->devices[0].file_mode, 0666);
	CHECK(l->devices[0].has_uid && l->devices[0].has_gid);
	CHECK_EQ(l->devices[1].type, 'p');
	CHECK_EQ(l->devices[1].major, OCI_UNSET);
	CHECK(!l->devices[1].has_file_mode);

	res = l->resources;
	CHECK(res);
	if (res) {
		CHECK_EQ(res->memory.limit, 536870912);
		CHECK_EQ(res->memory.reservation, 268435456);
		CHECK_EQ(res->memory.swap, -1);
		CHECK_EQ(res->memory.swappiness, 0);
		CHECK(!res->memory.disable_oom_killer);
		CHECK_EQ(res->cpu.shares, 1024);
		CHECK_EQ(res->cpu.quota, 100000);
		CHECK_EQ(res->cpu.period, 100000);
		CHECK(STREQ(res->cpu.cpus, "0-1"));
		CHECK(STREQ(res->cpu.mems, "0"));
		CHECK_EQ(res->pids.limit, 512);
		CHECK_EQ(res->block_io.weight, 500);
		CHECK_EQ(res->n_devices, 3);
		CHECK(!res->devices[0].allow);
		CHECK_EQ(res->devices[0].type, 'a');
		CHECK_EQ(res->devices[0].major, OCI_UNSET);
		CHECK(res->devices[1].allow);
		CHECK_EQ(res->devices[1].major, 1);
		CHECK(STREQ(res->devices[1].access, "rw"));
		CHECK_EQ(res->devices[2].minor, OCI_UNSET);
		CHECK(STREQ(res->devices[2].access, "mrw"));
		CHECK_EQ(res->n_unified, 2);
		CHECK(STREQ(kv_get(res->unified, res->n_unified, "io.weight"), "default 100"));
	}

	sc = l->seccomp;
	CHECK(sc);
	if (sc) {
		CHECK_EQ(sc->default_action, OCI_SECCOMP_ACT_ERRNO);
		CHECK_EQ(sc->default_errno_ret, 1);
		CHECK_EQ(sc->n_architectures, 3);
		CHECK_EQ(sc->n_flags, 1);
		CHECK_EQ(sc->n_syscalls, 4);
		CHECK_EQ(sc->syscalls[0].n_names, 4);
		CHECK_EQ(sc->syscalls[0].action, OCI_SECCOMP_ACT_ALLOW);
		CHECK_EQ(sc->syscalls[0].errno_ret, OCI_UNSET);
		CHECK_EQ(sc->syscalls[1].n_args, 2);
		CHECK_EQ(sc->syscalls[1].args[1].value, 8);
		CHECK_EQ(sc->syscalls[2].args[0].op, OCI_SECCOMP_OP_MASKED_EQ);
		CHECK_EQ(sc->syscalls[3].errno_ret, 38);
	}
	CHECK_EQ(l->n_masked_paths, 4);
	CHECK(STREQ(l->masked_paths[2], "/proc/keys"));
	CHECK(l->masked_paths[4] == NULL);
	CHECK_EQ(l->n_readonly_paths, 5);
	CHECK_EQ(l->rootfs_propagation, MS_SLAVE | MS_REC);

	/* the whole thing through the seccomp builder too */
	if (sc) {
		scmp_filter_ctx ctx;

		r = oci_seccomp_build(sc, &ctx, &err);
		if (r < 0)
			fprintf(stderr, "seccomp: %s\n", err.msg);
		CHECK_EQ(r, 0);
		if (r >= 0)
			seccomp_release(ctx);
	}
	oci_spec_free(s);
}

static void test_minimal(void)
{
	static const char json[] = "{\"ociVersion\":\"1.0.2\"}";
	struct error err = { 0 };
	struct oci_spec *s = NULL;

	CHECK_EQ(oci_spec_parse(json, strlen(json), &s, &err), 0);
	if (!s)
		return;
	CHECK(s->process == NULL);
	CHECK(!s->has_linux);
	CHECK(s->root.path == NULL);
	CHECK_EQ(s->n_mounts, 0);
	oci_spec_free(s);

	/* not NUL-terminated: only len bytes are read */
	CHECK_EQ(oci_spec_parse("{\"ociVersion\":\"1.0.0\"}garbage", 22, &s, &err), 0);
	oci_spec_free(s);
}

static void test_process(void)
{
	static const char json[] =
		"{\"args\":[\"/bin/ls\",\"-l\"],\"user\":{\"uid\":0,\"gid\":0},"
		"\"unknownField\":{\"deep\":[1,2,3]},\"capabilities\":{}}";
	struct error err = { 0 };
	struct oci_process *p = NULL;

	CHECK_EQ(oci_process_parse(json, strlen(json), &p, &err), 0);
	if (!p)
		return;
	CHECK_EQ(p->n_args, 2);
	CHECK(STREQ(p->cwd, "/"));
	CHECK(p->env && p->env[0] == NULL);
	CHECK(p->caps.present);
	CHECK_EQ(p->caps.bounding, 0);
	CHECK_EQ(p->oom_score_adj, OCI_UNSET);
	CHECK(!p->has_console_size);
	oci_process_free(p);

	CHECK(oci_process_parse("{\"args\":[]}", 11, &p, &err) < 0);
	CHECK(strstr(err.msg, "process.args") != NULL);
}

static void test_resources(void)
{
	static const char json[] = "{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":-1}}";
	struct error err = { 0 };
	struct oci_resources *r = NULL;

	CHECK_EQ(oci_resources_parse(json, strlen(json), &r, &err), 0);
	if (!r)
		return;
	CHECK_EQ(r->memory.limit, 1048576);
	CHECK_EQ(r->memory.swap, OCI_UNSET);
	CHECK_EQ(r->pids.limit, -1);
	CHECK_EQ(r->cpu.shares, OCI_UNSET);
	CHECK(r->cpu.cpus == NULL);
	oci_resources_free(r);

	CHECK(oci_resources_parse("{\"cpu\":{\"quota\":\"lots\"}}", 24, &r, &err) < 0);
	CHECK(strstr(err.msg, "resources.cpu.quota") != NULL);
}

#define V "\"ociVersion\":\"1.0.0\","
#define PROC(x) "{" V "\"process\":{\"args\":[\"sh\"]," x "}}"
#define LNX(x) "{" V "\"linux\":{" x "}}"
#define SECCOMP(x) LNX("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"," x "}")

static const struct {
	const char *json;
	const char *field; /* must appear in the message */
} bad[] = {
	{ "", "empty" },
	{ "[1,2]", "top level" },
	{ "{\"ociVersion\":1}", "ociVersion" },
	{ "{\"process\":{\"args\":[\"sh\"]}}", "ociVersion" },
	{ "{\"ociVersion\":\"2.0.0\"}", "ociVersion" },
	{ "{" V "\"ociVersion\":\"1.0.0\"}", "ociVersion" },
	{ "{" V "\"process\":{\"args\":\"sh\"}}", "process.args" },
	{ "{" V "\"process\":{\"args\":[\"sh\",3]}}", "process.args[1]" },
	{ "{" V "\"process\":{\"cwd\":\"/\"}}", "process.args" },
	{ PROC("\"env\":[\"PATH\"]"), "process.env[0]" },
	{ PROC("\"env\":[\"=x\"]"), "process.env[0]" },
	{ PROC("\"cwd\":\"relative/dir\""), "process.cwd" },
	{ PROC("\"terminal\":\"yes\""), "process.terminal" },
	{ PROC("\"user\":{\"uid\":-1}"), "process.user.uid" },
	{ PROC("\"user\":{\"uid\":4294967296}"), "process.user.uid" },
	{ PROC("\"user\":{\"gid\":1.5}"), "process.user.gid" },
	{ PROC("\"user\":{\"umask\":512}"), "process.user.umask" },
	{ PROC("\"user\":{\"additionalGids\":[1,\"x\"]}"), "process.user.additionalGids[1]" },
	{ PROC("\"consoleSize\":{\"height\":true}"), "process.consoleSize.height" },
	{ PROC("\"capabilities\":{\"bounding\":[\"NET_ADMIN\"]}"), "process.capabilities.bounding[0]" },
	{ PROC("\"capabilities\":{\"effective\":\"CAP_KILL\"}"), "process.capabilities.effective" },
	{ PROC("\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"hard\":1,\"soft\":1}]"), "process.rlimits[0].type" },
	{ PROC("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1}]"), "process.rlimits[0].soft" },
	{ PROC("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":2}]"), "process.rlimits[0]" },
	{ PROC("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":1},"
	       "{\"type\":\"RLIMIT_NOFILE\",\"hard\":2,\"soft\":2}]"), "process.rlimits[1]" },
	{ PROC("\"oomScoreAdj\":1001"), "process.oomScoreAdj" },
	{ PROC("\"noNewPrivileges\":1"), "process.noNewPrivileges" },
	{ PROC("\"args\":[\"again\"]"), "process.args" },
	{ "{" V "\"root\":{\"path\":\"\"}}", "root.path" },
	{ "{" V "\"root\":{\"readonly\":\"true\"}}", "root.readonly" },
	{ "{" V "\"hostname\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}", "hostname" },
	{ "{" V "\"mounts\":{}}", "mounts" },
	{ "{" V "\"mounts\":[{\"type\":\"tmpfs\"}]}", "mounts[0].destination" },
	{ "{" V "\"mounts\":[{\"destination\":\"/ok\"},{\"destination\":\"relative\"}]}", "mounts[1].destination" },
	{ "{" V "\"mounts\":[{\"destination\":\"/a/../../etc\"}]}", "mounts[0].destination" },
	{ "{" V "\"mounts\":[{\"destination\":\"/x\",\"options\":[\"ro\",7]}]}", "mounts[0].options[1]" },
	{ "{" V "\"mounts\":[{\"destination\":\"/x\",\"options\":[\"idmap\"]}]}", "mounts[0].options[0]" },
	{ "{" V "\"annotations\":{\"a\":1}}", "annotations.a" },
	{ "{" V "\"annotations\":[]}", "annotations" },
	{ LNX("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"bogus\"}]"), "linux.namespaces[1].type" },
	{ LNX("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]"), "linux.namespaces[1]" },
	{ LNX("\"namespaces\":[{\"path\":\"/proc/1/ns/net\"}]"), "linux.namespaces[0].type" },
	{ LNX("\"namespaces\":[{\"type\":\"net\",\"path\":\"rel\"}]"), "linux.namespaces[0].type" },
	{ LNX("\"namespaces\":[{\"type\":\"network\",\"path\":\"rel\"}]"), "linux.namespaces[0].path" },
	{ LNX("\"uidMappings\":[{\"containerID\":0,\"hostID\":1000}]"), "linux.uidMappings[0].size" },
	{ LNX("\"gidMappings\":[{\"containerID\":0,\"hostID\":4294967295,\"size\":2}]"), "linux.gidMappings[0]" },
	{ LNX("\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":1}]"), "linux.devices[0].minor" },
	{ LNX("\"devices\":[{\"path\":\"/dev/x\",\"type\":\"z\"}]"), "linux.devices[0].type" },
	{ LNX("\"devices\":[{\"path\":\"dev/x\",\"type\":\"p\"}]"), "linux.devices[0].path" },
	{ LNX("\"cgroupsPath\":\"/a/../../b\""), "linux.cgroupsPath" },
	{ LNX("\"resources\":{\"memory\":{\"limit\":\"1G\"}}"), "linux.resources.memory.limit" },
	{ LNX("\"resources\":{\"memory\":{\"swappiness\":101}}"), "linux.resources.memory.swappiness" },
	{ LNX("\"resources\":{\"cpu\":{\"cpus\":\"all\"}}"), "linux.resources.cpu.cpus" },
	{ LNX("\"resources\":{\"pids\":{\"limit\":1e3}}"), "linux.resources.pids.limit" },
	{ LNX("\"resources\":{\"blockIO\":{\"weight\":5}}"), "linux.resources.blockIO.weight" },
	{ LNX("\"resources\":{\"devices\":[{\"access\":\"rwx\",\"allow\":true}]}"), "linux.resources.devices[0].access" },
	{ LNX("\"resources\":{\"devices\":[{\"access\":\"r\"}]}"), "linux.resources.devices[0].allow" },
	{ LNX("\"resources\":{\"unified\":{\"../escape\":\"1\"}}"), "linux.resources.unified" },
	{ LNX("\"sysctl\":{\"../../etc/passwd\":\"x\"}"), "linux.sysctl" },
	{ LNX("\"sysctl\":{\"kernel.x\":1}"), "linux.sysctl.kernel.x" },
	{ LNX("\"maskedPaths\":[\"/proc/kcore\",\"proc/keys\"]"), "linux.maskedPaths[1]" },
	{ LNX("\"readonlyPaths\":[\"/..\"]"), "linux.readonlyPaths[0]" },
	{ LNX("\"rootfsPropagation\":\"sideways\""), "linux.rootfsPropagation" },
	{ LNX("\"seccomp\":{\"syscalls\":[]}"), "linux.seccomp.defaultAction" },
	{ LNX("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_MAYBE\"}"), "linux.seccomp.defaultAction" },
	{ LNX("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}"), "linux.seccomp.defaultAction" },
	{ SECCOMP("\"defaultErrnoRet\":70000"), "linux.seccomp.defaultErrnoRet" },
	{ SECCOMP("\"architectures\":[\"SCMP_ARCH_Z80\"]"), "linux.seccomp.architectures[0]" },
	{ SECCOMP("\"syscalls\":[{\"names\":[\"read\"]}]"), "linux.seccomp.syscalls[0].action" },
	{ SECCOMP("\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\"}]"), "linux.seccomp.syscalls[0].names" },
	{ SECCOMP("\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":-1}]"),
	  "linux.seccomp.syscalls[0].errnoRet" },
	{ SECCOMP("\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
		  "\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]"),
	  "linux.seccomp.syscalls[0].args[0].index" },
	{ SECCOMP("\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
		  "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_ABOUT\"}]}]"),
	  "linux.seccomp.syscalls[0].args[0].op" },
	{ SECCOMP("\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
		  "\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_EQ\"}]}]"),
	  "linux.seccomp.syscalls[0].args[0].value" },
	{ SECCOMP("\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
		  "\"args\":[{\"index\":0,\"value\":-1,\"op\":\"SCMP_CMP_EQ\"}]}]"),
	  "linux.seccomp.syscalls[0].args[0].value" },
	{ "{" V "\"linux\":[]}", "linux" },
	{ "{\"ociVersion\":\"1.0.0\"", "invalid JSON" },
	{ "{\"ociVersion\":\"1.0\\u0000\"}", "\\u0000" },
};

static void test_bad_specs(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct error err = { 0 };
		struct oci_spec *s = NULL;
		int r;

		r = oci_spec_parse(bad[i].json, strlen(bad[i].json), &s, &err);
		CHECK(r < 0);
		CHECK(s == NULL);
		CHECK(err.code == r);
		if (r >= 0) {
			fprintf(stderr, "bad[%zu] accepted: %s\n", i, bad[i].json);
			oci_spec_free(s);
			continue;
		}
		if (!strstr(err.msg, bad[i].field)) {
			fprintf(stderr, "bad[%zu]: message \"%s\" does not name \"%s\"\n", i, err.msg,
				bad[i].field);
			CHECK(false);
		} else if (getenv("OCI_TEST_VERBOSE")) {
			printf("bad[%zu]: %s\n", i, err.msg);
		}
	}
}

static void test_limits(void)
{
	struct error err = { 0 };
	struct oci_spec *s = NULL;
	size_t cap = OCI_SPEC_MAX_BYTES + 64, len = 0;
	char *json = malloc(cap);

	if (!json)
		return;
	/* over the size limit */
	memset(json, ' ', cap);
	memcpy(json, "{\"ociVersion\":\"1.0.0\"}", 22);
	CHECK_EQ(oci_spec_parse(json, OCI_SPEC_MAX_BYTES + 1, &s, &err), -E2BIG);

	/* nesting */
	len = 0;
	for (int i = 0; i < 200; i++)
		json[len++] = '[';
	CHECK(oci_spec_parse(json, len, &s, &err) < 0);
	CHECK(strstr(err.msg, "nested") != NULL);

	/* too many args */
	len = (size_t)sprintf(json, "{\"ociVersion\":\"1.0.0\",\"process\":{\"args\":[");
	for (int i = 0; i <= OCI_MAX_ARGS; i++)
		len += (size_t)sprintf(json + len, "%s\"a\"", i ? "," : "");
	len += (size_t)sprintf(json + len, "]}}");
	CHECK_EQ(oci_spec_parse(json, len, &s, &err), -E2BIG);
	CHECK(strstr(err.msg, "process.args") != NULL);

	/* too many mounts */
	len = (size_t)sprintf(json, "{\"ociVersion\":\"1.0.0\",\"mounts\":[");
	for (int i = 0; i <= OCI_MAX_MOUNTS; i++)
		len += (size_t)sprintf(json + len, "%s{\"destination\":\"/m\"}", i ? "," : "");
	len += (size_t)sprintf(json + len, "]}");
	CHECK_EQ(oci_spec_parse(json, len, &s, &err), -E2BIG);
	CHECK(strstr(err.msg, "mounts") != NULL);

	/* one string over the limit */
	len = (size_t)sprintf(json, "{\"ociVersion\":\"1.0.0\",\"process\":{\"args\":[\"");
	memset(json + len, 'x', OCI_MAX_STRING + 1);
	len += OCI_MAX_STRING + 1;
	len += (size_t)sprintf(json + len, "\"]}}");
	CHECK_EQ(oci_spec_parse(json, len, &s, &err), -E2BIG);
	CHECK(strstr(err.msg, "process.args[0]") != NULL);
	free(json);
}

int main(void)
{
	test_full_config();
	test_minimal();
	test_process();
	test_resources();
	test_bad_specs();
	test_limits();
	printf("oci-spec-test: %d checks, %d failures (%zu bad specs)\n", checks, failures,
	       ARRAY_SIZE(bad));
	return failures ? 1 : 0;
}
