/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One logger for every component. Library code logs at debug; the code that
 * finally handles an error logs it once. log_*_errno() return their negative
 * errno argument so a caller can write `return log_error_errno(r, ...)`.
 */
#pragma once

#include <stdarg.h>

#include "common/macros.h"

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Where messages go; NULL means stderr. Returns -errno if the file cannot be opened. */
int log_set_file(const char *path) _wur_;
void log_set_ident(const char *ident);

void log_write(enum log_level level, int err, const char *file, int line,
	       const char *fmt, ...) _printf_(5, 6);

#define log_full(level, err, ...)                                              \
	({                                                                     \
		int _e = (err);                                                \
		if ((level) <= log_get_level())                                \
			log_write((level), _e, __FILE__, __LINE__,            \
				  __VA_ARGS__);                                \
		_e < 0 ? _e : -_e;                                             \
	})

#define log_error(...) ((void)log_full(LOG_LEVEL_ERROR, 0, __VA_ARGS__))
#define log_warn(...) ((void)log_full(LOG_LEVEL_WARN, 0, __VA_ARGS__))
#define log_info(...) ((void)log_full(LOG_LEVEL_INFO, 0, __VA_ARGS__))
#define log_debug(...) ((void)log_full(LOG_LEVEL_DEBUG, 0, __VA_ARGS__))
#define log_trace(...) ((void)log_full(LOG_LEVEL_TRACE, 0, __VA_ARGS__))

#define log_error_errno(r, ...) log_full(LOG_LEVEL_ERROR, (r), __VA_ARGS__)
#define log_warn_errno(r, ...) log_full(LOG_LEVEL_WARN, (r), __VA_ARGS__)
#define log_info_errno(r, ...) log_full(LOG_LEVEL_INFO, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) log_full(LOG_LEVEL_DEBUG, (r), __VA_ARGS__)
