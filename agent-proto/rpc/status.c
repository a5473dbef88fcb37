/* SPDX-License-Identifier: Apache-2.0 */
/* gRPC status codes: messages, names, and the mapping to and from errno. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "agent-proto/rpc.h"

grpc_status_code agent_rpc_status_set(struct agent_rpc_status *st, grpc_status_code code,
				      const char *fmt, ...)
{
	va_list ap;

	if (!st)
		return code;
	st->code = code;
	va_start(ap, fmt);
	/* Truncation is fine: the message is for humans and stays bounded. */
	if (vsnprintf(st->message, sizeof(st->message), fmt, ap) < 0)
		st->message[0] = '\0';
	va_end(ap);
	return code;
}

grpc_status_code agent_rpc_status_from_error(struct agent_rpc_status *st,
					     const struct error *err)
{
	int e = err ? err->code : -EIO;

	return agent_rpc_status_set(st, agent_rpc_status_from_errno(e), "%s",
				    err && err->msg[0] ? err->msg : "internal error");
}

grpc_status_code agent_rpc_status_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return GRPC_STATUS_OK;
	case ENOENT:
	case ESRCH:
		return GRPC_STATUS_NOT_FOUND;
	case EEXIST:
		return GRPC_STATUS_ALREADY_EXISTS;
	case EINVAL:
	case E2BIG:
	case ENAMETOOLONG:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case EPERM:
	case EACCES:
		return GRPC_STATUS_PERMISSION_DENIED;
	case ENOMEM:
	case ENOSPC:
	case EMFILE:
	case ENFILE:
	case EAGAIN:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case ETIMEDOUT:
		return GRPC_STATUS_DEADLINE_EXCEEDED;
	case ECANCELED:
		return GRPC_STATUS_CANCELLED;
	case ENOSYS:
	case EOPNOTSUPP:
		return GRPC_STATUS_UNIMPLEMENTED;
	case EBUSY:
	case EALREADY:
	case ENOTEMPTY:
		return GRPC_STATUS_FAILED_PRECONDITION;
	case ERANGE:
		return GRPC_STATUS_OUT_OF_RANGE;
	case ECONNRESET:
	case ECONNREFUSED:
	case EPIPE:
	case ENOTCONN:
	case ESHUTDOWN:
		return GRPC_STATUS_UNAVAILABLE;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}

int agent_rpc_status_to_errno(grpc_status_code code)
{
	switch (code) {
	case GRPC_STATUS_OK:
		return 0;
	case GRPC_STATUS_CANCELLED:
		return -ECANCELED;
	case GRPC_STATUS_INVALID_ARGUMENT:
		return -EINVAL;
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return -ETIMEDOUT;
	case GRPC_STATUS_NOT_FOUND:
		return -ENOENT;
	case GRPC_STATUS_ALREADY_EXISTS:
		return -EEXIST;
	case GRPC_STATUS_PERMISSION_DENIED:
	case GRPC_STATUS_UNAUTHENTICATED:
		return -EPERM;
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		return -ENOSPC;
	case GRPC_STATUS_FAILED_PRECONDITION:
	case GRPC_STATUS_ABORTED:
		return -EBUSY;
	case GRPC_STATUS_OUT_OF_RANGE:
		return -ERANGE;
	case GRPC_STATUS_UNIMPLEMENTED:
		return -EOPNOTSUPP;
	case GRPC_STATUS_UNAVAILABLE:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

static const char *const status_names[] = {
	[GRPC_STATUS_OK] = "OK",
	[GRPC_STATUS_CANCELLED] = "CANCELLED",
	[GRPC_STATUS_UNKNOWN] = "UNKNOWN",
	[GRPC_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[GRPC_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[GRPC_STATUS_NOT_FOUND] = "NOT_FOUND",
	[GRPC_STATUS_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[GRPC_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[GRPC_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[GRPC_STATUS_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[GRPC_STATUS_ABORTED] = "ABORTED",
	[GRPC_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[GRPC_STATUS_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[GRPC_STATUS_INTERNAL] = "INTERNAL",
	[GRPC_STATUS_UNAVAILABLE] = "UNAVAILABLE",
	[GRPC_STATUS_DATA_LOSS] = "DATA_LOSS",
	[GRPC_STATUS_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *agent_rpc_status_code_to_string(grpc_status_code code)
{
	if ((unsigned int)code < sizeof(status_names) / sizeof(status_names[0]) &&
	    status_names[code])
		return status_names[code];
	return "UNKNOWN_CODE";
}
