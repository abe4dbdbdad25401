// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS2 key slots of type "luks2" and digests of type "pbkdf2": reading
 * their JSON, opening a key slot (key derivation, area decryption, AF merge)
 * and storing one, and checking a volume key against its digest. The area
 * is encrypted as cryptsetup 2.6 does it through dm-crypt: the area's cipher
 * with the derived key, 512-byte sectors numbered from 0 at the start of the
 * key material.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "af.h"
#include "crypt.h"
#include "log.h"
#include "luks2.h"
#include "secmem.h"

uint64_t luks2_af_bytes(uint64_t key_size, uint64_t stripes)
{
	return (key_size * stripes + 511) / 512 * 512;
}

static int read_kdf(json_object *kdf, struct luks2_keyslot *ks, struct udm_error *err)
{
	const char *type = luks2_string(kdf, "type"), *salt = luks2_string(kdf, "salt");
	struct udm_pbkdf *p = &ks->pbkdf;

	snprintf(p->type, sizeof(p->type), "%s", type);
	if (!strcmp(type, "pbkdf2")) {
		const char *hash = luks2_string(kdf, "hash");

		if (strlen(hash) >= sizeof(p->hash))
			return udm_error_set(err, "key slot %d: kdf hash name too long", ks->id);
		snprintf(p->hash, sizeof(p->hash), "%s", hash);
		luks2_int_u32(kdf, "iterations", &p->iterations);
	} else if (!strcmp(type, "argon2i") || !strcmp(type, "argon2id")) {
		luks2_int_u32(kdf, "time", &p->iterations);
		luks2_int_u32(kdf, "memory", &p->memory_kb);
		luks2_int_u32(kdf, "cpus", &p->parallel);
		/* Bounds the memory a hostile header can make us allocate. */
		if (p->memory_kb > UDM_ARGON2_MAX_MEMORY_KB) {
			udm_error_set(err, "key slot %d: Argon2 memory cost %" PRIu32 " KiB is "
				      "above the maximum of %d KiB", ks->id, p->memory_kb,
				      UDM_ARGON2_MAX_MEMORY_KB);
			return -ENOTSUP;
		}
	} else {
		udm_error_set(err, "key slot %d: unknown PBKDF '%s': accepted are pbkdf2, argon2i "
			      "and argon2id", ks->id, type);
		return -ENOTSUP;
	}
	if (!p->iterations)
		return udm_error_set(err, "key slot %d: the PBKDF cost must not be 0", ks->id);
	if (luks2_base64_decode(salt, ks->salt, LUKS2_SALT_SIZE))
		return udm_error_set(err, "key slot %d: kdf salt must be %d bytes in base64",
				     ks->id, LUKS2_SALT_SIZE);
	return 0;
}

static int read_af_and_area(json_object *obj, struct luks2_keyslot *ks, struct udm_error *err)
{
	json_object *af, *area;
	const char *hash;

	json_object_object_get_ex(obj, "af", &af);
	json_object_object_get_ex(obj, "area", &area);
	hash = luks2_string(af, "hash");
	if (strlen(hash) >= sizeof(ks->af_hash))
		return udm_error_set(err, "key slot %d: AF hash name too long", ks->id);
	snprintf(ks->af_hash, sizeof(ks->af_hash), "%s", hash);
	luks2_int_u32(af, "stripes", &ks->stripes);
	/* cryptsetup reads every LUKS2 key slot with 4000 stripes regardless
	 * of this field, so another count cannot be opened compatibly. */
	if (ks->stripes != LUKS2_STRIPES) {
		udm_error_set(err, "key slot %d: unsupported AF stripes %" PRIu32 ": cryptsetup "
			      "and udmcrypt use %d", ks->id, ks->stripes, LUKS2_STRIPES);
		return -ENOTSUP;
	}
	ks->encryption = luks2_string(area, "encryption");
	luks2_int_u32(area, "key_size", &ks->area_key_size);
	luks2_string_u64(area, "offset", &ks->area_offset);
	luks2_string_u64(area, "size", &ks->area_size);
	if (!ks->area_key_size || ks->area_key_size > LUKS2_MAX_KEY_SIZE)
		return udm_error_set(err, "key slot %d: area key_size %" PRIu32 " is out of range: "
				     "accepted are 1 to %d bytes", ks->id, ks->area_key_size,
				     LUKS2_MAX_KEY_SIZE);
	return 0;
}

int luks2_keyslot_read(json_object *jobj, int slot, struct luks2_keyslot *ks,
		       struct udm_error *err)
{
	json_object *obj = luks2_numbered(luks2_section(jobj, "keyslots"), slot), *kdf;
	const char *type;
	int r;

	memset(ks, 0, sizeof(*ks));
	ks->id = slot;
	if (!obj) {
		udm_error_set(err, "key slot %d is not active", slot);
		return -ENOENT;
	}
	type = luks2_string(obj, "type");
	if (strcmp(type, "luks2")) {
		udm_error_set(err, "key slot %d has type '%s': udmcrypt opens only luks2 key slots",
			      slot, type);
		return -ENOTSUP;
	}
	luks2_int_u32(obj, "key_size", &ks->key_size);
	if (!ks->key_size || ks->key_size > LUKS2_MAX_KEY_SIZE)
		return udm_error_set(err, "key slot %d: key_size %" PRIu32 " is out of range: "
				     "accepted are 1 to %d bytes", slot, ks->key_size,
				     LUKS2_MAX_KEY_SIZE);

	json_object_object_get_ex(obj, "kdf", &kdf);
	r = read_kdf(kdf, ks, err);
	if (!r)
		r = read_af_and_area(obj, ks, err);
	if (r)
		return r;
	ks->digest = luks2_digest_of(jobj, "keyslots", slot);
	return 0;
}

int luks2_digest_read(json_object *jobj, int id, struct luks2_digest *dg, struct udm_error *err)
{
	json_object *obj = luks2_numbered(luks2_section(jobj, "digests"), id);
	const char *type, *hash;
	uint8_t probe[UDM_MAX_DIGEST];
	int hash_len;

	memset(dg, 0, sizeof(*dg));
	dg->id = id;
	if (!obj) {
		udm_error_set(err, "digest %d does not exist", id);
		return -ENOENT;
	}
	type = luks2_string(obj, "type");
	if (strcmp(type, "pbkdf2")) {
		udm_error_set(err, "digest %d has type '%s': accepted is pbkdf2", id, type);
		return -ENOTSUP;
	}
	hash = luks2_string(obj, "hash");
	hash_len = strlen(hash) < sizeof(dg->hash) ? udm_hash(hash, "", 0, probe) : -EINVAL;
	if (hash_len <= 0) {
		udm_error_set(err, "digest %d: unknown hash '%s'", id, hash);
		return -ENOTSUP;
	}
	snprintf(dg->hash, sizeof(dg->hash), "%s", hash);
	luks2_int_u32(obj, "iterations", &dg->iterations);
	if (!dg->iterations)
		return udm_error_set(err, "digest %d: iterations must not be 0", id);
	if (luks2_base64_decode(luks2_string(obj, "salt"), dg->salt, LUKS2_SALT_SIZE))
		return udm_error_set(err, "digest %d: salt must be %d bytes in base64", id,
				     LUKS2_SALT_SIZE);
	/* cryptsetup accepts the LUKS1 digest length (20) or the hash's. */
	if (luks2_base64_decode_max(luks2_string(obj, "digest"), dg->value, sizeof(dg->value),
				    &dg->value_len) ||
	    (dg->value_len != 20 && dg->value_len != (size_t)hash_len))
		return udm_error_set(err, "digest %d: the digest must be 20 or %d bytes in base64",
				     id, hash_len);
	return 0;
}

int luks2_digest_verify(const struct luks2_digest *dg, const uint8_t *key, size_t key_len)
{
	struct udm_pbkdf pbkdf = { .type = "pbkdf2", .iterations = dg->iterations };
	uint8_t computed[UDM_MAX_DIGEST];
	int r;

	snprintf(pbkdf.hash, sizeof(pbkdf.hash), "%s", dg->hash);
	r = udm_pbkdf_derive(&pbkdf, key, key_len, dg->salt, LUKS2_SALT_SIZE, computed,
			     dg->value_len);
	if (!r && !udm_memeq_consttime(computed, dg->value, dg->value_len))
		r = -EPERM;
	udm_wipe(computed, sizeof(computed));
	return r;
}

int luks2_area_crypt(const char *encryption, const uint8_t *key, size_t key_len, uint8_t *buf,
		     size_t len, bool encrypt, struct udm_error *err)
{
	char *hex = udm_secure_alloc(2 * key_len + 1);
	struct udm_crypt_args args = {
		.cipher = encryption,
		.key = hex,
		.iv_offset = 0,
		.length = len / 512,
	};
	struct udm_crypt *cc = NULL;
	int r;

	if (!hex)
		return -ENOMEM;
	for (size_t i = 0; i < key_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	r = udm_crypt_new(&cc, &args, err);
	if (!r) {
		r = udm_crypt_convert(cc, 0, buf, len, encrypt);
		if (r)
			udm_error_set(err, "cannot %s key slot material with %s",
				      encrypt ? "encrypt" : "decrypt", encryption);
	}
	udm_crypt_free(cc);
	udm_secure_free(hex);
	return r;
}

/* Derives the key slot's key from the passphrase into a new secure buffer. */
static int derive(const struct luks2_keyslot *ks, const char *pass, size_t pass_len,
		  uint8_t **derived, struct udm_error *err)
{
	int r;

	*derived = udm_secure_alloc(ks->area_key_size);
	if (!*derived)
		return -ENOMEM;
	r = udm_pbkdf_derive(&ks->pbkdf, pass, pass_len, ks->salt, LUKS2_SALT_SIZE, *derived,
			     ks->area_key_size);
	if (r == -ENOMEM)
		udm_error_set(err, "key slot %d: not enough memory for %s (%" PRIu32 " KiB)",
			      ks->id, ks->pbkdf.type, ks->pbkdf.memory_kb);
	else if (r)
		udm_error_set(err, "key slot %d: %s key derivation failed with these costs", ks->id,
			      ks->pbkdf.type);
	return r;
}

int luks2_keyslot_open(const struct udm_volume *vol, const struct luks2_keyslot *ks, const char *pass,
		       size_t pass_len, uint8_t *key, struct udm_error *err)
{
	size_t material_len = luks2_af_bytes(ks->key_size, ks->stripes);
	uint8_t *derived = NULL, *material = udm_secure_alloc(material_len);
	struct udm_error area_err = { .msg = "" };
	int r;

	if (!material)
		return -ENOMEM;
	r = derive(ks, pass, pass_len, &derived, err);
	if (r)
		goto out;
	r = udm_volume_read(vol, material, material_len, ks->area_offset);
	if (r) {
		udm_error_set(err, "cannot read the area of key slot %d: %s", ks->id, strerror(-r));
		goto out;
	}
	r = luks2_area_crypt(ks->encryption, derived, ks->area_key_size, material, material_len,
			     false, &area_err);
	if (r) {
		udm_error_set(err, "key slot %d: %s", ks->id, area_err.msg);
		goto out;
	}
	r = udm_af_merge(material, ks->key_size, ks->stripes, ks->af_hash, key);
	if (r == -EINVAL)
		udm_error_set(err, "key slot %d: cannot merge the key with AF hash '%s'", ks->id,
			      ks->af_hash);
out:
	udm_secure_free(derived);
	udm_secure_free(material);
	return r;
}

int luks2_keyslot_store(const struct udm_volume *vol, const struct luks2_keyslot *ks, const char *pass,
			size_t pass_len, const uint8_t *key, struct udm_error *err)
{
	size_t material_len = luks2_af_bytes(ks->key_size, ks->stripes);
	uint8_t *derived = NULL, *material = udm_secure_alloc(material_len);
	int r;

	if (!material)
		return -ENOMEM;
	r = derive(ks, pass, pass_len, &derived, err);
	if (r)
		goto out;
	r = udm_af_split(key, ks->key_size, ks->stripes, ks->af_hash, material);
	if (r) {
		udm_error_set(err, "key slot %d: cannot split the key with AF hash '%s'", ks->id,
			      ks->af_hash);
		goto out;
	}
	r = luks2_area_crypt(ks->encryption, derived, ks->area_key_size, material, material_len,
			     true, err);
	if (r)
		goto out;
	r = udm_volume_write(vol, material, material_len, ks->area_offset);
	if (!r && udm_volume_sync(vol))
		r = -errno;
	if (r)
		udm_error_set(err, "cannot write the area of key slot %d: %s", ks->id,
			      strerror(-r));
out:
	udm_secure_free(derived);
	udm_secure_free(material);
	return r;
}
