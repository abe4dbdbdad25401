/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Symmetric ciphers in a chain mode, as the kernel's crypto API names them:
 * "cbc(aes)" is cipher "aes" in chain mode "cbc". One object is one keyed
 * transform, used by one thread at a time; the key schedule is computed once
 * in udm_skcipher_setkey and only the IV changes between calls.
 *
 * Backends: OpenSSL's libcrypto where it has the cipher and mode, libgcrypt
 * for the rest. PCBC and LRW exist in neither library, and cipher_null in
 * none, so those modes are built here over the library's ECB transform.
 */
#ifndef UDM_SKCIPHER_H
#define UDM_SKCIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udmcrypt.h"

#define UDM_MAX_BLOCK 16

struct udm_skcipher;

/* Checks that cipher and mode exist and go together, without a key.
 * Returns 0, -EINVAL (err names the cipher or mode and the accepted values)
 * or -ENOMEM. */
int udm_skcipher_alloc(struct udm_skcipher **skp, const char *cipher, const char *mode,
		       struct udm_error *err);
void udm_skcipher_free(struct udm_skcipher *sk);

/* Keys the transform; the key is copied into the library's contexts only.
 * Returns 0 or -EINVAL with err naming the accepted key lengths. */
int udm_skcipher_setkey(struct udm_skcipher *sk, const uint8_t *key, size_t len,
			struct udm_error *err);

/* IV length the mode takes (0 for ECB), and the block size as the kernel's
 * crypto_skcipher_blocksize() gives it: the cipher's, or 1 in CTR mode. */
unsigned udm_skcipher_ivsize(const struct udm_skcipher *sk);
unsigned udm_skcipher_blocksize(const struct udm_skcipher *sk);

/* Encrypts or decrypts len bytes in place; len is a multiple of the block
 * size; iv is read, never modified. Returns 0 or -EIO on a library error. */
int udm_skcipher_crypt(struct udm_skcipher *sk, const uint8_t *iv, uint8_t *data, size_t len,
		       bool encrypt);

/* As udm_skcipher_crypt, but reads src and writes dst, which are the same
 * buffer or do not overlap. */
int udm_skcipher_crypt_to(struct udm_skcipher *sk, const uint8_t *iv, const uint8_t *src,
			  uint8_t *dst, size_t len, bool encrypt);

/* Names of the ciphers and modes, for messages and --help. */
const char *udm_skcipher_cipher_names(void);
const char *udm_skcipher_mode_names(void);

#endif
