/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The anti-forensic information splitter of LUKS1 (the "AF-Splitter" section
 * of the LUKS1 on-disk format specification): a key of key_len bytes is
 * stored as stripes blocks of the same size, so that destroying any one
 * block makes the key unrecoverable.
 */
#ifndef UDM_AF_H
#define UDM_AF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Splits key into stripes blocks of key_len bytes each, written to material
 * (key_len * stripes bytes): every block but the last is random, and the
 * last is the key XORed with the diffusion of the others. hash is a name
 * udm_hash() accepts ("sha256", "ripemd160", "whirlpool"). Returns 0, -EINVAL
 * for an unknown hash, a zero length or zero stripes, -ENOMEM, or the error
 * of the random generator.
 */
int udm_af_split(const uint8_t *key, size_t key_len, unsigned stripes, const char *hash,
		 uint8_t *material);

/* Recovers the key (key_len bytes) from material split by udm_af_split()
 * with the same stripes and hash. Damaged material gives a wrong key, not an
 * error. Returns 0, -EINVAL or -ENOMEM. */
int udm_af_merge(const uint8_t *material, size_t key_len, unsigned stripes, const char *hash,
		 uint8_t *key);

#endif
