// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Formatting a LUKS2 volume with the defaults of cryptsetup 2.6 luksFormat.
 * These are aes-xts-plain64 with a 512-bit key, argon2id key slots and a
 * pbkdf2-sha256 digest sized by a 125 ms benchmark. The metadata copies take
 * 16 KiB each, the key slots area ends at 16 MiB and the data starts on the
 * next 1 MiB boundary, with 4096-byte sectors on image files. Every
 * parameter is checked before anything is written.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt.h"
#include "log.h"
#include "luks2.h"
#include "secmem.h"

#define WIPE_CHUNK (1024 * 1024)

/* Everything format needs, resolved from the parameters and checked. */
struct format_plan {
	char cipher[128];
	unsigned key_size;
	const char *hash;
	uint64_t hdr_size, keyslots_size, data_offset;	/* bytes */
	unsigned sector_size;
	char uuid[LUKS2_UUID_L];
	int keyslot;
	struct udm_pbkdf pbkdf;
	uint64_t device_size;
	bool regular_file;
	bool detached;		/* data_offset counts on another device */
};

static bool valid_hdr_size(uint64_t size)
{
	return size >= LUKS2_HDR_MIN_SIZE && size <= LUKS2_HDR_MAX_SIZE && !(size & (size - 1));
}

/* Metadata, key slots area and data offset, as cryptsetup 2.6 sizes them. */
static int plan_layout(const struct udm_format_params *params, struct format_plan *plan,
		       struct udm_error *err)
{
	uint64_t min, need;

	plan->hdr_size = params->metadata_size ? params->metadata_size : LUKS2_HDR_MIN_SIZE;
	if (!valid_hdr_size(plan->hdr_size))
		return udm_error_set(err, "invalid LUKS2 metadata size %" PRIu64 ": accepted are "
				     "powers of two from 16384 to 4194304 bytes", plan->hdr_size);
	min = 2 * plan->hdr_size;
	plan->detached = params->detached_header;
	plan->data_offset = plan->detached ? 0 : params->data_offset * 512;
	if (params->data_offset > UINT64_MAX / 512 ||
	    (plan->data_offset && plan->data_offset < min))
		return udm_error_set(err, "invalid data offset %" PRIu64 " sectors: the two "
				     "metadata copies alone take %" PRIu64 " sectors",
				     params->data_offset, min / 512);

	plan->keyslots_size = params->keyslots_size;
	if (plan->keyslots_size % 4096 || plan->keyslots_size > LUKS2_MAX_KEYSLOTS_SIZE)
		return udm_error_set(err, "invalid key slots area size %" PRIu64 ": accepted are "
				     "multiples of 4096 up to %llu bytes", plan->keyslots_size,
				     LUKS2_MAX_KEYSLOTS_SIZE);
	if (!plan->keyslots_size && plan->data_offset)
		plan->keyslots_size = plan->data_offset - min;
	if (!plan->keyslots_size)
		plan->keyslots_size = LUKS2_DEFAULT_HDR_AREA - min;
	if (plan->data_offset && plan->keyslots_size > plan->data_offset - min)
		plan->keyslots_size = plan->data_offset - min;
	if (plan->keyslots_size > LUKS2_MAX_KEYSLOTS_SIZE)
		plan->keyslots_size = LUKS2_MAX_KEYSLOTS_SIZE;
	plan->keyslots_size -= plan->keyslots_size % 4096;
	if (!plan->data_offset)
		plan->data_offset = (min + plan->keyslots_size + LUKS2_DATA_ALIGNMENT - 1) /
				    LUKS2_DATA_ALIGNMENT * LUKS2_DATA_ALIGNMENT;

	/* A detached header leaves the data device whole unless data_offset is given. */
	if (plan->detached)
		plan->data_offset = params->data_offset * 512;

	need = ((uint64_t)plan->key_size * LUKS2_STRIPES + 4095) / 4096 * 4096;
	if (plan->keyslots_size < need)
		return udm_error_set(err, "the key slots area (%" PRIu64 " bytes) is too small for "
				     "one key slot of a %u-byte key (%" PRIu64 " bytes)",
				     plan->keyslots_size, plan->key_size, need);
	return 0;
}

/* cryptsetup 2.6.1 picks 4096-byte sectors for image files whose data
 * offset and data size are multiples of 4096, and 512 otherwise. */
static int plan_sector_size(const struct udm_format_params *params, struct format_plan *plan,
			    struct udm_error *err)
{
	uint64_t data_size = plan->device_size > plan->data_offset ?
			     plan->device_size - plan->data_offset : 0;
	bool aligned = !(plan->data_offset % 4096) && !(data_size % 4096);
	unsigned s = params->sector_size;

	/* The data device of a detached header is unknown here. */
	if (!s)
		s = plan->regular_file && aligned && !plan->detached ? 4096 : 512;
	if (s < 512 || s > 4096 || (s & (s - 1)))
		return udm_error_set(err, "invalid sector size %u: accepted are 512, 1024, 2048 "
				     "and 4096", s);
	if (plan->data_offset % s)
		return udm_error_set(err, "data offset %" PRIu64 " bytes is not a multiple of the "
				     "%u-byte sector size", plan->data_offset, s);
	plan->sector_size = s;
	return 0;
}

static int plan_device(struct udm_volume *vol, struct format_plan *plan, struct udm_error *err)
{
	uint64_t header_end = 2 * plan->hdr_size + plan->keyslots_size;
	struct stat st;
	int r;

	if (fstat(vol->fd, &st))
		return udm_error_set(err, "cannot stat %s: %s", vol->path, strerror(errno));
	plan->regular_file = S_ISREG(st.st_mode);
	r = udm_fd_size(vol->fd, &plan->device_size);
	if (r)
		return udm_error_set(err, "cannot read the size of %s: %s", vol->path,
				     strerror(-r));
	/* A regular file smaller than the header areas is a detached header
	 * file; format extends it, as cryptsetup does for --header. */
	if (plan->regular_file && plan->device_size <= header_end)
		return 0;
	if (plan->device_size < header_end) {
		udm_error_set(err, "device %s is too small: the LUKS2 header needs %" PRIu64
			      " bytes", vol->path, header_end);
		return -ENOSPC;
	}
	if (!plan->detached && plan->device_size < plan->data_offset + 512) {
		udm_error_set(err, "device %s (%" PRIu64 " bytes) is too small for data at offset %"
			      PRIu64, vol->path, plan->device_size, plan->data_offset);
		return -ENOSPC;
	}
	return 0;
}

static int plan_cipher(const struct udm_format_params *params, const struct udm_key *key,
		       struct format_plan *plan, struct udm_error *err)
{
	const char *cipher = params->cipher ? params->cipher : "aes";
	const char *mode = params->cipher_mode ? params->cipher_mode : "xts-plain64";
	char *hex = udm_secure_alloc(2 * key->size + 1);
	struct udm_crypt_args args = { .cipher = plan->cipher, .key = hex, .length = 8 };
	struct udm_crypt *cc = NULL;
	struct udm_error crypt_err;
	int r;

	if (!hex)
		return -ENOMEM;
	if (*mode)
		r = snprintf(plan->cipher, sizeof(plan->cipher), "%s-%s", cipher, mode);
	else
		r = snprintf(plan->cipher, sizeof(plan->cipher), "%s", cipher);
	if ((size_t)r >= sizeof(plan->cipher)) {
		r = udm_error_set(err, "cipher specification '%s-%s' is too long", cipher, mode);
		goto out;
	}
	for (size_t i = 0; i < key->size; i++)
		snprintf(hex + 2 * i, 3, "%02x", key->data[i]);
	r = udm_crypt_new(&cc, &args, &crypt_err);
	if (r)
		udm_error_set(err, "cannot format with cipher '%s' and a %u-byte key: %s",
			      plan->cipher, plan->key_size, crypt_err.msg);
	udm_crypt_free(cc);
out:
	udm_secure_free(hex);
	return r;
}

static int plan_names(const struct udm_format_params *params, struct format_plan *plan,
		      struct udm_error *err)
{
	if (params->label && strlen(params->label) >= LUKS2_LABEL_L)
		return udm_error_set(err, "label '%s' is too long: the maximum is %d bytes",
				     params->label, LUKS2_LABEL_L - 1);
	if (params->subsystem && strlen(params->subsystem) >= LUKS2_LABEL_L)
		return udm_error_set(err, "subsystem '%s' is too long: the maximum is %d bytes",
				     params->subsystem, LUKS2_LABEL_L - 1);
	if (params->uuid && !udm_uuid_valid(params->uuid))
		return udm_error_set(err, "invalid UUID '%s': expected the form "
				     "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", params->uuid);
	if (!params->uuid)
		return udm_uuid_generate(plan->uuid);
	for (size_t i = 0; i < 36; i++) {
		char c = params->uuid[i];

		plan->uuid[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
	}
	return 0;
}

/* Resolves and checks every parameter; *keyp gets the volume key. */
static int make_plan(struct udm_volume *vol, const struct udm_format_params *params,
		     struct format_plan *plan, struct udm_key **keyp, struct udm_error *err)
{
	const char *mode = params->cipher_mode ? params->cipher_mode : "xts-plain64";
	struct udm_pbkdf_params pbkdf_params;
	int r;

	memset(plan, 0, sizeof(*plan));
	plan->hash = params->hash ? params->hash : "sha256";
	plan->key_size = params->key_size;
	if (!plan->key_size)
		plan->key_size = params->volume_key ? (unsigned)params->volume_key->size :
				 !strncmp(mode, "xts", 3) ? 64 : 32;
	if (!plan->key_size || plan->key_size > LUKS2_MAX_KEY_SIZE ||
	    (params->volume_key && params->volume_key->size != plan->key_size))
		return udm_error_set(err, "invalid key size %u bytes: accepted are 1 to %d, and "
				     "the size of a given volume key", plan->key_size,
				     LUKS2_MAX_KEY_SIZE);
	plan->keyslot = params->keyslot < 0 ? 0 : params->keyslot;
	if (plan->keyslot >= LUKS2_KEYSLOTS_MAX)
		return udm_error_set(err, "invalid key slot %d: accepted are 0 to %d",
				     params->keyslot, LUKS2_KEYSLOTS_MAX - 1);

	r = plan_layout(params, plan, err);
	if (!r)
		r = plan_device(vol, plan, err);
	if (!r)
		r = plan_sector_size(params, plan, err);
	if (!r)
		r = plan_names(params, plan, err);
	if (r)
		return r;

	*keyp = udm_key_new(plan->key_size);
	if (!*keyp)
		return -ENOMEM;
	if (params->volume_key)
		memcpy((*keyp)->data, params->volume_key->data, plan->key_size);
	else if ((r = udm_random_bytes((*keyp)->data, plan->key_size)))
		return r;
	/* As in cryptsetup, one hash serves PBKDF2, the AF splitter and the
	 * digest unless the PBKDF hash is given apart. */
	pbkdf_params = params->pbkdf;
	if (!pbkdf_params.hash)
		pbkdf_params.hash = plan->hash;
	r = plan_cipher(params, *keyp, plan, err);
	if (!r)
		r = udm_pbkdf_from_params(&plan->pbkdf, &pbkdf_params, UDM_VOLUME_LUKS2,
					  plan->key_size, err);
	return r;
}

static int add_member(json_object *obj, const char *key, json_object *val)
{
	if (!val || json_object_object_add(obj, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static json_object *u64_string(uint64_t value)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, value);
	return json_object_new_string(num);
}

/* The JSON of a volume without key slots, members in cryptsetup's order. */
static int initial_json(const struct format_plan *plan, json_object **jobjp)
{
	json_object *jobj = json_object_new_object(), *segments, *segment, *config;
	int r = jobj ? 0 : -ENOMEM;

	if (!r)
		r = add_member(jobj, "keyslots", json_object_new_object());
	if (!r)
		r = add_member(jobj, "tokens", json_object_new_object());
	if (!r)
		r = add_member(jobj, "segments", segments = json_object_new_object());
	if (!r)
		r = add_member(segments, "0", segment = json_object_new_object());
	if (!r)
		r = add_member(segment, "type", json_object_new_string("crypt"));
	if (!r)
		r = add_member(segment, "offset", u64_string(plan->data_offset));
	if (!r)
		r = add_member(segment, "size", json_object_new_string("dynamic"));
	if (!r)
		r = add_member(segment, "iv_tweak", json_object_new_string("0"));
	if (!r)
		r = add_member(segment, "encryption", json_object_new_string(plan->cipher));
	if (!r)
		r = add_member(segment, "sector_size", json_object_new_int((int)plan->sector_size));
	if (!r)
		r = add_member(jobj, "digests", json_object_new_object());
	if (!r)
		r = add_member(jobj, "config", config = json_object_new_object());
	if (!r)
		r = add_member(config, "json_size", u64_string(plan->hdr_size - LUKS2_HDR_BIN_LEN));
	if (!r)
		r = add_member(config, "keyslots_size", u64_string(plan->keyslots_size));
	if (r)
		json_object_put(jobj);
	else
		*jobjp = jobj;
	return r;
}

static int fill_range(int fd, uint64_t offset, uint64_t len, bool random)
{
	uint8_t *buf = calloc(1, WIPE_CHUNK);
	int r = buf ? 0 : -ENOMEM;

	for (uint64_t done = 0; !r && done < len; done += WIPE_CHUNK) {
		size_t n = len - done < WIPE_CHUNK ? (size_t)(len - done) : WIPE_CHUNK;

		if (random)
			r = udm_random_bytes(buf, n);
		if (!r)
			r = udm_write_at(fd, buf, n, offset + done);
	}
	free(buf);
	return r;
}

/* As cryptsetup does: zeros from the start to the data (or to the end of a
 * detached header), random data over the key slots area. */
static int wipe_header_areas(int fd, const struct format_plan *plan)
{
	uint64_t slots = 2 * plan->hdr_size, slots_end = slots + plan->keyslots_size;
	uint64_t zero_end = plan->detached ? slots_end : plan->data_offset;
	int r;

	if (plan->device_size < zero_end)
		zero_end = plan->device_size > slots_end ? plan->device_size : slots_end;
	r = fill_range(fd, 0, slots, false);
	if (!r)
		r = fill_range(fd, slots, plan->keyslots_size, true);
	if (!r && zero_end > slots_end)
		r = fill_range(fd, slots_end, zero_end - slots_end, false);
	if (!r && fsync(fd))
		r = -errno;
	return r;
}

static int new_header(struct udm_volume *vol, const struct format_plan *plan,
		      const struct udm_format_params *params, const struct udm_key *key,
		      struct udm_error *err)
{
	struct luks2_volume *lv = calloc(1, sizeof(*lv));
	struct luks2_hdr *hdr;
	json_object *digest, *list;
	bool benchmark = !params->pbkdf.force_iterations;
	int r;

	if (!lv)
		return -ENOMEM;
	vol->priv = lv;
	hdr = &lv->hdr;
	hdr->hdr_size = plan->hdr_size;
	/* A detached header file is extended to the header areas. */
	lv->device_size = plan->device_size;
	if (lv->device_size < 2 * plan->hdr_size + plan->keyslots_size)
		lv->device_size = 2 * plan->hdr_size + plan->keyslots_size;
	/* cryptsetup starts at 1, so its first two writes give epochs 2 and 3. */
	hdr->seqid = 1;
	snprintf(hdr->label, sizeof(hdr->label), "%s", params->label ? params->label : "");
	snprintf(hdr->subsystem, sizeof(hdr->subsystem), "%s",
		 params->subsystem ? params->subsystem : "");
	snprintf(hdr->checksum_alg, sizeof(hdr->checksum_alg), "sha256");
	snprintf(hdr->uuid, sizeof(hdr->uuid), "%s", plan->uuid);
	r = udm_random_bytes(hdr->salt, sizeof(hdr->salt));
	if (!r)
		r = initial_json(plan, &hdr->jobj);
	if (!r)
		r = luks2_digest_create(hdr->jobj, 0, plan->hash, benchmark, key->data, key->size,
					err);
	if (r)
		return r;
	digest = luks2_numbered(luks2_section(hdr->jobj, "digests"), 0);
	json_object_object_get_ex(digest, "segments", &list);
	r = luks2_array_add(list, 0);
	if (!r)
		r = luks2_json_validate(hdr->jobj, hdr->hdr_size, lv->device_size, err);
	return r;
}

int luks2_format(struct udm_volume *vol, const struct udm_format_params *params,
		 const char *pass, size_t pass_len, struct udm_error *err)
{
	struct udm_key *key = NULL;
	struct format_plan plan;
	struct luks2_volume *lv;
	int r;

	r = make_plan(vol, params, &plan, &key, err);
	if (!r)
		r = new_header(vol, &plan, params, key, err);
	if (r)
		goto out;

	/* Nothing is written before this point. */
	lv = vol->priv;
	if (plan.device_size < lv->device_size &&
	    ftruncate(vol->fd, (off_t)lv->device_size)) {
		r = udm_error_set(err, "cannot extend %s to %" PRIu64 " bytes: %s", vol->path,
				  lv->device_size, strerror(errno));
		goto out;
	}
	r = wipe_header_areas(vol->fd, &plan);
	if (r) {
		udm_error_set(err, "cannot wipe the header areas of %s: %s", vol->path,
			      strerror(-r));
		goto out;
	}
	r = luks2_disk_write(vol, &lv->hdr, err);
	if (!r)
		r = luks2_add_keyslot(vol, plan.keyslot, key, pass, pass_len, &plan.pbkdf,
				      plan.hash, err);
	if (!r)
		snprintf(vol->uuid, sizeof(vol->uuid), "%s", lv->hdr.uuid);
out:
	udm_key_free(key);
	udm_wipe(&plan, sizeof(plan));
	return r < 0 ? r : 0;
}
