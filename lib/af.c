// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The LUKS1 anti-forensic splitter, after the LUKS1 on-disk format
 * specification (version 1.2.3, section "AF-Splitter"). The diffusion
 * function H splits a block into pieces of the digest size and replaces
 * piece i (the last one may be shorter) with the leading bytes of
 * hash(be32(i) || piece).
 */
#include <errno.h>
#include <string.h>

#include "af.h"
#include "hash.h"
#include "secmem.h"
#include "volume_internal.h"

static void xor_into(uint8_t *dst, const uint8_t *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] ^= src[i];
}

/* Diffuses block in place. digest_len is the output size of hash. */
static int diffuse(uint8_t *block, size_t len, const char *hash, size_t digest_len)
{
	uint8_t input[4 + UDM_MAX_DIGEST], digest[UDM_MAX_DIGEST];
	int r = 0;

	for (size_t off = 0, index = 0; off < len; off += digest_len, index++) {
		size_t piece = len - off < digest_len ? len - off : digest_len;

		input[0] = (uint8_t)(index >> 24);
		input[1] = (uint8_t)(index >> 16);
		input[2] = (uint8_t)(index >> 8);
		input[3] = (uint8_t)index;
		memcpy(input + 4, block + off, piece);
		if (udm_hash(hash, input, 4 + piece, digest) != (int)digest_len) {
			r = -EINVAL;
			break;
		}
		memcpy(block + off, digest, piece);
	}
	udm_wipe(input, sizeof(input));
	udm_wipe(digest, sizeof(digest));
	return r;
}

/* Checks the arguments and returns the digest length of hash, or -EINVAL. */
static int check_args(size_t key_len, unsigned stripes, const char *hash)
{
	uint8_t digest[UDM_MAX_DIGEST];
	int len;

	if (!key_len || !stripes || !hash)
		return -EINVAL;
	len = udm_hash(hash, "", 0, digest);
	return len > 0 ? len : -EINVAL;
}

int udm_af_split(const uint8_t *key, size_t key_len, unsigned stripes, const char *hash,
		 uint8_t *material)
{
	int digest_len = check_args(key_len, stripes, hash);
	uint8_t *sum;
	int r = 0;

	if (digest_len < 0)
		return digest_len;
	sum = udm_secure_alloc(key_len);
	if (!sum)
		return -ENOMEM;

	for (unsigned i = 0; i + 1 < stripes && !r; i++) {
		uint8_t *stripe = material + (size_t)i * key_len;

		r = udm_random_bytes(stripe, key_len);
		if (!r) {
			xor_into(sum, stripe, key_len);
			r = diffuse(sum, key_len, hash, (size_t)digest_len);
		}
	}
	if (!r) {
		uint8_t *last = material + (size_t)(stripes - 1) * key_len;

		memcpy(last, key, key_len);
		xor_into(last, sum, key_len);
	}
	udm_secure_free(sum);
	return r;
}

int udm_af_merge(const uint8_t *material, size_t key_len, unsigned stripes, const char *hash,
		 uint8_t *key)
{
	int digest_len = check_args(key_len, stripes, hash);
	uint8_t *sum;
	int r = 0;

	if (digest_len < 0)
		return digest_len;
	sum = udm_secure_alloc(key_len);
	if (!sum)
		return -ENOMEM;

	for (unsigned i = 0; i + 1 < stripes && !r; i++) {
		xor_into(sum, material + (size_t)i * key_len, key_len);
		r = diffuse(sum, key_len, hash, (size_t)digest_len);
	}
	if (!r) {
		memcpy(key, material + (size_t)(stripes - 1) * key_len, key_len);
		xor_into(key, sum, key_len);
	}
	udm_secure_free(sum);
	return r;
}
