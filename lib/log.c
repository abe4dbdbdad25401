// SPDX-License-Identifier: GPL-2.0-or-later
/* Logging sink of the core library and the error buffer for parse errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

static bool is_hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Replaces every run of 16 or more hex digits in line with a placeholder.
 * A key written into the wrong field of a table would otherwise be echoed
 * in the message about that field. No other value in a message is that
 * long a hex run.
 */
static void redact_hex_runs(char *line, size_t size)
{
	char out[UDM_ERROR_MAX];
	size_t pos = 0;

	for (const char *p = line; *p && pos + 1 < sizeof(out);) {
		size_t run = 0;

		while (is_hex_digit(p[run]))
			run++;
		if (run >= 16) {
			int n = snprintf(out + pos, sizeof(out) - pos,
					 "<%zu hex digits not shown: a key in the wrong field?>", run);

			pos = n > 0 && (size_t)n < sizeof(out) - pos ? pos + (size_t)n : sizeof(out) - 1;
			p += run;
		} else if (run) {
			size_t n = run < sizeof(out) - 1 - pos ? run : sizeof(out) - 1 - pos;

			memcpy(out + pos, p, n);
			pos += n;
			p += run;
		} else {
			out[pos++] = *p++;
		}
	}
	out[pos] = '\0';
	snprintf(line, size, "%s", out);
}

int udm_error_set(struct udm_error *err, const char *fmt, ...)
{
	char line[UDM_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	redact_hex_runs(line, sizeof(line));

	log_debug("%s", line);
	if (err)
		snprintf(err->msg, sizeof(err->msg), "%s", line);
	return -EINVAL;
}
