// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PCBC and LRW over a library's ECB transform. Only the chaining is written
 * here; every block goes through the library's cipher.
 */
#include <string.h>

#include "secmem.h"
#include "skcipher_modes.h"

static void xor_block(uint8_t *dst, const uint8_t *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] ^= src[i];
}

int udm_pcbc_crypt(struct udm_skcipher *sk, const uint8_t *iv, uint8_t *data, size_t len,
		   bool encrypt)
{
	size_t bs = udm_skcipher_blocksize(sk);
	uint8_t chain[UDM_MAX_BLOCK], saved[UDM_MAX_BLOCK];
	int r = 0;

	memcpy(chain, iv, bs);
	for (size_t off = 0; off < len; off += bs) {
		uint8_t *block = data + off;

		memcpy(saved, block, bs);
		if (encrypt) {
			xor_block(block, chain, bs);
			r = udm_skcipher_ecb(sk, block, bs, true);
		} else {
			r = udm_skcipher_ecb(sk, block, bs, false);
			xor_block(block, chain, bs);
		}
		if (r)
			break;
		/* The next chain value is plaintext XOR ciphertext of this block. */
		memcpy(chain, saved, bs);
		xor_block(chain, block, bs);
	}
	udm_wipe(chain, sizeof(chain));
	udm_wipe(saved, sizeof(saved));
	return r;
}

/* Multiplies a big-endian GF(2^128) element by x, modulo
 * x^128 + x^7 + x^2 + x + 1 (the "bbe" convention of crypto/gf128mul.c). */
static void gf128_mul_x(uint8_t *out, const uint8_t *in)
{
	uint8_t carry = in[0] >> 7;

	for (int i = 0; i < 15; i++)
		out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
	out[15] = (uint8_t)(in[15] << 1);
	if (carry)
		out[15] ^= 0x87;
}

void udm_lrw_table_init(uint8_t *table, const uint8_t *tweak_key)
{
	memcpy(table, tweak_key, 16);
	for (int i = 1; i < 128; i++)
		gf128_mul_x(table + 16 * i, table + 16 * (i - 1));
}

/* tweak = tweak_key * index, with bit i of the big-endian index selecting
 * the table entry tweak_key * x^i. */
static void lrw_tweak(uint8_t *tweak, const uint8_t *table, const uint8_t *index)
{
	memset(tweak, 0, 16);
	for (int bit = 0; bit < 128; bit++)
		if (index[15 - bit / 8] >> (bit % 8) & 1)
			xor_block(tweak, table + 16 * bit, 16);
}

static void be128_increment(uint8_t *v)
{
	for (int i = 15; i >= 0; i--)
		if (++v[i])
			break;
}

int udm_lrw_crypt(struct udm_skcipher *sk, const uint8_t *table, const uint8_t *iv,
		  uint8_t *data, size_t len, bool encrypt)
{
	uint8_t index[16], tweak[16];
	int r = 0;

	memcpy(index, iv, 16);
	for (size_t off = 0; off < len; off += 16) {
		lrw_tweak(tweak, table, index);
		xor_block(data + off, tweak, 16);
		r = udm_skcipher_ecb(sk, data + off, 16, encrypt);
		if (r)
			break;
		xor_block(data + off, tweak, 16);
		be128_increment(index);
	}
	udm_wipe(tweak, sizeof(tweak));
	udm_wipe(index, sizeof(index));
	return r;
}
