// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS1 key slots, after the LUKS1 on-disk format specification, version
 * 1.2.3. PBKDF2 with the header's hash derives a slot key from the
 * passphrase and the slot's salt. The volume key, split into 4000 stripes
 * (af.c), is encrypted with the volume's cipher under the slot key, the way
 * dm-crypt encrypts a mapping that starts at the key material with IV offset
 * 0. A candidate volume key is right when its PBKDF2 digest matches the
 * header's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "af.h"
#include "crypt.h"
#include "log.h"
#include "luks1_internal.h"
#include "pbkdf.h"
#include "secmem.h"

/* The iteration time udm_pbkdf_from_params() aims at when none is given. */
#define DEFAULT_ITER_TIME_MS 2000

void luks1_hex(const uint8_t *key, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static bool null_cipher(const struct luks1_header *hdr)
{
	return !strcmp(hdr->cipher_name, "cipher_null");
}

static void pbkdf2_of(const struct luks1_header *hdr, uint32_t iterations, struct udm_pbkdf *kdf)
{
	memset(kdf, 0, sizeof(*kdf));
	snprintf(kdf->type, sizeof(kdf->type), "pbkdf2");
	snprintf(kdf->hash, sizeof(kdf->hash), "%s", hdr->hash_spec);
	kdf->iterations = iterations;
}

int luks1_check_passphrase(const struct luks1_header *hdr, size_t pass_len,
			   struct udm_error *err)
{
	if (null_cipher(hdr) && pass_len)
		return udm_error_set(err, "invalid passphrase for cipher_null: its key slots are "
				     "stored in the clear and open only with the empty passphrase");
	return 0;
}

/* Keys a crypt target with the header's cipher over sectors sectors. */
static int crypt_for(const struct luks1_header *hdr, const uint8_t *key, uint64_t sectors,
		     struct udm_crypt **ccp, struct udm_error *err)
{
	char spec[2 * LUKS1_NAME_BYTES];
	char *hex = udm_secure_alloc(2 * (size_t)hdr->key_bytes + 1);
	struct udm_crypt_args args = { .cipher = spec, .key = hex, .length = sectors };
	struct udm_error inner = { { 0 } };
	int r;

	if (!hex)
		return -ENOMEM;
	snprintf(spec, sizeof(spec), "%s-%s", hdr->cipher_name, hdr->cipher_mode);
	/* dm-crypt's cipher_null takes no key, and leaves its key slots in the clear. */
	if (null_cipher(hdr))
		snprintf(hex, 2, "-");
	else
		luks1_hex(key, hdr->key_bytes, hex);
	r = udm_crypt_new(ccp, &args, &inner);
	if (r)
		udm_error_set(err, "cannot use cipher %s with a %u-byte key: %s", spec,
			      hdr->key_bytes, inner.msg);
	udm_secure_free(hex);
	return r;
}

int luks1_check_cipher(const struct luks1_header *hdr, const uint8_t *key, struct udm_error *err)
{
	struct udm_crypt *cc = NULL;
	int r = crypt_for(hdr, key, luks1_material_sectors(hdr->key_bytes), &cc, err);

	udm_crypt_free(cc);
	return r;
}

/* Encrypts (write) or decrypts a key slot's key material in place. */
static int convert_material(const struct luks1_header *hdr, const uint8_t *slot_key,
			    uint8_t *material, size_t len, bool write, struct udm_error *err)
{
	struct udm_crypt *cc = NULL;
	int r = crypt_for(hdr, slot_key, len / LUKS1_SECTOR, &cc, err);

	if (!r) {
		r = udm_crypt_convert(cc, 0, material, len, write);
		if (r)
			udm_error_set(err, "cannot %s key material with %s-%s",
				      write ? "encrypt" : "decrypt", hdr->cipher_name,
				      hdr->cipher_mode);
	}
	udm_crypt_free(cc);
	return r;
}

int luks1_key_digest(const struct luks1_header *hdr, const uint8_t *key, size_t len,
		     uint8_t digest[LUKS1_DIGEST_BYTES])
{
	struct udm_pbkdf kdf;

	pbkdf2_of(hdr, hdr->mk_iterations, &kdf);
	return udm_pbkdf_derive(&kdf, key, len, hdr->mk_salt, LUKS1_SALT_BYTES, digest,
				LUKS1_DIGEST_BYTES);
}

int luks1_verify_key(struct udm_volume *vol, const struct udm_key *key)
{
	const struct luks1_header *hdr = luks1_hdr(vol);
	uint8_t digest[LUKS1_DIGEST_BYTES];
	int r;

	if (!key || key->size != hdr->key_bytes)
		return -EPERM;
	r = luks1_key_digest(hdr, key->data, key->size, digest);
	if (!r && !udm_memeq_consttime(digest, hdr->mk_digest, LUKS1_DIGEST_BYTES))
		r = -EPERM;
	udm_wipe(digest, sizeof(digest));
	return r;
}

int luks1_slot_pbkdf(const struct luks1_header *hdr, const struct udm_pbkdf_params *params,
		     uint32_t *iterations, unsigned *iter_time_ms, struct udm_error *err)
{
	struct udm_pbkdf_params requested = { 0 };
	struct udm_pbkdf kdf;
	int r;

	if (params)
		requested = *params;
	/* LUKS1 key slots use the header's hash, so, like cryptsetup, ignore any
	 * other hash requested. */
	requested.hash = hdr->hash_spec;
	r = udm_pbkdf_from_params(&kdf, &requested, UDM_VOLUME_LUKS1, hdr->key_bytes, err);
	if (r)
		return r;
	*iterations = kdf.iterations;
	if (requested.force_iterations)
		*iter_time_ms = 0;
	else if (requested.iter_time_ms)
		*iter_time_ms = requested.iter_time_ms;
	else
		*iter_time_ms = DEFAULT_ITER_TIME_MS;
	return 0;
}

/* Tries pass on one active key slot and fills key. Returns 0, -EPERM for a
 * wrong passphrase, or another negative errno with err set. */
static int open_slot(struct udm_volume *vol, int slot, const char *pass, size_t pass_len,
		     struct udm_key *key, struct udm_error *err)
{
	const struct luks1_header *hdr = luks1_hdr(vol);
	const struct luks1_keyslot *s = &hdr->slots[slot];
	size_t area = luks1_material_sectors(hdr->key_bytes) * LUKS1_SECTOR;
	uint8_t *slot_key = udm_secure_alloc(hdr->key_bytes);
	uint8_t *material = udm_secure_alloc(area);
	struct udm_pbkdf kdf;
	char what[32];
	int r = -ENOMEM;

	if (!slot_key || !material)
		goto out;
	pbkdf2_of(hdr, s->iterations, &kdf);
	snprintf(what, sizeof(what), "key slot %d", slot);
	r = udm_pbkdf_check_limits(&kdf, what, err);
	if (r)
		goto out;
	pbkdf2_of(hdr, hdr->mk_iterations, &kdf);
	r = udm_pbkdf_check_limits(&kdf, "the volume key digest", err);
	if (r)
		goto out;
	pbkdf2_of(hdr, s->iterations, &kdf);
	r = udm_pbkdf_derive(&kdf, pass, pass_len, s->salt, LUKS1_SALT_BYTES, slot_key,
			     hdr->key_bytes);
	if (r) {
		udm_error_set(err, "cannot derive the key of key slot %d with PBKDF2-%s: %s", slot,
			      hdr->hash_spec, strerror(-r));
		goto out;
	}
	r = udm_volume_read(vol, material, area, (uint64_t)s->material_offset * LUKS1_SECTOR);
	if (r) {
		udm_error_set(err, "cannot read the key material of key slot %d from %s: %s", slot,
			      vol->path, strerror(-r));
		goto out;
	}
	r = convert_material(hdr, slot_key, material, area, false, err);
	if (r)
		goto out;
	r = udm_af_merge(material, hdr->key_bytes, s->stripes, hdr->hash_spec, key->data);
	if (!r)
		r = luks1_verify_key(vol, key);
	/* cryptsetup accepts only the empty passphrase for cipher_null. */
	if (!r && null_cipher(hdr) && pass_len)
		r = -EPERM;
	if (r && r != -EPERM)
		udm_error_set(err, "cannot check key slot %d with hash %s: %s", slot,
			      hdr->hash_spec, strerror(-r));
out:
	udm_secure_free(material);
	udm_secure_free(slot_key);
	return r;
}

int luks1_unlock(struct udm_volume *vol, int keyslot, const char *pass, size_t pass_len,
		 struct udm_key **keyp, struct udm_error *err)
{
	const struct luks1_header *hdr = luks1_hdr(vol);
	struct udm_key *key;
	int r = -ENOENT, slot, tried = 0;

	if (keyslot < -1 || keyslot >= LUKS1_SLOTS) {
		udm_error_set(err, "key slot %d does not exist: LUKS1 has key slots 0 to %d",
			      keyslot, LUKS1_SLOTS - 1);
		return -ENOENT;
	}
	key = udm_key_new(hdr->key_bytes);
	if (!key)
		return -ENOMEM;

	for (slot = 0; slot < LUKS1_SLOTS; slot++) {
		if ((keyslot >= 0 && slot != keyslot) || !hdr->slots[slot].active)
			continue;
		tried++;
		r = open_slot(vol, slot, pass, pass_len, key, err);
		if (r != -EPERM)
			break;
	}
	if (!r) {
		*keyp = key;
		return slot;
	}
	udm_key_free(key);

	if (!tried && keyslot >= 0)
		udm_error_set(err, "key slot %d of %s is not active", keyslot, vol->path);
	else if (!tried)
		udm_error_set(err, "%s has no active key slot", vol->path);
	else if (r == -EPERM && keyslot >= 0)
		udm_error_set(err, "wrong passphrase for key slot %d of %s", keyslot, vol->path);
	else if (r == -EPERM)
		udm_error_set(err, "wrong passphrase: no key slot of %s accepts it", vol->path);
	return r;
}

int luks1_store_keyslot(struct udm_volume *vol, int slot, const struct udm_key *key,
			const char *pass, size_t pass_len, uint32_t iterations,
			struct udm_error *err)
{
	struct luks1_header *hdr = luks1_hdr(vol);
	struct luks1_keyslot *s = &hdr->slots[slot];
	size_t area = luks1_material_sectors(hdr->key_bytes) * LUKS1_SECTOR;
	uint8_t *slot_key = udm_secure_alloc(hdr->key_bytes);
	uint8_t *material = udm_secure_alloc(area);
	uint8_t salt[LUKS1_SALT_BYTES];
	struct udm_pbkdf kdf;
	int r = -ENOMEM;

	if (!slot_key || !material)
		goto out;
	pbkdf2_of(hdr, iterations, &kdf);
	r = udm_random_bytes(salt, sizeof(salt));
	if (!r)
		r = udm_pbkdf_derive(&kdf, pass, pass_len, salt, sizeof(salt), slot_key,
				     hdr->key_bytes);
	if (!r)
		r = udm_af_split(key->data, key->size, LUKS1_STRIPES, hdr->hash_spec, material);
	if (r) {
		udm_error_set(err, "cannot compute key slot %d with hash %s: %s", slot,
			      hdr->hash_spec, strerror(-r));
		goto out;
	}
	/* The bytes between the split key's end and the area's end stay zero. */
	r = convert_material(hdr, slot_key, material, area, true, err);
	if (r)
		goto out;
	r = udm_volume_write(vol, material, area, (uint64_t)s->material_offset * LUKS1_SECTOR);
	if (!r && udm_volume_sync(vol))
		r = -errno;
	if (r) {
		udm_error_set(err, "cannot write the key material of key slot %d to %s: %s", slot,
			      vol->path, strerror(-r));
		goto out;
	}
	s->active = true;
	s->iterations = iterations;
	memcpy(s->salt, salt, sizeof(salt));
out:
	udm_secure_free(material);
	udm_secure_free(slot_key);
	return r;
}

int luks1_add_key(struct udm_volume *vol, int keyslot, const struct udm_key *key,
		  const char *pass, size_t pass_len, const struct udm_pbkdf_params *params,
		  struct udm_error *err)
{
	struct luks1_header *hdr = luks1_hdr(vol);
	struct luks1_keyslot saved;
	unsigned iter_time_ms;
	uint32_t iterations;
	int slot = keyslot, r;

	if (keyslot < -1 || keyslot >= LUKS1_SLOTS)
		return udm_error_set(err, "invalid key slot %d: LUKS1 has key slots 0 to %d",
				     keyslot, LUKS1_SLOTS - 1);
	if (keyslot < 0) {
		for (slot = 0; slot < LUKS1_SLOTS && hdr->slots[slot].active; slot++)
			;
		if (slot == LUKS1_SLOTS) {
			udm_error_set(err, "all %d key slots of %s are in use", LUKS1_SLOTS,
				      vol->path);
			return -ENOSPC;
		}
	} else if (hdr->slots[slot].active) {
		udm_error_set(err, "key slot %d of %s is already in use", slot, vol->path);
		return -EEXIST;
	}
	if (!key || key->size != hdr->key_bytes)
		return udm_error_set(err, "the volume key has %zu bytes, %s uses %u",
				     key ? key->size : 0, vol->path, hdr->key_bytes);
	r = luks1_verify_key(vol, key);
	if (r) {
		udm_error_set(err, "the volume key does not match the LUKS1 header of %s",
			      vol->path);
		return r;
	}

	r = luks1_check_passphrase(hdr, pass_len, err);
	if (!r)
		r = luks1_slot_pbkdf(hdr, params, &iterations, &iter_time_ms, err);
	if (r)
		return r;
	saved = hdr->slots[slot];
	/* The slot is inactive on disk until the header write below. */
	r = luks1_store_keyslot(vol, slot, key, pass, pass_len, iterations, err);
	if (!r)
		r = luks1_write_header(vol, err);
	if (r) {
		hdr->slots[slot] = saved;
		return r;
	}
	return slot;
}

int luks1_kill_slot(struct udm_volume *vol, int keyslot, struct udm_error *err)
{
	struct luks1_header *hdr = luks1_hdr(vol);
	struct luks1_keyslot saved;
	size_t area;
	uint8_t *noise;
	int r;

	if (keyslot < 0 || keyslot >= LUKS1_SLOTS) {
		udm_error_set(err, "key slot %d does not exist: LUKS1 has key slots 0 to %d",
			      keyslot, LUKS1_SLOTS - 1);
		return -ENOENT;
	}
	if (!hdr->slots[keyslot].active) {
		udm_error_set(err, "key slot %d of %s is not active", keyslot, vol->path);
		return -ENOENT;
	}

	/* Destroy the key material first: a crash before the header write
	 * leaves an active slot that no passphrase opens, never a live one. */
	area = luks1_material_sectors(hdr->key_bytes) * LUKS1_SECTOR;
	noise = malloc(area);
	if (!noise)
		return -ENOMEM;
	r = udm_random_bytes(noise, area);
	if (!r)
		r = udm_volume_write(vol, noise, area,
				 (uint64_t)hdr->slots[keyslot].material_offset * LUKS1_SECTOR);
	if (!r && udm_volume_sync(vol))
		r = -errno;
	free(noise);
	if (r) {
		udm_error_set(err, "cannot wipe the key material of key slot %d on %s: %s",
			      keyslot, vol->path, strerror(-r));
		return r;
	}

	saved = hdr->slots[keyslot];
	hdr->slots[keyslot].active = false;
	hdr->slots[keyslot].iterations = 0;
	memset(hdr->slots[keyslot].salt, 0, LUKS1_SALT_BYTES);
	r = luks1_write_header(vol, err);
	if (r)
		hdr->slots[keyslot] = saved;
	return r;
}
