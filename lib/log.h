/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging and error messages inside the core library. */
#ifndef UDM_LOG_H
#define UDM_LOG_H

#include "udmcrypt.h"

void udm_log(enum udm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stores one line for the user in err (which may be NULL) and logs it at
 * debug level. Returns -EINVAL so that callers can write
 * "return udm_error_set(err, ...)". */
int udm_error_set(struct udm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) udm_log(UDM_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) udm_log(UDM_LOG_INFO, __VA_ARGS__)
#define log_warn(...) udm_log(UDM_LOG_WARN, __VA_ARGS__)
#define log_error(...) udm_log(UDM_LOG_ERROR, __VA_ARGS__)

#endif
