/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Number and hex parsing with a check for trailing garbage (never atoi). */
#ifndef UDM_PARSE_H
#define UDM_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 0, or -EINVAL for an empty string, a sign, a non-digit or a
 * value out of range. */
int udm_parse_u64(const char *s, uint64_t *out);
int udm_parse_uint(const char *s, unsigned *out);

/* Decodes exactly 2 * len hex digits into out. Returns 0 or -EINVAL. */
int udm_parse_hex(const char *hex, uint8_t *out, size_t len);

#endif
