// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * BitLocker's Elephant diffuser (Niels Ferguson, "AES-CBC + Elephant
 * diffuser", Microsoft, 2006), as dm-crypt applies it: the plaintext sector
 * is XORed with a sector key, then mixed by diffusers A and B, then
 * encrypted in CBC with the eboiv IV. The second half of the table's key is
 * the AES key that derives the sector keys.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "ivgen_elephant.h"
#include "log.h"
#include "secmem.h"

#define ELEPHANT_MAX_KEY 32

int udm_elephant_ctr(struct udm_crypt *cc, struct udm_error *err)
{
	cc->key_parts = 2;
	cc->key_extra_size = cc->key_size / 2;
	if (cc->key_extra_size != 16 && cc->key_extra_size != 24 &&
	    cc->key_extra_size != ELEPHANT_MAX_KEY)
		return udm_error_set(err, "invalid key length %u bytes for elephant: it takes "
				     "an AES key of 16, 24 or 32 bytes twice", cc->key_size);
	return udm_eboiv_ctr(cc, err);
}

int udm_elephant_init_slot(struct udm_crypt *cc, struct crypt_slot *slot, struct udm_error *err)
{
	int r = udm_skcipher_alloc(&slot->elephant, "aes", "ecb", err);

	if (!r)
		r = udm_skcipher_setkey(slot->elephant,
					cc->key + cc->key_size - cc->key_extra_size,
					cc->key_extra_size, err);
	return r;
}

static uint32_t rotl32(uint32_t v, unsigned n)
{
	return n ? v << n | v >> (32 - n) : v;
}

/*
 * Diffuser A runs 5 cycles with source words 2 and 5 places back, and
 * diffuser B 3 cycles with words 2 and 5 places ahead; indices wrap. The
 * rotation of the second source depends on the word index modulo 4.
 * Decryption adds, from the first word on, and encryption subtracts, from
 * the last.
 */
static const unsigned rot_a[4] = { 9, 0, 13, 0 };
static const unsigned rot_b[4] = { 0, 10, 0, 25 };

static void diffuse(uint32_t *d, size_t n, bool encrypt, int cycles, int step,
		    const unsigned *rot)
{
	for (int c = 0; c < cycles; c++) {
		for (size_t k = 0; k < n; k++) {
			size_t i = encrypt ? n - 1 - k : k;
			size_t i2 = (i + n + 2 * step) % n;
			size_t i3 = (i + n + 5 * step) % n;
			uint32_t mix = d[i2] ^ rotl32(d[i3], rot[i % 4]);

			if (encrypt)
				d[i] -= mix;
			else
				d[i] += mix;
		}
	}
}

static void words_from_le(uint32_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = le32toh(d[i]);
}

static void words_to_le(uint32_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = htole32(d[i]);
}

static int elephant_apply(struct udm_crypt *cc, struct sector_request *req)
{
	size_t n = cc->sector_size / 4;
	uint8_t offset_block[16] = { 0 };
	uint8_t sector_key[32];
	uint64_t offset = htole64(req->iv_sector * cc->sector_size);
	uint32_t words[4096 / 4];
	int r;

	/* The sector key is E(offset) followed by E(offset with byte 15 = 0x80). */
	memcpy(offset_block, &offset, 8);
	memcpy(sector_key, offset_block, 16);
	offset_block[15] = 0x80;
	memcpy(sector_key + 16, offset_block, 16);
	r = udm_skcipher_crypt(req->slot->elephant, NULL, sector_key, 32, true);
	if (r)
		goto out;

	/* The diffusers work on little-endian 32-bit words; the copy also
	 * keeps unaligned request buffers out of the word arithmetic. */
	memcpy(words, req->data, cc->sector_size);
	words_from_le(words, n);
	if (!req->write) {
		diffuse(words, n, false, 3, 1, rot_b);
		diffuse(words, n, false, 5, -1, rot_a);
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t k;

		memcpy(&k, sector_key + 4 * (i % 8), 4);
		words[i] ^= le32toh(k);
	}
	if (req->write) {
		diffuse(words, n, true, 5, -1, rot_a);
		diffuse(words, n, true, 3, 1, rot_b);
	}
	words_to_le(words, n);
	memcpy(req->data, words, cc->sector_size);
out:
	udm_wipe(sector_key, sizeof(sector_key));
	udm_wipe(words, sizeof(words));
	return r;
}

int udm_elephant_generate(struct udm_crypt *cc, struct sector_request *req)
{
	if (req->write) {
		int r = elephant_apply(cc, req);

		if (r)
			return r;
	}
	return udm_eboiv_generate(cc, req);
}

int udm_elephant_post(struct udm_crypt *cc, struct sector_request *req)
{
	return req->write ? 0 : elephant_apply(cc, req);
}
