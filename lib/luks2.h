/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * LUKS2 internals shared by the lib/luks2*.c files: the binary header as it
 * is on disk, the header in memory, and the helpers for the JSON metadata.
 * The format is LUKS2 as cryptsetup 2.6 reads and writes it (its sources in
 * lib/luks2/ and its format notes in docs/LUKS2-format.txt).
 *
 * A LUKS2 device starts with two copies of the metadata, each a 4096-byte
 * binary header followed by the JSON area. The second copy starts where the
 * first ends, and the key slots area follows both. Every number in the
 * binary header is big-endian.
 */
#ifndef UDM_LUKS2_H
#define UDM_LUKS2_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "pbkdf.h"
#include "volume_internal.h"

#define LUKS2_HDR_BIN_LEN 4096
#define LUKS2_MAGIC_L 6
#define LUKS2_LABEL_L 48
#define LUKS2_UUID_L 40
#define LUKS2_SALT_L 64
#define LUKS2_CHECKSUM_ALG_L 32
#define LUKS2_CHECKSUM_L 64

#define LUKS2_KEYSLOTS_MAX 32
#define LUKS2_TOKENS_MAX 32
#define LUKS2_SEGMENTS_MAX 32
#define LUKS2_DIGESTS_MAX 32

/* One metadata copy (binary header and JSON area): 16 KiB to 4 MiB, a power
 * of two. These are also the offsets where a secondary copy may start. */
#define LUKS2_HDR_MIN_SIZE 0x4000ULL
#define LUKS2_HDR_MAX_SIZE 0x400000ULL
/* Largest key slots area cryptsetup 2.6 creates or accepts. */
#define LUKS2_MAX_KEYSLOTS_SIZE 0x8000000ULL
/* cryptsetup 2.6 sizes the default header and key slots to end at 16 MiB. */
#define LUKS2_DEFAULT_HDR_AREA 0x1000000ULL
#define LUKS2_DATA_ALIGNMENT 0x100000ULL

#define LUKS2_SALT_SIZE 32	/* key slot and digest salts */
#define LUKS2_STRIPES 4000	/* the only AF stripe count cryptsetup uses */
#define LUKS2_MAX_KEY_SIZE 512	/* bytes of a volume key or key slot key */
#define LUKS2_DIGEST_MIN_ITERATIONS 1000
#define LUKS2_DIGEST_ITER_TIME_MS 125
#define LUKS2_JSON_MAX_DEPTH 32	/* json-c's default nesting limit */

/* The binary header of one metadata copy, as on disk. */
struct luks2_disk_hdr {
	char magic[LUKS2_MAGIC_L];
	uint16_t version;
	uint64_t hdr_size;	/* bytes of this copy: binary header and JSON area */
	uint64_t seqid;		/* incremented on every update */
	char label[LUKS2_LABEL_L];
	char checksum_alg[LUKS2_CHECKSUM_ALG_L];
	uint8_t salt[LUKS2_SALT_L];	/* differs between the copies */
	char uuid[LUKS2_UUID_L];
	char subsystem[LUKS2_LABEL_L];
	uint64_t hdr_offset;	/* where this copy starts on the device */
	uint8_t padding[184];
	uint8_t csum[LUKS2_CHECKSUM_L];	/* over this header (csum zeroed) and the JSON area */
	uint8_t padding4096[7 * 512];
} __attribute__((packed));

_Static_assert(sizeof(struct luks2_disk_hdr) == LUKS2_HDR_BIN_LEN, "LUKS2 binary header size");
_Static_assert(offsetof(struct luks2_disk_hdr, csum) == 448, "LUKS2 checksum offset");

/* The header in memory: the binary fields of the copy in use and the whole
 * JSON object, kept as parsed so that unknown keys are written back. */
struct luks2_hdr {
	uint64_t hdr_size;
	uint64_t seqid;
	char label[LUKS2_LABEL_L];
	char subsystem[LUKS2_LABEL_L];
	char checksum_alg[LUKS2_CHECKSUM_ALG_L];
	char uuid[LUKS2_UUID_L];
	uint8_t salt[2][LUKS2_SALT_L];	/* of the primary and the secondary copy */
	json_object *jobj;
};

/* vol->priv of a LUKS2 volume. */
struct luks2_volume {
	struct luks2_hdr hdr;
	uint64_t device_size;
	/* Mandatory requirements udmcrypt does not implement, comma-separated;
	 * NULL when there are none. */
	char *unmet_requirements;
};

/* A key slot of type "luks2", read from the JSON metadata. */
struct luks2_keyslot {
	int id;
	uint32_t key_size;		/* of the volume key it stores */
	struct udm_pbkdf pbkdf;
	uint8_t salt[LUKS2_SALT_SIZE];
	char af_hash[32];
	uint32_t stripes;
	const char *encryption;		/* of the area; points into the JSON object */
	uint32_t area_key_size;
	uint64_t area_offset, area_size;
	int digest;			/* the digest that lists this key slot */
};

/* A digest of type "pbkdf2". */
struct luks2_digest {
	int id;
	char hash[32];
	uint32_t iterations;
	uint8_t salt[LUKS2_SALT_SIZE];
	uint8_t value[UDM_MAX_DIGEST];
	size_t value_len;
};

/* luks2_disk.c: both metadata copies. */

/* Reads both copies from fd, keeps the valid one with the higher seqid and
 * logs a warning when the other is damaged or older. Returns 0, -ENODEV
 * without a LUKS2 magic at offset 0 and no secondary copy, -EINVAL for
 * invalid metadata (err names the field), or -EIO. */
int luks2_disk_read(const struct udm_volume *vol, uint64_t device_size, struct luks2_hdr *hdr, struct udm_error *err);

/* Writes hdr with seqid + 1 to both copies, primary first. Returns 0,
 * -EBUSY when another writer changed the header since it was read, or
 * another negative errno. On failure hdr->seqid is unchanged. */
int luks2_disk_write(const struct udm_volume *vol, struct luks2_hdr *hdr, struct udm_error *err);

/* Checks, as cryptsetup does before it writes, that no other writer updated
 * the header since hdr was read. Returns 0 or -EBUSY with err set. */
int luks2_disk_check_seqid(const struct udm_volume *vol, const struct luks2_hdr *hdr, struct udm_error *err);

/* luks2_json.c: parsing and validation of the JSON area. */

/* Parses the JSON area of one copy: one object, then only NUL bytes.
 * Rejects nesting deeper than LUKS2_JSON_MAX_DEPTH and duplicated keys. */
int luks2_json_parse(const char *area, size_t area_len, json_object **jobjp,
		     struct udm_error *err);

/* Checks every section against the LUKS2 format and the device: types,
 * references between objects, area and segment offsets. */
int luks2_json_validate(json_object *jobj, uint64_t hdr_size, uint64_t device_size,
			struct udm_error *err);

/* Serializes jobj as cryptsetup writes it (plain, no escaped slashes). The
 * string belongs to jobj. */
const char *luks2_json_text(json_object *jobj);

json_object *luks2_section(json_object *jobj, const char *name);
/* Member "N" of a numbered section, or NULL. */
json_object *luks2_numbered(json_object *section, int n);
/* A string member without embedded NUL bytes, or NULL. */
const char *luks2_string(json_object *obj, const char *key);
/* A decimal string member ("offset", "size") parsed strictly. */
int luks2_string_u64(json_object *obj, const char *key, uint64_t *out);
/* An integer member in 0..UINT32_MAX. */
int luks2_int_u32(json_object *obj, const char *key, uint32_t *out);
bool luks2_array_has(json_object *array, int n);
/* Removes every "n" from the array. */
void luks2_array_remove(json_object *array, int n);
int luks2_array_add(json_object *array, int n);

uint64_t luks2_keyslots_size(json_object *jobj);
/* Bytes of both metadata copies and the key slots area. */
uint64_t luks2_header_area_size(const struct luks2_hdr *hdr);
/* The digest listing key slot or segment n, or -ENOENT. */
int luks2_digest_of(json_object *jobj, const char *list, int n);

/* Decodes standard base64 into exactly len bytes; -EINVAL otherwise. */
int luks2_base64_decode(const char *text, uint8_t *out, size_t len);
/* Variable-length decoding into at most max bytes. */
int luks2_base64_decode_max(const char *text, uint8_t *out, size_t max, size_t *len);
/* Returns a malloc'ed base64 string or NULL. */
char *luks2_base64_encode(const uint8_t *data, size_t len);

/* luks2_keyslot.c: key slots and digests. */

int luks2_keyslot_read(json_object *jobj, int slot, struct luks2_keyslot *ks,
		       struct udm_error *err);
int luks2_digest_read(json_object *jobj, int id, struct luks2_digest *dg, struct udm_error *err);

/* Derives the slot's key from pass, decrypts the area and merges the volume
 * key into key (ks->key_size bytes). Does not check the digest. */
int luks2_keyslot_open(const struct udm_volume *vol, const struct luks2_keyslot *ks, const char *pass,
		       size_t pass_len, uint8_t *key, struct udm_error *err);

/* Splits key, encrypts it for pass and writes it to the slot's area; the
 * area must already be allocated in ks. */
int luks2_keyslot_store(const struct udm_volume *vol, const struct luks2_keyslot *ks, const char *pass,
			size_t pass_len, const uint8_t *key, struct udm_error *err);

/* Checks key against the digest: 0 when it matches, -EPERM when not. */
int luks2_digest_verify(const struct luks2_digest *dg, const uint8_t *key, size_t key_len);

/* Adds a pbkdf2 digest of key with id to jobj's digests (no lists yet). */
int luks2_digest_create(json_object *jobj, int id, const char *hash, bool benchmark,
			const uint8_t *key, size_t key_len, struct udm_error *err);

/* Finds a free part of the key slots area of jobj for a key of key_size
 * bytes: the first gap that fits, as cryptsetup allocates. -ENOSPC when full. */
int luks2_area_find(json_object *jobj, uint64_t hdr_size, uint32_t key_size, uint64_t *offset,
		    uint64_t *size);

/* Bytes of AF material for key_size and stripes, in whole 512-byte sectors. */
uint64_t luks2_af_bytes(uint64_t key_size, uint64_t stripes);

/* Adds the JSON of a new luks2 key slot for a key of key_len bytes to jobj
 * and lists it in the digest of segment 0, with a fresh salt, an allocated
 * area and the area encryption cryptsetup would pick. Fills ks for
 * luks2_keyslot_store(); ks points into jobj. Writes nothing. */
int luks2_keyslot_new(json_object *jobj, uint64_t hdr_size, int slot, size_t key_len,
		      const struct udm_pbkdf *pbkdf, const char *af_hash, struct luks2_keyslot *ks,
		      struct udm_error *err);

/* Encrypts or decrypts len bytes of key slot material in memory with the
 * area's encryption, as cryptsetup does through dm-crypt (sector 0 at the
 * start of the material, 512-byte sectors). */
int luks2_area_crypt(const char *encryption, const uint8_t *key, size_t key_len, uint8_t *buf,
		     size_t len, bool encrypt, struct udm_error *err);

/* luks2.c */

/* Replaces the metadata with jobj after validating it and writes both
 * copies; on failure the volume keeps its old metadata. Takes jobj. */
int luks2_commit(struct udm_volume *vol, json_object *jobj, struct udm_error *err);

/* Stores key for pass in the free key slot keyslot, with resolved PBKDF
 * costs, and commits the metadata. */
int luks2_add_keyslot(struct udm_volume *vol, int keyslot, const struct udm_key *key,
		      const char *pass, size_t pass_len, const struct udm_pbkdf *pbkdf,
		      const char *af_hash, struct udm_error *err);

/* luks2_format.c */
int luks2_format(struct udm_volume *vol, const struct udm_format_params *params,
		 const char *pass, size_t pass_len, struct udm_error *err);

/* luks2_dump.c */
int luks2_dump(struct udm_volume *vol, FILE *out, const struct udm_key *key, bool json_only,
	       struct udm_error *err);


#endif
