// SPDX-License-Identifier: GPL-2.0-or-later
/* Logging sink of the core library and the error buffer for parse errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static udm_log_fn log_sink;
static enum udm_log_level log_max_level = UDM_LOG_WARN;

void udm_set_log(udm_log_fn fn, enum udm_log_level max_level)
{
	log_sink = fn;
	log_max_level = max_level;
}

void udm_log(enum udm_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > log_max_level)
		return;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (log_sink)
		log_sink(level, line);
	else
		fprintf(stderr, "udmcrypt: %s\n", line);
}

int udm_error_set(struct udm_error *err, const char *fmt, ...)
{
	char line[UDM_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	log_debug("%s", line);
	if (err)
		snprintf(err->msg, sizeof(err->msg), "%s", line);
	return -EINVAL;
}
