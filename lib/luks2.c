// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS2 volumes behind the volume interface (struct volume_ops): loading
 * the header, unlocking key slots in priority order, building the dm-crypt
 * table of the data segment, adding and removing key slots and committing
 * every change to both header copies. Behaviour follows cryptsetup 2.6.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "crypt.h"
#include "log.h"
#include "luks2.h"
#include "parse.h"
#include "secmem.h"

static struct luks2_volume *luks2_of(const struct udm_volume *vol)
{
	return vol->priv;
}

/* Collects config.requirements.mandatory. udmcrypt implements none of the
 * requirements (cryptsetup 2.6 defines the reencryption ones), so each is
 * unmet. Such a volume is read and unlocked, never mapped or changed. */
static int read_requirements(struct luks2_volume *lv)
{
	json_object *requirements, *mandatory;
	size_t len = 0, n;

	if (!json_object_object_get_ex(luks2_section(lv->hdr.jobj, "config"), "requirements",
				       &requirements) ||
	    !json_object_object_get_ex(requirements, "mandatory", &mandatory) ||
	    !(n = json_object_array_length(mandatory)))
		return 0;
	for (size_t i = 0; i < n; i++)
		len += strlen(json_object_get_string(json_object_array_get_idx(mandatory, i))) + 2;
	lv->unmet_requirements = calloc(1, len + 1);
	if (!lv->unmet_requirements)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(lv->unmet_requirements, ", ");
		strcat(lv->unmet_requirements,
		       json_object_get_string(json_object_array_get_idx(mandatory, i)));
	}
	return 0;
}

static int check_requirements(const struct udm_volume *vol, const char *action,
			      struct udm_error *err)
{
	const char *unmet = luks2_of(vol)->unmet_requirements;

	if (!unmet)
		return 0;
	udm_error_set(err, "cannot %s %s: its LUKS2 header has requirements udmcrypt does not "
		      "implement (%s)", action, vol->path, unmet);
	return -ENOTSUP;
}

static int luks2_load(struct udm_volume *vol, struct udm_error *err)
{
	struct luks2_volume *lv = calloc(1, sizeof(*lv));
	int r;

	if (!lv)
		return -ENOMEM;
	vol->priv = lv;
	r = udm_volume_size(vol, &lv->device_size);
	if (r)
		return udm_error_set(err, "cannot read the size of %s: %s", vol->path,
				     strerror(-r));
	r = luks2_disk_read(vol, lv->device_size, &lv->hdr, err);
	if (!r)
		r = read_requirements(lv);
	if (r)
		return r;
	if (lv->unmet_requirements)
		log_warn("%s has LUKS2 requirements udmcrypt does not implement (%s): it can be "
			 "unlocked but not mapped or changed", vol->path, lv->unmet_requirements);
	snprintf(vol->uuid, sizeof(vol->uuid), "%s", lv->hdr.uuid);
	return 0;
}

static void luks2_destroy(struct udm_volume *vol)
{
	struct luks2_volume *lv = luks2_of(vol);

	if (!lv)
		return;
	json_object_put(lv->hdr.jobj);
	free(lv->unmet_requirements);
	udm_wipe(lv, sizeof(*lv));
	free(lv);
	vol->priv = NULL;
}

/*
 * Starts a metadata update: takes an exclusive advisory lock on the device
 * (flock, so that other udmcrypt handles wait for it) and checks that no
 * other writer changed the header since it was read. Key slot areas are
 * written only after this, so a stale handle cannot overwrite them.
 */
static int update_begin(struct udm_volume *vol, struct udm_error *err)
{
	int r;

	if (vol->fd >= 0 && flock(vol->fd, LOCK_EX))
		return udm_error_set(err, "cannot lock %s: %s", vol->path, strerror(errno));
	r = luks2_disk_check_seqid(vol, &luks2_of(vol)->hdr, err);
	if (r)
		if (vol->fd >= 0)
			flock(vol->fd, LOCK_UN);
	return r;
}

static void update_end(struct udm_volume *vol)
{
	if (vol->fd >= 0)
		flock(vol->fd, LOCK_UN);
}

int luks2_commit(struct udm_volume *vol, json_object *jobj, struct udm_error *err)
{
	struct luks2_volume *lv = luks2_of(vol);
	json_object *old = lv->hdr.jobj;
	int r;

	r = luks2_json_validate(jobj, lv->hdr.hdr_size, lv->device_size, err);
	if (r) {
		json_object_put(jobj);
		return r;
	}
	lv->hdr.jobj = jobj;
	r = luks2_disk_write(vol, &lv->hdr, err);
	if (r) {
		lv->hdr.jobj = old;
		json_object_put(jobj);
		return r;
	}
	json_object_put(old);
	return 0;
}

/* A key slot that opens the data segment: its digest lists segment 0. */
static bool keyslot_bound(json_object *jobj, int slot)
{
	int digest = luks2_digest_of(jobj, "keyslots", slot);
	json_object *segments;

	return digest >= 0 &&
	       json_object_object_get_ex(luks2_numbered(luks2_section(jobj, "digests"), digest),
					 "segments", &segments) &&
	       luks2_array_has(segments, 0);
}

/* Fails with -E2BIG before any work when the key slot's PBKDF or its
 * digest's PBKDF2 costs more than the ceilings of udm_pbkdf_set_limits. */
static int check_cost_limits(const struct luks2_keyslot *ks, const struct luks2_digest *dg,
			     struct udm_error *err)
{
	struct udm_pbkdf digest_pbkdf = { .type = "pbkdf2", .iterations = dg->iterations };
	char what[32];
	int r;

	snprintf(what, sizeof(what), "key slot %d", ks->id);
	r = udm_pbkdf_check_limits(&ks->pbkdf, what, err);
	if (r)
		return r;
	snprintf(what, sizeof(what), "digest %d", dg->id);
	return udm_pbkdf_check_limits(&digest_pbkdf, what, err);
}

static int try_keyslot(struct udm_volume *vol, int slot, const char *pass, size_t pass_len,
		       struct udm_key **keyp, struct udm_error *err)
{
	json_object *jobj = luks2_of(vol)->hdr.jobj;
	struct luks2_keyslot ks;
	struct luks2_digest dg;
	struct udm_key *key;
	int r;

	r = luks2_keyslot_read(jobj, slot, &ks, err);
	if (r)
		return r;
	if (!keyslot_bound(jobj, slot)) {
		udm_error_set(err, "key slot %d is not bound to the data segment", slot);
		return -ENOENT;
	}
	r = luks2_digest_read(jobj, ks.digest, &dg, err);
	if (r)
		return r;
	r = check_cost_limits(&ks, &dg, err);
	if (r)
		return r;
	key = udm_key_new(ks.key_size);
	if (!key)
		return -ENOMEM;
	log_debug("trying LUKS2 key slot %d", slot);
	r = luks2_keyslot_open(vol, &ks, pass, pass_len, key->data, err);
	if (!r)
		r = luks2_digest_verify(&dg, key->data, key->size);
	if (r) {
		udm_key_free(key);
		return r;
	}
	*keyp = key;
	return 0;
}

static int keyslot_priority(json_object *jobj, int slot)
{
	json_object *ks = luks2_numbered(luks2_section(jobj, "keyslots"), slot);
	uint32_t priority = 1;

	if (json_object_object_get_ex(ks, "priority", NULL))
		luks2_int_u32(ks, "priority", &priority);
	return (int)priority;
}

/* Tries every bound luks2 key slot, preferred ones (priority 2) first, then
 * normal ones; slots marked ignore (0) are tried only by number. */
static int unlock_any(struct udm_volume *vol, const char *pass, size_t pass_len,
		      struct udm_key **keyp, struct udm_error *err)
{
	json_object *jobj = luks2_of(vol)->hdr.jobj;
	json_object *keyslots = luks2_section(jobj, "keyslots");
	struct udm_error slot_err = { { 0 } }, first_err = { { 0 } };
	int first_r = 0, tried = 0, rejected = 0, r;

	for (int priority = 2; priority >= 1; priority--) {
		for (int slot = 0; slot < LUKS2_KEYSLOTS_MAX; slot++) {
			json_object *ks = luks2_numbered(keyslots, slot);

			if (!ks || strcmp(luks2_string(ks, "type"), "luks2") ||
			    keyslot_priority(jobj, slot) != priority || !keyslot_bound(jobj, slot))
				continue;
			tried++;
			r = try_keyslot(vol, slot, pass, pass_len, keyp, &slot_err);
			if (!r)
				return slot;
			if (r == -ENOMEM)
				return r;
			if (r == -EPERM) {
				rejected++;
			} else if (!first_r) {
				first_r = r;
				first_err = slot_err;
			}
		}
	}
	if (!tried) {
		udm_error_set(err, "%s has no key slot that can be unlocked with a passphrase",
			      vol->path);
		return -ENOENT;
	}
	/* A slot that could not be tried at all (unknown PBKDF, unreadable
	 * area) is reported only when no slot rejected the passphrase. */
	if (!rejected) {
		if (err)
			*err = first_err;
		return first_r;
	}
	if (first_r)
		udm_error_set(err, "no key slot of %s accepts this passphrase, and one could not "
			      "be tried: %s", vol->path, first_err.msg);
	else
		udm_error_set(err, "no key slot of %s accepts this passphrase", vol->path);
	return -EPERM;
}

static int luks2_unlock(struct udm_volume *vol, int keyslot, const char *pass, size_t pass_len,
			struct udm_key **keyp, struct udm_error *err)
{
	int r;

	if (keyslot < 0)
		return unlock_any(vol, pass, pass_len, keyp, err);
	if (keyslot >= LUKS2_KEYSLOTS_MAX)
		return udm_error_set(err, "invalid key slot %d: accepted are 0 to %d", keyslot,
				     LUKS2_KEYSLOTS_MAX - 1);
	r = try_keyslot(vol, keyslot, pass, pass_len, keyp, err);
	if (r == -EPERM)
		udm_error_set(err, "key slot %d of %s does not accept this passphrase", keyslot,
			      vol->path);
	return r ? r : keyslot;
}

/* Checks key against the digest of segment 0 and the key size its key slots
 * store. */
static int luks2_verify_key(struct udm_volume *vol, const struct udm_key *key)
{
	json_object *jobj = luks2_of(vol)->hdr.jobj;
	struct luks2_digest dg;
	int digest = luks2_digest_of(jobj, "segments", 0);

	if (digest < 0 || luks2_digest_read(jobj, digest, &dg, NULL))
		return -EINVAL;
	for (int slot = 0; slot < LUKS2_KEYSLOTS_MAX; slot++) {
		json_object *ks = luks2_numbered(luks2_section(jobj, "keyslots"), slot);
		uint32_t key_size;

		if (ks && luks2_digest_of(jobj, "keyslots", slot) == digest &&
		    !luks2_int_u32(ks, "key_size", &key_size) && key_size != key->size)
			return -EPERM;
	}
	return luks2_digest_verify(&dg, key->data, key->size);
}

static int luks2_keyslot_count(const struct udm_volume *vol)
{
	return LUKS2_KEYSLOTS_MAX;
}

static bool luks2_keyslot_active(const struct udm_volume *vol, int keyslot)
{
	return keyslot >= 0 &&
	       luks2_numbered(luks2_section(luks2_of(vol)->hdr.jobj, "keyslots"), keyslot);
}

int luks2_add_keyslot(struct udm_volume *vol, int keyslot, const struct udm_key *key,
		      const char *pass, size_t pass_len, const struct udm_pbkdf *pbkdf,
		      const char *af_hash, struct udm_error *err)
{
	struct luks2_volume *lv = luks2_of(vol);
	struct luks2_keyslot ks;
	json_object *copy = NULL;
	int r;

	if (json_object_deep_copy(lv->hdr.jobj, &copy, NULL))
		return -ENOMEM;
	r = luks2_keyslot_new(copy, lv->hdr.hdr_size, keyslot, key->size, pbkdf, af_hash, &ks,
			      err);
	if (!r && strlen(luks2_json_text(copy)) >= lv->hdr.hdr_size - LUKS2_HDR_BIN_LEN) {
		udm_error_set(err, "no space left in the LUKS2 JSON area of %s for key slot %d",
			      vol->path, keyslot);
		r = -ENOSPC;
	}
	if (!r)
		r = luks2_json_validate(copy, lv->hdr.hdr_size, lv->device_size, err);
	if (!r)
		r = update_begin(vol, err);
	if (r) {
		json_object_put(copy);
		return r;
	}
	/* The area is unused in the metadata on disk, so it is written first. */
	r = luks2_keyslot_store(vol, &ks, pass, pass_len, key->data, err);
	if (r)
		json_object_put(copy);
	else
		r = luks2_commit(vol, copy, err);
	update_end(vol);
	return r;
}

static int luks2_add_key(struct udm_volume *vol, int keyslot, const struct udm_key *key,
			 const char *pass, size_t pass_len, const struct udm_pbkdf_params *params,
			 struct udm_error *err)
{
	struct udm_pbkdf pbkdf;
	int r;

	r = check_requirements(vol, "add a key slot to", err);
	if (r)
		return r;
	if (keyslot < 0) {
		for (keyslot = 0; luks2_keyslot_active(vol, keyslot); keyslot++)
			if (keyslot + 1 == LUKS2_KEYSLOTS_MAX) {
				udm_error_set(err, "all %d key slots of %s are in use",
					      LUKS2_KEYSLOTS_MAX, vol->path);
				return -ENOSPC;
			}
	} else if (keyslot >= LUKS2_KEYSLOTS_MAX) {
		return udm_error_set(err, "invalid key slot %d: accepted are 0 to %d", keyslot,
				     LUKS2_KEYSLOTS_MAX - 1);
	} else if (luks2_keyslot_active(vol, keyslot)) {
		udm_error_set(err, "key slot %d of %s is already in use", keyslot, vol->path);
		return -EEXIST;
	}
	if (luks2_verify_key(vol, key)) {
		udm_error_set(err, "the volume key does not match the digest of %s", vol->path);
		return -EPERM;
	}
	r = udm_pbkdf_from_params(&pbkdf, params, UDM_VOLUME_LUKS2, key->size, err);
	if (!r)
		r = luks2_add_keyslot(vol, keyslot, key, pass, pass_len, &pbkdf,
				      params && params->hash ? params->hash : "sha256", err);
	return r ? r : keyslot;
}

/* Removes references to slot from the lists of digests and tokens, and the
 * digests left with neither key slots nor segments, as cryptsetup does. */
static void unlink_keyslot(json_object *jobj, int slot)
{
	json_object *digests = luks2_section(jobj, "digests"), *list;
	char unused[LUKS2_DIGESTS_MAX][16];
	int n = 0;

	json_object_object_foreach(luks2_section(jobj, "tokens"), tkey, token) {
		(void)tkey;
		if (json_object_object_get_ex(token, "keyslots", &list))
			luks2_array_remove(list, slot);
	}
	json_object_object_foreach(digests, dkey, digest) {
		json_object *segments = NULL;

		json_object_object_get_ex(digest, "keyslots", &list);
		luks2_array_remove(list, slot);
		json_object_object_get_ex(digest, "segments", &segments);
		if (!json_object_array_length(list) && !json_object_array_length(segments))
			snprintf(unused[n++], sizeof(unused[0]), "%s", dkey);
	}
	for (int i = 0; i < n; i++)
		json_object_object_del(digests, unused[i]);
}

static int wipe_area(struct udm_volume *vol, json_object *ks, int slot, struct udm_error *err)
{
	json_object *area;
	uint64_t offset = 0, size = 0;
	uint8_t *buf;
	int r;

	json_object_object_get_ex(ks, "area", &area);
	luks2_string_u64(area, "offset", &offset);
	luks2_string_u64(area, "size", &size);
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	r = udm_random_bytes(buf, size);
	if (!r)
		r = udm_volume_write(vol, buf, size, offset);
	if (!r && udm_volume_sync(vol))
		r = -errno;
	if (r)
		udm_error_set(err, "cannot wipe the area of key slot %d: %s", slot, strerror(-r));
	free(buf);
	return r;
}

/*
 * Overwrites the key slot's area once with random data, then writes the
 * metadata without the slot, in cryptsetup's order: a crash in between
 * leaves a slot that no passphrase opens, never key material that the
 * metadata no longer mentions.
 */
static int luks2_kill_slot(struct udm_volume *vol, int keyslot, struct udm_error *err)
{
	struct luks2_volume *lv = luks2_of(vol);
	json_object *copy = NULL, *ks;
	char name[16];
	int r;

	r = check_requirements(vol, "remove a key slot from", err);
	if (r)
		return r;
	if (keyslot < 0 || keyslot >= LUKS2_KEYSLOTS_MAX)
		return udm_error_set(err, "invalid key slot %d: accepted are 0 to %d", keyslot,
				     LUKS2_KEYSLOTS_MAX - 1);
	ks = luks2_numbered(luks2_section(lv->hdr.jobj, "keyslots"), keyslot);
	if (!ks) {
		udm_error_set(err, "key slot %d of %s is not active", keyslot, vol->path);
		return -ENOENT;
	}
	if (json_object_deep_copy(lv->hdr.jobj, &copy, NULL))
		return -ENOMEM;
	snprintf(name, sizeof(name), "%d", keyslot);
	json_object_object_del(luks2_section(copy, "keyslots"), name);
	unlink_keyslot(copy, keyslot);

	r = luks2_json_validate(copy, lv->hdr.hdr_size, lv->device_size, err);
	if (!r)
		r = update_begin(vol, err);
	if (r) {
		json_object_put(copy);
		return r;
	}
	r = wipe_area(vol, ks, keyslot, err);
	if (r)
		json_object_put(copy);
	else
		r = luks2_commit(vol, copy, err);
	update_end(vol);
	return r;
}

static int luks2_set_uuid(struct udm_volume *vol, const char *uuid, struct udm_error *err)
{
	struct luks2_hdr *hdr = &luks2_of(vol)->hdr;
	char old[LUKS2_UUID_L], fresh[LUKS2_UUID_L];
	int r;

	r = check_requirements(vol, "change the UUID of", err);
	if (r)
		return r;
	if (!uuid) {
		r = udm_uuid_generate(fresh);
		if (r)
			return r;
		uuid = fresh;
	}
	memcpy(old, hdr->uuid, sizeof(old));
	/* cryptsetup stores the UUID in lower case; volume.c checked its form. */
	memset(hdr->uuid, 0, sizeof(hdr->uuid));
	for (size_t i = 0; i < 36 && uuid[i]; i++) {
		char c = uuid[i];

		hdr->uuid[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
	}
	r = update_begin(vol, err);
	if (!r) {
		r = luks2_disk_write(vol, hdr, err);
		update_end(vol);
	}
	if (r) {
		memcpy(hdr->uuid, old, sizeof(old));
		return r;
	}
	snprintf(vol->uuid, sizeof(vol->uuid), "%s", hdr->uuid);
	return 0;
}

static uint64_t luks2_header_size(const struct udm_volume *vol)
{
	return luks2_header_area_size(&luks2_of(vol)->hdr);
}

/* Persistent flags cryptsetup 2.6 stores in config.flags, and the dm-crypt
 * options they turn into, in the order the kernel prints them. */
static const struct {
	const char *flag, *option;
} persistent_flags[] = {
	{ "allow-discards", "allow_discards" },
	{ "same-cpu-crypt", "same_cpu_crypt" },
	{ "submit-from-crypt-cpus", "submit_from_crypt_cpus" },
	{ "no-read-workqueue", "no_read_workqueue" },
	{ "no-write-workqueue", "no_write_workqueue" },
};

static bool has_flag(json_object *jobj, const char *flag)
{
	json_object *flags;

	if (!json_object_object_get_ex(luks2_section(jobj, "config"), "flags", &flags))
		return false;
	for (size_t i = 0; i < json_object_array_length(flags); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(flags, i)), flag))
			return true;
	return false;
}

/* The data segment, in 512-byte sectors of the data device. */
struct data_segment {
	const char *cipher;
	uint64_t offset, length, iv_tweak;
	uint32_t sector_size;
};

static int read_data_segment(struct udm_volume *vol, uint64_t data_sectors,
			     struct data_segment *seg, struct udm_error *err)
{
	json_object *segments = luks2_section(luks2_of(vol)->hdr.jobj, "segments"), *s0;
	int count = json_object_object_length(segments);
	const char *type, *size;
	uint64_t bytes;

	s0 = luks2_numbered(segments, 0);
	type = luks2_string(s0, "type");
	if (count != 1 || strcmp(type, "crypt") ||
	    json_object_object_get_ex(s0, "integrity", NULL)) {
		udm_error_set(err, "cannot map %s: udmcrypt maps one crypt segment without "
			      "integrity, and it has %d segments, the first of type '%s'",
			      vol->path, count, type);
		return -ENOTSUP;
	}
	seg->cipher = luks2_string(s0, "encryption");
	luks2_string_u64(s0, "offset", &bytes);
	seg->offset = bytes / 512;
	luks2_string_u64(s0, "iv_tweak", &seg->iv_tweak);
	luks2_int_u32(s0, "sector_size", &seg->sector_size);
	size = luks2_string(s0, "size");
	if (!strcmp(size, "dynamic")) {
		seg->length = data_sectors > seg->offset ? data_sectors - seg->offset : 0;
	} else {
		udm_parse_u64(size, &bytes);
		seg->length = bytes / 512;
	}
	if (!seg->length || seg->offset + seg->length > data_sectors) {
		udm_error_set(err, "the data device of %s is too small: %" PRIu64 " sectors, the "
			      "data segment starts at sector %" PRIu64, vol->path, data_sectors,
			      seg->offset);
		return -ENOSPC;
	}
	if (seg->length % (seg->sector_size / 512))
		return udm_error_set(err, "the data segment of %s (%" PRIu64 " sectors) is not a "
				     "multiple of its %" PRIu32 "-byte encryption sector",
				     vol->path, seg->length, seg->sector_size);
	return 0;
}

static char *format_table(const struct data_segment *seg, const char *hex, const char *data_path,
			  const char *const *options, unsigned n_options)
{
	size_t len = strlen(seg->cipher) + strlen(hex) + strlen(data_path) + 100, pos;
	char *table;

	for (unsigned i = 0; i < n_options; i++)
		len += strlen(options[i]) + 1;
	table = udm_secure_alloc(len);
	if (!table)
		return NULL;
	pos = (size_t)snprintf(table, len, "0 %" PRIu64 " crypt %s %s %" PRIu64 " %s %" PRIu64,
			       seg->length, seg->cipher, hex, seg->iv_tweak, data_path,
			       seg->offset);
	if (n_options)
		pos += (size_t)snprintf(table + pos, len - pos, " %u", n_options);
	for (unsigned i = 0; i < n_options; i++)
		pos += (size_t)snprintf(table + pos, len - pos, " %s", options[i]);
	return table;
}

/*
 * The table cryptsetup 2.6 loads for a LUKS2 volume: "0 <sectors> crypt
 * <encryption> <key> <iv_tweak> <device> <offset>", then the persistent
 * flags and "sector_size:N" when it is not 512. LUKS2 counts IVs in 512-byte
 * sectors, so there is no iv_large_sectors.
 */
static char *luks2_table(struct udm_volume *vol, const struct udm_key *key,
			 const char *data_path, uint64_t data_sectors, struct udm_error *err)
{
	const char *options[sizeof(persistent_flags) / sizeof(persistent_flags[0]) + 1];
	struct udm_error crypt_err = { { 0 } };
	struct udm_crypt *cc = NULL;
	struct data_segment seg;
	char sector_option[32], *hex, *table = NULL;
	unsigned n = 0;

	if (check_requirements(vol, "map", err) || read_data_segment(vol, data_sectors, &seg, err))
		return NULL;
	/* Offset 0 is for a detached header: on the header's own device the
	 * mapping would overwrite the metadata and the key slots. */
	if (seg.offset * 512 < luks2_header_area_size(&luks2_of(vol)->hdr) &&
	    udm_volume_same_device(vol, data_path)) {
		udm_error_set(err, "segment 0 offset %" PRIu64 " is inside the header and key slots "
			      "of %s, which end at byte %" PRIu64 ": a data segment on the "
			      "header's device must start after them", seg.offset * 512, data_path,
			      luks2_header_area_size(&luks2_of(vol)->hdr));
		return NULL;
	}
	if (luks2_verify_key(vol, key)) {
		udm_error_set(err, "the volume key does not match the digest of %s", vol->path);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(persistent_flags) / sizeof(persistent_flags[0]); i++)
		if (has_flag(luks2_of(vol)->hdr.jobj, persistent_flags[i].flag))
			options[n++] = persistent_flags[i].option;
	if (seg.sector_size != 512) {
		snprintf(sector_option, sizeof(sector_option), "sector_size:%" PRIu32,
			 seg.sector_size);
		options[n++] = sector_option;
	}

	hex = udm_secure_alloc(2 * key->size + 1);
	if (!hex)
		return NULL;
	for (size_t i = 0; i < key->size; i++)
		snprintf(hex + 2 * i, 3, "%02x", key->data[i]);

	/* Checks cipher, key and geometry as the crypt target will. */
	struct udm_crypt_args args = {
		.cipher = seg.cipher, .key = hex, .iv_offset = seg.iv_tweak,
		.length = seg.length, .options = options, .n_options = n,
	};
	if (udm_crypt_new(&cc, &args, &crypt_err))
		udm_error_set(err, "cannot map %s: %s", vol->path, crypt_err.msg);
	else
		table = format_table(&seg, hex, data_path, options, n);
	udm_crypt_free(cc);
	udm_secure_free(hex);
	return table;
}

const struct volume_ops udm_luks2_ops = {
	.type = UDM_VOLUME_LUKS2,
	.name = "LUKS2",
	.format = luks2_format,
	.load = luks2_load,
	.destroy = luks2_destroy,
	.unlock = luks2_unlock,
	.verify_key = luks2_verify_key,
	.table = luks2_table,
	.add_key = luks2_add_key,
	.kill_slot = luks2_kill_slot,
	.keyslot_count = luks2_keyslot_count,
	.keyslot_active = luks2_keyslot_active,
	.set_uuid = luks2_set_uuid,
	.dump = luks2_dump,
	.header_size = luks2_header_size,
};
