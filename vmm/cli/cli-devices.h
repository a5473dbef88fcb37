/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handlers for cloud-hypervisor's device options, called from cli.c's option
 * table with the option as written ("--disk") and one value. Each appends or
 * sets its device only once the whole value is valid, so a failed option
 * leaves cfg as it was.
 */
#pragma once

#include "common/error.h"
#include "common/macros.h"
#include "vmm/config.h"

/* One --disk value: one more entry in cfg->disks. */
int cli_parse_disk(struct vmm_config *cfg, const char *opt, const char *value,
		   struct error *err) _wur_;
/* One --net value: one more entry in cfg->nets. */
int cli_parse_net(struct vmm_config *cfg, const char *opt, const char *value,
		  struct error *err) _wur_;
/* --rng, value "" when given bare: enables cfg->rng. */
int cli_parse_rng(struct vmm_config *cfg, const char *opt, const char *value,
		  struct error *err) _wur_;
/* One --fs value: one more entry in cfg->fs. */
int cli_parse_fs(struct vmm_config *cfg, const char *opt, const char *value,
		 struct error *err) _wur_;
/* --vsock: sets cfg->vsock (one device). */
int cli_parse_vsock(struct vmm_config *cfg, const char *opt, const char *value,
		    struct error *err) _wur_;
