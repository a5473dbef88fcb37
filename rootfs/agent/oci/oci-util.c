/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small OCI helpers: id and path checks, signal names, and the name tables
 * (namespaces, rlimits, seccomp actions/operators/architectures).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "agent/oci-spec.h"
#include "oci-internal.h"

bool oci_id_valid(const char *id)
{
	size_t len;

	if (!id)
		return false;
	len = strlen(id);
	if (len == 0 || len > OCI_ID_MAX)
		return false;
	/* first character alphanumeric: no "-flag" look-alikes, no hidden ".x" */
	if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
	      (id[0] >= '0' && id[0] <= '9')))
		return false;
	for (size_t i = 1; i < len; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	/* ids become path components (/run/nacelle/<id>); keep ".." out entirely */
	return strstr(id, "..") == NULL;
}

/*
 * "/" + the components of path, with "." and empty ones dropped and ".."
 * popping one. With clamp, ".." at the top stays at the top (chroot
 * semantics); without, it is -EINVAL.
 */
static int normalize(const char *path, bool clamp, char **ret)
{
	size_t len = strlen(path), o = 0;
	char *out;

	if (len > OCI_MAX_PATH)
		return -ENAMETOOLONG;
	out = malloc(len + 2);
	if (!out)
		return -ENOMEM;
	for (const char *p = path; *p;) {
		const char *start;
		size_t n;

		while (*p == '/')
			p++;
		start = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - start);
		if (n == 0 || (n == 1 && start[0] == '.'))
			continue;
		if (n == 2 && start[0] == '.' && start[1] == '.') {
			if (o == 0) {
				if (clamp)
					continue;
				free(out);
				return -EINVAL;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			o--; /* the '/' before the popped component */
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, start, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	*ret = out;
	return 0;
}

int oci_path_normalize(const char *path, char **ret)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	return normalize(path, false, ret);
}

int oci_path_in_root(const char *root, const char *path, char **ret)
{
	_cleanup_free_ char *rel = NULL;
	size_t root_len;
	char *out;
	int r;

	if (!root || !root[0] || !path)
		return -EINVAL;
	r = normalize(path, true, &rel);
	if (r < 0)
		return r;
	root_len = strlen(root);
	while (root_len > 1 && root[root_len - 1] == '/')
		root_len--;
	if (root_len == 1 && root[0] == '/')
		root_len = 0; /* "/" + "/a" must not give "//a" */
	if (root_len + strlen(rel) > OCI_MAX_PATH)
		return -ENAMETOOLONG;
	if (strcmp(rel, "/") == 0 && root_len > 0)
		r = asprintf(&out, "%.*s", (int)root_len, root);
	else
		r = asprintf(&out, "%.*s%s", (int)root_len, root, rel);
	if (r < 0)
		return -ENOMEM;
	*ret = out;
	return 0;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },     { "INT", SIGINT },	{ "QUIT", SIGQUIT },   { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },   { "ABRT", SIGABRT },	{ "IOT", SIGIOT },     { "BUS", SIGBUS },
	{ "FPE", SIGFPE },     { "KILL", SIGKILL },	{ "USR1", SIGUSR1 },   { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },   { "PIPE", SIGPIPE },	{ "ALRM", SIGALRM },   { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },	{ "CLD", SIGCHLD },    { "CONT", SIGCONT },
	{ "STOP", SIGSTOP },   { "TSTP", SIGTSTP },	{ "TTIN", SIGTTIN },   { "TTOU", SIGTTOU },
	{ "URG", SIGURG },     { "XCPU", SIGXCPU },	{ "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF },   { "WINCH", SIGWINCH },	{ "IO", SIGIO },       { "POLL", SIGPOLL },
	{ "PWR", SIGPWR },     { "SYS", SIGSYS },
};

/* Decimal 0..max without sign or junk; -1 otherwise. */
static int small_number(const char *s, int max)
{
	int n = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
		if (n > max)
			return -1;
	}
	return n;
}

int oci_signal_parse(const char *s)
{
	int n;

	if (!s || !*s)
		return -EINVAL;
	n = small_number(s, SIGRTMAX);
	if (n >= 0)
		return n >= 1 ? n : -EINVAL;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].sig;
	if (strncasecmp(s, "RTMIN", 5) == 0) {
		if (!s[5])
			return SIGRTMIN;
		if (s[5] == '+' && (n = small_number(s + 6, SIGRTMAX - SIGRTMIN)) >= 0)
			return SIGRTMIN + n;
	} else if (strncasecmp(s, "RTMAX", 5) == 0) {
		if (!s[5])
			return SIGRTMAX;
		if (s[5] == '-' && (n = small_number(s + 6, SIGRTMAX - SIGRTMIN)) >= 0)
			return SIGRTMAX - n;
	}
	return -EINVAL;
}

static const char *const ns_names[OCI_NS__COUNT] = {
	[OCI_NS_PID] = "pid",	  [OCI_NS_NETWORK] = "network", [OCI_NS_MOUNT] = "mount",
	[OCI_NS_IPC] = "ipc",	  [OCI_NS_UTS] = "uts",		[OCI_NS_USER] = "user",
	[OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time",
};

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const int ns_flags[OCI_NS__COUNT] = {
	[OCI_NS_PID] = CLONE_NEWPID,	 [OCI_NS_NETWORK] = CLONE_NEWNET, [OCI_NS_MOUNT] = CLONE_NEWNS,
	[OCI_NS_IPC] = CLONE_NEWIPC,	 [OCI_NS_UTS] = CLONE_NEWUTS,	  [OCI_NS_USER] = CLONE_NEWUSER,
	[OCI_NS_CGROUP] = CLONE_NEWCGROUP, [OCI_NS_TIME] = CLONE_NEWTIME,
};

const char *oci_ns_type_to_string(enum oci_ns_type t)
{
	return (unsigned)t < OCI_NS__COUNT ? ns_names[t] : NULL;
}

int oci_ns_type_clone_flag(enum oci_ns_type t)
{
	return (unsigned)t < OCI_NS__COUNT ? ns_flags[t] : 0;
}

int oci_ns_type_from_string(const char *s)
{
	for (int i = 0; i < OCI_NS__COUNT; i++)
		if (strcmp(s, ns_names[i]) == 0)
			return i;
	return -EINVAL;
}

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "RLIMIT_AS", RLIMIT_AS },		  { "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },		  { "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },	  { "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },	  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },		  { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },	  { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },	  { "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

int oci_rlimit_from_string(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimits); i++)
		if (strcmp(s, rlimits[i].name) == 0)
			return rlimits[i].resource;
	return -EINVAL;
}

const char *oci_rlimit_to_string(int resource)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimits); i++)
		if (rlimits[i].resource == resource)
			return rlimits[i].name;
	return NULL;
}

static const char *const seccomp_actions[OCI_SECCOMP_ACT__COUNT] = {
	[OCI_SECCOMP_ACT_KILL] = "SCMP_ACT_KILL",
	[OCI_SECCOMP_ACT_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
	[OCI_SECCOMP_ACT_KILL_THREAD] = "SCMP_ACT_KILL_THREAD",
	[OCI_SECCOMP_ACT_TRAP] = "SCMP_ACT_TRAP",
	[OCI_SECCOMP_ACT_ERRNO] = "SCMP_ACT_ERRNO",
	[OCI_SECCOMP_ACT_TRACE] = "SCMP_ACT_TRACE",
	[OCI_SECCOMP_ACT_ALLOW] = "SCMP_ACT_ALLOW",
	[OCI_SECCOMP_ACT_LOG] = "SCMP_ACT_LOG",
};

const char *oci_seccomp_action_to_string(enum oci_seccomp_action a)
{
	return (unsigned)a < OCI_SECCOMP_ACT__COUNT ? seccomp_actions[a] : NULL;
}

int oci_seccomp_action_from_string(const char *s)
{
	for (int i = 0; i < OCI_SECCOMP_ACT__COUNT; i++)
		if (strcmp(s, seccomp_actions[i]) == 0)
			return i;
	return -EINVAL;
}

static const char *const seccomp_ops[OCI_SECCOMP_OP__COUNT] = {
	[OCI_SECCOMP_OP_NE] = "SCMP_CMP_NE", [OCI_SECCOMP_OP_LT] = "SCMP_CMP_LT",
	[OCI_SECCOMP_OP_LE] = "SCMP_CMP_LE", [OCI_SECCOMP_OP_EQ] = "SCMP_CMP_EQ",
	[OCI_SECCOMP_OP_GE] = "SCMP_CMP_GE", [OCI_SECCOMP_OP_GT] = "SCMP_CMP_GT",
	[OCI_SECCOMP_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

const char *oci_seccomp_op_to_string(enum oci_seccomp_op op)
{
	return (unsigned)op < OCI_SECCOMP_OP__COUNT ? seccomp_ops[op] : NULL;
}

int oci_seccomp_op_from_string(const char *s)
{
	for (int i = 0; i < OCI_SECCOMP_OP__COUNT; i++)
		if (strcmp(s, seccomp_ops[i]) == 0)
			return i;
	return -EINVAL;
}

static const struct {
	const char *name;
	uint32_t arch;
} seccomp_arches[] = {
	{ "SCMP_ARCH_X86", SCMP_ARCH_X86 },
	{ "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
	{ "SCMP_ARCH_X32", SCMP_ARCH_X32 },
	{ "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
	{ "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
	{ "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },
	{ "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },
	{ "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 },
	{ "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },
	{ "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 },
	{ "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 },
	{ "SCMP_ARCH_PPC", SCMP_ARCH_PPC },
	{ "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },
	{ "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
	{ "SCMP_ARCH_S390", SCMP_ARCH_S390 },
	{ "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
	{ "SCMP_ARCH_PARISC", SCMP_ARCH_PARISC },
	{ "SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64 },
	{ "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
};

uint32_t oci_seccomp_arch_from_string(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(seccomp_arches); i++)
		if (strcmp(s, seccomp_arches[i].name) == 0)
			return seccomp_arches[i].arch;
	return 0;
}

int oci_propagation_from_string(const char *s, unsigned long *ret)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} table[] = {
		{ "private", MS_PRIVATE },	       { "rprivate", MS_PRIVATE | MS_REC },
		{ "shared", MS_SHARED },	       { "rshared", MS_SHARED | MS_REC },
		{ "slave", MS_SLAVE },		       { "rslave", MS_SLAVE | MS_REC },
		{ "unbindable", MS_UNBINDABLE },       { "runbindable", MS_UNBINDABLE | MS_REC },
	};

	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (strcmp(s, table[i].name) == 0) {
			*ret = table[i].flags;
			return 0;
		}
	return -EINVAL;
}
