/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Chain modes that neither OpenSSL nor libgcrypt offer, built over ECB. */
#ifndef UDM_SKCIPHER_MODES_H
#define UDM_SKCIPHER_MODES_H

#include "skcipher.h"

/* ECB with the transform's library context, in place, whole blocks. */
int udm_skcipher_ecb(struct udm_skcipher *sk, uint8_t *data, size_t len, bool encrypt);

/* PCBC: each block is chained with both the previous plaintext and
 * ciphertext block, as the kernel's crypto/pcbc.c does. */
int udm_pcbc_crypt(struct udm_skcipher *sk, const uint8_t *iv, uint8_t *data, size_t len,
		   bool encrypt);

/* Fills table (128 entries of 16 bytes) with tweak_key * x^i in GF(2^128). */
void udm_lrw_table_init(uint8_t *table, const uint8_t *tweak_key);

/* LRW (IEEE P1619 draft, as crypto/lrw.c): block i is whitened with
 * tweak_key * (iv + i), the IV being a 128-bit big-endian block index. */
int udm_lrw_crypt(struct udm_skcipher *sk, const uint8_t *table, const uint8_t *iv,
		  uint8_t *data, size_t len, bool encrypt);

#endif
