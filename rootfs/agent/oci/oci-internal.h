/* SPDX-License-Identifier: Apache-2.0 */
/* Private: name tables and the mount option translator shared by the oci parsers. */
#pragma once

#include <stddef.h>

#include "agent/oci-spec.h"

/* -EINVAL when unknown. */
int oci_ns_type_from_string(const char *s);
int oci_rlimit_from_string(const char *s);
int oci_seccomp_action_from_string(const char *s);
int oci_seccomp_op_from_string(const char *s);
/* "rslave" -> MS_SLAVE|MS_REC; 0 with *ret set, or -EINVAL. */
int oci_propagation_from_string(const char *s, unsigned long *ret);
/* "SCMP_ARCH_X86_64" -> SCMP_ARCH_X86_64; 0 if unknown. */
uint32_t oci_seccomp_arch_from_string(const char *s);

/*
 * m->options -> m->flags, propagation, data, rec_attr_*, extra (crun's
 * table). where names the mount in messages.
 */
int oci_mount_options_translate(struct oci_mount *m, const char *where, struct error *err);
