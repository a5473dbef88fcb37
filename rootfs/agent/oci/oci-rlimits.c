/* SPDX-License-Identifier: Apache-2.0 */
/* process.rlimits -> setrlimit(). Call before dropping CAP_SYS_RESOURCE. */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "agent/oci-spec.h"

int oci_rlimits_apply(const struct oci_rlimit *r, size_t n, struct error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct rlimit rl = {
			/* UINT64_MAX is RLIM_INFINITY, as in the spec's Go types */
			.rlim_cur = (rlim_t)r[i].soft,
			.rlim_max = (rlim_t)r[i].hard,
		};
		const char *name = oci_rlimit_to_string(r[i].resource);

		if (setrlimit((__rlimit_resource_t)r[i].resource, &rl) < 0)
			return error_set(err, -errno, "setting %s (soft %llu, hard %llu): %s",
					 name ? name : "rlimit", (unsigned long long)rl.rlim_cur,
					 (unsigned long long)rl.rlim_max, strerror(errno));
	}
	return 0;
}
