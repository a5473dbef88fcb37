/* SPDX-License-Identifier: Apache-2.0 */
#include "common/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level log_level = LOG_LEVEL_WARN;
static FILE *log_stream;
static const char *log_ident = "nacelle";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * A child forked while another thread held log_lock would block forever on
 * its first log line (the agent forks container processes from a process
 * full of gRPC threads): hold the lock across fork() so that both sides
 * start with it free.
 */
static void log_atfork_prepare(void)
{
	pthread_mutex_lock(&log_lock);
}

static void log_atfork_release(void)
{
	pthread_mutex_unlock(&log_lock);
}

__attribute__((constructor)) static void log_init_atfork(void)
{
	(void)!pthread_atfork(log_atfork_prepare, log_atfork_release, log_atfork_release);
}

static const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_TRACE] = "trace",
};

void log_set_level(enum log_level level)
{
	if (level > LOG_LEVEL_TRACE)
		level = LOG_LEVEL_TRACE;
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_set_ident(const char *ident)
{
	log_ident = ident;
}

int log_set_file(const char *path)
{
	FILE *f;

	if (!path) {
		log_stream = NULL;
		return 0;
	}
	f = fopen(path, "ae");
	if (!f)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);
	pthread_mutex_lock(&log_lock);
	if (log_stream)
		fclose(log_stream);
	log_stream = f;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void log_write(enum log_level level, int err, const char *file, int line,
	       const char *fmt, ...)
{
	int saved_errno = errno;
	char buf[1024];
	struct timespec ts;
	va_list ap;
	FILE *out;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		buf[0] = '\0';

	pthread_mutex_lock(&log_lock);
	out = log_stream ? log_stream : stderr;
	fprintf(out, "%s[%ld.%06ld] %s: %s", log_ident, (long)ts.tv_sec,
		ts.tv_nsec / 1000, log_level_names[level], buf);
	if (err)
		fprintf(out, ": %s", strerror(err < 0 ? -err : err));
	if (log_level >= LOG_LEVEL_DEBUG)
		fprintf(out, " (%s:%d)", file, line);
	fputc('\n', out);
	fflush(out);
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}
