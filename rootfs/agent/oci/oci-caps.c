/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capabilities of the container process, with libcap-ng.
 *
 * Order in the container's child (runc's finalizeNamespace does the same):
 *   1. oci_rlimits_apply()   raising a hard limit needs CAP_SYS_RESOURCE;
 *   2. prctl(PR_SET_KEEPCAPS, 1); setgroups(); setgid(); setuid();
 *      prctl(PR_SET_KEEPCAPS, 0)   (keeps the permitted set across the uid
 *      change; the effective set is cleared for a non-zero uid, which is why
 *      step 3 starts by raising it again);
 *   3. oci_caps_apply()      bounding, then effective/permitted/inheritable,
 *      then ambient;
 *   4. prctl(PR_SET_NO_NEW_PRIVS) if asked, oci_seccomp_load(), execve().
 * Dropping from the bounding set needs CAP_SETPCAP in the effective set; so
 * oci_caps_apply() first makes effective = permitted, drops the bounding
 * set, and only then sets the final sets.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include <cap-ng.h>

#include "agent/oci-spec.h"
#include "common/log.h"

/* The running kernel's last capability (what libcap-ng can manage). */
static int last_cap(void)
{
	static int cached = -1;
	FILE *f;
	int n;

	if (cached >= 0)
		return cached;
	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &n) == 1 && n > 0 && n < 64)
			cached = n;
		fclose(f);
	}
	if (cached < 0)
		cached = CAP_LAST_CAP;
	return cached;
}

static int raise_effective(struct error *err)
{
	int r;

	if (capng_get_caps_process() < 0)
		return error_set(err, -EIO, "capabilities: reading the current sets failed");
	for (int cap = 0; cap <= last_cap(); cap++)
		if (capng_have_capability(CAPNG_PERMITTED, (unsigned)cap) &&
		    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE, (unsigned)cap) < 0)
			return error_set(err, -EINVAL, "capabilities: capng_update(%d) failed", cap);
	r = capng_apply(CAPNG_SELECT_CAPS);
	if (r < 0)
		return error_set(err, -EPERM, "capabilities: raising the effective set failed (%d)", r);
	return 0;
}

static int fill(capng_type_t type, uint64_t mask, struct error *err)
{
	for (int cap = 0; cap < 64; cap++) {
		if (!(mask & (UINT64_C(1) << cap)))
			continue;
		if (cap > last_cap()) {
			log_debug("capabilities: %s not in this kernel, skipped",
				  capng_capability_to_name((unsigned)cap) ?: "?");
			continue;
		}
		if (capng_update(CAPNG_ADD, type, (unsigned)cap) < 0)
			return error_set(err, -EINVAL, "capabilities: capng_update(%d) failed", cap);
	}
	return 0;
}

static int apply_ambient(uint64_t mask, struct error *err)
{
#ifdef CAPNG_SUPPORTS_AMBIENT
	int r;

	capng_clear(CAPNG_SELECT_AMBIENT);
	r = fill(CAPNG_AMBIENT, mask, err);
	if (r < 0)
		return r;
	r = capng_apply(CAPNG_SELECT_AMBIENT);
	if (r < 0)
		return error_set(err, -EPERM, "capabilities: setting the ambient set failed (%d)", r);
	return 0;
#else
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return error_set(err, -errno, "capabilities: clearing the ambient set: %m");
	for (int cap = 0; cap <= last_cap(); cap++)
		if ((mask & (UINT64_C(1) << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return error_set(err, -errno, "capabilities: raising ambient %d: %m", cap);
	return 0;
#endif
}

int oci_caps_apply(const struct oci_caps *c, struct error *err)
{
	int r;

	if (!c->present)
		return 0;
	r = raise_effective(err);
	if (r < 0)
		return r;

	capng_clear(CAPNG_SELECT_ALL);
	r = fill(CAPNG_BOUNDING_SET, c->bounding, err);
	if (r < 0)
		return r;
	/* bounding first, while CAP_SETPCAP is still effective */
	r = capng_apply(CAPNG_SELECT_BOUNDS);
	if (r < 0)
		return error_set(err, -EPERM, "capabilities: dropping from the bounding set failed (%d)",
				 r);

	r = fill(CAPNG_EFFECTIVE, c->effective, err);
	if (r >= 0)
		r = fill(CAPNG_PERMITTED, c->permitted, err);
	if (r >= 0)
		r = fill(CAPNG_INHERITABLE, c->inheritable, err);
	if (r < 0)
		return r;
	r = capng_apply(CAPNG_SELECT_CAPS);
	if (r < 0)
		return error_set(err, -EPERM,
				 "capabilities: setting effective/permitted/inheritable failed (%d)", r);

	/* the kernel only keeps ambient caps that are permitted and inheritable */
	return apply_ambient(c->ambient, err);
}
