// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * New LUKS2 metadata objects: key slots with their area in the key slots
 * area, and pbkdf2 digests of the volume key. The JSON members, their order
 * and the defaults (area encryption, area size, digest cost) are those of
 * cryptsetup 2.6, so that both tools produce the same metadata.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypt.h"
#include "log.h"
#include "luks2.h"
#include "secmem.h"

/* The default area encryption when the segment's cannot be used. */
#define KEYSLOT_DEFAULT_CIPHER "aes-xts-plain64"
#define KEYSLOT_DEFAULT_KEY_SIZE 64

struct area {
	uint64_t offset, size;
};

static int compare_areas(const void *a, const void *b)
{
	const struct area *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int luks2_area_find(json_object *jobj, uint64_t hdr_size, uint32_t key_size, uint64_t *offset,
		    uint64_t *size)
{
	uint64_t need = ((uint64_t)key_size * LUKS2_STRIPES + 4095) / 4096 * 4096;
	uint64_t pos = 2 * hdr_size, end = pos + luks2_keyslots_size(jobj);
	struct area used[LUKS2_KEYSLOTS_MAX];
	int n = 0;

	json_object_object_foreach(luks2_section(jobj, "keyslots"), key, ks) {
		json_object *area;

		(void)key;
		json_object_object_get_ex(ks, "area", &area);
		luks2_string_u64(area, "offset", &used[n].offset);
		luks2_string_u64(area, "size", &used[n].size);
		n++;
	}
	qsort(used, (size_t)n, sizeof(used[0]), compare_areas);

	/* The first gap that fits, with areas starting on 4096-byte boundaries. */
	for (int i = 0; i < n; i++) {
		uint64_t used_end = (used[i].offset + used[i].size + 4095) / 4096 * 4096;

		if (pos + need <= used[i].offset)
			break;
		if (used_end > pos)
			pos = used_end;
	}
	if (pos + need > end)
		return -ENOSPC;
	*offset = pos;
	*size = need;
	return 0;
}

/*
 * Picks the area encryption as cryptsetup 2.6 does: the segment's cipher
 * with a key of the volume key's size. The kernel API form, cipher_null and
 * ciphers udmcrypt cannot key that way fall back to aes-xts-plain64 with a
 * 512-bit key.
 */
static void keyslot_cipher(json_object *jobj, size_t key_len, const char **encryption,
			   uint32_t *area_key_size)
{
	const char *cipher = luks2_string(luks2_numbered(luks2_section(jobj, "segments"), 0),
					  "encryption");
	char *hex = udm_secure_alloc(2 * key_len + 1);
	struct udm_crypt_args args = { .cipher = cipher, .key = hex, .length = 8 };
	struct udm_crypt *cc = NULL;

	*encryption = KEYSLOT_DEFAULT_CIPHER;
	*area_key_size = KEYSLOT_DEFAULT_KEY_SIZE;
	if (!hex || !cipher || !strncmp(cipher, "capi:", 5) || !strncmp(cipher, "cipher_null", 11))
		goto out;
	/* A probe key with distinct halves, which XTS requires. */
	for (size_t i = 0; i < key_len; i++)
		snprintf(hex + 2 * i, 3, "%02zx", i & 0xff);
	if (!udm_crypt_new(&cc, &args, NULL)) {
		*encryption = cipher;
		*area_key_size = (uint32_t)key_len;
	}
	udm_crypt_free(cc);
out:
	udm_secure_free(hex);
}

static int add_string(json_object *obj, const char *key, const char *value)
{
	json_object *s = json_object_new_string(value);

	if (!s || json_object_object_add(obj, key, s)) {
		json_object_put(s);
		return -ENOMEM;
	}
	return 0;
}

static int add_int(json_object *obj, const char *key, int64_t value)
{
	json_object *i = json_object_new_int64(value);

	if (!i || json_object_object_add(obj, key, i)) {
		json_object_put(i);
		return -ENOMEM;
	}
	return 0;
}

static int add_u64_string(json_object *obj, const char *key, uint64_t value)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, value);
	return add_string(obj, key, num);
}

static int add_object(json_object *obj, const char *key, json_object **child)
{
	*child = json_object_new_object();
	if (!*child || json_object_object_add(obj, key, *child)) {
		json_object_put(*child);
		return -ENOMEM;
	}
	return 0;
}

static int add_array(json_object *obj, const char *key)
{
	json_object *array = json_object_new_array();

	if (!array || json_object_object_add(obj, key, array)) {
		json_object_put(array);
		return -ENOMEM;
	}
	return 0;
}

static int add_salt(json_object *obj, const char *key, uint8_t *salt)
{
	char *text;
	int r = udm_random_bytes(salt, LUKS2_SALT_SIZE);

	if (r)
		return r;
	text = luks2_base64_encode(salt, LUKS2_SALT_SIZE);
	r = text ? add_string(obj, key, text) : -ENOMEM;
	free(text);
	return r;
}

/* The kdf object, members in cryptsetup's order. */
static int add_kdf(json_object *ks_obj, const struct luks2_keyslot *ks, uint8_t *salt)
{
	const struct udm_pbkdf *p = &ks->pbkdf;
	json_object *kdf;
	int r = add_object(ks_obj, "kdf", &kdf);

	if (!r)
		r = add_string(kdf, "type", p->type);
	if (!r && !strcmp(p->type, "pbkdf2")) {
		r = add_string(kdf, "hash", p->hash);
		if (!r)
			r = add_int(kdf, "iterations", p->iterations);
	} else if (!r) {
		r = add_int(kdf, "time", p->iterations);
		if (!r)
			r = add_int(kdf, "memory", p->memory_kb);
		if (!r)
			r = add_int(kdf, "cpus", p->parallel);
	}
	return r ? r : add_salt(kdf, "salt", salt);
}

static int keyslot_json(const struct luks2_keyslot *ks, json_object *ks_obj, uint8_t *salt)
{
	json_object *af, *area;
	int r = add_string(ks_obj, "type", "luks2");

	if (!r)
		r = add_int(ks_obj, "key_size", ks->key_size);
	if (!r)
		r = add_object(ks_obj, "af", &af);
	if (!r)
		r = add_string(af, "type", "luks1");
	if (!r)
		r = add_int(af, "stripes", ks->stripes);
	if (!r)
		r = add_string(af, "hash", ks->af_hash);
	if (!r)
		r = add_object(ks_obj, "area", &area);
	if (!r)
		r = add_string(area, "type", "raw");
	if (!r)
		r = add_u64_string(area, "offset", ks->area_offset);
	if (!r)
		r = add_u64_string(area, "size", ks->area_size);
	if (!r)
		r = add_string(area, "encryption", ks->encryption);
	if (!r)
		r = add_int(area, "key_size", ks->area_key_size);
	return r ? r : add_kdf(ks_obj, ks, salt);
}

int luks2_keyslot_new(json_object *jobj, uint64_t hdr_size, int slot, size_t key_len,
		      const struct udm_pbkdf *pbkdf, const char *af_hash, struct luks2_keyslot *ks,
		      struct udm_error *err)
{
	json_object *keyslots = luks2_section(jobj, "keyslots"), *ks_obj, *digest, *list;
	char name[16];
	int r, digest_id = luks2_digest_of(jobj, "segments", 0);

	memset(ks, 0, sizeof(*ks));
	if (digest_id < 0)
		return udm_error_set(err, "segment 0 has no digest to bind key slot %d to", slot);
	ks->id = slot;
	ks->key_size = (uint32_t)key_len;
	ks->pbkdf = *pbkdf;
	ks->stripes = LUKS2_STRIPES;
	snprintf(ks->af_hash, sizeof(ks->af_hash), "%s", af_hash);
	keyslot_cipher(jobj, key_len, &ks->encryption, &ks->area_key_size);
	ks->digest = digest_id;

	if (luks2_area_find(jobj, hdr_size, ks->key_size, &ks->area_offset, &ks->area_size)) {
		udm_error_set(err, "no space left in the key slots area for a %zu-byte key",
			      key_len);
		return -ENOSPC;
	}
	ks_obj = json_object_new_object();
	if (!ks_obj)
		return -ENOMEM;
	snprintf(name, sizeof(name), "%d", slot);
	r = json_object_object_add(keyslots, name, ks_obj) ? -ENOMEM : 0;
	if (r) {
		json_object_put(ks_obj);
		return r;
	}
	r = keyslot_json(ks, ks_obj, ks->salt);
	/* The strings in ks must point into the JSON, which outlives it. */
	if (!r) {
		json_object *area;

		json_object_object_get_ex(ks_obj, "area", &area);
		ks->encryption = luks2_string(area, "encryption");
		digest = luks2_numbered(luks2_section(jobj, "digests"), digest_id);
		json_object_object_get_ex(digest, "keyslots", &list);
		r = luks2_array_add(list, slot);
	}
	return r;
}

int luks2_digest_create(json_object *jobj, int id, const char *hash, bool benchmark,
			const uint8_t *key, size_t key_len, struct udm_error *err)
{
	struct luks2_digest dg = { .id = id };
	struct udm_pbkdf pbkdf = { .type = "pbkdf2" };
	json_object *digest;
	char name[16], *text = NULL;
	uint8_t probe[UDM_MAX_DIGEST];
	int r, len = udm_hash(hash, "", 0, probe);

	if (len <= 0)
		return udm_error_set(err, "unknown digest hash '%s': accepted are %s", hash,
				     udm_hash_names());
	snprintf(pbkdf.hash, sizeof(pbkdf.hash), "%s", hash);
	pbkdf.iterations = LUKS2_DIGEST_MIN_ITERATIONS;
	if (benchmark) {
		r = udm_pbkdf_benchmark(&pbkdf, LUKS2_DIGEST_ITER_TIME_MS, key_len);
		if (r)
			return udm_error_set(err, "PBKDF2 benchmark for the digest failed: %s",
					     strerror(-r));
		if (pbkdf.iterations < LUKS2_DIGEST_MIN_ITERATIONS)
			pbkdf.iterations = LUKS2_DIGEST_MIN_ITERATIONS;
	}
	r = udm_random_bytes(dg.salt, sizeof(dg.salt));
	if (!r)
		r = udm_pbkdf_derive(&pbkdf, key, key_len, dg.salt, sizeof(dg.salt), dg.value,
				     (size_t)len);
	if (r)
		return udm_error_set(err, "cannot compute the volume key digest: %s", strerror(-r));

	snprintf(name, sizeof(name), "%d", id);
	r = add_object(luks2_section(jobj, "digests"), name, &digest);
	if (!r)
		r = add_string(digest, "type", "pbkdf2");
	/* The lists of key slots and segments are filled by the caller. */
	if (!r)
		r = add_array(digest, "keyslots");
	if (!r)
		r = add_array(digest, "segments");
	if (!r)
		r = add_string(digest, "hash", hash);
	if (!r)
		r = add_int(digest, "iterations", pbkdf.iterations);
	if (!r) {
		text = luks2_base64_encode(dg.salt, sizeof(dg.salt));
		r = text ? add_string(digest, "salt", text) : -ENOMEM;
		free(text);
	}
	if (!r) {
		text = luks2_base64_encode(dg.value, (size_t)len);
		r = text ? add_string(digest, "digest", text) : -ENOMEM;
		free(text);
	}
	udm_wipe(&dg, sizeof(dg));
	return r;
}
