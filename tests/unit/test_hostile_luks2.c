// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hostile LUKS2 headers: every field of the binary header in one copy or
 * both, and the JSON metadata edited into wrong types, missing references,
 * overlaps, huge and negative numbers, and nesting and length past the
 * limits. Also both copies damaged in different ways, and the device cut
 * short. The
 * image is a fresh aes-xts-plain64 volume with a 32-byte key: 16 KiB
 * metadata copies, key slot 0 (HOSTILE_PASS) at 32768 and key slot 1 (another
 * passphrase) at 163840, 128 KiB each, key slots ending at 294912, and the
 * data segment at 524288 of 589824 bytes.
 */
#include "hostile.h"

#define HDR 16384
#define JSON_AREA (HDR - 4096)
#define IMAGE_BYTES 589824
#define DATA_OFFSET 524288
#define AREAS_END 294912

#define MAGIC 0
#define VERSION 6
#define HDR_SIZE 8
#define SEQID 16
#define LABEL 24
#define CSUM_ALG 72
#define SALT 104
#define UUID 168
#define SUBSYSTEM 208
#define HDR_OFFSET 256
#define PADDING 264
#define CSUM 448

#define PRIMARY 1
#define SECONDARY 2
#define BOTH 3

struct bin_case {
	const char *name;
	unsigned copies;	/* PRIMARY, SECONDARY or BOTH */
	uint64_t offset;	/* inside the binary header */
	unsigned width;		/* 1, 2 or 8: value, big-endian; 0: bytes */
	uint64_t value;
	const char *bytes;
	size_t len;
	bool keep_checksum;	/* leave the old checksum */
	struct expect e;
};

#define BE(off, w, v) (off), (w), (v), NULL, 0
#define BYTES(off, s) (off), 0, 0, (s), sizeof(s) - 1

#define NO_LOAD(r, m) { .load = (r), .message = (m) }
#define NO_UNLOCK(r, m) { .unlock = (r), .message = (m) }
#define NO_TABLE(m) { .table_fails = true, .message = (m) }
#define WARNS(m) { .message = (m) }
#define OPENS { 0 }

#define A32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A48 A32 "aaaaaaaaaaaaaaaa"

static const struct bin_case bin_cases[] = {
	{ "primary magic zeroed", PRIMARY, BYTES(MAGIC, "\0\0\0\0\0\0"), false,
	  WARNS("primary LUKS2 header at offset 0: no LUKS2 magic") },
	{ "secondary magic of primary", SECONDARY, BYTES(MAGIC, "LUKS\xba\xbe"), false,
	  WARNS("secondary LUKS2 header at offset 16384: no LUKS2 magic") },
	{ "both magics zeroed", BOTH, BYTES(MAGIC, "\0\0\0\0\0\0"), false,
	  NO_LOAD(-ENODEV, "not a valid LUKS device") },
	{ "primary version 1", PRIMARY, BE(VERSION, 2, 1), false,
	  WARNS("primary LUKS2 header: unsupported version 1") },
	{ "primary version 3", PRIMARY, BE(VERSION, 2, 3), false,
	  WARNS("primary LUKS2 header: unsupported version 3") },
	{ "secondary version 0", SECONDARY, BE(VERSION, 2, 0), false,
	  WARNS("secondary LUKS2 header: unsupported version 0") },
	{ "both versions 3", BOTH, BE(VERSION, 2, 3), false,
	  NO_LOAD(-ENODEV, "unsupported LUKS version 3") },

	{ "primary hdr_size 0", PRIMARY, BE(HDR_SIZE, 8, 0), false,
	  WARNS("invalid hdr_size 0: accepted are powers of two") },
	{ "primary hdr_size 16385", PRIMARY, BE(HDR_SIZE, 8, 16385), false,
	  WARNS("invalid hdr_size 16385") },
	{ "primary hdr_size 8 MiB", PRIMARY, BE(HDR_SIZE, 8, 8 << 20), false,
	  WARNS("invalid hdr_size 8388608") },
	{ "primary hdr_size 2^63", PRIMARY, BE(HDR_SIZE, 8, 1ULL << 63), false,
	  WARNS("invalid hdr_size 9223372036854775808") },
	{ "primary hdr_size 32 KiB", PRIMARY, BE(HDR_SIZE, 8, 32768), false,
	  WARNS("after the JSON object, where only NUL bytes may follow") },
	{ "primary hdr_size 4 MiB", PRIMARY, BE(HDR_SIZE, 8, 4 << 20), false,
	  WARNS("ends past the end of the device") },
	{ "secondary hdr_size 32 KiB", SECONDARY, BE(HDR_SIZE, 8, 32768), false,
	  WARNS("has hdr_size 32768: they must be equal") },
	{ "both hdr_size 2^64-1", BOTH, BE(HDR_SIZE, 8, UINT64_MAX), false,
	  NO_LOAD(-EINVAL, "invalid hdr_size 18446744073709551615") },

	{ "primary seqid 0", PRIMARY, BE(SEQID, 8, 0), false,
	  WARNS("the primary LUKS2 header (seqid 0) is older than the secondary") },
	{ "primary seqid 2^64-1", PRIMARY, BE(SEQID, 8, UINT64_MAX), false,
	  WARNS("is older than the primary (seqid 18446744073709551615)") },
	{ "both seqid 2^64-1", BOTH, BE(SEQID, 8, UINT64_MAX), false, OPENS },

	{ "both labels without NUL", BOTH, BYTES(LABEL, A48), false, OPENS },
	{ "both subsystems without NUL", BOTH, BYTES(SUBSYSTEM, A48), false, OPENS },
	{ "primary checksum algorithm unknown", PRIMARY, BYTES(CSUM_ALG, "nohash\0"), false,
	  WARNS("primary LUKS2 header: unknown checksum algorithm") },
	{ "primary checksum algorithm without NUL", PRIMARY, BYTES(CSUM_ALG, A32), false,
	  WARNS("primary LUKS2 header: unknown checksum algorithm") },
	{ "both checksum algorithms empty", BOTH, BYTES(CSUM_ALG, "\0"), false,
	  NO_LOAD(-EINVAL, "unknown checksum algorithm") },
	{ "both checksums sha1", BOTH, BYTES(CSUM_ALG, "sha1\0\0\0"), false, OPENS },
	{ "both checksums sha512", BOTH, BYTES(CSUM_ALG, "sha512\0"), false, OPENS },
	/* Random fields (salts, digests, checksums) get 8 bytes overwritten: one
	 * byte would keep its old value in 1 of 256 runs. */
	{ "primary salt flipped", PRIMARY, BE(SALT + 5, 8, 0x1111111111111111), true,
	  WARNS("primary LUKS2 header at offset 0: checksum mismatch") },
	{ "both salts changed", BOTH, BE(SALT, 8, 0x0123456789abcdefULL), false, OPENS },
	{ "primary UUID without NUL", PRIMARY, BYTES(UUID, A32 "aaaaaaaa"), false, OPENS },
	{ "secondary UUID other", SECONDARY, BYTES(UUID, "0"), false, OPENS },
	{ "primary hdr_offset 4096", PRIMARY, BE(HDR_OFFSET, 8, 4096), false,
	  WARNS("hdr_offset 4096 does not match its position 0") },
	{ "secondary hdr_offset 0", SECONDARY, BE(HDR_OFFSET, 8, 0), false,
	  WARNS("hdr_offset 0 does not match its position 16384") },
	{ "both hdr_offset 2^64-1", BOTH, BE(HDR_OFFSET, 8, UINT64_MAX), false,
	  NO_LOAD(-EINVAL, "hdr_offset 18446744073709551615 does not match") },
	{ "primary padding set", PRIMARY, BE(PADDING + 7, 1, 0xff), false, OPENS },
	{ "primary checksum flipped", PRIMARY, BE(CSUM + 24, 8, 1), true,
	  WARNS("primary LUKS2 header at offset 0: checksum mismatch") },
	{ "secondary checksum zeroed", SECONDARY, BE(CSUM, 8, 0), true,
	  WARNS("secondary LUKS2 header at offset 16384: checksum mismatch") },
	{ "both checksums flipped", BOTH, BE(CSUM, 8, 0), true,
	  NO_LOAD(-EINVAL, "both LUKS2 header copies are invalid") },
};

/* A JSON edit: the nth occurrence of from becomes to, in the JSON area of
 * the copies given, which get valid checksums. */
struct json_case {
	const char *name;
	unsigned copies;
	const char *from, *to;
	int nth;
	struct expect e;
};

#define KS0 "\"0\":{\"type\":\"luks2\",\"key_size\":32"
#define KDF0 "\"kdf\":{\"type\":\"pbkdf2\",\"hash\":\"sha256\",\"iterations\":1000,"
#define AREA0 "\"encryption\":\"aes-xts-plain64\",\"key_size\":32}"
#define SEG_ENC "\"encryption\":\"aes-xts-plain64\",\"sector_size\""
#define DIGEST "\"segments\":[\"0\"],\"hash\":\"sha256\",\"iterations\":1000"

static const struct json_case json_cases[] = {
	{ "keyslot type a number", BOTH, KS0, "\"0\":{\"type\":2,\"key_size\":32", 0,
	  NO_LOAD(-EINVAL, "keyslot 0: must be an object with a type") },
	{ "keyslot type with NUL", BOTH, KS0, "\"0\":{\"type\":\"luks2\\u0000\",\"key_size\":32",
	  0, NO_LOAD(-EINVAL, "keyslot 0: must be an object with a type") },
	{ "keyslot key_size 0", BOTH, KS0, "\"0\":{\"type\":\"luks2\",\"key_size\":0", 0,
	  NO_UNLOCK(-EPERM, "key slot 0: key_size 0 is out of range") },
	{ "keyslot key_size 513", BOTH, KS0, "\"0\":{\"type\":\"luks2\",\"key_size\":513", 0,
	  NO_LOAD(-EINVAL, "keyslot 0: 2052096 bytes of key material do not fit") },
	{ "keyslot key_size 2^32-1", BOTH, KS0,
	  "\"0\":{\"type\":\"luks2\",\"key_size\":4294967295", 0,
	  NO_LOAD(-EINVAL, "bytes of key material do not fit in its 131072-byte area") },
	{ "keyslot key_size negative", BOTH, KS0, "\"0\":{\"type\":\"luks2\",\"key_size\":-32",
	  0, NO_LOAD(-EINVAL, "keyslot 0: key_size must be an integer") },
	{ "keyslot key_size float", BOTH, KS0, "\"0\":{\"type\":\"luks2\",\"key_size\":32.0", 0,
	  NO_LOAD(-EINVAL, "keyslot 0: key_size must be an integer") },
	{ "keyslot priority negative", BOTH, KS0,
	  "\"0\":{\"type\":\"luks2\",\"priority\":-1,\"key_size\":32", 0,
	  NO_LOAD(-EINVAL, "keyslot 0: priority must be an integer") },
	{ "keyslot priority ignore", BOTH, KS0,
	  "\"0\":{\"type\":\"luks2\",\"priority\":0,\"key_size\":32", 0,
	  NO_UNLOCK(-EPERM, "no key slot") },
	{ "keyslot number twice", BOTH, "\"1\":{\"type\":\"luks2\"", "\"0\":{\"type\":\"luks2\"",
	  0, NO_LOAD(-EINVAL, "an object has a duplicated key") },
	{ "keyslot without area", BOTH, "\"area\":{", "\"areb\":{", 0,
	  NO_LOAD(-EINVAL, "keyslot 0: missing 'area' object") },
	{ "keyslot without kdf", BOTH, "\"kdf\":{", "\"kdg\":{", 0,
	  NO_LOAD(-EINVAL, "keyslot 0: missing 'kdf' object") },
	{ "keyslot without af", BOTH, "\"af\":{", "\"ag\":{", 0,
	  NO_LOAD(-EINVAL, "keyslot 0: missing 'af' object") },
	{ "keyslot without digest", BOTH, "\"keyslots\":[\"0\",\"1\"]", "\"keyslots\":[\"1\"]", 0,
	  NO_LOAD(-EINVAL, "keyslot 0 is listed by 0 digests") },
	{ "kdf salt a number", BOTH, "\"salt\":\"", "\"salt\":7,\"x\":\"", 0,
	  NO_LOAD(-EINVAL, "keyslot 0: kdf.salt must be a string") },
	{ "kdf salt short", BOTH, "\"salt\":\"", "\"salt\":\"AAAA\",\"x\":\"", 0,
	  NO_UNLOCK(-EPERM, "key slot 0: kdf salt must be 32 bytes") },
	{ "kdf iterations 10^20", BOTH, KDF0, "\"kdf\":{\"type\":\"pbkdf2\",\"hash\":\"sha256\","
	  "\"iterations\":100000000000000000000,", 0, NO_LOAD(-EINVAL, "keyslot 0: a pbkdf2 kdf") },
	{ "kdf iterations exponent", BOTH, KDF0, "\"kdf\":{\"type\":\"pbkdf2\",\"hash\":"
	  "\"sha256\",\"iterations\":1e3,", 0, NO_LOAD(-EINVAL, "keyslot 0: a pbkdf2 kdf") },
	{ "kdf type unknown", BOTH, KDF0, "\"kdf\":{\"type\":\"scrypt\",", 0,
	  NO_UNLOCK(-EPERM, "key slot 0: unknown PBKDF 'scrypt'") },
	{ "kdf argon2 memory 2^32-1", BOTH, KDF0, "\"kdf\":{\"type\":\"argon2id\",\"time\":4,"
	  "\"memory\":4294967295,\"cpus\":1,", 0,
	  NO_UNLOCK(-EPERM, "key slot 0: Argon2 memory cost 4294967295 KiB") },
	{ "kdf argon2 cpus 2^32-1", BOTH, KDF0, "\"kdf\":{\"type\":\"argon2id\",\"time\":4,"
	  "\"memory\":1024,\"cpus\":4294967295,", 0, NO_UNLOCK(-EPERM, "key slot 0") },
	{ "kdf argon2 cpus 2^29", BOTH, KDF0, "\"kdf\":{\"type\":\"argon2id\",\"time\":4,"
	  "\"memory\":1024,\"cpus\":536870912,", 0, NO_UNLOCK(-EPERM, "key slot 0") },
	{ "af stripes 0", BOTH, "\"stripes\":4000", "\"stripes\":0", 0,
	  NO_UNLOCK(-EPERM, "key slot 0: unsupported AF stripes 0") },
	{ "af hash unknown", BOTH, "\"stripes\":4000,\"hash\":\"sha256\"",
	  "\"stripes\":4000,\"hash\":\"nohash\"", 0,
	  NO_UNLOCK(-EPERM, "key slot 0: cannot merge the key with AF hash 'nohash'") },
	{ "area key_size 0", BOTH, AREA0, "\"encryption\":\"aes-xts-plain64\",\"key_size\":0}", 0,
	  NO_UNLOCK(-EPERM, "key slot 0: area key_size 0 is out of range") },
	{ "area encryption unknown", BOTH, AREA0,
	  "\"encryption\":\"nocipher-xts-plain64\",\"key_size\":32}", 0,
	  NO_UNLOCK(-EPERM, "unknown cipher 'nocipher'") },
	{ "area encryption with newline", BOTH, AREA0,
	  "\"encryption\":\"aes-xts-plain64\\n0 8 zero\",\"key_size\":32}", 0,
	  NO_UNLOCK(-EPERM, "key slot 0") },
	{ "area offset negative", BOTH, "\"offset\":\"32768\"", "\"offset\":\"-32768\"", 0,
	  NO_LOAD(-EINVAL, "keyslot 0: area offset and size must be decimal strings") },
	{ "area size 2^64-512", BOTH, "\"size\":\"131072\"", "\"size\":\"18446744073709551104\"",
	  0, NO_LOAD(-EINVAL, "keyslot 0: area 32768+18446744073709551104 ends past") },
	{ "areas overlap", BOTH, "\"offset\":\"163840\"", "\"offset\":\"98304\"", 0,
	  NO_LOAD(-EINVAL, "keyslot areas of keyslots 0 and 1 overlap") },
	{ "areas equal", BOTH, "\"offset\":\"163840\"", "\"offset\":\"32768\"", 0,
	  NO_LOAD(-EINVAL, "keyslot areas of keyslots 0 and 1 overlap") },

	{ "segment offset 0", BOTH, "\"offset\":\"524288\"", "\"offset\":\"0\"", 0,
	  NO_TABLE("segment 0 offset 0 is inside the header and key slots") },
	{ "segment offset past device", BOTH, "\"offset\":\"524288\"",
	  "\"offset\":\"1099511627776\"", 0, NO_TABLE("is too small") },
	{ "segment size past device", BOTH, "\"size\":\"dynamic\"", "\"size\":\"1048576\"", 0,
	  NO_TABLE("is too small") },
	{ "segment size 2^64-512", BOTH, "\"size\":\"dynamic\"",
	  "\"size\":\"18446744073709551104\"", 0,
	  NO_LOAD(-EINVAL, "segment 0: offset and size exceed 64 bits") },
	{ "segment size negative", BOTH, "\"size\":\"dynamic\"", "\"size\":\"-512\"", 0,
	  NO_LOAD(-EINVAL, "segment 0: size must be") },
	{ "segment iv_tweak 2^64-1", BOTH, "\"iv_tweak\":\"0\"",
	  "\"iv_tweak\":\"18446744073709551615\"", 0, NO_TABLE("invalid iv_offset 18446744073709551615") },
	{ "segment sector_size 8192", BOTH, "\"sector_size\":4096", "\"sector_size\":8192", 0,
	  NO_LOAD(-EINVAL, "segment 0: sector_size must be") },
	{ "segment encryption with space", BOTH, SEG_ENC,
	  "\"encryption\":\"aes-xts-plain64 0 /dev/zero 0\",\"sector_size\"", 0,
	  NO_TABLE("cannot map") },
	{ "segment encryption with newline", BOTH, SEG_ENC,
	  "\"encryption\":\"aes-xts-plain64\\n0 8 zero\",\"sector_size\"", 0,
	  NO_TABLE("cannot map") },
	{ "segment type a number", BOTH, "\"type\":\"crypt\"", "\"type\":1", 0,
	  NO_LOAD(-EINVAL, "segment 0: must be an object with a type") },
	{ "segments an array", BOTH, "\"segments\":{\"0\":", "\"segments\":[],\"s\":{\"0\":", 0,
	  NO_LOAD(-EINVAL, "missing or empty 'segments' object") },

	{ "digest lists missing keyslot", BOTH, "\"keyslots\":[\"0\",\"1\"]",
	  "\"keyslots\":[\"0\",\"1\",\"7\"]", 0,
	  NO_LOAD(-EINVAL, "digest 0: keyslots '7' does not exist") },
	{ "digest lists missing segment", BOTH, "\"segments\":[\"0\"]",
	  "\"segments\":[\"0\",\"3\"]", 0, NO_LOAD(-EINVAL, "digest 0: segments '3' does not") },
	{ "digest keyslots a string", BOTH, "\"keyslots\":[\"0\",\"1\"]", "\"keyslots\":\"0\"", 0,
	  NO_LOAD(-EINVAL, "digest 0: 'keyslots' must be an array of strings") },
	{ "digest keyslot a number", BOTH, "\"keyslots\":[\"0\",\"1\"]", "\"keyslots\":[0,\"1\"]",
	  0, NO_LOAD(-EINVAL, "digest 0: 'keyslots' must be an array of strings") },
	{ "digest type duplicated", BOTH, "\"type\":\"pbkdf2\",\"keyslots\"",
	  "\"type\":\"pbkdf2\",\"type\":\"pbkdf2\",\"keyslots\"", 0,
	  NO_LOAD(-EINVAL, "an object has a duplicated key") },
	{ "digest hash unknown", BOTH, DIGEST,
	  "\"segments\":[\"0\"],\"hash\":\"nohash\",\"iterations\":1000", 0,
	  NO_UNLOCK(-ENOTSUP, "digest 0: unknown hash 'nohash'") },
	{ "digest iterations 0", BOTH, DIGEST,
	  "\"segments\":[\"0\"],\"hash\":\"sha256\",\"iterations\":0", 0,
	  NO_UNLOCK(-EINVAL, "digest 0: iterations must not be 0") },
	{ "digest salt not base64", BOTH, "\"salt\":\"", "\"salt\":\"!!!!\",\"x\":\"", 2,
	  NO_UNLOCK(-EINVAL, "digest 0: salt must be 32 bytes in base64") },
	{ "digest value short", BOTH, "\"digest\":\"", "\"digest\":\"AAAA\",\"x\":\"", 0,
	  NO_UNLOCK(-EINVAL, "digest 0: the digest must be 20 or 32 bytes") },
	{ "config an array", BOTH, "\"config\":{", "\"config\":[],\"c\":{", 0,
	  NO_LOAD(-EINVAL, "missing 'config' object") },
	{ "json_size a number", BOTH, "\"json_size\":\"12288\"", "\"json_size\":12288", 0,
	  NO_LOAD(-EINVAL, "config.json_size must be a decimal string") },
	{ "keyslots_size 2^64-4096", BOTH, "\"keyslots_size\":\"262144\"",
	  "\"keyslots_size\":\"18446744073709547520\"", 0,
	  NO_LOAD(-EINVAL, "config.keyslots_size 18446744073709547520 is out of range") },
	{ "keyslots_size past device", BOTH, "\"keyslots_size\":\"262144\"",
	  "\"keyslots_size\":\"1048576\"", 0, NO_LOAD(-EINVAL, "past the end of the device") },
	{ "token lists missing keyslot", BOTH, "\"tokens\":{}",
	  "\"tokens\":{\"0\":{\"type\":\"t\",\"keyslots\":[\"9\"]}}", 0,
	  NO_LOAD(-EINVAL, "token 0: keyslots '9' does not exist") },

	{ "primary keyslot type, secondary intact", PRIMARY, KS0,
	  "\"0\":{\"type\":2,\"key_size\":32", 0,
	  WARNS("primary LUKS2 header is damaged (invalid LUKS2 metadata: keyslot 0") },
	{ "secondary overlap, primary intact", SECONDARY, "\"offset\":\"163840\"",
	  "\"offset\":\"98304\"", 0, WARNS("secondary LUKS2 header is damaged") },
};

struct image_state {
	struct image img;
	char *json;	/* of the intact primary copy */
};

static void fix_checksum(struct image *img, uint64_t at)
{
	uint8_t *hdr = img->data + at, digest[UDM_MAX_DIGEST];
	uint64_t size = get_be(hdr + HDR_SIZE, 8);
	char alg[33] = "";
	int len;

	if (size < 4096 || size > img->len - at)
		size = HDR;
	memcpy(alg, hdr + CSUM_ALG, 32);
	memset(hdr + CSUM, 0, 64);
	len = udm_hash(alg, hdr, size, digest);
	if (len > 0 && len <= 64)
		memcpy(hdr + CSUM, digest, (size_t)len);
}

static void put_json_area(struct image *img, unsigned copies, const char *area, size_t len)
{
	for (int copy = 0; copy < 2; copy++) {
		if (!(copies & (1u << copy)))
			continue;
		memset(img->data + copy * HDR + 4096, 0, JSON_AREA);
		memcpy(img->data + copy * HDR + 4096, area, len);
		fix_checksum(img, copy * HDR);
	}
}

static void apply_bin(const struct bin_case *c, struct image *img)
{
	for (int copy = 0; copy < 2; copy++) {
		uint8_t *hdr = img->data + copy * HDR;

		if (!(c->copies & (1u << copy)))
			continue;
		if (c->width)
			put_be(hdr + c->offset, c->width, c->value);
		else
			memcpy(hdr + c->offset, c->bytes, c->len);
		if (!c->keep_checksum)
			fix_checksum(img, copy * HDR);
	}
}

/* Replaces the nth occurrence of from; false when there is none or the
 * result does not fit in the JSON area. */
static bool apply_json(const struct json_case *c, const char *json, struct image *img)
{
	const char *at = json;
	char *edited;
	size_t len;

	for (int i = 0; at && i <= c->nth; i++)
		at = strstr(i ? at + 1 : at, c->from);
	if (!at)
		return false;
	len = strlen(json) - strlen(c->from) + strlen(c->to);
	if (len >= JSON_AREA || !(edited = malloc(len + 1)))
		return false;
	snprintf(edited, len + 1, "%.*s%s%s", (int)(at - json), json, c->to, at + strlen(c->from));
	put_json_area(img, c->copies, edited, len);
	free(edited);
	return true;
}

static void run_case(const char *name, const struct image *img, const char *path,
		     const struct expect *e)
{
	char full[160];

	snprintf(full, sizeof(full), "LUKS2 %s", name);
	if (!image_write(path, img))
		test_result(full, false, "cannot write the damaged image");
	else
		hostile_run(full, path, e);
}

/* JSON areas that no edit of the intact text gives: too deep, too long. */
static void test_json_areas(const struct image_state *st, const char *path)
{
	size_t len = strlen(st->json);
	char *area = calloc(1, JSON_AREA + 1);
	struct image img;

	if (!area || !image_copy(&st->img, &img)) {
		test_result("LUKS2 JSON areas", false, "no memory");
		free(area);
		return;
	}
	/* 31 arrays inside the top object make 32 levels, json-c's limit. */
	for (int depth = 31; depth <= 33; depth += 2) {
		size_t pos = len - 1;
		char name[64];

		memcpy(area, st->json, pos);
		pos += (size_t)sprintf(area + pos, ",\"deep\":");
		memset(area + pos, '[', (size_t)depth);
		memset(area + pos + depth, ']', (size_t)depth);
		pos += 2 * (size_t)depth;
		area[pos++] = '}';
		area[pos] = '\0';
		put_json_area(&img, BOTH, area, pos);
		snprintf(name, sizeof(name), "JSON nested %d levels", depth + 1);
		run_case(name, &img, path, depth == 31 ? &(struct expect)OPENS :
			 &(struct expect)NO_LOAD(-EINVAL, "nested deeper than 32 levels"));
	}

	/* An unknown member pads the text to fill the area but its last byte,
	 * then all of it. */
	for (size_t fill = JSON_AREA - 1; fill <= JSON_AREA; fill++) {
		memcpy(area, st->json, len - 1);
		memcpy(area + len - 1, ",\"pad\":\"", 8);
		memset(area + len + 7, 'z', fill - len - 9);
		memcpy(area + fill - 2, "\"}", 2);
		put_json_area(&img, BOTH, area, fill);
		run_case(fill < JSON_AREA ? "JSON one byte short of the area" : "JSON fills the area",
			 &img, path, fill < JSON_AREA ? &(struct expect)OPENS :
			 &(struct expect)NO_LOAD(-EINVAL, "without a terminating NUL byte"));
	}
	free(img.data);
	free(area);
}

static void test_truncated(const struct image_state *st, const char *path)
{
	static const struct {
		const char *name;
		size_t len;
		struct expect e;
	} cuts[] = {
		{ "device empty", 0, NO_LOAD(-ENODEV, "not a valid LUKS device") },
		{ "device of 4095 bytes", 4095, NO_LOAD(-EINVAL, "too small for a primary LUKS2") },
		{ "device ends in primary", 8192,
		  NO_LOAD(-EINVAL, "ends past the end of the device (8192 bytes)") },
		{ "device ends after primary", HDR,
		  NO_LOAD(-EINVAL, "the key slots area ends at byte 294912, past the end of the "
			  "device (16384 bytes)") },
		{ "device ends in key slots", AREAS_END - 512,
		  NO_LOAD(-EINVAL, "past the end of the device (294400 bytes)") },
		{ "device ends after key slots", AREAS_END, NO_TABLE("is too small") },
		{ "device ends at data", DATA_OFFSET, NO_TABLE("is too small") },
	};
	struct image img;

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		if (!image_copy(&st->img, &img)) {
			test_result(cuts[i].name, false, "no memory");
			continue;
		}
		img.len = cuts[i].len;
		run_case(cuts[i].name, &img, path, &cuts[i].e);
		free(img.data);
	}
}

/* Two copies damaged in different ways. */
static void test_both_damaged(const struct image_state *st, const char *path)
{
	struct image img;

	if (!image_copy(&st->img, &img))
		return;
	put_be(img.data + HDR_SIZE, 8, 16385);
	fix_checksum(&img, 0);
	put_be(img.data + HDR + HDR_OFFSET, 8, 0);
	fix_checksum(&img, HDR);
	run_case("hdr_size and hdr_offset damaged", &img, path,
		 &(struct expect)NO_LOAD(-EINVAL, "both LUKS2 header copies are invalid"));

	memcpy(img.data, st->img.data, 2 * HDR);
	put_json_area(&img, PRIMARY, "{\"keyslots\":[]}", 15);
	img.data[HDR + CSUM] ^= 1;
	run_case("JSON and checksum damaged", &img, path,
		 &(struct expect)NO_LOAD(-EINVAL, "both LUKS2 header copies are invalid"));

	memcpy(img.data, st->img.data, 2 * HDR);
	put_be(img.data + SEQID, 8, get_be(img.data + SEQID, 8) - 1);
	fix_checksum(&img, 0);
	put_json_area(&img, SECONDARY, "{}", 2);
	run_case("older primary, invalid secondary", &img, path,
		 &(struct expect)WARNS("the secondary LUKS2 header is damaged (invalid LUKS2 "
				       "metadata: missing 'config' object); using the primary"));
	free(img.data);
}

static int make_volume(const char *path, struct image_state *st)
{
	struct udm_key *key = udm_key_new(HOSTILE_KEY_BYTES);
	struct udm_format_params p = {
		.type = UDM_VOLUME_LUKS2, .cipher = "aes", .cipher_mode = "xts-plain64",
		.key_size = HOSTILE_KEY_BYTES, .hash = "sha256", .keyslot = -1,
		.data_offset = DATA_OFFSET / 512, .keyslots_size = AREAS_END - 2 * HDR,
		.pbkdf = { .type = "pbkdf2", .force_iterations = 1000 },
	};
	struct udm_error err = { .msg = "" };
	struct image empty = { .len = IMAGE_BYTES };
	struct udm_volume *vol = NULL;
	int r = -ENOMEM;

	empty.data = calloc(1, empty.len);
	if (key && empty.data && image_write(path, &empty)) {
		memcpy(key->data, hostile_key, HOSTILE_KEY_BYTES);
		p.volume_key = key;
		r = udm_luks_format(path, &p, HOSTILE_PASS, strlen(HOSTILE_PASS), &vol, &err);
	}
	if (!r)
		r = udm_volume_add_key(vol, 1, key, "second", 6, &p.pbkdf, &err);
	if (r == 1)
		r = image_read(path, &st->img) ? 0 : -EIO;
	if (!r) {
		st->json = strndup((char *)st->img.data + 4096, JSON_AREA);
		r = st->json && strstr(st->json, "\"offset\":\"163840\"") ? 0 : -EIO;
	}
	test_result("hostile LUKS2 volume made", !r, "%d %s", r, err.msg);
	udm_volume_free(vol);
	udm_key_free(key);
	free(empty.data);
	return r;
}

int main(void)
{
	struct image_state st = { 0 };
	char fresh[256], damaged[256];

	if (hostile_setup())
		return 1;
	hostile_path(fresh, sizeof(fresh), "luks2.img");
	hostile_path(damaged, sizeof(damaged), "damaged.img");
	if (make_volume(fresh, &st))
		goto out;
	hostile_run("intact LUKS2 opens", fresh, &(struct expect)OPENS);

	for (size_t i = 0; i < sizeof(bin_cases) / sizeof(bin_cases[0]); i++) {
		struct image img;

		if (image_copy(&st.img, &img)) {
			apply_bin(&bin_cases[i], &img);
			run_case(bin_cases[i].name, &img, damaged, &bin_cases[i].e);
		}
		free(img.data);
	}
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		struct image img;

		if (!image_copy(&st.img, &img) || !apply_json(&json_cases[i], st.json, &img))
			test_result(json_cases[i].name, false, "'%s' not in the JSON",
				    json_cases[i].from);
		else
			run_case(json_cases[i].name, &img, damaged, &json_cases[i].e);
		free(img.data);
	}
	test_json_areas(&st, damaged);
	test_both_damaged(&st, damaged);
	test_truncated(&st, damaged);
	free(st.img.data);
	free(st.json);
out:
	hostile_cleanup();
	return test_failures ? 1 : 0;
}
