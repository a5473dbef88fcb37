/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the RPC client and server. */
#pragma once

#include <errno.h>
#include <fcntl.h>

/* gRPC core needs a non-blocking fd (else one of its threads blocks in
 * recvmsg() forever); ours are close-on-exec everywhere. */
static inline int rpc_prepare_fd(int fd)
{
	int fl;

	if (fd < 0)
		return -EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}
