/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers the runtime's files share. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/macros.h"

/* A malloc'd formatted string, or NULL when out of memory. */
char *strprintf(const char *fmt, ...) _printf_(1, 2);
/* Milliseconds on CLOCK_MONOTONIC. */
int64_t monotonic_ms(void);
/* Wall clock now (exit times made up by the runtime). */
struct timespec realtime_now(void);
/* Sleep ms milliseconds (EINTR restarts). */
void sleep_ms(int64_t ms);
/* Remove path and everything below it, never crossing into another mount
 * (what is still mounted under it stays, and the call fails with -EBUSY). */
int rm_rf(const char *path) _wur_;
/* mkdir that accepts an existing directory. */
int mkdir_ok(const char *path, unsigned int mode) _wur_;
