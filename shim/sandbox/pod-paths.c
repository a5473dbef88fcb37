/* SPDX-License-Identifier: Apache-2.0 */
#include "pod-paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "util.h"

void sandbox_paths_free(struct sandbox_paths *p)
{
	if (!p)
		return;
	free(p->base);
	free(p->dir);
	free(p->shared);
	free(p->api_sock);
	free(p->vsock_sock);
	free(p->fs_sock);
	free(p->vmm_log);
	free(p->fs_log);
	free(p->console_log);
	free(p->vmm_pid);
	free(p->fs_pid);
	memset(p, 0, sizeof(*p));
}

static char *join(const char *a, const char *b)
{
	return strprintf("%s/%s", a, b);
}

int sandbox_paths_init(const char *sandbox_id, struct sandbox_paths *ret, struct error *err)
{
	struct sandbox_paths p = { 0 };
	const char *base = getenv(SANDBOX_RUN_DIR_ENV);
	/* Room for the NUL. (Guest-initiated vsock connections would use
	 * "<vsock.sock>_<port>"; the runtime never listens for those.) */
	size_t room = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	if (!base || base[0] != '/')
		base = SANDBOX_RUN_DIR;
	p.base = strdup(base);
	p.dir = p.base ? join(p.base, sandbox_id) : NULL;
	if (p.dir) {
		p.shared = join(p.dir, "shared");
		p.api_sock = join(p.dir, "api.sock");
		p.vsock_sock = join(p.dir, "vsock.sock");
		p.fs_sock = join(p.dir, "virtiofsd.sock");
		p.vmm_log = join(p.dir, "vmm.log");
		p.fs_log = join(p.dir, "virtiofsd.log");
		p.console_log = join(p.dir, "console.log");
		p.vmm_pid = join(p.dir, "vmm.pid");
		p.fs_pid = join(p.dir, "virtiofsd.pid");
	}
	if (!p.shared || !p.api_sock || !p.vsock_sock || !p.fs_sock || !p.vmm_log || !p.fs_log ||
	    !p.console_log || !p.vmm_pid || !p.fs_pid) {
		sandbox_paths_free(&p);
		return error_set(err, -ENOMEM, "out of memory");
	}
	if (strlen(p.fs_sock) > room || strlen(p.vsock_sock) > room || strlen(p.api_sock) > room) {
		int r = error_set(err, -ENAMETOOLONG,
				  "%s: socket paths under it would not fit in a Unix socket address",
				  p.dir);

		sandbox_paths_free(&p);
		return r;
	}
	*ret = p;
	return 0;
}
