/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci_caps_apply() and oci_rlimits_apply() for real, in forked children:
 * the sets read back from /proc/self/status must be exactly the spec's, both
 * as root and after the documented uid change (PR_SET_KEEPCAPS, setuid,
 * then oci_caps_apply). Needs root with CAP_SETPCAP; skipped (77) otherwise.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/oci-spec.h"
#include "common/test.h"

#define CAPBIT(c) (UINT64_C(1) << (c))

struct capsets {
	uint64_t inh, prm, eff, bnd, amb;
};

static int read_caps(struct capsets *c)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		found += sscanf(line, "CapInh: %" SCNx64, &c->inh);
		found += sscanf(line, "CapPrm: %" SCNx64, &c->prm);
		found += sscanf(line, "CapEff: %" SCNx64, &c->eff);
		found += sscanf(line, "CapBnd: %" SCNx64, &c->bnd);
		found += sscanf(line, "CapAmb: %" SCNx64, &c->amb);
	}
	fclose(f);
	return found == 5 ? 0 : -EIO;
}

static const struct oci_caps want = {
	.present = true,
	.bounding = CAPBIT(CAP_KILL) | CAPBIT(CAP_NET_BIND_SERVICE) | CAPBIT(CAP_CHOWN),
	.effective = CAPBIT(CAP_KILL) | CAPBIT(CAP_NET_BIND_SERVICE),
	.permitted = CAPBIT(CAP_KILL) | CAPBIT(CAP_NET_BIND_SERVICE),
	.inheritable = CAPBIT(CAP_NET_BIND_SERVICE),
	.ambient = CAPBIT(CAP_NET_BIND_SERVICE),
};

/* Exit codes: 0 ok, 10+ a set differs, 20+ a step failed. */
static int child(bool change_uid)
{
	struct error err = { 0 };
	struct capsets got;

	if (change_uid) {
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
		    setgid(65534) < 0 || setuid(65534) < 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
			return 20;
	}
	if (oci_caps_apply(&want, &err) < 0) {
		fprintf(stderr, "oci_caps_apply: %s\n", err.msg);
		return 21;
	}
	if (read_caps(&got) < 0)
		return 22;
	if (got.bnd != want.bounding) {
		fprintf(stderr, "CapBnd %#" PRIx64 ", want %#" PRIx64 "\n", got.bnd, want.bounding);
		return 10;
	}
	if (got.eff != want.effective) {
		fprintf(stderr, "CapEff %#" PRIx64 ", want %#" PRIx64 "\n", got.eff, want.effective);
		return 11;
	}
	if (got.prm != want.permitted)
		return 12;
	if (got.inh != want.inheritable)
		return 13;
	if (got.amb != want.ambient) {
		fprintf(stderr, "CapAmb %#" PRIx64 ", want %#" PRIx64 "\n", got.amb, want.ambient);
		return 14;
	}
	/* CAP_SETUID is gone from every set: going back to root must fail */
	if (change_uid && setuid(0) == 0)
		return 15;
	return 0;
}

static int run(bool change_uid)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(child(change_uid));
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int child_rlimits(void)
{
	const struct oci_rlimit rl[] = {
		{ .resource = RLIMIT_NOFILE, .soft = 256, .hard = 512 },
		{ .resource = RLIMIT_CORE, .soft = 0, .hard = UINT64_MAX },
	};
	struct error err = { 0 };
	struct rlimit got;

	if (oci_rlimits_apply(rl, 2, &err) < 0)
		return 20;
	if (getrlimit(RLIMIT_NOFILE, &got) < 0 || got.rlim_cur != 256 || got.rlim_max != 512)
		return 10;
	if (getrlimit(RLIMIT_CORE, &got) < 0 || got.rlim_cur != 0 || got.rlim_max != RLIM_INFINITY)
		return 11;
	/* soft above hard: the kernel refuses, the message names the limit */
	{
		const struct oci_rlimit bad = { .resource = RLIMIT_NOFILE, .soft = 9, .hard = 8 };

		if (oci_rlimits_apply(&bad, 1, &err) != -EINVAL || !strstr(err.msg, "RLIMIT_NOFILE"))
			return 12;
	}
	return 0;
}

int main(void)
{
	struct oci_caps none = { .present = false };
	struct error err = { 0 };
	struct capsets self;
	int status;
	pid_t pid;

	/* absent capabilities: nothing is touched */
	CHECK_EQ(oci_caps_apply(&none, &err), 0);

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(child_rlimits());
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);

	if (geteuid() != 0) {
		printf("oci-caps-test: skipped the capability checks: needs root (euid %u)\n",
		       (unsigned)geteuid());
		return failures ? 1 : 77;
	}
	if (read_caps(&self) < 0 || !(self.eff & CAPBIT(CAP_SETPCAP)) ||
	    !(self.bnd & CAPBIT(CAP_KILL))) {
		printf("oci-caps-test: skipped the capability checks: needs CAP_SETPCAP\n");
		return failures ? 1 : 77;
	}
	CHECK_EQ(run(false), 0);
	CHECK_EQ(run(true), 0);
	printf("oci-caps-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
