/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * LUKS1 state shared by the header code (luks1.c), format (luks1_format.c)
 * and the key slot code (luks1_keyslot.c). Field names follow the LUKS1
 * on-disk format specification, version 1.2.3. Numbers are in host order.
 */
#ifndef UDM_LUKS1_INTERNAL_H
#define UDM_LUKS1_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "volume_internal.h"

#define LUKS1_HEADER_BYTES 592
#define LUKS1_SLOTS 8
#define LUKS1_STRIPES 4000
#define LUKS1_SALT_BYTES 32
#define LUKS1_DIGEST_BYTES 20
#define LUKS1_NAME_BYTES 32	/* cipher name, cipher mode and hash spec fields */
#define LUKS1_UUID_BYTES 40
#define LUKS1_SLOT_ENABLED 0x00AC71F3u
#define LUKS1_SLOT_DISABLED 0x0000DEADu
#define LUKS1_SECTOR 512
/* Key slots and the payload start on multiples of 4096 bytes (8 sectors). */
#define LUKS1_ALIGN_SECTORS 8
/* NOTE: cryptsetup bounds the key size only through the size of the key
 * slot areas. 512 bytes is udmcrypt's limit, far above any cipher's key. */
#define LUKS1_MAX_KEY_BYTES 512
#define LUKS1_MIN_ITERATIONS 1000

struct luks1_keyslot {
	bool active;
	uint32_t iterations;
	uint8_t salt[LUKS1_SALT_BYTES];
	uint32_t material_offset;	/* 512-byte sectors */
	uint32_t stripes;
};

/* The header in memory: every string NUL-terminated and checked. */
struct luks1_header {
	char cipher_name[LUKS1_NAME_BYTES];
	char cipher_mode[LUKS1_NAME_BYTES];
	char hash_spec[LUKS1_NAME_BYTES];
	uint32_t payload_offset;	/* 512-byte sectors, 0 for a detached header */
	uint32_t key_bytes;
	uint8_t mk_digest[LUKS1_DIGEST_BYTES];
	uint8_t mk_salt[LUKS1_SALT_BYTES];
	uint32_t mk_iterations;
	char uuid[LUKS1_UUID_BYTES];
	struct luks1_keyslot slots[LUKS1_SLOTS];
};

/* The header of a loaded volume (vol->priv). */
static inline struct luks1_header *luks1_hdr(const struct udm_volume *vol)
{
	return vol->priv;
}

/* Sectors of key material one key slot holds: key_bytes * 4000, rounded up. */
static inline uint64_t luks1_material_sectors(uint32_t key_bytes)
{
	return ((uint64_t)key_bytes * LUKS1_STRIPES + LUKS1_SECTOR - 1) / LUKS1_SECTOR;
}

/* Checks a cipher name, or a cipher mode when mode is set: short enough for
 * the header, and only characters that are safe in a table line. */
bool luks1_valid_name(const char *s, bool mode);

/* Checks that hash is known and gives at least the 20 bytes of the volume
 * key digest: 0, -ENOTSUP (unknown) or -EINVAL, with err set. */
int luks1_check_hash(const char *hash, struct udm_error *err);

/* Byte offset of the end of the last key slot's key material. */
uint64_t luks1_keyslots_end(const struct luks1_header *hdr);

/*
 * Checks a header read from path (or about to be written to it), a device
 * of device_bytes bytes. Every key slot, active or not, must have 4000
 * stripes and key material after the header, before the payload, apart from
 * the other slots and inside the device. Returns 0, or -EINVAL or -ENOTSUP
 * with err naming the field and the slot.
 */
int luks1_check_header(const struct luks1_header *hdr, uint64_t device_bytes, const char *path,
		       struct udm_error *err);

/*
 * Resolves the PBKDF of a new key slot from params (NULL for defaults):
 * PBKDF2 with the header's hash, iterations benchmarked for the requested
 * time unless params->force_iterations is set. Sets *iterations, and
 * *iter_time_ms to the time it aimed at (0 when forced).
 */
int luks1_slot_pbkdf(const struct luks1_header *hdr, const struct udm_pbkdf_params *params,
		     uint32_t *iterations, unsigned *iter_time_ms, struct udm_error *err);

/* Writes the header (its first 592 bytes, one write) and flushes the file. */
int luks1_write_header(struct udm_volume *vol, struct udm_error *err);

/* Writes len bytes of hex for key into out (2 * len + 1 bytes). */
void luks1_hex(const uint8_t *key, size_t len, char *out);

/* Checks that the cipher of hdr takes key (key_bytes long) in a crypt table,
 * by keying a crypt target with it. */
int luks1_check_cipher(const struct luks1_header *hdr, const uint8_t *key, struct udm_error *err);

/* Rejects a non-empty passphrase for cipher_null, whose key slots open only
 * with the empty one, as in cryptsetup. */
int luks1_check_passphrase(const struct luks1_header *hdr, size_t pass_len,
			   struct udm_error *err);

/* Computes the volume key digest of key (len bytes): PBKDF2 with the
 * header's hash, digest salt and digest iterations. Returns 0 or -errno. */
int luks1_key_digest(const struct luks1_header *hdr, const uint8_t *key, size_t len,
		     uint8_t digest[LUKS1_DIGEST_BYTES]);

/* Compares key with the header's volume key digest: 0, -EPERM, or another
 * negative errno when the digest cannot be computed. */
int luks1_verify_key(struct udm_volume *vol, const struct udm_key *key);

/*
 * Stores key in key slot slot for pass: derives the slot key with PBKDF2,
 * splits and encrypts key into the slot's key material, writes it and
 * flushes the file, then marks the slot active in memory only. The caller
 * writes the header. iterations is the slot's PBKDF2 count.
 */
int luks1_store_keyslot(struct udm_volume *vol, int slot, const struct udm_key *key,
			const char *pass, size_t pass_len, uint32_t iterations,
			struct udm_error *err);

/* The ops of luks1_format.c and luks1_keyslot.c. */
int luks1_format(struct udm_volume *vol, const struct udm_format_params *params,
		 const char *pass, size_t pass_len, struct udm_error *err);
int luks1_unlock(struct udm_volume *vol, int keyslot, const char *pass, size_t pass_len,
		 struct udm_key **keyp, struct udm_error *err);
int luks1_add_key(struct udm_volume *vol, int keyslot, const struct udm_key *key,
		  const char *pass, size_t pass_len, const struct udm_pbkdf_params *params,
		  struct udm_error *err);
int luks1_kill_slot(struct udm_volume *vol, int keyslot, struct udm_error *err);

#endif
