/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Memory for secrets and helpers that handle them. */
#ifndef UDM_SECMEM_H
#define UDM_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

#include "udmcrypt.h"

/* Zeroes len bytes in a way the compiler cannot drop. */
void udm_wipe(void *ptr, size_t len);

/* Compares two buffers in time that depends only on len. */
bool udm_memeq_consttime(const void *a, const void *b, size_t len);

/* Copies a string into secure memory; NULL on no memory. */
char *udm_secure_strdup(const char *s);

#endif
