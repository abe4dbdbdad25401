// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS1 format, with the defaults and the layout of cryptsetup 2.6
 * "luksFormat --type luks1". The defaults are aes-xts-plain64 with a 512-bit
 * key (256 bits outside XTS) and hash sha256. Key slots start at byte 4096
 * on 4096-byte boundaries, and the payload on the next 1 MiB boundary.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "luks1_internal.h"

/* cryptsetup aligns the payload to 1 MiB when the device reports no
 * larger alignment. */
#define PAYLOAD_ALIGN_SECTORS 2048
/* cryptsetup sizes the volume key digest's PBKDF2 to take 125 ms. */
#define DIGEST_ITER_TIME_MS 125
/* As in cryptsetup, a header area larger than this (a bogus payload
 * offset) is not zeroed: only the first 4096 bytes are. */
#define ZERO_MAX_BYTES (128ull * 1024 * 1024)
#define WIPE_CHUNK (1024 * 1024)

static void copy_lowercase(char *dst, const char *src, size_t size)
{
	memset(dst, 0, size);
	for (size_t i = 0; src[i] && i + 1 < size; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
}

static int set_cipher(struct luks1_header *hdr, const struct udm_format_params *p,
		      struct udm_error *err)
{
	const char *name = p->cipher ? p->cipher : "aes";
	const char *mode = p->cipher_mode ? p->cipher_mode : "xts-plain64";
	const char *hash = "sha256";
	unsigned key_bytes;
	int r;

	/* cryptsetup's --hash sets both the header hash and the PBKDF2 hash. */
	if (p->hash)
		hash = p->hash;
	else if (p->pbkdf.hash)
		hash = p->pbkdf.hash;

	if (!luks1_valid_name(name, false))
		return udm_error_set(err, "invalid cipher '%s' for LUKS1: expected a name of up to "
				     "31 letters, digits and _:.,()+ without the mode, such as aes",
				     name);
	if (!luks1_valid_name(mode, true))
		return udm_error_set(err, "invalid cipher mode '%s' for LUKS1: expected up to 31 "
				     "letters, digits and -_:.,()+, such as xts-plain64", mode);
	if (strlen(hash) >= LUKS1_NAME_BYTES)
		return udm_error_set(err, "invalid hash '%s' for LUKS1: the header holds up to 31 "
				     "characters", hash);
	snprintf(hdr->cipher_name, sizeof(hdr->cipher_name), "%s", name);
	snprintf(hdr->cipher_mode, sizeof(hdr->cipher_mode), "%s", mode);
	copy_lowercase(hdr->hash_spec, hash, sizeof(hdr->hash_spec));
	r = luks1_check_hash(hdr->hash_spec, err);
	if (r)
		return r;

	/* cryptsetup doubles its default key size for XTS, which takes two keys. */
	if (p->key_size)
		key_bytes = p->key_size;
	else if (p->volume_key)
		key_bytes = (unsigned)p->volume_key->size;
	else
		key_bytes = !strncmp(mode, "xts-", 4) ? 64 : 32;
	if (!key_bytes || key_bytes > LUKS1_MAX_KEY_BYTES)
		return udm_error_set(err, "invalid key size %u bytes for LUKS1: accepted are 1 "
				     "to %d", key_bytes, LUKS1_MAX_KEY_BYTES);
	if (p->volume_key && p->volume_key->size != key_bytes)
		return udm_error_set(err, "the volume key has %zu bytes, but the key size is %u",
				     p->volume_key->size, key_bytes);
	hdr->key_bytes = key_bytes;
	return 0;
}

/* Places the key slots one after another, each on a 4096-byte boundary,
 * and the payload at data_offset or on the next 1 MiB boundary. With a
 * detached header the payload offset counts on the data device, 0 unless
 * given. */
static int set_layout(struct luks1_header *hdr, uint64_t data_offset, bool detached,
		      struct udm_error *err)
{
	uint64_t slot_sectors = luks1_material_sectors(hdr->key_bytes);
	uint64_t next = LUKS1_ALIGN_SECTORS;

	for (int i = 0; i < LUKS1_SLOTS; i++) {
		hdr->slots[i].material_offset = (uint32_t)next;
		hdr->slots[i].stripes = LUKS1_STRIPES;
		next = (next + slot_sectors + LUKS1_ALIGN_SECTORS - 1) / LUKS1_ALIGN_SECTORS *
		       LUKS1_ALIGN_SECTORS;
	}
	if (detached) {
		if (data_offset > UINT32_MAX)
			return udm_error_set(err, "invalid data offset %" PRIu64 " sectors: the "
					     "maximum is %" PRIu32, data_offset, UINT32_MAX);
		hdr->payload_offset = (uint32_t)data_offset;
		return 0;
	}
	if (!data_offset) {
		hdr->payload_offset = (uint32_t)((next + PAYLOAD_ALIGN_SECTORS - 1) /
						 PAYLOAD_ALIGN_SECTORS * PAYLOAD_ALIGN_SECTORS);
		return 0;
	}
	if (data_offset % LUKS1_ALIGN_SECTORS)
		return udm_error_set(err, "invalid data offset %" PRIu64 " sectors: it must be a "
				     "multiple of %d sectors (4096 bytes)", data_offset,
				     LUKS1_ALIGN_SECTORS);
	if (data_offset < next || data_offset > UINT32_MAX)
		return udm_error_set(err, "invalid data offset %" PRIu64 " sectors: accepted are %"
				     PRIu64 " (the end of the key slots) to %" PRIu32, data_offset,
				     next, UINT32_MAX);
	hdr->payload_offset = (uint32_t)data_offset;
	return 0;
}

static int set_uuid(struct luks1_header *hdr, const char *uuid, struct udm_error *err)
{
	if (!uuid)
		return udm_uuid_generate(hdr->uuid);
	if (!udm_uuid_valid(uuid))
		return udm_error_set(err, "invalid UUID '%s': expected the form "
				     "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", uuid);
	/* cryptsetup stores the UUID as libuuid prints it: lowercase. */
	copy_lowercase(hdr->uuid, uuid, sizeof(hdr->uuid));
	return 0;
}

/*
 * Sets *bytes to the size the device will have. A block device must hold
 * the header and every key slot. A regular file, such as a detached header,
 * grows as the areas are written, and *grows is set.
 */
static int check_device(struct udm_volume *vol, const struct luks1_header *hdr, uint64_t *bytes,
			bool *grows, struct udm_error *err)
{
	uint64_t needed = luks1_keyslots_end(hdr);
	struct stat st;
	int r;

	if (fstat(vol->fd, &st))
		return udm_error_set(err, "cannot stat %s: %s", vol->path, strerror(errno));
	r = udm_fd_size(vol->fd, bytes);
	if (r)
		return udm_error_set(err, "cannot read the size of %s: %s", vol->path,
				     strerror(-r));
	*grows = S_ISREG(st.st_mode);
	if (*bytes >= needed)
		return 0;
	if (!*grows)
		return udm_error_set(err, "device %s is too small for LUKS1 with a %" PRIu32
				     "-byte key: it has %" PRIu64 " bytes, the header and the key "
				     "slots need %" PRIu64, vol->path, hdr->key_bytes, *bytes,
				     needed);
	*bytes = needed;
	return 0;
}

/* Chooses the volume key, checks that the cipher takes it, and computes its
 * digest. */
static int set_volume_key(struct luks1_header *hdr, const struct udm_format_params *p,
			  uint32_t iterations, unsigned iter_time_ms, struct udm_key *key,
			  struct udm_error *err)
{
	uint64_t digest_iterations = 0;
	int r = 0;

	if (p->volume_key)
		memcpy(key->data, p->volume_key->data, key->size);
	else
		r = udm_random_bytes(key->data, key->size);
	if (!r)
		r = luks1_check_cipher(hdr, key->data, err);
	if (r)
		return r;

	/* cryptsetup scales the key slot benchmark down to the digest's 125 ms,
	 * and takes the minimum when the iterations are forced. */
	if (iter_time_ms)
		digest_iterations = (uint64_t)iterations * DIGEST_ITER_TIME_MS / iter_time_ms;
	if (digest_iterations < LUKS1_MIN_ITERATIONS)
		digest_iterations = LUKS1_MIN_ITERATIONS;
	hdr->mk_iterations = digest_iterations > UINT32_MAX ? UINT32_MAX :
			     (uint32_t)digest_iterations;
	r = udm_random_bytes(hdr->mk_salt, sizeof(hdr->mk_salt));
	if (!r)
		r = luks1_key_digest(hdr, key->data, key->size, hdr->mk_digest);
	if (r)
		udm_error_set(err, "cannot compute the volume key digest with PBKDF2-%s: %s",
			      hdr->hash_spec, strerror(-r));
	return r;
}

static int fill_range(int fd, uint8_t *buf, uint64_t off, uint64_t len, bool random)
{
	int r = 0;

	while (len && !r) {
		size_t n = len < WIPE_CHUNK ? (size_t)len : WIPE_CHUNK;

		r = random ? udm_random_bytes(buf, n) : 0;
		if (!r)
			r = udm_write_at(fd, buf, n, off);
		off += n;
		len -= n;
	}
	return r;
}

/* Zeroes the header area up to the payload and fills every key slot's area
 * with random bytes, as cryptsetup does before it writes a new header. */
static int wipe_areas(struct udm_volume *vol, uint64_t device_bytes, bool grows,
		      struct udm_error *err)
{
	const struct luks1_header *hdr = luks1_hdr(vol);
	uint64_t zero_end = (uint64_t)hdr->payload_offset * LUKS1_SECTOR;
	uint64_t area = luks1_material_sectors(hdr->key_bytes) * LUKS1_SECTOR;
	uint8_t *buf = calloc(1, WIPE_CHUNK);
	int r;

	if (!buf)
		return -ENOMEM;
	if (!zero_end || zero_end > ZERO_MAX_BYTES)
		zero_end = 4096;
	if (!grows && zero_end > device_bytes)
		zero_end = device_bytes;

	r = fill_range(vol->fd, buf, 0, zero_end, false);
	for (int i = 0; i < LUKS1_SLOTS && !r; i++)
		r = fill_range(vol->fd, buf, (uint64_t)hdr->slots[i].material_offset *
			       LUKS1_SECTOR, area, true);
	if (r)
		udm_error_set(err, "cannot wipe the LUKS1 header area of %s: %s", vol->path,
			      strerror(-r));
	free(buf);
	return r;
}

int luks1_format(struct udm_volume *vol, const struct udm_format_params *params,
		 const char *pass, size_t pass_len, struct udm_error *err)
{
	struct luks1_header *hdr = calloc(1, sizeof(*hdr));
	int slot = params->keyslot < 0 ? 0 : params->keyslot;
	struct udm_key *key = NULL;
	uint32_t iterations = 0;
	unsigned iter_time_ms = 0;
	uint64_t bytes = 0;
	bool grows = false;
	int r;

	if (!hdr)
		return -ENOMEM;
	vol->priv = hdr;
	if (params->keyslot >= LUKS1_SLOTS)
		return udm_error_set(err, "invalid key slot %d: LUKS1 has key slots 0 to %d",
				     params->keyslot, LUKS1_SLOTS - 1);

	/* Check everything before the first write, so that a rejected format
	 * leaves the device as it was. */
	r = set_cipher(hdr, params, err);
	if (!r)
		r = set_layout(hdr, params->data_offset, params->detached_header, err);
	if (!r)
		r = set_uuid(hdr, params->uuid, err);
	if (!r)
		r = luks1_check_passphrase(hdr, pass_len, err);
	if (!r)
		r = check_device(vol, hdr, &bytes, &grows, err);
	if (!r)
		r = luks1_slot_pbkdf(hdr, &params->pbkdf, &iterations, &iter_time_ms, err);
	if (r)
		return r;
	key = udm_key_new(hdr->key_bytes);
	if (!key)
		return -ENOMEM;
	r = set_volume_key(hdr, params, iterations, iter_time_ms, key, err);
	if (!r)
		r = luks1_check_header(hdr, bytes, vol->path, err);
	if (r)
		goto out;

	/* The key material goes to disk before the header that points to it. */
	r = wipe_areas(vol, bytes, grows, err);
	if (!r)
		r = luks1_store_keyslot(vol, slot, key, pass, pass_len, iterations, err);
	if (!r)
		r = luks1_write_header(vol, err);
	if (!r)
		snprintf(vol->uuid, sizeof(vol->uuid), "%s", hdr->uuid);
out:
	udm_key_free(key);
	return r;
}
