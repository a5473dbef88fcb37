/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An error object for failures whose message must reach a user or cross an
 * API (CLI, REST, ttrpc, gRPC): a negative errno plus a human message, with
 * context prepended on the way up (crun's crun_make_error / crun_error_wrap).
 */
#pragma once

#include "common/macros.h"

#define ERROR_MSG_MAX 512

struct error {
	int code; /* negative errno, 0 = no error */
	char msg[ERROR_MSG_MAX];
};

/* Record an error; returns `code` (negative) so callers can `return error_set(...)`. */
int error_set(struct error *err, int code, const char *fmt, ...) _printf_(3, 4);
/* Prepend context ("loading kernel: <old message>"); returns err->code. */
int error_wrap(struct error *err, const char *fmt, ...) _printf_(2, 3);
void error_clear(struct error *err);
