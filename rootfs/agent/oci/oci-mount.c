/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mount options -> mount(2) flags, propagation and data, with crun's and
 * runc's table: an option either sets or clears an MS_* flag, picks a
 * propagation type, sets a recursive mount_setattr() attribute ("rro"), or is
 * filesystem data passed through ("mode=755", "size=64m").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "common/log.h"
#include "oci-internal.h"
#include "oci-json.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
	{ "defaults", false, 0 },
	{ "bind", false, MS_BIND },
	{ "rbind", false, MS_BIND | MS_REC },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },
	{ "nodev", false, MS_NODEV },
	{ "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },
	{ "exec", true, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },
	{ "dirsync", false, MS_DIRSYNC },
	{ "remount", false, MS_REMOUNT },
	{ "mand", false, MS_MANDLOCK },
	{ "nomand", true, MS_MANDLOCK },
	{ "noatime", false, MS_NOATIME },
	{ "atime", true, MS_NOATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "diratime", true, MS_NODIRATIME },
	{ "relatime", false, MS_RELATIME },
	{ "norelatime", true, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
	{ "lazytime", false, MS_LAZYTIME },
	{ "nolazytime", true, MS_LAZYTIME },
	{ "iversion", false, MS_I_VERSION },
	{ "noiversion", true, MS_I_VERSION },
	{ "silent", false, MS_SILENT },
	{ "loud", true, MS_SILENT },
	{ "nosymfollow", false, MS_NOSYMFOLLOW },
	{ "symfollow", true, MS_NOSYMFOLLOW },
};

/* Recursive variants for mount_setattr(AT_RECURSIVE), as runc. */
static const struct {
	const char *name;
	bool clear;
	uint64_t attr;
} rec_attrs[] = {
	{ "rro", false, MOUNT_ATTR_RDONLY },
	{ "rrw", true, MOUNT_ATTR_RDONLY },
	{ "rnosuid", false, MOUNT_ATTR_NOSUID },
	{ "rsuid", true, MOUNT_ATTR_NOSUID },
	{ "rnodev", false, MOUNT_ATTR_NODEV },
	{ "rdev", true, MOUNT_ATTR_NODEV },
	{ "rnoexec", false, MOUNT_ATTR_NOEXEC },
	{ "rexec", true, MOUNT_ATTR_NOEXEC },
	{ "rnodiratime", false, MOUNT_ATTR_NODIRATIME },
	{ "rdiratime", true, MOUNT_ATTR_NODIRATIME },
	{ "rrelatime", false, MOUNT_ATTR_RELATIME },
	{ "rnorelatime", true, MOUNT_ATTR_RELATIME },
	{ "rnoatime", false, MOUNT_ATTR_NOATIME },
	{ "ratime", true, MOUNT_ATTR_NOATIME },
	{ "rstrictatime", false, MOUNT_ATTR_STRICTATIME },
	{ "rnostrictatime", true, MOUNT_ATTR_STRICTATIME },
	{ "rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW },
	{ "rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW },
};

static bool is_atime_attr(uint64_t attr)
{
	return attr == MOUNT_ATTR_RELATIME || attr == MOUNT_ATTR_NOATIME ||
	       attr == MOUNT_ATTR_STRICTATIME;
}

static int data_append(char **data, const char *opt)
{
	size_t old = *data ? strlen(*data) : 0, add = strlen(opt);
	char *p;

	if (old + 1 + add > OCI_MAX_STRING)
		return -E2BIG;
	p = realloc(*data, old + add + 2);
	if (!p)
		return -ENOMEM;
	if (old)
		p[old++] = ',';
	memcpy(p + old, opt, add + 1);
	*data = p;
	return 0;
}

static int translate_one(struct oci_mount *m, const char *opt, const char *where,
			 struct error *err)
{
	unsigned long prop;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(mount_flags); i++)
		if (strcmp(opt, mount_flags[i].name) == 0) {
			if (mount_flags[i].clear)
				m->flags &= ~mount_flags[i].flag;
			else
				m->flags |= mount_flags[i].flag;
			return 0;
		}
	if (oci_propagation_from_string(opt, &prop) == 0) {
		m->propagation = prop;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(rec_attrs); i++)
		if (strcmp(opt, rec_attrs[i].name) == 0) {
			uint64_t a = rec_attrs[i].attr;

			if (rec_attrs[i].clear) {
				m->rec_attr_set &= ~a;
				m->rec_attr_clr |= a;
			} else if (is_atime_attr(a)) {
				/* the atime modes share one field: clear it, then set the mode */
				m->rec_attr_set = (m->rec_attr_set & ~(uint64_t)MOUNT_ATTR__ATIME) | a;
				m->rec_attr_clr |= MOUNT_ATTR__ATIME;
			} else {
				m->rec_attr_set |= a;
				m->rec_attr_clr &= ~a;
			}
			return 0;
		}
	if (strcmp(opt, "tmpcopyup") == 0) {
		m->extra |= OCI_MOUNT_TMPCOPYUP;
		return 0;
	}
	if (strcmp(opt, "idmap") == 0 || strcmp(opt, "ridmap") == 0)
		return error_set(err, -EOPNOTSUPP, "%s: option \"%s\" is not supported", where, opt);
	/* userspace-only hints (x-systemd.*, x-mount.*) never reach the kernel */
	if (strncmp(opt, "x-", 2) == 0) {
		log_debug("%s: ignoring option \"%s\"", where, opt);
		return 0;
	}
	if (strchr(opt, ','))
		return error_set(err, -EINVAL, "%s: option must not contain ','", where);
	r = data_append(&m->data, opt);
	if (r < 0)
		return error_set(err, r, "%s: filesystem options too long", where);
	return 0;
}

int oci_mount_options_translate(struct oci_mount *m, const char *where, struct error *err)
{
	char sub[OCI_WHERE_MAX];
	int r;

	m->flags = 0;
	m->propagation = 0;
	m->rec_attr_set = m->rec_attr_clr = 0;
	m->extra = 0;
	free(m->data);
	m->data = NULL;
	for (size_t i = 0; i < m->n_options; i++) {
		oci_json_where_index(sub, where, i);
		r = translate_one(m, m->options[i], sub, err);
		if (r < 0)
			return r;
	}
	/* "type": "bind" without a bind option still means a bind mount (as crun) */
	if (m->type && strcmp(m->type, "bind") == 0)
		m->flags |= MS_BIND;
	return 0;
}
