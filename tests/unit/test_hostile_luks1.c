// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hostile LUKS1 headers: every field of the 592-byte header and of each key
 * slot set to out-of-range, overlapping and oversized values, and the device
 * cut short. The image is a fresh aes-xts-plain64 volume with a 32-byte key
 * and one key slot: key slot i starts at sector 8 + 256 * i, the payload at
 * sector 4096 of 4224.
 */
#include "hostile.h"

#define MAGIC 0
#define VERSION 6
#define CIPHER 8
#define MODE 40
#define HASH 72
#define PAYLOAD 104
#define KEY_BYTES 108
#define MK_DIGEST 112
#define MK_SALT 132
#define MK_ITER 164
#define UUID 168
#define SLOT(i) (208 + 48 * (i))
#define S_ACTIVE 0
#define S_ITER 4
#define S_SALT 8
#define S_OFFSET 40
#define S_STRIPES 44

#define IMAGE_SECTORS 4224
#define PAYLOAD_SECTOR 4096
#define SLOTS_END (8 + 7 * 256 + 250)	/* sector after key slot 7's material */

#define NUL32 "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
#define A32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct luks1_case {
	const char *name;
	uint64_t offset;	/* byte offset of the change */
	unsigned width;		/* 1, 2 or 4: value, big-endian; 0: bytes */
	uint64_t value;
	const char *bytes;
	size_t len;
	long truncate;		/* > 0: cut the image to this many bytes (1: to 0) */
	struct expect e;
};

#define BE(off, w, v) (off), (w), (v), NULL, 0, 0
#define BYTES(off, s) (off), 0, 0, (s), sizeof(s) - 1, 0
#define CUT(n) 0, 0, 0, NULL, 0, (n) ? (n) : 1

/* Expectations: load fails, load works and unlock fails, and so on. */
#define NO_LOAD(r, m) { .load = (r), .message = (m) }
#define NO_UNLOCK(r, m) { .unlock = (r), .message = (m) }
#define NO_TABLE(m) { .table_fails = true, .message = (m) }
#define OPENS { 0 }
#define SLOW { .no_unlock = true }

static const struct luks1_case cases[] = {
	{ "magic zeroed", BYTES(MAGIC, "\0\0\0\0\0\0"), NO_LOAD(-ENODEV, "not a valid LUKS") },
	{ "magic last byte", BE(MAGIC + 5, 1, 0xbf), NO_LOAD(-ENODEV, "not a valid LUKS") },
	{ "magic of LUKS2 secondary", BYTES(MAGIC, "SKUL\xba\xbe"),
	  NO_LOAD(-ENODEV, "not a valid LUKS") },
	{ "version 0", BE(VERSION, 2, 0), NO_LOAD(-ENODEV, "unsupported LUKS version 0") },
	{ "version 3", BE(VERSION, 2, 3), NO_LOAD(-ENODEV, "unsupported LUKS version 3") },
	{ "version 65535", BE(VERSION, 2, 0xffff),
	  NO_LOAD(-ENODEV, "unsupported LUKS version 65535") },
	{ "version 2", BE(VERSION, 2, 2), NO_LOAD(-EINVAL, "LUKS2 header") },

	{ "cipher name without NUL", BYTES(CIPHER, A32),
	  NO_LOAD(-EINVAL, "cipher name field has no terminating NUL") },
	{ "cipher name empty", BYTES(CIPHER, "\0"), NO_LOAD(-EINVAL, "invalid cipher name ''") },
	{ "cipher name with newline", BYTES(CIPHER, "aes\n"),
	  NO_LOAD(-EINVAL, "cipher name field contains byte 0x0a") },
	{ "cipher name with dash", BYTES(CIPHER, "aes-cbc"),
	  NO_LOAD(-EINVAL, "invalid cipher name 'aes-cbc'") },
	{ "cipher name unknown", BYTES(CIPHER, "nocipher"),
	  NO_UNLOCK(-EINVAL, "unknown cipher 'nocipher'") },
	{ "cipher name of 31 bytes", BYTES(CIPHER, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\0"),
	  NO_UNLOCK(-EINVAL, "unknown cipher") },
	{ "cipher mode without NUL", BYTES(MODE, A32),
	  NO_LOAD(-EINVAL, "cipher mode field has no terminating NUL") },
	{ "cipher mode empty", BYTES(MODE, "\0"), NO_LOAD(-EINVAL, "invalid cipher mode ''") },
	{ "cipher mode with space", BYTES(MODE, "xts plain64"),
	  NO_LOAD(-EINVAL, "cipher mode field contains byte 0x20") },
	{ "cipher mode unknown IV", BYTES(MODE, "xts-noiv\0\0\0"),
	  NO_UNLOCK(-EINVAL, "noiv") },
	{ "cipher mode unknown", BYTES(MODE, "nomode-plain64"), NO_UNLOCK(-EINVAL, "nomode") },

	{ "hash spec without NUL", BYTES(HASH, A32),
	  NO_LOAD(-EINVAL, "hash spec field has no terminating NUL") },
	{ "hash spec empty", BYTES(HASH, "\0"), NO_LOAD(-ENOTSUP, "unsupported LUKS1 hash ''") },
	{ "hash spec unknown", BYTES(HASH, "nohash\0"),
	  NO_LOAD(-ENOTSUP, "unsupported LUKS1 hash 'nohash'") },
	{ "hash spec md5", BYTES(HASH, "md5\0\0\0\0"),
	  NO_LOAD(-EINVAL, "its 16-byte digest is shorter") },
	{ "hash spec upper case", BYTES(HASH, "SHA256"), OPENS },
	{ "hash spec sha512", BYTES(HASH, "sha512"), NO_UNLOCK(-EPERM, "wrong passphrase") },

	{ "payload offset 0", BE(PAYLOAD, 4, 0),
	  NO_TABLE("payload offset 0 is inside the header and key slots") },
	{ "payload offset 1", BE(PAYLOAD, 4, 1),
	  NO_LOAD(-EINVAL, "key slot 0 key material (sectors 8 to 257) overlaps the payload "
		  "offset 1") },
	{ "payload offset in slot 7", BE(PAYLOAD, 4, SLOTS_END - 1),
	  NO_LOAD(-EINVAL, "key slot 7 key material (sectors 1800 to 2049) overlaps the "
		  "payload offset 2049") },
	{ "payload offset at slots end", BE(PAYLOAD, 4, SLOTS_END), OPENS },
	{ "payload offset at device end", BE(PAYLOAD, 4, IMAGE_SECTORS),
	  NO_TABLE("too small for the payload") },
	{ "payload offset 2^32-1", BE(PAYLOAD, 4, 0xffffffff),
	  NO_TABLE("too small for the payload") },

	{ "key bytes 0", BE(KEY_BYTES, 4, 0), NO_LOAD(-EINVAL, "invalid key bytes 0") },
	{ "key bytes 16", BE(KEY_BYTES, 4, 16),
	  NO_UNLOCK(-EINVAL, "cannot use cipher aes-xts-plain64 with a 16-byte key") },
	{ "key bytes 33", BE(KEY_BYTES, 4, 33),
	  NO_LOAD(-EINVAL, "key slot 0 key material (sectors 8 to 265) overlaps key slot 1") },
	{ "key bytes 64", BE(KEY_BYTES, 4, 64), NO_LOAD(-EINVAL, "overlaps key slot 1") },
	{ "key bytes 513", BE(KEY_BYTES, 4, 513), NO_LOAD(-EINVAL, "invalid key bytes 513") },
	{ "key bytes 2^32-1", BE(KEY_BYTES, 4, 0xffffffff),
	  NO_LOAD(-EINVAL, "invalid key bytes 4294967295") },

	/* Random fields (salts, digests, checksums) get 8 bytes overwritten: one
	 * byte would keep its old value in 1 of 256 runs. */
	{ "mk digest flipped", BE(MK_DIGEST + 12, 8, 0x5a5a5a5a5a5a5a5a), NO_UNLOCK(-EPERM, "wrong passphrase") },
	{ "mk digest zeroed", BYTES(MK_DIGEST, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
	  NO_UNLOCK(-EPERM, "wrong passphrase") },
	{ "mk salt flipped", BE(MK_SALT, 8, 0x5a5a5a5a5a5a5a5a), NO_UNLOCK(-EPERM, "wrong passphrase") },
	{ "mk iterations 0", BE(MK_ITER, 4, 0), NO_LOAD(-EINVAL, "volume key digest has 0") },
	{ "mk iterations 1", BE(MK_ITER, 4, 1), NO_UNLOCK(-EPERM, "wrong passphrase") },
	{ "mk iterations 2^31", BE(MK_ITER, 4, 0x80000000), SLOW },
	{ "mk iterations 2^32-1", BE(MK_ITER, 4, 0xffffffff), SLOW },

	{ "UUID without NUL", BYTES(UUID, A32 "aaaaaaaa"),
	  NO_LOAD(-EINVAL, "UUID field has no terminating NUL") },
	{ "UUID with escape byte", BYTES(UUID, "\x1b[2J"),
	  NO_LOAD(-EINVAL, "UUID field contains byte 0x1b") },
	{ "UUID with byte 0xff", BE(UUID + 3, 1, 0xff),
	  NO_LOAD(-EINVAL, "UUID field contains byte 0xff") },
	{ "UUID empty", BYTES(UUID, "\0"), OPENS },

	{ "slot 0 state 0", BE(SLOT(0) + S_ACTIVE, 4, 0),
	  NO_LOAD(-EINVAL, "key slot 0 has state 0x00000000") },
	{ "slot 0 state all ones", BE(SLOT(0) + S_ACTIVE, 4, 0xffffffff),
	  NO_LOAD(-EINVAL, "key slot 0 has state 0xffffffff") },
	{ "slot 0 disabled", BE(SLOT(0) + S_ACTIVE, 4, 0xdead),
	  NO_UNLOCK(-ENOENT, "no active key slot") },
	{ "slot 3 enabled", BE(SLOT(3) + S_ACTIVE, 4, 0x00ac71f3),
	  NO_LOAD(-EINVAL, "key slot 3 is enabled with 0 PBKDF2 iterations") },
	{ "slot 0 iterations 0", BE(SLOT(0) + S_ITER, 4, 0),
	  NO_LOAD(-EINVAL, "key slot 0 is enabled with 0 PBKDF2 iterations") },
	{ "slot 0 iterations 1", BE(SLOT(0) + S_ITER, 4, 1), NO_UNLOCK(-EPERM, "wrong passphrase") },
	{ "slot 0 iterations 2^32-1", BE(SLOT(0) + S_ITER, 4, 0xffffffff), SLOW },
	{ "slot 3 iterations 2^32-1", BE(SLOT(3) + S_ITER, 4, 0xffffffff), OPENS },
	{ "slot 0 salt flipped", BE(SLOT(0) + S_SALT + 24, 8, 1),
	  NO_UNLOCK(-EPERM, "wrong passphrase") },
	{ "slot 0 offset 0", BE(SLOT(0) + S_OFFSET, 4, 0),
	  NO_LOAD(-EINVAL, "key slot 0 key material offset 0 is inside the header") },
	{ "slot 0 offset 1", BE(SLOT(0) + S_OFFSET, 4, 1),
	  NO_LOAD(-EINVAL, "key slot 0 key material offset 1 is inside the header") },
	{ "slot 0 on slot 1", BE(SLOT(0) + S_OFFSET, 4, 264),
	  NO_LOAD(-EINVAL, "overlaps key slot") },
	{ "slot 0 half into slot 1", BE(SLOT(0) + S_OFFSET, 4, 140),
	  NO_LOAD(-EINVAL, "key slot 0 key material (sectors 140 to 389) overlaps key slot 1") },
	{ "slot 0 into payload", BE(SLOT(0) + S_OFFSET, 4, PAYLOAD_SECTOR - 100),
	  NO_LOAD(-EINVAL, "overlaps the payload offset 4096") },
	{ "slot 0 offset 2^32-1", BE(SLOT(0) + S_OFFSET, 4, 0xffffffff),
	  NO_LOAD(-EINVAL, "key slot 0 key material (sectors 4294967295 to 4294967544) "
		  "overlaps the payload") },
	{ "slot 5 offset past device", BE(SLOT(5) + S_OFFSET, 4, 0xffffff00),
	  NO_LOAD(-EINVAL, "key slot 5 key material") },
	{ "slot 0 material zeroed", BYTES(8 * 512, NUL32), NO_UNLOCK(-EPERM, "wrong passphrase") },
	{ "slot 0 stripes 0", BE(SLOT(0) + S_STRIPES, 4, 0),
	  NO_LOAD(-EINVAL, "key slot 0 has 0 AF stripes") },
	{ "slot 0 stripes 1", BE(SLOT(0) + S_STRIPES, 4, 1),
	  NO_LOAD(-EINVAL, "key slot 0 has 1 AF stripes") },
	{ "slot 0 stripes 4001", BE(SLOT(0) + S_STRIPES, 4, 4001),
	  NO_LOAD(-EINVAL, "key slot 0 has 4001 AF stripes") },
	{ "slot 0 stripes 2^32-1", BE(SLOT(0) + S_STRIPES, 4, 0xffffffff),
	  NO_LOAD(-EINVAL, "key slot 0 has 4294967295 AF stripes") },
	{ "slot 7 stripes 3999", BE(SLOT(7) + S_STRIPES, 4, 3999),
	  NO_LOAD(-EINVAL, "key slot 7 has 3999 AF stripes") },

	{ "device empty", CUT(0), NO_LOAD(-ENODEV, "not a valid LUKS") },
	{ "device of 7 bytes", CUT(7), NO_LOAD(-ENODEV, "not a valid LUKS") },
	{ "device of 591 bytes", CUT(591), NO_LOAD(-EINVAL, "the header alone needs 592") },
	{ "device of 592 bytes", CUT(592),
	  NO_LOAD(-EINVAL, "beyond the end of the device (592 bytes)") },
	{ "device ends in slot 0", CUT(8 * 512 + 1000), NO_LOAD(-EINVAL, "beyond the end") },
	{ "device ends in slot 7", CUT(SLOTS_END * 512 - 1), NO_LOAD(-EINVAL, "key slot 7") },
	{ "device ends after slots", CUT(SLOTS_END * 512), NO_TABLE("too small for the payload") },
	{ "device ends at payload", CUT(PAYLOAD_SECTOR * 512), NO_TABLE("too small") },
	{ "device grown", CUT((IMAGE_SECTORS + 2048) * 512), OPENS },
};

static bool apply(const struct luks1_case *c, struct image *img)
{
	size_t cut = c->truncate == 1 ? 0 : (size_t)c->truncate;

	if (c->truncate) {
		uint8_t *grown = realloc(img->data, cut + 1);

		if (!grown)
			return false;
		if (cut > img->len)
			memset(grown + img->len, 0, cut - img->len);
		img->data = grown;
		img->len = cut;
	} else if (c->width) {
		put_be(img->data + c->offset, c->width, c->value);
	} else {
		memcpy(img->data + c->offset, c->bytes, c->len);
	}
	return true;
}

/* Checks the layout that the offsets in the cases assume. */
static bool layout_ok(const struct image *img)
{
	if (img->len != IMAGE_SECTORS * 512 || get_be(img->data + PAYLOAD, 4) != PAYLOAD_SECTOR ||
	    get_be(img->data + KEY_BYTES, 4) != HOSTILE_KEY_BYTES)
		return false;
	for (int i = 0; i < 8; i++)
		if (get_be(img->data + SLOT(i) + S_OFFSET, 4) != 8 + 256 * (uint64_t)i ||
		    get_be(img->data + SLOT(i) + S_ACTIVE, 4) != (i ? 0xdead : 0x00ac71f3))
			return false;
	return true;
}

static int make_volume(const char *path, struct image *img)
{
	struct udm_key *key = udm_key_new(HOSTILE_KEY_BYTES);
	struct udm_format_params p = {
		.type = UDM_VOLUME_LUKS1, .cipher = "aes", .cipher_mode = "xts-plain64",
		.key_size = HOSTILE_KEY_BYTES, .hash = "sha256", .keyslot = -1,
		.pbkdf = { .force_iterations = 1000 },
	};
	struct udm_error err = { .msg = "" };
	struct image empty = { .len = IMAGE_SECTORS * 512 };
	int r = -ENOMEM;

	empty.data = calloc(1, empty.len);
	if (key && empty.data && image_write(path, &empty)) {
		memcpy(key->data, hostile_key, HOSTILE_KEY_BYTES);
		p.volume_key = key;
		r = udm_luks_format(path, &p, HOSTILE_PASS, strlen(HOSTILE_PASS), NULL, &err);
	}
	if (!r)
		r = image_read(path, img) && layout_ok(img) ? 0 : -EIO;
	test_result("hostile LUKS1 volume made", !r, "%d %s", r, err.msg);
	udm_key_free(key);
	free(empty.data);
	return r;
}

int main(void)
{
	char fresh[256], damaged[256];
	struct image clean;

	if (hostile_setup())
		return 1;
	hostile_path(fresh, sizeof(fresh), "luks1.img");
	hostile_path(damaged, sizeof(damaged), "damaged.img");
	if (make_volume(fresh, &clean))
		goto out;
	hostile_run("intact LUKS1 opens", fresh, &(struct expect)OPENS);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct image img;
		char name[128];

		snprintf(name, sizeof(name), "LUKS1 %s", cases[i].name);
		if (!image_copy(&clean, &img) || !apply(&cases[i], &img) ||
		    !image_write(damaged, &img))
			test_result(name, false, "cannot write the damaged image");
		else
			hostile_run(name, damaged, &cases[i].e);
		free(img.data);
	}
	free(clean.data);
out:
	hostile_cleanup();
	return test_failures ? 1 : 0;
}
