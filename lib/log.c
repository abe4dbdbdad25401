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

/* Replaces control bytes with '?', so that a value quoted from a header
 * or a table cannot break a message into several lines. */
static void replace_control_bytes(char *line)
{
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

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
	replace_control_bytes(line);

	if (log_sink)
		log_sink(level, line);
	else
		fprintf(stderr, "udmcrypt: %s\n", line);
}

static bool is_hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Whether the run of len characters at p is a decimal number that fits in
 * 64 bits, such as an offset or a size from a header. */
static bool is_u64_decimal(const char *p, size_t len)
{
	if (len > 20)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/*
 * Replaces every run of 16 or more hex digits in line with a placeholder.
 * A key written into the wrong field of a table would otherwise be echoed
 * in the message about that field. Runs of up to 20 decimal digits stay:
 * they are 64-bit numbers. NOTE: a key of 8 to 10 bytes whose hex form has
 * only decimal digits is shown too: for an 8-byte key the chance is
 * (10/16)^16, about 1 in 1800.
 */
static void redact_hex_runs(char *line, size_t size)
{
	char out[UDM_ERROR_MAX];
	size_t pos = 0;

	for (const char *p = line; *p && pos + 1 < sizeof(out);) {
		size_t run = 0;

		while (is_hex_digit(p[run]))
			run++;
		if (run >= 16 && !is_u64_decimal(p, run)) {
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
	replace_control_bytes(line);
	redact_hex_runs(line, sizeof(line));

	log_debug("%s", line);
	if (err)
		snprintf(err->msg, sizeof(err->msg), "%s", line);
	return -EINVAL;
}
