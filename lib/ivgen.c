// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * IV generators of dm-crypt, computed as drivers/md/dm-crypt.c computes them.
 *
 * plain:     32-bit little-endian sector number, zero-padded
 * plain64:   64-bit little-endian sector number, zero-padded
 * plain64be: 64-bit big-endian sector number, at the end of the IV
 * essiv:     plain64 encrypted with the block cipher keyed by a hash of the
 *            subkey ("essiv:sha256")
 * benbi:     64-bit big-endian count of cipher blocks, starting at 1
 * null:      all zeros
 * lmk:       loop-AES compatible: MD5 state over the sector's plaintext
 *            (blocks 1 to 31) and sector number, optionally seeded
 * tcw:       TrueCrypt compatible: IV seed XOR sector number, plus a
 *            whitening of the ciphertext derived with CRC32
 * eboiv:     the byte offset of the sector, encrypted with the data key
 * elephant:  BitLocker's Elephant diffuser with eboiv (ivgen_elephant.c)
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>
#include <zlib.h>

#include "crypt_internal.h"
#include "hash.h"
#include "ivgen_elephant.h"
#include "log.h"
#include "secmem.h"

#define LMK_SEED_SIZE 64
#define TCW_WHITENING_SIZE 16

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static int plain_generate(struct udm_crypt *cc, struct sector_request *req)
{
	uint32_t v = htole32((uint32_t)req->iv_sector);

	memset(req->iv, 0, cc->iv_size);
	memcpy(req->iv, &v, 4);
	return 0;
}

static int plain64_generate(struct udm_crypt *cc, struct sector_request *req)
{
	memset(req->iv, 0, cc->iv_size);
	put_le64(req->iv, req->iv_sector);
	return 0;
}

static int plain64be_generate(struct udm_crypt *cc, struct sector_request *req)
{
	memset(req->iv, 0, cc->iv_size);
	put_be64(req->iv + cc->iv_size - 8, req->iv_sector);
	return 0;
}

static int null_generate(struct udm_crypt *cc, struct sector_request *req)
{
	memset(req->iv, 0, cc->iv_size);
	return 0;
}

/* ESSIV: each subkey's salt is its hash; the salt keys an ECB transform of
 * the same cipher, which encrypts the plain64 IV. */
static int essiv_ctr(struct udm_crypt *cc, struct udm_error *err)
{
	uint8_t digest[UDM_MAX_DIGEST];

	if (udm_hash(cc->ivopts, "", 0, digest) < 0)
		return udm_error_set(err, "unknown ESSIV hash '%s': accepted hashes are %s",
				     cc->ivopts, udm_hash_names());
	return 0;
}

static int essiv_init_slot(struct udm_crypt *cc, struct crypt_slot *slot,
			   struct udm_error *err)
{
	unsigned subkey_size = crypt_subkey_size(cc);
	uint8_t salt[UDM_MAX_DIGEST];
	int r = 0;

	for (unsigned i = 0; i < cc->tfms_count; i++) {
		int len = udm_hash(cc->ivopts, cc->key + i * subkey_size, subkey_size, salt);

		if (len < 0) {
			r = -EINVAL;
			break;
		}
		r = udm_skcipher_alloc(&slot->essiv[i], cc->cipher_name, "ecb", err);
		if (!r)
			r = udm_skcipher_setkey(slot->essiv[i], salt, (size_t)len, err);
		if (r) {
			udm_error_set(err, "ESSIV hash %s gives a %d-byte salt, which is not a "
				      "valid %s key", cc->ivopts, len, cc->cipher_name);
			break;
		}
	}
	udm_wipe(salt, sizeof(salt));
	return r;
}

static int essiv_generate(struct udm_crypt *cc, struct sector_request *req)
{
	struct udm_skcipher *essiv = req->slot->essiv[req->key_index];

	/* Only the first cipher block of the IV is encrypted. */
	plain64_generate(cc, req);
	return udm_skcipher_crypt(essiv, NULL, req->iv, udm_skcipher_blocksize(essiv), true);
}

static int benbi_ctr(struct udm_crypt *cc, struct udm_error *err)
{
	unsigned bs = cc->block_size;
	unsigned log = 0;

	while ((1u << log) < bs)
		log++;
	if ((1u << log) != bs || log > 9)
		return udm_error_set(err, "IV generator benbi needs a cipher block size that is a "
				     "power of two up to 512, not %u", bs);
	cc->benbi_shift = 9 - log;
	return 0;
}

static int benbi_generate(struct udm_crypt *cc, struct sector_request *req)
{
	memset(req->iv, 0, cc->iv_size);
	put_be64(req->iv + cc->iv_size - 8, (req->iv_sector << cc->benbi_shift) + 1);
	return 0;
}

/* LMK version 3 has one more subkey than keycount, used as the IV seed.
 * All subkeys have the same length, so the seed shows in the key length. */
static int lmk_ctr(struct udm_crypt *cc, struct udm_error *err)
{
	if (cc->sector_size != 512)
		return udm_error_set(err, "IV generator lmk works only with 512-byte sectors");
	if (cc->key_size % cc->key_parts) {
		cc->key_parts++;
		cc->key_extra_size = cc->key_size / cc->key_parts;
	}
	return 0;
}

static int lmk_init(struct udm_crypt *cc, struct udm_error *err)
{
	unsigned subkey_size = cc->key_size / cc->key_parts;

	if (cc->key_parts == cc->tfms_count)
		return 0;
	cc->lmk_seed = udm_secure_alloc(LMK_SEED_SIZE);
	if (!cc->lmk_seed)
		return -ENOMEM;
	memcpy(cc->lmk_seed, cc->key + cc->tfms_count * subkey_size,
	       subkey_size < MD5_DIGEST_LENGTH ? subkey_size : MD5_DIGEST_LENGTH);
	return 0;
}

/* The IV is the raw MD5 state after whole blocks of input: no padding and
 * no finalization, so it is read from the context. */
static void lmk_compute(struct udm_crypt *cc, const struct sector_request *req, uint8_t *iv)
{
	uint32_t tail[4];
	uint32_t state[4];
	MD5_CTX md5;

	MD5_Init(&md5);
	if (cc->lmk_seed)
		MD5_Update(&md5, cc->lmk_seed, LMK_SEED_SIZE);
	MD5_Update(&md5, req->data + 16, 16 * 31);
	tail[0] = htole32((uint32_t)req->iv_sector);
	tail[1] = htole32((uint32_t)((req->iv_sector >> 32) & 0x00ffffff) | 0x80000000u);
	tail[2] = htole32(4024);
	tail[3] = 0;
	MD5_Update(&md5, tail, sizeof(tail));

	state[0] = htole32(md5.A);
	state[1] = htole32(md5.B);
	state[2] = htole32(md5.C);
	state[3] = htole32(md5.D);
	memcpy(iv, state, cc->iv_size);
	udm_wipe(&md5, sizeof(md5));
	udm_wipe(state, sizeof(state));
}

static int lmk_generate(struct udm_crypt *cc, struct sector_request *req)
{
	if (req->write)
		lmk_compute(cc, req, req->iv);
	else
		memset(req->iv, 0, cc->iv_size);
	return 0;
}

static int lmk_post(struct udm_crypt *cc, struct sector_request *req)
{
	uint8_t iv[UDM_MAX_IV];

	if (req->write)
		return 0;
	lmk_compute(cc, req, iv);
	for (unsigned i = 0; i < cc->iv_size; i++)
		req->data[i] ^= iv[i];
	udm_wipe(iv, sizeof(iv));
	return 0;
}

static int tcw_ctr(struct udm_crypt *cc, struct udm_error *err)
{
	if (cc->sector_size != 512)
		return udm_error_set(err, "IV generator tcw works only with 512-byte sectors");
	if (cc->key_size <= cc->iv_size + TCW_WHITENING_SIZE)
		return udm_error_set(err, "invalid key length %u bytes for tcw: it needs the "
				     "cipher key plus %u bytes of IV seed and %u of whitening",
				     cc->key_size, cc->iv_size, TCW_WHITENING_SIZE);
	cc->key_parts += 2;
	cc->key_extra_size = cc->iv_size + TCW_WHITENING_SIZE;
	return 0;
}

static int tcw_init(struct udm_crypt *cc, struct udm_error *err)
{
	unsigned offset = cc->key_size - cc->iv_size - TCW_WHITENING_SIZE;

	cc->tcw_iv_seed = udm_secure_alloc(cc->iv_size);
	cc->tcw_whitening = udm_secure_alloc(TCW_WHITENING_SIZE);
	if (!cc->tcw_iv_seed || !cc->tcw_whitening)
		return -ENOMEM;
	memcpy(cc->tcw_iv_seed, cc->key + offset, cc->iv_size);
	memcpy(cc->tcw_whitening, cc->key + offset + cc->iv_size, TCW_WHITENING_SIZE);
	return 0;
}

/* The kernel's "crc32" hash starts from ~0 and is not inverted at the end,
 * which is the complement of zlib's CRC-32. */
static uint32_t kernel_crc32(const uint8_t *p, size_t len)
{
	return ~(uint32_t)crc32(0, p, (uInt)len);
}

static void tcw_whiten(struct udm_crypt *cc, const struct sector_request *req)
{
	uint8_t buf[TCW_WHITENING_SIZE], sector[8];

	put_le64(sector, req->iv_sector);
	for (int i = 0; i < 16; i++)
		buf[i] = cc->tcw_whitening[i] ^ sector[i % 8];
	for (int i = 0; i < 4; i++) {
		uint32_t crc = htole32(kernel_crc32(buf + 4 * i, 4));

		memcpy(buf + 4 * i, &crc, 4);
	}
	for (int i = 0; i < 4; i++) {
		buf[i] ^= buf[12 + i];
		buf[4 + i] ^= buf[8 + i];
	}
	for (int i = 0; i < 512; i++)
		req->data[i] ^= buf[i % 8];
	udm_wipe(buf, sizeof(buf));
}

static int tcw_generate(struct udm_crypt *cc, struct sector_request *req)
{
	uint8_t sector[8];

	if (!req->write)
		tcw_whiten(cc, req);
	put_le64(sector, req->iv_sector);
	for (unsigned i = 0; i < cc->iv_size; i++)
		req->iv[i] = cc->tcw_iv_seed[i] ^ sector[i % 8];
	return 0;
}

static int tcw_post(struct udm_crypt *cc, struct sector_request *req)
{
	if (req->write)
		tcw_whiten(cc, req);
	return 0;
}

int udm_eboiv_ctr(struct udm_crypt *cc, struct udm_error *err)
{
	if (cc->block_size != cc->iv_size)
		return udm_error_set(err, "IV generator %s needs a chain mode whose block size "
				     "equals its IV size: %s-%s has block size %u and IV size %u",
				     cc->ivmode, cc->cipher_name, cc->chain_mode, cc->block_size,
				     cc->iv_size);
	return 0;
}

/* The byte offset of the sector, encrypted by the first transform as a
 * block of zeros with the offset for IV: E(offset) in CBC. */
int udm_eboiv_generate(struct udm_crypt *cc, struct sector_request *req)
{
	uint8_t offset_iv[UDM_MAX_IV] = { 0 };

	put_le64(offset_iv, req->iv_sector * cc->sector_size);
	memset(req->iv, 0, cc->iv_size);
	return udm_skcipher_crypt(req->slot->tfms[0], offset_iv, req->iv, cc->iv_size, true);
}

static const struct ivgen_ops ivgen_table[] = {
	{ .name = "plain", .generate = plain_generate },
	{ .name = "plain64", .generate = plain64_generate },
	{ .name = "plain64be", .generate = plain64be_generate },
	{ .name = "essiv", .ctr = essiv_ctr, .init_slot = essiv_init_slot,
	  .generate = essiv_generate },
	{ .name = "benbi", .ctr = benbi_ctr, .generate = benbi_generate },
	{ .name = "null", .generate = null_generate },
	{ .name = "lmk", .ctr = lmk_ctr, .init = lmk_init, .generate = lmk_generate,
	  .post = lmk_post },
	{ .name = "tcw", .ctr = tcw_ctr, .init = tcw_init, .generate = tcw_generate,
	  .post = tcw_post },
	{ .name = "eboiv", .ctr = udm_eboiv_ctr, .generate = udm_eboiv_generate },
	{ .name = "elephant", .ctr = udm_elephant_ctr, .init_slot = udm_elephant_init_slot,
	  .generate = udm_elephant_generate, .post = udm_elephant_post },
};

const struct ivgen_ops *udm_ivgen_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ivgen_table) / sizeof(ivgen_table[0]); i++)
		if (!strcmp(ivgen_table[i].name, name))
			return &ivgen_table[i];
	return NULL;
}

const char *udm_ivgen_names(void)
{
	return "plain, plain64, plain64be, essiv:HASH, benbi, null, lmk, tcw, eboiv, elephant";
}
