/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Message digests by their Linux crypto API names. */
#ifndef UDM_HASH_H
#define UDM_HASH_H

#include <stddef.h>
#include <stdint.h>

#define UDM_MAX_DIGEST 64

/* Computes the digest of data with a kernel hash name ("sha256", "rmd160",
 * "wp512"). Returns the digest length, or -EINVAL for an unknown hash. */
int udm_hash(const char *name, const void *data, size_t len, uint8_t out[UDM_MAX_DIGEST]);

/* Initializes libgcrypt once; every user of libgcrypt calls it first. */
void udm_gcrypt_init(void);

/* Names of the hashes, for messages. */
const char *udm_hash_names(void);

#endif
