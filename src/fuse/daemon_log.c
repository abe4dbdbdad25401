// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's log: one file per mapping, DIR/.udmcrypt/NAME/log, appended
 * one line per write(2) so that threads do not interleave within a line.
 * Messages of the core library and of libfuse are copied into it.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_log.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "udmcrypt.h"
#include "daemon.h"

#define LOG_LINE_MAX 1024

static int log_fd = -1;
/* The last error libfuse reported, for the startup error line. */
static char fuse_error[256];

static const char *level_name(enum daemon_log_level level)
{
	switch (level) {
	case DAEMON_LOG_ERR:
		return "error";
	case DAEMON_LOG_WARN:
		return "warning";
	default:
		return "info";
	}
}

static void log_vprintf(enum daemon_log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	struct tm tm;
	time_t now;
	size_t len;
	int n;

	if (log_fd < 0)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line + len, sizeof(line) - len, " udmcrypt[%d] %s: ", (int)getpid(),
		     level_name(level));
	if (n > 0)
		len += (size_t)n;
	if (len < sizeof(line)) {
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		if (n > 0)
			len += (size_t)n;
	}
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	/* Messages from libraries may end in a newline already. */
	while (len > 0 && line[len - 1] == '\n')
		len--;
	line[len++] = '\n';
	if (write(log_fd, line, len) < 0)
		return;
}

void daemon_log(enum daemon_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(level, fmt, ap);
	va_end(ap);
}

static void library_log(enum udm_log_level level, const char *msg)
{
	enum daemon_log_level mapped = DAEMON_LOG_INFO;

	if (level == UDM_LOG_ERROR)
		mapped = DAEMON_LOG_ERR;
	else if (level == UDM_LOG_WARN)
		mapped = DAEMON_LOG_WARN;
	daemon_log(mapped, "%s", msg);
}

static void fuse_log_sink(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char buf[256];
	const char *msg = buf;
	size_t len;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	/* libfuse starts most messages with "fuse: ". */
	if (strncmp(msg, "fuse: ", 6) == 0)
		msg += 6;
	if (level <= FUSE_LOG_ERR) {
		snprintf(fuse_error, sizeof(fuse_error), "%s", msg);
		daemon_log(DAEMON_LOG_ERR, "libfuse: %s", msg);
	} else if (level <= FUSE_LOG_NOTICE) {
		daemon_log(DAEMON_LOG_INFO, "libfuse: %s", msg);
	}
}

int daemon_log_open(const char *path)
{
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return -errno;
	udm_set_log(library_log, UDM_LOG_INFO);
	fuse_set_log_func(fuse_log_sink);
	return 0;
}

int daemon_log_fd(void)
{
	return log_fd;
}

const char *daemon_log_fuse_error(void)
{
	return fuse_error;
}

void daemon_log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
}
