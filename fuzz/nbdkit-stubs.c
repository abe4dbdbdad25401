// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Stand-ins for the nbdkit functions that src/nbd/options.c and table.c
 * call, so that the filter's parameter parsing runs without nbdkit. The
 * parsers follow nbdkit 1.32's documented rules (nbdkit_parse_bool(3),
 * nbdkit_parse_unsigned(3)): numbers in decimal, octal with a leading 0 or
 * hexadecimal with 0x, no sign for unsigned types, nothing after the
 * number. Messages are dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nbdkit-filter.h>

void nbdkit_error(const char *fmt, ...)
{
	(void)fmt;
}

void nbdkit_debug(const char *fmt, ...)
{
	(void)fmt;
}

int nbdkit_parse_bool(const char *str)
{
	static const char *const yes[] = { "1", "true", "t", "yes", "y", "on" };
	static const char *const no[] = { "0", "false", "f", "no", "n", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(str, yes[i]))
			return 1;
		if (!strcasecmp(str, no[i]))
			return 0;
	}
	return -1;
}

static int parse_unsigned(const char *str, uint64_t max, uint64_t *out)
{
	unsigned long long value;
	char *end;

	while (*str == ' ' || *str == '\t')
		str++;
	if (*str == '-' || *str == '+')
		return -1;
	errno = 0;
	value = strtoull(str, &end, 0);
	if (errno || end == str || *end || value > max)
		return -1;
	*out = value;
	return 0;
}

int nbdkit_parse_unsigned(const char *what, const char *str, unsigned *r)
{
	uint64_t value;

	if (parse_unsigned(str, UINT_MAX, &value))
		return -1;
	*r = (unsigned)value;
	return 0;
}

int nbdkit_parse_uint64_t(const char *what, const char *str, uint64_t *r)
{
	return parse_unsigned(str, UINT64_MAX, r);
}
