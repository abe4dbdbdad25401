// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS1 headers: reading and checking the 592-byte header, the dump, UUID
 * changes and the crypt table of the payload, as cryptsetup 2.6 does them.
 * Follows the LUKS1 on-disk format specification, version 1.2.3. Format is
 * in luks1_format.c and the key slots in luks1_keyslot.c.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "luks1_internal.h"
#include "secmem.h"

/* The header on disk: big-endian numbers, NUL-padded strings. */
struct luks1_disk_keyslot {
	uint32_t active;
	uint32_t iterations;
	uint8_t salt[LUKS1_SALT_BYTES];
	uint32_t material_offset;
	uint32_t stripes;
} __attribute__((packed));

struct luks1_disk_header {
	char magic[LUKS_MAGIC_LEN];
	uint16_t version;
	char cipher_name[LUKS1_NAME_BYTES];
	char cipher_mode[LUKS1_NAME_BYTES];
	char hash_spec[LUKS1_NAME_BYTES];
	uint32_t payload_offset;
	uint32_t key_bytes;
	uint8_t mk_digest[LUKS1_DIGEST_BYTES];
	uint8_t mk_salt[LUKS1_SALT_BYTES];
	uint32_t mk_iterations;
	char uuid[LUKS1_UUID_BYTES];
	struct luks1_disk_keyslot slots[LUKS1_SLOTS];
} __attribute__((packed));

_Static_assert(sizeof(struct luks1_disk_keyslot) == 48, "a LUKS1 key slot entry is 48 bytes");
_Static_assert(sizeof(struct luks1_disk_header) == LUKS1_HEADER_BYTES,
	       "the LUKS1 header is 592 bytes");

/* Sets err to "invalid LUKS1 header on PATH: ..." and returns -EINVAL. */
static int bad_header(struct udm_error *err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad_header(struct udm_error *err, const char *path, const char *fmt, ...)
{
	char detail[UDM_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return udm_error_set(err, "invalid LUKS1 header on %s: %s", path, detail);
}

/* Copies a NUL-padded field, or rejects it when it has no NUL. */
static int string_from_disk(char *dst, const char *src, const char *field, const char *path,
			    struct udm_error *err)
{
	const char *nul = memchr(src, '\0', LUKS1_NAME_BYTES);

	if (!nul)
		return bad_header(err, path, "the %s field has no terminating NUL in its %d bytes",
				  field, LUKS1_NAME_BYTES);
	memset(dst, 0, LUKS1_NAME_BYTES);
	memcpy(dst, src, (size_t)(nul - src));
	return 0;
}

static int slot_from_disk(const struct luks1_disk_keyslot *d, struct luks1_keyslot *s, int i,
			  const char *path, struct udm_error *err)
{
	uint32_t active = be32toh(d->active);

	if (active != LUKS1_SLOT_ENABLED && active != LUKS1_SLOT_DISABLED)
		return bad_header(err, path, "key slot %d has state 0x%08" PRIx32 ": expected "
				  "0x00ac71f3 (enabled) or 0x0000dead (disabled)", i, active);
	s->active = active == LUKS1_SLOT_ENABLED;
	s->iterations = be32toh(d->iterations);
	memcpy(s->salt, d->salt, LUKS1_SALT_BYTES);
	s->material_offset = be32toh(d->material_offset);
	s->stripes = be32toh(d->stripes);
	return 0;
}

/* The only place that reads the on-disk layout. */
static int header_from_disk(const struct luks1_disk_header *d, struct luks1_header *h,
			    const char *path, struct udm_error *err)
{
	const char *uuid_nul = memchr(d->uuid, '\0', LUKS1_UUID_BYTES);
	int r;

	if (memcmp(d->magic, LUKS_MAGIC, LUKS_MAGIC_LEN)) {
		udm_error_set(err, "device %s is not a valid LUKS1 device: no LUKS magic", path);
		return -ENODEV;
	}
	if (be16toh(d->version) != 1)
		return bad_header(err, path, "unsupported version %u: expected 1",
				  be16toh(d->version));
	r = string_from_disk(h->cipher_name, d->cipher_name, "cipher name", path, err);
	if (!r)
		r = string_from_disk(h->cipher_mode, d->cipher_mode, "cipher mode", path, err);
	if (!r)
		r = string_from_disk(h->hash_spec, d->hash_spec, "hash spec", path, err);
	if (r)
		return r;
	if (!uuid_nul)
		return bad_header(err, path, "the UUID field has no terminating NUL in its %d "
				  "bytes", LUKS1_UUID_BYTES);
	memset(h->uuid, 0, sizeof(h->uuid));
	memcpy(h->uuid, d->uuid, (size_t)(uuid_nul - d->uuid));

	/* cryptsetup lowercases the hash spec when it reads a header. */
	for (char *c = h->hash_spec; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	h->payload_offset = be32toh(d->payload_offset);
	h->key_bytes = be32toh(d->key_bytes);
	memcpy(h->mk_digest, d->mk_digest, LUKS1_DIGEST_BYTES);
	memcpy(h->mk_salt, d->mk_salt, LUKS1_SALT_BYTES);
	h->mk_iterations = be32toh(d->mk_iterations);
	for (int i = 0; i < LUKS1_SLOTS && !r; i++)
		r = slot_from_disk(&d->slots[i], &h->slots[i], i, path, err);
	return r;
}

/* The only place that writes the on-disk layout. */
static void header_to_disk(const struct luks1_header *h, struct luks1_disk_header *d)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->magic, LUKS_MAGIC, LUKS_MAGIC_LEN);
	d->version = htobe16(1);
	memcpy(d->cipher_name, h->cipher_name, LUKS1_NAME_BYTES);
	memcpy(d->cipher_mode, h->cipher_mode, LUKS1_NAME_BYTES);
	memcpy(d->hash_spec, h->hash_spec, LUKS1_NAME_BYTES);
	d->payload_offset = htobe32(h->payload_offset);
	d->key_bytes = htobe32(h->key_bytes);
	memcpy(d->mk_digest, h->mk_digest, LUKS1_DIGEST_BYTES);
	memcpy(d->mk_salt, h->mk_salt, LUKS1_SALT_BYTES);
	d->mk_iterations = htobe32(h->mk_iterations);
	memcpy(d->uuid, h->uuid, LUKS1_UUID_BYTES);
	for (int i = 0; i < LUKS1_SLOTS; i++) {
		const struct luks1_keyslot *s = &h->slots[i];
		struct luks1_disk_keyslot *ds = &d->slots[i];

		ds->active = htobe32(s->active ? LUKS1_SLOT_ENABLED : LUKS1_SLOT_DISABLED);
		ds->iterations = htobe32(s->iterations);
		memcpy(ds->salt, s->salt, LUKS1_SALT_BYTES);
		ds->material_offset = htobe32(s->material_offset);
		ds->stripes = htobe32(s->stripes);
	}
}

bool luks1_valid_name(const char *s, bool mode)
{
	size_t len = strlen(s);

	if (!len || len >= LUKS1_NAME_BYTES)
		return false;
	for (; *s; s++) {
		/* The name and mode are joined by '-' and end up in a table line,
		 * so no whitespace, and no '-' inside the name. */
		if (!isalnum((unsigned char)*s) && !strchr("_:.,()+", *s) && (!mode || *s != '-'))
			return false;
	}
	return true;
}

int luks1_check_hash(const char *hash, struct udm_error *err)
{
	uint8_t digest[UDM_MAX_DIGEST];
	int len = udm_hash(hash, "", 0, digest);

	if (len < 0) {
		udm_error_set(err, "unsupported LUKS1 hash '%s': accepted are %s", hash,
			      udm_hash_names());
		return -ENOTSUP;
	}
	if (len < LUKS1_DIGEST_BYTES)
		return udm_error_set(err, "invalid LUKS1 hash '%s': its %d-byte digest is shorter "
				     "than the 20 bytes of the volume key digest", hash, len);
	return 0;
}

/* Rejects control and non-ASCII bytes, so that messages can quote the field. */
static int check_printable(const char *s, const char *field, const char *path,
			   struct udm_error *err)
{
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return bad_header(err, path, "the %s field contains byte 0x%02x, which is "
					  "not printable ASCII", field, (unsigned char)*s);
	return 0;
}

static int check_fields(const struct luks1_header *h, const char *path, struct udm_error *err)
{
	struct udm_error inner = { { 0 } };
	int r;

	r = check_printable(h->cipher_name, "cipher name", path, err);
	if (!r)
		r = check_printable(h->cipher_mode, "cipher mode", path, err);
	if (!r)
		r = check_printable(h->hash_spec, "hash spec", path, err);
	if (!r)
		r = check_printable(h->uuid, "UUID", path, err);
	if (r)
		return r;
	if (!luks1_valid_name(h->cipher_name, false))
		return bad_header(err, path, "invalid cipher name '%s': expected letters, digits "
				  "and _:.,()+, such as aes", h->cipher_name);
	if (!luks1_valid_name(h->cipher_mode, true))
		return bad_header(err, path, "invalid cipher mode '%s': expected letters, digits "
				  "and -_:.,()+, such as xts-plain64", h->cipher_mode);
	r = luks1_check_hash(h->hash_spec, &inner);
	if (r) {
		bad_header(err, path, "%s", inner.msg);
		return r;
	}
	if (!h->key_bytes || h->key_bytes > LUKS1_MAX_KEY_BYTES)
		return bad_header(err, path, "invalid key bytes %" PRIu32 ": accepted are 1 to %d",
				  h->key_bytes, LUKS1_MAX_KEY_BYTES);
	if (!h->mk_iterations)
		return bad_header(err, path, "the volume key digest has 0 PBKDF2 iterations");
	return 0;
}

/* Checks one key slot against the header and the payload, as cryptsetup
 * does for every slot, active or not. */
static int check_slot(const struct luks1_header *h, int i, const char *path,
		      struct udm_error *err)
{
	const struct luks1_keyslot *s = &h->slots[i];
	uint64_t start = s->material_offset, end = start + luks1_material_sectors(h->key_bytes);

	if (s->stripes != LUKS1_STRIPES)
		return bad_header(err, path, "key slot %d has %" PRIu32 " AF stripes: LUKS1 "
				  "requires %d", i, s->stripes, LUKS1_STRIPES);
	if (s->active && !s->iterations)
		return bad_header(err, path, "key slot %d is enabled with 0 PBKDF2 iterations", i);
	if (start * LUKS1_SECTOR < LUKS1_HEADER_BYTES)
		return bad_header(err, path, "key slot %d key material offset %" PRIu64 " is "
				  "inside the header, which takes the first %d bytes", i, start,
				  LUKS1_HEADER_BYTES);
	/* A detached header may have payload offset 0: nothing to overlap. */
	if (h->payload_offset && end > h->payload_offset)
		return bad_header(err, path, "key slot %d key material (sectors %" PRIu64 " to %"
				  PRIu64 ") overlaps the payload offset %" PRIu32, i, start,
				  end - 1, h->payload_offset);
	return 0;
}

/* Sorts slot numbers by key material offset, keeping equal ones in order. */
static void sort_slots(const struct luks1_header *h, int order[LUKS1_SLOTS])
{
	for (int i = 0; i < LUKS1_SLOTS; i++) {
		int j = i;

		for (; j > 0 && h->slots[order[j - 1]].material_offset >
				h->slots[i].material_offset; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
}

uint64_t luks1_keyslots_end(const struct luks1_header *h)
{
	uint64_t end = 0;

	for (int i = 0; i < LUKS1_SLOTS; i++) {
		uint64_t slot_end = h->slots[i].material_offset +
				    luks1_material_sectors(h->key_bytes);

		if (slot_end > end)
			end = slot_end;
	}
	return end * LUKS1_SECTOR;
}

int luks1_check_header(const struct luks1_header *h, uint64_t device_bytes, const char *path,
		       struct udm_error *err)
{
	uint64_t sectors, end;
	int order[LUKS1_SLOTS], r;

	r = check_fields(h, path, err);
	for (int i = 0; i < LUKS1_SLOTS && !r; i++)
		r = check_slot(h, i, path, err);
	if (r)
		return r;

	sectors = luks1_material_sectors(h->key_bytes);
	sort_slots(h, order);
	for (int i = 1; i < LUKS1_SLOTS; i++) {
		const struct luks1_keyslot *prev = &h->slots[order[i - 1]];
		uint64_t prev_end = prev->material_offset + sectors;

		if (h->slots[order[i]].material_offset < prev_end)
			return bad_header(err, path, "key slot %d key material (sectors %" PRIu32
					  " to %" PRIu64 ") overlaps key slot %d, which starts "
					  "at sector %" PRIu32, order[i - 1],
					  prev->material_offset, prev_end - 1, order[i],
					  h->slots[order[i]].material_offset);
	}

	end = luks1_keyslots_end(h);
	if (end > device_bytes)
		return bad_header(err, path, "key slot %d key material ends at byte %" PRIu64
				  ", beyond the end of the device (%" PRIu64 " bytes)",
				  order[LUKS1_SLOTS - 1], end, device_bytes);
	return 0;
}

static int luks1_load(struct udm_volume *vol, struct udm_error *err)
{
	struct luks1_disk_header disk;
	struct luks1_header *hdr;
	uint64_t bytes;
	int r;

	r = udm_volume_size(vol, &bytes);
	if (r) {
		udm_error_set(err, "cannot read the size of %s: %s", vol->path, strerror(-r));
		return r;
	}
	if (bytes < sizeof(disk))
		return bad_header(err, vol->path, "the device has %" PRIu64 " bytes, the header "
				  "alone needs %d", bytes, LUKS1_HEADER_BYTES);
	r = udm_volume_read(vol, &disk, sizeof(disk), 0);
	if (r) {
		udm_error_set(err, "cannot read the LUKS1 header of %s: %s", vol->path,
			      strerror(-r));
		return r;
	}

	hdr = calloc(1, sizeof(*hdr));
	if (!hdr)
		return -ENOMEM;
	vol->priv = hdr;
	r = header_from_disk(&disk, hdr, vol->path, err);
	if (!r)
		r = luks1_check_header(hdr, bytes, vol->path, err);
	if (!r)
		snprintf(vol->uuid, sizeof(vol->uuid), "%s", hdr->uuid);
	return r;
}

static void luks1_destroy(struct udm_volume *vol)
{
	free(vol->priv);
	vol->priv = NULL;
}

int luks1_write_header(struct udm_volume *vol, struct udm_error *err)
{
	struct luks1_disk_header disk;
	int r;

	header_to_disk(luks1_hdr(vol), &disk);
	r = udm_volume_write(vol, &disk, sizeof(disk), 0);
	if (!r && udm_volume_sync(vol))
		r = -errno;
	if (r)
		udm_error_set(err, "cannot write the LUKS1 header to %s: %s", vol->path,
			      strerror(-r));
	return r;
}

static int luks1_keyslot_count(const struct udm_volume *vol)
{
	return LUKS1_SLOTS;
}

static bool luks1_keyslot_active(const struct udm_volume *vol, int keyslot)
{
	return keyslot >= 0 && keyslot < LUKS1_SLOTS && luks1_hdr(vol)->slots[keyslot].active;
}

/*
 * cryptsetup's luksHeaderBackup copies up to the end of the last key slot,
 * rounded up to the page size. NOTE: backups therefore differ in size
 * between hosts with 4 KiB and 64 KiB pages, as cryptsetup's do.
 */
static uint64_t luks1_header_size(const struct udm_volume *vol)
{
	uint64_t end = luks1_keyslots_end(luks1_hdr(vol));
	long page = sysconf(_SC_PAGESIZE);
	uint64_t align = page > 0 ? (uint64_t)page : 4096;

	return (end + align - 1) / align * align;
}

static int luks1_set_uuid(struct udm_volume *vol, const char *uuid, struct udm_error *err)
{
	struct luks1_header *hdr = luks1_hdr(vol);
	char old[LUKS1_UUID_BYTES], fresh[LUKS1_UUID_BYTES] = "";
	int r = 0;

	if (uuid)
		snprintf(fresh, sizeof(fresh), "%s", uuid);
	else
		r = udm_uuid_generate(fresh);
	if (r)
		return r;
	/* cryptsetup stores the UUID as libuuid prints it: lowercase. */
	for (char *c = fresh; *c; c++)
		*c = (char)tolower((unsigned char)*c);

	memcpy(old, hdr->uuid, sizeof(old));
	memset(hdr->uuid, 0, sizeof(hdr->uuid));
	memcpy(hdr->uuid, fresh, strlen(fresh));
	r = luks1_write_header(vol, err);
	if (r) {
		memcpy(hdr->uuid, old, sizeof(old));
		return r;
	}
	snprintf(vol->uuid, sizeof(vol->uuid), "%s", hdr->uuid);
	return 0;
}

static void print_hex(FILE *out, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x ", data[i]);
}

/* The layout of "cryptsetup luksDump" for LUKS1 in cryptsetup 2.6. */
static void dump_header(const struct udm_volume *vol, FILE *out)
{
	const struct luks1_header *h = luks1_hdr(vol);

	fprintf(out, "LUKS header information for %s\n\n", vol->path);
	fprintf(out, "Version:       \t1\n");
	fprintf(out, "Cipher name:   \t%s\n", h->cipher_name);
	fprintf(out, "Cipher mode:   \t%s\n", h->cipher_mode);
	fprintf(out, "Hash spec:     \t%s\n", h->hash_spec);
	fprintf(out, "Payload offset:\t%" PRIu32 "\n", h->payload_offset);
	fprintf(out, "MK bits:       \t%" PRIu32 "\n", h->key_bytes * 8);
	fprintf(out, "MK digest:     \t");
	print_hex(out, h->mk_digest, LUKS1_DIGEST_BYTES);
	fprintf(out, "\nMK salt:       \t");
	print_hex(out, h->mk_salt, LUKS1_SALT_BYTES / 2);
	fprintf(out, "\n               \t");
	print_hex(out, h->mk_salt + LUKS1_SALT_BYTES / 2, LUKS1_SALT_BYTES / 2);
	fprintf(out, "\nMK iterations: \t%" PRIu32 "\n", h->mk_iterations);
	fprintf(out, "UUID:          \t%s\n\n", h->uuid);

	for (int i = 0; i < LUKS1_SLOTS; i++) {
		const struct luks1_keyslot *s = &h->slots[i];

		if (!s->active) {
			fprintf(out, "Key Slot %d: DISABLED\n", i);
			continue;
		}
		fprintf(out, "Key Slot %d: ENABLED\n", i);
		fprintf(out, "\tIterations:         \t%" PRIu32 "\n", s->iterations);
		fprintf(out, "\tSalt:               \t");
		print_hex(out, s->salt, LUKS1_SALT_BYTES / 2);
		fprintf(out, "\n\t                      \t");
		print_hex(out, s->salt + LUKS1_SALT_BYTES / 2, LUKS1_SALT_BYTES / 2);
		fprintf(out, "\n\tKey material offset:\t%" PRIu32 "\n", s->material_offset);
		fprintf(out, "\tAF stripes:            \t%" PRIu32 "\n", s->stripes);
	}
}

/* The layout of "cryptsetup luksDump --dump-volume-key" for LUKS1. */
static void dump_volume_key(const struct udm_volume *vol, FILE *out, const struct udm_key *key)
{
	const struct luks1_header *h = luks1_hdr(vol);

	fprintf(out, "LUKS header information for %s\n", vol->path);
	fprintf(out, "Cipher name:   \t%s\n", h->cipher_name);
	fprintf(out, "Cipher mode:   \t%s\n", h->cipher_mode);
	fprintf(out, "Payload offset:\t%" PRIu32 "\n", h->payload_offset);
	fprintf(out, "UUID:          \t%s\n", h->uuid);
	fprintf(out, "MK bits:       \t%zu\n", key->size * 8);
	fprintf(out, "MK dump:\t");
	for (size_t i = 0; i < key->size; i++) {
		if (i && i % 16 == 0)
			fprintf(out, "\n\t\t");
		fprintf(out, "%02x ", key->data[i]);
	}
	fprintf(out, "\n");
}

static int luks1_dump(struct udm_volume *vol, FILE *out, const struct udm_key *key,
		      bool json_only, struct udm_error *err)
{
	int r;

	if (json_only)
		return udm_error_set(err, "%s is a LUKS1 volume, which has no JSON metadata: a "
				     "JSON dump is for LUKS2 only", vol->path);
	if (key) {
		r = luks1_verify_key(vol, key);
		if (r) {
			udm_error_set(err, "the volume key does not match the LUKS1 header of %s",
				      vol->path);
			return r;
		}
		dump_volume_key(vol, out, key);
	} else {
		dump_header(vol, out);
	}
	if (fflush(out) || ferror(out)) {
		udm_error_set(err, "cannot write the dump of %s", vol->path);
		return -EIO;
	}
	return 0;
}

static char *luks1_table(struct udm_volume *vol, const struct udm_key *key, const char *data_path,
			 uint64_t data_sectors, struct udm_error *err)
{
	const struct luks1_header *h = luks1_hdr(vol);
	size_t len = strlen(data_path) + 2 * h->key_bytes + 2 * LUKS1_NAME_BYTES + 96, pos;
	bool null_cipher = !strcmp(h->cipher_name, "cipher_null");
	char *table;

	if (strpbrk(data_path, " \t\n")) {
		udm_error_set(err, "device path '%s' contains whitespace, which a table line "
			      "cannot hold", data_path);
		return NULL;
	}
	if (luks1_verify_key(vol, key)) {
		udm_error_set(err, "the volume key does not match the LUKS1 header of %s",
			      vol->path);
		return NULL;
	}
	/* Offset 0 is for a detached header: on the header's own device the
	 * mapping would overwrite the header and the key slots. */
	if ((uint64_t)h->payload_offset * LUKS1_SECTOR < luks1_keyslots_end(h) &&
	    udm_volume_same_device(vol, data_path)) {
		udm_error_set(err, "payload offset %" PRIu32 " is inside the header and key slots "
			      "of %s, which end at sector %" PRIu64 ": a payload on the header's "
			      "device must start after them", h->payload_offset, data_path,
			      luks1_keyslots_end(h) / LUKS1_SECTOR);
		return NULL;
	}
	if (data_sectors <= h->payload_offset) {
		udm_error_set(err, "device %s is too small for the payload: it has %" PRIu64
			      " sectors, and the payload starts at sector %" PRIu32, data_path,
			      data_sectors, h->payload_offset);
		return NULL;
	}
	table = udm_secure_alloc(len);
	if (!table)
		return NULL;

	/* dm-crypt takes no key for cipher_null, so the table has "-" as cryptsetup's. */
	pos = (size_t)snprintf(table, len, "0 %" PRIu64 " crypt %s-%s ",
			       data_sectors - h->payload_offset, h->cipher_name, h->cipher_mode);
	if (null_cipher)
		table[pos++] = '-';
	else
		luks1_hex(key->data, key->size, table + pos);
	pos = strlen(table);
	snprintf(table + pos, len - pos, " 0 %s %" PRIu32, data_path, h->payload_offset);
	return table;
}

const struct volume_ops udm_luks1_ops = {
	.type = UDM_VOLUME_LUKS1,
	.name = "LUKS1",
	.format = luks1_format,
	.load = luks1_load,
	.destroy = luks1_destroy,
	.unlock = luks1_unlock,
	.verify_key = luks1_verify_key,
	.table = luks1_table,
	.add_key = luks1_add_key,
	.kill_slot = luks1_kill_slot,
	.keyslot_count = luks1_keyslot_count,
	.keyslot_active = luks1_keyslot_active,
	.set_uuid = luks1_set_uuid,
	.dump = luks1_dump,
	.header_size = luks1_header_size,
};
