/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal test harness: each case prints "PASS: name" or "FAIL: name"
 * with the reason, and tests/run-tests.sh counts the lines.
 */
#ifndef UDM_TEST_H
#define UDM_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int test_failures;

static inline void test_result(const char *name, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reports one case; fmt explains a failure and is ignored on success. */
static inline void test_result(const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS: %s\n", name);
		return;
	}
	test_failures++;
	printf("FAIL: %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#endif
