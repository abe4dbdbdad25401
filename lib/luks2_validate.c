// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Validation of the LUKS2 JSON metadata, before any of it is used. It checks
 * the type of every field udmcrypt reads, the references between key slots,
 * digests, segments and tokens, and every offset against the header, the key
 * slots area and the device. The rules are those cryptsetup 2.6 enforces.
 * A few are stricter (canonical numbers, 512-byte aligned areas, key
 * material that fits its area), and only hostile headers break them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "luks2.h"
#include "parse.h"

/* The layout that config describes, checked first. */
struct layout {
	uint64_t hdr_size;	/* one metadata copy */
	uint64_t json_size;
	uint64_t areas_end;	/* end of the key slots area */
	uint64_t device_size;
};

struct interval {
	uint64_t offset, size;
	int id;
};

static int invalid(struct udm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int invalid(struct udm_error *err, const char *fmt, ...)
{
	char line[UDM_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return udm_error_set(err, "invalid LUKS2 metadata: %s", line);
}

/* A section key: a decimal number below max without leading zeros. */
static int numbered_key(const char *key, int max, int *n)
{
	unsigned v;

	if (udm_parse_uint(key, &v) || v >= (unsigned)max || (key[0] == '0' && key[1]))
		return -EINVAL;
	*n = (int)v;
	return 0;
}

static bool is_string_array(json_object *array)
{
	if (!json_object_is_type(array, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(array); i++) {
		json_object *item = json_object_array_get_idx(array, i);

		if (!json_object_is_type(item, json_type_string))
			return false;
	}
	return true;
}

/* Checks that an optional member is an array of strings. */
static bool optional_strings(json_object *obj, const char *key)
{
	json_object *array;

	return !json_object_object_get_ex(obj, key, &array) || is_string_array(array);
}

/* Checks that every element of obj[key] names an existing member of section. */
static int check_references(json_object *obj, const char *key, json_object *section, int max,
			    const char *what, int id, struct udm_error *err)
{
	json_object *array;

	if (!json_object_object_get_ex(obj, key, &array) || !is_string_array(array))
		return invalid(err, "%s %d: '%s' must be an array of strings", what, id, key);
	for (size_t i = 0; i < json_object_array_length(array); i++) {
		const char *ref = json_object_get_string(json_object_array_get_idx(array, i));
		int n;

		if (numbered_key(ref, max, &n) || !luks2_numbered(section, n))
			return invalid(err, "%s %d: %s '%s' does not exist", what, id, key, ref);
	}
	return 0;
}

static int validate_config(json_object *jobj, struct layout *lay, struct udm_error *err)
{
	json_object *config = luks2_section(jobj, "config"), *requirements;
	uint64_t keyslots_size;

	if (!config)
		return invalid(err, "missing 'config' object");
	if (luks2_string_u64(config, "json_size", &lay->json_size))
		return invalid(err, "config.json_size must be a decimal string");
	if (lay->json_size != lay->hdr_size - LUKS2_HDR_BIN_LEN)
		return invalid(err, "config.json_size %" PRIu64 " does not match the header size "
			       "%" PRIu64 " minus the %d-byte binary header", lay->json_size,
			       lay->hdr_size, LUKS2_HDR_BIN_LEN);
	if (luks2_string_u64(config, "keyslots_size", &keyslots_size))
		return invalid(err, "config.keyslots_size must be a decimal string");
	if (keyslots_size % 4096 || keyslots_size > LUKS2_MAX_KEYSLOTS_SIZE)
		return invalid(err, "config.keyslots_size %" PRIu64 " is out of range: accepted "
			       "are multiples of 4096 up to %llu", keyslots_size,
			       LUKS2_MAX_KEYSLOTS_SIZE);
	lay->areas_end = 2 * lay->hdr_size + keyslots_size;
	if (lay->areas_end > lay->device_size)
		return invalid(err, "the key slots area ends at byte %" PRIu64 ", past the end of "
			       "the device (%" PRIu64 " bytes)", lay->areas_end, lay->device_size);

	if (!optional_strings(config, "flags"))
		return invalid(err, "config.flags must be an array of strings");
	if (json_object_object_get_ex(config, "requirements", &requirements) &&
	    (!json_object_is_type(requirements, json_type_object) ||
	     !optional_strings(requirements, "mandatory")))
		return invalid(err, "config.requirements must be an object whose 'mandatory' is an "
			       "array of strings");
	return 0;
}

/*
 * The kdf object of a luks2 key slot: the members its type uses. cryptsetup
 * 2.6 deletes other members while loading (its repair of headers written by
 * early versions), so they are accepted here, and kept.
 */
static int validate_kdf(json_object *kdf, int id, struct udm_error *err)
{
	const char *type = luks2_string(kdf, "type");
	uint32_t v;

	if (!type)
		return invalid(err, "keyslot %d: missing kdf.type", id);
	if (!luks2_string(kdf, "salt"))
		return invalid(err, "keyslot %d: kdf.salt must be a string", id);
	if (!strcmp(type, "pbkdf2")) {
		if (!luks2_string(kdf, "hash") || luks2_int_u32(kdf, "iterations", &v))
			return invalid(err, "keyslot %d: a pbkdf2 kdf needs hash (string) and "
				       "iterations (integer)", id);
	} else if (!strcmp(type, "argon2i") || !strcmp(type, "argon2id")) {
		if (luks2_int_u32(kdf, "time", &v) || luks2_int_u32(kdf, "memory", &v) ||
		    luks2_int_u32(kdf, "cpus", &v))
			return invalid(err, "keyslot %d: an %s kdf needs time, memory and cpus "
				       "(integers)", id, type);
	}
	/* Other kdf types load, as in cryptsetup, and fail when unlocked. */
	return 0;
}

static int validate_luks2_keyslot(json_object *ks, int id, uint64_t area_size,
				  struct udm_error *err)
{
	json_object *kdf, *af, *area;
	uint32_t key_size, stripes, area_key_size, priority;
	const char *type;

	luks2_int_u32(ks, "key_size", &key_size);
	if (!json_object_object_get_ex(ks, "kdf", &kdf) ||
	    !json_object_is_type(kdf, json_type_object))
		return invalid(err, "keyslot %d: missing 'kdf' object", id);
	if (validate_kdf(kdf, id, err))
		return -EINVAL;

	if (!json_object_object_get_ex(ks, "af", &af) || !json_object_is_type(af, json_type_object))
		return invalid(err, "keyslot %d: missing 'af' object", id);
	type = luks2_string(af, "type");
	if (!type || strcmp(type, "luks1"))
		return invalid(err, "keyslot %d: af.type must be \"luks1\"", id);
	if (!luks2_string(af, "hash") || luks2_int_u32(af, "stripes", &stripes))
		return invalid(err, "keyslot %d: a luks1 af has hash (string) and stripes "
			       "(integer)", id);

	json_object_object_get_ex(ks, "area", &area);
	type = luks2_string(area, "type");
	if (strcmp(type, "raw"))
		return invalid(err, "keyslot %d: area type '%s' is not supported: accepted is "
			       "raw", id, type);
	if (!luks2_string(area, "encryption") || luks2_int_u32(area, "key_size", &area_key_size))
		return invalid(err, "keyslot %d: a raw area has encryption (string) and key_size "
			       "(integer)", id);

	if (json_object_object_get_ex(ks, "priority", NULL) &&
	    luks2_int_u32(ks, "priority", &priority))
		return invalid(err, "keyslot %d: priority must be an integer", id);
	if (luks2_af_bytes(key_size, stripes) > area_size)
		return invalid(err, "keyslot %d: %" PRIu64 " bytes of key material do not fit in "
			       "its %" PRIu64 "-byte area", id, luks2_af_bytes(key_size, stripes),
			       area_size);
	return 0;
}

/* The area of any key slot type, as an interval inside the key slots area. */
static int read_area(json_object *ks, int id, const struct layout *lay, struct interval *iv,
		     struct udm_error *err)
{
	json_object *area;

	if (!json_object_object_get_ex(ks, "area", &area) ||
	    !json_object_is_type(area, json_type_object) || !luks2_string(area, "type"))
		return invalid(err, "keyslot %d: missing 'area' object with a type", id);
	if (luks2_string_u64(area, "offset", &iv->offset) ||
	    luks2_string_u64(area, "size", &iv->size))
		return invalid(err, "keyslot %d: area offset and size must be decimal strings", id);
	iv->id = id;

	if (iv->offset % 512 || iv->size % 512 || !iv->size)
		return invalid(err, "keyslot %d: area offset %" PRIu64 " and size %" PRIu64 " must "
			       "be non-zero multiples of 512", id, iv->offset, iv->size);
	if (iv->offset < 2 * lay->hdr_size)
		return invalid(err, "keyslot %d: area offset %" PRIu64 " is inside the metadata "
			       "(key slots start at %" PRIu64 ")", id, iv->offset,
			       2 * lay->hdr_size);
	if (iv->size > lay->areas_end || iv->offset > lay->areas_end - iv->size)
		return invalid(err, "keyslot %d: area %" PRIu64 "+%" PRIu64 " ends past the key "
			       "slots area (which ends at %" PRIu64 ")", id, iv->offset,
			       iv->size, lay->areas_end);
	return 0;
}

static int check_overlaps(const struct interval *iv, int n, const char *what,
			  struct udm_error *err)
{
	for (int i = 0; i < n; i++) {
		for (int j = i + 1; j < n; j++) {
			bool apart = iv[i].offset >= iv[j].offset + iv[j].size ||
				     iv[j].offset >= iv[i].offset + iv[i].size;

			if (!apart)
				return invalid(err, "%s %d and %d overlap", what, iv[i].id,
					       iv[j].id);
		}
	}
	return 0;
}

static int validate_keyslots(json_object *jobj, const struct layout *lay, struct udm_error *err)
{
	json_object *keyslots = luks2_section(jobj, "keyslots");
	struct interval areas[LUKS2_KEYSLOTS_MAX];
	int n = 0;

	if (!keyslots)
		return invalid(err, "missing 'keyslots' object");
	json_object_object_foreach(keyslots, key, ks) {
		uint32_t key_size;
		const char *type;
		int id;

		if (numbered_key(key, LUKS2_KEYSLOTS_MAX, &id))
			return invalid(err, "keyslot name '%s': accepted are 0 to %d", key,
				       LUKS2_KEYSLOTS_MAX - 1);
		type = luks2_string(ks, "type");
		if (!json_object_is_type(ks, json_type_object) || !type)
			return invalid(err, "keyslot %d: must be an object with a type", id);
		if (luks2_int_u32(ks, "key_size", &key_size))
			return invalid(err, "keyslot %d: key_size must be an integer", id);
		if (read_area(ks, id, lay, &areas[n], err))
			return -EINVAL;
		if (!strcmp(type, "luks2") && validate_luks2_keyslot(ks, id, areas[n].size, err))
			return -EINVAL;
		n++;
	}
	return check_overlaps(areas, n, "keyslot areas of keyslots", err);
}

static int validate_crypt_segment(json_object *seg, int id, uint64_t size, struct udm_error *err)
{
	json_object *integrity;
	uint32_t sector_size;
	uint64_t iv_tweak;

	if (luks2_string_u64(seg, "iv_tweak", &iv_tweak))
		return invalid(err, "segment %d: iv_tweak must be a decimal string", id);
	if (!luks2_string(seg, "encryption"))
		return invalid(err, "segment %d: encryption must be a string", id);
	if (luks2_int_u32(seg, "sector_size", &sector_size) || sector_size < 512 ||
	    sector_size > 4096 || (sector_size & (sector_size - 1)))
		return invalid(err, "segment %d: sector_size must be 512, 1024, 2048 or 4096", id);
	if (size % sector_size)
		return invalid(err, "segment %d: size %" PRIu64 " is not a multiple of the sector "
			       "size %" PRIu32, id, size, sector_size);
	if (json_object_object_get_ex(seg, "integrity", &integrity) &&
	    (!json_object_is_type(integrity, json_type_object) ||
	     !luks2_string(integrity, "type") || !luks2_string(integrity, "journal_encryption") ||
	     !luks2_string(integrity, "journal_integrity")))
		return invalid(err, "segment %d: integrity must be an object with type, "
			       "journal_encryption and journal_integrity strings", id);
	return 0;
}

static bool segment_is_backup(json_object *seg)
{
	json_object *flags;

	if (!json_object_object_get_ex(seg, "flags", &flags))
		return false;
	for (size_t i = 0; i < json_object_array_length(flags); i++)
		if (!strncmp(json_object_get_string(json_object_array_get_idx(flags, i)),
			     "backup-", 7))
			return true;
	return false;
}

static int validate_segment(json_object *seg, int id, const struct layout *lay,
			    struct interval *iv, struct udm_error *err)
{
	const char *type, *size;

	if (!json_object_is_type(seg, json_type_object) || !(type = luks2_string(seg, "type")))
		return invalid(err, "segment %d: must be an object with a type", id);
	if (luks2_string_u64(seg, "offset", &iv->offset) || iv->offset % 512)
		return invalid(err, "segment %d: offset must be a decimal string, a multiple of "
			       "512", id);
	size = luks2_string(seg, "size");
	iv->size = 0;
	if (!size || (strcmp(size, "dynamic") &&
		      (udm_parse_u64(size, &iv->size) || !iv->size || iv->size % 512)))
		return invalid(err, "segment %d: size must be \"dynamic\" or a non-zero multiple "
			       "of 512 as a decimal string", id);
	if (iv->size > UINT64_MAX - iv->offset)
		return invalid(err, "segment %d: offset and size exceed 64 bits", id);
	if (!optional_strings(seg, "flags"))
		return invalid(err, "segment %d: flags must be an array of strings", id);
	if (iv->offset && iv->offset < lay->areas_end)
		return invalid(err, "segment %d: offset %" PRIu64 " is inside the header and key "
			       "slots area, which ends at %" PRIu64, id, iv->offset,
			       lay->areas_end);
	if (!strcmp(type, "crypt") && validate_crypt_segment(seg, id, iv->size, err))
		return -EINVAL;
	iv->id = id;
	return 0;
}

static int validate_segments(json_object *jobj, const struct layout *lay, struct udm_error *err)
{
	json_object *segments = luks2_section(jobj, "segments");
	struct interval iv[LUKS2_SEGMENTS_MAX];
	int count, n = 0;

	if (!segments || !(count = json_object_object_length(segments)))
		return invalid(err, "missing or empty 'segments' object");
	if (count > LUKS2_SEGMENTS_MAX)
		return invalid(err, "%d segments: the maximum is %d", count, LUKS2_SEGMENTS_MAX);
	json_object_object_foreach(segments, key, unused) {
		int id;

		(void)unused;
		if (numbered_key(key, count, &id))
			return invalid(err, "segment name '%s': segments are numbered 0 to %d "
				       "without gaps", key, count - 1);
	}
	for (int id = 0; id < count; id++) {
		json_object *seg = luks2_numbered(segments, id);
		struct interval cur;

		if (validate_segment(seg, id, lay, &cur, err))
			return -EINVAL;
		if (segment_is_backup(seg))
			continue;
		/* A "dynamic" segment reaches the end of the device. */
		if (n && !iv[n - 1].size)
			return invalid(err, "segment %d follows the dynamic segment %d", id,
				       iv[n - 1].id);
		iv[n++] = cur;
	}
	for (int i = 0; i < n; i++)
		if (!iv[i].size)
			iv[i].size = UINT64_MAX - iv[i].offset;
	return check_overlaps(iv, n, "segments", err);
}

static int validate_digests(json_object *jobj, struct udm_error *err)
{
	json_object *digests = luks2_section(jobj, "digests");
	json_object *keyslots = luks2_section(jobj, "keyslots");
	json_object *segments = luks2_section(jobj, "segments");

	if (!digests)
		return invalid(err, "missing 'digests' object");
	json_object_object_foreach(digests, key, dg) {
		const char *type;
		uint32_t iterations;
		int id;

		if (numbered_key(key, LUKS2_DIGESTS_MAX, &id))
			return invalid(err, "digest name '%s': accepted are 0 to %d", key,
				       LUKS2_DIGESTS_MAX - 1);
		type = luks2_string(dg, "type");
		if (!json_object_is_type(dg, json_type_object) || !type)
			return invalid(err, "digest %d: must be an object with a type", id);
		if (check_references(dg, "keyslots", keyslots, LUKS2_KEYSLOTS_MAX, "digest", id,
				     err) ||
		    check_references(dg, "segments", segments, LUKS2_SEGMENTS_MAX, "digest", id,
				     err))
			return -EINVAL;
		if (!strcmp(type, "pbkdf2") &&
		    (!luks2_string(dg, "hash") || luks2_int_u32(dg, "iterations", &iterations) ||
		     !luks2_string(dg, "salt") || !luks2_string(dg, "digest")))
			return invalid(err, "digest %d: a pbkdf2 digest has hash, salt and digest "
				       "(strings) and iterations (integer)", id);
	}
	return 0;
}

static int validate_tokens(json_object *jobj, struct udm_error *err)
{
	json_object *tokens = luks2_section(jobj, "tokens");
	json_object *keyslots = luks2_section(jobj, "keyslots");

	if (!tokens)
		return invalid(err, "missing 'tokens' object");
	json_object_object_foreach(tokens, key, token) {
		const char *type;
		int id;

		if (numbered_key(key, LUKS2_TOKENS_MAX, &id))
			return invalid(err, "token name '%s': accepted are 0 to %d", key,
				       LUKS2_TOKENS_MAX - 1);
		if (!json_object_is_type(token, json_type_object) ||
		    !(type = luks2_string(token, "type")))
			return invalid(err, "token %d: must be an object with a type", id);
		if (check_references(token, "keyslots", keyslots, LUKS2_KEYSLOTS_MAX, "token", id,
				     err))
			return -EINVAL;
		if (!strcmp(type, "luks2-keyring") && !luks2_string(token, "key_description"))
			return invalid(err, "token %d: a luks2-keyring token needs key_description",
				       id);
	}
	return 0;
}

/* Every luks2 key slot belongs to exactly one digest, every crypt segment to
 * at least one. */
static int validate_assignments(json_object *jobj, struct udm_error *err)
{
	json_object *digests = luks2_section(jobj, "digests");

	json_object_object_foreach(luks2_section(jobj, "keyslots"), key, ks) {
		json_object *list;
		unsigned id;
		int count = 0;

		udm_parse_uint(key, &id);
		if (strcmp(luks2_string(ks, "type"), "luks2"))
			continue;
		json_object_object_foreach(digests, dkey, dg) {
			(void)dkey;
			json_object_object_get_ex(dg, "keyslots", &list);
			count += luks2_array_has(list, (int)id);
		}
		if (count != 1)
			return invalid(err, "keyslot %u is listed by %d digests: it needs exactly "
				       "one", id, count);
	}
	json_object_object_foreach(luks2_section(jobj, "segments"), skey, seg) {
		unsigned id;

		udm_parse_uint(skey, &id);
		if (!strcmp(luks2_string(seg, "type"), "crypt") &&
		    luks2_digest_of(jobj, "segments", (int)id) < 0)
			return invalid(err, "segment %u has no digest", id);
	}
	return 0;
}

int luks2_json_validate(json_object *jobj, uint64_t hdr_size, uint64_t device_size,
			struct udm_error *err)
{
	struct layout lay = { .hdr_size = hdr_size, .device_size = device_size };
	size_t text_len;

	if (validate_config(jobj, &lay, err) || validate_keyslots(jobj, &lay, err) ||
	    validate_segments(jobj, &lay, err) || validate_digests(jobj, err) ||
	    validate_tokens(jobj, err) || validate_assignments(jobj, err))
		return -EINVAL;

	text_len = strlen(luks2_json_text(jobj));
	if (text_len >= lay.json_size)
		return invalid(err, "the JSON text (%zu bytes) does not fit in the %" PRIu64
			       "-byte JSON area with its terminating NUL", text_len, lay.json_size);
	return 0;
}
