// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LUKS1. The images of cryptsetup's test suite open with their passphrases
 * and decrypt to the content its scripts expect. Damaged headers are
 * rejected with one line naming the field, and the file stays as it was.
 * Format, key slot changes and UUID changes work, and cryptsetup (when
 * installed) reads what udmcrypt writes. Run from the top of the repository,
 * because the images are in tests/data/luks1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "luks1_util.h"

/* ---- the images of cryptsetup's test suite ---- */

enum check { FAT_DEAD_BABE, SHA256_OF_PAYLOAD, SHA1_OF_PAYLOAD };

struct fixture {
	const char *image;
	const char *pass;	/* NULL: the key file keyfile1 */
	const char *volume_key;	/* hex, or NULL when cryptsetup could not tell it */
	enum check check;
	const char *digest;	/* for the SHA checks */
	const char *needs_hash;	/* a hash the cipher needs, or NULL */
};

static const struct fixture fixtures[] = {
	{ "compatimage.img", "compatkey", "e1a851c034ed7993b276608a45842b7b", SHA256_OF_PAYLOAD,
	  "7428e8f2436882a07eb32765086f5c899474c08b5576f556b573d2aabdf923e8" },
	{ "compatv10image.img", "compatkey", "8351939072ee8fdf0d1b4537850f812b", SHA1_OF_PAYLOAD,
	  "51b48c2471a7593ceaf14dc5e66bca86ed05f6cc" },
	{ "luks1_aes-cbc-essiv-sha256-sha1.img", NULL,
	  "582a935a5bc5418a481a08644784206398846696680b8edfa55826b969bb4438", SHA256_OF_PAYLOAD,
	  "15898285e6c9ad576729cc01e5a557ebddfe562ea855bae0a2aba4fb8439eb1a" },
	{ "luks1_aes-xts-plain64-sha1.img", NULL,
	  "8a30e57f29d9d0165e2964e68e12ca17e3b6703b48faee3acc9922388b5b019a", SHA256_OF_PAYLOAD,
	  "f1c9268181840ccff69d719b9c592fc1e97c59d707e14cc12cc7288dca37e751" },
	{ "luks1_aes-xts-plain64-sha256.img", NULL,
	  "b1c4a7c0f69cbfd1ef32ec65ada15a0aa41fa940ade5289911a64d31bcd07b30", SHA256_OF_PAYLOAD,
	  "b42c93fc807d8c40cc05c932ae5c27fc56af96a0a3d5f53d215f63e4c59e7577" },
	{ "luks1_aes-xts-plain64-whirlpool.img", NULL,
	  "cf3bf5067c4e756f2635d71bd5c04a7e6f80ca695af189f7ffcb9201a438e3bc", SHA256_OF_PAYLOAD,
	  "7184f40554996bfc78cf81ec870b29debc3fff0554fc136fb41b0c431c9cf953" },
	{ "luks1_aes-lrw-plain64-sha1.img", NULL, NULL, FAT_DEAD_BABE },
	{ "luks1_aes-xts-essiv-wp256-whirlpool.img", NULL, NULL, FAT_DEAD_BABE, NULL, "wp256" },
	{ "luks1_serpent-xts-plain64-sha1.img", NULL, NULL, FAT_DEAD_BABE },
	{ "luks1_serpent-xts-plain64-sha256.img", NULL, NULL, FAT_DEAD_BABE },
	{ "luks1_serpent-xts-plain64-whirlpool.img", NULL, NULL, FAT_DEAD_BABE },
	{ "luks1_twofish-xts-plain64-sha1.img", NULL, NULL, FAT_DEAD_BABE },
	{ "luks1_twofish-xts-plain64-sha256.img", NULL, NULL, FAT_DEAD_BABE },
	{ "luks1_twofish-xts-plain64-whirlpool.img", NULL, NULL, FAT_DEAD_BABE },
};

/* Maps the payload with key and reads it whole into *data. */
static int read_payload(struct udm_volume *vol, const struct udm_key *key, const char *image,
			uint8_t **data, size_t *len, struct udm_error *err)
{
	struct udm_device *dev = NULL;
	char *table = udm_volume_table(vol, key, image, err);
	int r = table ? udm_device_open(&dev, table, UDM_OPEN_READONLY, err) : -EINVAL;

	udm_secure_free(table);
	if (r)
		return r;
	*len = (size_t)udm_device_size(dev);
	*data = malloc(*len);
	r = *data ? udm_device_pread(dev, *data, *len, 0) : -ENOMEM;
	udm_device_close(dev);
	return r;
}

static bool content_matches(const struct fixture *f, const uint8_t *data, size_t len,
			    char *found, size_t size)
{
	uint8_t digest[UDM_MAX_DIGEST];
	int n;

	if (f->check == FAT_DEAD_BABE) {
		/* The FAT12/16 boot sector keeps the volume serial at byte 39. */
		snprintf(found, size, "serial %02X%02X-%02X%02X", data[42], data[41], data[40],
			 data[39]);
		return len > 512 && !strcmp(found, "serial DEAD-BABE");
	}
	n = udm_hash(f->check == SHA1_OF_PAYLOAD ? "sha1" : "sha256", data, len, digest);
	to_hex(digest, n > 0 ? (size_t)n : 0, found);
	return !strcmp(found, f->digest);
}

static void test_fixture(const struct fixture *f, const char *keyfile, size_t keyfile_len)
{
	const char *pass = f->pass ? f->pass : keyfile;
	size_t pass_len = f->pass ? strlen(f->pass) : keyfile_len;
	const char *image = unpack(f->image);
	struct udm_volume *vol = NULL;
	struct udm_error err = { { 0 } };
	struct udm_key *key = NULL;
	uint8_t probe[UDM_MAX_DIGEST], *data = NULL;
	char name[160], found[160] = "";
	size_t len = 0;
	double start;
	int r;

	r = image ? udm_luks_load(&vol, image, UDM_VOLUME_LUKS1, false, &err) : -ENOENT;
	snprintf(name, sizeof(name), "%s loads", f->image);
	test_result(name, !r, "%d %s", r, err.msg);
	if (r)
		return;

	start = now_ms();
	r = udm_volume_unlock(vol, -1, pass, pass_len, &key, &err);
	printf("# %s: unlock took %.0f ms\n", f->image, now_ms() - start);
	if (f->needs_hash && udm_hash(f->needs_hash, "", 0, probe) < 0) {
		snprintf(name, sizeof(name), "%s names the missing hash %s", f->image,
			 f->needs_hash);
		test_result(name, r < 0 && strstr(err.msg, f->needs_hash), "%d %s", r, err.msg);
		printf("SKIP: %s content: udm_hash() has no %s\n", f->image, f->needs_hash);
		goto out;
	}
	snprintf(name, sizeof(name), "%s unlocks slot 0", f->image);
	test_result(name, r == 0, "%d %s", r, err.msg);
	if (r)
		goto out;
	if (f->volume_key) {
		to_hex(key->data, key->size, found);
		snprintf(name, sizeof(name), "%s volume key", f->image);
		test_result(name, !strcmp(found, f->volume_key), "got %s", found);
	}
	r = read_payload(vol, key, image, &data, &len, &err);
	snprintf(name, sizeof(name), "%s content", f->image);
	test_result(name, !r && content_matches(f, data, len, found, sizeof(found)),
		    "%d %s, found %s", r, err.msg, found);
out:
	free(data);
	udm_key_free(key);
	udm_volume_free(vol);
	unlink(image);
}

static void test_fixtures(void)
{
	size_t keyfile_len = 0;
	char *keyfile = (char *)read_file(DATA "keyfile1", &keyfile_len);

	test_result("keyfile1 read", keyfile && keyfile_len == 25000, "%zu bytes", keyfile_len);
	for (size_t i = 0; keyfile && i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		test_fixture(&fixtures[i], keyfile, keyfile_len);
	free(keyfile);
}

static void test_wrong_passphrase(void)
{
	const char *image = unpack("compatimage.img");
	struct udm_volume *vol = NULL;
	struct udm_error err = { { 0 } };
	struct udm_key *key = NULL;
	char before[65], after[65];
	int r;

	file_sha256(image, before);
	r = udm_luks_load(&vol, image, UDM_VOLUME_ANY, true, &err);
	test_result("compatimage loads writable", !r, "%d %s", r, err.msg);
	if (r)
		return;
	r = udm_volume_unlock(vol, -1, "rUkL4RUryBom", 12, &key, &err);
	test_result("wrong passphrase gives EPERM", r == -EPERM && !key, "%d", r);
	test_result("wrong passphrase message", strstr(err.msg, "wrong passphrase") &&
		    !strchr(err.msg, '\n'), "'%s'", err.msg);
	r = udm_volume_unlock(vol, 0, "compatke", 8, &key, &err);
	test_result("wrong passphrase for slot 0", r == -EPERM, "%d %s", r, err.msg);
	r = udm_volume_unlock(vol, 1, "compatkey", 9, &key, &err);
	test_result("unlock of inactive slot", r == -ENOENT && strstr(err.msg, "not active"),
		    "%d %s", r, err.msg);
	r = udm_volume_unlock(vol, 8, "compatkey", 9, &key, &err);
	test_result("unlock of slot 8", r == -ENOENT && strstr(err.msg, "0 to 7"), "%d %s", r,
		    err.msg);
	udm_volume_free(vol);
	file_sha256(image, after);
	test_result("wrong passphrase leaves image unchanged", !strcmp(before, after), "changed");
	unlink(image);
}

/* Headers without their payload, a cipher_null header, and a header with
 * no active key slot. */
static void test_header_files(void)
{
	const char *org = unpack("reencrypt-d238e48a.org");
	const char *plain = unpack("reencrypt-d238e48a.new");
	const char *empty = unpack("valid_header_file");
	struct udm_volume *vol = NULL;
	struct udm_error err = { { 0 } };
	struct udm_key *key = NULL;
	char hex[2 * 64 + 1] = "";
	char *table;
	int r;

	r = udm_luks_load(&vol, org, UDM_VOLUME_LUKS1, false, &err);
	test_result("header file without payload loads", !r, "%d %s", r, err.msg);
	r = r ? r : udm_volume_unlock(vol, -1, PWD1, strlen(PWD1), &key, &err);
	if (key)
		to_hex(key->data, key->size, hex);
	test_result("header file without payload unlocks", r == 0 && !strcmp(hex,
		    "0570dd6465b50b853df62d6f512feca875a9143e00c66c51f14d26505468387a"
		    "ee33d2af3470bbe63cd41eba0f38fd008d26c834942c816f91ebdf0e430c5ba0"),
		    "%d %s %s", r, err.msg, hex);
	table = key ? udm_volume_table(vol, key, org, &err) : NULL;
	test_result("table rejects a device smaller than the payload", !table &&
		    strstr(err.msg, "too small for the payload"), "'%s'", err.msg);
	udm_key_free(key);
	key = NULL;
	udm_volume_free(vol);

	r = udm_luks_load(&vol, plain, UDM_VOLUME_LUKS1, false, &err);
	r = r ? r : udm_volume_unlock(vol, -1, "", 0, &key, &err);
	hex[0] = '\0';
	if (key)
		to_hex(key->data, key->size, hex);
	test_result("cipher_null opens with the empty passphrase", r == 0 && !strcmp(hex,
		    "82566fe92f942f7b30d94683c451103fb7d7dcfe788a7acb9e9a8efc414b67c8"), "%d %s %s",
		    r, err.msg, hex);
	/* The header has payload offset 0, so it maps another device. */
	table = key ? udm_volume_table(vol, key, org, &err) : NULL;
	test_result("cipher_null table has no key", table && strstr(table, "cipher_null-ecb - 0 "),
		    "%s", table ? table : err.msg);
	udm_secure_free(table);
	udm_key_free(key);
	key = NULL;
	r = vol ? udm_volume_unlock(vol, -1, "x", 1, &key, &err) : -1;
	test_result("cipher_null rejects other passphrases", r == -EPERM, "%d", r);
	udm_volume_free(vol);

	r = udm_luks_load(&vol, empty, UDM_VOLUME_LUKS1, false, &err);
	test_result("header without key slots loads", !r, "%d %s", r, err.msg);
	if (!r) {
		struct udm_key *vk = udm_key_new(32);
		const char *good = "bb21158c733229347bd4e681891e213d"
				   "94c685be6a5b84818afe7a78a6de7a1a";

		r = udm_volume_unlock(vol, -1, "x", 1, &key, &err);
		test_result("no active key slot gives ENOENT", r == -ENOENT, "%d %s", r, err.msg);
		for (int i = 0; vk && i < 32; i++)
			sscanf(good + 2 * i, "%2hhx", &vk->data[i]);
		test_result("volume key verifies against sha512 digest",
			    vk && udm_volume_verify_key(vol, vk) == 0, "rejected");
		if (vk)
			vk->data[0] ^= 1;
		test_result("wrong volume key fails verification",
			    vk && udm_volume_verify_key(vol, vk) == -EPERM, "accepted");
		udm_key_free(vk);
		udm_volume_free(vol);
	}
	unlink(org);
	unlink(plain);
	unlink(empty);
}

struct evil {
	const char *image;
	const char *message;
};

/* cryptsetup 2.6.1 rejects each, naming the same key slot. */
static const struct evil evils[] = {
	{ "evil_hdr-keyslot_overlap", "key slot 1 key material (sectors 520 to 769) overlaps key "
	  "slot 2" },
	{ "evil_hdr-luks_hdr_damage", "key slot 2 key material offset 1 is inside the header" },
	{ "evil_hdr-payload_overwrite", "key slot 3 key material (sectors 3847 to 4096) overlaps "
	  "the payload offset 4096" },
	{ "evil_hdr-small_luks_device", "key slot 7 key material ends at byte 1049600, beyond the "
	  "end of the device (1049088 bytes)" },
	{ "evil_hdr-stripes_payload_dmg", "key slot 5 has 44944 AF stripes: LUKS1 requires 4000" },
};

static void test_evil_headers(void)
{
	for (size_t i = 0; i < sizeof(evils) / sizeof(evils[0]); i++) {
		const char *image = unpack(evils[i].image);
		struct udm_volume *vol = NULL;
		struct udm_error err = { { 0 } };
		char name[128], before[65], after[65];
		int r;

		file_sha256(image, before);
		r = udm_luks_load(&vol, image, UDM_VOLUME_ANY, true, &err);
		udm_volume_free(vol);
		file_sha256(image, after);
		snprintf(name, sizeof(name), "%s rejected", evils[i].image);
		test_result(name, r == -EINVAL && strstr(err.msg, evils[i].message) &&
			    strstr(err.msg, "invalid LUKS1 header") && !strchr(err.msg, '\n'),
			    "%d '%s'", r, err.msg);
		snprintf(name, sizeof(name), "%s unchanged", evils[i].image);
		test_result(name, !strcmp(before, after), "changed");
		unlink(image);
	}
}

#define SLOT(i) (208 + 48 * (i))

struct damage {
	const char *name;
	long offset;		/* where bytes (or the big-endian value) go */
	const char *bytes;	/* NULL: write value */
	size_t len;
	uint32_t value;
	long truncate;		/* >= 0: cut the file to this size instead */
	const char *message;
	int error;
};

/* Damages to the header of a fresh aes-xts-plain64 volume with a 64-byte
 * key: key slot i starts at sector 8 + 504 * i, the payload at 4096. */
static const struct damage damages[] = {
	{ "wrong magic", 0, "LUKX", 4, 0, -1, "is not a valid LUKS", -ENODEV },
	{ "version 3", 6, "\0\3", 2, 0, -1, "is not a valid LUKS", -ENODEV },
	{ "key bytes 0", 108, NULL, 0, 0, -1, "invalid key bytes 0: accepted are 1 to 512",
	  -EINVAL },
	{ "key bytes 4096", 108, NULL, 0, 4096, -1, "invalid key bytes 4096", -EINVAL },
	{ "stripes 3999", SLOT(4) + 44, NULL, 0, 3999, -1,
	  "key slot 4 has 3999 AF stripes: LUKS1 requires 4000", -EINVAL },
	{ "stripes 0 in inactive slot", SLOT(6) + 44, NULL, 0, 0, -1, "key slot 6 has 0 AF stripes",
	  -EINVAL },
	{ "overlapping slots", SLOT(2) + 40, NULL, 0, 600, -1,
	  "key slot 1 key material (sectors 512 to 1011) overlaps key slot 2", -EINVAL },
	{ "slots at one offset", SLOT(5) + 40, NULL, 0, 1520, -1,
	  "key slot 3 key material (sectors 1520 to 2019) overlaps key slot 5", -EINVAL },
	{ "slot inside header", SLOT(0) + 40, NULL, 0, 1, -1,
	  "key slot 0 key material offset 1 is inside the header", -EINVAL },
	{ "slot into payload", SLOT(7) + 40, NULL, 0, 3800, -1,
	  "key slot 7 key material (sectors 3800 to 4299) overlaps the payload offset 4096",
	  -EINVAL },
	{ "payload inside slots", 104, NULL, 0, 2000, -1,
	  "key slot 3 key material (sectors 1520 to 2019) overlaps the payload offset 2000",
	  -EINVAL },
	{ "cipher name without NUL", 8, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 32, 0, -1,
	  "the cipher name field has no terminating NUL", -EINVAL },
	{ "cipher name with dash", 8, "aes-xts", 8, 0, -1, "invalid cipher name 'aes-xts'",
	  -EINVAL },
	{ "empty cipher name", 8, "", 1, 0, -1, "invalid cipher name ''", -EINVAL },
	{ "cipher mode with space", 40, "xts plain64", 12, 0, -1,
	  "the cipher mode field contains byte 0x20", -EINVAL },
	{ "cipher mode with newline", 40, "xts\n0 8 zero", 13, 0, -1,
	  "the cipher mode field contains byte 0x0a", -EINVAL },
	{ "unknown hash", 72, "nohash", 7, 0, -1, "unsupported LUKS1 hash 'nohash'", -ENOTSUP },
	{ "hash too short", 72, "md5\0\0\0", 6, 0, -1, "its 16-byte digest is shorter", -EINVAL },
	{ "UUID without NUL", 168, "0123456789012345678901234567890123456789", 40, 0, -1,
	  "the UUID field has no terminating NUL", -EINVAL },
	{ "UUID with control byte", 168, "\x01", 1, 0, -1, "the UUID field contains byte 0x01",
	  -EINVAL },
	{ "bad slot state", SLOT(3), NULL, 0, 0x12345678, -1,
	  "key slot 3 has state 0x12345678: expected 0x00ac71f3 (enabled) or 0x0000dead", -EINVAL },
	{ "enabled slot without iterations", SLOT(0) + 4, NULL, 0, 0, -1,
	  "key slot 0 is enabled with 0 PBKDF2 iterations", -EINVAL },
	{ "digest without iterations", 164, NULL, 0, 0, -1,
	  "the volume key digest has 0 PBKDF2 iterations", -EINVAL },
	{ "truncated in key slots", 0, NULL, 0, 0, MiB,
	  "key slot 7 key material ends at byte 2066432, beyond the end of the device (1048576 "
	  "bytes)", -EINVAL },
	{ "truncated in header", 0, NULL, 0, 0, 300,
	  "the device has 300 bytes, the header alone needs 592", -EINVAL },
	{ "empty file", 0, NULL, 0, 0, 0, "is not a valid LUKS", -ENODEV },
};

static int apply_damage(const char *path, const struct damage *d)
{
	uint8_t be[4] = { (uint8_t)(d->value >> 24), (uint8_t)(d->value >> 16),
			  (uint8_t)(d->value >> 8), (uint8_t)d->value };
	int fd = open(path, O_RDWR);
	int r = fd < 0 ? -1 : 0;

	if (!r && d->truncate >= 0)
		r = ftruncate(fd, d->truncate);
	else if (!r)
		r = pwrite(fd, d->bytes ? (const void *)d->bytes : be, d->bytes ? d->len : 4,
			   d->offset) < 0 ? -1 : 0;
	if (fd >= 0)
		close(fd);
	return r;
}

static void test_damaged_headers(void)
{
	struct udm_format_params p = fast_params();
	const char *fresh = tmp_path("fresh.img"), *bad = tmp_path("damaged.img");
	struct udm_error err = { { 0 } };
	int r = format_file(fresh, 2 * MiB, &p, "pass", NULL, &err);

	test_result("fresh volume for damages", !r, "%d %s", r, err.msg);
	for (size_t i = 0; !r && i < sizeof(damages) / sizeof(damages[0]); i++) {
		const struct damage *d = &damages[i];
		struct udm_volume *vol = NULL;
		char before[65], after[65];
		int got;

		memset(&err, 0, sizeof(err));
		if (copy_file(fresh, bad) || apply_damage(bad, d)) {
			test_result(d->name, false, "cannot prepare %s", bad);
			continue;
		}
		file_sha256(bad, before);
		got = udm_luks_load(&vol, bad, UDM_VOLUME_ANY, true, &err);
		udm_volume_free(vol);
		file_sha256(bad, after);
		test_result(d->name, got == d->error && strstr(err.msg, d->message) &&
			    !strchr(err.msg, '\n') && !strcmp(before, after),
			    "got %d '%s', expected %d '%s'%s", got, err.msg, d->error, d->message,
			    strcmp(before, after) ? ", file changed" : "");
	}
	unlink(fresh);
	unlink(bad);
}

struct bad_format {
	const char *name;
	const char *cipher, *mode, *hash, *uuid, *pbkdf;
	unsigned key_size;
	uint64_t data_offset;
	int keyslot;
	const char *message;
	int error;
};

static const struct bad_format bad_formats[] = {
	{ "cipher with mode", "aes-xts", NULL, NULL, NULL, NULL, 0, 0, -1,
	  "invalid cipher 'aes-xts' for LUKS1", -EINVAL },
	{ "unknown cipher", "foo", NULL, NULL, NULL, NULL, 0, 0, -1,
	  "cannot use cipher foo-xts-plain64 with a 64-byte key: unknown cipher 'foo'", -EINVAL },
	{ "odd xts key", NULL, NULL, NULL, NULL, NULL, 20, 0, -1,
	  "cannot use cipher aes-xts-plain64 with a 20-byte key", -EINVAL },
	{ "key too long", NULL, NULL, NULL, NULL, NULL, 600, 0, -1,
	  "invalid key size 600 bytes for LUKS1: accepted are 1 to 512", -EINVAL },
	{ "mode with space", NULL, "xts plain64", NULL, NULL, NULL, 0, 0, -1,
	  "invalid cipher mode 'xts plain64'", -EINVAL },
	{ "unknown hash", NULL, NULL, "nohash", NULL, NULL, 0, 0, -1,
	  "unsupported LUKS1 hash 'nohash'", -ENOTSUP },
	{ "md5 hash", NULL, NULL, "md5", NULL, NULL, 0, 0, -1, "shorter than the 20 bytes",
	  -EINVAL },
	{ "unaligned data offset", NULL, NULL, NULL, NULL, NULL, 0, 4100, -1,
	  "invalid data offset 4100 sectors: it must be a multiple of 8", -EINVAL },
	{ "data offset in key slots", NULL, NULL, NULL, NULL, NULL, 0, 2048, -1,
	  "invalid data offset 2048 sectors: accepted are 4040", -EINVAL },
	{ "bad UUID", NULL, NULL, NULL, "1234", NULL, 0, 0, -1, "invalid UUID '1234'", -EINVAL },
	{ "key slot 8", NULL, NULL, NULL, NULL, NULL, 0, 0, 8,
	  "invalid key slot 8: LUKS1 has key slots 0 to 7", -EINVAL },
	{ "argon2id", NULL, NULL, NULL, NULL, "argon2id", 0, 0, -1,
	  "LUKS1 supports only pbkdf2", -EINVAL },
	{ "cipher_null with passphrase", "cipher_null", "ecb", NULL, NULL, NULL, 0, 0, -1,
	  "invalid passphrase for cipher_null", -EINVAL },
};

static void test_bad_format_params(void)
{
	const char *image = tmp_path("badformat.img");
	char before[65], after[65];

	if (make_file(image, 4 * MiB) || write_file(image, "not a header", 12))
		test_result("bad format setup", false, "cannot create %s", image);
	for (size_t i = 0; i < sizeof(bad_formats) / sizeof(bad_formats[0]); i++) {
		const struct bad_format *b = &bad_formats[i];
		struct udm_format_params p = fast_params();
		struct udm_error err = { { 0 } };
		struct udm_volume *vol = NULL;
		char name[128];
		int r;

		p.cipher = b->cipher;
		p.cipher_mode = b->mode;
		p.hash = b->hash;
		p.uuid = b->uuid;
		p.pbkdf.type = b->pbkdf;
		p.key_size = b->key_size;
		p.data_offset = b->data_offset;
		p.keyslot = b->keyslot;
		file_sha256(image, before);
		r = udm_luks_format(image, &p, "pass", 4, &vol, &err);
		udm_volume_free(vol);
		file_sha256(image, after);
		snprintf(name, sizeof(name), "format rejects %s", b->name);
		test_result(name, r == b->error && strstr(err.msg, b->message) &&
			    !strcmp(before, after), "got %d '%s', expected %d '%s'%s", r, err.msg,
			    b->error, b->message, strcmp(before, after) ? ", file changed" : "");
	}
	unlink(image);
}

static void test_null_cipher_format(void)
{
	struct udm_format_params p = fast_params();
	const char *image = tmp_path("null.img");
	struct udm_volume *vol = NULL;
	struct udm_error err = { { 0 } };
	struct udm_key *key = NULL;
	int r;

	p.cipher = "cipher_null";
	p.cipher_mode = "ecb";
	r = format_file(image, 4 * MiB, &p, "", &vol, &err);
	r = r ? r : udm_volume_unlock(vol, -1, "", 0, &key, &err);
	test_result("cipher_null format with empty passphrase", r == 0 && key->size == 32,
		    "%d %s", r, err.msg);
	udm_key_free(key);
	udm_volume_free(vol);
	unlink(image);
}

/* Adds keys, kills slots and checks what unlocks afterwards. */
static const struct udm_pbkdf_params fast_pbkdf = { .force_iterations = 1000 };

static void check_key_slots(struct udm_volume *vol, const char *image, struct udm_key *key)
{
	const struct udm_pbkdf_params *fast = &fast_pbkdf;
	struct udm_error err = { { 0 } };
	struct udm_key *got = NULL, *wrong = udm_key_new(key->size);
	uint8_t before[512], after[512];
	int r;

	r = udm_volume_add_key(vol, -1, key, "pass1", 5, fast, &err);
	test_result("add key to first free slot", r == 1, "%d %s", r, err.msg);
	r = udm_volume_add_key(vol, 5, key, "pass5", 5, fast, &err);
	test_result("add key to slot 5", r == 5, "%d %s", r, err.msg);
	r = udm_volume_add_key(vol, 5, key, "again", 5, fast, &err);
	test_result("add key to active slot", r == -EEXIST, "%d %s", r, err.msg);
	r = udm_volume_add_key(vol, 8, key, "eight", 5, fast, &err);
	test_result("add key to slot 8", r == -EINVAL && strstr(err.msg, "0 to 7"), "%d %s", r,
		    err.msg);
	memcpy(wrong->data, key->data, key->size);
	wrong->data[7] ^= 0x10;
	r = udm_volume_add_key(vol, -1, wrong, "wrong", 5, fast, &err);
	test_result("add key with wrong volume key", r == -EPERM, "%d %s", r, err.msg);
	udm_key_free(wrong);

	r = read_area(image, 512, before, sizeof(before));
	r = r ? r : udm_volume_kill_slot(vol, 1, &err);
	test_result("kill slot 1", r == 0 && !udm_volume_keyslot_active(vol, 1), "%d %s", r,
		    err.msg);
	test_result("kill overwrites key material", !read_area(image, 512, after, sizeof(after)) &&
		    memcmp(before, after, sizeof(after)), "key material unchanged");
	r = udm_volume_kill_slot(vol, 1, &err);
	test_result("kill inactive slot", r == -ENOENT, "%d %s", r, err.msg);
	r = udm_volume_kill_slot(vol, 9, &err);
	test_result("kill slot 9", r == -ENOENT, "%d %s", r, err.msg);
	r = udm_volume_unlock(vol, -1, "pass1", 5, &got, &err);
	test_result("killed passphrase fails", r == -EPERM, "%d %s", r, err.msg);
	r = udm_volume_unlock(vol, 5, "pass0", 5, &got, &err);
	test_result("other slot's passphrase fails", r == -EPERM, "%d %s", r, err.msg);
	r = udm_volume_unlock(vol, 5, "pass5", 5, &got, &err);
	test_result("slot 5 unlocks", r == 5 && got && !memcmp(got->data, key->data, key->size),
		    "%d %s", r, err.msg);
	udm_key_free(got);
}

static void check_reload(const char *image, const struct udm_key *key)
{
	struct udm_volume *vol = NULL;
	struct udm_error err = { { 0 } };
	struct udm_key *got = NULL;
	int r = udm_luks_load(&vol, image, UDM_VOLUME_LUKS1, false, &err);
	bool slots_ok = !r;

	for (int i = 0; !r && i < udm_volume_keyslot_count(vol); i++)
		slots_ok &= udm_volume_keyslot_active(vol, i) == (i == 0 || i == 5);
	test_result("reload sees slots 0 and 5", slots_ok && udm_volume_keyslot_count(vol) == 8,
		    "%d %s", r, err.msg);
	r = r ? r : udm_volume_unlock(vol, -1, "pass5", 5, &got, &err);
	test_result("reload unlocks slot 5", r == 5 && !memcmp(got->data, key->data, key->size),
		    "%d %s", r, err.msg);
	udm_key_free(got);
	udm_volume_free(vol);
}

static void check_uuid(struct udm_volume *vol, const char *image)
{
	struct udm_error err = { { 0 } };
	struct udm_volume *again = NULL;
	char old[40];
	int r;

	r = udm_volume_set_uuid(vol, "0A1B2C3D-4E5F-4A6B-8C7D-8E9FA0B1C2D3", &err);
	test_result("set UUID", r == 0 && !strcmp(udm_volume_uuid(vol),
		    "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"), "%d %s %s", r, err.msg,
		    udm_volume_uuid(vol));
	r = udm_luks_load(&again, image, UDM_VOLUME_LUKS1, false, &err);
	test_result("UUID persists", !r && !strcmp(udm_volume_uuid(again),
		    "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"), "%d %s", r, err.msg);
	udm_volume_free(again);
	snprintf(old, sizeof(old), "%s", udm_volume_uuid(vol));
	r = udm_volume_set_uuid(vol, NULL, &err);
	test_result("set random UUID", r == 0 && strlen(udm_volume_uuid(vol)) == 36 &&
		    strcmp(old, udm_volume_uuid(vol)), "%d %s", r, err.msg);
	r = udm_volume_set_uuid(vol, "not-a-uuid", &err);
	test_result("set invalid UUID", r == -EINVAL, "%d %s", r, err.msg);
}

/* Maps the payload, writes through it and reads back. */
static void check_table(struct udm_volume *vol, const char *image, const struct udm_key *key)
{
	struct udm_error err = { { 0 } };
	struct udm_device *dev = NULL;
	char expected[512], hex[129];
	char *table = udm_volume_table(vol, key, image, &err);
	uint8_t text[512] = "LUKS1 payload written by udmcrypt", back[512], raw[512];
	int r;

	to_hex(key->data, key->size, hex);
	snprintf(expected, sizeof(expected), "0 4096 crypt aes-xts-plain64 %s 0 %s 4096", hex,
		 image);
	test_result("table line", table && !strcmp(table, expected), "got '%s'",
		    table ? table : err.msg);
	r = table ? udm_device_open(&dev, table, 0, &err) : -EINVAL;
	r = r ? r : udm_device_pwrite(dev, text, sizeof(text), 0);
	r = r ? r : udm_device_pread(dev, back, sizeof(back), 0);
	udm_device_close(dev);
	test_result("payload round trip", !r && !memcmp(text, back, sizeof(text)), "%d %s", r,
		    err.msg);
	test_result("payload is encrypted on disk", !read_area(image, 4096, raw, sizeof(raw)) &&
		    memcmp(raw, text, sizeof(raw)), "plaintext on disk");
	udm_secure_free(table);
	table = udm_volume_table(vol, key, DATA "keyfile1", &err);
	test_result("table rejects a small device", !table && strstr(err.msg, "too small"),
		    "'%s'", err.msg);
	udm_secure_free(table);
}

static void check_dump(struct udm_volume *vol, const char *image, const struct udm_key *key)
{
	struct udm_error err = { { 0 } };
	struct udm_key *wrong = udm_key_new(key->size);
	char *ours = dump_text(vol, NULL), *with_key = dump_text(vol, key), *theirs = NULL;
	char hex[129], first[128];
	int r;

	to_hex(key->data, 16, hex);
	snprintf(first, sizeof(first), "MK dump:\t%.2s %.2s %.2s", hex, hex + 2, hex + 4);
	test_result("dump lists slots", ours && strstr(ours, "Key Slot 0: ENABLED\n") &&
		    strstr(ours, "Key Slot 7: DISABLED\n"), "%s", ours ? ours : "(null)");
	test_result("dump with key shows it", with_key && strstr(with_key, first), "%s",
		    with_key ? with_key : "(null)");
	test_result("dump without key hides it", ours && !strstr(ours, "MK dump"), "key shown");
	r = udm_volume_dump(vol, stdout, NULL, true, &err);
	test_result("JSON dump rejected", r == -EINVAL && strstr(err.msg, "no JSON"), "%d %s", r,
		    err.msg);
	r = udm_volume_dump(vol, stdout, wrong, false, &err);
	test_result("dump with wrong key rejected", r == -EPERM, "%d %s", r, err.msg);
	if (have_cryptsetup) {
		r = cryptsetup(NULL, &theirs, "luksDump '%s'", image);
		test_result("cryptsetup luksDump matches dump", r == 0 && ours && theirs &&
			    !strcmp(ours, theirs), "cryptsetup %d:\n%s\nours:\n%s", r,
			    theirs ? theirs : "", ours ? ours : "");
	}
	udm_key_free(wrong);
	free(ours);
	free(with_key);
	free(theirs);
}

static void check_with_cryptsetup(const char *image, const struct udm_key *key,
				  const char *const pass[8])
{
	char ours[129], theirs[129];

	if (!have_cryptsetup)
		return;
	for (int i = 0; i < 8; i++) {
		char name[64];

		if (!pass[i])
			continue;
		snprintf(name, sizeof(name), "cryptsetup opens slot %d", i);
		test_result(name, cryptsetup_opens(image, i, pass[i]), "rejected");
	}
	to_hex(key->data, key->size, ours);
	cryptsetup_volume_key(image, pass[0], theirs, sizeof(theirs));
	test_result("cryptsetup shows the same volume key", !strcmp(ours, theirs),
		    "ours %s, cryptsetup '%s'", ours, theirs);
}

static void test_lifecycle(void)
{
	struct udm_format_params p = fast_params();
	const char *image = tmp_path("life.img");
	const char *const pass[8] = { "pass0", [5] = "pass5" };
	struct udm_volume *vol = NULL;
	struct udm_error err = { { 0 } };
	struct udm_key *key = NULL;
	double start = now_ms();
	int r;

	r = format_file(image, 4 * MiB, &p, "pass0", &vol, &err);
	test_result("format", r == 0, "%d %s", r, err.msg);
	if (r)
		return;
	printf("# format took %.0f ms\n", now_ms() - start);
	r = udm_volume_unlock(vol, -1, "pass0", 5, &key, &err);
	test_result("unlock after format", r == 0 && key->size == 64, "%d %s", r, err.msg);
	if (r)
		goto out;
	check_key_slots(vol, image, key);
	check_reload(image, key);
	check_uuid(vol, image);
	check_table(vol, image, key);
	check_dump(vol, image, key);
	check_with_cryptsetup(image, key, pass);

	for (int i = 0; i < 6; i++)
		r = udm_volume_add_key(vol, -1, key, "more", 4, &fast_pbkdf, &err);
	test_result("fill all slots", r == 7, "%d %s", r, err.msg);
	r = udm_volume_add_key(vol, -1, key, "more", 4, &fast_pbkdf, &err);
	test_result("add key with no free slot", r == -ENOSPC, "%d %s", r, err.msg);
out:
	udm_key_free(key);
	udm_volume_free(vol);
	unlink(image);
}

int main(void)
{
	if (luks1_test_setup())
		return 2;
	test_fixtures();
	test_wrong_passphrase();
	test_header_files();
	test_evil_headers();
	test_damaged_headers();
	test_bad_format_params();
	test_null_cipher_format();
	test_lifecycle();
	luks1_test_cleanup();
	return test_failures ? 1 : 0;
}
