/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linux.seccomp -> a libseccomp filter, as runc builds it:
 *   - the default action (SCMP_ACT_ERRNO uses defaultErrnoRet, else EPERM);
 *   - the listed architectures besides the native one;
 *   - for each rule and each name, the rule's action with its argument
 *     conditions. A name this libseccomp/arch does not know is skipped (the
 *     profile is written for many kernels and arches); a rule whose action is
 *     the default one is skipped (libseccomp refuses it, and it changes
 *     nothing). Conditions on one argument index given twice cannot be one
 *     libseccomp rule; as runc, each condition then becomes its own rule.
 * no_new_privs is left to the caller (spec.process.noNewPrivileges): the
 * filter's own NNP attribute is turned off, so loading needs either
 * no_new_privs already set or CAP_SYS_ADMIN.
 */
#include <errno.h>
#include <string.h>

#include "agent/oci-spec.h"
#include "common/log.h"
#include "oci-internal.h"

static uint32_t scmp_action(enum oci_seccomp_action a, int64_t errno_ret)
{
	switch (a) {
	case OCI_SECCOMP_ACT_KILL:
	case OCI_SECCOMP_ACT_KILL_THREAD:
		return SCMP_ACT_KILL_THREAD;
	case OCI_SECCOMP_ACT_KILL_PROCESS:
		return SCMP_ACT_KILL_PROCESS;
	case OCI_SECCOMP_ACT_TRAP:
		return SCMP_ACT_TRAP;
	case OCI_SECCOMP_ACT_ERRNO:
		return SCMP_ACT_ERRNO(errno_ret == OCI_UNSET ? EPERM : (uint32_t)errno_ret);
	case OCI_SECCOMP_ACT_TRACE:
		return SCMP_ACT_TRACE(errno_ret == OCI_UNSET ? 0 : (uint32_t)errno_ret);
	case OCI_SECCOMP_ACT_ALLOW:
		return SCMP_ACT_ALLOW;
	case OCI_SECCOMP_ACT_LOG:
		return SCMP_ACT_LOG;
	case OCI_SECCOMP_ACT__COUNT:
		break;
	}
	return 0; /* never a valid action: SCMP_ACT_KILL_THREAD is 0 too, so check before */
}

static const enum scmp_compare scmp_ops[OCI_SECCOMP_OP__COUNT] = {
	[OCI_SECCOMP_OP_NE] = SCMP_CMP_NE, [OCI_SECCOMP_OP_LT] = SCMP_CMP_LT,
	[OCI_SECCOMP_OP_LE] = SCMP_CMP_LE, [OCI_SECCOMP_OP_EQ] = SCMP_CMP_EQ,
	[OCI_SECCOMP_OP_GE] = SCMP_CMP_GE, [OCI_SECCOMP_OP_GT] = SCMP_CMP_GT,
	[OCI_SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
};

static bool args_repeat_index(const struct oci_seccomp_syscall *sc)
{
	unsigned seen = 0;

	for (size_t i = 0; i < sc->n_args; i++) {
		if (seen & (1u << sc->args[i].index))
			return true;
		seen |= 1u << sc->args[i].index;
	}
	return false;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name,
		    const struct oci_seccomp_arg *args, size_t n_args, struct error *err)
{
	struct scmp_arg_cmp cmp[OCI_MAX_SYSCALL_ARGS];
	int r;

	for (size_t i = 0; i < n_args; i++)
		/* MASKED_EQ: value is the mask, valueTwo the datum (libseccomp's order) */
		cmp[i] = (struct scmp_arg_cmp){
			.arg = args[i].index,
			.op = scmp_ops[args[i].op],
			.datum_a = args[i].value,
			.datum_b = args[i].value_two,
		};
	r = seccomp_rule_add_array(ctx, action, nr, (unsigned)n_args, cmp);
	if (r < 0)
		return error_set(err, r, "seccomp: adding the rule for %s: %s", name, strerror(-r));
	return 0;
}

int oci_seccomp_build(const struct oci_seccomp *s, scmp_filter_ctx *ret, struct error *err)
{
	uint32_t def_action, action;
	scmp_filter_ctx ctx;
	int r;

	if ((unsigned)s->default_action >= OCI_SECCOMP_ACT__COUNT)
		return error_set(err, -EINVAL, "seccomp: invalid default action");
	def_action = scmp_action(s->default_action, s->default_errno_ret);
	ctx = seccomp_init(def_action);
	if (!ctx)
		return error_set(err, -ENOMEM, "seccomp: seccomp_init(%s) failed",
				 oci_seccomp_action_to_string(s->default_action));
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0) {
		error_set(err, r, "seccomp: clearing the NNP attribute: %s", strerror(-r));
		goto release;
	}
	for (size_t i = 0; i < s->n_architectures; i++) {
		uint32_t arch = oci_seccomp_arch_from_string(s->architectures[i]);

		if (!arch) {
			r = error_set(err, -EINVAL, "seccomp: unknown architecture %s",
				      s->architectures[i]);
			goto release;
		}
		r = seccomp_arch_add(ctx, arch);
		if (r == -EEXIST) /* the native one is always there */
			continue;
		if (r < 0) {
			error_set(err, r, "seccomp: adding architecture %s: %s", s->architectures[i],
				  strerror(-r));
			goto release;
		}
	}
	for (size_t i = 0; i < s->n_flags; i++)
		log_debug("seccomp: ignoring flag %s", s->flags[i]);

	for (size_t i = 0; i < s->n_syscalls; i++) {
		const struct oci_seccomp_syscall *sc = &s->syscalls[i];
		bool split;

		if ((unsigned)sc->action >= OCI_SECCOMP_ACT__COUNT ||
		    sc->n_args > OCI_MAX_SYSCALL_ARGS) {
			r = error_set(err, -EINVAL, "seccomp: syscalls[%zu]: invalid rule", i);
			goto release;
		}
		for (size_t j = 0; j < sc->n_args; j++)
			if (sc->args[j].index >= OCI_MAX_SYSCALL_ARGS ||
			    (unsigned)sc->args[j].op >= OCI_SECCOMP_OP__COUNT) {
				r = error_set(err, -EINVAL, "seccomp: syscalls[%zu].args[%zu]: invalid",
					      i, j);
				goto release;
			}
		action = scmp_action(sc->action, sc->errno_ret);
		if (action == def_action)
			continue;
		split = args_repeat_index(sc);
		for (size_t j = 0; j < sc->n_names; j++) {
			const char *name = sc->names[j];
			int nr = seccomp_syscall_resolve_name(name);

			if (nr == __NR_SCMP_ERROR) {
				log_debug("seccomp: skipping unknown syscall %s", name);
				continue;
			}
			if (!split) {
				r = add_rule(ctx, action, nr, name, sc->args, sc->n_args, err);
				if (r < 0)
					goto release;
				continue;
			}
			for (size_t k = 0; k < sc->n_args; k++) {
				r = add_rule(ctx, action, nr, name, &sc->args[k], 1, err);
				if (r < 0)
					goto release;
			}
		}
	}
	*ret = ctx;
	return 0;

release:
	seccomp_release(ctx);
	return r;
}

int oci_seccomp_load(scmp_filter_ctx ctx, struct error *err)
{
	int r = seccomp_load(ctx);

	if (r < 0)
		return error_set(err, r, "seccomp: loading the filter: %s", strerror(-r));
	return 0;
}
